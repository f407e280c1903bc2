//! Helpers of the control tasks over the shared rapier world ([`PhysicsWorld`]): bodies that
//! carry their mass directly, and angle wrapping.

use rapier2d::prelude::*;
use serde::{Deserialize, Serialize};

pub(crate) use crate::physics_world::PhysicsWorld;
use crate::physics_world::{PhysicsState, PhysicsStateRef};
use crate::{EnvError, EnvRng};

/// What every control task snapshots: its rapier world, RNG, step count and last finite state.
#[derive(Serialize)]
pub(crate) struct ControlStateRef<'a> {
    pub world: PhysicsStateRef<'a>,
    pub rng: &'a EnvRng,
    pub steps: u32,
    pub state: &'a [f32],
}

/// [`ControlStateRef`] read back.
#[derive(Deserialize)]
pub(crate) struct ControlState {
    pub world: PhysicsState,
    pub rng: EnvRng,
    pub steps: u32,
    pub state: Vec<f32>,
}

/// `Env::snapshot` and `Env::restore` of a control task from its `world`, `rng`, `steps` and
/// `state` fields.
macro_rules! control_snapshot {
    ($name:literal) => {
        fn snapshot(&self) -> Result<crate::EnvSnapshot, EnvError> {
            let state = super::world::ControlStateRef {
                world: self.world.state(),
                rng: &self.rng,
                steps: self.steps,
                state: &self.state,
            };
            crate::snapshot::encode($name, &state)
        }

        fn restore(&mut self, snapshot: &crate::EnvSnapshot) -> Result<(), EnvError> {
            let s: super::world::ControlState = crate::snapshot::decode($name, snapshot)?;
            let mismatch = |what: &str| crate::snapshot::mismatch($name, what);
            let state = s
                .state
                .as_slice()
                .try_into()
                .map_err(|_| mismatch("its state has the wrong length"))?;
            if !self.world.restore(s.world) {
                return Err(mismatch("its rapier world has other bodies or joints"));
            }
            self.state = state;
            self.rng = s.rng;
            self.steps = s.steps;
            Ok(())
        }
    };
}
pub(crate) use control_snapshot;

/// Checks the two settings every control task has: a time limit of at least one step and
/// 1..=64 solver substeps.
pub(crate) fn check_limits(
    env: &str,
    max_episode_steps: u32,
    solver_substeps: usize,
) -> Result<(), EnvError> {
    let invalid = |message: &str| EnvError::InvalidConfig {
        env: env.into(),
        message: message.into(),
    };
    if max_episode_steps == 0 {
        return Err(invalid("max_episode_steps must be at least 1"));
    }
    if !(1..=64).contains(&solver_substeps) {
        return Err(invalid("solver_substeps must be in 1..=64"));
    }
    Ok(())
}

/// Dynamic body whose mass and inertia are given directly (no collider needed to carry them).
/// Sleeping is off: an env body at rest must keep reacting to the next action.
pub(crate) fn massive_body(mass: f32, inertia: f32) -> RigidBodyBuilder {
    RigidBodyBuilder::dynamic()
        .additional_mass_properties(MassProperties::new(Vector::ZERO, mass, inertia))
        .can_sleep(false)
}

/// Wraps an angle to `[-pi, pi)`.
pub(crate) fn wrap_angle(a: f32) -> f32 {
    use std::f32::consts::{PI, TAU};
    (a + PI).rem_euclid(TAU) - PI
}
