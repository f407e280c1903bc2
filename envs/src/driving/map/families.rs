//! The map families, each generated from a seed.

use std::f32::consts::PI;

use rand::{Rng, RngExt};

use super::network::{self, new_lane, Layout, NodeSpec, RoadSpec, SignalTiming, LANE_SPACING};
use super::{Junction, Map, MapFamily};
use crate::driving::geometry::{bezier, dir, left, offset_points, Line, Polyline, V2};

pub const LANE_WIDTH: f32 = 3.5;
pub const HIGHWAY_LANE_WIDTH: f32 = 3.7;

/// Fixed-time plan of town signals: 8 s green, 3 s yellow, 1 s all-red per approach, so a
/// four-way cycle is 48 s and no approach waits more than 36 s.
pub const TOWN_SIGNALS: SignalTiming = SignalTiming {
    green: 8.0,
    yellow: 3.0,
    all_red: 1.0,
};

pub fn generate<R: Rng + ?Sized>(family: MapFamily, rng: &mut R) -> Map {
    match family {
        MapFamily::Town => town(rng),
        MapFamily::Rural => rural(rng),
        MapFamily::Highway => highway(rng),
    }
}

/// A grid of 3-5 x 3-4 intersections, 60-110 m apart, streets at 30 or 50 km/h.
fn town<R: Rng + ?Sized>(rng: &mut R) -> Map {
    let nx = rng.random_range(3..=5usize);
    let ny = rng.random_range(3..=4usize);
    let mut xs = vec![0.0f32];
    for _ in 1..nx {
        xs.push(xs.last().unwrap() + rng.random_range(60.0..110.0));
    }
    let mut ys = vec![0.0f32];
    for _ in 1..ny {
        ys.push(ys.last().unwrap() + rng.random_range(60.0..110.0));
    }
    let index = |i: usize, j: usize| j * nx + i;
    let mut nodes = Vec::new();
    for &y in &ys {
        for &x in &xs {
            nodes.push(NodeSpec {
                pos: V2::new(x, y),
                trim: 0.0,
            });
        }
    }
    let mut roads = Vec::new();
    let mut degree = vec![0; nodes.len()];
    for j in 0..ny {
        for i in 0..nx {
            for (di, dj) in [(1, 0), (0, 1)] {
                let (i2, j2) = (i + di, j + dj);
                if i2 >= nx || j2 >= ny {
                    continue;
                }
                let (a, b) = (index(i, j), index(i2, j2));
                degree[a] += 1;
                degree[b] += 1;
                let speed_limit = if rng.random::<f32>() < 0.25 {
                    30.0 / 3.6
                } else {
                    50.0 / 3.6
                };
                roads.push(RoadSpec {
                    a,
                    b,
                    pts: vec![nodes[a].pos, nodes[b].pos],
                    speed_limit,
                    priority: true,
                });
            }
        }
    }
    for (node, d) in nodes.iter_mut().zip(&degree) {
        node.trim = if *d >= 3 { 12.0 } else { 14.0 };
    }
    let offsets: Vec<f32> = (0..nodes.len()).map(|_| rng.random::<f32>()).collect();
    network::build(
        MapFamily::Town,
        &nodes,
        &roads,
        LANE_WIDTH,
        Some((&TOWN_SIGNALS, &offsets)),
    )
}

/// A smooth wiggle added to a straight line: a sum of sine modes, each times sin(pi t), so the
/// offset and its slope vanish at both ends (roads leave their junctions straight) while curve
/// radii vary from gentle to tight along the road.
fn curvy_road<R: Rng + ?Sized>(rng: &mut R, a: V2, b: V2, amplitude: f32) -> Vec<V2> {
    let len = (b - a).length();
    let normal = left((b - a) / len);
    let modes: Vec<(f32, f32)> = (1..=3)
        .map(|k| {
            let amp = amplitude * len / (k * k) as f32 * rng.random_range(-1.0f32..1.0);
            (k as f32, amp)
        })
        .collect();
    let n = (len / 2.0).ceil() as usize;
    (0..=n)
        .map(|i| {
            let t = i as f32 / n as f32;
            let envelope = (PI * t).sin();
            let off: f32 = modes
                .iter()
                .map(|&(k, amp)| amp * (k * PI * t).sin() * envelope)
                .sum();
            a.lerp(b, t) + normal * off
        })
        .collect()
}

/// Six to eight villages on a ring 250-400 m in radius joined by curvy 80 km/h roads, with a
/// 60 km/h crossroad through the middle meeting the ring at two give-way T-junctions.
fn rural<R: Rng + ?Sized>(rng: &mut R) -> Map {
    let n = rng.random_range(6..=8usize);
    let radius = rng.random_range(250.0..400.0f32);
    let phase = rng.random_range(0.0..2.0 * PI);
    let mut nodes: Vec<NodeSpec> = (0..n)
        .map(|i| {
            let a = phase + 2.0 * PI * (i as f32 + rng.random_range(-0.15..0.15)) / n as f32;
            let r = radius * rng.random_range(0.85..1.15);
            NodeSpec {
                pos: dir(a) * r,
                trim: 30.0,
            }
        })
        .collect();
    let mut roads: Vec<RoadSpec> = (0..n)
        .map(|i| {
            let (a, b) = (i, (i + 1) % n);
            RoadSpec {
                a,
                b,
                pts: curvy_road(rng, nodes[a].pos, nodes[b].pos, 0.06),
                speed_limit: 80.0 / 3.6,
                priority: true,
            }
        })
        .collect();
    let (c0, c1) = (0, n / 2);
    nodes[c0].trim = 18.0;
    nodes[c1].trim = 18.0;
    roads.push(RoadSpec {
        a: c0,
        b: c1,
        pts: curvy_road(rng, nodes[c0].pos, nodes[c1].pos, 0.03),
        speed_limit: 60.0 / 3.6,
        priority: false,
    });
    network::build(MapFamily::Rural, &nodes, &roads, LANE_WIDTH, None)
}

/// Lanes of the highway's main road.
const HIGHWAY_LANES: usize = 3;
/// Length of each merge zone, where an on-ramp joins the right lane.
const MERGE_ZONE: f32 = 70.0;
const HIGHWAY_SPEED_LIMIT: f32 = 90.0 / 3.6;
const RAMP_SPEED_LIMIT: f32 = 50.0 / 3.6;

/// A 1.4-2 km three-lane one-way road (90 km/h) with gentle curves and two on-ramps (50 km/h)
/// whose lane merges into the right lane over a 70 m zone, giving way to the main road.
fn highway<R: Rng + ?Sized>(rng: &mut R) -> Map {
    let length = rng.random_range(1400.0..2000.0f32);
    let amp = rng.random_range(10.0..40.0f32);
    let period = rng.random_range(600.0..1000.0f32);
    let phase = rng.random_range(0.0..2.0 * PI);
    let road = HighwayLine { amp, period, phase };
    let merges = [
        rng.random_range(0.25..0.35) * length,
        rng.random_range(0.6..0.7) * length,
    ];
    // Main-road sections between merge zones, as x ranges.
    let mut cuts = vec![0.0];
    for &m in &merges {
        cuts.push(m);
        cuts.push(m + MERGE_ZONE);
    }
    cuts.push(length);
    let mut layout = Layout::default();
    let sections: Vec<[usize; HIGHWAY_LANES]> = cuts
        .chunks(2)
        .map(|pair| lay_highway_section(&mut layout, &road, pair[0], pair[1]))
        .collect();
    // Right edges stop at the merge zones, where the ramp's edge takes over.
    for pair in cuts.chunks(2) {
        layout.edges.push(offset_points(
            &road.section(pair[0], pair[1]),
            -(HIGHWAY_LANES as f32) * HIGHWAY_LANE_WIDTH,
        ));
    }
    let mut junctions = Vec::new();
    for (m, &x) in merges.iter().enumerate() {
        let junction = junctions.len();
        let zone = lay_merge_zone(
            &mut layout,
            &road,
            x,
            sections[m],
            sections[m + 1],
            junction,
        );
        junctions.push(zone);
    }
    let conflicts = network::find_conflicts(&layout.lanes, &junctions);
    network::finish(
        MapFamily::Highway,
        layout.lanes,
        junctions,
        conflicts,
        Vec::new(),
        layout.edges,
        layout.roadside,
    )
}

/// The highway's reference line (its left edge): a gentle sine along x.
struct HighwayLine {
    amp: f32,
    period: f32,
    phase: f32,
}

impl HighwayLine {
    fn at(&self, x: f32) -> V2 {
        V2::new(
            x,
            self.amp * (2.0 * PI * x / self.period + self.phase).sin(),
        )
    }

    /// The line from `x0` to `x1`, a point every `LANE_SPACING` or less.
    fn section(&self, x0: f32, x1: f32) -> Vec<V2> {
        let n = ((x1 - x0) / LANE_SPACING).ceil() as usize;
        (0..=n)
            .map(|i| self.at(x0 + (x1 - x0) * i as f32 / n as f32))
            .collect()
    }
}

/// Lays the main-road lanes from `x0` to `x1`, the left edge and the shoulder's roadside
/// spots; returns the lane ids, left to right.
fn lay_highway_section(
    layout: &mut Layout,
    road: &HighwayLine,
    x0: f32,
    x1: f32,
) -> [usize; HIGHWAY_LANES] {
    let w = HIGHWAY_LANE_WIDTH;
    let pts = road.section(x0, x1);
    let mut ids = [0; HIGHWAY_LANES];
    for (k, id) in ids.iter_mut().enumerate() {
        *id = layout.lanes.len();
        let centre = offset_points(&pts, -(k as f32 + 0.5) * w);
        layout
            .lanes
            .push(new_lane(Polyline::new(centre), w, HIGHWAY_SPEED_LIMIT));
    }
    layout.edges.push(pts.clone());
    let shoulder = Polyline::new(offset_points(&pts, -(HIGHWAY_LANES as f32) * w - 2.0));
    network::push_roadside_spots(&mut layout.roadside, &shoulder, 20.0, 25.0);
    ids
}

/// The merge zone starting at `x`: connector lanes carrying the main road's lanes through it,
/// and the on-ramp merging into the right lane.
fn lay_merge_zone(
    layout: &mut Layout,
    road: &HighwayLine,
    x: f32,
    before: [usize; HIGHWAY_LANES],
    after: [usize; HIGHWAY_LANES],
    junction: usize,
) -> Junction {
    let w = HIGHWAY_LANE_WIDTH;
    let lanes = &mut layout.lanes;
    let mut connectors = Vec::new();
    for k in 0..HIGHWAY_LANES {
        let pts = offset_points(&road.section(x, x + MERGE_ZONE), -(k as f32 + 0.5) * w);
        let id = lanes.len();
        let mut lane = new_lane(Polyline::new(pts), w, HIGHWAY_SPEED_LIMIT);
        lane.junction = Some(junction);
        lane.predecessors.push(before[k]);
        lane.successors.push(after[k]);
        lanes.push(lane);
        lanes[before[k]].successors.push(id);
        lanes[after[k]].predecessors.push(id);
        connectors.push(id);
    }
    connectors.push(lay_on_ramp(
        layout,
        road,
        x,
        after[HIGHWAY_LANES - 1],
        junction,
    ));
    Junction {
        centre: road.at(x + MERGE_ZONE * 0.5),
        connectors,
        signalized: false,
    }
}

/// The on-ramp of the merge zone at `x`: a curve from 60 m outside the road to a lane alongside
/// it before the zone, its edges, and the connector merging it into `right_lane`, whose id it
/// returns.
fn lay_on_ramp(
    layout: &mut Layout,
    road: &HighwayLine,
    x: f32,
    right_lane: usize,
    junction: usize,
) -> usize {
    let w = HIGHWAY_LANE_WIDTH;
    let ramp_off = -(HIGHWAY_LANES as f32 + 0.5) * w;
    let join = offset_points(&road.section(x - 60.0, x), ramp_off);
    let end_dir = (join[join.len() - 1] - join[join.len() - 2]).normalize();
    let start = road.at(x - 260.0) - V2::Y * 60.0;
    let curve = bezier(start, V2::X, join[0], end_dir, 80.0, 1.0);
    let mut ramp_pts = curve;
    ramp_pts.extend_from_slice(&join[1..]);
    let ramp = layout.lanes.len();
    let mut ramp_lane = new_lane(Polyline::new(ramp_pts.clone()), w, RAMP_SPEED_LIMIT);
    ramp_lane.yields = true;
    layout.lanes.push(ramp_lane);
    layout.edges.push(offset_points(&ramp_pts, 0.5 * w));
    let ramp_right = offset_points(&ramp_pts, -0.5 * w);
    layout.edges.push(ramp_right.clone());
    // Merge connector: from the ramp end into the right lane at the end of the zone.
    let target = &layout.lanes[right_lane].centre;
    let (p1, d1) = (target.pts[0], target.direction_at(0.0));
    let p0 = *ramp_pts.last().unwrap();
    let merge_pts = bezier(p0, end_dir, p1, d1, MERGE_ZONE * 0.4, 1.0);
    let right_curb = bezier(
        *ramp_right.last().unwrap(),
        end_dir,
        p1 - left(d1) * (0.5 * w),
        d1,
        MERGE_ZONE * 0.4,
        1.0,
    );
    layout.edges.push(right_curb);
    let lanes = &mut layout.lanes;
    let id = lanes.len();
    let mut lane = new_lane(Polyline::new(merge_pts), w, HIGHWAY_SPEED_LIMIT);
    lane.junction = Some(junction);
    lane.predecessors.push(ramp);
    lane.successors.push(right_lane);
    lanes.push(lane);
    lanes[ramp].successors.push(id);
    lanes[right_lane].predecessors.push(id);
    id
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env_rng;

    #[test]
    fn every_family_builds_a_connected_map() {
        for family in MapFamily::ALL {
            for seed in 0..5 {
                let map = generate(family, &mut env_rng(seed));
                assert!(!map.spawn_lanes.is_empty(), "{family:?}");
                for (i, lane) in map.lanes.iter().enumerate() {
                    assert!(lane.length() > 1.0, "{family:?} lane {i} is degenerate");
                    for &s in &lane.successors {
                        let gap = (map.lanes[s].centre.pts[0] - *lane.centre.pts.last().unwrap())
                            .length();
                        assert!(gap < 0.5, "{family:?} lane {i} -> {s} gap {gap}");
                    }
                    assert!(map.drivable(lane.centre.point_at(lane.length() * 0.5)));
                }
                if family != MapFamily::Highway {
                    // Town and rural networks are closed: every lane leads somewhere.
                    assert!(map.lanes.iter().all(|l| !l.successors.is_empty()));
                }
            }
        }
    }

    #[test]
    fn town_has_signals_and_crossing_conflicts() {
        let map = generate(MapFamily::Town, &mut env_rng(3));
        assert!(map.lanes.iter().any(|l| l.signal.is_some()));
        assert!((0..map.lanes.len()).any(|l| !map.conflicts(l).is_empty()));
        let rural = generate(MapFamily::Rural, &mut env_rng(3));
        assert!(rural.lanes.iter().any(|l| l.yields));
        assert!(rural.lanes.iter().all(|l| l.signal.is_none()));
    }
}
