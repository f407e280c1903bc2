//! The ray ring: distances to the nearest vehicle or obstacle (rapier's query pipeline) and to
//! the nearest road edge (the map's edge scene), along rays fixed in the ego frame.

use super::geometry::{dir, rotate, V2};
use super::map::Map;
use super::physics::Physics;
use crate::physics_world::NearCollider;

#[derive(Clone, Debug)]
pub(crate) struct RaySensor {
    /// Ray directions in the ego frame, the first straight ahead, counter-clockwise.
    pub dirs: Vec<V2>,
    /// Last distances to objects and to road edges (m).
    pub objects: Vec<f32>,
    pub edges: Vec<f32>,
    /// Scratch: the directions rotated into the world frame, and the colliders in range.
    world_dirs: Vec<V2>,
    near: Vec<NearCollider>,
    range: f32,
    /// The ego pose (bits) `edges` were cast from: road edges are static, so while the ego
    /// stands still the edge distances are reused instead of cast again. The map only changes
    /// at an episode start, which calls [`RaySensor::forget_edges`].
    edges_from: Option<[u32; 3]>,
}

impl RaySensor {
    pub fn new(rays: usize, range: f32) -> Self {
        RaySensor {
            dirs: (0..rays)
                .map(|i| std::f32::consts::TAU * i as f32 / rays as f32)
                .map(dir)
                .collect(),
            objects: vec![0.0; rays],
            edges: vec![0.0; rays],
            world_dirs: Vec::new(),
            near: Vec::new(),
            range,
            edges_from: None,
        }
    }

    /// Drops the cached edge distances (a new episode, possibly on a new map).
    pub fn forget_edges(&mut self) {
        self.edges_from = None;
    }

    pub fn range(&self) -> f32 {
        self.range
    }

    /// Casts the ring from the ego at `pos` heading `yaw`.
    pub fn cast(&mut self, physics: &Physics, map: &Map, pos: V2, yaw: f32) {
        self.world_dirs.clear();
        self.world_dirs
            .extend(self.dirs.iter().map(|d| rotate(*d, yaw)));
        physics.cast_rays(
            pos,
            &self.world_dirs,
            self.range,
            &mut self.objects,
            &mut self.near,
        );
        let from = [pos.x.to_bits(), pos.y.to_bits(), yaw.to_bits()];
        if self.edges_from != Some(from) {
            map.edge_index
                .cast_rays(pos, &self.world_dirs, self.range, &mut self.edges);
            self.edges_from = Some(from);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::driving::{DrivingConfig, DrivingEnv, MapFamily};
    use crate::{env_rng, Env};
    use rand::RngExt;

    /// Through random driving with dense traffic on every map family, the ring's distances are
    /// rapier's query pipeline's, bit for bit.
    #[test]
    fn ring_matches_rapiers_query_pipeline_while_driving() {
        for family in MapFamily::ALL {
            let config = DrivingConfig {
                map: family,
                traffic: 30,
                ..DrivingConfig::default()
            };
            let mut env = DrivingEnv::new(config).unwrap();
            let mut obs = vec![0.0; env.observation_space().flat_dim()];
            let mut sig = vec![0.0; env.signal_spec().len()];
            let mut rng = env_rng(11);
            let rays = env.rays.dirs.len();
            let (mut want, mut got) = (vec![0.0; rays], vec![0.0; rays]);
            let mut object_hits = 0;
            for _ in 0..3000 {
                let action = [rng.random_range(-1.0..1.0), rng.random_range(-1.0..1.0)];
                if env.step(&action, &mut obs, &mut sig).done() {
                    env.reset(None, &mut obs);
                }
                let (pos, yaw) = (env.ego.pos, env.ego.yaw);
                let dirs: Vec<V2> = env.rays.dirs.iter().map(|d| rotate(*d, yaw)).collect();
                let range = env.rays.range();
                env.physics
                    .cast_rays_through_pipeline(pos, &dirs, range, &mut want);
                let bits = |xs: &[f32]| xs.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&env.rays.objects), bits(&want), "{family:?}: objects");
                object_hits += want.iter().filter(|&&d| d < range).count();
                env.map
                    .edge_index
                    .cast_rays_through_pipeline(pos, &dirs, range, &mut want);
                env.map.edge_index.cast_rays(pos, &dirs, range, &mut got);
                assert_eq!(bits(&got), bits(&want), "{family:?}: edges");
            }
            assert!(object_hits > 1000, "{family:?}: {object_hits} object hits");
        }
    }
}
