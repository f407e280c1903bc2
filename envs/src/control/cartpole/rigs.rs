//! The rapier world of one or more cart-poles. Each cart-pole is its own island (two bodies,
//! one joint, no colliders), so a world holding many steps each exactly as a world holding it
//! alone would, bit for bit, while rapier's per-step overhead is paid once for all of them.

use rapier2d::prelude::*;
use serde::{Deserialize, Serialize};

use super::{CART_MASS, DT, GRAVITY, POLE_HALF_LENGTH, POLE_MASS};
use crate::control::world::{massive_body, PhysicsWorld};
use crate::physics_world::{BodyState, PhysicsState};

/// One cart-pole's bodies and hinge.
#[derive(Clone, Copy)]
struct Rig {
    cart: RigidBodyHandle,
    pole: RigidBodyHandle,
    hinge: ImpulseJointHandle,
}

/// A cart-pole's full physical state: both bodies and the hinge's impulses (the solver's
/// warm start), enough to continue its motion bit for bit in any world.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub(super) struct RigState {
    cart: BodyState,
    pole: BodyState,
    hinge_impulses: SpatialVector,
}

/// `len` cart-poles in one rapier world.
pub(super) struct Rigs {
    world: PhysicsWorld,
    rigs: Vec<Rig>,
}

impl Rigs {
    pub fn new(len: usize, solver_substeps: usize) -> Self {
        let mut world = PhysicsWorld::new(GRAVITY, DT, solver_substeps).joints_only();
        let rigs = (0..len).map(|_| add_rig(&mut world)).collect();
        Rigs { world, rigs }
    }

    pub fn len(&self) -> usize {
        self.rigs.len()
    }

    #[cfg(test)]
    pub fn world(&self) -> &PhysicsWorld {
        &self.world
    }

    /// Sets the horizontal force on cart `i` for the next step.
    pub fn push(&mut self, i: usize, force: f32) {
        let cart = &mut self.world.bodies[self.rigs[i].cart];
        cart.reset_forces(false);
        cart.add_force(Vector::new(force, 0.0), true);
    }

    /// Steps the world; `failed[i]` tells whether rig `i`'s physics blew up (rapier
    /// quarantined one of its bodies).
    pub fn step(&mut self, failed: &mut [bool]) {
        failed.iter_mut().for_each(|f| *f = false);
        if !self.world.step() {
            for &handle in self.world.quarantined_bodies() {
                let rig = self
                    .rigs
                    .iter()
                    .position(|r| r.cart == handle || r.pole == handle);
                if let Some(i) = rig {
                    failed[i] = true;
                }
            }
        }
    }

    /// `[x, x_dot, theta, theta_dot]` of rig `i`.
    pub fn state(&self, i: usize) -> [f32; 4] {
        let cart = &self.world.bodies[self.rigs[i].cart];
        let pole = &self.world.bodies[self.rigs[i].pole];
        [
            cart.translation().x,
            cart.linvel().x,
            -pole.rotation().angle(),
            -pole.angvel(),
        ]
    }

    /// Puts rig `i` in state `[x, x_dot, theta, theta_dot]`, re-enabling bodies rapier
    /// quarantined.
    pub fn set_state(&mut self, i: usize, [x, x_dot, theta, theta_dot]: [f32; 4]) {
        let Rig { cart, pole, .. } = self.rigs[i];
        self.world.enable(cart);
        self.world.enable(pole);
        self.world
            .set_body_state(cart, Vector::new(x, 0.0), 0.0, Vector::new(x_dot, 0.0), 0.0);
        // The pole turns clockwise (negative rapier angle) for positive theta.
        let (sin, cos) = theta.sin_cos();
        let com = Vector::new(x + POLE_HALF_LENGTH * sin, POLE_HALF_LENGTH * cos);
        let com_vel = Vector::new(
            x_dot + theta_dot * POLE_HALF_LENGTH * cos,
            -theta_dot * POLE_HALF_LENGTH * sin,
        );
        self.world
            .set_body_state(pole, com, -theta, com_vel, -theta_dot);
    }

    pub fn rig_state(&self, i: usize) -> RigState {
        let Rig { cart, pole, hinge } = self.rigs[i];
        RigState {
            cart: self.world.body_state(cart),
            pole: self.world.body_state(pole),
            hinge_impulses: self.world.joint_impulses(hinge),
        }
    }

    pub fn set_rig_state(&mut self, i: usize, state: &RigState) {
        let Rig { cart, pole, hinge } = self.rigs[i];
        self.world.set_exact_body_state(cart, &state.cart);
        self.world.set_exact_body_state(pole, &state.pole);
        self.world.set_joint_impulses(hinge, state.hinge_impulses);
    }

    /// Rig 0's state in a whole-world snapshot of a one-cart-pole world (what cartpole
    /// snapshots held before 2026-12-07).
    pub fn rig_state_in(&self, world: &PhysicsState) -> Option<RigState> {
        let Rig { cart, pole, hinge } = self.rigs[0];
        Some(RigState {
            cart: world.body_state(cart)?,
            pole: world.body_state(pole)?,
            hinge_impulses: world.joint_impulses(hinge)?,
        })
    }

    /// The physical floor of a step, for `carrot bench envs`: a small constant push on every
    /// cart (any rapier env must touch its bodies each step, which rapier tracks as a
    /// modification) and the world step; no state is read, checked or written.
    pub fn step_bare(&mut self) {
        for i in 0..self.rigs.len() {
            self.push(i, 1e-3);
        }
        self.world.step();
    }
}

/// Adds a cart-pole at rest, upright at x = 0.
fn add_rig(world: &mut PhysicsWorld) -> Rig {
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
    Rig { cart, pole, hinge }
}
