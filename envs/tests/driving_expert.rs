//! The rule-based expert completes routes on every map family with traffic.
//!
//! The check, run in CI: 50 seeded routes of 300-1000 m per family with 10 traffic
//! vehicles, mean RC >= 95% and mean DS >= 85 (about a second per family in release), and a
//! denser stress variant with 30 vehicles (a few seconds).

use carrot_envs::driving::{DrivingConfig, DrivingEnv, Expert, MapFamily, METRIC_NAMES};
use carrot_envs::Env;

struct Summary {
    rc: f32,
    ds: f32,
    failures: Vec<String>,
}

fn run_expert(family: MapFamily, routes: u64, route_max_m: f32, traffic: usize) -> Summary {
    let config = DrivingConfig {
        map: family,
        traffic,
        route_min_m: 300.0,
        route_max_m,
        ..DrivingConfig::default()
    };
    let mut env = DrivingEnv::new(config).unwrap();
    let mut obs = vec![0.0; env.observation_space().flat_dim()];
    let mut sig = vec![0.0; env.signal_spec().len()];
    let mut metrics = vec![0.0; METRIC_NAMES.len()];
    let expert = Expert::default();
    let (mut rc, mut ds) = (0.0, 0.0);
    let mut failures = Vec::new();
    for seed in 0..routes {
        env.reset(Some(1000 + seed), &mut obs);
        loop {
            let action = expert.act(&env);
            let out = env.step(&action, &mut obs, &mut sig);
            if out.done() {
                break;
            }
        }
        env.episode_metrics(&mut metrics);
        rc += metrics[0];
        ds += metrics[2];
        if metrics[2] < 99.0 {
            let named: Vec<String> = METRIC_NAMES
                .iter()
                .zip(&metrics)
                .filter(|(_, v)| **v != 0.0)
                .map(|(n, v)| format!("{n}={v:.2}"))
                .collect();
            failures.push(format!(
                "seed {} ({:.0} m route): {}",
                1000 + seed,
                env.route().length(),
                named.join(" ")
            ));
        }
    }
    Summary {
        rc: rc / routes as f32,
        ds: ds / routes as f32,
        failures,
    }
}

fn check(family: MapFamily, routes: u64, route_max_m: f32, traffic: usize) {
    let s = run_expert(family, routes, route_max_m, traffic);
    println!(
        "{family:?}, {traffic} vehicles: mean RC {:.1}, mean DS {:.1} over {routes} routes; below 99 DS: {:#?}",
        s.rc, s.ds, s.failures
    );
    assert!(
        s.rc >= 95.0 && s.ds >= 85.0,
        "{family:?}: RC {} DS {} {:#?}",
        s.rc,
        s.ds,
        s.failures
    );
}

#[test]
fn expert_completes_town_routes() {
    check(MapFamily::Town, 50, 1000.0, 10);
}

#[test]
fn expert_completes_rural_routes() {
    check(MapFamily::Rural, 50, 1000.0, 10);
}

#[test]
fn expert_completes_highway_routes() {
    check(MapFamily::Highway, 50, 1000.0, 10);
}

#[test]
fn expert_with_30_vehicles_50_routes_per_family() {
    for family in MapFamily::ALL {
        check(family, 50, 1000.0, 30);
    }
}
