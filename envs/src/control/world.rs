//! The rapier2d world every control task owns: the body/joint sets plus the pipeline objects,
//! created once per env and reused for every step. The envs allocate nothing per step (rapier's
//! own step still makes a few small allocations of its own).

use rapier2d::prelude::*;

pub(crate) struct PhysicsWorld {
    pub gravity: Vector,
    pub params: IntegrationParameters,
    pub bodies: RigidBodySet,
    pub colliders: ColliderSet,
    pub impulse_joints: ImpulseJointSet,
    multibody_joints: MultibodyJointSet,
    soft_bodies: SoftBodySet,
    pipeline: PhysicsPipeline,
    islands: IslandManager,
    broad_phase: BroadPhaseBvh,
    narrow_phase: NarrowPhase,
    ccd_solver: CCDSolver,
}

impl PhysicsWorld {
    /// An empty world stepping `dt` seconds with `substeps` solver substeps (rapier's
    /// `num_solver_iterations`: each one integrates and solves the joints once).
    pub fn new(gravity: f32, dt: f32, substeps: usize) -> Self {
        let params = IntegrationParameters {
            dt,
            num_solver_iterations: substeps.max(1),
            ..IntegrationParameters::default()
        };

        PhysicsWorld {
            gravity: Vector::new(0.0, -gravity),
            params,
            bodies: RigidBodySet::new(),
            colliders: ColliderSet::new(),
            impulse_joints: ImpulseJointSet::new(),
            multibody_joints: MultibodyJointSet::new(),
            soft_bodies: SoftBodySet::new(),
            pipeline: PhysicsPipeline::new(),
            islands: IslandManager::new(),
            broad_phase: BroadPhaseBvh::new(),
            narrow_phase: NarrowPhase::new(),
            ccd_solver: CCDSolver::new(),
        }
    }

    /// Tunes the solver for a world of bodies held by joints and no colliders: no CCD (nothing
    /// to sweep) and no stabilization pass. That pass removes the velocity the joints' position
    /// correction adds, and with it real kinetic energy: a free pendulum loses ~90% of its swing
    /// energy in 20 s with it, and keeps it within ~0.5 J of 5 J without.
    pub fn joints_only(mut self) -> Self {
        self.params.max_ccd_substeps = 0;
        self.params.num_internal_stabilization_iterations = 0;
        self
    }

    /// Advances the world by `params.dt`. Returns false when rapier quarantined a body or
    /// collider because its state went non-finite (a physics blow-up).
    pub fn step(&mut self) -> bool {
        self.pipeline.step(
            self.gravity,
            &self.params,
            &mut self.islands,
            &mut self.broad_phase,
            &mut self.narrow_phase,
            &mut self.bodies,
            &mut self.colliders,
            &mut self.impulse_joints,
            &mut self.multibody_joints,
            &mut self.soft_bodies,
            &mut self.ccd_solver,
            &(),
            &(),
        );
        self.pipeline.quarantine().is_empty()
    }

    /// Re-enables bodies rapier quarantined after a blow-up, so the next reset starts clean.
    pub fn enable_all(&mut self) {
        // Mutable access marks a body modified (more work in the next step): touch only the
        // disabled ones.
        loop {
            let disabled = self.bodies.iter().find(|(_, body)| !body.is_enabled());
            let Some((handle, _)) = disabled else { break };
            self.bodies[handle].set_enabled(true);
        }
    }

    /// Sets a body's full state (pose and velocities), waking it up.
    pub fn set_body_state(
        &mut self,
        handle: RigidBodyHandle,
        translation: Vector,
        angle: f32,
        linvel: Vector,
        angvel: f32,
    ) {
        let body = &mut self.bodies[handle];
        body.set_position(Pose::new(translation, angle), true);
        body.set_linvel(linvel, true);
        body.set_angvel(angvel, true);
        body.reset_forces(false);
        body.reset_torques(false);
    }
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
