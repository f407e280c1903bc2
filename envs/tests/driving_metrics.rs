//! Signal and metric definitions on constructed scenes: scripted collisions, red lights,
//! driving the route backwards, leaving the road, timeouts, blocking, time-to-collision.

use carrot_envs::driving::geometry::{to_frame, Line, V2};
use carrot_envs::driving::{
    DrivingConfig, DrivingEnv, Expert, LightState, MapFamily, METRIC_NAMES,
};
use carrot_envs::{Env, StepOutcome};

/// An env without traffic or parked cars on one fixed map of `map`.
fn quiet(map: MapFamily) -> DrivingConfig {
    DrivingConfig {
        map,
        map_pool: 1,
        traffic: 0,
        parked: 0,
        route_min_m: 300.0,
        route_max_m: 600.0,
        ..DrivingConfig::default()
    }
}

struct Scene {
    env: DrivingEnv,
    obs: Vec<f32>,
    sig: Vec<f32>,
}

impl Scene {
    fn new(config: DrivingConfig, seed: u64) -> Self {
        let mut env = DrivingEnv::new(config).unwrap();
        let mut obs = vec![0.0; env.observation_space().flat_dim()];
        let sig = vec![0.0; env.signal_spec().len()];
        env.reset(Some(seed), &mut obs);
        Scene { env, obs, sig }
    }

    fn step(&mut self, action: [f32; 2]) -> StepOutcome {
        self.env.step(&action, &mut self.obs, &mut self.sig)
    }

    fn signal(&self, name: &str) -> f32 {
        self.sig[self.env.signal_spec().index_of(name).unwrap()]
    }

    fn metric(&self, name: &str) -> f32 {
        let mut m = vec![0.0; METRIC_NAMES.len()];
        self.env.episode_metrics(&mut m);
        m[METRIC_NAMES.iter().position(|n| *n == name).unwrap()]
    }

    /// Steering of the expert with a fixed pedal.
    fn steer_with(&self, pedal: f32) -> [f32; 2] {
        let a = Expert::default().act(&self.env);
        [a[0], pedal]
    }
}

#[test]
fn scripted_collision_gives_infraction_score_060_and_ends_the_episode() {
    let mut scene = Scene::new(quiet(MapFamily::Town), 4);
    scene.env.add_stopped_vehicle_on_route(25.0);
    let mut ended = None;
    for step in 0..200 {
        let out = scene.step(scene.steer_with(1.0));
        if out.done() {
            ended = Some((step, out));
            break;
        }
    }
    let (_, out) = ended.expect("driving at a stopped car ends the episode");
    assert!(out.terminated && !out.truncated);
    assert_eq!(scene.signal("collision_vehicle"), 1.0);
    assert_eq!(scene.metric("collisions_vehicle"), 1.0);
    assert!(
        (scene.metric("infraction_score") - 0.60).abs() < 1e-4,
        "{}",
        scene.metric("infraction_score")
    );
    let ds = scene.metric("driving_score");
    let rc = scene.metric("route_completion");
    assert!(rc > 0.0 && (ds - 0.6 * rc).abs() < 1e-3, "rc {rc} ds {ds}");
    // The ttc signal fires before the crash (projection overlaps first).
    assert_eq!(scene.signal("ttc_violation"), 1.0);
}

#[test]
fn without_terminations_a_collision_does_not_end_the_episode() {
    let config = DrivingConfig {
        terminate_on: vec![],
        ..quiet(MapFamily::Town)
    };
    let mut scene = Scene::new(config, 4);
    scene.env.add_stopped_vehicle_on_route(25.0);
    let mut collided = false;
    for _ in 0..80 {
        let out = scene.step(scene.steer_with(1.0));
        collided |= scene.signal("collision_vehicle") == 1.0;
        assert!(
            !out.terminated,
            "terminate_on = [] leaves endings to the reward"
        );
    }
    assert!(collided);
}

#[test]
fn ttc_fires_before_a_crash_when_closing_fast() {
    let mut scene = Scene::new(quiet(MapFamily::Town), 4);
    let p = scene.env.route().line.point_at(0.0);
    let yaw = scene.env.route().line.heading_at(0.0);
    let mut obs = scene.obs.clone();
    scene.env.place_ego(p, yaw, 8.0, &mut obs);
    scene.env.add_stopped_vehicle_on_route(14.0);
    scene.step([0.0, 0.0]);
    assert_eq!(scene.signal("collision_vehicle"), 0.0);
    // 8 m/s, bumpers about 9 m apart: overlap predicted within 0.9 s? Not yet.
    let mut fired_before_crash = false;
    for _ in 0..30 {
        scene.step(scene.steer_with(0.0));
        if scene.signal("collision_vehicle") == 1.0 {
            break;
        }
        fired_before_crash |= scene.signal("ttc_violation") == 1.0;
    }
    assert!(fired_before_crash);
}

/// Seeds whose town route crosses a signalized stop line within its first 150 m.
fn red_light_scene(state: LightState) -> Scene {
    for seed in 0..50 {
        let mut scene = Scene::new(quiet(MapFamily::Town), seed);
        if scene
            .env
            .next_light()
            .is_some_and(|(_, d)| d > 20.0 && d < 150.0)
        {
            scene.env.override_lights(Some(state));
            return scene;
        }
    }
    panic!("no town route with a light in its first 150 m among 50 seeds");
}

#[test]
fn running_a_red_light_is_detected_and_ends_the_episode() {
    let mut scene = red_light_scene(LightState::Red);
    let reckless = Expert {
        obey_lights: false,
        ..Expert::default()
    };
    let mut out = StepOutcome::default();
    for _ in 0..400 {
        out = scene.step(reckless.act(&scene.env));
        if out.done() {
            break;
        }
    }
    assert!(out.terminated);
    assert_eq!(scene.signal("red_light"), 1.0);
    assert_eq!(scene.metric("red_lights"), 1.0);
    assert!((scene.metric("infraction_score") - 0.70).abs() < 1e-4);

    // The same drive through green lights is no infraction.
    let mut green = red_light_scene(LightState::Green);
    for _ in 0..300 {
        let out = green.step(reckless.act(&green.env));
        assert_eq!(green.signal("red_light"), 0.0);
        if out.done() {
            break;
        }
    }
    assert_eq!(green.metric("red_lights"), 0.0);
    assert!(green.metric("route_completion") > 10.0);

    // The careful expert waits at the red light instead.
    let mut careful = red_light_scene(LightState::Red);
    for _ in 0..400 {
        let out = careful.step(Expert::default().act(&careful.env));
        assert!(!out.done());
    }
    assert_eq!(careful.metric("red_lights"), 0.0);
    assert!(
        careful.env.next_light().unwrap().1 < 8.0,
        "stopped at the line"
    );
}

#[test]
fn driving_the_route_backwards_gives_no_progress() {
    let mut scene = Scene::new(quiet(MapFamily::Rural), 2);
    let route_len = scene.env.route().length();
    let s0 = 0.6 * route_len;
    let p = scene.env.route().line.point_at(s0);
    let yaw = scene.env.route().line.heading_at(s0) + std::f32::consts::PI;
    let mut obs = scene.obs.clone();
    scene.env.place_ego(p, yaw, 0.0, &mut obs);
    let mut progress = 0.0;
    let mut outside = 0;
    for _ in 0..150 {
        // Follow the route towards its start.
        let s = scene.env.route_projection().s;
        let target = scene.env.route().line.point_at(s - 10.0);
        let ego = scene.env.ego();
        let local = to_frame(target, ego.pos, ego.yaw);
        let steer = (local.y.atan2(local.x) * 1.5).clamp(-1.0, 1.0);
        let out = scene.step([steer, 0.4]);
        progress += scene.signal("progress");
        outside += scene.signal("outside_route_lanes") as u32;
        if out.done() {
            break;
        }
    }
    let travelled_back = s0 - scene.env.route_projection().s;
    assert!(
        travelled_back > 50.0,
        "drove {travelled_back} m back along the route"
    );
    assert_eq!(progress, 0.0);
    assert_eq!(scene.env.route_completion(), 0.0);
    assert!(
        outside > 100,
        "wrong-way driving is outside the route lanes"
    );
}

#[test]
fn leaving_the_road_ends_the_episode() {
    let mut scene = Scene::new(quiet(MapFamily::Rural), 1);
    let mut out = StepOutcome::default();
    for _ in 0..200 {
        out = scene.step([-1.0, 0.5]);
        if out.done() {
            break;
        }
    }
    assert!(out.terminated);
    assert_eq!(scene.signal("off_road"), 1.0);
    assert_eq!(scene.metric("off_road"), 1.0);
    assert_eq!(scene.signal("collision_static"), 0.0);
    // Leaving the road was also outside the route lanes, which lowers the infraction score.
    assert!(scene.metric("infraction_score") < 1.0);
}

#[test]
fn timeouts_truncate_without_a_factor() {
    let config = DrivingConfig {
        time_limit_base_s: 2.0,
        time_limit_per_m_s: 0.0,
        ..quiet(MapFamily::Highway)
    };
    let mut scene = Scene::new(config, 0);
    let mut steps = 0;
    loop {
        steps += 1;
        let out = scene.step(scene.steer_with(0.3));
        if out.done() {
            assert!(out.truncated && !out.terminated);
            break;
        }
    }
    assert_eq!(steps, 20);
    assert_eq!(scene.signal("timeout"), 1.0);
    assert_eq!(scene.metric("timeouts"), 1.0);
    // A route time-out has no factor on the leaderboard (0.7 is a scenario time-out's).
    assert_eq!(scene.metric("infraction_score"), 1.0);
    assert!(scene.metric("route_completion") > 0.0);
}

#[test]
fn standing_still_too_long_is_blocked() {
    let config = DrivingConfig {
        blocked_seconds: 3.0,
        ..quiet(MapFamily::Town)
    };
    let mut scene = Scene::new(config, 0);
    let mut steps = 0;
    loop {
        steps += 1;
        let out = scene.step([0.0, -1.0]);
        if out.done() {
            assert!(out.terminated);
            break;
        }
        assert!(steps < 100);
    }
    assert_eq!(steps, 31);
    assert_eq!(scene.signal("blocked"), 1.0);
    assert_eq!(scene.metric("blocked"), 1.0);
}

#[test]
fn the_expert_finishes_its_route_with_full_scores() {
    let config = DrivingConfig {
        route_min_m: 200.0,
        route_max_m: 250.0,
        ..quiet(MapFamily::Rural)
    };
    let mut scene = Scene::new(config, 9);
    let mut progress = 0.0;
    let mut distance = 0.0;
    for _ in 0..3000 {
        let out = scene.step(Expert::default().act(&scene.env));
        progress += scene.signal("progress");
        distance += scene.signal("distance");
        if out.done() {
            assert!(out.terminated);
            break;
        }
    }
    assert_eq!(scene.signal("route_finished"), 1.0);
    assert_eq!(scene.metric("route_completion"), 100.0);
    assert_eq!(scene.metric("driving_score"), 100.0);
    assert!((progress - 100.0).abs() < 0.01, "{progress}");
    let len = scene.env.route().length();
    assert!(
        distance > len - 3.0 && distance < len + 3.0,
        "{distance} vs {len}"
    );
    assert!((scene.metric("distance_km") * 1000.0 - distance).abs() < 0.5);
    let _ = V2::ZERO;
}

#[test]
fn hitting_a_parked_car_is_a_static_collision() {
    // Parked cars stand off the road: only the collision may end this episode.
    let config = DrivingConfig {
        parked: 20,
        terminate_on: vec!["collision_static".into()],
        ..quiet(MapFamily::Town)
    };
    let mut scene = Scene::new(config, 3);
    let target = scene.env.obstacles()[0];
    // Start 12 m away, facing the obstacle, rolling at 6 m/s.
    let away = V2::new(12.0, 0.0);
    let (s, c) = (target.yaw + 0.5).sin_cos();
    let start = target.pos - V2::new(c * away.x, s * away.x);
    let mut obs = scene.obs.clone();
    scene.env.place_ego(start, target.yaw + 0.5, 6.0, &mut obs);
    let mut out = StepOutcome::default();
    for _ in 0..40 {
        out = scene.step([0.0, 0.3]);
        if out.done() {
            break;
        }
    }
    assert!(out.terminated);
    assert_eq!(scene.signal("collision_static"), 1.0);
    assert_eq!(scene.metric("collisions_static"), 1.0);
    assert_eq!(scene.metric("collisions_vehicle"), 0.0);
    // 0.65 for the collision, times the off-route factor of the short drive off the lanes
    // (and no other factor: off-road counts as an infraction but has no penalty factor).
    let is = scene.metric("infraction_score");
    let tally = scene.env.tally();
    let off_route = tally.off_route_distance / tally.route_length;
    assert!(off_route < 0.05, "{off_route}");
    assert!((is - 0.65 * (1.0 - off_route)).abs() < 1e-6, "{is}");
}

#[test]
fn infraction_factors_are_the_leaderboard_values() {
    use carrot_envs::driving::{EpisodeTally, Event};
    let with = |event: Event, n: u32| {
        let mut t = EpisodeTally {
            route_length: 100.0,
            ..EpisodeTally::default()
        };
        t.counts[event as usize] = n;
        t.infraction_score()
    };
    assert_eq!(with(Event::CollisionVehicle, 1), 0.60);
    assert_eq!(with(Event::CollisionStatic, 1), 0.65);
    assert_eq!(with(Event::RedLight, 1), 0.70);
    assert!((with(Event::CollisionStatic, 2) - 0.65 * 0.65).abs() < 1e-7);
    for free in [Event::Blocked, Event::RouteDeviation, Event::OffRoad] {
        assert_eq!(with(free, 3), 1.0, "{free:?}");
    }
    let mut t = EpisodeTally {
        route_length: 200.0,
        off_route_distance: 50.0,
        ..EpisodeTally::default()
    };
    t.counts[Event::CollisionVehicle as usize] = 1;
    t.counts[Event::RedLight as usize] = 1;
    assert!((t.infraction_score() - 0.60 * 0.70 * 0.75).abs() < 1e-6);
}

#[test]
fn scripted_routes_can_be_driven_to_the_end() {
    let mut scene = Scene::new(quiet(MapFamily::Town), 6);
    let lanes: Vec<usize> = scene.env.route().lanes.iter().map(|l| l.lane).collect();
    assert!(lanes.len() >= 3);
    let route =
        carrot_envs::driving::route::Route::from_lanes(scene.env.map(), &lanes[1..3], 0.0, 1e9);
    let expected: f32 = lanes[1..3]
        .iter()
        .map(|&l| scene.env.map().lanes[l].length())
        .sum();
    assert!((route.length() - expected).abs() < 0.1);
    let mut obs = scene.obs.clone();
    scene.env.restart_on_route(route, &mut obs);
    for _ in 0..2000 {
        if scene.step(Expert::default().act(&scene.env)).done() {
            break;
        }
    }
    assert_eq!(scene.signal("route_finished"), 1.0);
    assert_eq!(scene.metric("driving_score"), 100.0);
}
