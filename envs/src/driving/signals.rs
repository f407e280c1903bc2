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
    (OutsideRouteLanes, "outside_route_lanes", "0/1", "wrong direction, or more than 0.5 m beyond half the route lane's width"),
    (Speed, "speed", "m/s", "forward speed"),
    (SpeedLimit, "speed_limit", "m/s", "speed limit of the route lane"),
    (TtcViolation, "ttc_violation", "0/1", "constant-velocity projection 0.1-0.9 s ahead overlaps another actor (held ttc_hold_seconds)"),
    (LonAccel, "lon_accel", "m/s^2", "longitudinal acceleration"),
    (LatAccel, "lat_accel", "m/s^2", "lateral acceleration (left positive)"),
    (Jerk, "jerk", "m/s^3", "magnitude of the change of the acceleration vector per second"),
    (LonJerk, "lon_jerk", "m/s^3", "change of longitudinal acceleration per second"),
    (YawRate, "yaw_rate", "rad/s", "yaw rate (left positive)"),
    (YawAccel, "yaw_accel", "rad/s^2", "change of yaw rate per second"),
    (LateralOffset, "lateral_offset", "m", "signed distance from the route lane centre (left positive)"),
    (LaneWidth, "lane_width", "m", "width of the route lane"),
    (InJunction, "in_junction", "0/1", "the route lane here is a junction connector"),
    (DesiredSpeed, "desired_speed", "m/s", "Roach target speed: v_max lowered near a vehicle ahead or a red light"),
    (LateralDistance, "lateral_distance", "m", "unsigned distance from the route lane centre"),
    (HeadingError, "heading_error", "rad", "route heading minus ego heading, wrapped to (-pi, pi]"),
    (SteerChange, "steer_change", "1", "absolute change of the steering command since the last step"),
    (Steer, "steer", "1", "steering command in [-1, 1]"),
    (AccelCmd, "accel_cmd", "1", "pedal command in [-1, 1] (negative brakes)"),
    (TimeLeft, "time_left", "s", "seconds until the episode time limit"),
    (RouteLeft, "route_left", "m", "route length still to drive"),
    (Terminated, "terminated", "0/1", "the env ends the episode this step (a terminate_on event or the route's end; time-outs are `timeout`)"),
}

pub const NUM_SIGNALS: usize = SIGNAL_ROWS.len();

pub fn signal_spec() -> SignalSpec {
    SignalSpec::new("driving", SIGNAL_ROWS)
}

pub fn signal_names() -> Vec<&'static str> {
    SIGNAL_ROWS.iter().map(|r| r.0).collect()
}
