//! Turns a road graph (nodes joined by two-way roads with centre polylines) into lanes:
//! one lane per direction on the right-hand side, roads trimmed back from the nodes, connector
//! lanes across each node for every non-U-turn movement, signal plans or give-way rules, curbs,
//! and roadside spots.

use super::{
    compute_advisory, Junction, Lane, LaneGrid, LaneTables, Map, MapFamily, RoadsideSpot, Signal,
    SignalController, StopLine, StopLineGrid,
};
use crate::driving::geometry::{
    bezier, left, offset_points, point_segment, resample, Line, Polyline, V2,
};

pub const LANE_SPACING: f32 = 2.0;

pub struct NodeSpec {
    pub pos: V2,
    /// How far roads are cut back from the node centre (room for the junction).
    pub trim: f32,
}

pub struct RoadSpec {
    pub a: usize,
    pub b: usize,
    /// Centre line from node `a` to node `b` (endpoints at the node centres).
    pub pts: Vec<V2>,
    pub speed_limit: f32,
    /// Traffic on this road has the right of way at unsignalized junctions.
    pub priority: bool,
}

pub struct SignalTiming {
    pub green: f32,
    pub yellow: f32,
    pub all_red: f32,
}

struct Arm {
    outward: f32,
    in_lane: usize,
    out_lane: usize,
    priority: bool,
}

/// The lanes, road edges and roadside spots of a map under construction.
#[derive(Default)]
pub struct Layout {
    pub lanes: Vec<Lane>,
    pub edges: Vec<Vec<V2>>,
    pub roadside: Vec<RoadsideSpot>,
}

/// Builds the map. Nodes of degree three or more become junctions, signalized when `signals`
/// is given (random offsets from `offsets`); degree-two nodes are plain road continuations.
pub fn build(
    family: MapFamily,
    nodes: &[NodeSpec],
    roads: &[RoadSpec],
    lane_width: f32,
    signals: Option<(&SignalTiming, &[f32])>,
) -> Map {
    let mut layout = Layout::default();
    let mut arms: Vec<Vec<Arm>> = (0..nodes.len()).map(|_| Vec::new()).collect();
    for road in roads {
        lay_road(&mut layout, &mut arms, nodes, road, lane_width);
    }
    for node_arms in arms.iter_mut() {
        node_arms.sort_by(|a, b| a.outward.total_cmp(&b.outward));
    }
    let mut junctions = Vec::new();
    let mut controllers = Vec::new();
    for (node_index, node_arms) in arms.iter().enumerate() {
        let degree = node_arms.len();
        let junction = if degree >= 3 {
            junctions.push(Junction {
                centre: nodes[node_index].pos,
                connectors: Vec::new(),
                signalized: signals.is_some(),
            });
            Some(junctions.len() - 1)
        } else {
            None
        };
        if let (Some(_), Some((timing, offsets))) = (junction, signals) {
            let offset = offsets[node_index % offsets.len()];
            controllers.push(signal_controller(degree, timing, offset));
        }
        for (i, arm) in node_arms.iter().enumerate() {
            if junction.is_some() {
                let signal = signals.map(|_| Signal {
                    controller: controllers.len() - 1,
                    phase: i,
                });
                set_right_of_way(&mut layout.lanes, node_arms, arm, signal);
            }
            connect_arm(
                &mut layout.lanes,
                &mut junctions,
                node_arms,
                i,
                junction,
                lane_width,
            );
            let next = &node_arms[(i + 1) % degree];
            let curb = curb_between(&layout.lanes, arm, next, lane_width);
            layout.edges.push(curb);
        }
    }
    let conflicts = find_conflicts(&layout.lanes, &junctions);
    finish(
        family,
        layout.lanes,
        junctions,
        conflicts,
        controllers,
        layout.edges,
        layout.roadside,
    )
}

/// Lays one road's two lanes (trimmed back from its nodes), their outer edges and roadside
/// spots, and records the road as an arm of both of its nodes.
fn lay_road(
    layout: &mut Layout,
    arms: &mut [Vec<Arm>],
    nodes: &[NodeSpec],
    road: &RoadSpec,
    lane_width: f32,
) {
    let line = Polyline::new(road.pts.clone());
    let (ta, tb) = (nodes[road.a].trim, nodes[road.b].trim);
    let len = line.length();
    let n = (((len - ta - tb) / LANE_SPACING).ceil() as usize).max(2);
    let trimmed: Vec<V2> = (0..=n)
        .map(|i| line.point_at(ta + (len - ta - tb) * i as f32 / n as f32))
        .collect();
    let reversed: Vec<V2> = trimmed.iter().rev().copied().collect();
    let mut ids = [0; 2];
    for (slot, pts) in [&trimmed, &reversed].into_iter().enumerate() {
        let centre = Polyline::new(offset_points(pts, -0.5 * lane_width));
        layout.edges.push(offset_points(pts, -lane_width));
        let spot_line = Polyline::new(offset_points(pts, -lane_width - 1.4));
        push_roadside_spots(&mut layout.roadside, &spot_line, 6.0, 7.5);
        ids[slot] = layout.lanes.len();
        layout
            .lanes
            .push(new_lane(centre, lane_width, road.speed_limit));
    }
    let d = (trimmed[1] - trimmed[0]).normalize_or(V2::X);
    let e = (reversed[1] - reversed[0]).normalize_or(V2::X);
    arms[road.a].push(Arm {
        outward: d.y.atan2(d.x),
        in_lane: ids[1],
        out_lane: ids[0],
        priority: road.priority,
    });
    arms[road.b].push(Arm {
        outward: e.y.atan2(e.x),
        in_lane: ids[0],
        out_lane: ids[1],
        priority: road.priority,
    });
}

/// Roadside spots along `line` every `spacing` metres, keeping `margin` metres from both ends.
pub fn push_roadside_spots(
    roadside: &mut Vec<RoadsideSpot>,
    line: &Polyline,
    margin: f32,
    spacing: f32,
) {
    let mut s = margin;
    while s < line.length() - margin {
        roadside.push(RoadsideSpot {
            pos: line.point_at(s),
            heading: line.heading_at(s),
        });
        s += spacing;
    }
}

/// The fixed-time plan of a junction with `degree` approaches, its start shifted by
/// `offset_fraction` of a cycle.
fn signal_controller(
    degree: usize,
    timing: &SignalTiming,
    offset_fraction: f32,
) -> SignalController {
    let cycle = degree as f32 * (timing.green + timing.yellow + timing.all_red);
    SignalController {
        num_phases: degree,
        green: timing.green,
        yellow: timing.yellow,
        all_red: timing.all_red,
        offset: offset_fraction * cycle,
    }
}

/// Who goes first where `arm` enters its junction: its light when signalized, else it gives
/// way when it is a minor road at a junction that has one.
fn set_right_of_way(lanes: &mut [Lane], node_arms: &[Arm], arm: &Arm, signal: Option<Signal>) {
    if signal.is_some() {
        lanes[arm.in_lane].signal = signal;
    } else {
        let any_minor = node_arms.iter().any(|a| !a.priority);
        lanes[arm.in_lane].yields = !arm.priority && any_minor;
    }
}

/// Connector lanes from arm `i`'s incoming lane to every other arm's outgoing lane.
fn connect_arm(
    lanes: &mut Vec<Lane>,
    junctions: &mut [Junction],
    node_arms: &[Arm],
    i: usize,
    junction: Option<usize>,
    lane_width: f32,
) {
    let arm = &node_arms[i];
    for (k, other) in node_arms.iter().enumerate() {
        if k == i {
            continue;
        }
        let (a, b) = (&lanes[arm.in_lane].centre, &lanes[other.out_lane].centre);
        let (p0, d0) = (*a.pts.last().unwrap(), a.direction_at(a.length()));
        let (p1, d1) = (b.pts[0], b.direction_at(0.0));
        let pull = 0.4 * (p1 - p0).length();
        let pts = bezier(p0, d0, p1, d1, pull, 1.0);
        let limit = lanes[arm.in_lane]
            .speed_limit
            .min(lanes[other.out_lane].speed_limit);
        let id = lanes.len();
        let mut lane = new_lane(Polyline::new(pts), lane_width, limit);
        lane.junction = junction;
        lane.successors.push(other.out_lane);
        lane.predecessors.push(arm.in_lane);
        lanes.push(lane);
        lanes[arm.in_lane].successors.push(id);
        lanes[other.out_lane].predecessors.push(id);
        if let Some(j) = junction {
            junctions[j].connectors.push(id);
        }
    }
}

/// Curb from `arm`'s right edge round to the `next` arm counter-clockwise.
fn curb_between(lanes: &[Lane], arm: &Arm, next: &Arm, lane_width: f32) -> Vec<V2> {
    let (a, b) = (&lanes[arm.in_lane].centre, &lanes[next.out_lane].centre);
    let (da, db) = (a.direction_at(a.length()), b.direction_at(0.0));
    let p0 = *a.pts.last().unwrap() - left(da) * (lane_width * 0.5);
    let p1 = b.pts[0] - left(db) * (lane_width * 0.5);
    let pull = 0.4 * (p1 - p0).length();
    bezier(p0, da, p1, db, pull, 1.0)
}

pub fn new_lane(centre: Polyline, width: f32, speed_limit: f32) -> Lane {
    Lane {
        centre,
        width,
        speed_limit,
        successors: Vec::new(),
        predecessors: Vec::new(),
        junction: None,
        signal: None,
        yields: false,
        advisory: Vec::new(),
    }
}

/// Connectors of one junction conflict when they come from different lanes and either share
/// their successor (merge) or pass within 3.5 m of each other (crossing).
pub fn find_conflicts(lanes: &[Lane], junctions: &[Junction]) -> Vec<Vec<usize>> {
    let mut conflicts = vec![Vec::new(); lanes.len()];
    for j in junctions {
        for (x, &a) in j.connectors.iter().enumerate() {
            for &b in &j.connectors[x + 1..] {
                let (la, lb) = (&lanes[a], &lanes[b]);
                if la.predecessors == lb.predecessors {
                    continue;
                }
                let merge = la.successors.iter().any(|s| lb.successors.contains(s));
                if merge || min_distance(&la.centre, &lb.centre) < 3.5 {
                    conflicts[a].push(b);
                    conflicts[b].push(a);
                }
            }
        }
    }
    conflicts
}

fn min_distance(a: &Polyline, b: &Polyline) -> f32 {
    let mut best = f32::INFINITY;
    for &p in &a.pts {
        for w in b.pts.windows(2) {
            best = best.min(point_segment(p, w[0], w[1]).0);
        }
    }
    best
}

/// Resamples lanes, computes advisory speeds, bounds, the lane grid and the spawn lanes.
pub fn finish(
    family: MapFamily,
    mut lanes: Vec<Lane>,
    junctions: Vec<Junction>,
    conflicts: Vec<Vec<usize>>,
    controllers: Vec<SignalController>,
    edges: Vec<Vec<V2>>,
    roadside: Vec<RoadsideSpot>,
) -> Map {
    let mut min = V2::splat(f32::INFINITY);
    let mut max = V2::splat(f32::NEG_INFINITY);
    for lane in lanes.iter_mut() {
        lane.centre = Polyline::new(resample(&lane.centre.pts, LANE_SPACING));
        compute_advisory(lane);
        for &p in &lane.centre.pts {
            min = min.min(p);
            max = max.max(p);
        }
    }
    min -= V2::splat(20.0);
    max += V2::splat(20.0);
    let merges: Vec<Vec<usize>> = (0..lanes.len())
        .map(|a| {
            conflicts[a]
                .iter()
                .copied()
                .filter(|&b| lanes[b].successors == lanes[a].successors)
                .collect()
        })
        .collect();
    let tables = LaneTables::new(&lanes, &merges, &conflicts, &junctions);
    let spawn_lanes = (0..lanes.len())
        .filter(|&i| !lanes[i].in_junction() && lanes[i].length() > 30.0)
        .collect();
    let grid = LaneGrid::build(&tables.info, &tables.vertices, min, max);
    let stop_lines = stop_lines(&lanes);
    let stop_line_grid = StopLineGrid::build(&stop_lines, min, max);
    // Keep roadside spots clear of every lane (ramps and connectors pass near some).
    let roadside = roadside
        .into_iter()
        .filter(|r| {
            let d = crate::driving::geometry::dir(r.heading) * 2.5;
            [r.pos, r.pos + d, r.pos - d]
                .iter()
                .all(|&p| !grid.any_lane_at(&tables.info, &tables.vertices, p, 1.0))
        })
        .collect();
    Map {
        family,
        lanes,
        lane_info: tables.info,
        lane_vertices: tables.vertices,
        lane_links: tables.links,
        junctions,
        controllers,
        edge_index: crate::driving::edges::EdgeIndex::new(&edges),
        edges,
        roadside,
        spawn_lanes,
        grid,
        stop_lines,
        stop_line_grid,
        min,
        max,
    }
}

/// A stop line across the end of every signalized lane.
fn stop_lines(lanes: &[Lane]) -> Vec<StopLine> {
    lanes
        .iter()
        .filter_map(|l| {
            let signal = l.signal?;
            let end = *l.centre.pts.last()?;
            let d = l.centre.direction_at(l.length());
            let n = left(d) * (l.width * 0.5);
            Some(StopLine {
                a: end + n,
                b: end - n,
                dir: d,
                signal,
            })
        })
        .collect()
}
