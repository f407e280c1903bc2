//! Writes the observation vector (layout in `observation`).

use super::env::DrivingEnv;
use super::geometry::{wrap_angle, Frame, Line, V2};
use super::map::LightState;

impl DrivingEnv {
    /// Fills `obs` block by block, then zeroes any non-finite entry.
    pub(crate) fn write_observation(&mut self, obs: &mut [f32]) {
        self.write_ego_state(obs);
        self.write_route_points(obs);
        self.write_lane(obs);
        self.write_light(obs);
        self.write_rays(obs);
        self.write_nearby_vehicles(obs);
        for x in obs.iter_mut() {
            if !x.is_finite() {
                *x = 0.0;
            }
        }
    }

    fn write_ego_state(&self, obs: &mut [f32]) {
        let e = &self.ego;
        obs[0] = e.body.vx / 10.0;
        obs[1] = e.lon_accel / 5.0;
        obs[2] = e.accel.dot(V2::new(-e.yaw.sin(), e.yaw.cos())) / 5.0;
        obs[3] = e.yaw_rate;
        obs[4] = e.steer;
        obs[5] = e.pedal;
    }

    fn write_route_points(&self, obs: &mut [f32]) {
        let l = self.layout;
        let e = &self.ego;
        let route = &self.tracker.route;
        let proj = self.tracker.proj;
        let ego_frame = Frame::new(e.pos, e.yaw);
        let mut seg = proj.seg;
        for k in 0..l.route_points {
            let s = proj.s + self.config.route_point_spacing_m * (k + 1) as f32;
            let (point, point_seg) = route.line.point_at_from(seg, s);
            seg = point_seg;
            let p = ego_frame.to_local(point);
            obs[l.route_start() + 2 * k] = p.x / 20.0;
            obs[l.route_start() + 2 * k + 1] = p.y / 20.0;
        }
    }

    fn write_lane(&self, obs: &mut [f32]) {
        let l = self.layout;
        let route = &self.tracker.route;
        let proj = self.tracker.proj;
        let lane = &self.map.lane_info[route.lanes[route.lane_index_at(proj.s)].lane];
        let d = route
            .line
            .segment_direction(route.line.segment_at_from(proj.seg, proj.s));
        let lane_obs = [
            proj.lateral / 2.0,
            wrap_angle(d.y.atan2(d.x) - self.ego.yaw),
            lane.speed_limit / 10.0,
            lane.width / 4.0,
            lane.in_junction as u32 as f32,
        ];
        obs[l.lane_start()..l.lane_start() + 5].copy_from_slice(&lane_obs);
    }

    /// One-hot of the next light's state (slot 0: none within 100 m) and its distance.
    fn write_light(&self, obs: &mut [f32]) {
        let l = self.layout;
        let light = &mut obs[l.light_start()..l.light_start() + 5];
        light.iter_mut().for_each(|x| *x = 0.0);
        match self.next_light() {
            Some((state, dist)) if dist < 100.0 => {
                let slot = match state {
                    LightState::Green => 1,
                    LightState::Yellow => 2,
                    LightState::Red => 3,
                };
                light[slot] = 1.0;
                light[4] = dist / 100.0;
            }
            _ => {
                light[0] = 1.0;
                light[4] = 1.0;
            }
        }
    }

    fn write_rays(&self, obs: &mut [f32]) {
        let l = self.layout;
        let range = self.rays.range();
        for r in 0..l.rays {
            obs[l.ray_start() + r] = self.rays.objects[r] / range;
            obs[l.ray_start() + l.rays + r] = self.rays.edges[r] / range;
        }
    }

    /// The nearest traffic vehicles within the radius, nearest first, in the ego frame.
    fn write_nearby_vehicles(&mut self, obs: &mut [f32]) {
        let l = self.layout;
        let start = l.vehicle_start();
        let block = &mut obs[start..start + 7 * l.vehicles];
        block.iter_mut().for_each(|x| *x = 0.0);
        if l.vehicles == 0 {
            return;
        }
        let mut near = std::mem::take(&mut self.scratch.nearby);
        self.fill_nearby_vehicles(&mut near, block);
        self.scratch.nearby = near;
    }

    /// Writes the vehicle rows of `block`; `near` is scratch space.
    fn fill_nearby_vehicles(&self, near: &mut Vec<(f32, usize)>, block: &mut [f32]) {
        let l = self.layout;
        let e = &self.ego;
        let radius = self.config.vehicle_radius_m;
        near.clear();
        near.extend(
            self.actors
                .traffic
                .iter()
                .enumerate()
                .map(|(i, t)| ((t.pos - e.pos).length(), i))
                .filter(|(d, _)| *d <= radius),
        );
        // Distinct indices make the order total: an unstable sort gives the stable sort's.
        near.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let (s, c) = e.yaw.sin_cos();
        let ego_frame = Frame::with_sin_cos(e.pos, s, c);
        for (slot, &(_, i)) in near.iter().take(l.vehicles).enumerate() {
            let t = &self.actors.traffic[i];
            let p = ego_frame.to_local(t.pos);
            let v = V2::new(t.yaw.cos(), t.yaw.sin()) * t.speed - e.vel;
            let rel_v = V2::new(c * v.x + s * v.y, -s * v.x + c * v.y);
            let yaw = t.yaw - e.yaw;
            let row = &mut block[7 * slot..7 * slot + 7];
            row.copy_from_slice(&[
                p.x / 50.0,
                p.y / 50.0,
                rel_v.x / 10.0,
                rel_v.y / 10.0,
                yaw.cos(),
                yaw.sin(),
                1.0,
            ]);
        }
    }
}
