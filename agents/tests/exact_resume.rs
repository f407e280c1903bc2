//! Resume never changes training: checkpoints carry the envs mid-episode, so the metrics of a
//! run are the same whether it checkpoints every iteration, every 7 or never, and whether it
//! was stopped and resumed or not (cartpole and a small driving world). A checkpoint written
//! before env snapshots existed still resumes, with a seeded env reset and a note saying so.

mod common;

use std::path::Path;

use carrot_agents::run::{read_jsonl, METRICS_CSV};
use carrot_agents::{train_run, IterationMetrics, TrainConfig, Trainer, WALL_CLOCK_KEYS};
use common::{fresh_dir, options};

fn cartpole() -> TrainConfig {
    let mut c = TrainConfig {
        seed: 3,
        ..Default::default()
    };
    c.ppo.num_envs = 4;
    c.ppo.num_steps = 32;
    c.ppo.total_timesteps = 4 * 32 * 15;
    c.ppo.normalize_obs = true;
    c.ppo.normalize_reward = true;
    c.run.eval_episodes = 0;
    c
}

/// Two envs on two town maps with traffic, a privileged critic input and normalized
/// observations; episodes of ~150 steps span several 32-step rollouts.
fn driving() -> TrainConfig {
    toml::from_str(
        r#"
        seed = 2
        [env]
        id = "driving"
        map = "town"
        map_pool = 2
        traffic = 3
        parked = 1
        route_min_m = 60.0
        route_max_m = 90.0
        time_limit_base_s = 15.0
        time_limit_per_m_s = 0.0
        [reward]
        id = "carl"
        [ppo]
        num_envs = 2
        num_steps = 32
        total_timesteps = 640
        policy_head = "beta"
        normalize_obs = true
        normalize_reward = true
        critic_signals = ["time_left_frac", "route_left_frac"]
        [run]
        eval_episodes = 0
        "#,
    )
    .unwrap()
}

/// Each row as exact bits by key (metrics.jsonl reads back sorted, with `null` for NaN),
/// without the wall-clock keys.
fn comparable(rows: &[IterationMetrics]) -> Vec<Vec<(String, u64)>> {
    rows.iter()
        .map(|m| {
            let mut row: Vec<(String, u64)> = m
                .entries
                .iter()
                .filter(|(k, _)| !WALL_CLOCK_KEYS.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), if v.is_nan() { u64::MAX } else { v.to_bits() }))
                .collect();
            row.sort();
            row
        })
        .collect()
}

/// metrics.csv without its wall-clock columns.
fn csv_rows(dir: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(dir.join(METRICS_CSV)).unwrap();
    let header: Vec<&str> = text.lines().next().unwrap().split(',').collect();
    let keep: Vec<bool> = header
        .iter()
        .map(|h| !WALL_CLOCK_KEYS.contains(h))
        .collect();
    text.lines()
        .map(|line| {
            let cells = line.split(',').zip(&keep).filter(|(_, k)| **k);
            cells.map(|(c, _)| c).collect::<Vec<_>>().join(",")
        })
        .collect()
}

fn in_memory(c: &TrainConfig) -> Vec<Vec<(String, u64)>> {
    let mut t = Trainer::new(c).unwrap();
    let mut rows = Vec::new();
    while !t.is_done() {
        rows.push(t.iterate().unwrap());
    }
    comparable(&rows)
}

/// Trains `c` with each `checkpoint_every` in its own run dir and checks every metrics row
/// against a trainer that never checkpoints; returns the rows.
fn check_checkpoint_every_changes_nothing(name: &str, c: &TrainConfig) -> Vec<IterationMetrics> {
    let want = in_memory(c);
    let (mut csv, mut first) = (None, None);
    for every in [1, 7, 1000] {
        let mut c = c.clone();
        c.run.checkpoint_every = every;
        let dir = fresh_dir(&format!("{name}-every{every}"));
        assert!(train_run(&c, &dir, &options(None)).unwrap().finished);
        let rows = read_jsonl(&dir).unwrap();
        assert_eq!(
            comparable(&rows),
            want,
            "{name}: checkpoint_every = {every}"
        );
        let rows_csv = csv_rows(&dir);
        assert_eq!(rows_csv.len(), want.len() + 1);
        assert_eq!(csv.get_or_insert(rows_csv.clone()), &rows_csv, "{name} csv");
        first.get_or_insert(rows);
    }
    first.unwrap()
}

#[test]
fn checkpoint_every_changes_nothing_in_cartpole_training() {
    let rows = check_checkpoint_every_changes_nothing("cartpole", &cartpole());
    let episodes: f64 = rows.iter().filter_map(|r| r.get("charts/episodes")).sum();
    assert!(episodes > 20.0, "{episodes} episodes");
}

#[test]
fn checkpoint_every_changes_nothing_in_driving_training() {
    let rows = check_checkpoint_every_changes_nothing("driving", &driving());
    // Episodes outlast a rollout, so checkpoints (every iteration here) fall mid-episode, and
    // those episodes are logged whole.
    let longest = rows
        .iter()
        .filter_map(|r| r.get("charts/episodic_length"))
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max);
    assert!(longest > 64.0, "longest logged episode: {longest} steps");
}

/// Stops a run after `stop` iterations, resumes it (on `threads` rayon threads) and compares
/// it with the uninterrupted run.
fn check_interrupted_run_resumes_exactly(name: &str, c: &TrainConfig, stop: usize, threads: usize) {
    let straight = fresh_dir(&format!("{name}-straight"));
    train_run(c, &straight, &options(None)).unwrap();
    let stopped = fresh_dir(&format!("{name}-stopped"));
    let first = train_run(c, &stopped, &options(Some(stop))).unwrap();
    assert!(!first.finished && first.iterations == stop);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    let resumed = pool
        .install(|| train_run(c, &stopped, &options(None)))
        .unwrap();
    let every = c.run.checkpoint_every;
    assert_eq!(resumed.resumed_from, Some(stop / every * every));
    assert!(resumed.notes.is_empty(), "{:?}", resumed.notes);
    assert_eq!(
        comparable(&read_jsonl(&stopped).unwrap()),
        comparable(&read_jsonl(&straight).unwrap()),
        "{name}"
    );
    assert_eq!(csv_rows(&stopped), csv_rows(&straight), "{name} csv");
}

#[test]
fn an_interrupted_cartpole_run_resumes_exactly() {
    let mut c = cartpole();
    c.run.checkpoint_every = 3;
    // The checkpoint of iteration 6; iteration 7 is redone after the resume.
    check_interrupted_run_resumes_exactly("cartpole", &c, 7, 2);
}

#[test]
fn an_interrupted_driving_run_resumes_exactly() {
    let mut c = driving();
    c.run.checkpoint_every = 1;
    check_interrupted_run_resumes_exactly("driving", &c, 4, 2);
}

/// Mountain car's config leaves options unset, which `state.json` writes as `null`: the
/// checkpoint must still read back (it did not before 2026-12-07).
#[test]
fn an_interrupted_mountain_car_run_resumes_exactly() {
    let mut c = cartpole();
    c.env = toml::from_str("id = \"mountain_car\"").unwrap();
    c.run.checkpoint_every = 3;
    let json = serde_json::to_string(&c).unwrap();
    assert!(
        json.contains("\"solver_substeps\":null"),
        "the case under test: {json}"
    );
    check_interrupted_run_resumes_exactly("mountain_car", &c, 7, 1);
}

#[test]
fn a_checkpoint_without_env_snapshot_resumes_with_a_reset_and_says_so() {
    let mut c = cartpole();
    c.run.checkpoint_every = 2;
    let dir = fresh_dir("old-checkpoint");
    train_run(&c, &dir, &options(Some(4))).unwrap();
    // Turn the checkpoint into one written before env snapshots existed.
    let ckpt = dir.join("checkpoint");
    let state_path = ckpt.join("state.json");
    let state = std::fs::read_to_string(&state_path).unwrap();
    let file = "collection-000004.json";
    let field = format!(",\n  \"collection_file\": \"{file}\"");
    assert!(
        state.contains(&field) && ckpt.join(file).is_file(),
        "{state}"
    );
    std::fs::write(&state_path, state.replace(&field, "")).unwrap();
    std::fs::remove_file(ckpt.join(file)).unwrap();

    let resumed = train_run(&c, &dir, &options(None)).unwrap();
    assert!(resumed.finished && resumed.resumed_from == Some(4));
    assert_eq!(resumed.notes.len(), 1, "{:?}", resumed.notes);
    assert!(
        resumed.notes[0].contains("holds no env snapshot") && !resumed.notes[0].contains('\n'),
        "{}",
        resumed.notes[0]
    );
    // The first four rows are the uninterrupted run's; after the reset the episodes differ.
    let rows = comparable(&read_jsonl(&dir).unwrap());
    let want = in_memory(&c);
    assert_eq!(rows.len(), want.len());
    assert_eq!(rows[..4], want[..4]);
    assert_ne!(rows[4..], want[4..]);
}
