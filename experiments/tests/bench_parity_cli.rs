//! `carrot bench parity`: the portable (GPU) op paths agree with the CPU learners (native, and
//! candle's graph with the custom ops) for every head, and a CUDA target on a CPU-only build is
//! a one-line error, not a panic.

mod common;

use common::{carrot, run, run_ok};

#[test]
fn portable_paths_pass_parity_for_every_head_and_write_json() {
    // Against each CPU learner: the native one (the default) and candle's graph.
    for learner in ["native", "graph"] {
        portable_parity(learner);
    }
}

fn portable_parity(learner: &str) {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("parity.json");
    let out = run_ok(
        carrot()
            .args(["bench", "parity", "--device", "portable", "--batch", "256"])
            .args(["--cpu-learner", learner])
            .arg("--json")
            .arg(&json),
    );
    for head in ["categorical", "gaussian", "beta"] {
        let line = out
            .lines()
            .find(|l| l.starts_with(head))
            .unwrap_or_else(|| panic!("no {head} line in:\n{out}"));
        assert!(line.ends_with("PASS"), "{line}");
    }
    assert!(!out.contains("FAIL"), "{out}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["pass"], true);
    let heads = report["heads"].as_array().unwrap();
    assert_eq!(heads.len(), 3);
    for head in heads {
        // Every parameter compared, and the paths really differ in rounding only: not 0 for
        // all (the CPU uses a rational tanh) and far below the tolerance.
        let grads = head["gradients"].as_array().unwrap();
        assert!(grads.len() >= 12, "{head}");
        let worst = head["max_gradient_relative"].as_f64().unwrap();
        assert!(worst > 0.0 && worst < 1e-4, "{head}");
    }
}

#[test]
fn a_cuda_target_without_cuda_fails_with_one_line() {
    if cfg!(feature = "cuda") {
        return; // this build may have a GPU to compare against
    }
    let output = run(carrot().args(["bench", "parity", "--device", "cuda"]));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("device = \"cuda\" needs carrot built with --features cuda"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    // The learner benchmark takes the same flag, with the same error.
    let output = run(carrot().args(["bench", "learner", "--device", "cuda", "--batch", "64"]));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("--features cuda"), "{stderr}");
}
