//! CaRL and Roach formulas on hand-made rows of the driving world's signals.

use carrot_rewards::{CarlConfig, Reward, RewardConfig, RoachConfig, SignalSpec, EVENTS};

/// The driving world's own signal layout, so a renamed signal fails here.
fn spec() -> SignalSpec {
    use carrot_envs::Env;
    let env = carrot_envs::DrivingEnv::new(carrot_envs::DrivingConfig::default()).unwrap();
    env.signal_spec().clone()
}

/// A calm step: 0.1% progress at 5 m/s under a 10 m/s limit, centred, no events.
fn calm() -> Vec<f32> {
    let mut s = vec![0.0; spec().len()];
    set(&mut s, "progress", 0.1);
    set(&mut s, "speed", 5.0);
    set(&mut s, "speed_limit", 10.0);
    set(&mut s, "desired_speed", 5.0);
    set(&mut s, "lane_width", 4.0);
    s
}

fn set(s: &mut [f32], name: &str, v: f32) {
    s[spec().index_of(name).unwrap()] = v;
}

fn carl() -> Box<dyn Reward> {
    RewardConfig::Carl(CarlConfig::default())
        .build(&spec())
        .unwrap()
}

fn roach() -> Box<dyn Reward> {
    RewardConfig::Roach(RoachConfig::default())
        .build(&spec())
        .unwrap()
}

fn eval(r: &dyn Reward, s: &[f32]) -> (f32, Option<usize>, Vec<f32>) {
    let mut terms = vec![0.0; r.term_names().len()];
    let (v, c) = r.evaluate(s, &mut terms);
    (v, c, terms)
}

fn cause(name: &str) -> Option<usize> {
    EVENTS.iter().position(|e| e.signal == name)
}

/// `calm()` with event `name` fired on a step where the env ends the episode.
fn ending_with(name: &str) -> Vec<f32> {
    let mut s = calm();
    set(&mut s, name, 1.0);
    if name != "timeout" {
        set(&mut s, "terminated", 1.0);
    }
    s
}

#[test]
fn carl_calm_step_is_pure_progress() {
    let (r, c, _) = eval(&*carl(), &calm());
    assert!((r - 0.1).abs() < 1e-6, "{r}");
    assert_eq!(c, None);
}

#[test]
fn carl_collision_step_pays_the_penalty_and_ends() {
    let s = ending_with("collision_vehicle");
    let (r, c, terms) = eval(&*carl(), &s);
    assert!((r - (0.1 - 1.0)).abs() < 1e-6, "{r}");
    assert_eq!(c, cause("collision_vehicle"));
    assert_eq!(*terms.last().unwrap(), -1.0);
}

#[test]
fn carl_red_light_is_penalized_but_blocked_is_not() {
    let s = ending_with("red_light");
    let (r, c, _) = eval(&*carl(), &s);
    assert!((r + 0.9).abs() < 1e-6 && c == cause("red_light"));
    let s = ending_with("blocked");
    let (r, c, _) = eval(&*carl(), &s);
    assert!((r - 0.1).abs() < 1e-6 && c == cause("blocked"));
}

#[test]
fn carl_speeding_by_one_metre_per_second() {
    let mut s = calm();
    set(&mut s, "speed", 11.0);
    let (r, _, terms) = eval(&*carl(), &s);
    let factor = 1.0 - 1.0 / 2.23;
    assert!((terms[2] - factor).abs() < 1e-6, "{terms:?}");
    assert!((r - 0.1 * factor).abs() < 1e-6);
}

#[test]
fn carl_two_comfort_violations() {
    let mut s = calm();
    set(&mut s, "comfort_violations", 2.0);
    let (r, _, terms) = eval(&*carl(), &s);
    let factor = 1.0 - 0.5 * 2.0 / 6.0;
    assert!((terms[4] - factor).abs() < 1e-6, "{terms:?}");
    assert!((r - 0.1 * factor).abs() < 1e-6);
}

#[test]
fn carl_route_finished_ends_without_penalty() {
    let s = ending_with("route_finished");
    let (r, c, _) = eval(&*carl(), &s);
    assert!((r - 0.1).abs() < 1e-6);
    assert_eq!(c, cause("route_finished"));
}

#[test]
fn carl_lane_centering_outside_lanes_and_ablation_switches() {
    let mut s = calm();
    set(&mut s, "lateral_offset", -1.0);
    let (r, _, _) = eval(&*carl(), &s);
    assert!(
        (r - 0.1 * 0.5).abs() < 1e-6,
        "half a half-lane off centre halves the step: {r}"
    );
    set(&mut s, "in_junction", 1.0);
    assert!(
        (eval(&*carl(), &s).0 - 0.1).abs() < 1e-6,
        "no centering inside junctions"
    );
    set(&mut s, "outside_route_lanes", 1.0);
    assert_eq!(eval(&*carl(), &s).0, 0.0);

    let cfg: CarlConfig = toml::from_str("outside_lanes_factor = false").unwrap();
    let r = RewardConfig::Carl(cfg).build(&spec()).unwrap();
    assert!((eval(&*r, &s).0 - 0.1).abs() < 1e-6);
}

#[test]
fn the_env_alone_decides_the_end() {
    // A collision the env did not end the episode on (e.g. `terminate_on = []`): the penalty
    // is paid, but the reward names no cause, so the episode goes on.
    let mut s = calm();
    set(&mut s, "collision_vehicle", 1.0);
    let (r, c, _) = eval(&*carl(), &s);
    assert!((r + 0.9).abs() < 1e-6 && c.is_none());
    let (_, c, terms) = eval(&*roach(), &s);
    assert!(c.is_none() && terms[4] == -5.0, "{terms:?}");
    // The rewards have no termination switch of their own.
    for reward in ["carl", "roach"] {
        let text = format!("id = \"{reward}\"\n[terminate_on]\ncollision_vehicle = false");
        let err = toml::from_str::<RewardConfig>(&text)
            .unwrap_err()
            .to_string();
        assert!(err.contains("terminate_on"), "{err}");
    }
}

#[test]
fn roach_terms_follow_the_shaped_formula() {
    let mut s = calm();
    set(&mut s, "speed", 4.0);
    set(&mut s, "desired_speed", 6.0);
    set(&mut s, "lateral_distance", 1.0);
    set(&mut s, "heading_error", -0.2);
    set(&mut s, "steer_change", 0.05);
    let (r, c, terms) = eval(&*roach(), &s);
    let expected = [1.0 - 2.0 / 6.0, -0.5, -0.2, -0.1, 0.0];
    for (t, e) in terms.iter().zip(expected) {
        assert!((t - e).abs() < 1e-6, "{terms:?}");
    }
    assert!((r - expected.iter().sum::<f32>()).abs() < 1e-6);
    assert_eq!(c, None);
}

#[test]
fn roach_collision_costs_one_plus_speed() {
    let s = ending_with("collision_static");
    let (_, c, terms) = eval(&*roach(), &s);
    assert_eq!(terms[4], -1.0 - 5.0);
    assert_eq!(c, cause("collision_static"));
    let s = ending_with("timeout");
    let (_, c, terms) = eval(&*roach(), &s);
    assert_eq!(terms[4], -1.0);
    assert_eq!(c, cause("timeout"));
}

#[test]
fn driving_rewards_need_driving_signals() {
    let cartpole_like = SignalSpec::new("cartpole", &[("alive", "1", "1 per step")]);
    let err = match RewardConfig::Carl(CarlConfig::default()).build(&cartpole_like) {
        Ok(_) => panic!("carl built against cartpole signals"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("carl") && err.contains("progress"), "{err}");
}

#[test]
fn carl_halves_progress_while_a_ttc_violation_is_held() {
    let mut s = calm();
    set(&mut s, "ttc_violation", 1.0);
    let (r, c, terms) = eval(&*carl(), &s);
    assert_eq!(terms[3], 0.5, "{terms:?}");
    assert!((r - 0.05).abs() < 1e-7, "{r}");
    assert_eq!(c, None);
    let off: CarlConfig = toml::from_str("ttc_factor = false").unwrap();
    let r = RewardConfig::Carl(off).build(&spec()).unwrap();
    assert!((eval(&*r, &s).0 - 0.1).abs() < 1e-7);
}
