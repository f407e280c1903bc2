//! The observation vector: its documented layout and scales.
//!
//! | slots | content | scale |
//! |---|---|---|
//! | 6 | ego: forward speed, longitudinal and lateral acceleration, yaw rate, previous steer and pedal command | /10 m/s, /5 m/s^2, /5 m/s^2, rad/s, 1, 1 |
//! | 2K | next K route points (x forward, y left) in the ego frame, `route_point_spacing_m` apart from the ego's projection on the route | /20 m |
//! | 5 | signed lateral offset from the route lane centre, heading error, speed limit, lane width, in-junction flag | /2 m, rad, /10 m/s, /4 m, 0/1 |
//! | 5 | next traffic light on the route within 100 m: one-hot none/green/yellow/red, distance to its stop line (1 when none) | 0/1, /100 m |
//! | 2R | ray ring (R rays, the first straight ahead, counter-clockwise): distance to the nearest vehicle or obstacle, then for every ray the distance to the nearest road edge | /ray_range_m (1 = nothing in range) |
//! | 7M | nearest M vehicles within `vehicle_radius_m`, closest first: relative position x, y and velocity x, y in the ego frame, cos and sin of relative heading, presence flag (all zero when absent) | /50 m, /10 m/s, 1, 0/1 |

use crate::Space;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ObsLayout {
    pub route_points: usize,
    pub rays: usize,
    pub vehicles: usize,
}

pub const EGO: usize = 6;
pub const LANE: usize = 5;
pub const LIGHT: usize = 5;
pub const PER_VEHICLE: usize = 7;

impl ObsLayout {
    pub fn route_start(&self) -> usize {
        EGO
    }
    pub fn lane_start(&self) -> usize {
        EGO + 2 * self.route_points
    }
    pub fn light_start(&self) -> usize {
        self.lane_start() + LANE
    }
    pub fn ray_start(&self) -> usize {
        self.light_start() + LIGHT
    }
    pub fn vehicle_start(&self) -> usize {
        self.ray_start() + 2 * self.rays
    }
    pub fn dim(&self) -> usize {
        self.vehicle_start() + PER_VEHICLE * self.vehicles
    }

    /// The observation space with every dimension named.
    pub fn space(&self) -> Space {
        let mut dims: Vec<(String, f32, f32)> = Vec::with_capacity(self.dim());
        let inf = f32::INFINITY;
        for name in [
            "ego.speed/10",
            "ego.lon_accel/5",
            "ego.lat_accel/5",
            "ego.yaw_rate",
            "ego.prev_steer",
            "ego.prev_accel",
        ] {
            dims.push((name.into(), -inf, inf));
        }
        for k in 0..self.route_points {
            dims.push((format!("route[{k}].x/20"), -inf, inf));
            dims.push((format!("route[{k}].y/20"), -inf, inf));
        }
        for name in [
            "lane.offset/2",
            "lane.heading_error",
            "lane.speed_limit/10",
            "lane.width/4",
            "lane.in_junction",
        ] {
            dims.push((name.into(), -inf, inf));
        }
        for name in ["light.none", "light.green", "light.yellow", "light.red"] {
            dims.push((name.into(), 0.0, 1.0));
        }
        dims.push(("light.distance/100".into(), 0.0, 1.0));
        for r in 0..self.rays {
            dims.push((format!("ray[{r}].object"), 0.0, 1.0));
        }
        for r in 0..self.rays {
            dims.push((format!("ray[{r}].edge"), 0.0, 1.0));
        }
        for v in 0..self.vehicles {
            for f in ["x/50", "y/50", "vx/10", "vy/10", "cos", "sin", "present"] {
                dims.push((format!("vehicle[{v}].{f}"), -inf, inf));
            }
        }
        let rows: Vec<(&str, f32, f32)> = dims.iter().map(|d| (d.0.as_str(), d.1, d.2)).collect();
        Space::boxed(&rows)
    }
}
