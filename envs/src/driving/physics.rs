//! The rapier world of one episode (a [`PhysicsWorld`] seen from the top): the ego (a dynamic body pushed by tire forces), traffic
//! (kinematic bodies moved by their drivers), parked cars and obstacles (fixed colliders).
//! Road edges live in their own query-only scene (`edges`). Collisions of the ego are
//! read from rapier's collision events; the ray ring uses rapier's query pipeline.

use std::sync::atomic::{AtomicBool, Ordering};

use rapier2d::prelude::*;

use super::geometry::V2;
use crate::physics_world::{NearCollider, PhysicsWorld};

const TAG_EGO: u128 = 1;
const TAG_VEHICLE: u128 = 2;
const TAG_STATIC: u128 = 3;

pub const GROUP_VEHICLE: Group = Group::GROUP_1;
pub const GROUP_STATIC: Group = Group::GROUP_2;

/// Records which kinds of collision the ego started during a physics step.
#[derive(Default)]
pub struct CollisionFlags {
    pub vehicle: AtomicBool,
    pub obstacle: AtomicBool,
}

impl EventHandler for CollisionFlags {
    fn handle_collision_event(
        &self,
        _bodies: &RigidBodySet,
        colliders: &ColliderSet,
        event: CollisionEvent,
        _contact_pair: Option<&ContactPair>,
    ) {
        if let CollisionEvent::Started(a, b, _) = event {
            let tag = |h| colliders.get(h).map_or(0, |c: &Collider| c.user_data);
            let (ta, tb) = (tag(a), tag(b));
            let other = if ta == TAG_EGO {
                tb
            } else if tb == TAG_EGO {
                ta
            } else {
                return;
            };
            match other {
                TAG_VEHICLE => self.vehicle.store(true, Ordering::Relaxed),
                TAG_STATIC => self.obstacle.store(true, Ordering::Relaxed),
                _ => {}
            }
        }
    }

    fn handle_contact_force_event(
        &self,
        _dt: Real,
        _bodies: &RigidBodySet,
        _colliders: &ColliderSet,
        _contact_pair: &ContactPair,
        _total_force_magnitude: Real,
    ) {
    }

    fn handle_soft_body_tear_event(&self, _soft_bodies: &SoftBodySet, _event: &SoftBodyTearEvent) {}
}

/// The episode's rapier world with the ego's handle and its collision flags.
pub struct Physics {
    world: PhysicsWorld,
    pub ego: RigidBodyHandle,
    pub events: CollisionFlags,
}

fn solid_groups(member: Group) -> InteractionGroups {
    InteractionGroups::new(
        member,
        GROUP_VEHICLE | GROUP_STATIC,
        InteractionTestMode::And,
    )
}

impl Physics {
    /// An empty world with the ego at `pos`/`yaw`; `dt` is the physics sub-step.
    pub fn new(dt: f32, pos: V2, yaw: f32, half: V2, mass: f32, yaw_inertia: f32) -> Self {
        let mut world = PhysicsWorld::top_down(dt);
        let (bodies, colliders) = (&mut world.bodies, &mut world.colliders);
        let ego = bodies.insert(
            RigidBodyBuilder::dynamic()
                .pose(Pose::new(pos, yaw))
                .additional_mass_properties(MassProperties::new(V2::ZERO, mass, yaw_inertia))
                .can_sleep(false),
        );
        colliders.insert_with_parent(
            ColliderBuilder::cuboid(half.x, half.y)
                .density(0.0)
                .friction(0.3)
                .user_data(TAG_EGO)
                .collision_groups(solid_groups(GROUP_VEHICLE))
                .active_events(ActiveEvents::COLLISION_EVENTS),
            ego,
            bodies,
        );
        Physics {
            world,
            ego,
            events: CollisionFlags::default(),
        }
    }

    /// A traffic vehicle: a kinematic body its driver moves.
    pub fn add_vehicle(&mut self, pos: V2, yaw: f32, half: V2) -> RigidBodyHandle {
        let h = self.world.bodies.insert(
            RigidBodyBuilder::kinematic_position_based()
                .pose(Pose::new(pos, yaw))
                .can_sleep(false),
        );
        self.world.colliders.insert_with_parent(
            ColliderBuilder::cuboid(half.x, half.y)
                .user_data(TAG_VEHICLE)
                .collision_groups(solid_groups(GROUP_VEHICLE)),
            h,
            &mut self.world.bodies,
        );
        h
    }

    /// A parked car or obstacle: a fixed box.
    pub fn add_static_box(&mut self, pos: V2, yaw: f32, half: V2) {
        self.world.colliders.insert(
            ColliderBuilder::cuboid(half.x, half.y)
                .position(Pose::new(pos, yaw))
                .user_data(TAG_STATIC)
                .collision_groups(solid_groups(GROUP_STATIC)),
        );
    }

    pub fn set_vehicle_pose(&mut self, h: RigidBodyHandle, pos: V2, yaw: f32) {
        if let Some(b) = self.world.bodies.get_mut(h) {
            b.set_next_kinematic_position(Pose::new(pos, yaw));
        }
    }

    /// Takes a traffic vehicle's body out of the simulation or puts it back, at `pos`/`yaw`
    /// (see `TRAFFIC_REACH_MARGIN_M`). Rapier drops a disabled body's collider from its broad
    /// phase, so a vehicle out of the ego's reach costs nothing in a step.
    pub fn set_vehicle_simulated(
        &mut self,
        h: RigidBodyHandle,
        simulated: bool,
        pos: V2,
        yaw: f32,
    ) {
        if let Some(b) = self.world.bodies.get_mut(h) {
            if simulated {
                b.set_enabled(true);
                b.set_position(Pose::new(pos, yaw), true);
            } else {
                b.set_enabled(false);
            }
        }
    }

    /// Teleports a kinematic vehicle (respawn), without sweeping through the world.
    pub fn place_vehicle(&mut self, h: RigidBodyHandle, pos: V2, yaw: f32) {
        if let Some(b) = self.world.bodies.get_mut(h) {
            b.set_position(Pose::new(pos, yaw), true);
        }
    }

    /// Ego pose `(position, yaw)` and world velocity `(linear, angular)`.
    pub fn ego_state(&self) -> (V2, f32, V2, f32) {
        let b = &self.world.bodies[self.ego];
        (
            b.translation(),
            b.rotation().angle(),
            b.linvel(),
            b.angvel(),
        )
    }

    pub fn set_ego_state(&mut self, pos: V2, yaw: f32, vel: V2, yaw_rate: f32) {
        let b = &mut self.world.bodies[self.ego];
        b.set_position(Pose::new(pos, yaw), true);
        b.set_linvel(vel, true);
        b.set_angvel(yaw_rate, true);
    }

    /// Changes the ego's velocity through an impulse (the tire forces over one sub-step).
    pub fn push_ego(&mut self, dv: V2, dyaw_rate: f32, mass: f32, yaw_inertia: f32) {
        let b = &mut self.world.bodies[self.ego];
        b.apply_impulse(dv * mass, true);
        b.apply_torque_impulse(dyaw_rate * yaw_inertia, true);
    }

    pub fn step(&mut self) {
        self.world.step_with_events(&self.events);
    }

    /// Brings the broad phase up to date without advancing time (after placing bodies), so
    /// ray casts see them. Collision events from this refresh are discarded.
    pub fn refresh_queries(&mut self) {
        self.world.refresh_queries(&self.events);
        self.take_collisions();
    }

    /// Takes the collision flags set since the last call.
    pub fn take_collisions(&mut self) -> (bool, bool) {
        (
            self.events.vehicle.swap(false, Ordering::Relaxed),
            self.events.obstacle.swap(false, Ordering::Relaxed),
        )
    }

    /// Distance along each ray to the nearest vehicle or obstacle (`range` when none);
    /// `near` is scratch space.
    pub fn cast_rays(
        &self,
        origin: V2,
        dirs: &[V2],
        range: f32,
        out: &mut [f32],
        near: &mut Vec<NearCollider>,
    ) {
        let filter = QueryFilter::default().exclude_rigid_body(self.ego);
        self.world.cast_rays(filter, origin, dirs, range, out, near);
    }

    /// [`Physics::cast_rays`] through rapier's query pipeline alone, for tests.
    #[cfg(test)]
    pub fn cast_rays_through_pipeline(&self, origin: V2, dirs: &[V2], range: f32, out: &mut [f32]) {
        let filter = QueryFilter::default().exclude_rigid_body(self.ego);
        self.world
            .cast_rays_through_pipeline(filter, origin, dirs, range, out);
    }
}

#[cfg(test)]
mod tests {
    use crate::driving::{DrivingConfig, DrivingEnv, MapFamily};
    use crate::{env_rng, Env};
    use rand::RngExt;

    /// The observations and signals of `steps` steps of an env per seed, the envs stepped in
    /// turn on this thread (sharing its pipeline); random actions, a reset after each episode.
    /// `reach` overrides how far from the ego traffic takes part in the physics; the second
    /// result counts the vehicle-steps spent out of it.
    fn trace_with(
        config: &DrivingConfig,
        seeds: &[u64],
        steps: usize,
        reach: Option<f32>,
    ) -> (Vec<Vec<u32>>, usize) {
        let mut envs: Vec<_> = seeds
            .iter()
            .map(|_| DrivingEnv::new(config.clone()).unwrap())
            .collect();
        if let Some(reach) = reach {
            envs.iter_mut().for_each(|e| e.traffic_reach = reach);
        }
        let mut rngs: Vec<_> = seeds.iter().map(|&s| env_rng(100 + s)).collect();
        let mut obs = vec![0.0; envs[0].observation_space().flat_dim()];
        let mut sig = vec![0.0; envs[0].signal_spec().len()];
        for (env, &seed) in envs.iter_mut().zip(seeds) {
            env.reset(Some(seed), &mut obs);
        }
        let mut traces = vec![Vec::new(); seeds.len()];
        let mut out_of_physics = 0;
        for _ in 0..steps {
            for ((env, rng), trace) in envs.iter_mut().zip(&mut rngs).zip(&mut traces) {
                let action = [rng.random_range(-1.0..1.0), rng.random_range(-1.0..1.0)];
                if env.step(&action, &mut obs, &mut sig).done() {
                    env.reset(None, &mut obs);
                }
                out_of_physics += env.actors.traffic.iter().filter(|t| !t.simulated).count();
                trace.extend(obs.iter().chain(&sig).map(|x| x.to_bits()));
            }
        }
        (traces, out_of_physics)
    }

    fn trace(seeds: &[u64], steps: usize) -> Vec<Vec<u32>> {
        let config = DrivingConfig {
            traffic: 30,
            ..DrivingConfig::default()
        };
        trace_with(&config, seeds, steps, None).0
    }

    /// Worlds stepped in turn on one thread, sharing its pipeline, go exactly as each does
    /// stepped alone.
    #[test]
    fn worlds_sharing_the_threads_pipeline_step_as_alone() {
        let seeds = [0, 1, 2];
        let together = trace(&seeds, 1500);
        for (&seed, want) in seeds.iter().zip(&together) {
            assert!(trace(&[seed], 1500)[0] == *want, "seed {seed}");
        }
    }

    /// Traffic out of the ego's reach leaves the physics without changing a bit of what the
    /// env reports: every family, dense traffic, crashes and resets included. With a reach
    /// just beyond the ray range, vehicles out of the physics come within the rays' reach
    /// (the range plus a box) during a step, which the env must catch before casting.
    #[test]
    fn traffic_out_of_reach_leaves_the_physics_without_changing_a_bit() {
        for map in [MapFamily::Town, MapFamily::Rural, MapFamily::Highway] {
            let config = DrivingConfig {
                map,
                traffic: 30,
                ..DrivingConfig::default()
            };
            let seeds = [0, 1];
            let (all, none_out) = trace_with(&config, &seeds, 1000, Some(f32::INFINITY));
            assert_eq!(none_out, 0);
            let (default, out) = trace_with(&config, &seeds, 1000, None);
            assert!(
                out > 1000 * 10,
                "{map:?}: only {out} vehicle-steps out of the physics"
            );
            assert!(
                default == all,
                "{map:?}: the default reach changed the trace"
            );
            let tight = config.ray_range_m + 0.5;
            let (tight_trace, _) = trace_with(&config, &seeds, 1000, Some(tight));
            assert!(
                tight_trace == all,
                "{map:?}: a reach of {tight} m changed the trace"
            );
        }
    }
}
