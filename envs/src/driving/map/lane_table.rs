//! The lanes' hot data packed per map for drivers that read it every step: one 64-byte record
//! per lane ([`LaneInfo`]), every lane's centre-line vertices with their arc lengths and
//! advisory speeds in one table ([`LaneVertex`], read through [`LaneLine`]), and every lane's
//! successors, predecessors, merging and conflicting connectors in one list. With many envs on
//! many maps, a step's reads then fall on a few cache lines per lane instead of a lane struct,
//! its heap vectors and the per-lane vectors of lists. Copies of what [`Lane`] and the map's
//! construction hold, made once when the map is finished.

use super::{Junction, Lane, Signal};
use crate::driving::geometry::{cross, Line, Polyline, V2};

/// A centre-line vertex of a lane: position, arc length along its lane, and the lane's
/// advisory speed there ([`Lane::advisory`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LaneVertex {
    pub p: V2,
    pub s: f32,
    pub advisory: f32,
}

/// A lane's centre line, read from the map's vertex table.
#[derive(Clone, Copy, Debug)]
pub struct LaneLine<'a> {
    vertices: &'a [LaneVertex],
}

impl Line for LaneLine<'_> {
    fn num_points(&self) -> usize {
        self.vertices.len()
    }

    fn point(&self, i: usize) -> V2 {
        self.vertices[i].p
    }

    fn arc(&self, i: usize) -> f32 {
        self.vertices[i].s
    }
}

impl<'a> LaneLine<'a> {
    pub fn vertices(&self) -> &'a [LaneVertex] {
        self.vertices
    }

    /// The advisory speed on segment `seg` (at its first vertex).
    pub fn advisory(&self, seg: usize) -> f32 {
        self.vertices[seg].advisory
    }

    /// [`Lane::advisory_at`].
    pub fn advisory_at(&self, s: f32) -> f32 {
        self.advisory(self.segment_at(s))
    }
}

/// The per-lane facts the drivers read for every lane on their path, every step, in one cache
/// line per lane: copies of values held in [`Lane`] and the map's junctions, and where the
/// lane's vertices and links lie in the map's tables.
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(align(64))]
pub struct LaneInfo {
    /// [`Lane::length`].
    pub length: f32,
    /// The advisory speed at the lane's start.
    pub first_advisory: f32,
    /// [`Lane::speed_limit`].
    pub speed_limit: f32,
    /// [`Lane::width`].
    pub width: f32,
    pub signal: Option<Signal>,
    pub in_junction: bool,
    /// Heading change from the lane's start to its end (rad, left positive).
    pub turn: f32,
    /// [`Lane::yields`].
    pub yields: bool,
    /// The junction this connector lane crosses is signalized.
    pub in_signalized_junction: bool,
    /// The lane's vertices: `vertices..vertices + num_vertices` in the map's vertex table.
    vertices: u32,
    num_vertices: u32,
    /// The lane's links from `links` in the map's link list: successors, predecessors,
    /// merging connectors, conflicting connectors, as many of each as `num_links` says.
    links: u32,
    num_links: [u8; 4],
}

const _: () = assert!(std::mem::size_of::<LaneInfo>() == 64);

/// Which of a lane's links ([`LaneInfo`]) a list holds.
#[derive(Clone, Copy)]
pub(crate) enum LinkKind {
    Successors,
    Predecessors,
    Merges,
    Conflicts,
}

impl LaneInfo {
    /// The lane's links of one kind, from the map's link list.
    pub(crate) fn links<'a>(&self, kind: LinkKind, list: &'a [u32]) -> &'a [u32] {
        let k = kind as usize;
        let before: usize = self.num_links[..k].iter().map(|&n| n as usize).sum();
        let start = self.links as usize + before;
        &list[start..start + self.num_links[k] as usize]
    }

    /// Where the lane's vertices start in the map's vertex table.
    pub(crate) fn first_vertex(&self) -> usize {
        self.vertices as usize
    }

    pub(crate) fn line<'a>(&self, table: &'a [LaneVertex]) -> LaneLine<'a> {
        let start = self.vertices as usize;
        LaneLine {
            vertices: &table[start..start + self.num_vertices as usize],
        }
    }
}

/// The packed tables of a finished map's lanes.
pub(crate) struct LaneTables {
    pub info: Vec<LaneInfo>,
    pub vertices: Vec<LaneVertex>,
    pub links: Vec<u32>,
}

impl LaneTables {
    /// Packs `lanes` with their merging and conflicting connectors.
    pub fn new(
        lanes: &[Lane],
        merges: &[Vec<usize>],
        conflicts: &[Vec<usize>],
        junctions: &[Junction],
    ) -> Self {
        let mut tables = LaneTables {
            info: Vec::with_capacity(lanes.len()),
            vertices: Vec::new(),
            links: Vec::new(),
        };
        for (l, lane) in lanes.iter().enumerate() {
            let vertices = tables.vertices.len() as u32;
            tables.vertices.extend(
                lane.centre
                    .pts
                    .iter()
                    .zip(&lane.centre.s)
                    .zip(&lane.advisory)
                    .map(|((&p, &s), &advisory)| LaneVertex { p, s, advisory }),
            );
            let links = tables.links.len() as u32;
            let lists = [
                &lane.successors,
                &lane.predecessors,
                &merges[l],
                &conflicts[l],
            ];
            let num_links = lists.map(|list| {
                tables.links.extend(list.iter().map(|&x| x as u32));
                u8::try_from(list.len()).expect("a lane has at most 255 links of a kind")
            });
            tables.info.push(LaneInfo {
                length: lane.length(),
                first_advisory: lane.advisory[0],
                speed_limit: lane.speed_limit,
                width: lane.width,
                signal: lane.signal,
                in_junction: lane.in_junction(),
                turn: turn_angle(&lane.centre),
                yields: lane.yields,
                in_signalized_junction: lane.junction.is_some_and(|j| junctions[j].signalized),
                vertices,
                num_vertices: lane.centre.pts.len() as u32,
                links,
                num_links,
            });
        }
        tables
    }
}

/// Heading change along a line (rad, left positive).
fn turn_angle(line: &Polyline) -> f32 {
    let a = line.direction_at(0.0);
    let b = line.direction_at(line.length());
    cross(a, b).atan2(a.dot(b))
}

#[cfg(test)]
mod tests {
    use rand::RngExt;

    use super::*;
    use crate::driving::map::{generate, MapFamily};
    use crate::env_rng;

    fn as_usize(links: &[u32]) -> Vec<usize> {
        links.iter().map(|&x| x as usize).collect()
    }

    /// Every lane of every family reads back from the packed tables as its `Lane` holds it,
    /// and the line queries answer bit for bit as on the lane's own polyline.
    #[test]
    fn tables_hold_every_lane_and_answer_as_its_polyline() {
        let mut rng = env_rng(5);
        let bits = |p: V2| p.to_array().map(f32::to_bits);
        for family in MapFamily::ALL {
            for seed in 0..3 {
                let map = generate(family, &mut env_rng(seed));
                for (l, lane) in map.lanes.iter().enumerate() {
                    let (info, line) = (&map.lane_info[l], map.lane_line(l));
                    let centre = &lane.centre;
                    assert_eq!(line.num_points(), centre.pts.len(), "{family:?} lane {l}");
                    for (i, v) in line.vertices().iter().enumerate() {
                        assert_eq!(
                            (v.p, v.s, v.advisory),
                            (centre.pts[i], centre.s[i], lane.advisory[i])
                        );
                    }
                    assert_eq!(as_usize(map.successors(l)), lane.successors);
                    assert_eq!(as_usize(map.predecessors(l)), lane.predecessors);
                    assert_eq!(info.width, lane.width);
                    assert_eq!(info.length.to_bits(), centre.length().to_bits());
                    for _ in 0..20 {
                        let s = rng.random_range(-1.0..lane.length() + 1.0);
                        let hint = rng.random_range(0..centre.pts.len());
                        assert_eq!(line.segment_at(s), centre.segment_at(s));
                        let (a, b) = (line.point_at_from(hint, s), centre.point_at_from(hint, s));
                        assert_eq!((bits(a.0), a.1), (bits(b.0), b.1));
                        assert_eq!(line.advisory_at(s).to_bits(), lane.advisory_at(s).to_bits());
                        let p = centre.point_at(s)
                            + V2::new(rng.random_range(-3.0..3.0), rng.random_range(-3.0..3.0));
                        let (x, y) = (
                            line.project_near(p, hint, 1, 4),
                            centre.project_near(p, hint, 1, 4),
                        );
                        assert_eq!(
                            (x.s.to_bits(), x.seg, x.lateral.to_bits()),
                            (y.s.to_bits(), y.seg, y.lateral.to_bits())
                        );
                    }
                }
            }
        }
    }

    /// Links of every kind come back as given, whatever the mix of lengths (empty lists and
    /// long ones beside each other).
    #[test]
    fn links_of_each_kind_come_back_as_given() {
        let map = generate(MapFamily::Town, &mut env_rng(1));
        let mut rng = env_rng(2);
        let list = |rng: &mut crate::EnvRng| -> Vec<usize> {
            let n = [0, 1, 3, 12][rng.random_range(0..4)];
            (0..n)
                .map(|_| rng.random_range(0..map.lanes.len()))
                .collect()
        };
        let merges: Vec<Vec<usize>> = map.lanes.iter().map(|_| list(&mut rng)).collect();
        let conflicts: Vec<Vec<usize>> = map.lanes.iter().map(|_| list(&mut rng)).collect();
        let tables = LaneTables::new(&map.lanes, &merges, &conflicts, &map.junctions);
        for (l, (info, lane)) in tables.info.iter().zip(&map.lanes).enumerate() {
            let links = |kind| as_usize(info.links(kind, &tables.links));
            assert_eq!(links(LinkKind::Successors), lane.successors);
            assert_eq!(links(LinkKind::Predecessors), lane.predecessors);
            assert_eq!(links(LinkKind::Merges), merges[l]);
            assert_eq!(links(LinkKind::Conflicts), conflicts[l]);
        }
    }
}
