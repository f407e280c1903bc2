//! The portable (candle primitive) paths against the host custom ops, and the scope of the
//! [`PortableOps`] switch.

use candle_core::{DType, Device, Tensor, Var};

use super::special::portable;
use super::*;
use crate::distributions::ActionDist;

/// 400 points spread geometrically over [0.05, 50].
fn grid() -> Vec<f64> {
    let n = 400;
    (0..n)
        .map(|i| 0.05 * 1000f64.powf(i as f64 / (n - 1) as f64))
        .collect()
}

/// Values of `f` and of its gradient (of the sum) at `xs`, in `dtype`, as f64.
fn value_and_grad(
    xs: &[f64],
    dtype: DType,
    f: impl Fn(&Tensor) -> Result<Tensor>,
) -> (Vec<f64>, Vec<f64>) {
    let x = Tensor::from_slice(xs, xs.len(), &Device::Cpu)
        .unwrap()
        .to_dtype(dtype)
        .unwrap();
    let x = Var::from_tensor(&x).unwrap();
    let y = f(x.as_tensor()).unwrap();
    let grads = y.sum_all().unwrap().backward().unwrap();
    let host = |t: &Tensor| t.to_dtype(DType::F64).unwrap().to_vec1::<f64>().unwrap();
    (host(&y), host(grads.get(x.as_tensor()).unwrap()))
}

/// Largest `|got - want| / max(1, |want|)`, with the argument where it occurs.
fn worst(xs: &[f64], got: &[f64], want: impl Fn(f64) -> f64) -> (f64, f64) {
    xs.iter()
        .zip(got)
        .map(|(&x, &g)| ((g - want(x)).abs() / want(x).abs().max(1.0), x))
        .fold((0.0, 0.0), |a, b| if b.0 > a.0 { b } else { a })
}

fn check_portable(dtype: DType, tol: f64) {
    let xs = grid();
    let (v, g) = value_and_grad(&xs, dtype, portable::lgamma);
    let (err, at) = worst(&xs, &v, lgamma_f64);
    assert!(err < tol, "{dtype:?} lgamma off by {err:e} at {at}");
    let (err, at) = worst(&xs, &g, digamma_f64);
    assert!(err < tol, "{dtype:?} d lgamma off by {err:e} at {at}");
    let (v, g) = value_and_grad(&xs, dtype, portable::digamma);
    let (err, at) = worst(&xs, &v, digamma_f64);
    assert!(err < tol, "{dtype:?} digamma off by {err:e} at {at}");
    // The autodiff gradient is the derivative of the series: trigamma up to the series' error.
    let (err, at) = worst(&xs, &g, trigamma_f64);
    assert!(
        err < tol,
        "{dtype:?} d digamma (trigamma) off by {err:e} at {at}"
    );
}

#[test]
fn portable_special_functions_match_the_host_in_f64() {
    check_portable(DType::F64, 1e-12);
}

#[test]
fn portable_special_functions_match_the_host_in_f32() {
    check_portable(DType::F32, 1e-5);
}

#[test]
fn the_switch_routes_every_op_to_its_portable_path() {
    let xs: Vec<f64> = grid().into_iter().step_by(7).collect();
    let x = Tensor::from_slice(&xs, xs.len(), &Device::Cpu)
        .unwrap()
        .to_dtype(DType::F32)
        .unwrap();
    let host = |t: Tensor| t.to_vec1::<f32>().unwrap();
    let custom = (host(lgamma(&x).unwrap()), host(digamma(&x).unwrap()));
    let want_custom: Vec<f32> = xs
        .iter()
        .map(|&v| lgamma_f64(v as f32 as f64) as f32)
        .collect();
    assert_eq!(custom.0, want_custom, "custom op outside the guard");
    {
        let _portable = PortableOps::enter();
        assert_eq!(
            host(lgamma(&x).unwrap()),
            host(portable::lgamma(&x).unwrap())
        );
        assert_eq!(
            host(digamma(&x).unwrap()),
            host(portable::digamma(&x).unwrap())
        );
        // softplus and fused_linear become candle's own expressions (exact tanh).
        let z = x.affine(0.3, -4.0).unwrap();
        let log1p_exp = (z.abs().unwrap().neg().unwrap().exp().unwrap() + 1.0).unwrap();
        let plain = (z.relu().unwrap() + log1p_exp.log().unwrap()).unwrap();
        assert_eq!(host(softplus(&z).unwrap()), host(plain));
        let rows = z.reshape((xs.len(), 1)).unwrap();
        let w = Tensor::from_slice(&[0.5f32, -1.5, 2.0], (1, 3), &Device::Cpu).unwrap();
        let b = Tensor::from_slice(&[0.1f32, 0.0, -0.2], 3, &Device::Cpu).unwrap();
        let fused = fused_linear(&rows, &w, &b, Act::Tanh).unwrap();
        let plain = rows
            .matmul(&w)
            .unwrap()
            .broadcast_add(&b)
            .unwrap()
            .tanh()
            .unwrap();
        let flat = |t: &Tensor| t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        assert_eq!(flat(&fused), flat(&plain));
    }
    assert_eq!(
        host(lgamma(&x).unwrap()),
        custom.0,
        "restored after the guard"
    );
    assert_eq!(host(digamma(&x).unwrap()), custom.1);
}

#[test]
fn the_switch_is_scoped_to_its_guard_and_its_thread() {
    assert!(!PortableOps::is_active());
    {
        let _outer = PortableOps::enter();
        {
            let _inner = PortableOps::enter();
            assert!(PortableOps::is_active());
        }
        // The inner guard restores the outer setting, not "off".
        assert!(PortableOps::is_active());
        let elsewhere = std::thread::spawn(PortableOps::is_active).join().unwrap();
        assert!(
            !elsewhere,
            "another thread must not see this thread's switch"
        );
    }
    assert!(!PortableOps::is_active());
}

/// Beta log-density and entropy with their gradients, on the current thread's path.
fn beta_outputs(alpha: &[f32], beta: &[f32], x: &[f32]) -> Vec<Vec<f64>> {
    let dev = Device::Cpu;
    let shape = (alpha.len(), 1);
    let a = Var::from_slice(alpha, shape, &dev).unwrap();
    let b = Var::from_slice(beta, shape, &dev).unwrap();
    let dist = ActionDist::Beta {
        alpha: a.as_tensor().clone(),
        beta: b.as_tensor().clone(),
    };
    let actions = Tensor::from_slice(x, shape, &dev).unwrap();
    let logp = dist.log_prob(&actions).unwrap();
    let entropy = dist.entropy().unwrap();
    let total = (logp.sum_all().unwrap() + entropy.sum_all().unwrap()).unwrap();
    let grads = total.backward().unwrap();
    let host = |t: &Tensor| {
        let t = t.flatten_all().unwrap().to_dtype(DType::F64).unwrap();
        t.to_vec1::<f64>().unwrap()
    };
    vec![
        host(&logp),
        host(&entropy),
        host(grads.get(a.as_tensor()).unwrap()),
        host(grads.get(b.as_tensor()).unwrap()),
    ]
}

#[test]
fn portable_beta_log_prob_and_entropy_match_the_custom_ops() {
    // alpha, beta = softplus + 1 >= 1 as the Beta head makes them, up to large concentrations.
    let n = 200;
    let alpha: Vec<f32> = (0..n).map(|i| 1.0 + 0.1 * i as f32).collect();
    let beta: Vec<f32> = (0..n).map(|i| 1.0 + 0.13 * ((i * 7) % n) as f32).collect();
    let x: Vec<f32> = (0..n)
        .map(|i| 0.002 + 0.996 * i as f32 / n as f32)
        .collect();
    let custom = beta_outputs(&alpha, &beta, &x);
    let portable = {
        let _portable = PortableOps::enter();
        beta_outputs(&alpha, &beta, &x)
    };
    for (what, (c, p)) in ["log_prob", "entropy", "d/d alpha", "d/d beta"]
        .iter()
        .zip(custom.iter().zip(&portable))
    {
        for (i, (cv, pv)) in c.iter().zip(p).enumerate() {
            // f32 differences of terms up to ~1e3 (lgamma of alpha + beta ~ 100).
            let tol = 2e-5 * cv.abs().max(1.0) + 1e-4;
            assert!(
                (cv - pv).abs() < tol,
                "{what}[{i}]: custom {cv}, portable {pv}"
            );
        }
    }
}
