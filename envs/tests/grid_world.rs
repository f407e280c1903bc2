//! The grid world's rules: moves, walls, the goal, the distractor, slips and the time limit.
//! (The generic env API checks run on it through `env_api.rs` and `vec_env.rs`.)

use carrot_envs::{Env, EnvConfig, GridWorld, GridWorldConfig, StepOutcome};

const UP: f32 = 0.0;
const RIGHT: f32 = 1.0;
const DOWN: f32 = 2.0;
const LEFT: f32 = 3.0;

fn no_slip(size: u32) -> GridWorld {
    GridWorld::new(GridWorldConfig {
        size,
        slip: 0.0,
        ..GridWorldConfig::default()
    })
    .unwrap()
}

fn step(env: &mut GridWorld, action: f32) -> (StepOutcome, [f32; 2], Vec<f32>) {
    let mut obs = [0.0; 2];
    let mut signals = vec![0.0; env.signal_spec().len()];
    let outcome = env.step(&[action], &mut obs, &mut signals);
    (outcome, obs, signals)
}

fn signal(env: &GridWorld, signals: &[f32], name: &str) -> f32 {
    signals[env.signal_spec().index_of(name).unwrap()]
}

#[test]
fn the_shortest_path_reaches_the_goal_through_the_distractor() {
    let mut env = no_slip(5);
    let mut obs = [1.0; 2];
    env.reset(Some(0), &mut obs);
    assert_eq!(obs, [0.0, 0.0]);
    let path = [UP, RIGHT, UP, RIGHT, UP, RIGHT, UP, RIGHT];
    let mut distractor_steps = 0;
    for (k, &action) in path.iter().enumerate() {
        let (outcome, obs, signals) = step(&mut env, action);
        let distance = signal(&env, &signals, "goal_distance");
        assert_eq!(distance, (7 - k) as f32, "one cell closer per step");
        let (x, y) = env.cell();
        assert_eq!(obs, [x as f32 / 4.0, y as f32 / 4.0]);
        assert_eq!(signal(&env, &signals, "x"), x as f32);
        assert_eq!(signal(&env, &signals, "y"), y as f32);
        distractor_steps += signal(&env, &signals, "distractor") as u32;
        let last = k == path.len() - 1;
        assert_eq!(signal(&env, &signals, "goal_reached"), last as u8 as f32);
        assert_eq!(outcome.terminated, last);
        assert!(!outcome.truncated);
    }
    assert_eq!(env.cell(), (4, 4));
    assert_eq!(distractor_steps, 1, "the path crosses the centre cell once");
}

#[test]
fn walls_stop_moves_and_the_distractor_is_the_centre() {
    let mut env = no_slip(5);
    env.reset(Some(0), &mut [0.0; 2]);
    for action in [DOWN, LEFT] {
        step(&mut env, action);
        assert_eq!(env.cell(), (0, 0));
    }
    let centre: Vec<(i32, i32)> = (0..5)
        .flat_map(|x| (0..5).map(move |y| (x, y)))
        .filter(|&c| env.is_distractor(c))
        .collect();
    assert_eq!(centre, [(2, 2)]);
    let even = no_slip(6);
    let centre: Vec<(i32, i32)> = (0..6)
        .flat_map(|x| (0..6).map(move |y| (x, y)))
        .filter(|&c| even.is_distractor(c))
        .collect();
    assert_eq!(centre, [(2, 2), (2, 3), (3, 2), (3, 3)]);
}

#[test]
fn the_time_limit_truncates_and_a_reset_starts_over() {
    let mut env = GridWorld::new(GridWorldConfig {
        max_episode_steps: 7,
        slip: 0.0,
        ..GridWorldConfig::default()
    })
    .unwrap();
    let mut obs = [0.0; 2];
    env.reset(Some(3), &mut obs);
    for k in 1..=7 {
        let (outcome, _, _) = step(&mut env, LEFT);
        assert_eq!(outcome.truncated, k == 7);
        assert!(!outcome.terminated);
    }
    env.reset(None, &mut obs);
    assert_eq!((env.cell(), obs), ((0, 0), [0.0, 0.0]));
}

#[test]
fn moves_slip_at_the_configured_rate_and_seeds_replay() {
    let run = |seed: u64| {
        let mut env = GridWorld::new(GridWorldConfig {
            size: 64,
            max_episode_steps: 100_000,
            slip: 0.25,
        })
        .unwrap();
        env.reset(Some(seed), &mut [0.0; 2]);
        let mut cells = Vec::new();
        let mut slips = 0;
        for k in 0..4000 {
            // Back and forth along the bottom row, away from the walls.
            let action = if k % 2 == 0 { RIGHT } else { LEFT };
            let before = env.cell();
            step(&mut env, action);
            let expected = if action == RIGHT {
                before.0 + 1
            } else {
                before.0 - 1
            };
            if env.cell() != (expected.clamp(0, 63), before.1) {
                slips += 1;
            }
            cells.push(env.cell());
        }
        (cells, slips)
    };
    let (cells, slips) = run(5);
    // A slip picks any of 4 moves, so 3/4 of them change the outcome: 0.25 * 0.75 * 4000 = 750.
    assert!((650..850).contains(&slips), "{slips} slips");
    assert_eq!(run(5).0, cells);
    assert_ne!(run(6).0, cells);
}

#[test]
fn invalid_configs_name_the_env_and_the_key() {
    let cases = [
        ("id = \"grid_world\"\nsize = 2", "size"),
        (
            "id = \"grid_world\"\nmax_episode_steps = 0",
            "max_episode_steps",
        ),
        ("id = \"grid_world\"\nslip = 1.5", "slip"),
    ];
    for (text, key) in cases {
        let config: EnvConfig = toml::from_str(text).unwrap();
        let err = config.build().err().expect("built").to_string();
        assert!(err.contains("grid_world") && err.contains(key), "{err}");
    }
    let err = toml::from_str::<EnvConfig>("id = \"grid_world\"\nsize = 5\nwalls = 3")
        .unwrap_err()
        .to_string();
    assert!(err.contains("walls"), "{err}");
}
