//! `carrot study contrast`: Welch differences between named cells of runs.csv files, checked by
//! hand, cells pooled across files, and bad input as one-line errors.

mod common;

use common::{carrot, run, run_ok};

// a: mean 3, variance 2.5 (of the mean 0.5); b: mean 20, variance 100 (of the mean 100/3).
const FIRST: &str = "method,seed,driving_score,route_completion\n\
    a,1,1,0\na,2,2,0\na,3,3,0\na,4,4,0\na,5,5,0\nb,1,10,0\nb,2,20,0\n";
const SECOND: &str = "method,seed,driving_score,route_completion\n\
    b,3,30,0\nc,1,50,0\nc,2,51,0\nc,3,52,0\n";

fn inputs(dir: &std::path::Path) -> [std::path::PathBuf; 2] {
    let files = [dir.join("first.csv"), dir.join("second.csv")];
    std::fs::write(&files[0], FIRST).unwrap();
    std::fs::write(&files[1], SECOND).unwrap();
    files
}

#[test]
fn welch_differences_between_cells_pooled_across_files() {
    let dir = tempfile::tempdir().unwrap();
    let [first, second] = inputs(dir.path());
    let out = dir.path().join("contrasts.md");
    let printed = run_ok(
        carrot()
            .args(["study", "contrast"])
            .arg(&first)
            .arg(&second)
            .args(["--contrast", "a - b", "--contrast", "c - a", "--out"])
            .arg(&out),
    );
    assert_eq!(std::fs::read_to_string(&out).unwrap(), printed);
    let row = |name: &str| {
        printed
            .lines()
            .find(|l| l.starts_with(&format!("| {name} |")))
            .unwrap_or_else(|| panic!("no row {name} in\n{printed}"))
            .split('|')
            .map(str::trim)
            .filter(|f| !f.is_empty())
            .map(String::from)
            .collect::<Vec<_>>()
    };
    // b pools 10, 20 (first file) and 30 (second): difference 3 − 20, se² = 0.5 + 100/3,
    // Welch–Satterthwaite df = (0.5 + 33.33)² / (0.5²/4 + 33.33²/2) = 2.06, t(2.06) = 4.2.
    let ab = row("a − b");
    assert_eq!(ab[1], "-17.0");
    assert_eq!(ab[3], "2.1");
    assert_eq!(ab[4], "no", "{ab:?}");
    let (low, high): (f64, f64) = {
        let inner = ab[2].trim_matches(|c| c == '[' || c == ']');
        let (l, h) = inner.split_once(", ").unwrap();
        (l.parse().unwrap(), h.parse().unwrap())
    };
    assert!(
        (low + 41.7).abs() < 0.6 && (high - 7.7).abs() < 0.6,
        "{ab:?}"
    );
    // c: mean 51, variance 1 (of the mean 1/3); against a: +48 on about 6.4 df, far from 0.
    let ca = row("c − a");
    assert_eq!(ca[1], "+48.0");
    assert_eq!(ca[4], "yes");
}

#[test]
fn unknown_cells_bad_contrasts_and_missing_columns_are_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    let [first, _] = inputs(dir.path());
    let cases: [(&[&str], &str); 3] = [
        (&["--contrast", "a - zz"], "no cell `zz` (cells: a, b)"),
        (&["--contrast", "a-b"], "write it as 'A - B'"),
        (
            &["--contrast", "a - b", "--metric", "speed"],
            "no column `speed`",
        ),
    ];
    for (extra, expected) in cases {
        let output = run(carrot().args(["study", "contrast"]).arg(&first).args(extra));
        assert!(!output.status.success(), "{extra:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(expected), "{extra:?}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    }
}
