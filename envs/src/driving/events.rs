//! The driving world's events: the one list of what can happen in an episode (collisions, red
//! lights, the other terminating infractions, the time limit, the route's end). The env's
//! `terminate_on`, the episode metrics, the leaderboard factors and the reward modules' causes
//! all read it from here.

/// One event: its 0/1 signal, its episode metric and its leaderboard factor.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EventInfo {
    /// The 0/1 signal that is 1 on the step the event happens.
    pub signal: &'static str,
    /// The episode metric counting it (`None`: not counted).
    pub metric: Option<&'static str>,
    /// CARLA leaderboard infraction-score factor per occurrence (1: no factor).
    pub penalty: f32,
    /// Ends the episode under the default `terminate_on`.
    pub terminates_by_default: bool,
    /// CaRL subtracts its terminal penalty on this event (a collision or a red light).
    pub penalized: bool,
}

const fn event(
    signal: &'static str,
    metric: Option<&'static str>,
    penalty: f32,
    terminates_by_default: bool,
    penalized: bool,
) -> EventInfo {
    EventInfo {
        signal,
        metric,
        penalty,
        terminates_by_default,
        penalized,
    }
}

/// CARLA leaderboard factors of the penalized infractions.
pub const PENALTY_VEHICLE: f32 = 0.60;
pub const PENALTY_STATIC: f32 = 0.65;
pub const PENALTY_RED_LIGHT: f32 = 0.70;

/// Every event, in the order reward modules report them as causes.
/// A route time-out has no factor (the leaderboard's 0.7 is for scenario time-outs).
pub const EVENTS: [EventInfo; 9] = [
    event(
        "collision_vehicle",
        Some("collisions_vehicle"),
        PENALTY_VEHICLE,
        true,
        true,
    ),
    event(
        "collision_static",
        Some("collisions_static"),
        PENALTY_STATIC,
        true,
        true,
    ),
    event(
        "red_light",
        Some("red_lights"),
        PENALTY_RED_LIGHT,
        true,
        true,
    ),
    event("blocked", Some("blocked"), 1.0, true, false),
    event("route_deviation", Some("route_deviation"), 1.0, true, false),
    event("off_road", Some("off_road"), 1.0, true, false),
    event("timeout", Some("timeouts"), 1.0, false, false),
    event("route_finished", None, 1.0, false, false),
    event("lane_deviation", Some("lane_deviations"), 1.0, false, false),
];

/// Index of each event in [`EVENTS`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(usize)]
pub enum Event {
    CollisionVehicle,
    CollisionStatic,
    RedLight,
    Blocked,
    RouteDeviation,
    OffRoad,
    Timeout,
    RouteFinished,
    LaneDeviation,
}

/// Roach's own terminations (for the env's `terminate_on` with the `roach` reward): collisions,
/// red lights, blocked and its lateral deviation; no off-road end, no 30 m route deviation.
pub const ROACH_TERMINATIONS: [&str; 5] = [
    "collision_vehicle",
    "collision_static",
    "red_light",
    "blocked",
    "lane_deviation",
];

/// The events the leaderboard's evaluation counts without ending the route.
pub(crate) fn continues_after(e: usize) -> bool {
    EVENTS[e].penalized
}

/// The events that end an episode under the default `terminate_on`.
pub fn terminating_default() -> Vec<String> {
    EVENTS
        .iter()
        .filter(|e| e.terminates_by_default)
        .map(|e| e.signal.to_string())
        .collect()
}

/// Which of this step's events fired, indexed like [`EVENTS`].
pub type Fired = [bool; EVENTS.len()];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::driving::signals::SIGNAL_ROWS;
    use crate::driving::step::event_signal;

    #[test]
    fn every_event_is_the_signal_at_its_index() {
        for (e, info) in EVENTS.iter().enumerate() {
            assert_eq!(SIGNAL_ROWS[event_signal(e)].0, info.signal);
        }
        assert_eq!(EVENTS[Event::Timeout as usize].signal, "timeout");
        assert_eq!(
            EVENTS[Event::RouteFinished as usize].signal,
            "route_finished"
        );
    }
}
