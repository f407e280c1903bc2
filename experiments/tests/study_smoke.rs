//! CI smoke test of the CaRL mini-batch study (issue 5): the reduced study
//! (`configs/study/carl_vs_roach_smoke.toml`, 16 short runs) through the real binary, then the
//! held-out evaluation and `carrot report`, checking that the table and the plot are produced
//! with sane values, and that the slope analysis (issue 11) matches an OLS fit recomputed here
//! from `runs.csv`. A few seconds in release mode on 2 cores.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use common::{carrot, config, run_ok};

const REWARDS: [&str; 2] = ["carl", "roach"];
const MINIBATCHES: [&str; 4] = ["64", "128", "256", "1024"];

/// Parses a CSV without quoted commas into its header and rows.
fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    let mut lines = text.lines();
    let header = lines.next().expect("header").split(',').map(String::from);
    let rows = lines
        .map(|l| l.split(',').map(String::from).collect())
        .collect();
    (header.collect(), rows)
}

fn number(row: &[String], header: &[String], column: &str) -> f64 {
    let i = header
        .iter()
        .position(|h| h == column)
        .unwrap_or_else(|| panic!("no column {column} in {header:?}"));
    let v: f64 = row[i].parse().unwrap_or_else(|e| panic!("{column}: {e}"));
    assert!(v.is_finite(), "{column} is {v}");
    v
}

fn assert_image(path: &Path, magic: &[u8]) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    assert!(
        bytes.len() > 2000 && bytes.starts_with(magic),
        "{path:?} is not a real image"
    );
}

#[test]
fn reduced_study_produces_table_and_plot_with_sane_values() {
    let tmp = tempfile::tempdir().unwrap();
    let sweep_dir = tmp.path().join("sweep");
    let out = tmp.path().join("study");
    run_ok(
        carrot()
            .args(["sweep", "run"])
            .arg(config("study/carl_vs_roach_smoke.toml"))
            .args(["--workers", "2", "--out"])
            .arg(&sweep_dir),
    );
    let table = run_ok(
        carrot()
            .args(["study", "eval"])
            .arg(&sweep_dir)
            .args(["--routes", "4", "--out"])
            .arg(&out),
    );

    let (header, rows) = read_csv(&out.join("results.csv"));
    assert_eq!(&header[..3], ["reward", "minibatch", "seeds"]);
    let cells: BTreeSet<(String, String)> =
        rows.iter().map(|r| (r[0].clone(), r[1].clone())).collect();
    let expected: BTreeSet<(String, String)> = REWARDS
        .iter()
        .flat_map(|r| MINIBATCHES.iter().map(|m| (r.to_string(), m.to_string())))
        .collect();
    assert_eq!(cells, expected, "every cell of the grid, once each");
    assert_eq!(rows.len(), expected.len());
    for row in &rows {
        assert_eq!(number(row, &header, "seeds"), 2.0, "{row:?}");
        for (metric, max) in [
            ("driving_score", 100.0),
            ("route_completion", 100.0),
            ("infraction_score", 1.0),
            ("infractions_per_km", f64::INFINITY),
            ("distance_km", f64::INFINITY),
        ] {
            // A t-interval over 2 seeds (t = 12.7 on 1 df) may reach outside the metric's range.
            let mean = number(row, &header, &format!("{metric}_mean"));
            let low = number(row, &header, &format!("{metric}_low"));
            let high = number(row, &header, &format!("{metric}_high"));
            assert!(
                (0.0..=max).contains(&mean) && low <= mean && mean <= high,
                "{metric} {low} <= {mean} <= {high}, mean outside [0, {max}] in {row:?}"
            );
        }
        // DS is RC x IS per route, so the mean DS cannot exceed the mean RC.
        assert!(
            number(row, &header, "driving_score_mean")
                <= number(row, &header, "route_completion_mean") + 1e-6
        );
    }

    // The expert drives the same held-out routes well: the plot's reference line.
    let expert: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("expert.json")).unwrap()).unwrap();
    let expert_ds = expert["mean"][0].as_f64().expect("expert DS");
    assert!((75.0..=100.0).contains(&expert_ds), "expert DS {expert_ds}");
    assert_eq!(expert["per_route"].as_array().map(Vec::len), Some(4));
    // The rate's distance is reported: the expert drives its routes (tens to hundreds of m).
    let expert_km = expert["mean"][4].as_f64().expect("expert km driven");
    assert!(
        (0.02..=1.0).contains(&expert_km),
        "expert km driven {expert_km}"
    );

    let (run_header, run_rows) = read_csv(&out.join("runs.csv"));
    assert_eq!(run_rows.len(), 16, "one row per run");
    for row in &run_rows {
        let ds = number(row, &run_header, "driving_score");
        assert!((0.0..=100.0).contains(&ds), "{row:?}");
    }

    let md = std::fs::read_to_string(out.join("results.md")).unwrap();
    assert_eq!(table, md, "the table is printed as written");
    for reward in REWARDS {
        for mb in MINIBATCHES {
            assert!(md.contains(&format!("| {reward} | {mb} | 2 |")), "{md}");
        }
    }
    assert!(md.contains("| expert |") && md.contains("carrot study eval"));
    assert!(!md.contains("NaN"), "{md}");
    assert!(
        md.contains("95% t-interval") && !md.contains("bootstrap"),
        "{md}"
    );
    assert_slopes_match_runs(&out, &md);
    assert_image(&out.join("ds_vs_minibatch.png"), b"\x89PNG");
    assert_image(&out.join("ds_vs_minibatch.svg"), b"<svg");
    // Every seed is drawn as a dot besides the 8 cell means (and the legend's markers).
    let svg = std::fs::read_to_string(out.join("ds_vs_minibatch.svg")).unwrap();
    assert!(
        svg.matches("<circle").count() >= 16 + 8,
        "per-seed points are drawn"
    );

    // The generic report over the same sweep (returns, learning curves) also works, and says
    // that a bootstrap over 2 runs per group is unreliable.
    let report = run_ok(carrot().arg("report").arg(&sweep_dir));
    assert!(
        report.contains("(2 complete runs per group") && report.contains("unreliable"),
        "{report}"
    );
    assert_image(
        &sweep_dir.join("report").join("final_vs_minibatch.png"),
        b"\x89PNG",
    );
}

/// OLS slope and its standard error of y on x, computed independently of the binary.
fn ols(points: &[(f64, f64)]) -> (f64, f64) {
    let n = points.len() as f64;
    let (mx, my) = (
        points.iter().map(|p| p.0).sum::<f64>() / n,
        points.iter().map(|p| p.1).sum::<f64>() / n,
    );
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let slope = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum::<f64>() / sxx;
    let ssr: f64 = points
        .iter()
        .map(|p| (p.1 - my - slope * (p.0 - mx)).powi(2))
        .sum();
    (slope, (ssr / (n - 2.0) / sxx).sqrt())
}

/// `slopes.csv` and the Markdown slope table agree with an OLS fit of each reward's per-seed DS
/// (from `runs.csv`) on log2(mini-batch), and the interaction is the difference of the slopes.
fn assert_slopes_match_runs(out: &Path, md: &str) {
    assert!(
        md.contains("## Driving score per doubling of minibatch"),
        "{md}"
    );
    let (run_header, run_rows) = read_csv(&out.join("runs.csv"));
    let (header, rows) = read_csv(&out.join("slopes.csv"));
    assert_eq!(rows.len(), 3, "two slopes and one interaction: {rows:?}");
    let mut fitted = Vec::new();
    for (row, reward) in rows.iter().zip(REWARDS) {
        assert_eq!(
            row[..3],
            ["slope", format!("reward={reward}").as_str(), "8"]
        );
        let points: Vec<(f64, f64)> = run_rows
            .iter()
            .filter(|r| r[0] == reward)
            .map(|r| {
                let mb: f64 = r[1].parse().unwrap();
                (mb.log2(), number(r, &run_header, "driving_score"))
            })
            .collect();
        let (slope, se) = ols(&points);
        let column = "slope_per_doubling_of_minibatch";
        assert!(
            (number(row, &header, column) - slope).abs() < 1e-3,
            "{row:?}"
        );
        assert!((number(row, &header, "se") - se).abs() < 1e-3, "{row:?}");
        assert_eq!(number(row, &header, "df"), 6.0);
        let (low, high) = (number(row, &header, "low"), number(row, &header, "high"));
        let shown = number(row, &header, column);
        assert!(low <= shown && shown <= high);
        let excludes = if low > 0.0 || high < 0.0 {
            "true"
        } else {
            "false"
        };
        assert_eq!(row[8], excludes, "{row:?}");
        let verdict = if excludes == "true" {
            "| yes ("
        } else {
            "| no |"
        };
        let md_row = md
            .lines()
            .find(|l| l.starts_with(&format!("| reward={reward} | 8 | ")))
            .unwrap_or_else(|| panic!("no slope row for {reward}: {md}"));
        assert!(md_row.contains(verdict), "{md_row}");
        fitted.push((slope, se));
    }
    let interaction = &rows[2];
    assert_eq!(interaction[..2], ["interaction", "reward: carl − roach"]);
    let difference = number(interaction, &header, "slope_per_doubling_of_minibatch");
    assert!((difference - (fitted[0].0 - fitted[1].0)).abs() < 2e-3);
    let se = (fitted[0].1.powi(2) + fitted[1].1.powi(2)).sqrt();
    assert!((number(interaction, &header, "se") - se).abs() < 2e-3);
    assert!(md.contains("| reward: carl − roach |"), "{md}");
}

#[test]
fn full_study_is_the_documented_grid() {
    let listing = run_ok(
        carrot()
            .args(["sweep", "list"])
            .arg(config("study/carl_vs_roach.toml"))
            .args(["--out"])
            .arg(tempfile::tempdir().unwrap().path()),
    );
    let runs: Vec<&str> = listing.lines().filter(|l| l.contains("seed=")).collect();
    assert_eq!(runs.len(), 2 * 5 * 3, "{listing}");
    for mb in ["256", "512", "1024", "2048", "4096"] {
        for reward in REWARDS {
            let cell = format!("reward={reward},minibatch={mb},");
            assert_eq!(runs.iter().filter(|l| l.contains(&cell)).count(), 3);
        }
    }
    // Every run trains on the same sample budget; the batch per update is 4 mini-batches.
    for (mb, steps) in [(256, 128), (4096, 2048)] {
        let resolved = run_ok(
            carrot()
                .args(["train", "--print-config", "--config"])
                .arg(config("study/driving_base.toml"))
                .args([
                    "--set",
                    &format!("ppo.minibatch_size={mb}"),
                    "--set",
                    &format!("ppo.num_steps={steps}"),
                ]),
        );
        let parsed: toml::Table = toml::from_str(&resolved).unwrap();
        let ppo = parsed["ppo"].as_table().unwrap();
        let batch = ppo["num_envs"].as_integer().unwrap() * steps;
        assert_eq!(batch, 4 * mb);
        assert_eq!(ppo["total_timesteps"].as_integer().unwrap() % batch, 0);
        assert_eq!(ppo["policy_head"].as_str(), Some("beta"));
    }
}
