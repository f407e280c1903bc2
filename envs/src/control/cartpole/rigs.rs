//! The rig of one cart-pole: two bodies and one hinge, no colliders, so cart-poles share rapier
//! worlds as the other jointed tasks do ([`SharedRigs`]).

use rapier2d::prelude::*;
use serde::Deserialize;

use super::{CART_MASS, POLE_HALF_LENGTH, POLE_MASS};
use crate::control::rigs::{Rig, RigSnapshot, RigState, SharedRigs};
use crate::control::world::{massive_body, PhysicsWorld};
use crate::physics_world::BodyState;
use crate::{EnvRng, EnvSnapshot};

/// One cart-pole's bodies (cart, pole) and hinge.
#[derive(Clone, Copy)]
pub(super) struct CartPoleRig {
    bodies: [RigidBodyHandle; 2],
    hinge: [ImpulseJointHandle; 1],
}

impl Rig for CartPoleRig {
    /// A cart-pole at rest, upright at x = 0.
    fn add(world: &mut PhysicsWorld) -> Self {
        let cart = world.bodies.insert(
            // The cart's inertia is irrelevant: its rotation is locked.
            massive_body(CART_MASS, 1.0)
                .enabled_translations(true, false)
                .lock_rotations(),
        );
        let pole_inertia = POLE_MASS * (2.0 * POLE_HALF_LENGTH).powi(2) / 12.0;
        let pole = world.bodies.insert(
            massive_body(POLE_MASS, pole_inertia).translation(Vector::new(0.0, POLE_HALF_LENGTH)),
        );
        let hinge = RevoluteJointBuilder::new()
            .local_anchor1(Vector::ZERO)
            .local_anchor2(Vector::new(0.0, -POLE_HALF_LENGTH))
            .contacts_enabled(false);
        let hinge = world.impulse_joints.insert(cart, pole, hinge, true);
        CartPoleRig {
            bodies: [cart, pole],
            hinge: [hinge],
        }
    }

    fn bodies(&self) -> &[RigidBodyHandle] {
        &self.bodies
    }

    fn joints(&self) -> &[ImpulseJointHandle] {
        &self.hinge
    }

    /// The form cart-pole snapshots had on 2026-12-07, named fields.
    fn older_snapshot(snapshot: &EnvSnapshot) -> Option<RigSnapshot> {
        let s = crate::snapshot::decode::<NamedSnapshot>("cartpole", snapshot).ok()?;
        Some(RigSnapshot {
            rig: RigState {
                bodies: vec![s.rig.cart, s.rig.pole],
                joint_impulses: vec![s.rig.hinge_impulses],
            },
            rng: s.episode.rng,
            steps: s.episode.steps,
            state: s.episode.state.to_vec(),
        })
    }
}

/// A cart-pole snapshot as written on 2026-12-07.
#[derive(Deserialize)]
struct NamedSnapshot {
    rig: NamedRig,
    episode: NamedEpisode,
}

#[derive(Deserialize)]
struct NamedRig {
    cart: BodyState,
    pole: BodyState,
    hinge_impulses: SpatialVector,
}

#[derive(Deserialize)]
struct NamedEpisode {
    rng: EnvRng,
    steps: u32,
    state: [f32; 4],
}

impl SharedRigs<CartPoleRig> {
    /// Sets the horizontal force on cart `i` for the next step.
    pub fn push(&mut self, i: usize, force: f32) {
        let cart = self.body_mut(self.rig(i).bodies[0]);
        cart.reset_forces(false);
        cart.add_force(Vector::new(force, 0.0), true);
    }

    /// `[x, x_dot, theta, theta_dot]` of rig `i`.
    pub fn cart_pole_state(&self, i: usize) -> [f32; 4] {
        let [cart, pole] = self.rig(i).bodies;
        let (cart, pole) = (self.body(cart), self.body(pole));
        [
            cart.translation().x,
            cart.linvel().x,
            -pole.rotation().angle(),
            -pole.angvel(),
        ]
    }

    /// Puts rig `i` in state `[x, x_dot, theta, theta_dot]`, re-enabling bodies rapier
    /// quarantined.
    pub fn set_cart_pole_state(&mut self, i: usize, [x, x_dot, theta, theta_dot]: [f32; 4]) {
        self.enable(i);
        let [cart, pole] = self.rig(i).bodies;
        let world = self.world_mut();
        world.set_body_state(cart, Vector::new(x, 0.0), 0.0, Vector::new(x_dot, 0.0), 0.0);
        // The pole turns clockwise (negative rapier angle) for positive theta.
        let (sin, cos) = theta.sin_cos();
        let com = Vector::new(x + POLE_HALF_LENGTH * sin, POLE_HALF_LENGTH * cos);
        let com_vel = Vector::new(
            x_dot + theta_dot * POLE_HALF_LENGTH * cos,
            -theta_dot * POLE_HALF_LENGTH * sin,
        );
        world.set_body_state(pole, com, -theta, com_vel, -theta_dot);
    }

    /// The physical floor of a step, for `carrot bench envs`: a small constant push on every
    /// cart (any rapier env must touch its bodies each step, which rapier tracks as a
    /// modification) and the world step; no state is read, checked or written.
    pub fn step_bare(&mut self) {
        for i in 0..self.len() {
            self.push(i, 1e-3);
        }
        self.world_mut().step();
    }
}

/// Env 0 of `rigs` in the form cart-pole snapshots had on 2026-12-07.
#[cfg(test)]
pub(super) fn named_snapshot_for_tests(
    rigs: &SharedRigs<CartPoleRig>,
    episode: &crate::control::rigs::Episode<4>,
) -> EnvSnapshot {
    #[derive(serde::Serialize)]
    struct Named<'a> {
        rig: Rig,
        episode: Ep<'a>,
    }
    #[derive(serde::Serialize)]
    struct Rig {
        cart: BodyState,
        pole: BodyState,
        hinge_impulses: SpatialVector,
    }
    #[derive(serde::Serialize)]
    struct Ep<'a> {
        rng: &'a EnvRng,
        steps: u32,
        state: [f32; 4],
    }
    let [cart, pole] = rigs.rig(0).bodies;
    let world = rigs.world();
    let named = Named {
        rig: Rig {
            cart: world.body_state(cart),
            pole: world.body_state(pole),
            hinge_impulses: world.joint_impulses(rigs.rig(0).hinge[0]),
        },
        episode: Ep {
            rng: &episode.rng,
            steps: episode.steps,
            state: episode.state,
        },
    };
    crate::snapshot::encode("cartpole", &named).unwrap()
}
