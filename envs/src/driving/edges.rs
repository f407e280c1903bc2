//! Road edges for the ray ring: the edge polylines cut into pieces, every segment listed in the
//! cells of a uniform grid that its box touches, and each ray walked through the grid cell by
//! cell, nearest first, until no cell left can hold a nearer hit. Built once per map and shared
//! by every episode on it.
//!
//! The distances are bit for bit those of rapier's query pipeline over the same pieces as
//! polyline colliders (the scene the casts went through before): a segment is tested with
//! parry's own ray casts, in the pipeline's order, against the nearest hit so far: the
//! segment's box in the polyline's tree, then the segment. The pipeline also tests the boxes
//! that hold that box (the piece's in the broad phase, the trees' inner nodes); those tests
//! pass whenever the segment's box passes (see [`SlabRay::enters`]: rounding is monotonic, so
//! a larger box is entered no later and left no sooner), so they are left out. Only the order
//! in which segments are visited differs, and that can change the answer only when two
//! segments are hit within a rounding error of each other (a ray through a shared vertex or a
//! crossing): such rays are cast through the pipeline instead.

use rapier2d::parry::bounding_volume::Aabb;
use rapier2d::parry::query::{Ray, RayCast};
use rapier2d::parry::shape::Segment;
use rapier2d::prelude::*;

use super::geometry::{point_segment, V2};
use super::map::flatten_cells;
use crate::physics_world::SlabRay;

const PIECE_M: f32 = 12.0;
/// Grid cell side (m).
const CELL_M: f32 = 4.0;
/// Segments are listed in every cell within this distance (m) of their box, and a walk goes on
/// while the next cell starts within this distance past the nearest hit: both far above the
/// rounding of cell coordinates and ray parameters.
const SLACK_M: f32 = 0.05;
/// A hit with another segment this close (m) may tie with it: the pipeline decides.
const TIE_M: f32 = 1e-3;

/// One edge segment with its box in its polyline's tree (the box rapier's pipeline tests
/// before the segment): 32 bytes, two to a cache line, as the ray walk reads them.
#[derive(Clone, Copy)]
#[repr(align(32))]
struct EdgeSegment {
    segment: Segment,
    aabb: Aabb,
}

pub struct EdgeIndex {
    /// The pieces as polyline colliders in a query-only rapier scene, for the rare ray whose
    /// nearest hits may tie (see the module docs).
    scene: PipelineScene,
    /// Where the pieces sit (the identity: the polylines are built in world coordinates).
    piece_pose: Pose,
    /// The grid's lower corner and size in cells; it covers every segment's box.
    origin: V2,
    nx: usize,
    ny: usize,
    /// Cell `x + nx * y` holds `cells[starts[i]..starts[i + 1]]`, copies of the segments
    /// listed there, so a walk reads each cell's segments in one run of memory.
    starts: Vec<u32>,
    cells: Vec<EdgeSegment>,
    /// Beside `cells`: each entry's segment number (one per segment; a segment is listed in
    /// several cells), read only to tell a hit's own segment from others near it.
    ids: Vec<u32>,
}

impl std::fmt::Debug for EdgeIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EdgeIndex({} cell entries)", self.cells.len())
    }
}

impl EdgeIndex {
    /// Indexes the edges, cut into pieces of about `PIECE_M` metres (the pieces rapier's scene
    /// held, whose boxes the casts still test).
    pub fn new(edges: &[Vec<V2>]) -> Self {
        let scene = PipelineScene::new(edges);
        let piece_pose = Pose::IDENTITY;
        let mut segments: Vec<EdgeSegment> = Vec::new();
        for (_, collider) in scene.colliders.iter() {
            let polyline = collider
                .shape()
                .as_polyline()
                .expect("edge pieces are polylines");
            debug_assert_eq!(*collider.position(), piece_pose);
            for (i, segment) in polyline.segments().enumerate() {
                let aabb = polyline
                    .bvh()
                    .leaf_node(i as u32)
                    .expect("every segment is in its polyline's tree")
                    .aabb();
                segments.push(EdgeSegment { segment, aabb });
            }
        }
        Self::with_grid(scene, segments, piece_pose)
    }

    fn with_grid(scene: PipelineScene, segments: Vec<EdgeSegment>, piece_pose: Pose) -> Self {
        let (mut lo, mut hi) = (V2::splat(f32::INFINITY), V2::splat(f32::NEG_INFINITY));
        for s in &segments {
            lo = lo.min(s.aabb.mins);
            hi = hi.max(s.aabb.maxs);
        }
        if segments.is_empty() {
            (lo, hi) = (V2::ZERO, V2::ZERO);
        }
        let origin = lo - V2::splat(2.0 * SLACK_M);
        let nx = ((hi.x - origin.x + 2.0 * SLACK_M) / CELL_M).ceil().max(1.0) as usize;
        let ny = ((hi.y - origin.y + 2.0 * SLACK_M) / CELL_M).ceil().max(1.0) as usize;
        let cell_of = |p: V2| {
            let c = ((p - origin) / CELL_M).floor().max(V2::ZERO);
            ((c.x as usize).min(nx - 1), (c.y as usize).min(ny - 1))
        };
        let mut lists: Vec<Vec<(EdgeSegment, u32)>> = vec![Vec::new(); nx * ny];
        for (id, s) in segments.iter().enumerate() {
            let (x0, y0) = cell_of(s.aabb.mins - V2::splat(SLACK_M));
            let (x1, y1) = cell_of(s.aabb.maxs + V2::splat(SLACK_M));
            for y in y0..=y1 {
                for x in x0..=x1 {
                    lists[x + nx * y].push((*s, id as u32));
                }
            }
        }
        let (starts, entries) = flatten_cells(lists);
        let (cells, ids) = entries.into_iter().unzip();
        EdgeIndex {
            scene,
            piece_pose,
            origin,
            nx,
            ny,
            starts,
            cells,
            ids,
        }
    }

    /// Distance along each ray to the nearest edge (`range` when none is in range).
    pub fn cast_rays(&self, origin: V2, dirs: &[V2], range: f32, out: &mut [f32]) {
        for (o, &d) in out.iter_mut().zip(dirs) {
            let ray = Ray::new(origin, d);
            *o = match self.nearest_hit(&ray, range) {
                Some((t, k)) if self.may_tie(ray.point_at(t), k) => self.scene.cast(&ray, range),
                Some((t, _)) => t,
                None => range,
            };
        }
    }

    /// [`EdgeIndex::cast_rays`] through rapier's query pipeline alone, for tests.
    #[cfg(test)]
    pub fn cast_rays_through_pipeline(&self, origin: V2, dirs: &[V2], range: f32, out: &mut [f32]) {
        for (o, &d) in out.iter_mut().zip(dirs) {
            *o = self.scene.cast(&Ray::new(origin, d), range);
        }
    }

    /// Does a segment other than `id` pass within `TIE_M` of `p`, a hit on segment `id`?
    fn may_tie(&self, p: V2, id: u32) -> bool {
        let Some(i) = self.cell_at(p) else {
            return true;
        };
        let near_box = |b: &Aabb| {
            (b.mins - V2::splat(TIE_M)).cmple(p).all() && p.cmple(b.maxs + V2::splat(TIE_M)).all()
        };
        let range = self.cell_range(i);
        self.cells[range.clone()]
            .iter()
            .zip(&self.ids[range])
            .any(|(s, &other)| {
                other != id
                    && near_box(&s.aabb)
                    && point_segment(p, s.segment.a, s.segment.b).0 <= TIE_M
            })
    }

    fn cell_at(&self, p: V2) -> Option<usize> {
        let c = (p - self.origin) / CELL_M;
        let inside = c.x >= 0.0 && c.y >= 0.0 && c.x < self.nx as f32 && c.y < self.ny as f32;
        inside.then(|| c.x as usize + self.nx * c.y as usize)
    }

    fn cell_range(&self, i: usize) -> std::ops::Range<usize> {
        self.starts[i] as usize..self.starts[i + 1] as usize
    }

    /// The ray's nearest hit within `range` and the segment hit, as the pipeline finds it when
    /// no two hits tie: the cells the ray crosses are visited nearest first, until the next one
    /// starts past the nearest hit so far (or `range`) by `SLACK_M`.
    fn nearest_hit(&self, ray: &Ray, range: f32) -> Option<(f32, u32)> {
        let local = ray.inverse_transform_by(&self.piece_pose);
        let local_slabs = SlabRay::new(&local);
        // The walk's own parameters need no exactness (it stops `SLACK_M` late).
        let (o, d) = (ray.origin, ray.dir);
        let inv = V2::new(1.0 / d.x, 1.0 / d.y);
        let grid_min = self.origin;
        let grid_max = self.origin + V2::new(self.nx as f32, self.ny as f32) * CELL_M;
        // Clip the ray to the grid.
        let (mut t0, mut t1) = (0.0f32, range + SLACK_M);
        for i in 0..2 {
            if d[i] == 0.0 {
                if o[i] < grid_min[i] || o[i] > grid_max[i] {
                    return None;
                }
            } else {
                let a = (grid_min[i] - o[i]) * inv[i];
                let b = (grid_max[i] - o[i]) * inv[i];
                t0 = t0.max(a.min(b));
                t1 = t1.min(a.max(b));
            }
        }
        if t0 > t1 {
            return None;
        }
        let start = (o + d * t0 - grid_min) / CELL_M;
        let size = [self.nx as isize, self.ny as isize];
        let mut cell = [
            (start.x.max(0.0) as isize).min(size[0] - 1),
            (start.y.max(0.0) as isize).min(size[1] - 1),
        ];
        // Per axis: the ray parameter at the next cell border, from border to border, and the
        // step to the next cell (an axis the ray runs along is never stepped: its next border
        // is at infinity).
        let mut next = [f32::INFINITY; 2];
        let mut delta = [f32::INFINITY; 2];
        let mut step = [-1isize; 2];
        for i in 0..2 {
            if d[i] != 0.0 {
                let border = grid_min[i] + (cell[i] + (d[i] > 0.0) as isize) as f32 * CELL_M;
                next[i] = (border - o[i]) * inv[i];
                delta[i] = CELL_M * inv[i].abs();
            }
            if d[i] > 0.0 {
                step[i] = 1;
            }
        }
        let mut best = range;
        let mut hit = None;
        loop {
            let range = self.cell_range((cell[0] + size[0] * cell[1]) as usize);
            for (k, s) in self.cells[range.clone()].iter().enumerate() {
                if local_slabs.enters(&s.aabb, best) {
                    if let Some(t) = s.segment.cast_local_ray(&local, best, true) {
                        if t < best {
                            best = t;
                            hit = Some((t, range.start + k));
                        }
                    }
                }
            }
            // The nearer border, without a branch: which one it is differs from ray to ray.
            let axis = usize::from(next[1] <= next[0]);
            let to = cell[axis] + step[axis];
            if next[axis] > best.min(t1) + SLACK_M || !(0..size[axis]).contains(&to) {
                return hit.map(|(t, entry)| (t, self.ids[entry]));
            }
            cell[axis] = to;
            next[axis] += delta[axis];
        }
    }
}

/// The pieces as polyline colliders in a query-only rapier scene (no physics step ever moves
/// them), cast through rapier's query pipeline.
struct PipelineScene {
    bodies: RigidBodySet,
    colliders: ColliderSet,
    broad_phase: BroadPhaseBvh,
    narrow_phase: NarrowPhase,
}

impl PipelineScene {
    fn new(edges: &[Vec<V2>]) -> Self {
        let mut colliders = ColliderSet::new();
        for pts in edges {
            let mut start = 0;
            while start + 1 < pts.len() {
                let mut end = start + 1;
                let mut len = 0.0;
                while end + 1 < pts.len() && len < PIECE_M {
                    len += (pts[end] - pts[end - 1]).length();
                    end += 1;
                }
                colliders.insert(ColliderBuilder::polyline(pts[start..=end].to_vec(), None));
                start = end;
            }
        }
        let mut scene = PipelineScene {
            bodies: RigidBodySet::new(),
            colliders,
            broad_phase: BroadPhaseBvh::new(),
            narrow_phase: NarrowPhase::new(),
        };
        CollisionPipeline::new().step(
            0.0,
            &mut IslandManager::new(),
            &mut scene.broad_phase,
            &mut scene.narrow_phase,
            &mut scene.bodies,
            &mut scene.colliders,
            &(),
            &(),
        );
        scene
    }

    fn query(&self) -> QueryPipeline<'_> {
        self.broad_phase.as_query_pipeline(
            self.narrow_phase.query_dispatcher(),
            &self.bodies,
            &self.colliders,
            QueryFilter::default(),
        )
    }

    fn cast(&self, ray: &Ray, range: f32) -> f32 {
        self.query()
            .cast_ray(ray, range, true)
            .map_or(range, |h| h.1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::driving::map::{generate, MapFamily};
    use crate::env_rng;
    use rand::RngExt;

    /// Rays from random points on and around each map family, in random directions and aimed
    /// at edge vertices, give the pipeline's distances bit for bit; only rays through a vertex
    /// fall back to the pipeline.
    #[test]
    fn casts_match_rapiers_query_pipeline_bit_for_bit() {
        let mut rng = env_rng(7);
        for family in MapFamily::ALL {
            let map = generate(family, &mut env_rng(3));
            let index = &map.edge_index;
            let scene = PipelineScene::new(&map.edges);
            let vertices: Vec<V2> = map.edges.iter().flatten().copied().collect();
            let (lo, hi) = (map.min - V2::splat(30.0), map.max + V2::splat(30.0));
            let (mut hits, mut random_ties) = (0, 0);
            for k in 0..40_000 {
                let origin = V2::new(rng.random_range(lo.x..hi.x), rng.random_range(lo.y..hi.y));
                let at_vertex = k % 4 == 0;
                let dir = if at_vertex {
                    let target = vertices[rng.random_range(0..vertices.len())];
                    (target - origin).normalize_or(V2::X)
                } else {
                    super::super::geometry::dir(rng.random_range(0.0..std::f32::consts::TAU))
                };
                let range = if k % 2 == 0 { 40.0 } else { 400.0 };
                let ray = Ray::new(origin, dir);
                let mut got = [0.0];
                index.cast_rays(origin, &[dir], range, &mut got);
                let want = scene.cast(&ray, range);
                assert_eq!(
                    got[0].to_bits(),
                    want.to_bits(),
                    "{family:?}: ray from {origin} along {dir}: {} vs {want}",
                    got[0]
                );
                hits += (want < range) as usize;
                if let (false, Some((t, seg))) = (at_vertex, index.nearest_hit(&ray, range)) {
                    random_ties += index.may_tie(ray.point_at(t), seg) as usize;
                }
            }
            assert!(hits > 5_000, "{family:?}: only {hits} hits");
            eprintln!("{family:?}: {hits} hits, {random_ties} ties in 30000 random rays");
            assert!(
                random_ties < 300,
                "{family:?}: {random_ties} ties in 30000 random rays"
            );
        }
    }
}
