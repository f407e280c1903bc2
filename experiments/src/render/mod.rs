//! `carrot render`: pictures of every env. The driving world is drawn top-down
//! ([`driving`]); the control tasks as simple side views from their observations ([`control`]).
//! A PNG of the first state, and optionally an animated GIF of an episode driven by the expert
//! (driving), a random or zero policy (control tasks), or a trained run's policy (`--run`).
//! Drawing uses a small fixed palette, so frames are written as indexed images without colour
//! quantization.

pub mod canvas;
pub mod control;
pub mod driving;

use std::fs::File;
use std::io::{BufWriter, Write as _};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use carrot_envs::{Env, EnvConfig};

use crate::render::canvas::{Canvas, PALETTE};

/// Options of `carrot render`.
#[derive(Debug, Clone, clap::Args)]
#[command(after_help = "Examples:\n  \
    carrot render --map town --png town.png\n  \
    carrot render --map highway --traffic 20 --seed 3 --gif highway.gif --steps 400\n  \
    carrot render --config experiments/configs/study/driving_base.toml --view map --png map.png\n  \
    carrot render --run runs/driving --gif policy.gif\n  \
    carrot render --env cartpole --png cartpole.png --gif cartpole.gif --steps 200\n  \
    carrot render --env pendulum --policy zero --gif pendulum.gif\n  \
    carrot render --run runs/cartpole --gif cartpole_policy.gif\n\n\
    Without --run the expert drives the driving env and a random (or zero) policy acts in the\n\
    control tasks; with --run the run's last checkpoint acts, on the run's own env config.")]
pub struct RenderArgs {
    /// Env to draw: driving, cartpole, pendulum, acrobot or mountain_car (ignored with --run
    /// or --config).
    #[arg(long, default_value = "driving")]
    pub env: String,
    /// Map family: town, rural or highway (driving only; ignored with --run or --config).
    #[arg(long, default_value = "town")]
    pub map: String,
    /// Episode seed (also seeds the random policy).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Traffic vehicles (driving only).
    #[arg(long, default_value_t = 10)]
    pub traffic: usize,
    /// A TOML file holding an env config (a table with `id = "..."` or an `[env]` table of a
    /// run config).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Act with the policy of this run directory's last checkpoint.
    #[arg(long)]
    pub run: Option<PathBuf>,
    /// Without --run, the control tasks' policy: "random" or "zero".
    #[arg(long, default_value = "random")]
    pub policy: String,
    /// Snapshot of the first step (default: ENV.png).
    #[arg(long)]
    pub png: Option<PathBuf>,
    /// Record the episode to this GIF.
    #[arg(long)]
    pub gif: Option<PathBuf>,
    /// At most this many env steps in the GIF.
    #[arg(long, default_value_t = 600)]
    pub steps: usize,
    /// Keep every n-th step as a frame (frames play in real time for driving).
    #[arg(long, default_value_t = 2)]
    pub every: usize,
    /// Image size in pixels (square).
    #[arg(long, default_value_t = 640)]
    pub size: u16,
    /// "ego": a window following the ego; "map": the whole map (driving only).
    #[arg(long, default_value = "ego")]
    pub view: String,
    /// Width of the ego window in metres (driving only).
    #[arg(long, default_value_t = 120.0)]
    pub window_m: f32,
}

/// Writes `canvas` as an RGB PNG, atomically (temp file + rename).
pub fn write_png(path: &Path, canvas: &Canvas) -> anyhow::Result<()> {
    let tmp = temp_path(path);
    let file = File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    let size = canvas.size as u32;
    let mut enc = png::Encoder::new(BufWriter::new(file), size, size);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    let mut writer = enc.write_header()?;
    writer.write_image_data(&canvas.rgb())?;
    writer.finish()?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))
}

fn temp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    path.with_file_name(name)
}

/// What acts in a recorded episode.
pub type Actor<'a, E> = dyn FnMut(&E, &[f32], &mut [f32]) -> anyhow::Result<()> + 'a;

/// An episode recorded to a GIF: frames, steps and whether it ended before `--steps`.
pub struct Recording {
    pub frames: usize,
    pub steps: usize,
}

/// Steps `env` (already reset, its observation in `obs`) with `act`, drawing every `every`-th
/// state with `draw`, into the GIF at `path` (written atomically).
#[allow(clippy::too_many_arguments)]
pub fn record_gif<E: Env + ?Sized>(
    path: &Path,
    env: &mut E,
    obs: &mut [f32],
    act: &mut Actor<'_, E>,
    draw: &dyn Fn(&E, &[f32]) -> Canvas,
    steps: usize,
    every: usize,
    frame_delay: u16,
) -> anyhow::Result<Recording> {
    let tmp = temp_path(path);
    let file = File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    let size = draw(env, obs).size as u16;
    let palette: Vec<u8> = PALETTE.iter().flatten().copied().collect();
    let mut gif = gif::Encoder::new(BufWriter::new(file), size, size, &palette)?;
    gif.set_repeat(gif::Repeat::Infinite)?;
    let mut write = |canvas: Canvas, delay: u16| -> anyhow::Result<()> {
        let mut frame = gif::Frame::from_indexed_pixels(size, size, canvas.pixels, None);
        frame.delay = delay;
        gif.write_frame(&frame)?;
        Ok(())
    };
    let mut action = vec![0.0; env.action_space().flat_dim()];
    let mut signals = vec![0.0; env.signal_spec().len()];
    let mut rec = Recording {
        frames: 0,
        steps: 0,
    };
    loop {
        if rec.steps.is_multiple_of(every) {
            write(draw(env, obs), frame_delay)?;
            rec.frames += 1;
        }
        if rec.steps == steps {
            break;
        }
        act(env, obs, &mut action)?;
        rec.steps += 1;
        if env.step(&action, obs, &mut signals).done() {
            write(draw(env, obs), 200)?;
            rec.frames += 1;
            break;
        }
    }
    gif.into_inner()?.flush()?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
    Ok(rec)
}

/// The env config to render: the run's, `--config`'s, or the defaults of `--env`.
fn env_config(args: &RenderArgs, run_env: Option<EnvConfig>) -> anyhow::Result<EnvConfig> {
    if let Some(env) = run_env {
        return Ok(env);
    }
    if let Some(path) = &args.config {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let value: toml::Value =
            toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        let table = value.get("env").cloned().unwrap_or(value);
        return table
            .try_into()
            .with_context(|| format!("{}: not an env config", path.display()));
    }
    crate::envs_cmd::default_env_config(&args.env)
}

pub fn run(args: &RenderArgs) -> anyhow::Result<()> {
    if args.size < 64 || args.every == 0 {
        bail!("--size must be at least 64 and --every positive");
    }
    let policy = match &args.run {
        Some(dir) => Some(
            carrot_agents::load_policy(dir)
                .with_context(|| format!("loading the policy of {}", dir.display()))?,
        ),
        None => None,
    };
    let config = env_config(args, policy.as_ref().map(|p| p.config.env.clone()))?;
    let png = args
        .png
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("{}.png", config.id())));
    let policy = policy.as_ref().map(|p| &p.policy);
    match config {
        EnvConfig::Driving(c) => driving::render(args, c, policy, &png),
        EnvConfig::GridWorld(_) => bail!("carrot render has no drawing for env 'grid_world'"),
        control => control::render(args, &control, policy, &png),
    }
}
