//! `carrot render` of the control tasks, as side views drawn from each observation: cartpole's
//! cart and pole, pendulum's rod, acrobot's two links, mountain car's track and car. Episodes are
//! acted by a seeded random policy, zeros, or a trained run's policy.

use std::path::Path;

use anyhow::bail;
use carrot_agents::Policy;
use carrot_envs::driving::geometry::V2;
use carrot_envs::{env_rng, Env, EnvConfig};

use crate::render::canvas::Canvas;
use crate::render::{record_gif, write_png, Actor, RenderArgs};

const TRACK: u8 = 3;
const CART: u8 = 9;
const POLE: u8 = 10;
const JOINT: u8 = 13;
const CAR: u8 = 12;
const FLAG: u8 = 7;
const SKY: u8 = 1;

/// Cartpole: the cart at `x` on its rail and the pole tilted by `theta` (0 upright, positive to
/// the right), from the observation (x, x_dot, theta, theta_dot).
pub fn draw_cartpole(obs: &[f32], size: usize) -> Canvas {
    let (x, theta) = (obs[0], obs[2]);
    let mut canvas = Canvas::new(size, V2::new(0.0, 0.6), 5.6);
    canvas.fill(SKY);
    canvas.line(V2::new(-2.4, 0.0), V2::new(2.4, 0.0), 0.03, TRACK);
    let cart = V2::new(x, 0.12);
    canvas.oriented_box(cart, 0.0, V2::new(0.25, 0.12), CART);
    let tip = cart + V2::new(theta.sin(), theta.cos());
    canvas.line(cart, tip, 0.08, POLE);
    canvas.disc(cart, 0.04, JOINT);
    canvas
}

/// Pendulum: the rod from the pivot at angle theta (0 upright), from (cos, sin, theta_dot).
pub fn draw_pendulum(obs: &[f32], size: usize) -> Canvas {
    let theta = obs[1].atan2(obs[0]);
    let mut canvas = Canvas::new(size, V2::ZERO, 2.6);
    canvas.fill(SKY);
    let tip = V2::new(theta.sin(), theta.cos());
    canvas.line(V2::ZERO, tip, 0.12, POLE);
    canvas.disc(tip, 0.07, CART);
    canvas.disc(V2::ZERO, 0.05, JOINT);
    canvas
}

/// Acrobot: two unit links hanging from the pivot (theta1 = 0 straight down, theta2 relative
/// to the first link), from (cos1, sin1, cos2, sin2, dot1, dot2), and the goal line.
pub fn draw_acrobot(obs: &[f32], size: usize) -> Canvas {
    let theta1 = obs[1].atan2(obs[0]);
    let theta2 = obs[3].atan2(obs[2]);
    let mut canvas = Canvas::new(size, V2::ZERO, 4.6);
    canvas.fill(SKY);
    canvas.line(V2::new(-2.2, 1.0), V2::new(2.2, 1.0), 0.03, FLAG);
    let elbow = V2::new(theta1.sin(), -theta1.cos());
    let hand = elbow + V2::new((theta1 + theta2).sin(), -(theta1 + theta2).cos());
    canvas.line(V2::ZERO, elbow, 0.12, POLE);
    canvas.line(elbow, hand, 0.12, CART);
    canvas.disc(V2::ZERO, 0.07, JOINT);
    canvas.disc(elbow, 0.07, JOINT);
    canvas
}

/// Mountain car's track height as drawn (Gymnasium's picture, steeper than the physics').
fn track_height(x: f32) -> f32 {
    0.45 * (3.0 * x).sin() + 0.55
}

/// Mountain car: the valley track on [-1.2, 0.6], the goal flag at 0.5 and the car at the
/// observed position, tilted with the track.
pub fn draw_mountain_car(obs: &[f32], size: usize) -> Canvas {
    let x = obs[0];
    let mut canvas = Canvas::new(size, V2::new(-0.3, 0.55), 1.95);
    canvas.fill(SKY);
    let track: Vec<V2> = (0..=90)
        .map(|i| {
            let x = -1.2 + 1.8 * i as f32 / 90.0;
            V2::new(x, track_height(x))
        })
        .collect();
    canvas.polyline(&track, 0.015, TRACK);
    let goal = V2::new(0.5, track_height(0.5));
    canvas.line(goal, goal + V2::new(0.0, 0.12), 0.01, FLAG);
    canvas.oriented_box(goal + V2::new(0.03, 0.105), 0.0, V2::new(0.03, 0.015), FLAG);
    let yaw = (1.35 * (3.0 * x).cos()).atan();
    let normal = V2::new(-yaw.sin(), yaw.cos());
    let car = V2::new(x, track_height(x)) + normal * 0.04;
    canvas.vehicle(car, yaw, V2::new(0.07, 0.035), CAR);
    canvas
}

/// The drawing of one control env from its observation.
pub fn drawing_of(id: &str) -> anyhow::Result<fn(&[f32], usize) -> Canvas> {
    Ok(match id {
        "cartpole" => draw_cartpole,
        "pendulum" => draw_pendulum,
        "acrobot" => draw_acrobot,
        "mountain_car" => draw_mountain_car,
        other => bail!("carrot render has no drawing for env '{other}'"),
    })
}

/// Draws the control env of `config` to `png` and, with `--gif`, an episode.
pub fn render(
    args: &RenderArgs,
    config: &EnvConfig,
    policy: Option<&Policy>,
    png: &Path,
) -> anyhow::Result<()> {
    let drawing = drawing_of(config.id())?;
    if policy.is_none() && !["random", "zero"].contains(&args.policy.as_str()) {
        bail!("--policy must be 'random' or 'zero', got '{}'", args.policy);
    }
    let mut env = config.build()?;
    let mut obs = vec![0.0; env.observation_space().flat_dim()];
    env.reset(Some(args.seed), &mut obs);
    let size = args.size as usize;
    let draw: &dyn Fn(&(dyn Env + 'static), &[f32]) -> Canvas = &|_, obs| drawing(obs, size);
    write_png(png, &drawing(&obs, size))?;
    println!("wrote {}", png.display());
    let Some(gif_path) = &args.gif else {
        return Ok(());
    };
    let mut rng = env_rng(args.seed ^ 0x5eed_a0c7);
    let random = args.policy == "random";
    let act: &mut Actor<'_, dyn Env> = &mut |env, obs, action| {
        match policy {
            Some(p) => action.copy_from_slice(&p.act(obs)?),
            None if random => env.action_space().sample(&mut rng, action),
            None => action.fill(0.0),
        }
        Ok(())
    };
    // Control tasks step at 20-50 Hz; 4 cs per frame keeps short episodes watchable.
    let rec = record_gif(
        gif_path, &mut *env, &mut obs, act, draw, args.steps, args.every, 4,
    )?;
    println!(
        "wrote {} ({} frames, {} steps, driver: {})",
        gif_path.display(),
        rec.frames,
        rec.steps,
        if policy.is_some() {
            "policy"
        } else {
            &args.policy
        }
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f32::consts::PI;

    #[test]
    fn the_pole_angle_changes_the_cartpole_frame() {
        let upright = draw_cartpole(&[0.0, 0.0, 0.0, 0.0], 128);
        let tilted = draw_cartpole(&[0.0, 0.0, 0.2, 0.0], 128);
        let moved = draw_cartpole(&[1.0, 0.0, 0.0, 0.0], 128);
        assert_ne!(upright.pixels, tilted.pixels);
        assert_ne!(upright.pixels, moved.pixels);
        // The upright pole covers the pixel 0.68 m straight above the cart, the tilted one
        // does not: the view spans y in [-2.2, 3.4] over 128 rows.
        let row = (128.0 - (0.8 + 2.2) * 128.0 / 5.6) as usize;
        let above = |c: &Canvas| c.pixels[row * 128 + 64];
        assert_eq!(above(&upright), POLE);
        assert_ne!(above(&tilted), POLE);
    }

    #[test]
    fn every_control_drawing_shows_its_moving_part() {
        let cases: [(&str, Vec<f32>, u8); 4] = [
            ("cartpole", vec![0.5, 0.0, -0.1, 0.0], POLE),
            ("pendulum", vec![PI.cos(), PI.sin(), 0.0], POLE),
            ("acrobot", vec![1.0, 0.0, 0.0, 1.0, 0.0, 0.0], CART),
            ("mountain_car", vec![-0.5, 0.0], CAR),
        ];
        for (id, obs, part) in cases {
            let canvas = drawing_of(id).unwrap()(&obs, 96);
            assert!(canvas.pixels.contains(&part), "{id}: no colour {part}");
            assert!(canvas.pixels.contains(&SKY), "{id}: no background");
        }
        assert!(drawing_of("grid_world").is_err());
    }
}
