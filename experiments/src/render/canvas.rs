//! The drawing surface of `carrot render`: an indexed square image with a world-to-pixel
//! transform (y up) and filled convex shapes, over one fixed palette.

use carrot_envs::driving::geometry::V2;

pub const PALETTE: [[u8; 3]; 16] = [
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
pub struct Canvas {
    pub size: usize,
    pub pixels: Vec<u8>,
    origin: V2,
    scale: f32,
}

impl Canvas {
    pub fn new(size: usize, centre: V2, width_m: f32) -> Self {
        let scale = size as f32 / width_m;
        Canvas {
            size,
            pixels: vec![0; size * size],
            origin: centre - V2::splat(width_m * 0.5),
            scale,
        }
    }

    /// Paints every pixel `color`.
    pub fn fill(&mut self, color: u8) {
        self.pixels.fill(color);
    }

    pub fn px(&self, p: V2) -> V2 {
        let q = (p - self.origin) * self.scale;
        V2::new(q.x, self.size as f32 - q.y)
    }

    /// Fills a convex polygon given in world coordinates.
    pub fn polygon(&mut self, pts: &[V2], color: u8) {
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
    pub fn line(&mut self, a: V2, b: V2, width: f32, color: u8) {
        let d = (b - a).normalize_or_zero();
        let half = (width * 0.5).max(0.6 / self.scale);
        let n = V2::new(-d.y, d.x) * half;
        self.polygon(&[a + n, b + n, b - n, a - n], color);
    }

    pub fn polyline(&mut self, pts: &[V2], width: f32, color: u8) {
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

    pub fn disc(&mut self, centre: V2, radius: f32, color: u8) {
        let pts: Vec<V2> = (0..8)
            .map(|i| {
                let a = std::f32::consts::TAU * (i as f32 + 0.5) / 8.0;
                centre + V2::new(a.cos(), a.sin()) * (radius / (std::f32::consts::PI / 8.0).cos())
            })
            .collect();
        self.polygon(&pts, color);
    }

    pub fn oriented_box(&mut self, pos: V2, yaw: f32, half: V2, color: u8) {
        let (s, c) = yaw.sin_cos();
        let (ax, ay) = (V2::new(c, s) * half.x, V2::new(-s, c) * half.y);
        self.polygon(
            &[pos + ax + ay, pos - ax + ay, pos - ax - ay, pos + ax - ay],
            color,
        );
    }

    pub fn vehicle(&mut self, pos: V2, yaw: f32, half: V2, color: u8) {
        self.oriented_box(pos, yaw, half, color);
        let nose = pos + V2::new(yaw.cos(), yaw.sin()) * (half.x * 0.6);
        self.oriented_box(nose, yaw, V2::new(half.x * 0.25, half.y * 0.7), 13);
    }

    pub fn rgb(&self) -> Vec<u8> {
        self.pixels
            .iter()
            .flat_map(|&i| PALETTE[i as usize])
            .collect()
    }
}
