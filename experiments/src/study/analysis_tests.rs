//! Tests of the study's analysis on a fake study: two rewards x three mini-batches, with DS
//! values chosen so that the slopes are known.

use super::*;
use crate::study::tables::write_tables;
use carrot_envs::DrivingConfig;

/// DS of reward `reward` at mini-batch `mb` for `seed`: carl loses 2 per doubling, roach 6,
/// with a seed offset of -1, 0 or +1 (so each slope is exact and its SE is 0 but for seed
/// noise that does not depend on the mini-batch).
fn fake_ds(reward: &str, mb: f64, seed: u64) -> f64 {
    let per_doubling = if reward == "carl" { -2.0 } else { -6.0 };
    let noise = [-1.0, 0.0, 1.0][seed as usize % 3] * if mb > 300.0 { 1.0 } else { 0.5 };
    80.0 + per_doubling * (mb / 256.0).log2() + noise
}

fn fake_run(reward: &str, mb: f64, seed: u64, ds: f64) -> Finished {
    let meta = RunMeta {
        name: format!("reward={reward},minibatch={mb},seed={seed}"),
        labels: vec![
            ("reward".into(), reward.into()),
            ("minibatch".into(), format!("{mb}")),
        ],
        numeric: [("minibatch".to_string(), mb)].into_iter().collect(),
        seed,
    };
    Finished {
        meta,
        dir: PathBuf::from("unused"),
        eval: DriverEval {
            routes: route_set(),
            per_route: vec![[ds, 100.0, ds / 100.0, 0.5, 0.2]],
            mean: [ds, 100.0, ds / 100.0, 0.5, 0.2],
        },
    }
}

fn route_set() -> RouteSet {
    RouteSet {
        env: DrivingConfig::default(),
        routes: 1,
        route_seed: 0,
        max_steps: 10,
    }
}

fn fake_study(single_seed_cell: bool) -> Study {
    let mut finished = Vec::new();
    for reward in ["roach", "carl"] {
        for mb in [1024.0, 256.0, 512.0] {
            for seed in 0..3 {
                finished.push(fake_run(reward, mb, seed, fake_ds(reward, mb, seed)));
            }
        }
    }
    if single_seed_cell {
        finished.push(fake_run("carl", 2048.0, 0, 70.0));
    }
    Study {
        command: "carrot study eval fake".into(),
        policies: "final deterministic policy".into(),
        routes: route_set(),
        finished,
        missing: vec!["reward=roach,minibatch=2048,seed=0".into()],
        expert: fake_run("carl", 256.0, 0, 95.0).eval,
    }
}

#[test]
fn cells_are_sorted_and_carry_t_intervals() {
    let study = fake_study(true);
    let cells = cells(&study.finished);
    let order: Vec<String> = cells.iter().map(|c| group_name(&c.labels, 9)).collect();
    assert_eq!(order[0], "reward=carl, minibatch=256");
    assert_eq!(order[3], "reward=carl, minibatch=2048");
    assert_eq!(order[4], "reward=roach, minibatch=256");
    // carl at 512: seeds 80 - 2 + (-1, 0, 1): mean 78, sd 1, half-width t_{0.975,2} / sqrt(3).
    let e = cells[1].intervals[0].expect("3 seeds give an interval");
    assert!((e.mean - 78.0).abs() < 1e-9);
    assert!(
        (e.half_width - 4.302653 / 3f64.sqrt()).abs() < 1e-5,
        "{e:?}"
    );
    assert!(cells[3].intervals[0].is_none(), "one seed: no interval");
    assert_eq!(numeric_axis(&cells), Some(1));
}

#[test]
fn trends_recover_the_slopes_and_their_difference() {
    let study = fake_study(false);
    let cells = cells(&study.finished);
    let t = trends(&cells, 1);
    assert_eq!(t.axis, "minibatch");
    let names: Vec<&str> = t.slopes.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["reward=carl", "reward=roach"]);
    let points = |reward: &str| -> Vec<(f64, f64)> {
        study
            .finished
            .iter()
            .filter(|f| f.meta.labels[0].1 == reward)
            .map(|f| (f.meta.numeric["minibatch"].log2(), f.eval.mean[0]))
            .collect()
    };
    let carl = t.slopes[0].estimate.unwrap();
    let roach = t.slopes[1].estimate.unwrap();
    assert_eq!(carl, regression::ols_slope(&points("carl")).unwrap());
    assert_eq!((carl.n, carl.df), (9, 7.0));
    assert!((carl.slope + 2.0).abs() < 0.5 && (roach.slope + 6.0).abs() < 0.5);
    assert!(carl.excludes_zero() && roach.excludes_zero());
    assert_eq!(t.interactions.len(), 1);
    let (contrast, d) = &t.interactions[0];
    assert_eq!(contrast, "reward: carl − roach");
    assert_eq!(*d, regression::slope_difference(&carl, &roach));
    assert!(d.slope > 3.0 && d.excludes_zero(), "{d:?}");
}

#[test]
fn tables_hold_the_cells_and_the_slope_table() {
    let dir = tempfile::tempdir().unwrap();
    let study = fake_study(true);
    let cells = cells(&study.finished);
    let t = trends(&cells, 1);
    write_tables(dir.path(), &study, &cells, Some(&t)).unwrap();
    let md = std::fs::read_to_string(dir.path().join("results.md")).unwrap();
    assert!(md.contains("| carl | 512 | 3 | 78.0 ± 2.5 |"), "{md}");
    assert!(md.contains("| carl | 2048 | 1 | 70.0 ± n/a |"), "{md}");
    assert!(
        md.contains("95% t-interval") && !md.contains("bootstrap"),
        "{md}"
    );
    assert!(
        md.contains("## Driving score per doubling of minibatch"),
        "{md}"
    );
    let carl = t.slopes[0].estimate.unwrap();
    let row = format!(
        "| reward=carl | 10 | {:.2} | {:.2} | 8.0 | [{:.2}, {:.2}] | yes (< 0) |",
        carl.slope,
        carl.se,
        carl.low(),
        carl.high()
    );
    assert!(md.contains(&row), "{row}\n{md}");
    assert!(md.contains("| reward: carl − roach |"), "{md}");
    assert!(md.contains("Not finished (left out): reward=roach"));

    let csv = std::fs::read_to_string(dir.path().join("results.csv")).unwrap();
    let single = csv.lines().find(|l| l.starts_with("carl,2048,1,")).unwrap();
    assert!(single.starts_with("carl,2048,1,70.0000,,,"), "{single}");
    let slopes = std::fs::read_to_string(dir.path().join("slopes.csv")).unwrap();
    let lines: Vec<&str> = slopes.lines().collect();
    assert_eq!(
        lines[0],
        "kind,group,runs,slope_per_doubling_of_minibatch,se,df,low,high,excludes_zero"
    );
    assert_eq!(lines.len(), 4, "{slopes}");
    assert!(lines[1].starts_with("slope,reward=carl,10,") && lines[1].ends_with(",true"));
    assert!(lines[3].starts_with("interaction,reward: carl − roach,19,"));
}

#[test]
fn ds_plot_draws_every_seed_besides_the_means() {
    let dir = tempfile::tempdir().unwrap();
    let study = fake_study(true);
    let cells = cells(&study.finished);
    let written = crate::study::plots::ds_vs_axis(dir.path(), &cells, 1, 95.0).unwrap();
    assert_eq!(written.len(), 2);
    let svg = std::fs::read_to_string(dir.path().join("ds_vs_minibatch.svg")).unwrap();
    // 19 seeds and 7 cell means, plus one legend marker per reward.
    assert_eq!(svg.matches("<circle").count(), 19 + 7 + 2, "{svg}");
    assert!(svg.contains("95% t-interval") && svg.contains("reward=roach"));
}

/// Kept checkpoints: each run gives a point per checkpoint, so the slope is the mean of the
/// runs' own slopes on runs − 1 df, not an OLS fit over all points as if independent.
#[test]
fn kept_checkpoints_of_a_run_are_one_unit() {
    let mut finished = Vec::new();
    for (seed, per_doubling) in [(1u64, 1.0), (2, 2.0), (3, 6.0)] {
        for updates in [500.0, 1000.0, 2000.0, 4000.0] {
            let ds = 60.0 + seed as f64 + per_doubling * (updates / 500.0f64).log2();
            let mut run = fake_run("carl", 256.0, seed, ds);
            run.meta
                .labels
                .push(("updates".into(), format!("{updates}")));
            run.meta.numeric.insert("updates".into(), updates);
            finished.push(run);
        }
    }
    let study = Study {
        command: "carrot study eval fake --kept".into(),
        policies: "kept".into(),
        routes: route_set(),
        finished,
        missing: vec![],
        expert: fake_run("carl", 256.0, 0, 95.0).eval,
    };
    let cells = cells(&study.finished);
    assert_eq!(cells.len(), 4);
    let t = trends(&cells, 2);
    assert_eq!(t.axis, "updates");
    let s = &t.slopes[0];
    assert!(s.clustered);
    assert_eq!(s.runs, 3);
    let e = s.estimate.unwrap();
    assert!((e.slope - 3.0).abs() < 1e-9, "{e:?}");
    assert_eq!((e.df, e.n), (2.0, 3));
    let sd = ((4.0 + 1.0 + 9.0) / 2.0f64).sqrt();
    assert!((e.se - sd / 3f64.sqrt()).abs() < 1e-9, "{e:?}");
    let dir = tempfile::tempdir().unwrap();
    write_tables(dir.path(), &study, &cells, Some(&t)).unwrap();
    let md = std::fs::read_to_string(dir.path().join("results.md")).unwrap();
    assert!(md.contains("runs are the units"), "{md}");
    assert!(md.contains("| reward=carl, minibatch=256 | 3 |"), "{md}");
}
