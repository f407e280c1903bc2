//! `check_env` passes every registered env and names the right check for deliberately broken
//! toy envs.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};

use carrot_envs::check::{check_env, check_env_config, Check, CheckOptions, EnvCheckError};
use carrot_envs::driving::{DrivingConfig, MapFamily};
use carrot_envs::{env_rng, Env, EnvConfig, EnvRng, SignalInfo, SignalSpec, Space, StepOutcome};
use common::{all_configs, label};
use rand::RngExt;

#[test]
fn every_registered_env_passes() {
    let driving = EnvConfig::Driving(DrivingConfig {
        map: MapFamily::Town,
        traffic: 4,
        route_min_m: 100.0,
        route_max_m: 200.0,
        ..DrivingConfig::default()
    });
    for config in all_configs().into_iter().chain([driving]) {
        // 1500 steps end a control task's rollout mid-episode (mountain car's episodes are
        // 200 steps), so the reseeding check resets a used env mid-episode.
        let steps = if matches!(config, EnvConfig::Driving(_)) {
            2000
        } else {
            1500
        };
        let options = CheckOptions {
            seed: 3,
            random_steps: steps,
            ..CheckOptions::default()
        };
        let report = check_env_config(&config, &options)
            .unwrap_or_else(|e| panic!("{}: {e}", label(&config)));
        assert_eq!(report.env, config.id());
        assert!(report.steps >= 4 * steps, "{report:?}");
        assert!(report.seed_changes_trajectory, "{report:?}");
        if !matches!(config, EnvConfig::GridWorld(_)) {
            // The grid world always starts in the corner; every other env draws its start.
            assert!(report.random_reset, "{report:?}");
            assert!(
                report.episodes >= 1 && report.stepped_after_done,
                "{report:?}"
            );
        }
    }
}

/// Found by `check_env`: `reset(Some(seed))` on a discrete mountain car 100 steps into an
/// episode did not replay the seeded trajectory (it diverged at step 1), because rapier's narrow
/// phase kept the car's contact with the track across the teleport. A seeded reset now starts
/// from a fresh world.
#[test]
fn mountain_car_replays_a_mid_episode_reseed() {
    let options = CheckOptions {
        seed: 3,
        random_steps: 1500,
        ..CheckOptions::default()
    };
    let config = EnvConfig::MountainCar(carrot_envs::MountainCarConfig::default());
    check_env_config(&config, &options).unwrap();
}

/// One deliberate bug per variant of the toy walker.
#[derive(Clone, Copy, PartialEq)]
enum Fault {
    None,
    FixedStart,
    ShortObservation,
    OutOfBounds,
    IgnoresSeed,
    NanSignal,
    BothFlags,
    EarlyTruncation,
    DuplicateSignal,
    SharedState,
    PanicsAfterDone,
}

const LIMIT: u32 = 20;
static SHARED: AtomicU64 = AtomicU64::new(0);

/// A 1-d walker: position and velocity, a push in [-1, 1], truncated after 20 steps.
struct Walker {
    fault: Fault,
    obs_space: Space,
    action_space: Space,
    spec: SignalSpec,
    rng: EnvRng,
    pos: f32,
    steps: u32,
    ended: bool,
}

impl Walker {
    fn boxed(fault: Fault) -> Box<dyn Env> {
        let signal = |name| SignalInfo {
            name,
            unit: "1",
            meaning: "toy signal",
        };
        let second = if fault == Fault::DuplicateSignal {
            "alive"
        } else {
            "pos"
        };
        Box::new(Walker {
            fault,
            obs_space: Space::boxed(&[("pos", -10.0, 10.0), ("noise", -1.0, 1.0)]),
            action_space: Space::boxed(&[("push", -1.0, 1.0)]),
            spec: SignalSpec {
                env: "walker",
                signals: vec![signal("alive"), signal(second)],
                default_reward: Some("alive"),
            },
            rng: env_rng(0),
            pos: 0.0,
            steps: 0,
            ended: false,
        })
    }

    fn write_obs(&mut self, obs: &mut [f32]) {
        let noise = if self.fault == Fault::FixedStart && self.steps == 0 {
            0.0
        } else {
            self.rng.random::<f32>() * 2.0 - 1.0
        };
        let pos = if self.fault == Fault::OutOfBounds && self.steps == 5 {
            11.0
        } else {
            self.pos
        };
        let n = if self.fault == Fault::ShortObservation {
            1
        } else {
            2
        };
        obs[..n].copy_from_slice(&[pos, noise][..n]);
    }
}

impl Env for Walker {
    fn name(&self) -> &'static str {
        "walker"
    }
    fn observation_space(&self) -> &Space {
        &self.obs_space
    }
    fn action_space(&self) -> &Space {
        &self.action_space
    }
    fn signal_spec(&self) -> &SignalSpec {
        &self.spec
    }

    fn reset(&mut self, seed: Option<u64>, obs: &mut [f32]) {
        if let (Some(seed), false) = (seed, self.fault == Fault::IgnoresSeed) {
            self.rng = env_rng(seed);
        }
        self.pos = if self.fault == Fault::FixedStart {
            0.0
        } else {
            self.rng.random::<f32>()
        };
        self.steps = 0;
        self.ended = false;
        self.write_obs(obs);
    }

    fn step(&mut self, action: &[f32], obs: &mut [f32], signals: &mut [f32]) -> StepOutcome {
        assert!(
            !(self.ended && self.fault == Fault::PanicsAfterDone),
            "stepped after done"
        );
        let shared = if self.fault == Fault::SharedState {
            SHARED.fetch_add(1, Ordering::Relaxed) as f32 * 1e-3
        } else {
            0.0
        };
        self.pos = (self.pos + 0.1 * action[0] + shared).clamp(-3.0, 3.0);
        self.steps += 1;
        self.write_obs(obs);
        let nan_now = self.fault == Fault::NanSignal && self.steps == 3;
        signals.copy_from_slice(&[1.0, if nan_now { f32::NAN } else { self.pos }]);
        let limit = if self.fault == Fault::EarlyTruncation {
            LIMIT / 2
        } else {
            LIMIT
        };
        let both = self.fault == Fault::BothFlags;
        let outcome = StepOutcome {
            terminated: both,
            truncated: both || self.steps >= limit,
            physics_failure: false,
        };
        self.ended = outcome.done();
        outcome
    }
}

fn check(fault: Fault) -> Result<carrot_envs::check::CheckReport, EnvCheckError> {
    let options = CheckOptions {
        seed: 5,
        random_steps: 200,
        max_episode_steps: Some(LIMIT.into()),
        ..CheckOptions::default()
    };
    check_env(|| Walker::boxed(fault), &options)
}

#[test]
fn the_unbroken_walker_passes_and_a_fixed_start_is_reported_not_failed() {
    let report = check(Fault::None).unwrap();
    assert!(
        report.random_reset && report.seed_changes_trajectory,
        "{report:?}"
    );
    assert_eq!(report.longest_episode, LIMIT as usize);
    assert_eq!(report.truncations, report.episodes);
    assert_eq!(report.terminations, 0);
    assert!(report.stepped_after_done);
    let fixed = check(Fault::FixedStart).unwrap();
    assert!(!fixed.random_reset, "{fixed:?}");
}

#[test]
fn each_broken_walker_fails_the_check_that_names_its_bug() {
    let cases = [
        (Fault::ShortObservation, Check::ResetObservation, "slot 1"),
        (
            Fault::OutOfBounds,
            Check::StepObservation,
            "'pos' = 11 outside [-10, 10]",
        ),
        (Fault::IgnoresSeed, Check::Reseeding, "a used env"),
        (Fault::NanSignal, Check::StepSignals, "signal 1 = NaN"),
        (Fault::BothFlags, Check::TerminatedTruncated, "step 1 "),
        (
            Fault::EarlyTruncation,
            Check::TimeLimit,
            "step 10, before the time limit of 20",
        ),
        (
            Fault::DuplicateSignal,
            Check::SignalSpec,
            "'alive' appears twice",
        ),
        (Fault::SharedState, Check::Determinism, "two fresh envs"),
        (
            Fault::PanicsAfterDone,
            Check::StepAfterDone,
            "stepped after done",
        ),
    ];
    for (fault, expected, detail) in cases {
        let err = check(fault).expect_err(detail);
        let message = err.to_string();
        assert_eq!(err.check, expected, "{message}");
        assert!(
            message.starts_with(&format!("check_env(walker): {expected} check failed: "))
                && message.contains(detail),
            "{message}"
        );
    }
}

#[test]
fn a_malformed_space_and_a_bad_config_are_named() {
    let err = check_env_config(
        &EnvConfig::Cartpole(carrot_envs::CartPoleConfig {
            max_episode_steps: 0,
            ..Default::default()
        }),
        &CheckOptions::default(),
    )
    .unwrap_err();
    assert_eq!(err.check, Check::Build, "{err}");
    assert!(err.to_string().contains("max_episode_steps"), "{err}");

    let make = || Box::new(Inverted(Walker::boxed(Fault::None))) as Box<dyn Env>;
    let err = check_env(make, &CheckOptions::default()).unwrap_err();
    assert_eq!(err.check, Check::Spaces, "{err}");
    assert!(
        err.to_string()
            .contains("action space dimension 'push' has bounds [1, -1]"),
        "{err}"
    );
}

/// Wraps an env and declares an action space whose low bound exceeds its high bound.
struct Inverted(Box<dyn Env>);

impl Env for Inverted {
    fn name(&self) -> &'static str {
        "inverted"
    }
    fn observation_space(&self) -> &Space {
        self.0.observation_space()
    }
    fn action_space(&self) -> &Space {
        static SPACE: std::sync::OnceLock<Space> = std::sync::OnceLock::new();
        SPACE.get_or_init(|| Space::boxed(&[("push", 1.0, -1.0)]))
    }
    fn signal_spec(&self) -> &SignalSpec {
        self.0.signal_spec()
    }
    fn reset(&mut self, seed: Option<u64>, obs: &mut [f32]) {
        self.0.reset(seed, obs)
    }
    fn step(&mut self, action: &[f32], obs: &mut [f32], signals: &mut [f32]) -> StepOutcome {
        self.0.step(action, obs, signals)
    }
}
