//! Toy tasks without physics: exact, tiny and fast test beds for reward-learning methods.

mod grid_world;

pub use grid_world::{GridWorld, GridWorldConfig};
