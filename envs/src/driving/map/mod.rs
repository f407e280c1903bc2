//! The road map: lanes with centre lines, widths, directions (the polyline's order) and speed
//! limits; junctions whose connector lanes join incoming to outgoing lanes; traffic-light
//! controllers; road edges; roadside spots for parked cars and obstacles; and a uniform grid
//! over lane segments for fast "which lanes are here" and "is this drivable" queries.

mod families;
mod grid;
mod lane_table;
mod network;

pub use families::generate;
pub(crate) use grid::flatten_cells;
pub use grid::{LaneGrid, StopLineGrid};
pub use lane_table::{LaneInfo, LaneLine, LaneVertex};
use lane_table::{LaneTables, LinkKind};

use serde::{Deserialize, Serialize};

use super::geometry::{Line, Polyline, V2};

/// The map families a config can select.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MapFamily {
    /// A grid of two-way streets with signalized three- and four-way intersections.
    Town,
    /// A ring of curvy two-lane country roads with a crossing road and priority T-junctions.
    Rural,
    /// A three-lane one-way road with on-ramps merging into the right lane.
    Highway,
}

impl MapFamily {
    pub const ALL: [MapFamily; 3] = [MapFamily::Town, MapFamily::Rural, MapFamily::Highway];

    pub fn name(&self) -> &'static str {
        match self {
            MapFamily::Town => "town",
            MapFamily::Rural => "rural",
            MapFamily::Highway => "highway",
        }
    }
}

/// The light that governs the end (stop line) of a lane.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Signal {
    pub controller: usize,
    pub phase: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LightState {
    Green,
    Yellow,
    Red,
}

/// A stop line at the end of a signalized lane.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StopLine {
    pub a: V2,
    pub b: V2,
    pub dir: V2,
    pub signal: Signal,
}

/// A fixed-time signal plan: phases served one after another, each green, then yellow, then
/// all-red clearance (protected phases: one approach at a time).
#[derive(Clone, Debug, PartialEq)]
pub struct SignalController {
    pub num_phases: usize,
    pub green: f32,
    pub yellow: f32,
    pub all_red: f32,
    pub offset: f32,
}

impl SignalController {
    pub fn cycle(&self) -> f32 {
        self.num_phases as f32 * (self.green + self.yellow + self.all_red)
    }

    pub fn state(&self, phase: usize, time: f32) -> LightState {
        let slot = self.green + self.yellow + self.all_red;
        let t = (time + self.offset).rem_euclid(self.cycle());
        let active = (t / slot) as usize;
        if active != phase {
            return LightState::Red;
        }
        let within = t - active as f32 * slot;
        if within < self.green {
            LightState::Green
        } else if within < self.green + self.yellow {
            LightState::Yellow
        } else {
            LightState::Red
        }
    }
}

/// One lane. Vehicles travel along `centre` in the order of its points.
#[derive(Clone, Debug, PartialEq)]
pub struct Lane {
    pub centre: Polyline,
    pub width: f32,
    /// m/s.
    pub speed_limit: f32,
    pub successors: Vec<usize>,
    pub predecessors: Vec<usize>,
    /// The junction this connector lane crosses, if any.
    pub junction: Option<usize>,
    /// The light at this lane's end.
    pub signal: Option<Signal>,
    /// Traffic leaving this lane's end must give way (minor road, on-ramp).
    pub yields: bool,
    /// Comfortable speed at each centre-line point: speed limit, lowered for curves and for the
    /// braking needed to reach slower points further along the same lane.
    pub advisory: Vec<f32>,
}

impl Lane {
    pub fn length(&self) -> f32 {
        self.centre.length()
    }

    pub fn in_junction(&self) -> bool {
        self.junction.is_some()
    }

    /// Advisory speed at arc length `s`.
    pub fn advisory_at(&self, s: f32) -> f32 {
        self.advisory[self.centre.segment_at(s)]
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Junction {
    pub centre: V2,
    pub connectors: Vec<usize>,
    pub signalized: bool,
}

/// A place at the roadside where a parked car or an obstacle may stand.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RoadsideSpot {
    pub pos: V2,
    pub heading: f32,
}

#[derive(Debug)]
pub struct Map {
    pub family: MapFamily,
    pub lanes: Vec<Lane>,
    /// Per lane: [`LaneInfo`], the hot facts of `lanes`, and where its vertices and links lie
    /// in `lane_vertices` and `lane_links`.
    pub lane_info: Vec<LaneInfo>,
    /// Every lane's centre-line vertices, lane after lane (read through [`Map::lane_line`]).
    lane_vertices: Vec<LaneVertex>,
    /// Every lane's successors, predecessors, merging and conflicting connectors, lane after
    /// lane (read through [`Map::successors`] and its siblings).
    lane_links: Vec<u32>,
    pub junctions: Vec<Junction>,
    pub controllers: Vec<SignalController>,
    /// Road edges (curbs) as polylines.
    pub edges: Vec<Vec<V2>>,
    /// The edges as a rapier query scene, for the ray ring.
    pub edge_index: super::edges::EdgeIndex,
    pub roadside: Vec<RoadsideSpot>,
    /// Lanes where routes and traffic may start (not inside junctions, long enough).
    pub spawn_lanes: Vec<usize>,
    pub grid: LaneGrid,
    /// One per signalized lane end, in lane order.
    pub stop_lines: Vec<StopLine>,
    pub stop_line_grid: StopLineGrid,
    pub min: V2,
    pub max: V2,
}

/// Comfortable lateral acceleration used to derive curve speeds (m/s^2).
pub const COMFORT_LAT_ACCEL: f32 = 2.0;
/// Comfortable deceleration used when anticipating slower road sections (m/s^2).
pub const COMFORT_DECEL: f32 = 2.0;

impl Map {
    /// The lanes whose strip (half width plus `margin`) contains `p`.
    pub fn lanes_at(&self, p: V2, margin: f32, out: &mut Vec<LaneHit>) {
        self.grid
            .lanes_at(&self.lane_info, &self.lane_vertices, p, margin, out)
    }

    /// True when `p` lies on some lane's strip.
    pub fn drivable(&self, p: V2) -> bool {
        self.grid
            .any_lane_at(&self.lane_info, &self.lane_vertices, p, 0.0)
    }

    /// Lane `lane`'s centre line (its [`Lane::centre`], with the advisory speeds).
    pub fn lane_line(&self, lane: usize) -> LaneLine<'_> {
        self.lane_info[lane].line(&self.lane_vertices)
    }

    /// The lanes traffic may enter from the end of `lane` ([`Lane::successors`]).
    pub fn successors(&self, lane: usize) -> &[u32] {
        self.lane_info[lane].links(LinkKind::Successors, &self.lane_links)
    }

    /// The lanes that end where `lane` starts ([`Lane::predecessors`]).
    pub fn predecessors(&self, lane: usize) -> &[u32] {
        self.lane_info[lane].links(LinkKind::Predecessors, &self.lane_links)
    }

    /// The connectors whose paths cross or merge with connector `lane`'s.
    pub fn conflicts(&self, lane: usize) -> &[u32] {
        self.lane_info[lane].links(LinkKind::Conflicts, &self.lane_links)
    }

    /// The conflicting connectors that merge into the same lane as `lane`.
    pub fn merges(&self, lane: usize) -> &[u32] {
        self.lane_info[lane].links(LinkKind::Merges, &self.lane_links)
    }

    pub fn light_state(&self, signal: Signal, time: f32) -> LightState {
        self.controllers[signal.controller].state(signal.phase, time)
    }

    /// Total lane length in metres.
    pub fn total_lane_length(&self) -> f32 {
        self.lanes.iter().map(Lane::length).sum()
    }
}

/// A lane containing a query point.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LaneHit {
    pub lane: usize,
    pub s: f32,
    pub lateral: f32,
}

/// Fills `advisory` speeds from curvature and in-lane braking anticipation.
pub(crate) fn compute_advisory(lane: &mut Lane) {
    let curv = lane.centre.curvatures();
    let n = curv.len();
    let mut v: Vec<f32> = (0..n)
        .map(|i| {
            let k = curv[i.saturating_sub(1)..(i + 2).min(n)]
                .iter()
                .fold(0.0f32, |a, &b| a.max(b));
            let curve = if k > 1e-4 {
                (COMFORT_LAT_ACCEL / k).sqrt()
            } else {
                f32::INFINITY
            };
            lane.speed_limit.min(curve).max(2.0)
        })
        .collect();
    for i in (0..n.saturating_sub(1)).rev() {
        let ds = lane.centre.s[i + 1] - lane.centre.s[i];
        v[i] = v[i].min((v[i + 1] * v[i + 1] + 2.0 * COMFORT_DECEL * ds).sqrt());
    }
    lane.advisory = v;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signal_plan_serves_one_phase_at_a_time() {
        let c = SignalController {
            num_phases: 4,
            green: 10.0,
            yellow: 3.0,
            all_red: 2.0,
            offset: 0.0,
        };
        for step in 0..600 {
            let t = step as f32 * 0.1;
            let open = (0..4).filter(|&p| c.state(p, t) != LightState::Red).count();
            assert!(open <= 1, "two phases open at t={t}");
        }
        assert_eq!(c.state(0, 5.0), LightState::Green);
        assert_eq!(c.state(0, 11.0), LightState::Yellow);
        assert_eq!(c.state(0, 14.0), LightState::Red);
        assert_eq!(c.state(1, 16.0), LightState::Green);
    }
}
