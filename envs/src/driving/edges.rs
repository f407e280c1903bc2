//! Road edges as a query-only rapier scene: polyline colliders in their own broad phase, built
//! once per map and shared by every episode on it. Ray casts against them go through rapier's
//! query pipeline; they take no part in any physics step.

use rapier2d::prelude::*;

use super::geometry::V2;

const PIECE_M: f32 = 12.0;

pub struct EdgeIndex {
    bodies: RigidBodySet,
    colliders: ColliderSet,
    broad_phase: BroadPhaseBvh,
    narrow_phase: NarrowPhase,
}

impl std::fmt::Debug for EdgeIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EdgeIndex({} pieces)", self.colliders.len())
    }
}

impl EdgeIndex {
    /// Indexes the edges, cut into pieces of about `PIECE_M` metres so the tree prunes ray casts well.
    pub fn new(edges: &[Vec<V2>]) -> Self {
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
        let mut index = EdgeIndex {
            bodies: RigidBodySet::new(),
            colliders,
            broad_phase: BroadPhaseBvh::new(),
            narrow_phase: NarrowPhase::new(),
        };
        CollisionPipeline::new().step(
            0.0,
            &mut IslandManager::new(),
            &mut index.broad_phase,
            &mut index.narrow_phase,
            &mut index.bodies,
            &mut index.colliders,
            &(),
            &(),
        );
        index
    }

    /// Distance along each ray to the nearest edge (`range` when none is in range).
    pub fn cast_rays(&self, origin: V2, dirs: &[V2], range: f32, out: &mut [f32]) {
        let query = self.broad_phase.as_query_pipeline(
            self.narrow_phase.query_dispatcher(),
            &self.bodies,
            &self.colliders,
            QueryFilter::default(),
        );
        for (o, &d) in out.iter_mut().zip(dirs) {
            *o = query
                .cast_ray(&Ray::new(origin, d), range, true)
                .map_or(range, |h| h.1);
        }
    }
}
