//! PEBBLE-style preference learning through the real trainer (`[preference]`, dispatched by
//! `carrot_bilevel::train_run`): queries accumulate per session, the learner's rewards are r_ν
//! of the stored signals, identical metrics for 1 and 2 threads, kill-and-resume replays an
//! uninterrupted run (queries included), the oracle is a plain run, bad configs are one-line
//! errors naming the key or signal, and r_ν learns the true reward from the teacher's labels.

mod common;
#[path = "run_common/mod.rs"]
mod run_common;

use carrot_agents::run::read_jsonl;
use carrot_agents::{
    CorrectionScale, IterationMetrics, OuterConfig, PreferenceMethod, RunOptions, TrainConfig,
    Trainer,
};
use carrot_bilevel::parl::ParlHook;
use carrot_bilevel::{check, train_run};
use common::parl::{self, one_line_error};
use run_common::{comparable, fresh_dir, quiet};

/// Pendulum, 6 iterations, a checkpoint every 2 iterations, a feedback session every 2.
fn config(method: PreferenceMethod) -> TrainConfig {
    let mut c = parl::pendulum(method, 7, 6);
    c.run.checkpoint_every = 2;
    c
}

/// Trains the pebble config with a hook of its own in a pool of `threads`; after every
/// iteration, checks that the learner's rewards are the model's r_ν of the stored signals.
fn train_in_pool(threads: usize) -> Vec<IterationMetrics> {
    train_checked(threads, config(PreferenceMethod::Pebble))
}

fn train_checked(threads: usize, c: TrainConfig) -> Vec<IterationMetrics> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    pool.install(|| {
        let mut hook = ParlHook::new(&c, c.preference.as_ref().unwrap()).unwrap();
        let mut t = Trainer::new(&c).unwrap();
        let reward_column = t.signal_spec().index_of("reward").unwrap();
        let mut rows = Vec::new();
        while !t.is_done() {
            rows.push(t.iterate_with(&mut hook).unwrap());
            let ro = t.rollout();
            let predicted = hook
                .model()
                .unwrap()
                .evaluate_signals(&ro.signals, ro.num_signals)
                .unwrap();
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&ro.rewards), bits(&predicted));
            let true_reward: Vec<f32> = ro
                .signals
                .chunks_exact(ro.num_signals)
                .map(|s| s[reward_column])
                .collect();
            assert_eq!(bits(&ro.env_rewards), bits(&true_reward));
            assert_ne!(bits(&ro.rewards), bits(&ro.env_rewards));
        }
        rows
    })
}

#[test]
fn sessions_add_queries_relabel_with_the_model_and_ignore_thread_count() {
    let one = train_in_pool(1);
    let get = |i: usize, k: &str| one[i].get(k).unwrap();
    // Sessions at iterations 0, 2 and 4; the third is cut to the remaining budget of 30.
    let queries: Vec<f64> = (0..6).map(|i| get(i, "parl/queries")).collect();
    assert_eq!(queries, [12.0, 12.0, 24.0, 24.0, 30.0, 30.0]);
    for i in 0..6 {
        assert_eq!(get(i, "parl/teacher_agreement"), 1.0, "a perfect teacher");
        let acc = get(i, "parl/heldout_accuracy");
        assert!((0.0..=1.0).contains(&acc), "{acc}");
        assert!(get(i, "parl/reward_correlation").abs() <= 1.0);
        assert!(get(i, "parl/model_loss").is_finite());
    }
    assert_eq!(comparable(&one), comparable(&train_in_pool(2)));
}

#[test]
fn kill_and_resume_replays_the_uninterrupted_run_queries_included() {
    for (name, c) in [
        ("pebble", config(PreferenceMethod::Pebble)),
        ("aparl", aparl(10.0)),
    ] {
        let straight = fresh_dir(&format!("{name}-straight"));
        train_run(&c, &straight, &quiet()).unwrap();
        let killed = fresh_dir(&format!("{name}-killed"));
        let partial = RunOptions {
            max_iterations: Some(3),
            ..quiet()
        };
        train_run(&c, &killed, &partial).unwrap();
        let resumed = train_run(&c, &killed, &quiet()).unwrap();
        // Resumed from iteration 2: the sessions of iterations 2 and 4 run after the resume.
        assert_eq!(resumed.resumed_from, Some(2));
        let (a, b) = (read_jsonl(&straight).unwrap(), read_jsonl(&killed).unwrap());
        assert_eq!(a.len(), 6);
        assert_eq!(a[5].get("parl/queries"), Some(30.0));
        assert_eq!(comparable(&a), comparable(&b), "{name}");
        let _ = std::fs::remove_dir_all(&straight);
        let _ = std::fs::remove_dir_all(&killed);
    }
}

#[test]
fn oracle_is_bit_identical_to_a_plain_run() {
    let oracle = config(PreferenceMethod::Oracle);
    let mut plain = oracle.clone();
    plain.preference = None;
    let (a, b) = (fresh_dir("parl-oracle"), fresh_dir("parl-plain"));
    train_run(&oracle, &a, &quiet()).unwrap();
    train_run(&plain, &b, &quiet()).unwrap();
    let (a_rows, b_rows) = (read_jsonl(&a).unwrap(), read_jsonl(&b).unwrap());
    assert_eq!(a_rows.len(), 6);
    assert_eq!(comparable(&a_rows), comparable(&b_rows));
    let _ = std::fs::remove_dir_all(&a);
    let _ = std::fs::remove_dir_all(&b);
}

#[test]
fn bad_preference_configs_are_one_line_errors() {
    // An input the true reward reads, for every method (oracle included).
    for method in [PreferenceMethod::Oracle, PreferenceMethod::Pebble] {
        let mut c = config(method);
        c.preference.as_mut().unwrap().inputs.push("reward".into());
        let err = one_line_error(&c);
        assert!(
            err.contains("preference.inputs") && err.contains("`reward`"),
            "{err}"
        );
    }
    // A blend-free true reward reading `theta` makes `theta` off limits too.
    let mut c = config(PreferenceMethod::Pebble);
    c.reward = toml::from_str("id = \"signal\"\nsignal = \"theta\"").unwrap();
    assert!(one_line_error(&c).contains("`theta`"));
    let mut c = config(PreferenceMethod::Pebble);
    c.preference.as_mut().unwrap().inputs = vec!["nope".into()];
    assert!(one_line_error(&c).contains("`nope`"));
    let mut c = config(PreferenceMethod::Pebble);
    c.outer = Some(OuterConfig::default());
    assert!(one_line_error(&c).contains("preference: cannot be combined with [outer]"));
    let mut c = config(PreferenceMethod::Pebble);
    c.preference.as_mut().unwrap().session_every = 0;
    assert!(one_line_error(&c).contains("preference.session_every"));
    let mut c = config(PreferenceMethod::Aparl);
    c.ppo.normalize_reward = true;
    assert!(one_line_error(&c).contains("ppo.normalize_reward"));
    let mut c = config(PreferenceMethod::Aparl);
    c.ppo.critic_signals = vec!["theta".into()];
    assert!(one_line_error(&c).contains("ppo.critic_signals"));
    check(&config(PreferenceMethod::Aparl)).unwrap();
    check(&config(PreferenceMethod::Pebble)).unwrap();
    check(&config(PreferenceMethod::Oracle)).unwrap();
}

/// The reward model earns its keep: after 4 sessions (8 iterations) of 25 perfect-teacher labels, r_ν
/// correlates with pendulum's true reward on the latest rollout and orders held-out pairs.
/// The correlation on one 128-step rollout is noisy from seed to seed (0.48 to 0.92 over seeds
/// 1-8 since the envs no longer reset at checkpoints; held-out accuracy 0.75 to 1), so it is
/// judged on its mean over 8 seeds, with a per-seed floor.
#[test]
fn the_reward_model_learns_the_true_reward_from_preferences() {
    let mut correlations = Vec::new();
    for seed in 1..=8 {
        let mut c = config(PreferenceMethod::Pebble);
        c.seed = seed;
        c.ppo.total_timesteps = 4 * 32 * 8;
        let p = c.preference.as_mut().unwrap();
        p.segment_length = 16;
        p.queries_per_session = 25;
        p.max_queries = 100;
        p.heldout_fraction = 0.2;
        p.model.steps = 100;
        p.model.batch = 16;
        let mut hook = ParlHook::new(&c, c.preference.as_ref().unwrap()).unwrap();
        let mut t = Trainer::new(&c).unwrap();
        let mut last = IterationMetrics::default();
        while !t.is_done() {
            last = t.iterate_with(&mut hook).unwrap();
        }
        let corr = last.get("parl/reward_correlation").unwrap();
        let acc = last.get("parl/heldout_accuracy").unwrap();
        assert!(corr > 0.4, "seed {seed}: correlation {corr}");
        assert!(acc >= 0.65, "seed {seed}: held-out accuracy {acc}");
        correlations.push(corr);
    }
    let mean = correlations.iter().sum::<f64>() / correlations.len() as f64;
    // Measured 0.765.
    assert!(mean > 0.7, "mean correlation {mean}: {correlations:?}");
}

fn aparl(step: f64) -> TrainConfig {
    let mut c = config(PreferenceMethod::Aparl);
    let p = c.preference.as_mut().unwrap();
    p.correction_step = step;
    p.correction_terms = 2;
    p.correction_alpha = 1e-2;
    c
}

/// The rows without the correction's own diagnostics (NaN for PEBBLE).
fn without_correction(rows: &[IterationMetrics]) -> Vec<Vec<(String, u64)>> {
    const KEYS: [&str; 4] = [
        "parl/correction_norm",
        "parl/correction_step",
        "parl/term1_norm",
        "parl/cos_term1_correction",
    ];
    comparable(rows)
        .into_iter()
        .map(|r| {
            r.into_iter()
                .filter(|(k, _)| !KEYS.contains(&k.as_str()))
                .collect()
        })
        .collect()
}

/// A-PARL is PEBBLE plus the correction and nothing else: with correction_step = 0 the run is
/// PEBBLE's bit for bit (the correction is computed and added times 0); with a step it moves,
/// identically for 1 and 2 threads.
#[test]
fn aparl_is_pebble_plus_the_correction() {
    let pebble = train_in_pool(1);
    let zero = train_checked(1, aparl(0.0));
    let key = "parl/correction_norm";
    assert!(pebble.iter().all(|m| m.get(key).unwrap().is_nan()));
    let norms: Vec<f64> = zero.iter().map(|m| m.get(key).unwrap()).collect();
    // A correction at every session (iterations 0, 2, 4), none in between.
    for (i, n) in norms.iter().enumerate() {
        assert_eq!(n.is_finite() && *n > 0.0, i % 2 == 0, "{norms:?}");
    }
    assert_eq!(without_correction(&pebble), without_correction(&zero));
    let moved = train_checked(1, aparl(10.0));
    assert_ne!(without_correction(&pebble), without_correction(&moved));
    assert_eq!(
        comparable(&moved),
        comparable(&train_checked(2, aparl(10.0)))
    );
}

/// `correction_scale = "term1"`: the correction's step is term 1's gain in the same session
/// (finite and positive at sessions, logged beside the session's displacement), not the raw
/// `correction_step`.
#[test]
fn term1_scale_steps_the_correction_with_term1s_gain() {
    let mut c = aparl(1.0);
    c.preference.as_mut().unwrap().correction_scale = CorrectionScale::Term1;
    let rows = train_checked(1, c);
    for (i, m) in rows.iter().enumerate() {
        let step = m.get("parl/correction_step").unwrap();
        let moved = m.get("parl/term1_displacement").unwrap();
        if i % 2 == 0 {
            assert!(step.is_finite() && step > 0.0 && step != 1.0, "{i}: {step}");
            assert!(moved.is_finite() && moved > 0.0, "{i}: {moved}");
            assert!(m.get("parl/cos_term1_correction").unwrap().abs() <= 1.0);
        } else {
            assert!(step.is_nan() && moved.is_nan(), "{i}: no session");
        }
    }
}
