//! CI smoke test of the CaRL mini-batch study (issue 5): the reduced study
//! (`configs/study/carl_vs_roach_smoke.toml`, 16 short runs) through the real binary, then the
//! held-out evaluation and `carrot report`, checking that the table and the plot are produced
//! with sane values. A few seconds in release mode on 2 cores.

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
        ] {
            let mean = number(row, &header, &format!("{metric}_mean"));
            let low = number(row, &header, &format!("{metric}_low"));
            let high = number(row, &header, &format!("{metric}_high"));
            assert!(
                (0.0..=max).contains(&low) && low <= mean && mean <= high && high <= max,
                "{metric} {low} <= {mean} <= {high} outside [0, {max}] in {row:?}"
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
    assert_image(&out.join("ds_vs_minibatch.png"), b"\x89PNG");
    assert_image(&out.join("ds_vs_minibatch.svg"), b"<svg");

    // The generic report over the same sweep (returns, learning curves) also works.
    run_ok(carrot().arg("report").arg(&sweep_dir));
    assert_image(
        &sweep_dir.join("report").join("final_vs_minibatch.png"),
        b"\x89PNG",
    );
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
