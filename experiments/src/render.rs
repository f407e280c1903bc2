//! `carrot render`: draws the driving world top-down (lanes, curbs, route, lights, parked
//! cars, traffic, the ego and its rays) to a PNG, and an episode driven by the expert or by a
//! trained run's policy to an animated GIF. Drawing uses a small fixed palette, so frames are
//! written as indexed images without colour quantization.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use carrot_envs::driving::geometry::V2;
use carrot_envs::driving::{DrivingConfig, DrivingEnv, Expert, LightState, MapFamily};
use carrot_envs::{Env, EnvConfig};

/// Options of `carrot render`.
#[derive(Debug, Clone, clap::Args)]
#[command(after_help = "Examples:\n  \
    carrot render --map town --png town.png\n  \
    carrot render --map highway --traffic 20 --seed 3 --gif highway.gif --steps 400\n  \
    carrot render --config experiments/configs/study/driving_base.toml --view map --png map.png\n  \
    carrot render --run runs/driving --gif policy.gif\n\n\
    Without --run the expert drives; with --run the run's last checkpoint does, on the run's\n\
    own driving config.")]
pub struct RenderArgs {
    /// Map family: town, rural or highway (ignored with --run or --config).
    #[arg(long, default_value = "town")]
    pub map: String,
    /// Episode seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[arg(long, default_value_t = 10)]
    pub traffic: usize,
    /// A TOML file holding a driving env config (a table with `id = "driving"` or an `[env]`
    /// table of a run config).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Drive with the policy of this run directory's last checkpoint instead of the expert.
    #[arg(long)]
    pub run: Option<PathBuf>,
    /// Snapshot of the first step.
    #[arg(long, default_value = "driving.png")]
    pub png: PathBuf,
    /// Record the episode to this GIF.
    #[arg(long)]
    pub gif: Option<PathBuf>,
    /// At most this many env steps in the GIF.
    #[arg(long, default_value_t = 600)]
    pub steps: usize,
    /// Keep every n-th step as a frame (frames play in real time).
    #[arg(long, default_value_t = 2)]
    pub every: usize,
    /// Image size in pixels (square).
    #[arg(long, default_value_t = 640)]
    pub size: u16,
    /// "ego": a window following the ego; "map": the whole map.
    #[arg(long, default_value = "ego")]
    pub view: String,
    /// Width of the ego window in metres.
    #[arg(long, default_value_t = 120.0)]
    pub window_m: f32,
}

const PALETTE: [[u8; 3]; 16] = [
    [34, 44, 34],    // 0 ground
    [70, 72, 76],    // 1 asphalt
    [96, 98, 104],   // 2 junction asphalt
    [230, 230, 230], // 3 curb
    [150, 150, 150], // 4 lane centre
    [60, 120, 220],  // 5 route
    [40, 200, 80],   // 6 green light
    [240, 200, 40],  // 7 yellow light
    [230, 50, 50],   // 8 red light
    [140, 140, 150], // 9 parked car
    [240, 130, 30],  // 10 obstacle
    [90, 170, 250],  // 11 traffic
    [250, 80, 200],  // 12 ego
    [255, 255, 255], // 13 heading marks
    [200, 120, 120], // 14 ray
    [255, 230, 120], // 15 ray hit
];

/// An indexed image with a world-to-pixel transform (north up).
struct Canvas {
    size: usize,
    pixels: Vec<u8>,
    origin: V2,
    scale: f32,
}

impl Canvas {
    fn new(size: usize, centre: V2, width_m: f32) -> Self {
        let scale = size as f32 / width_m;
        Canvas {
            size,
            pixels: vec![0; size * size],
            origin: centre - V2::splat(width_m * 0.5),
            scale,
        }
    }

    fn px(&self, p: V2) -> V2 {
        let q = (p - self.origin) * self.scale;
        V2::new(q.x, self.size as f32 - q.y)
    }

    /// Fills a convex polygon given in world coordinates.
    fn polygon(&mut self, pts: &[V2], color: u8) {
        let q: Vec<V2> = pts.iter().map(|&p| self.px(p)).collect();
        let (mut lo, mut hi) = (q[0], q[0]);
        for &p in &q {
            lo = lo.min(p);
            hi = hi.max(p);
        }
        let n = self.size as f32;
        if hi.x < 0.0 || hi.y < 0.0 || lo.x >= n || lo.y >= n {
            return;
        }
        let area: f32 = (0..q.len())
            .map(|i| {
                let (a, b) = (q[i], q[(i + 1) % q.len()]);
                a.x * b.y - a.y * b.x
            })
            .sum();
        let sign = if area >= 0.0 { 1.0 } else { -1.0 };
        let (x0, x1) = (lo.x.max(0.0) as usize, (hi.x.min(n - 1.0)) as usize);
        let (y0, y1) = (lo.y.max(0.0) as usize, (hi.y.min(n - 1.0)) as usize);
        for y in y0..=y1 {
            for x in x0..=x1 {
                let p = V2::new(x as f32 + 0.5, y as f32 + 0.5);
                let inside = (0..q.len()).all(|i| {
                    let (a, b) = (q[i], q[(i + 1) % q.len()]);
                    sign * ((b.x - a.x) * (p.y - a.y) - (b.y - a.y) * (p.x - a.x)) >= 0.0
                });
                if inside {
                    self.pixels[y * self.size + x] = color;
                }
            }
        }
    }

    /// A line `width` metres wide (at least one pixel).
    fn line(&mut self, a: V2, b: V2, width: f32, color: u8) {
        let d = (b - a).normalize_or_zero();
        let half = (width * 0.5).max(0.6 / self.scale);
        let n = V2::new(-d.y, d.x) * half;
        self.polygon(&[a + n, b + n, b - n, a - n], color);
    }

    fn polyline(&mut self, pts: &[V2], width: f32, color: u8) {
        for w in pts.windows(2) {
            self.line(w[0], w[1], width, color);
        }
        // Round joints so wide strips have no notches on the outside of curves.
        if width * self.scale > 3.0 && pts.len() > 2 {
            for &p in &pts[1..pts.len() - 1] {
                self.disc(p, width * 0.5, color);
            }
        }
    }

    fn disc(&mut self, centre: V2, radius: f32, color: u8) {
        let pts: Vec<V2> = (0..8)
            .map(|i| {
                let a = std::f32::consts::TAU * (i as f32 + 0.5) / 8.0;
                centre + V2::new(a.cos(), a.sin()) * (radius / (std::f32::consts::PI / 8.0).cos())
            })
            .collect();
        self.polygon(&pts, color);
    }

    fn oriented_box(&mut self, pos: V2, yaw: f32, half: V2, color: u8) {
        let (s, c) = yaw.sin_cos();
        let (ax, ay) = (V2::new(c, s) * half.x, V2::new(-s, c) * half.y);
        self.polygon(
            &[pos + ax + ay, pos - ax + ay, pos - ax - ay, pos + ax - ay],
            color,
        );
    }

    fn vehicle(&mut self, pos: V2, yaw: f32, half: V2, color: u8) {
        self.oriented_box(pos, yaw, half, color);
        let nose = pos + V2::new(yaw.cos(), yaw.sin()) * (half.x * 0.6);
        self.oriented_box(nose, yaw, V2::new(half.x * 0.25, half.y * 0.7), 13);
    }

    fn rgb(&self) -> Vec<u8> {
        self.pixels
            .iter()
            .flat_map(|&i| PALETTE[i as usize])
            .collect()
    }
}

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

fn write_png(path: &Path, canvas: &Canvas) -> anyhow::Result<()> {
    let file = File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut enc = png::Encoder::new(BufWriter::new(file), canvas.size as u32, canvas.size as u32);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    let mut writer = enc.write_header()?;
    writer.write_image_data(&canvas.rgb())?;
    Ok(())
}

/// The driving config to render: from `--run`, `--config`, or the command-line options.
fn driving_config(args: &RenderArgs, run_env: Option<EnvConfig>) -> anyhow::Result<DrivingConfig> {
    if let Some(env) = run_env {
        return match env {
            EnvConfig::Driving(c) => Ok(c),
            other => bail!("the run trains env '{}', not 'driving'", other.id()),
        };
    }
    if let Some(path) = &args.config {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let value: toml::Value =
            toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        let table = value.get("env").cloned().unwrap_or(value);
        let env: EnvConfig = table
            .try_into()
            .with_context(|| format!("{}: not an env config", path.display()))?;
        return driving_config(args, Some(env));
    }
    let map = MapFamily::ALL
        .into_iter()
        .find(|f| f.name() == args.map)
        .with_context(|| format!("unknown map '{}' (town, rural, highway)", args.map))?;
    Ok(DrivingConfig {
        map,
        traffic: args.traffic,
        ..DrivingConfig::default()
    })
}

pub fn run(args: &RenderArgs) -> anyhow::Result<()> {
    if !["ego", "map"].contains(&args.view.as_str()) {
        bail!("--view must be 'ego' or 'map', got '{}'", args.view);
    }
    if args.size < 64 || args.every == 0 || args.window_m <= 0.0 {
        bail!("--size must be at least 64, --every and --window-m positive");
    }
    let policy = match &args.run {
        Some(dir) => Some(
            carrot_agents::load_policy(dir)
                .with_context(|| format!("loading the policy of {}", dir.display()))?,
        ),
        None => None,
    };
    let config = driving_config(args, policy.as_ref().map(|p| p.config.env.clone()))?;
    let mut env = DrivingEnv::new(config)?;
    let mut obs = vec![0.0; env.observation_space().flat_dim()];
    let mut sig = vec![0.0; env.signal_spec().len()];
    env.reset(Some(args.seed), &mut obs);
    let size = args.size as usize;
    write_png(&args.png, &draw(&env, size, &args.view, args.window_m))?;
    println!("wrote {}", args.png.display());
    let Some(gif_path) = &args.gif else {
        return Ok(());
    };
    let file =
        File::create(gif_path).with_context(|| format!("creating {}", gif_path.display()))?;
    let palette: Vec<u8> = PALETTE.iter().flatten().copied().collect();
    let mut gif = gif::Encoder::new(BufWriter::new(file), args.size, args.size, &palette)?;
    gif.set_repeat(gif::Repeat::Infinite)?;
    let expert = Expert::default();
    let mut action = vec![0.0; env.action_space().flat_dim()];
    let (mut frames, mut steps) = (0, 0);
    let delay = (10 * args.every) as u16;
    loop {
        if steps % args.every == 0 {
            let canvas = draw(&env, size, &args.view, args.window_m);
            let mut frame =
                gif::Frame::from_indexed_pixels(args.size, args.size, canvas.pixels, None);
            frame.delay = delay;
            gif.write_frame(&frame)?;
            frames += 1;
        }
        if steps == args.steps {
            break;
        }
        match &policy {
            Some(p) => action = p.policy.act(&obs)?,
            None => expert.act_in_space(&env, &mut action),
        }
        steps += 1;
        if env.step(&action, &mut obs, &mut sig).done() {
            let canvas = draw(&env, size, &args.view, args.window_m);
            let mut frame =
                gif::Frame::from_indexed_pixels(args.size, args.size, canvas.pixels, None);
            frame.delay = 200;
            gif.write_frame(&frame)?;
            frames += 1;
            break;
        }
    }
    let mut metrics = vec![0.0; env.episode_metric_names().len()];
    env.episode_metrics(&mut metrics);
    let summary: Vec<String> = env
        .episode_metric_names()
        .iter()
        .zip(&metrics)
        .map(|(n, v)| format!("{n}={v:.2}"))
        .collect();
    println!(
        "wrote {} ({frames} frames, {steps} steps, driver: {}): {}",
        gif_path.display(),
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
