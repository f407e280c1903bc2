//! Control-task envs sharing one rapier world. Each env's bodies and joints (its *rig*) form
//! their own island, with no colliders, so a world holding many rigs steps each exactly as a
//! world holding it alone would, bit for bit, while rapier's per-step overhead is paid once for
//! all of them. A VecEnv of such a task holds `envs_per_world` envs per world ([`worlds`]).

use std::ops::Range;

use rand::RngExt;
use rapier2d::prelude::*;
use serde::{Deserialize, Serialize};

use crate::control::world::{ControlState, PhysicsWorld};
use crate::physics_world::{BodyState, PhysicsState};
use crate::{env_rng, EnvBatch, EnvError, EnvRng, EnvSnapshot, VecEnv};

/// The handles of one env's bodies and joints.
pub(crate) trait Rig: Copy + Send {
    /// Adds a rig at rest in its starting pose. Rigs are added one after another into a
    /// fresh world, so rig 0 of any world has the handles a world of one rig has.
    fn add(world: &mut PhysicsWorld) -> Self;
    /// Its moving bodies.
    fn bodies(&self) -> &[RigidBodyHandle];
    /// Its joints.
    fn joints(&self) -> &[ImpulseJointHandle];

    /// A snapshot in a form of this task older than [`RigSnapshot`] and the whole-world form
    /// every task had before 2026-12-07, if `snapshot` is one; read by [`SharedRigs::restore`].
    fn older_snapshot(_snapshot: &EnvSnapshot) -> Option<RigSnapshot> {
        None
    }
}

/// A rig's full physical state, enough to continue its motion bit for bit in any world: its
/// bodies, and its joints' last impulses (a warm start only where `warmstart_joints` is set,
/// which rapier's default is not; kept so that a snapshot holds what the world holds).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct RigState {
    pub bodies: Vec<BodyState>,
    pub joint_impulses: Vec<SpatialVector>,
}

/// One env's episode: its RNG, clock and last finite state (reported again if the physics
/// blows up).
#[derive(Clone)]
pub(crate) struct Episode<const S: usize> {
    pub rng: EnvRng,
    pub steps: u32,
    pub state: [f32; S],
}

impl<const S: usize> Default for Episode<S> {
    fn default() -> Self {
        Episode {
            rng: env_rng(0),
            steps: 0,
            state: [0.0; S],
        }
    }
}

impl<const S: usize> Episode<S> {
    /// Starts an episode: the RNG reseeded when `seed` is given, the clock at zero; returns
    /// the RNG to draw the start from.
    pub fn restart(&mut self, seed: Option<u64>) -> &mut EnvRng {
        if let Some(seed) = seed {
            self.rng = env_rng(seed);
        }
        self.steps = 0;
        &mut self.rng
    }
}

/// `N` values drawn in turn, each uniform in `(-range, range)`: Gymnasium's start state of
/// cart-pole and acrobot.
pub(crate) fn uniform_start<const N: usize>(rng: &mut EnvRng, range: f32) -> [f32; N] {
    std::array::from_fn(|_| rng.random_range(-range..range))
}

/// One env's snapshot: its rig and its episode.
#[derive(Serialize, Deserialize)]
pub(crate) struct RigSnapshot {
    pub rig: RigState,
    pub rng: EnvRng,
    pub steps: u32,
    pub state: Vec<f32>,
}

/// `len` rigs of one kind in one rapier world.
pub(crate) struct SharedRigs<R> {
    world: PhysicsWorld,
    rigs: Vec<R>,
}

impl<R: Rig> SharedRigs<R> {
    /// `len` rigs in `world` (empty, its gravity and steps set).
    pub fn new(mut world: PhysicsWorld, len: usize) -> Self {
        let rigs = (0..len).map(|_| R::add(&mut world)).collect();
        SharedRigs { world, rigs }
    }

    pub fn len(&self) -> usize {
        self.rigs.len()
    }

    pub fn rig(&self, i: usize) -> R {
        self.rigs[i]
    }

    #[cfg(test)]
    pub fn world(&self) -> &PhysicsWorld {
        &self.world
    }

    pub fn world_mut(&mut self) -> &mut PhysicsWorld {
        &mut self.world
    }

    /// Body `h` of the world.
    pub fn body(&self, h: RigidBodyHandle) -> &RigidBody {
        &self.world.bodies[h]
    }

    pub fn body_mut(&mut self, h: RigidBodyHandle) -> &mut RigidBody {
        &mut self.world.bodies[h]
    }

    /// Re-enables rig `i`'s bodies where rapier quarantined them (before placing it anew).
    pub fn enable(&mut self, i: usize) {
        for &h in self.rigs[i].bodies() {
            self.world.enable(h);
        }
    }

    /// Steps the world; `failed[i]` tells whether rig `i`'s physics blew up (rapier
    /// quarantined one of its bodies).
    pub fn step(&mut self, failed: &mut [bool]) {
        failed.iter_mut().for_each(|f| *f = false);
        if !self.world.step() {
            for &handle in self.world.quarantined_bodies() {
                if let Some(i) = self.rigs.iter().position(|r| r.bodies().contains(&handle)) {
                    failed[i] = true;
                }
            }
        }
    }

    pub fn rig_state(&self, i: usize) -> RigState {
        let rig = &self.rigs[i];
        RigState {
            bodies: rig
                .bodies()
                .iter()
                .map(|&h| self.world.body_state(h))
                .collect(),
            joint_impulses: rig
                .joints()
                .iter()
                .map(|&h| self.world.joint_impulses(h))
                .collect(),
        }
    }

    /// Puts rig `i` in `state`; false (nothing changed) when `state` is another rig's kind.
    pub fn set_rig_state(&mut self, i: usize, state: &RigState) -> bool {
        let rig = self.rigs[i];
        if state.bodies.len() != rig.bodies().len()
            || state.joint_impulses.len() != rig.joints().len()
        {
            return false;
        }
        for (&h, body) in rig.bodies().iter().zip(&state.bodies) {
            self.world.set_exact_body_state(h, body);
        }
        for (&h, &impulses) in rig.joints().iter().zip(&state.joint_impulses) {
            self.world.set_joint_impulses(h, impulses);
        }
        true
    }

    /// Env `i`'s snapshot (task `name`): rig `i` and `episode`.
    pub fn snapshot<const S: usize>(
        &self,
        name: &str,
        i: usize,
        episode: &Episode<S>,
    ) -> Result<EnvSnapshot, EnvError> {
        let snapshot = RigSnapshot {
            rig: self.rig_state(i),
            rng: episode.rng.clone(),
            steps: episode.steps,
            state: episode.state.to_vec(),
        };
        crate::snapshot::encode(name, &snapshot)
    }

    /// Puts rig `i` back as `snapshot` (of task `name`) holds it and returns the episode.
    /// Snapshots of before 2026-12-07 held a one-env world whole, and some tasks had a form of
    /// their own since ([`Rig::older_snapshot`]); they still restore, so that older runs resume.
    pub fn restore<const S: usize>(
        &mut self,
        name: &str,
        i: usize,
        snapshot: &EnvSnapshot,
    ) -> Result<Episode<S>, EnvError> {
        let mismatch = |what: &str| crate::snapshot::mismatch(name, what);
        let s = match crate::snapshot::decode::<RigSnapshot>(name, snapshot) {
            Ok(s) => s,
            Err(err) => {
                if let Some(s) = R::older_snapshot(snapshot) {
                    s
                } else {
                    let Ok(s) = crate::snapshot::decode::<ControlState>(name, snapshot) else {
                        return Err(err);
                    };
                    let rig = self
                        .rig_state_in(&s.world)
                        .ok_or_else(|| mismatch("its rapier world has other bodies or joints"))?;
                    RigSnapshot {
                        rig,
                        rng: s.rng,
                        steps: s.steps,
                        state: s.state,
                    }
                }
            }
        };
        let state = s
            .state
            .as_slice()
            .try_into()
            .map_err(|_| mismatch("its state has the wrong length"))?;
        if !self.set_rig_state(i, &s.rig) {
            return Err(mismatch("its bodies or joints are another task's"));
        }
        Ok(Episode {
            rng: s.rng,
            steps: s.steps,
            state,
        })
    }

    /// Rig 0's state in a whole-world snapshot of a one-rig world (what the control tasks'
    /// snapshots held before they shared worlds).
    pub fn rig_state_in(&self, world: &PhysicsState) -> Option<RigState> {
        let rig = &self.rigs[0];
        Some(RigState {
            bodies: rig
                .bodies()
                .iter()
                .map(|&h| world.body_state(h))
                .collect::<Option<_>>()?,
            joint_impulses: rig
                .joints()
                .iter()
                .map(|&h| world.joint_impulses(h))
                .collect::<Option<_>>()?,
        })
    }
}

/// The envs each world of a VecEnv of `num_envs` envs holds, in order: `per_world` at a time
/// (at least 1), the last world the rest.
pub(crate) fn worlds(per_world: usize, num_envs: usize) -> impl Iterator<Item = Range<usize>> {
    let per_world = per_world.max(1);
    (0..num_envs)
        .step_by(per_world)
        .map(move |first| first..(first + per_world).min(num_envs))
}

/// A VecEnv of `num_envs` envs, `per_world` to a batch built by `batch(len)`.
pub(crate) fn grouped_vec<B: EnvBatch + 'static>(
    per_world: usize,
    num_envs: usize,
    batch: impl Fn(usize) -> Result<B, EnvError>,
) -> Result<VecEnv, EnvError> {
    let batches = worlds(per_world, num_envs)
        .map(|envs| batch(envs.len()).map(|b| Box::new(b) as Box<dyn EnvBatch>))
        .collect::<Result<_, _>>()?;
    VecEnv::from_batches(batches)
}

/// Checks `envs_per_world` (at least 1) and that a batch holds at least one env.
pub(crate) fn check_grouping(env: &str, envs_per_world: usize, len: usize) -> Result<(), EnvError> {
    let invalid = |message: &str| EnvError::InvalidConfig {
        env: env.into(),
        message: message.into(),
    };
    if envs_per_world == 0 {
        return Err(invalid("envs_per_world must be at least 1"));
    }
    if len == 0 {
        return Err(invalid("a batch needs at least one env"));
    }
    Ok(())
}

/// The `EnvBatch` methods a batch of rigs answers alike, from its `rigs` and `episodes` fields
/// (snapshots: [`SharedRigs::snapshot`]) and its spec fields (`spec_accessors!`); its own
/// `reset` and `step` follow in the macro's braces.
macro_rules! rig_batch {
    ($name:literal, $ty:ty, { $($methods:tt)* }) => {
        impl EnvBatch for $ty {
            fn num_envs(&self) -> usize {
                self.rigs.len()
            }

            spec_accessors!($name);

            fn episode_metric_names(&self) -> &[&'static str] {
                &[]
            }

            fn reset_signals(&self, _i: usize, signals: &mut [f32]) {
                signals.iter_mut().for_each(|x| *x = 0.0);
            }

            fn episode_metrics(&self, _i: usize, _out: &mut [f32]) {}

            fn snapshot(&self, i: usize) -> Result<EnvSnapshot, EnvError> {
                self.rigs.snapshot($name, i, &self.episodes[i])
            }

            fn restore(&mut self, i: usize, snapshot: &EnvSnapshot) -> Result<(), EnvError> {
                self.episodes[i] = self.rigs.restore($name, i, snapshot)?;
                Ok(())
            }

            $($methods)*
        }
    };
}
pub(crate) use rig_batch;

/// A lone env `$ty` holding a batch `$batch` of one in its `batch` field: its `new`,
/// `step_bare_world` and `config`, and `Env`, every method asking env 0.
macro_rules! env_from_batch_of_one {
    ($ty:ident, $batch:ty, $config:ty) => {
        impl $ty {
            pub fn new(config: $config) -> Result<Self, EnvError> {
                Ok($ty {
                    batch: <$batch>::new(config, 1)?,
                })
            }

            /// The physical floor of this env's step, for `carrot bench envs`: applies a small
            /// constant actuation (any rapier env must touch its bodies each step, which rapier
            /// tracks as a modification) and steps the world; no state is read, checked or
            /// written.
            pub fn step_bare_world(&mut self) {
                self.batch.step_bare_world();
            }

            pub fn config(&self) -> &$config {
                self.batch.config()
            }
        }

        impl $crate::Env for $ty {
            fn name(&self) -> &'static str {
                $crate::EnvBatch::name(&self.batch)
            }

            fn observation_space(&self) -> &$crate::Space {
                $crate::EnvBatch::observation_space(&self.batch)
            }

            fn action_space(&self) -> &$crate::Space {
                $crate::EnvBatch::action_space(&self.batch)
            }

            fn signal_spec(&self) -> &$crate::SignalSpec {
                $crate::EnvBatch::signal_spec(&self.batch)
            }

            fn reset(&mut self, seed: Option<u64>, obs: &mut [f32]) {
                $crate::EnvBatch::reset(&mut self.batch, 0, seed, obs);
            }

            fn step(
                &mut self,
                action: &[f32],
                obs: &mut [f32],
                signals: &mut [f32],
            ) -> $crate::StepOutcome {
                let mut outcome = [$crate::StepOutcome::default()];
                $crate::EnvBatch::step(&mut self.batch, action, obs, signals, &mut outcome);
                outcome[0]
            }

            fn snapshot(&self) -> Result<$crate::EnvSnapshot, $crate::EnvError> {
                $crate::EnvBatch::snapshot(&self.batch, 0)
            }

            fn restore(&mut self, snapshot: &$crate::EnvSnapshot) -> Result<(), $crate::EnvError> {
                $crate::EnvBatch::restore(&mut self.batch, 0, snapshot)
            }
        }
    };
}
pub(crate) use env_from_batch_of_one;

/// For a task config `$config` with `max_episode_steps`, `solver_substeps` and
/// `envs_per_world` whose envs share worlds as `$batch`: its `worlds` and `check`, and the
/// task's `build_vec`.
macro_rules! grouped_config {
    ($name:literal, $config:ty, $batch:ty) => {
        impl $config {
            /// The envs each rapier world of a VecEnv of `num_envs` envs holds, in order:
            /// `envs_per_world` at a time (at least 1), the last world the rest.
            pub fn worlds(&self, num_envs: usize) -> impl Iterator<Item = std::ops::Range<usize>> {
                super::rigs::worlds(self.envs_per_world, num_envs)
            }

            fn check(&self, len: usize) -> Result<(), EnvError> {
                super::world::check_limits($name, self.max_episode_steps, self.solver_substeps)?;
                super::rigs::check_grouping($name, self.envs_per_world, len)
            }
        }

        /// A VecEnv of `num_envs` envs, `config.envs_per_world` to a rapier world.
        pub(crate) fn build_vec(config: &$config, num_envs: usize) -> Result<VecEnv, EnvError> {
            config.check(1)?;
            super::rigs::grouped_vec(config.envs_per_world, num_envs, |len| {
                <$batch>::new(config.clone(), len)
            })
        }
    };
}
pub(crate) use grouped_config;

#[cfg(test)]
pub(crate) mod test_support {
    use super::*;
    use crate::control::world::ControlStateRef;
    use crate::StepOutcome;

    /// Env 0 of `rigs` as snapshots held it before 2026-12-07: its whole one-env world.
    pub fn whole_world_snapshot<R: Rig, const S: usize>(
        name: &str,
        rigs: &SharedRigs<R>,
        episode: &Episode<S>,
    ) -> EnvSnapshot {
        let old_form = ControlStateRef {
            world: rigs.world.state(),
            rng: &episode.rng,
            steps: episode.steps,
            state: &episode.state,
        };
        crate::snapshot::encode(name, &old_form).unwrap()
    }

    /// Steps every env of `batch` `steps` times with the same actions (0 or 1, alternating
    /// every third step), resetting ended envs; returns the observations' bits.
    fn run(batch: &mut dyn EnvBatch, steps: usize) -> Vec<u32> {
        let n = batch.num_envs();
        let d = batch.observation_space().flat_dim();
        let (mut obs, mut signals) = (vec![0.0; d * n], vec![0.0; batch.signal_spec().len() * n]);
        let mut outcomes = vec![StepOutcome::default(); n];
        let mut out = Vec::new();
        for t in 0..steps {
            let actions = vec![((t / 3) % 2) as f32; n];
            batch.step(&actions, &mut obs, &mut signals, &mut outcomes);
            for (i, o) in outcomes.iter().enumerate() {
                if o.done() {
                    batch.reset(i, None, &mut obs[d * i..d * (i + 1)]);
                }
            }
            out.extend(obs.iter().map(|v| v.to_bits()));
        }
        out
    }

    /// A mid-episode snapshot in an older form (`old_form` of a one-env batch), restored as
    /// env 1 of a two-env world, continues as the original does, to the same snapshot.
    pub fn check_older_snapshot_restores<B: EnvBatch>(
        make: impl Fn(usize) -> B,
        old_form: impl Fn(&B) -> EnvSnapshot,
    ) {
        let mut original = make(1);
        let d = original.observation_space().flat_dim();
        original.reset(0, Some(3), &mut vec![0.0; d]);
        run(&mut original, 23);
        let snapshot = old_form(&original);
        let mut shared = make(2);
        shared.reset(0, Some(8), &mut vec![0.0; d]);
        shared.restore(1, &snapshot).unwrap();
        let got = run(&mut shared, 300);
        let want = run(&mut original, 300);
        let env1: Vec<u32> = got.chunks(2 * d).flat_map(|c| c[d..].to_vec()).collect();
        assert!(
            env1 == want,
            "{}: the restored env diverges",
            original.name()
        );
        let other = crate::snapshot::encode("grid_world", &[1.0f32]).unwrap();
        let err = shared.restore(0, &other).unwrap_err().to_string();
        assert!(err.contains(original.name()), "{err}");
    }
}
