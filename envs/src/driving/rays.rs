//! The ray ring: distances to the nearest vehicle or obstacle (rapier's query pipeline) and to
//! the nearest road edge (the map's edge scene), along rays fixed in the ego frame.

use super::geometry::{dir, rotate, V2};
use super::map::Map;
use super::physics::Physics;

#[derive(Clone, Debug)]
pub(crate) struct RaySensor {
    /// Ray directions in the ego frame, the first straight ahead, counter-clockwise.
    pub dirs: Vec<V2>,
    /// Last distances to objects and to road edges (m).
    pub objects: Vec<f32>,
    pub edges: Vec<f32>,
    /// Scratch: the directions rotated into the world frame.
    world_dirs: Vec<V2>,
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
        physics.cast_rays(pos, &self.world_dirs, self.range, &mut self.objects);
        let from = [pos.x.to_bits(), pos.y.to_bits(), yaw.to_bits()];
        if self.edges_from != Some(from) {
            map.edge_index
                .cast_rays(pos, &self.world_dirs, self.range, &mut self.edges);
            self.edges_from = Some(from);
        }
    }
}
