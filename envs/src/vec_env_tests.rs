//! Unit tests of `VecEnv` (in a file of their own to keep `vec_env.rs` short).

use rand::RngExt;

use super::*;
use crate::{env_rng, EnvRng, NoReward, StepOutcome};

/// A random walk on the integers: terminated at |pos| >= 3, truncated after 5 steps.
struct Walk {
    pos: i32,
    t: u32,
    rng: EnvRng,
    obs_space: Space,
    act_space: Space,
    spec: SignalSpec,
    /// What [`Env::heavy_step`] says.
    heavy: bool,
}

impl Walk {
    fn new() -> Self {
        Walk {
            heavy: false,
            pos: 0,
            t: 0,
            rng: env_rng(0),
            obs_space: Space::boxed(&[("pos", -3.0, 3.0), ("t", 0.0, 5.0)]),
            act_space: Space::discrete(&["left", "stay", "right"]),
            spec: SignalSpec::new("walk", &[("pos", "1", "position"), ("one", "1", "1")]),
        }
    }

    fn write(&self, obs: &mut [f32]) {
        obs[0] = self.pos as f32;
        obs[1] = self.t as f32;
    }
}

impl Env for Walk {
    fn name(&self) -> &'static str {
        "walk"
    }
    fn observation_space(&self) -> &Space {
        &self.obs_space
    }
    fn action_space(&self) -> &Space {
        &self.act_space
    }
    fn signal_spec(&self) -> &SignalSpec {
        &self.spec
    }
    fn reset(&mut self, seed: Option<u64>, obs: &mut [f32]) {
        if let Some(s) = seed {
            self.rng = env_rng(s);
        }
        self.pos = self.rng.random_range(-1..=1);
        self.t = 0;
        self.write(obs);
    }
    fn step(&mut self, action: &[f32], obs: &mut [f32], signals: &mut [f32]) -> StepOutcome {
        self.pos += action[0] as i32 - 1;
        self.t += 1;
        self.write(obs);
        signals[0] = self.pos as f32;
        signals[1] = 1.0;
        StepOutcome {
            terminated: self.pos.abs() >= 3,
            truncated: self.t >= 5,
            physics_failure: false,
        }
    }
    fn episode_metric_names(&self) -> &[&'static str] {
        &["final_pos"]
    }
    fn reset_signals(&self, signals: &mut [f32]) {
        signals[0] = self.pos as f32;
        signals[1] = 0.0;
    }
    fn episode_metrics(&self, out: &mut [f32]) {
        out[0] = self.pos as f32;
    }
    fn heavy_step(&self) -> bool {
        self.heavy
    }
}

/// Ends the episode when the walker reaches +2; reward is the position.
struct StopAtTwo {
    terms: Vec<String>,
    causes: Vec<String>,
}

impl StepReward for StopAtTwo {
    fn term_names(&self) -> &[String] {
        &self.terms
    }
    fn cause_names(&self) -> &[String] {
        &self.causes
    }
    fn evaluate(&self, signals: &[f32], terms: &mut [f32]) -> (f32, Option<usize>) {
        terms[0] = signals[0];
        (signals[0], (signals[0] >= 2.0).then_some(0))
    }
}

fn walks(n: usize) -> VecEnv {
    VecEnv::new(
        (0..n)
            .map(|_| Box::new(Walk::new()) as Box<dyn Env>)
            .collect(),
    )
    .unwrap()
}

#[test]
fn autoreset_keeps_final_obs_and_episode_statistics_add_up() {
    let mut venv = walks(1);
    let mut buf = venv.make_buffers(&NoReward);
    venv.reset(7, &mut buf).unwrap();
    let mut sums = [0.0f32; 2];
    let mut len = 0;
    // Always step right: the episode ends by termination or truncation within 5 steps.
    for _ in 0..5 {
        venv.step(&[2.0], &NoReward, &mut buf).unwrap();
        len += 1;
        sums[0] += buf.signals[0];
        sums[1] += buf.signals[1];
        if buf.done(0) {
            break;
        }
    }
    assert!(buf.done(0));
    assert!(
        buf.terminated[0],
        "walking right from >= -1 reaches +3 within 4 steps"
    );
    assert_eq!(buf.final_obs_row(0)[0], 3.0);
    assert_eq!(
        buf.obs_row(0)[1],
        0.0,
        "obs is the first observation of the new episode"
    );
    assert!(buf.obs_row(0)[0].abs() <= 1.0);
    assert_eq!(buf.episode_length[0], len);
    assert_eq!(buf.episode_signal_row(0), &sums);
    assert_eq!(buf.episode_metric_row(0), &[3.0]);
}

#[test]
fn truncation_is_not_termination() {
    let mut venv = walks(1);
    let mut buf = venv.make_buffers(&NoReward);
    venv.reset(3, &mut buf).unwrap();
    for _ in 0..5 {
        venv.step(&[1.0], &NoReward, &mut buf).unwrap();
    }
    assert!(buf.truncated[0] && !buf.terminated[0]);
    assert_eq!(buf.episode_length[0], 5);
}

#[test]
fn a_reward_can_end_the_episode_before_autoreset() {
    let reward = StopAtTwo {
        terms: vec!["pos".into()],
        causes: vec!["reached_two".into()],
    };
    let mut venv = walks(1);
    let mut buf = venv.make_buffers(&reward);
    venv.reset(11, &mut buf).unwrap();
    let mut ret = 0.0;
    loop {
        venv.step(&[2.0], &reward, &mut buf).unwrap();
        ret += buf.rewards[0];
        if buf.done(0) {
            break;
        }
    }
    assert!(buf.terminated[0]);
    assert_eq!(
        buf.final_obs_row(0)[0],
        2.0,
        "ended by the reward at +2, not the env at +3"
    );
    assert_eq!(buf.episode_cause[0], 0);
    assert_eq!(buf.episode_return[0], ret);
    assert_eq!(buf.episode_term_row(0), &[ret]);
}

#[test]
fn non_finite_action_names_the_env_and_moves_nothing() {
    let mut a = walks(4);
    let mut b = walks(4);
    let mut ba = a.make_buffers(&NoReward);
    let mut bb = b.make_buffers(&NoReward);
    a.reset(5, &mut ba).unwrap();
    b.reset(5, &mut bb).unwrap();
    let err = a
        .step(&[2.0, 2.0, f32::NAN, 0.0], &NoReward, &mut ba)
        .unwrap_err();
    assert!(err.to_string().contains("env 2"), "{err}");
    a.step(&[2.0, 0.0, 1.0, 2.0], &NoReward, &mut ba).unwrap();
    b.step(&[2.0, 0.0, 1.0, 2.0], &NoReward, &mut bb).unwrap();
    assert_eq!(ba.obs, bb.obs);
    assert_eq!(ba.signals, bb.signals);
}

/// Neither the thread count nor the work split (equal blocks, or one env per task for heavy
/// steps) changes a bit.
#[test]
fn thread_count_and_work_split_do_not_change_results() {
    let run = |threads: usize, heavy: bool| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let walks = (0..13).map(|_| {
                Box::new(Walk {
                    heavy,
                    ..Walk::new()
                }) as Box<dyn Env>
            });
            let mut venv = VecEnv::new(walks.collect()).unwrap();
            assert_eq!(venv.heavy_steps, heavy);
            let mut buf = venv.make_buffers(&NoReward);
            venv.reset(42, &mut buf).unwrap();
            let mut rng = env_rng(1);
            let mut trace = Vec::new();
            let mut actions = vec![0.0; 13];
            for _ in 0..50 {
                for a in actions.iter_mut() {
                    *a = rng.random_range(0..3) as f32;
                }
                venv.step(&actions, &NoReward, &mut buf).unwrap();
                trace.extend_from_slice(&buf.obs);
                trace.extend_from_slice(&buf.signals);
                trace.extend_from_slice(&buf.state_signals);
            }
            trace
        })
    };
    let want = run(1, false);
    for (threads, heavy) in [(2, false), (3, false), (1, true), (2, true), (3, true)] {
        assert!(
            run(threads, heavy) == want,
            "{threads} threads, heavy {heavy}"
        );
    }
}

#[test]
fn buffers_from_another_vec_env_are_rejected() {
    let mut small = walks(2);
    let big = walks(3);
    let mut buf = big.make_buffers(&NoReward);
    assert!(small.reset(0, &mut buf).is_err());
}

/// `state_signals` describe the state behind `obs`: the reset's signals after a reset and an
/// autoreset, the step's signals while the episode goes on.
#[test]
fn state_signals_follow_obs_across_autoresets() {
    let mut venv = walks(3);
    let mut buf = venv.make_buffers(&NoReward);
    venv.reset(9, &mut buf).unwrap();
    for i in 0..3 {
        assert_eq!(buf.state_signal_row(i), &[buf.obs_row(i)[0], 0.0]);
    }
    let (mut ended, mut went_on) = (0, 0);
    for _ in 0..12 {
        venv.step(&[2.0, 1.0, 0.0], &NoReward, &mut buf).unwrap();
        for i in 0..3 {
            let want = if buf.done(i) {
                ended += 1;
                vec![buf.obs_row(i)[0], 0.0]
            } else {
                went_on += 1;
                buf.signal_row(i).to_vec()
            };
            assert_eq!(buf.state_signal_row(i), want.as_slice(), "env {i}");
            assert_eq!(buf.state_signal_row(i)[0], buf.obs_row(i)[0]);
        }
    }
    assert!(ended >= 3 && went_on >= 3, "{ended} {went_on}");
}

/// An env without snapshots (the trait's default) says so by name, so a trainer can fall back
/// to resetting it on resume.
#[test]
fn an_env_without_snapshots_reports_it_by_name() {
    let mut venv = walks(2);
    let mut buf = venv.make_buffers(&NoReward);
    venv.reset(1, &mut buf).unwrap();
    let err = venv.snapshot(&buf).unwrap_err();
    assert_eq!(err, EnvError::SnapshotUnsupported { env: "walk".into() });
    assert!(err
        .to_string()
        .contains("'walk' does not support snapshots"));
}
