//! TensorBoard event files, read back by the official `tensorboard` Python package
//! (`scripts/check_tensorboard.py`): every finite value of metrics.jsonl must be there, at its
//! `global_step`, also after a stop and resume. Needs `tensorboard` installed, so it is
//! `#[ignore]`d in the plain test command; `.ci/run` installs it into a venv and runs
//! `CARROT_TB_PYTHON=<venv>/bin/python cargo test --release --workspace --test
//! tensorboard -- --include-ignored`.

mod common;

use std::path::Path;
use std::process::Command;

use common::{carrot, config, run_ok};

fn check_with_tensorboard(run_dir: &Path) -> String {
    let python = std::env::var("CARROT_TB_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/check_tensorboard.py");
    let out = Command::new(&python)
        .arg(&script)
        .arg(run_dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {python}: {e} (set CARROT_TB_PYTHON)"));
    assert!(
        out.status.success(),
        "tensorboard check failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
#[ignore = "needs the tensorboard Python package: run via .ci/run or with CARROT_TB_PYTHON"]
fn tensorboard_reads_every_metric_also_after_a_resume() {
    let dir = tempfile::tempdir().unwrap();
    let run_dir = dir.path().join("run");
    let train = |extra: &[&str]| {
        let mut c = carrot();
        c.args(["train", "--config"])
            .arg(config("cartpole.toml"))
            .arg("--run-dir")
            .arg(&run_dir)
            .args([
                "--set",
                "ppo.total_timesteps=8192",
                "--set",
                "run.checkpoint_every=2",
                // The eval/* curves too: a value every 3 iterations, none in between.
                "--set",
                "run.eval_every=3",
            ])
            .args(extra);
        run_ok(&mut c)
    };
    train(&["--max-iterations", "3"]);
    let partial = check_with_tensorboard(&run_dir);
    assert!(partial.starts_with("ok:"), "{partial}");
    train(&[]);
    let full = check_with_tensorboard(&run_dir);
    assert!(full.starts_with("ok:"), "{full}");
    assert!(full.contains(" 8 steps"), "{full}");
}
