//! Log-gamma, digamma and trigamma on the host (f64) and as differentiable candle ops, for the
//! Beta distribution's log-density and entropy. Arguments are positive (alpha, beta >= 1).
//! On the CPU the ops are custom ops on f32 and f64 tensors (f32 values are evaluated in f64
//! and rounded); elsewhere, or under [`super::PortableOps`], the same series are written in
//! candle primitives ([`portable`]) in the tensor's own dtype.

use candle_core::{CpuStorage, CustomOp1, Layout, Result, Shape, Tensor};

use super::{map_float, runs_custom_op};

/// The Lanczos shift g of [`LANCZOS_C`].
const LANCZOS_G: f64 = 7.0;
/// Lanczos coefficients for g = 7, 9 terms.
const LANCZOS_C: [f64; 9] = [
    0.999_999_999_999_809_9,
    676.520_368_121_885_1,
    -1_259.139_216_722_402_8,
    771.323_428_777_653_1,
    -176.615_029_162_140_6,
    12.507_343_278_686_905,
    -0.138_571_095_265_720_12,
    9.984_369_578_019_572e-6,
    1.505_632_735_149_311_6e-7,
];
/// ln(2 pi) / 2, as the host series has always computed it.
fn half_ln_2pi() -> f64 {
    0.5 * (2.0 * std::f64::consts::PI).ln()
}
/// Digamma's recurrence moves the argument to at least this before the asymptotic series.
const DIGAMMA_SERIES_FROM: f64 = 10.0;

/// ln Gamma(x) for x > 0 (Lanczos, g = 7, 9 terms; relative error ~1e-15).
pub fn lgamma_f64(x: f64) -> f64 {
    const G: f64 = LANCZOS_G;
    const C: [f64; 9] = LANCZOS_C;
    if x < 0.5 {
        // Reflection keeps the series in its accurate range.
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - lgamma_f64(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = C[0];
    let t = x + G + 0.5;
    for (i, c) in C.iter().enumerate().skip(1) {
        a += c / (x + i as f64);
    }
    half_ln_2pi() + (x + 0.5) * t.ln() - t + a.ln()
}

/// psi(x) = d/dx ln Gamma(x) for x > 0: recurrence up to x >= 10, then the asymptotic series.
pub fn digamma_f64(mut x: f64) -> f64 {
    let mut acc = 0.0;
    while x < DIGAMMA_SERIES_FROM {
        acc -= 1.0 / x;
        x += 1.0;
    }
    let x2 = 1.0 / (x * x);
    acc + x.ln()
        - 0.5 / x
        - x2 * (1.0 / 12.0
            - x2 * (1.0 / 120.0 - x2 * (1.0 / 252.0 - x2 * (1.0 / 240.0 - x2 / 132.0))))
}

/// psi'(x) for x > 0.
pub fn trigamma_f64(mut x: f64) -> f64 {
    let mut acc = 0.0;
    while x < 10.0 {
        acc += 1.0 / (x * x);
        x += 1.0;
    }
    let x2 = 1.0 / (x * x);
    acc + 1.0 / x
        + x2 / 2.0
        + (x2 / x) * (1.0 / 6.0 - x2 * (1.0 / 30.0 - x2 * (1.0 / 42.0 - x2 / 30.0)))
}

struct Lgamma;
struct Digamma;
struct Trigamma;

impl CustomOp1 for Lgamma {
    fn name(&self) -> &'static str {
        "lgamma"
    }
    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        map_float(self.name(), s, l, lgamma_f64)
    }
    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(digamma(arg)?.mul(grad)?))
    }
}

impl CustomOp1 for Digamma {
    fn name(&self) -> &'static str {
        "digamma"
    }
    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        map_float(self.name(), s, l, digamma_f64)
    }
    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(
            arg.contiguous()?.apply_op1_no_bwd(&Trigamma)?.mul(grad)?,
        ))
    }
}

impl CustomOp1 for Trigamma {
    fn name(&self) -> &'static str {
        "trigamma"
    }
    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        map_float(self.name(), s, l, trigamma_f64)
    }
}

/// Elementwise ln Gamma for x > 0, differentiable (custom op on the CPU for f32 or f64; the
/// portable series elsewhere).
pub fn lgamma(x: &Tensor) -> Result<Tensor> {
    if !runs_custom_op(x) {
        return portable::lgamma(x);
    }
    x.contiguous()?.apply_op1(Lgamma)
}

/// Elementwise digamma for x > 0, differentiable (custom op on the CPU for f32 or f64; the
/// portable series elsewhere).
pub fn digamma(x: &Tensor) -> Result<Tensor> {
    if !runs_custom_op(x) {
        return portable::digamma(x);
    }
    x.contiguous()?.apply_op1(Digamma)
}

/// The special functions in candle primitives, so they run on every backend and candle's
/// autodiff differentiates them (the gradient is the derivative of the approximation itself).
pub(crate) mod portable {
    use candle_core::{Result, Tensor};

    use super::{half_ln_2pi, DIGAMMA_SERIES_FROM, LANCZOS_C, LANCZOS_G};

    /// ln Gamma(x) for x > 0. One recurrence step, ln Gamma(x) = ln Gamma(x + 1) - ln x, puts
    /// every x > 0 in the Lanczos series' accurate range without the host's reflection branch.
    pub(crate) fn lgamma(x: &Tensor) -> Result<Tensor> {
        // Series for Gamma(z + 1) at z = x: C0 + sum_i C_i / (x + i).
        let mut series = x
            .affine(1.0, 1.0)?
            .recip()?
            .affine(LANCZOS_C[1], LANCZOS_C[0])?;
        for (i, &c) in LANCZOS_C.iter().enumerate().skip(2) {
            series = (series + x.affine(1.0, i as f64)?.recip()?.affine(c, 0.0)?)?;
        }
        let t = x.affine(1.0, LANCZOS_G + 0.5)?;
        let power = x.affine(1.0, 0.5)?.mul(&t.log()?)?;
        let lgamma_x_plus_1 = ((power - t)? + series.log()?)?.affine(1.0, half_ln_2pi())?;
        lgamma_x_plus_1 - x.log()?
    }

    /// psi(x) for x > 0: psi(x) = psi(x + 10) - sum_{k < 10} 1 / (x + k), then the asymptotic
    /// series at x + 10 (as the host's [`super::digamma_f64`], with the recurrence always taken).
    pub(crate) fn digamma(x: &Tensor) -> Result<Tensor> {
        let steps = DIGAMMA_SERIES_FROM as usize;
        let mut recurrence = x.recip()?;
        for k in 1..steps {
            recurrence = (recurrence + x.affine(1.0, k as f64)?.recip()?)?;
        }
        let y = x.affine(1.0, DIGAMMA_SERIES_FROM)?;
        let inv = y.recip()?;
        let inv2 = inv.sqr()?;
        // 1/12 - y^-2 (1/120 - y^-2 (1/252 - y^-2 (1/240 - y^-2 / 132))), by Horner.
        let mut poly = inv2.affine(-1.0 / 132.0, 1.0 / 240.0)?;
        for c in [1.0 / 252.0, 1.0 / 120.0, 1.0 / 12.0] {
            poly = inv2.mul(&poly)?.affine(-1.0, c)?;
        }
        let series = ((y.log()? - inv.affine(0.5, 0.0)?)? - inv2.mul(&poly)?)?;
        series - recurrence
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_functions_match_known_values() {
        // Gamma(1) = Gamma(2) = 1, Gamma(0.5) = sqrt(pi), Gamma(5) = 24.
        assert!(lgamma_f64(1.0).abs() < 1e-13);
        assert!(lgamma_f64(2.0).abs() < 1e-13);
        assert!((lgamma_f64(0.5) - std::f64::consts::PI.sqrt().ln()).abs() < 1e-13);
        assert!((lgamma_f64(5.0) - 24f64.ln()).abs() < 1e-12);
        // psi(1) = -Euler-Mascheroni, psi(x+1) = psi(x) + 1/x.
        let euler = 0.577_215_664_901_532_9;
        assert!((digamma_f64(1.0) + euler).abs() < 1e-12);
        assert!((digamma_f64(3.7) - digamma_f64(2.7) - 1.0 / 2.7).abs() < 1e-12);
        // psi'(1) = pi^2 / 6.
        let pi2_6 = std::f64::consts::PI.powi(2) / 6.0;
        assert!((trigamma_f64(1.0) - pi2_6).abs() < 1e-11);
    }

    #[test]
    fn derivatives_agree_with_finite_differences() {
        for x in [1.0, 1.3, 2.5, 7.0, 40.0] {
            let h = 1e-5;
            let d_lgamma = (lgamma_f64(x + h) - lgamma_f64(x - h)) / (2.0 * h);
            assert!((d_lgamma - digamma_f64(x)).abs() < 1e-7, "x={x}");
            let d_digamma = (digamma_f64(x + h) - digamma_f64(x - h)) / (2.0 * h);
            assert!((d_digamma - trigamma_f64(x)).abs() < 1e-6, "x={x}");
        }
        let dev = candle_core::Device::Cpu;
        let x = candle_core::Var::from_slice(&[1.5f32, 3.0], 2, &dev).unwrap();
        let grads = lgamma(x.as_tensor())
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        let g = grads.get(x.as_tensor()).unwrap().to_vec1::<f32>().unwrap();
        assert!((g[0] as f64 - digamma_f64(1.5)).abs() < 1e-6);
        assert!((g[1] as f64 - digamma_f64(3.0)).abs() < 1e-6);
    }

    #[test]
    fn f64_tensors_are_evaluated_in_f64_with_f64_gradients() {
        let dev = candle_core::Device::Cpu;
        let x = candle_core::Var::from_slice(&[1.5f64, 3.0, 7.25], 3, &dev).unwrap();
        let y = lgamma(x.as_tensor()).unwrap();
        assert_eq!(y.dtype(), candle_core::DType::F64);
        for (got, &at) in y.to_vec1::<f64>().unwrap().iter().zip(&[1.5, 3.0, 7.25]) {
            assert_eq!(*got, lgamma_f64(at));
        }
        // d/dx sum digamma(x) = trigamma(x): exercises the f64 path of all three ops.
        let grads = digamma(x.as_tensor())
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        let g = grads.get(x.as_tensor()).unwrap().to_vec1::<f64>().unwrap();
        assert_eq!(g[1], trigamma_f64(3.0));
    }
}
