//! Comfort as CaRL computes it: the ego's accelerations and yaw smoothed with causal
//! Savitzky-Golay filters (least-squares polynomials over the last few steps, evaluated at the
//! newest), jerk as the derivative of the acceleration magnitude, six limits (CaRL's CARLA
//! values by default), and each violated limit held for `comfort_penalty_ticks` steps.

use serde::{Deserialize, Serialize};

/// CaRL's six comfort limits: the longitudinal acceleration range, then magnitudes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ComfortLimits {
    pub lon_accel_min: f32,
    pub lon_accel_max: f32,
    pub lat_accel: f32,
    pub jerk: f32,
    pub lon_jerk: f32,
    pub yaw_rate: f32,
    pub yaw_accel: f32,
}

impl Default for ComfortLimits {
    /// CaRL's CARLA limits (its nuPlan values are stricter: -4.05/2.40, 4.89, 8.37, 4.13,
    /// 0.95, 1.93).
    fn default() -> Self {
        ComfortLimits {
            lon_accel_min: -20.0,
            lon_accel_max: 10.0,
            lat_accel: 9.0,
            jerk: 30.0,
            lon_jerk: 30.0,
            yaw_rate: 1.0,
            yaw_accel: 3.0,
        }
    }
}

/// Names of the six limits (the two longitudinal acceleration bounds are one limit), in the
/// order the episode's hold counters and the `comfort_hold_left_*` metrics use.
pub const COMFORT_LIMITS: [&str; 6] = [
    "lon_accel",
    "lat_accel",
    "jerk",
    "lon_jerk",
    "yaw_rate",
    "yaw_accel",
];

/// CaRL's filter windows (steps): accelerations 8, jerks 15, yaw 5.
const ACCEL_WINDOW: usize = 8;
const JERK_WINDOW: usize = 15;
const YAW_WINDOW: usize = 5;
/// No limit is checked before this many steps of history (CaRL waits for a full accel window).
const MIN_HISTORY: usize = ACCEL_WINDOW;

/// The smoothed quantities of one step.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ComfortSignals {
    pub lon_accel: f32,
    pub lat_accel: f32,
    pub jerk: f32,
    pub lon_jerk: f32,
    pub yaw_rate: f32,
    pub yaw_accel: f32,
}

/// A fixed-capacity history, oldest first.
#[derive(Clone, Debug, Default)]
struct History {
    values: Vec<f64>,
    capacity: usize,
}

impl History {
    fn new(capacity: usize) -> Self {
        History {
            values: Vec::with_capacity(capacity),
            capacity,
        }
    }
    fn push(&mut self, v: f64) {
        if self.values.len() == self.capacity {
            self.values.remove(0);
        }
        self.values.push(v);
    }
    fn last(&self, n: usize) -> &[f64] {
        &self.values[self.values.len() - n.min(self.values.len())..]
    }
}

/// The comfort state of one episode.
#[derive(Clone, Debug)]
pub struct Comfort {
    lon: History,
    lat: History,
    mag: History,
    lon_smooth: History,
    mag_smooth: History,
    yaw: History,
    steps: usize,
    /// Steps each limit stays violated for (0: not held).
    held: [u32; 6],
    pub latest: ComfortSignals,
}

impl Default for Comfort {
    fn default() -> Self {
        Comfort {
            lon: History::new(ACCEL_WINDOW),
            lat: History::new(ACCEL_WINDOW),
            mag: History::new(ACCEL_WINDOW),
            lon_smooth: History::new(JERK_WINDOW),
            mag_smooth: History::new(JERK_WINDOW),
            yaw: History::new(YAW_WINDOW),
            steps: 0,
            held: [0; 6],
            latest: ComfortSignals::default(),
        }
    }
}

impl Comfort {
    /// Adds one control step (accelerations in the ego frame, yaw in radians), updates the
    /// smoothed signals and the holds, and returns the number of limits held.
    pub fn update(
        &mut self,
        lon_accel: f32,
        lat_accel: f32,
        yaw: f32,
        dt: f32,
        limits: &ComfortLimits,
        ticks: u32,
    ) -> u32 {
        let mag = (lon_accel as f64).hypot(lat_accel as f64);
        self.lon.push(lon_accel as f64);
        self.lat.push(lat_accel as f64);
        self.mag.push(mag);
        let unwrapped = match self.yaw.values.last() {
            Some(&prev) => prev + wrap(yaw as f64 - prev),
            None => yaw as f64,
        };
        self.yaw.push(unwrapped);
        let lon_s = smooth(self.lon.last(ACCEL_WINDOW), 2, 0, dt);
        let mag_s = smooth(self.mag.last(ACCEL_WINDOW), 2, 0, dt);
        self.lon_smooth.push(lon_s);
        self.mag_smooth.push(mag_s);
        self.steps += 1;
        self.latest = ComfortSignals {
            lon_accel: lon_s as f32,
            lat_accel: smooth(self.lat.last(ACCEL_WINDOW), 2, 0, dt) as f32,
            jerk: smooth(self.mag_smooth.last(JERK_WINDOW), 2, 1, dt) as f32,
            lon_jerk: smooth(self.lon_smooth.last(JERK_WINDOW), 2, 1, dt) as f32,
            yaw_rate: smooth(self.yaw.last(YAW_WINDOW), 2, 1, dt) as f32,
            yaw_accel: smooth(self.yaw.last(YAW_WINDOW), 3, 2, dt) as f32,
        };
        for h in self.held.iter_mut() {
            *h = h.saturating_sub(1);
        }
        if self.steps >= MIN_HISTORY {
            let s = &self.latest;
            let violated = [
                s.lon_accel < limits.lon_accel_min || s.lon_accel > limits.lon_accel_max,
                s.lat_accel.abs() > limits.lat_accel,
                s.jerk.abs() > limits.jerk,
                s.lon_jerk.abs() > limits.lon_jerk,
                s.yaw_rate.abs() > limits.yaw_rate,
                s.yaw_accel.abs() > limits.yaw_accel,
            ];
            for (h, v) in self.held.iter_mut().zip(violated) {
                if v {
                    *h = ticks;
                }
            }
        }
        self.held.iter().filter(|&&h| h > 0).count() as u32
    }

    /// Steps each limit stays held.
    pub fn held(&self) -> [u32; 6] {
        self.held
    }
}

fn wrap(a: f64) -> f64 {
    use std::f64::consts::{PI, TAU};
    (a + PI).rem_euclid(TAU) - PI
}

/// The `deriv`-th derivative at the newest sample of the least-squares polynomial of degree
/// `order` through `ys` (samples `dt` apart); with fewer samples than `order + 1` the degree
/// drops to what they allow.
fn smooth(ys: &[f64], order: usize, deriv: usize, dt: f32) -> f64 {
    let n = ys.len();
    let order = order.min(n.saturating_sub(1));
    if deriv > order {
        return 0.0;
    }
    let coeffs = fit_plan(n, order + 1).solve(ys);
    let factorial = (1..=deriv).product::<usize>() as f64;
    factorial * coeffs[deriv] / (dt as f64).powi(deriv as i32)
}

/// The most samples a fit takes.
const MAX_FIT_SAMPLES: usize = JERK_WINDOW;

/// The part of a least-squares fit of `n` samples with `m` coefficients that does not depend
/// on the samples: each sample's powers of x and the steps Gaussian elimination (with partial
/// pivoting) takes on the normal matrix. [`FitPlan::solve`] replays them on the right-hand side:
/// the same floating-point operations in the same order as a full solve, without redoing the
/// matrix every step.
#[derive(Clone, Copy, Debug)]
struct FitPlan {
    n: usize,
    m: usize,
    /// `x^k` of sample `i`, x = i - (n - 1) (0 for the newest, -1, -2, ... before it).
    powers: [[f64; 4]; MAX_FIT_SAMPLES],
    pivots: [usize; 4],
    /// False where the column's pivot was (near) zero and elimination skipped it.
    eliminated: [bool; 4],
    /// `factors[col][row]`: the multiple of row `col` subtracted from row `row`.
    factors: [[f64; 4]; 4],
    diagonal: [f64; 4],
}

impl FitPlan {
    #[allow(clippy::needless_range_loop)] // Matrix indices read clearer than iterator chains here.
    fn new(n: usize, m: usize) -> Self {
        let mut plan = FitPlan {
            n,
            m,
            powers: [[1.0; 4]; MAX_FIT_SAMPLES],
            pivots: [0; 4],
            eliminated: [false; 4],
            factors: [[0.0; 4]; 4],
            diagonal: [0.0; 4],
        };
        let mut a = [[0.0f64; 4]; 4];
        for i in 0..n {
            let x = i as f64 - (n - 1) as f64;
            let powers = &mut plan.powers[i];
            for k in 1..m {
                powers[k] = powers[k - 1] * x;
            }
            for r in 0..m {
                for c in 0..m {
                    a[r][c] += powers[r] * powers[c];
                }
            }
        }
        for col in 0..m {
            let pivot = (col..m)
                .max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))
                .unwrap_or(col);
            a.swap(col, pivot);
            plan.pivots[col] = pivot;
            let d = a[col][col];
            if d.abs() < 1e-12 {
                continue;
            }
            plan.eliminated[col] = true;
            for row in 0..m {
                if row != col {
                    let f = a[row][col] / d;
                    for c in col..m {
                        a[row][c] -= f * a[col][c];
                    }
                    plan.factors[col][row] = f;
                }
            }
        }
        for i in 0..m {
            plan.diagonal[i] = a[i][i];
        }
        plan
    }

    /// The fit's coefficients for samples `ys` (`n` of them).
    #[allow(clippy::needless_range_loop)]
    fn solve(&self, ys: &[f64]) -> [f64; 4] {
        debug_assert_eq!(ys.len(), self.n);
        let m = self.m;
        let mut b = [0.0f64; 4];
        for (powers, &y) in self.powers.iter().zip(ys) {
            for r in 0..m {
                b[r] += powers[r] * y;
            }
        }
        for col in 0..m {
            b.swap(col, self.pivots[col]);
            if !self.eliminated[col] {
                continue;
            }
            for row in 0..m {
                if row != col {
                    b[row] -= self.factors[col][row] * b[col];
                }
            }
        }
        let mut x = [0.0; 4];
        for i in 0..m {
            if self.diagonal[i].abs() >= 1e-12 {
                x[i] = b[i] / self.diagonal[i];
            }
        }
        x
    }
}

/// The plan for `n` samples (1 to [`MAX_FIT_SAMPLES`]) and `m` coefficients (1 to 4), built
/// once per process.
fn fit_plan(n: usize, m: usize) -> &'static FitPlan {
    static PLANS: std::sync::OnceLock<Vec<FitPlan>> = std::sync::OnceLock::new();
    let plans = PLANS.get_or_init(|| {
        (1..=MAX_FIT_SAMPLES)
            .flat_map(|n| (1..=4).map(move |m| FitPlan::new(n, m)))
            .collect()
    });
    &plans[(n - 1) * 4 + (m - 1)]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The full least-squares solve `FitPlan` replays: normal equations, then Gaussian
    /// elimination with partial pivoting.
    #[allow(clippy::needless_range_loop)]
    fn full_solve(ys: &[f64], m: usize) -> [f64; 4] {
        let n = ys.len();
        let mut a = [[0.0f64; 4]; 4];
        let mut b = [0.0f64; 4];
        for (i, &y) in ys.iter().enumerate() {
            let x = i as f64 - (n - 1) as f64;
            let mut powers = [1.0f64; 4];
            for k in 1..m {
                powers[k] = powers[k - 1] * x;
            }
            for r in 0..m {
                b[r] += powers[r] * y;
                for c in 0..m {
                    a[r][c] += powers[r] * powers[c];
                }
            }
        }
        for col in 0..m {
            let pivot = (col..m)
                .max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))
                .unwrap_or(col);
            a.swap(col, pivot);
            b.swap(col, pivot);
            let d = a[col][col];
            if d.abs() < 1e-12 {
                continue;
            }
            for row in 0..m {
                if row != col {
                    let f = a[row][col] / d;
                    for c in col..m {
                        a[row][c] -= f * a[col][c];
                    }
                    b[row] -= f * b[col];
                }
            }
        }
        let mut x = [0.0; 4];
        for i in 0..m {
            if a[i][i].abs() >= 1e-12 {
                x[i] = b[i] / a[i][i];
            }
        }
        x
    }

    #[test]
    fn the_fit_plan_matches_a_full_solve_bit_for_bit() {
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut draw = || {
            state = crate::splitmix64(state);
            (state >> 11) as f64 / (1u64 << 53) as f64 * 20.0 - 10.0
        };
        for n in 1..=MAX_FIT_SAMPLES {
            for m in 1..=n.min(4) {
                for _ in 0..50 {
                    let ys: Vec<f64> = (0..n).map(|_| draw()).collect();
                    let planned = fit_plan(n, m).solve(&ys);
                    let full = full_solve(&ys, m);
                    assert_eq!(
                        planned.map(f64::to_bits),
                        full.map(f64::to_bits),
                        "n={n} m={m}"
                    );
                }
            }
        }
    }

    #[test]
    fn the_filter_recovers_polynomials_and_their_derivatives() {
        let dt = 0.1;
        // y = 3 + 2 t + 0.5 t^2 at t = 0.0 .. 1.4: value 6.78, slope 3.4 at t = 1.4.
        let ys: Vec<f64> = (0..15)
            .map(|i| {
                let t = i as f64 * 0.1;
                3.0 + 2.0 * t + 0.5 * t * t
            })
            .collect();
        assert!((smooth(&ys, 2, 0, dt) - 6.78).abs() < 1e-6);
        assert!((smooth(&ys, 2, 1, dt) - 3.4).abs() < 1e-5);
        assert!((smooth(&ys[10..], 3, 2, dt) - 1.0).abs() < 1e-4);
    }

    #[test]
    fn a_violation_is_held_for_the_tick_count() {
        let limits = ComfortLimits::default();
        let mut c = Comfort::default();
        for _ in 0..20 {
            assert_eq!(c.update(1.0, 0.0, 0.0, 0.1, &limits, 5), 0);
        }
        // A lateral acceleration far beyond 9 m/s^2 for a while.
        for _ in 0..8 {
            c.update(1.0, 40.0, 0.0, 0.1, &limits, 5);
        }
        assert!(c.held()[1] == 5);
        // Back to calm: the smoothed value falls below the limit within a few steps, then the
        // violation stays held 5 more steps.
        let mut held_steps = 0;
        for _ in 0..30 {
            c.update(1.0, 0.0, 0.0, 0.1, &limits, 5);
            if c.held()[1] > 0 {
                held_steps += 1;
            }
        }
        assert!((4..=12).contains(&held_steps), "{held_steps}");
        assert_eq!(c.held(), [0; 6]);
    }
}
