//! Tests of the fused dense-layer and softplus ops.

use super::*;
use candle_core::{Device, Var};
#[test]
fn tanh_approx_is_within_1e6_of_tanh() {
    let (mut worst, mut worst_x) = (0f32, 0f32);
    for i in -200_000..=200_000 {
        let x = i as f32 * 1e-4;
        let e = (tanh_approx(x) - x.tanh()).abs();
        if e > worst {
            worst = e;
            worst_x = x;
        }
    }
    assert!(worst < 1e-6, "max abs error {worst} at {worst_x}");
    assert!((tanh_approx(50.0) - 1.0).abs() < 1e-6);
    assert!((tanh_approx(-50.0) + 1.0).abs() < 1e-6);
}

fn max_diff(a: &Tensor, b: &Tensor) -> f64 {
    (a - b)
        .unwrap()
        .abs()
        .unwrap()
        .max_all()
        .unwrap()
        .to_dtype(DType::F64)
        .unwrap()
        .to_scalar::<f64>()
        .unwrap()
}

/// Forward and all three gradients against candle's matmul + broadcast add + activation, in
/// `dtype`, on a batch big enough for the parallel paths.
fn check_against_candle_ops(dtype: DType, forward_tol: f64, grad_tol: f64) {
    let dev = Device::Cpu;
    let (rows, k, n) = (3000, 5, 7);
    let vals = |len: usize, mul: usize| -> Vec<f32> {
        (0..len)
            .map(|i| ((i * mul % 101) as f32 - 50.0) / 40.0)
            .collect()
    };
    let var = |v: Vec<f32>, shape: &[usize]| {
        let t = Tensor::from_vec(v, shape, &dev).unwrap();
        Var::from_tensor(&t.to_dtype(dtype).unwrap()).unwrap()
    };
    let x = var(vals(rows * k, 37), &[rows, k]);
    let w = var(vals(k * n, 13), &[k, n]);
    // Offset the bias so no pre-activation is exactly 0, where relu has no derivative.
    let b = var(vals(n, 7).iter().map(|v| v + 0.013_7).collect(), &[n]);
    let weights = var(vals(rows * n, 29), &[rows, n]).as_tensor().detach();
    for act in [Act::Identity, Act::Tanh, Act::Relu] {
        let fused = fused_linear(x.as_tensor(), w.as_tensor(), b.as_tensor(), act).unwrap();
        assert_eq!(fused.dtype(), dtype);
        let z = x.as_tensor().matmul(w.as_tensor()).unwrap();
        let z = z.broadcast_add(b.as_tensor()).unwrap();
        let plain = match act {
            Act::Identity => z,
            Act::Tanh => z.tanh().unwrap(),
            Act::Relu => z.relu().unwrap(),
        };
        assert!(
            max_diff(&fused, &plain) < forward_tol,
            "{dtype:?} {act:?} forward"
        );
        let grads = |y: Tensor| {
            (y * &weights)
                .unwrap()
                .sum_all()
                .unwrap()
                .backward()
                .unwrap()
        };
        let (g1, g2) = (grads(fused), grads(plain));
        for (name, v) in [("x", &x), ("w", &w), ("b", &b)] {
            let (a, c) = (
                g1.get(v.as_tensor()).unwrap(),
                g2.get(v.as_tensor()).unwrap(),
            );
            let scale = max_diff(c, &c.zeros_like().unwrap());
            assert!(
                max_diff(a, c) <= grad_tol * scale.max(1.0),
                "{dtype:?} {act:?} grad {name}"
            );
        }
    }
}

#[test]
fn fused_linear_matches_candle_ops() {
    check_against_candle_ops(DType::F32, 1e-5, 1e-4);
}

/// The f64 path (the bilevel policy's) uses exact tanh: it agrees with candle's f64 ops to
/// rounding, which finite-difference Hessian-vector products rely on.
#[test]
fn fused_linear_matches_candle_ops_in_f64() {
    check_against_candle_ops(DType::F64, 1e-14, 1e-13);
}

#[test]
fn no_gradient_is_computed_for_a_constant_input() {
    let dev = Device::Cpu;
    let x = Tensor::ones((4, 3), DType::F32, &dev).unwrap();
    let w = Var::ones((3, 2), DType::F32, &dev).unwrap();
    let b = Var::zeros(2, DType::F32, &dev).unwrap();
    let y = fused_linear(&x, w.as_tensor(), b.as_tensor(), Act::Tanh).unwrap();
    let g = y.sum_all().unwrap().backward().unwrap();
    assert!(g.get(&x).is_none());
    // d/db sum tanh(3) over 4 rows = 4 (1 - tanh(3)^2)
    let gb = g.get(b.as_tensor()).unwrap().to_vec1::<f32>().unwrap();
    let want = 4.0 * (1.0 - 3f32.tanh().powi(2));
    assert!((gb[0] - want).abs() < 1e-5, "{gb:?}");
}

#[test]
fn softplus_values_and_gradient() {
    let dev = Device::Cpu;
    let x = Var::from_slice(&[-30f32, -1.0, 0.0, 2.0, 40.0], 5, &dev).unwrap();
    let y = softplus(x.as_tensor()).unwrap();
    let got = y.to_vec1::<f32>().unwrap();
    let want = [0.0, 0.313_261_7, std::f32::consts::LN_2, 2.126_928, 40.0];
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() < 1e-6, "{g} vs {w}");
    }
    let grads = y.sum_all().unwrap().backward().unwrap();
    let g = grads.get(x.as_tensor()).unwrap().to_vec1::<f32>().unwrap();
    assert!((g[2] - 0.5).abs() < 1e-7 && (g[3] - 0.880_797_1).abs() < 1e-6);
}

/// f64 inputs stay f64 and match the f32 kernel's values.
#[test]
fn f64_inputs_stay_f64_and_match_f32() {
    let dev = Device::Cpu;
    let x32 = Tensor::from_vec(vec![0.3f32, -1.2, 0.7, 2.0, -0.4, 0.9], (2, 3), &dev).unwrap();
    let w32 = Tensor::from_vec(vec![0.5f32, -0.25, 1.0, 0.75, -1.5, 0.1], (3, 2), &dev).unwrap();
    let b32 = Tensor::from_vec(vec![0.05f32, -0.1], 2, &dev).unwrap();
    let to64 = |t: &Tensor| t.to_dtype(DType::F64).unwrap();
    for act in [Act::Identity, Act::Tanh, Act::Relu] {
        let y32 = fused_linear(&x32, &w32, &b32, act).unwrap();
        let y64 = fused_linear(&to64(&x32), &to64(&w32), &to64(&b32), act).unwrap();
        assert_eq!(y64.dtype(), DType::F64);
        let a = y32.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let b = y64.flatten_all().unwrap().to_vec1::<f64>().unwrap();
        for (p, q) in a.iter().zip(&b) {
            assert!((*p as f64 - q).abs() < 1e-5, "{act:?} {p} vs {q}");
        }
    }
    let x = Var::from_slice(&[-30f64, -1.0, 2.0, 40.0], 4, &dev).unwrap();
    let y = softplus(x.as_tensor()).unwrap();
    let got = y.to_vec1::<f64>().unwrap();
    assert!((got[1] - 0.313_261_687_518_222_8).abs() < 1e-15 && (got[3] - 40.0).abs() < 1e-15);
    let g = y.sum_all().unwrap().backward().unwrap();
    let g = g.get(x.as_tensor()).unwrap().to_vec1::<f64>().unwrap();
    assert!((g[2] - 1.0 / (1.0 + (-2f64).exp())).abs() < 1e-15, "{g:?}");
}
