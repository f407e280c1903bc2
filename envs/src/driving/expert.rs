//! The rule-based expert: the traffic drivers' IDM + pure pursuit, driving the ego along its
//! route through the real vehicle dynamics. Usable by tests, baselines and demos.

use super::env::{DrivingEnv, DISCRETE_ACTIONS};
use super::geometry::Line;
use super::planner::{pure_pursuit, DriverRules};

/// Route lanes the expert plans over, from the current one.
const PATH_LANES: usize = 6;

/// Expert behaviour switches.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Expert {
    pub obey_lights: bool,
    pub yield_at_junctions: bool,
    /// Fraction of the speed limit the expert aims for.
    pub speed_factor: f32,
}

impl Default for Expert {
    fn default() -> Self {
        Expert {
            obey_lights: true,
            yield_at_junctions: true,
            speed_factor: 1.0,
        }
    }
}

impl Expert {
    /// The continuous action `[steer, accel]` for the env's current state.
    pub fn act(&self, env: &DrivingEnv) -> [f32; 2] {
        let route = &env.tracker.route;
        let proj = env.tracker.proj;
        let ego = &env.ego;
        let v = &env.vehicle;
        let k = route.lane_index_at(proj.s);
        let mut lanes_ahead = [0; PATH_LANES];
        let mut len = 0;
        for (slot, l) in lanes_ahead.iter_mut().zip(&route.lanes[k..]) {
            *slot = l.lane;
            len += 1;
        }
        let path = &lanes_ahead[..len];
        let rl = route.lanes[k];
        let lane_s = rl.lane_s0 + (proj.s - rl.start);
        let speed = ego.body.vx.max(0.0);
        let limit = env.map.lanes[rl.lane].speed_limit * self.speed_factor;
        // Stop at the route's end rather than drive on.
        let to_goal = route.length() - proj.s;
        let goal_cap = (2.0 * 2.0 * (to_goal + 3.0).max(0.0)).sqrt();
        let rules = DriverRules {
            obey_lights: self.obey_lights,
            yield_at_junctions: self.yield_at_junctions,
        };
        let planner = env.planner();
        let accel = planner.accel(
            0,
            ego.pos,
            path,
            lane_s,
            speed,
            limit.min(goal_cap.max(2.0)),
            rules,
        );
        let resist = v.rolling + v.drag * speed * speed;
        let want = accel + resist * (speed > 0.05) as u32 as f32;
        let pedal = if want >= 0.0 {
            want / v.max_accel.min(v.power / speed.max(1.0))
        } else {
            want / v.max_brake
        };
        let ahead = (3.0 + 0.6 * speed).clamp(4.0, 20.0);
        let target = route.line.point_at_from(proj.seg, proj.s + ahead).0;
        let angle = pure_pursuit(ego.pos, ego.yaw, v.rear, target, v.wheelbase());
        [
            (angle / v.max_steer).clamp(-1.0, 1.0),
            pedal.clamp(-1.0, 1.0),
        ]
    }

    /// The action in the env's action space (nearest discrete action for discrete envs).
    pub fn act_in_space(&self, env: &DrivingEnv, out: &mut [f32]) {
        let [steer, pedal] = self.act(env);
        if env.action_space().is_discrete() {
            let best = DISCRETE_ACTIONS
                .iter()
                .enumerate()
                .min_by(|a, b| {
                    let da = (a.1[0] - steer).powi(2) + (a.1[1] - pedal).powi(2);
                    let db = (b.1[0] - steer).powi(2) + (b.1[1] - pedal).powi(2);
                    da.total_cmp(&db)
                })
                .map_or(0, |x| x.0);
            out[0] = best as f32;
        } else {
            out[0] = steer;
            out[1] = pedal;
        }
    }
}

use crate::Env;
