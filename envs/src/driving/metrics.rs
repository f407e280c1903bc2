//! Episode metrics, CARLA leaderboard style: route completion, infraction score (the product
//! of the events' factors and the off-route factor; a route time-out has none), driving score,
//! penalized infractions per km with the distance driven, and the evaluation mode.

use super::events::{Event, EVENTS};

/// Episode metrics, in the order [`EpisodeTally::write`] writes them.
pub const METRIC_NAMES: [&str; 15] = [
    "route_completion",
    "infraction_score",
    "driving_score",
    "infractions_per_km",
    "distance_km",
    "collisions_vehicle",
    "collisions_static",
    "red_lights",
    "off_road",
    "route_deviation",
    "blocked",
    "timeouts",
    "lane_deviations",
    "penalized_infractions",
    "continues_after_infractions",
];

/// The per-km rate divides by the distance driven, floored at this many km so an immediate
/// crash does not report thousands per km.
const MIN_RATE_KM: f32 = 0.1;

/// Event counts and distances of one episode.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct EpisodeTally {
    pub route_completion: f32,
    pub route_length: f32,
    pub distance: f32,
    /// Distance driven outside the route lanes (m).
    pub off_route_distance: f32,
    /// How often each event of [`EVENTS`] happened.
    pub counts: [u32; EVENTS.len()],
    /// The episode ran in the leaderboard's evaluation mode (collisions and red lights do not
    /// end it).
    pub continues_after_infractions: bool,
}

impl EpisodeTally {
    pub fn count(&self, event: Event) -> u32 {
        self.counts[event as usize]
    }

    /// Product of the events' factors, with the off-route factor (1 - fraction of the route
    /// length driven outside the route lanes).
    pub fn infraction_score(&self) -> f32 {
        let off_route = (self.off_route_distance / self.route_length.max(1.0)).clamp(0.0, 1.0);
        let factors = EVENTS
            .iter()
            .zip(self.counts)
            .filter(|(e, _)| e.penalty < 1.0)
            .fold(1.0f32, |acc, (e, n)| acc * e.penalty.powi(n as i32));
        factors * (1.0 - off_route)
    }

    /// Number of penalized infractions (collisions and red lights: the events with a factor).
    pub fn penalized_infractions(&self) -> u32 {
        EVENTS
            .iter()
            .zip(self.counts)
            .filter(|(e, _)| e.penalized)
            .map(|(_, n)| n)
            .sum()
    }

    /// Writes the values in [`METRIC_NAMES`] order.
    pub fn write(&self, out: &mut [f32]) {
        let is = self.infraction_score();
        let km = self.distance / 1000.0;
        let summary = [
            self.route_completion,
            is,
            self.route_completion * is,
            self.penalized_infractions() as f32 / km.max(MIN_RATE_KM),
            km,
        ];
        for (o, v) in out.iter_mut().zip(summary) {
            *o = v;
        }
        for (o, name) in out.iter_mut().zip(METRIC_NAMES).skip(summary.len()) {
            *o = match name {
                "penalized_infractions" => self.penalized_infractions() as f32,
                "continues_after_infractions" => self.continues_after_infractions as u32 as f32,
                _ => EVENTS
                    .iter()
                    .position(|e| e.metric == Some(name))
                    .map_or(0.0, |e| self.counts[e] as f32),
            };
        }
    }
}
