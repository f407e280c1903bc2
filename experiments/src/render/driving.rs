//! `carrot render` of the driving world, top-down: lanes, curbs, route, lights, parked cars,
//! traffic, the ego and its rays; episodes driven by the expert or a trained run's policy.

use std::path::Path;

use anyhow::{bail, Context};
use carrot_agents::Policy;
use carrot_envs::driving::geometry::V2;
use carrot_envs::driving::{DrivingConfig, DrivingEnv, Expert, LightState, MapFamily};
use carrot_envs::Env;

use crate::render::canvas::Canvas;
use crate::render::{record_gif, write_png, RenderArgs};

/// Draws the env's current state.
fn draw(env: &DrivingEnv, size: usize, view: &str, window_m: f32) -> Canvas {
    let map = env.map();
    let mut canvas = if view == "map" {
        let extent = map.max - map.min;
        Canvas::new(size, (map.min + map.max) * 0.5, extent.x.max(extent.y))
    } else {
        Canvas::new(size, env.ego().pos, window_m)
    };
    for lane in &map.lanes {
        let color = if lane.in_junction() { 2 } else { 1 };
        canvas.polyline(&lane.centre.pts, lane.width, color);
    }
    for lane in map.lanes.iter().filter(|l| !l.in_junction()) {
        canvas.polyline(&lane.centre.pts, 0.12, 4);
    }
    for edge in &map.edges {
        canvas.polyline(edge, 0.25, 3);
    }
    canvas.polyline(&env.route().line.pts, 1.0, 5);
    let goal = *env.route().line.pts.last().unwrap();
    canvas.oriented_box(goal, 0.0, V2::splat(1.5), 5);
    for line in env_stop_lines(env) {
        let color = match env.light_state(line.2) {
            LightState::Green => 6,
            LightState::Yellow => 7,
            LightState::Red => 8,
        };
        canvas.line(line.0, line.1, 0.8, color);
    }
    for o in env.obstacles() {
        let color = if o.half.x > 1.0 { 9 } else { 10 };
        canvas.oriented_box(o.pos, o.yaw, o.half, color);
    }
    let v = env.vehicle_params();
    let half = V2::new(v.length / 2.0, v.width / 2.0);
    for t in env.traffic() {
        canvas.vehicle(t.pos, t.yaw, half, 11);
    }
    let ego = env.ego();
    let (dirs, objects, edges) = env.rays();
    let (s, c) = ego.yaw.sin_cos();
    for ((d, &obj), &edge) in dirs.iter().zip(objects).zip(edges) {
        let w = V2::new(c * d.x - s * d.y, s * d.x + c * d.y);
        canvas.line(ego.pos, ego.pos + w * obj, 0.1, 14);
        canvas.oriented_box(ego.pos + w * obj, 0.0, V2::splat(0.35), 15);
        canvas.oriented_box(ego.pos + w * edge, 0.0, V2::splat(0.3), 3);
    }
    canvas.vehicle(ego.pos, ego.yaw, half, 12);
    canvas
}

fn env_stop_lines(env: &DrivingEnv) -> Vec<(V2, V2, carrot_envs::driving::map::Signal)> {
    env.stop_lines()
        .iter()
        .map(|l| (l.a, l.b, l.signal))
        .collect()
}

/// The driving config of `--map` and `--traffic`, unless a run or `--config` gave one.
fn with_command_line_options(
    args: &RenderArgs,
    from_file: bool,
    config: DrivingConfig,
) -> anyhow::Result<DrivingConfig> {
    if from_file {
        return Ok(config);
    }
    let map = MapFamily::ALL
        .into_iter()
        .find(|f| f.name() == args.map)
        .with_context(|| format!("unknown map '{}' (town, rural, highway)", args.map))?;
    Ok(DrivingConfig {
        map,
        traffic: args.traffic,
        ..config
    })
}

/// Draws the driving env of `config` to `png` and, with `--gif`, an episode.
pub fn render(
    args: &RenderArgs,
    config: DrivingConfig,
    policy: Option<&Policy>,
    png: &Path,
) -> anyhow::Result<()> {
    if !["ego", "map"].contains(&args.view.as_str()) {
        bail!("--view must be 'ego' or 'map', got '{}'", args.view);
    }
    if args.window_m <= 0.0 {
        bail!("--window-m must be positive");
    }
    let from_file = args.run.is_some() || args.config.is_some();
    let mut env = DrivingEnv::new(with_command_line_options(args, from_file, config)?)?;
    let mut obs = vec![0.0; env.observation_space().flat_dim()];
    env.reset(Some(args.seed), &mut obs);
    let size = args.size as usize;
    let draw = |env: &DrivingEnv, _: &[f32]| draw(env, size, &args.view, args.window_m);
    write_png(png, &draw(&env, &obs))?;
    println!("wrote {}", png.display());
    let Some(gif_path) = &args.gif else {
        return Ok(());
    };
    let expert = Expert::default();
    let mut act = |env: &DrivingEnv, obs: &[f32], action: &mut [f32]| -> anyhow::Result<()> {
        match policy {
            Some(p) => action.copy_from_slice(&p.act(obs)?),
            None => expert.act_in_space(env, action),
        }
        Ok(())
    };
    let delay = (10 * args.every) as u16;
    let rec = record_gif(
        gif_path, &mut env, &mut obs, &mut act, &draw, args.steps, args.every, delay,
    )?;
    let mut metrics = vec![0.0; env.episode_metric_names().len()];
    env.episode_metrics(&mut metrics);
    let summary: Vec<String> = env
        .episode_metric_names()
        .iter()
        .zip(&metrics)
        .map(|(n, v)| format!("{n}={v:.2}"))
        .collect();
    println!(
        "wrote {} ({} frames, {} steps, driver: {}): {}",
        gif_path.display(),
        rec.frames,
        rec.steps,
        if policy.is_some() { "policy" } else { "expert" },
        summary.join(" ")
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_show_the_ego_on_asphalt_with_its_route_and_png_is_valid() {
        let config = DrivingConfig {
            traffic: 3,
            ..DrivingConfig::default()
        };
        let mut env = DrivingEnv::new(config).unwrap();
        let mut obs = vec![0.0; env.observation_space().flat_dim()];
        env.reset(Some(2), &mut obs);
        let canvas = draw(&env, 200, "ego", 60.0);
        assert_eq!(
            canvas.pixels[100 * 200 + 100],
            12,
            "the ego sits at the centre"
        );
        for color in [1, 3, 5] {
            assert!(canvas.pixels.contains(&color), "colour {color} missing");
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("frame.png");
        write_png(&path, &canvas).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(&bytes[1..4], b"PNG");
    }
}
