//! Helpers of the control tasks over the shared rapier world ([`PhysicsWorld`]): bodies that
//! carry their mass directly, and angle wrapping.

use rapier2d::prelude::*;

pub(crate) use crate::physics_world::PhysicsWorld;

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
