//! Local sweeps, skipping completed runs, Slurm scripts, and reports over a sweep.

mod common;

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::time::{Duration, Instant};

use common::{carrot, config, iterations, run_ok};

const NAMES: [&str; 4] = [
    "ppo.minibatch_size=64,seed=1",
    "ppo.minibatch_size=64,seed=2",
    "ppo.minibatch_size=128,seed=1",
    "ppo.minibatch_size=128,seed=2",
];

fn sweep(args: &[&str], out: &Path) -> std::process::Command {
    let mut command = carrot();
    command
        .args(["sweep"])
        .args(args)
        .arg(config("sweeps/tiny.toml"))
        .arg("--out")
        .arg(out);
    command
}

#[test]
fn a_sweep_runs_every_cell_once_and_reports_them() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("tiny");

    // One cell alone first, as a Slurm array task would run it.
    run_ok(&mut sweep(&["run", "--index", "2"], &out));
    let lone = out.join("runs").join(NAMES[2]);
    assert!(lone.join("eval.json").is_file());
    let lone_metrics = std::fs::read_to_string(lone.join("metrics.csv")).unwrap();

    // The pool runs the other three and leaves the finished one alone.
    let output = sweep(&["run", "--workers", "2"], &out).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("4 runs, 1 complete, 3 to run"), "{stderr}");
    for name in NAMES {
        let run = out.join("runs").join(name);
        assert!(run.join("eval.json").is_file(), "{name} incomplete");
        let meta: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(run.join("run.json")).unwrap()).unwrap();
        assert_eq!(meta["name"], name);
    }
    assert_eq!(
        std::fs::read_to_string(lone.join("metrics.csv")).unwrap(),
        lone_metrics
    );

    // A rerun has nothing left to do.
    let output = sweep(&["run"], &out).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("4 complete, 0 to run"), "{stderr}");
    let listing = run_ok(&mut sweep(&["list"], &out));
    assert_eq!(listing.matches("done").count(), 4, "{listing}");

    // The report groups the seeds of each mini-batch size.
    let report = run_ok(carrot().arg("report").arg(&out));
    assert!(
        report.contains("| ppo.minibatch_size | runs | final mean |"),
        "{report}"
    );
    let scores = std::fs::read_to_string(out.join("report/scores.csv")).unwrap();
    let rows: Vec<&str> = scores.lines().collect();
    assert_eq!(rows.len(), 3, "{scores}");
    assert!(
        rows[1].starts_with("64,2,0,") && rows[2].starts_with("128,2,0,"),
        "{scores}"
    );
    for row in &rows[1..] {
        let cells: Vec<f64> = row.split(',').skip(3).map(|c| c.parse().unwrap()).collect();
        let (mean, low, high) = (cells[0], cells[1], cells[2]);
        assert!(low <= mean && mean <= high, "{row}");
        assert!(
            (0.0..=500.0).contains(&mean),
            "cartpole returns lie in [0, 500]: {row}"
        );
    }
    for file in [
        "report.md",
        "runs.csv",
        "learning_curves.png",
        "learning_curves.svg",
        "final_vs_ppo.minibatch_size.png",
        "final_vs_ppo.minibatch_size.svg",
    ] {
        let path = out.join("report").join(file);
        assert!(std::fs::metadata(&path).unwrap().len() > 500, "{file}");
    }
    let output = carrot()
        .arg("report")
        .arg(&out)
        .args(["--by", "reward"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("no axis `reward`"), "{stderr}");

    // Any logged column can be reported: its AUC is the mean over the run's iterations.
    let entropy = out.join("entropy");
    let report = run_ok(
        carrot()
            .arg("report")
            .arg(&out)
            .args(["--metric", "losses/entropy", "--out"])
            .arg(&entropy),
    );
    assert!(
        report.contains("AUC: mean of `losses/entropy` over training"),
        "{report}"
    );
    let runs_csv = std::fs::read_to_string(entropy.join("runs.csv")).unwrap();
    let header: Vec<&str> = runs_csv.lines().next().unwrap().split(',').collect();
    let auc_col = header.iter().position(|c| *c == "auc").unwrap();
    for row in runs_csv.lines().skip(1) {
        let auc: f64 = row.split(',').nth(auc_col).unwrap().parse().unwrap();
        // Cartpole's two-action policy entropy lies in (0, ln 2].
        assert!(auc > 0.0 && auc <= 2f64.ln() + 1e-9, "{row}");
    }
    let output = carrot()
        .arg("report")
        .arg(&out)
        .args(["--metric", "losses/entropyy"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("no run under") && stderr.contains("losses/entropyy"),
        "{stderr}"
    );

    // Reports are deterministic: the bootstrap is seeded.
    run_ok(carrot().arg("report").arg(&out));
    assert_eq!(
        std::fs::read_to_string(out.join("report/scores.csv")).unwrap(),
        scores
    );
}

#[test]
fn slurm_scripts_run_one_array_task_per_cell() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("tiny");
    let stdout = run_ok(&mut sweep(
        &[
            "slurm",
            "--partition",
            "cpu",
            "--time",
            "00:10:00",
            "--cpus-per-task",
            "2",
        ],
        &out,
    ));
    assert!(stdout.contains("4 array tasks"), "{stdout}");
    let script = std::fs::read_to_string(out.join("sweep.sbatch")).unwrap();
    for line in [
        "#SBATCH --array=0-3",
        "#SBATCH --cpus-per-task=2",
        "#SBATCH --partition=cpu",
        "#SBATCH --time=00:10:00",
        "--index \"$SLURM_ARRAY_TASK_ID\"",
        env!("CARGO_BIN_EXE_carrot"),
    ] {
        assert!(script.contains(line), "`{line}` missing from:\n{script}");
    }
    assert!(
        out.join("slurm").is_dir(),
        "the log directory exists before submission"
    );
    assert!(out.join("sweep.json").is_file());
}

#[test]
fn bad_sweeps_fail_before_running_anything() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.toml");
    std::fs::write(
        &file,
        format!(
            "base = {:?}\nseeds = [1]\n[[axes]]\nkey = \"ppo.minibatch_size\"\nvalues = [64, 100]\n",
            config("cartpole.toml")
        ),
    )
    .unwrap();
    let out = dir.path().join("out");
    let output = carrot()
        .args(["sweep", "run"])
        .arg(&file)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("ppo.minibatch_size"), "{stderr}");
    assert!(!out.join("runs").exists(), "nothing ran");
}

#[test]
fn a_killed_sweep_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("kill.toml");
    // 3 runs of 500 short iterations each, one at a time.
    std::fs::write(
        &file,
        format!(
            "base = {:?}\nseeds = [1, 2, 3]\n[set]\n\"ppo.num_envs\" = 2\n\"ppo.num_steps\" = 32\n\
             \"ppo.total_timesteps\" = 32000\n\"run.checkpoint_every\" = 7\n\"run.eval_episodes\" = 2\n",
            config("cartpole.toml")
        ),
    )
    .unwrap();
    let out = dir.path().join("out");
    let run = |seed: u64| out.join("runs").join(format!("seed={seed}"));
    let rows = |seed: u64| {
        std::fs::read_to_string(run(seed).join("metrics.csv"))
            .map(|t| t.lines().count().saturating_sub(1))
            .unwrap_or(0)
    };
    let mut sweep = carrot();
    sweep
        .args(["sweep", "run", "--workers", "1"])
        .arg(&file)
        .arg("--out")
        .arg(&out)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .process_group(0);
    let mut child = sweep.spawn().unwrap();
    // Kill the sweep and its worker once the first run is done and the second is mid-way.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !(run(1).join("eval.json").is_file() && rows(2) >= 30) {
        assert!(Instant::now() < deadline, "the sweep did not progress");
        assert!(
            child.try_wait().unwrap().is_none(),
            "the sweep ended before it was killed"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let group = child.id().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-KILL", "--", &format!("-{group}")])
        .status()
        .unwrap();
    assert!(killed.success());
    child.wait().unwrap();
    assert!(!run(2).join("eval.json").exists(), "run 2 was cut mid-way");
    let first = std::fs::read_to_string(run(1).join("metrics.csv")).unwrap();

    let output = sweep_run_to_end(&file, &out);
    assert!(output.contains("3 runs, 1 complete, 2 to run"), "{output}");
    assert_eq!(
        std::fs::read_to_string(run(1).join("metrics.csv")).unwrap(),
        first
    );
    let all: Vec<u64> = (1..=500).collect();
    for seed in 1..=3 {
        assert_eq!(iterations(&run(seed)), all, "seed {seed}");
        assert!(run(seed).join("eval.json").is_file());
    }
    let log = std::fs::read_to_string(run(2).join("carrot.log")).unwrap();
    assert!(log.contains("resumed from the checkpoint"), "{log}");
}

fn sweep_run_to_end(file: &Path, out: &Path) -> String {
    let output = carrot()
        .args(["sweep", "run"])
        .arg(file)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "{stderr}");
    stderr
}
