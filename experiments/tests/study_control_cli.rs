//! `carrot study control`: the grid against control C at equal samples, from the per-run CSVs
//! of `carrot study eval`; Welch intervals by hand, the samples matching, and bad input.

mod common;

use common::{carrot, run, run_ok};

const GRID: &str = "reward,minibatch,seed,driving_score,route_completion\n\
    carl,256,1,1,0\ncarl,256,2,2,0\ncarl,256,3,3,0\ncarl,256,4,4,0\ncarl,256,5,5,0\n\
    carl,1024,1,60,0\ncarl,1024,2,61,0\ncarl,1024,3,62,0\n\
    roach,1024,1,10,0\nroach,1024,2,20,0\nroach,1024,3,30,0\n";

// Control at mini-batch 256: its 8,000-update checkpoint matches the grid's 1024 cell
// (2,000 x 1024 / 256); 4,000 updates matches no grid cell and is left out.
const CONTROL: &str = "reward,updates,seed,driving_score,route_completion\n\
    carl,2000,1,2,0\ncarl,2000,2,4,0\ncarl,2000,3,6,0\ncarl,2000,4,8,0\ncarl,2000,5,10,0\n\
    carl,4000,1,50,0\ncarl,4000,2,50,0\n\
    carl,8000,1,50,0\ncarl,8000,2,51,0\ncarl,8000,3,52,0\n\
    roach,8000,1,40,0\nroach,8000,2,50,0\nroach,8000,3,60,0\n";

fn write_inputs(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let (grid, control) = (dir.join("grid.csv"), dir.join("control.csv"));
    std::fs::write(&grid, GRID).unwrap();
    std::fs::write(&control, CONTROL).unwrap();
    (grid, control)
}

fn control_cmd(
    grid: &std::path::Path,
    control: &std::path::Path,
    out: &std::path::Path,
    grid_updates: &str,
) -> std::process::Command {
    let mut cmd = carrot();
    cmd.args(["study", "control", "--grid"])
        .arg(grid)
        .arg("--control")
        .arg(control)
        .args([
            "--grid-updates",
            grid_updates,
            "--control-minibatch",
            "256",
            "--out",
        ])
        .arg(out);
    cmd
}

#[test]
fn compares_samples_matched_cells_with_welch_intervals() {
    let dir = tempfile::tempdir().unwrap();
    let (grid, control) = write_inputs(dir.path());
    let out = dir.path().join("out");
    let printed = run_ok(&mut control_cmd(&grid, &control, &out, "2000"));
    let md = std::fs::read_to_string(out.join("control.md")).unwrap();
    assert_eq!(printed.trim(), md.trim());
    let csv = std::fs::read_to_string(out.join("control.csv")).unwrap();
    let rows: Vec<Vec<&str>> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    // carl 256 vs control 2000; carl 1024 vs control 8000; roach 1024 vs control 8000.
    assert_eq!(rows.len(), 3, "{csv}");
    let row = |reward: &str, mb: &str| {
        rows.iter()
            .find(|r| r[0] == reward && r[1] == mb)
            .unwrap_or_else(|| panic!("no {reward} {mb} in {csv}"))
    };
    // carl 256: means 3 and 6, variances of the means 0.5 and 2: se sqrt(2.5), df 5.882.
    let carl = row("carl", "256");
    assert_eq!(carl[2], "2000");
    assert_eq!(carl[7], "-3.0000");
    assert_eq!(carl[8], format!("{:.4}", 2.5f64.sqrt()));
    assert_eq!(carl[9], format!("{:.4}", 6.25 / 1.0625));
    let (low, high): (f64, f64) = (carl[10].parse().unwrap(), carl[11].parse().unwrap());
    assert!(low < -3.0 && high > 0.0, "{carl:?}");
    // carl 1024: 61 vs 51 with equal spreads: +10 and an interval above 0.
    let carl_big = row("carl", "1024");
    assert_eq!((carl_big[2], carl_big[7]), ("8000", "10.0000"));
    assert!(carl_big[10].parse::<f64>().unwrap() > 0.0);
    assert!(
        md.contains("| carl | 1024 | 8000 | 61.0 ± 2.5 (3) | 51.0 ± 2.5 (3) | +10.0"),
        "{md}"
    );
    // roach 1024: 20 vs 50, sd 10 each: se 8.165 on 4 df, -30 ± 22.7, below 0.
    let roach = row("roach", "1024");
    assert_eq!(roach[7], "-30.0000");
    assert!(roach[11].parse::<f64>().unwrap() < 0.0, "{roach:?}");
    assert!(md.contains("## Interaction"), "{md}");
    // Interaction at 1024: (+10) - (-30) = +40.
    assert!(md.contains("| 1024 | +40.0 ["), "{md}");
    assert!(out.join("ds_vs_samples.png").is_file() && out.join("ds_vs_samples.svg").is_file());
}

#[test]
fn bad_inputs_are_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    let (grid, control) = write_inputs(dir.path());
    let out = dir.path().join("out");
    let missing = run(&mut control_cmd(
        &grid,
        &dir.path().join("nope.csv"),
        &out,
        "2000",
    ));
    assert!(!missing.status.success());
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(
        stderr.contains("nope.csv") && !stderr.contains("panicked"),
        "{stderr}"
    );
    let err = run(control_cmd(&grid, &control, &out, "2000").args(["--metric", "speed"]));
    let stderr = String::from_utf8_lossy(&err.stderr);
    assert!(
        !err.status.success() && stderr.contains("no column `speed`"),
        "{stderr}"
    );
    // Nothing matches when the updates do not line up.
    let err = run(&mut control_cmd(&grid, &control, &out, "3000"));
    let stderr = String::from_utf8_lossy(&err.stderr);
    assert!(
        !err.status.success() && stderr.contains("no grid cell"),
        "{stderr}"
    );
}
