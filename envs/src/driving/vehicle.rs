//! Ego vehicle dynamics: a single-track (bicycle) model with linear tires saturated by a
//! friction circle. Below `KINEMATIC_SPEED` it blends into the kinematic bicycle (tire slip is
//! ill-defined near standstill); above, lateral grip is finite, so hard steering at speed
//! makes the car skid. The lateral dynamics are integrated implicitly, so sub-steps of 25-50 ms
//! stay stable at any speed; the resulting tire forces are applied to the rapier body as
//! impulses, and rapier integrates the pose and resolves contacts.

/// Physical parameters of a mid-size car.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct VehicleParams {
    pub mass: f32,
    pub yaw_inertia: f32,
    /// Distances from the centre of mass to the front and rear axle (m).
    pub front: f32,
    pub rear: f32,
    pub length: f32,
    pub width: f32,
    /// Cornering stiffness per axle (N/rad).
    pub cornering_front: f32,
    pub cornering_rear: f32,
    /// Tire-road friction coefficient.
    pub friction: f32,
    pub max_steer: f32,
    /// Throttle at +1 (m/s^2 at low speed) and brake at -1 (m/s^2).
    pub max_accel: f32,
    pub max_brake: f32,
    /// Engine power limit expressed as accel x speed (m^2/s^3).
    pub power: f32,
    /// Aerodynamic drag coefficient (1/m) and rolling resistance (m/s^2).
    pub drag: f32,
    pub rolling: f32,
}

impl Default for VehicleParams {
    fn default() -> Self {
        VehicleParams {
            mass: 1500.0,
            yaw_inertia: 2250.0,
            front: 1.2,
            rear: 1.5,
            length: 4.6,
            width: 1.9,
            cornering_front: 80_000.0,
            cornering_rear: 90_000.0,
            friction: 1.0,
            max_steer: 0.6,
            max_accel: 4.0,
            max_brake: 8.0,
            power: 60.0,
            drag: 0.0004,
            rolling: 0.1,
        }
    }
}

const GRAVITY: f32 = 9.81;
/// Below this forward speed the kinematic bicycle rules; above `DYNAMIC_SPEED` the tire model.
pub const KINEMATIC_SPEED: f32 = 3.0;
pub const DYNAMIC_SPEED: f32 = 6.0;

/// Body-frame velocity: forward, leftward (m/s) and yaw rate (rad/s).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct BodyVelocity {
    pub vx: f32,
    pub vy: f32,
    pub yaw_rate: f32,
}

impl VehicleParams {
    pub fn wheelbase(&self) -> f32 {
        self.front + self.rear
    }

    /// Longitudinal acceleration from the pedal command in [-1, 1] at forward speed `vx`.
    /// Braking never reverses the car; there is no reverse gear.
    pub fn longitudinal_accel(&self, pedal: f32, vx: f32) -> f32 {
        let resist = self.rolling * vx.signum() + self.drag * vx * vx.abs();
        if pedal >= 0.0 {
            let a = pedal * self.max_accel;
            a.min(self.power / vx.abs().max(1.0)) - resist
        } else {
            -pedal * -self.max_brake * vx.signum() - resist
        }
    }

    /// Velocity after `dt` seconds under steering angle `steer` (rad) and pedal in [-1, 1].
    pub fn advance(&self, v: BodyVelocity, steer: f32, pedal: f32, dt: f32) -> BodyVelocity {
        let ax = self.longitudinal_accel(pedal, v.vx);
        let w =
            ((v.vx.abs() - KINEMATIC_SPEED) / (DYNAMIC_SPEED - KINEMATIC_SPEED)).clamp(0.0, 1.0);
        // The body-frame coupling term only matters once the body can slip.
        let mut vx = v.vx + (ax + w * v.yaw_rate * v.vy) * dt;
        // Brakes and resistance stop the car; they do not push it backwards.
        if v.vx >= 0.0 && vx < 0.0 && pedal <= 0.0 {
            vx = 0.0;
        }
        let kin = self.kinematic(vx, steer);
        if w <= 0.0 {
            return kin;
        }
        let dynamic = self.lateral_dynamics(v, vx, steer, ax, dt);
        if w >= 1.0 {
            return dynamic;
        }
        BodyVelocity {
            vx,
            vy: kin.vy + w * (dynamic.vy - kin.vy),
            yaw_rate: kin.yaw_rate + w * (dynamic.yaw_rate - kin.yaw_rate),
        }
    }

    fn kinematic(&self, vx: f32, steer: f32) -> BodyVelocity {
        let tan_steer = steer.tan();
        let beta = (self.rear * tan_steer / self.wheelbase()).atan();
        BodyVelocity {
            vx,
            vy: vx * beta.tan(),
            yaw_rate: vx * tan_steer / self.wheelbase(),
        }
    }

    /// Implicit-Euler step of the linear single-track model at forward speed `vx`, with tire
    /// forces then clipped to the friction circle (the skid regime).
    fn lateral_dynamics(
        &self,
        v: BodyVelocity,
        vx: f32,
        steer: f32,
        ax: f32,
        dt: f32,
    ) -> BodyVelocity {
        let (m, iz, lf, lr) = (self.mass, self.yaw_inertia, self.front, self.rear);
        let (cf, cr) = (self.cornering_front, self.cornering_rear);
        let u = vx.abs().max(0.5);
        // x' = A x + b: x = (vy, r).
        let a11 = -(cf + cr) / (m * u);
        let a12 = -u - (cf * lf - cr * lr) / (m * u);
        let a21 = -(cf * lf - cr * lr) / (iz * u);
        let a22 = -(cf * lf * lf + cr * lr * lr) / (iz * u);
        let (b1, b2) = (cf * steer / m, cf * lf * steer / iz);
        // (I - dt A) x_new = x + dt b.
        let (m11, m12, m21, m22) = (1.0 - dt * a11, -dt * a12, -dt * a21, 1.0 - dt * a22);
        let (r1, r2) = (v.vy + dt * b1, v.yaw_rate + dt * b2);
        let det = m11 * m22 - m12 * m21;
        let vy_new = (r1 * m22 - m12 * r2) / det;
        let r_new = (m11 * r2 - m21 * r1) / det;
        // Tire forces at the new state, limited by the friction left after longitudinal use.
        let fz_f = m * GRAVITY * lr / (lf + lr);
        let fz_r = m * GRAVITY * lf / (lf + lr);
        let fx_share = (m * ax).abs() * 0.5;
        let cap = |fz: f32| {
            ((self.friction * fz).powi(2) - fx_share.powi(2))
                .max(0.0)
                .sqrt()
        };
        let ff = cf * (steer - (vy_new + lf * r_new) / u);
        let fr = cr * (-(vy_new - lr * r_new) / u);
        let (ffc, frc) = (
            ff.clamp(-cap(fz_f), cap(fz_f)),
            fr.clamp(-cap(fz_r), cap(fz_r)),
        );
        if ffc == ff && frc == fr {
            return BodyVelocity {
                vx,
                vy: vy_new,
                yaw_rate: r_new,
            };
        }
        let r = v.yaw_rate + dt * (lf * ffc - lr * frc) / iz;
        let vy = v.vy + dt * ((ffc + frc) / m - u * r);
        BodyVelocity {
            vx,
            vy,
            yaw_rate: r,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settle(p: &VehicleParams, vx: f32, steer: f32, pedal_hold: bool) -> BodyVelocity {
        let mut v = BodyVelocity {
            vx,
            ..Default::default()
        };
        for _ in 0..200 {
            let pedal = if pedal_hold {
                // Hold the speed against resistance.
                (p.rolling + p.drag * v.vx * v.vx) / p.max_accel
            } else {
                0.0
            };
            v = p.advance(v, steer, pedal, 0.05);
        }
        v
    }

    #[test]
    fn low_speed_turns_follow_the_kinematic_bicycle() {
        let p = VehicleParams::default();
        let v = settle(&p, 2.0, 0.3, true);
        let expected = v.vx * 0.3f32.tan() / p.wheelbase();
        assert!((v.yaw_rate - expected).abs() < 1e-3, "{v:?} vs {expected}");
    }

    #[test]
    fn moderate_turns_hold_grip_and_hard_turns_at_speed_skid() {
        let p = VehicleParams::default();
        let v = settle(&p, 15.0, 0.02, true);
        let lat = v.vx * v.yaw_rate;
        assert!(lat > 0.5 && lat < 4.0, "{v:?}");
        assert!(v.vy.abs() < 0.5);
        // Full lock at 25 m/s: the front tires saturate (the car ploughs on, understeering),
        // it yaws far slower than the kinematic bicycle would and lateral acceleration stays
        // at the friction limit.
        let mut v = BodyVelocity {
            vx: 25.0,
            ..Default::default()
        };
        let mut lateral = 0.0;
        for _ in 0..10 {
            let next = p.advance(v, 0.6, 0.0, 0.05);
            // Lateral acceleration in the body frame: vy' + vx * r.
            lateral = (next.vy - v.vy) / 0.05 + next.vx * next.yaw_rate;
            v = next;
        }
        let kinematic = 25.0 * 0.6f32.tan() / p.wheelbase();
        assert!(v.yaw_rate.abs() < 0.5 * kinematic, "{v:?}");
        assert!(lateral.abs() <= 1.01 * p.friction * 9.81, "{lateral} {v:?}");
    }

    #[test]
    fn brakes_stop_without_reversing() {
        let p = VehicleParams::default();
        let mut v = BodyVelocity {
            vx: 10.0,
            ..Default::default()
        };
        for _ in 0..100 {
            v = p.advance(v, 0.0, -1.0, 0.05);
            assert!(v.vx >= 0.0);
        }
        assert_eq!(v.vx, 0.0);
    }
}
