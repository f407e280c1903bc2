//! The driving env's per-step signals: the names reward modules use, with units and meaning.

use crate::SignalSpec;

macro_rules! signals {
    ($(($idx:ident, $name:literal, $unit:literal, $meaning:literal)),* $(,)?) => {
        /// Index of each signal in the signal vector.
        #[allow(non_camel_case_types, clippy::upper_case_acronyms, dead_code)]
        #[derive(Clone, Copy, Debug)]
        #[repr(usize)]
        pub enum Sig { $($idx),* }
        pub const SIGNAL_ROWS: &[(&str, &str, &str)] = &[$(($name, $unit, $meaning)),*];
    };
}

signals! {
    (Progress, "progress", "%", "route completion gained this step (forward progress only)"),
    (RouteCompletion, "route_completion", "%", "route completion so far"),
    (Distance, "distance", "m", "distance travelled this step"),
    (CollisionVehicle, "collision_vehicle", "0/1", "collision with a vehicle started this step"),
    (CollisionStatic, "collision_static", "0/1", "collision with a parked car or obstacle started this step"),
    (RedLight, "red_light", "0/1", "crossed a stop line at red this step"),
    (Blocked, "blocked", "0/1", "speed below 0.1 m/s for more than blocked_seconds"),
    (RouteDeviation, "route_deviation", "0/1", "more than route_deviation_m (30 m) from the route"),
    (OffRoad, "off_road", "0/1", "more than 95% of the car outside the drivable area"),
    (Timeout, "timeout", "0/1", "episode time limit reached this step (the step is truncated)"),
    (RouteFinished, "route_finished", "0/1", "reached the end of the route"),
    (LaneDeviation, "lane_deviation", "0/1", "Roach's lateral deviation: beyond max(lane_deviation_min_m, last step's distance) from the route"),
    (OutsideRouteLanes, "outside_route_lanes", "0/1", "wrong direction, or more than 0.5 m beyond half the route lane's width"),
    (Speed, "speed", "m/s", "forward speed"),
    (SpeedLimit, "speed_limit", "m/s", "speed limit of the route lane"),
    (TtcViolation, "ttc_violation", "0/1", "constant-velocity projection 0.1-0.9 s ahead overlaps another actor, checked while moving (held ttc_penalty_ticks steps)"),
    (LonAccel, "lon_accel", "m/s^2", "longitudinal acceleration, Savitzky-Golay smoothed (8 steps)"),
    (LatAccel, "lat_accel", "m/s^2", "lateral acceleration (left positive), smoothed (8 steps)"),
    (Jerk, "jerk", "m/s^3", "derivative of the smoothed acceleration magnitude (15 steps)"),
    (LonJerk, "lon_jerk", "m/s^3", "derivative of the smoothed longitudinal acceleration (15 steps)"),
    (YawRate, "yaw_rate", "rad/s", "yaw rate (left positive), smoothed derivative of the yaw (5 steps)"),
    (YawAccel, "yaw_accel", "rad/s^2", "second derivative of the yaw, smoothed (5 steps)"),
    (LateralOffset, "lateral_offset", "m", "signed distance from the route lane centre (left positive)"),
    (LaneWidth, "lane_width", "m", "width of the route lane"),
    (InJunction, "in_junction", "0/1", "the route lane here is a junction connector"),
    (DesiredSpeed, "desired_speed", "m/s", "Roach target speed: v_max lowered near a vehicle ahead or a red or yellow light"),
    (LateralDistance, "lateral_distance", "m", "unsigned distance from the route lane centre"),
    (HeadingError, "heading_error", "rad", "route heading minus ego heading, wrapped to (-pi, pi]"),
    (SteerChange, "steer_change", "1", "absolute change of the steering command since the last step"),
    (Steer, "steer", "1", "steering command in [-1, 1]"),
    (AccelCmd, "accel_cmd", "1", "pedal command in [-1, 1] (negative brakes)"),
    (TimeLeft, "time_left", "s", "seconds until the episode time limit"),
    (RouteLeft, "route_left", "m", "route length still to drive"),
    (Terminated, "terminated", "0/1", "the env ends the episode this step (a terminate_on event or the route's end; time-outs are `timeout`)"),
    (ComfortViolations, "comfort_violations", "count", "comfort limits held violated (0-6; each held comfort_penalty_ticks steps)"),
    (TimeLeftFrac, "time_left_frac", "1", "share of the episode time limit left"),
    (RouteLeftFrac, "route_left_frac", "1", "share of the route length left"),
    (RouteLengthKm, "route_length_km", "km", "route length"),
    (BlockedLeftFrac, "blocked_left_frac", "1", "share of blocked_seconds the ego may still stand still"),
    (TtcHoldLeft, "ttc_hold_left", "1", "share of ttc_penalty_ticks the TTC penalty is still held"),
    (ComfortHoldLeftLonAccel, "comfort_hold_left_lon_accel", "1", "share of comfort_penalty_ticks the lon_accel limit is still held"),
    (ComfortHoldLeftLatAccel, "comfort_hold_left_lat_accel", "1", "same for lat_accel"),
    (ComfortHoldLeftJerk, "comfort_hold_left_jerk", "1", "same for jerk"),
    (ComfortHoldLeftLonJerk, "comfort_hold_left_lon_jerk", "1", "same for lon_jerk"),
    (ComfortHoldLeftYawRate, "comfort_hold_left_yaw_rate", "1", "same for yaw_rate"),
    (ComfortHoldLeftYawAccel, "comfort_hold_left_yaw_accel", "1", "same for yaw_accel"),
}

pub const NUM_SIGNALS: usize = SIGNAL_ROWS.len();

pub fn signal_spec() -> SignalSpec {
    SignalSpec::new("driving", SIGNAL_ROWS)
}

pub fn signal_names() -> Vec<&'static str> {
    SIGNAL_ROWS.iter().map(|r| r.0).collect()
}
