//! The rapier2d world every env owns: the body, collider and joint sets plus the pipeline
//! objects, created once per env (or episode) and reused for every step. Shared by the control
//! tasks (bodies held by joints, under gravity) and the driving world (a top-down plane with
//! colliders, collision events and ray casts). Stepping allocates nothing of the env's own
//! (rapier's step still makes a few small allocations).

use rapier2d::parry::bounding_volume::{Aabb, BoundingVolume};
use rapier2d::prelude::*;
use serde::{Deserialize, Serialize};

/// A collider a ray ring may hit, with its box in the broad phase (see
/// [`PhysicsWorld::cast_rays`]).
#[derive(Clone, Copy, Debug)]
pub(crate) struct NearCollider {
    handle: ColliderHandle,
    aabb: Aabb,
}

/// Ray casts list the boxes within this distance (m) of the range, far above rounding.
const RAY_SLACK_M: f32 = 0.05;
/// A ray's hit within this distance (m) of another candidate's box may tie with it.
const RAY_TIE_M: f32 = 1e-3;

/// A ray prepared for parry's ray-box test, with the reciprocal of its direction computed once
/// per ray instead of once per box (the same value, so the same results).
pub(crate) struct SlabRay {
    origin: Vector,
    dir: Vector,
    inv_dir: Vector,
    /// Whether [`SlabRay::enters`] may take its branch-free form: a finite origin and, on both
    /// axes, a direction whose reciprocal is finite and non-zero.
    ordered: bool,
    /// Per axis, whether the ray runs toward larger coordinates (a box's near side is then
    /// its `mins`).
    forward: [bool; 2],
}

impl SlabRay {
    pub fn new(ray: &Ray) -> Self {
        let inv_dir = Vector::new(1.0 / ray.dir.x, 1.0 / ray.dir.y);
        let usable = |d: f32, inv: f32| d != 0.0 && inv.is_finite() && inv != 0.0;
        SlabRay {
            origin: ray.origin,
            dir: ray.dir,
            inv_dir,
            ordered: ray.origin.is_finite()
                && usable(ray.dir.x, inv_dir.x)
                && usable(ray.dir.y, inv_dir.y),
            forward: [inv_dir.x > 0.0, inv_dir.y > 0.0],
        }
    }

    /// Parry's `Aabb::cast_local_ray(ray, max_toi, solid = true)`, step for step.
    #[inline]
    pub fn entry(&self, aabb: &Aabb, max_toi: f32) -> Option<f32> {
        let mut tmin: f32 = 0.0;
        let mut tmax = max_toi;
        for i in 0..2 {
            let (o, d, inv) = (self.origin[i], self.dir[i], self.inv_dir[i]);
            let (lo, hi) = (aabb.mins[i], aabb.maxs[i]);
            if d == 0.0 {
                if o < lo || o > hi {
                    return None;
                }
            } else {
                let mut near = (lo - o) * inv;
                let mut far = (hi - o) * inv;
                if near > far {
                    std::mem::swap(&mut near, &mut far);
                }
                tmin = tmin.max(near);
                tmax = tmax.min(far);
                if tmin > tmax {
                    return None;
                }
            }
        }
        Some(tmin)
    }

    /// True when parry's tree traversal looks into a node with box `aabb` while the nearest
    /// hit so far is at `best`: `entry(aabb, best)` is some `t < best`.
    ///
    /// For an `ordered` ray and a box with `mins <= maxs`, the same answer without branches:
    /// every product is finite or infinite, never NaN, and on an axis the ray runs along
    /// backwards, `mins` gives the larger parameter (rounding is monotonic), so the near and
    /// far parameters are those `entry` ends up with after its swap (or, where it does not
    /// swap, equal to them). The early exit after the first axis changes nothing: later axes
    /// only raise `tmin` and lower `tmax`. Only the sign of a zero may differ, which no
    /// comparison sees.
    #[inline]
    pub fn enters(&self, aabb: &Aabb, best: f32) -> bool {
        if !self.ordered {
            return self.entry(aabb, best).is_some_and(|t| t < best);
        }
        let (o, inv) = (self.origin, self.inv_dir);
        let sides = |i: usize| {
            if self.forward[i] {
                (aabb.mins[i], aabb.maxs[i])
            } else {
                (aabb.maxs[i], aabb.mins[i])
            }
        };
        let ((near_x, far_x), (near_y, far_y)) = (sides(0), sides(1));
        // With no NaN about, a comparison picks what `max` and `min` would, without their
        // NaN handling (up to the sign of a zero, which no comparison sees).
        let max = |a: f32, b: f32| if a > b { a } else { b };
        let min = |a: f32, b: f32| if a < b { a } else { b };
        let tmin = max(max(0.0, (near_x - o.x) * inv.x), (near_y - o.y) * inv.y);
        let tmax = min(min(best, (far_x - o.x) * inv.x), (far_y - o.y) * inv.y);
        tmin <= tmax && tmin < best
    }
}

thread_local! {
    /// The pipeline every top-down world steps with on this thread (see
    /// [`PhysicsWorld::top_down`]), from [`PhysicsWorld::pipeline_with_joint_buffers`].
    static TOP_DOWN_PIPELINE: std::cell::RefCell<PhysicsPipeline> =
        std::cell::RefCell::new(PhysicsWorld::pipeline_with_joint_buffers());
}

pub(crate) struct PhysicsWorld {
    pub gravity: Vector,
    pub params: IntegrationParameters,
    pub bodies: RigidBodySet,
    pub colliders: ColliderSet,
    pub impulse_joints: ImpulseJointSet,
    multibody_joints: MultibodyJointSet,
    soft_bodies: SoftBodySet,
    /// This world's own pipeline; `None` for top-down worlds, which step with the thread's
    /// `TOP_DOWN_PIPELINE`.
    pipeline: Option<PhysicsPipeline>,
    islands: IslandManager,
    broad_phase: BroadPhaseBvh,
    narrow_phase: NarrowPhase,
    ccd_solver: CCDSolver,
    /// The bodies rapier quarantined in the last step, from whichever pipeline stepped it.
    quarantined: Vec<RigidBodyHandle>,
}

/// Everything a world carries from one step to the next (bodies, colliders, joints with their
/// warm-start impulses, islands, broad and narrow phases), for env snapshots. The pipeline is
/// scratch space and the integration parameters and gravity come from the env's config.
#[derive(Serialize)]
pub(crate) struct PhysicsStateRef<'a> {
    bodies: &'a RigidBodySet,
    colliders: &'a ColliderSet,
    impulse_joints: &'a ImpulseJointSet,
    multibody_joints: &'a MultibodyJointSet,
    soft_bodies: &'a SoftBodySet,
    islands: &'a IslandManager,
    broad_phase: &'a BroadPhaseBvh,
    narrow_phase: &'a NarrowPhase,
    ccd_solver: &'a CCDSolver,
}

/// [`PhysicsStateRef`] read back.
#[derive(Deserialize)]
pub(crate) struct PhysicsState {
    bodies: RigidBodySet,
    colliders: ColliderSet,
    impulse_joints: ImpulseJointSet,
    multibody_joints: MultibodyJointSet,
    soft_bodies: SoftBodySet,
    islands: IslandManager,
    broad_phase: BroadPhaseBvh,
    narrow_phase: NarrowPhase,
    ccd_solver: CCDSolver,
}

/// One body's pose and velocities exactly as rapier holds them (the rotation as its unit
/// complex number, not an angle), so that setting them back continues the motion bit for bit.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub(crate) struct BodyState {
    pose: Pose,
    linvel: Vector,
    angvel: f32,
}

impl BodyState {
    fn of(body: &RigidBody) -> Self {
        BodyState {
            pose: *body.position(),
            linvel: body.linvel(),
            angvel: body.angvel(),
        }
    }
}

impl PhysicsState {
    /// The state of body `handle` in this snapshot, if it has one.
    pub fn body_state(&self, handle: RigidBodyHandle) -> Option<BodyState> {
        self.bodies.get(handle).map(BodyState::of)
    }

    /// The impulses of joint `handle` in this snapshot, if it has one.
    pub fn joint_impulses(&self, handle: ImpulseJointHandle) -> Option<SpatialVector> {
        self.impulse_joints.get(handle).map(|j| j.impulses)
    }
}

impl PhysicsWorld {
    /// The world's state for a snapshot (see [`PhysicsStateRef`]).
    pub fn state(&self) -> PhysicsStateRef<'_> {
        PhysicsStateRef {
            bodies: &self.bodies,
            colliders: &self.colliders,
            impulse_joints: &self.impulse_joints,
            multibody_joints: &self.multibody_joints,
            soft_bodies: &self.soft_bodies,
            islands: &self.islands,
            broad_phase: &self.broad_phase,
            narrow_phase: &self.narrow_phase,
            ccd_solver: &self.ccd_solver,
        }
    }

    /// Puts the world in a snapshotted state taken from a world of the same layout; returns
    /// false (the world untouched) when the body or joint counts differ. The pipeline starts
    /// afresh: it memoizes selections against the sets it last stepped.
    pub fn restore(&mut self, state: PhysicsState) -> bool {
        if state.bodies.len() != self.bodies.len()
            || state.colliders.len() != self.colliders.len()
            || state.impulse_joints.len() != self.impulse_joints.len()
        {
            return false;
        }
        self.bodies = state.bodies;
        self.colliders = state.colliders;
        self.impulse_joints = state.impulse_joints;
        self.multibody_joints = state.multibody_joints;
        self.soft_bodies = state.soft_bodies;
        self.islands = state.islands;
        self.broad_phase = state.broad_phase;
        self.narrow_phase = state.narrow_phase;
        self.ccd_solver = state.ccd_solver;
        if self.pipeline.is_some() {
            self.pipeline = Some(PhysicsPipeline::new());
        }
        true
    }

    /// An empty world under gravity `gravity` (pointing down, m/s^2) stepping `dt` seconds with
    /// `substeps` solver substeps (rapier's `num_solver_iterations`: each one integrates and
    /// solves the joints once).
    pub fn new(gravity: f32, dt: f32, substeps: usize) -> Self {
        Self::with_gravity(Vector::new(0.0, -gravity), dt, substeps)
    }

    /// An empty top-down world (no gravity) stepping `dt` seconds with one solver iteration and
    /// a broad phase that is refitted but never re-optimized: with a few dozen colliders,
    /// re-optimizing every step costs more than it saves. Top-down worlds have no joints.
    ///
    /// All top-down worlds of a thread step with one pipeline (so do worlds made
    /// [`PhysicsWorld::with_thread_pipeline`]), so its buffers stay in cache while a thread
    /// steps many worlds in turn. A pipeline carries no state from one step to
    /// the next that changes the results of a world without joints: its per-step buffers are
    /// refilled before they are read, and its only memo across steps, the joint assembly, is
    /// empty for every such world (reused or rebuilt alike).
    pub fn top_down(dt: f32) -> Self {
        let mut world = Self::with_gravity(Vector::ZERO, dt, 1);
        world.broad_phase =
            BroadPhaseBvh::with_optimization_strategy(BvhOptimizationStrategy::None);
        world.with_thread_pipeline()
    }

    /// A pipeline that has stepped a scratch world of jointed bodies, so the solver's joint
    /// buffers hold an allocation. In a world without joints the solver still resets those
    /// buffers to length 0 every step, and glibc's AVX-512 `memset` of 0 bytes at an empty
    /// `Vec`'s dangling address (a masked store into the unmapped first page) costs a
    /// microcode assist each time: about 5% of a driving step. Results are unchanged (see
    /// [`PhysicsWorld::top_down`]).
    fn pipeline_with_joint_buffers() -> PhysicsPipeline {
        let mut scratch = Self::with_gravity(Vector::ZERO, 0.05, 1);
        let mut body = |x: f32, y: f32| {
            scratch.bodies.insert(
                RigidBodyBuilder::dynamic()
                    .translation(Vector::new(x, y))
                    .additional_mass_properties(MassProperties::new(Vector::ZERO, 1.0, 1.0)),
            )
        };
        // Body-disjoint joints, enough to fill a color the solver batches into SIMD builders
        // (64 and up), and one more joint sharing bodies with two of them, solved alone by the
        // scalar builders.
        let pairs: Vec<_> = (0..65)
            .map(|i| (body(3.0 * i as f32, 0.0), body(3.0 * i as f32, 1.0)))
            .collect();
        let joint = || FixedJointBuilder::new().local_anchor2(Vector::new(0.0, -1.0));
        for &(a, b) in &pairs {
            scratch.impulse_joints.insert(a, b, joint(), true);
        }
        scratch
            .impulse_joints
            .insert(pairs[0].1, pairs[1].0, joint(), true);
        scratch.step();
        scratch.pipeline.take().unwrap_or_default()
    }

    fn with_gravity(gravity: Vector, dt: f32, substeps: usize) -> Self {
        let params = IntegrationParameters {
            dt,
            num_solver_iterations: substeps.max(1),
            ..IntegrationParameters::default()
        };
        PhysicsWorld {
            gravity,
            params,
            bodies: RigidBodySet::new(),
            colliders: ColliderSet::new(),
            impulse_joints: ImpulseJointSet::new(),
            multibody_joints: MultibodyJointSet::new(),
            soft_bodies: SoftBodySet::new(),
            pipeline: Some(PhysicsPipeline::new()),
            islands: IslandManager::new(),
            broad_phase: BroadPhaseBvh::new(),
            narrow_phase: NarrowPhase::new(),
            ccd_solver: CCDSolver::new(),
            quarantined: Vec::new(),
        }
    }

    /// Steps with the pipeline every top-down world of this thread uses (see
    /// [`PhysicsWorld::top_down`]) instead of one of its own: for worlds without joints.
    pub fn with_thread_pipeline(mut self) -> Self {
        self.pipeline = None;
        self
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
        self.step_with_events(&())
    }

    /// [`PhysicsWorld::step`], reporting collision events to `events`.
    pub fn step_with_events(&mut self, events: &dyn EventHandler) -> bool {
        let PhysicsWorld {
            gravity,
            params,
            bodies,
            colliders,
            impulse_joints,
            multibody_joints,
            soft_bodies,
            pipeline,
            islands,
            broad_phase,
            narrow_phase,
            ccd_solver,
            quarantined,
        } = self;
        let mut step = |pipeline: &mut PhysicsPipeline| {
            pipeline.step(
                *gravity,
                params,
                islands,
                broad_phase,
                narrow_phase,
                bodies,
                colliders,
                impulse_joints,
                multibody_joints,
                soft_bodies,
                ccd_solver,
                &(),
                events,
            );
            let quarantine = pipeline.quarantine();
            quarantined.clear();
            quarantined.extend_from_slice(quarantine.bodies());
            quarantine.is_empty()
        };
        match pipeline {
            Some(own) => step(own),
            None => TOP_DOWN_PIPELINE.with_borrow_mut(step),
        }
    }

    /// Brings the broad and narrow phases up to date without advancing time (after placing
    /// bodies), so ray casts see them; contact changes are reported to `events`.
    pub fn refresh_queries(&mut self, events: &dyn EventHandler) {
        CollisionPipeline::new().step(
            self.params.prediction_distance(),
            &mut self.islands,
            &mut self.broad_phase,
            &mut self.narrow_phase,
            &mut self.bodies,
            &mut self.colliders,
            &(),
            events,
        );
    }

    /// Casts each ray from `origin` along `dirs` (unit vectors) against the colliders that
    /// `filter` keeps; writes the distance to the first hit, or `range` when none.
    ///
    /// Bit for bit what rapier's query pipeline answers, faster for a ring of short rays in a
    /// world of few colliders: the colliders whose broad-phase box is within `range` of
    /// `origin` are listed once (in `near`, reused), and each ray tests them in turn as the
    /// pipeline's tree traversal would: the box against the nearest hit so far, then the shape.
    /// Only the order differs, which matters only when two colliders are hit within a rounding
    /// error of each other: such a ray goes through the pipeline.
    pub fn cast_rays(
        &self,
        filter: QueryFilter,
        origin: Vector,
        dirs: &[Vector],
        range: f32,
        out: &mut [f32],
        near: &mut Vec<NearCollider>,
    ) {
        let query = self.broad_phase.as_query_pipeline(
            self.narrow_phase.query_dispatcher(),
            &self.bodies,
            &self.colliders,
            filter,
        );
        near.clear();
        for (handle, collider) in self.colliders.iter() {
            let Some(leaf) = query.bvh().leaf_node(handle.into_raw_parts().0) else {
                continue;
            };
            let aabb = leaf.aabb();
            let gap = (origin.clamp(aabb.mins, aabb.maxs) - origin).length();
            if gap <= range + RAY_SLACK_M && filter.test(&self.bodies, handle, collider) {
                near.push(NearCollider { handle, aabb });
            }
        }
        for (o, &d) in out.iter_mut().zip(dirs) {
            let ray = Ray::new(origin, d);
            let slabs = SlabRay::new(&ray);
            let mut best = range;
            let mut hit = None;
            for (k, c) in near.iter().enumerate() {
                if slabs.enters(&c.aabb, best) {
                    let collider = &self.colliders[c.handle];
                    let toi = collider
                        .shape()
                        .cast_ray(collider.position(), &ray, best, true);
                    if let Some(t) = toi.filter(|&t| t < best) {
                        best = t;
                        hit = Some(k);
                    }
                }
            }
            let tie = hit.is_some_and(|k| {
                let p = ray.point_at(best);
                near.iter()
                    .enumerate()
                    .any(|(j, c)| j != k && c.aabb.loosened(RAY_TIE_M).contains_local_point(p))
            });
            *o = if tie {
                query.cast_ray(&ray, range, true).map_or(range, |h| h.1)
            } else {
                best
            };
        }
    }

    /// [`PhysicsWorld::cast_rays`] through rapier's query pipeline alone, for tests.
    #[cfg(test)]
    pub fn cast_rays_through_pipeline(
        &self,
        filter: QueryFilter,
        origin: Vector,
        dirs: &[Vector],
        range: f32,
        out: &mut [f32],
    ) {
        let query = self.broad_phase.as_query_pipeline(
            self.narrow_phase.query_dispatcher(),
            &self.bodies,
            &self.colliders,
            filter,
        );
        for (o, &d) in out.iter_mut().zip(dirs) {
            *o = query
                .cast_ray(&Ray::new(origin, d), range, true)
                .map_or(range, |h| h.1);
        }
    }

    /// The bodies rapier quarantined in the last step (their state went non-finite).
    pub fn quarantined_bodies(&self) -> &[RigidBodyHandle] {
        &self.quarantined
    }

    /// Body `handle`'s pose and velocities (see [`BodyState`]).
    pub fn body_state(&self, handle: RigidBodyHandle) -> BodyState {
        BodyState::of(&self.bodies[handle])
    }

    /// Puts body `handle` back in a [`BodyState`], enabled and with no pending forces.
    pub fn set_exact_body_state(&mut self, handle: RigidBodyHandle, state: &BodyState) {
        self.enable(handle);
        let body = &mut self.bodies[handle];
        body.set_position(state.pose, true);
        body.set_linvel(state.linvel, true);
        body.set_angvel(state.angvel, true);
        body.reset_forces(false);
        body.reset_torques(false);
    }

    /// The impulses joint `handle` applied in the last step (the solver's warm start).
    pub fn joint_impulses(&self, handle: ImpulseJointHandle) -> SpatialVector {
        self.impulse_joints
            .get(handle)
            .map_or(SpatialVector::default(), |j| j.impulses)
    }

    pub fn set_joint_impulses(&mut self, handle: ImpulseJointHandle, impulses: SpatialVector) {
        if let Some(joint) = self.impulse_joints.get_mut(handle, false) {
            joint.impulses = impulses;
        }
    }

    /// Re-enables body `handle` if rapier quarantined it (touching it only then: mutable access
    /// marks a body modified, which is more work in the next step).
    pub fn enable(&mut self, handle: RigidBodyHandle) {
        if !self.bodies[handle].is_enabled() {
            self.bodies[handle].set_enabled(true);
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env_rng;
    use rand::RngExt;

    /// The branch-free box test answers as `entry` does, on random rays and boxes and on the
    /// edge cases: axis-aligned and nearly axis-aligned rays, boxes of zero width, boxes
    /// starting at the origin, zero and infinite `best`.
    #[test]
    fn slab_test_matches_entry() {
        let mut rng = env_rng(5);
        let mut pick = |choices: &[f32], lo: f32, hi: f32| {
            if rng.random_range(0..3) == 0 {
                choices[rng.random_range(0..choices.len())]
            } else {
                rng.random_range(lo..hi)
            }
        };
        let coords = [0.0, -0.0, 1.0, -1.0, 2.5];
        let dirs = [
            0.0,
            -0.0,
            1.0,
            -1.0,
            1e-30,
            -1e-30,
            1e-45,
            f32::MIN_POSITIVE,
        ];
        let bests = [0.0, 1.0, 2.5, f32::INFINITY];
        let (mut entered, mut ordered) = (0, 0);
        for _ in 0..200_000 {
            let origin = Vector::new(pick(&coords, -5.0, 5.0), pick(&coords, -5.0, 5.0));
            let dir = Vector::new(pick(&dirs, -1.0, 1.0), pick(&dirs, -1.0, 1.0));
            let (x, y) = (pick(&coords, -5.0, 5.0), pick(&coords, -5.0, 5.0));
            let (w, h) = (pick(&[0.0], 0.0, 3.0), pick(&[0.0], 0.0, 3.0));
            let aabb = Aabb::new(Vector::new(x, y), Vector::new(x + w, y + h));
            let best = pick(&bests, 0.0, 10.0);
            let slabs = SlabRay::new(&Ray::new(origin, dir));
            let want = slabs.entry(&aabb, best).is_some_and(|t| t < best);
            assert_eq!(
                slabs.enters(&aabb, best),
                want,
                "{origin} along {dir}, box {aabb:?}, best {best}"
            );
            entered += want as usize;
            ordered += slabs.ordered as usize;
        }
        assert!(entered > 5_000 && ordered > 50_000, "{entered} {ordered}");
    }
}
