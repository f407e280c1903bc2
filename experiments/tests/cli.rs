//! The command line itself: help texts, layered configs, and one-line errors for a corpus of
//! bad configs (`tests/bad_configs/*.toml`, each naming the text its error must contain in
//! `# expect:` lines and may name text it must not contain in `# absent:` lines).

mod common;

use std::path::Path;

use clap::CommandFactory;
use common::{carrot, config, run, run_ok};

/// Every command path of the CLI (`[]` for `carrot` itself, `["bench", "envs"]`, ...), read
/// from its clap definition so that a new command is covered without editing this test.
fn command_paths() -> Vec<Vec<String>> {
    fn walk(command: &clap::Command, path: Vec<String>, out: &mut Vec<Vec<String>>) {
        for sub in command.get_subcommands() {
            let mut child = path.clone();
            child.push(sub.get_name().to_string());
            walk(sub, child, out);
        }
        out.push(path);
    }
    let mut paths = Vec::new();
    walk(&carrot_experiments::Cli::command(), Vec::new(), &mut paths);
    paths
}

#[test]
fn every_command_explains_itself_with_examples() {
    let paths = command_paths();
    for expected in [
        &["render"][..],
        &["bench", "envs"],
        &["bench", "parl"],
        &["sweep", "run"],
    ] {
        assert!(
            paths.iter().any(|p| p == expected),
            "{expected:?} not in {paths:?}"
        );
    }
    for path in &paths {
        let help = run_ok(carrot().args(path).arg("--help"));
        let examples = help
            .split_once("Examples:\n")
            .map(|(_, rest)| rest)
            .unwrap_or_else(|| panic!("carrot {path:?} --help has no examples:\n{help}"));
        // At least one example line that runs this very command.
        let invocation = ["carrot".to_string()]
            .iter()
            .chain(path)
            .cloned()
            .collect::<Vec<_>>();
        assert!(
            examples
                .lines()
                .any(|l| l.trim_start().starts_with(&invocation.join(" "))),
            "carrot {path:?} --help shows no example of itself:\n{help}"
        );
    }
    let top = run_ok(carrot().arg("--help"));
    for command in ["train", "eval", "sweep", "report", "render", "bench"] {
        assert!(top.contains(command), "{command} missing from:\n{top}");
    }
}

#[test]
fn layers_apply_defaults_then_file_then_overrides() {
    let resolved = run_ok(
        carrot()
            .args(["train", "--print-config", "--config"])
            .arg(config("cartpole.toml"))
            .args([
                "--set",
                "ppo.num_envs=3",
                "--set",
                "ppo.hidden_sizes=[32, 16]",
            ]),
    );
    let table: toml::Table = resolved.parse().expect("printed config is TOML");
    let ppo = &table["ppo"];
    assert_eq!(ppo["num_envs"].as_integer(), Some(3), "--set wins");
    assert_eq!(
        ppo["learning_rate"].as_float(),
        Some(5e-4),
        "the file's value"
    );
    assert_eq!(ppo["gamma"].as_float(), Some(0.99), "a built-in default");
    assert_eq!(ppo["hidden_sizes"].as_array().map(Vec::len), Some(2));

    // Switching the env drops the old env's keys and takes the new env's defaults.
    let switched = run_ok(
        carrot()
            .args(["train", "--print-config", "--config"])
            .arg(config("cartpole.toml"))
            .args(["--set", "env.id=pendulum"]),
    );
    let table: toml::Table = switched.parse().unwrap();
    assert_eq!(table["env"]["id"].as_str(), Some("pendulum"));
}

/// Runs `carrot train` expecting failure: exit code 1, one `error:` line on stderr.
fn expect_one_line_error(args: &[&str], config_file: Option<&Path>) -> String {
    let dir = tempfile::tempdir().unwrap();
    let run_dir = dir.path().join("run");
    let mut command = carrot();
    command
        .arg("train")
        .args(args)
        .arg("--run-dir")
        .arg(&run_dir);
    if let Some(file) = config_file {
        command.arg("--config").arg(file);
    }
    let output = run(&mut command);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(
        output.status.code(),
        Some(1),
        "{args:?} {config_file:?}: {stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "not one line: {stderr}");
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        !run_dir.exists(),
        "a bad config must not leave a run directory"
    );
    stderr
}

#[test]
fn bad_configs_fail_with_one_line_naming_the_key() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bad_configs");
    let mut files: Vec<_> = std::fs::read_dir(&corpus)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    assert!(files.len() >= 20, "corpus has only {} files", files.len());
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let expected: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("# expect: "))
            .collect();
        assert!(
            !expected.is_empty(),
            "{} has no `# expect:` line",
            file.display()
        );
        let error = expect_one_line_error(&[], Some(&file));
        for needle in expected {
            assert!(
                error.contains(needle),
                "{}: expected `{needle}` in: {error}",
                file.display()
            );
        }
        for needle in text.lines().filter_map(|l| l.strip_prefix("# absent: ")) {
            assert!(
                !error.contains(needle),
                "{}: `{needle}` must not be in: {error}",
                file.display()
            );
        }
    }
}

#[test]
fn bad_overrides_fail_with_one_line() {
    let cases: [(&[&str], &str); 6] = [
        (&["--set", "ppo.num_envs=0"], "ppo.num_envs"),
        // A reward without parameters still rejects unknown keys.
        (
            &["--set", "reward={ id = \"env_default\", id2 = 3 }"],
            "`reward.id2`",
        ),
        (&["--set", "ppo.learning_rate=-3e-4"], "ppo.learning_rate"),
        (&["--set", "ppo.learning_rat=3e-4"], "`ppo.learning_rat`"),
        (&["--set", "ppo"], "key.path=value"),
        (&["--set", "env.id=walker"], "walker"),
    ];
    for (args, needle) in cases {
        let error = expect_one_line_error(args, None);
        assert!(
            error.contains(needle),
            "{args:?}: expected `{needle}` in: {error}"
        );
    }
    let missing = expect_one_line_error(&[], Some(Path::new("/no/such/config.toml")));
    assert!(missing.contains("/no/such/config.toml"), "{missing}");
}

#[test]
fn typos_get_the_closest_name_and_far_names_get_none() {
    let cases: [(&[&str], Option<&str>); 4] = [
        (&["--set", "ppo.lerning_rate=1e-3"], Some("learning_rate")),
        (&["--set", "env.id=mountaincar"], Some("mountain_car")),
        (&["--set", "run.eval_episode=3"], Some("eval_episodes")),
        (&["--set", "ppo.optimizer=adam"], None),
    ];
    for (args, suggestion) in cases {
        let error = expect_one_line_error(args, None);
        match suggestion {
            Some(name) => assert!(
                error
                    .trim_end()
                    .ends_with(&format!("; did you mean `{name}`?")),
                "{args:?}: {error}"
            ),
            None => assert!(!error.contains("did you mean"), "{args:?}: {error}"),
        }
    }
    // Sweep files: their own keys and the config keys their axes set.
    let dir = tempfile::tempdir().unwrap();
    let base = config("cartpole.toml");
    for (body, name) in [
        (format!("base = {base:?}\nseed = [1]\n"), "seeds"),
        (
            format!("base = {base:?}\nseeds = [1]\n[[axes]]\nkey = \"ppo.gama\"\nvalues = [0.9]\n"),
            "gamma",
        ),
    ] {
        let file = dir.path().join("typo.toml");
        std::fs::write(&file, body).unwrap();
        let out = dir.path().join("out");
        let output = run(carrot()
            .args(["sweep", "run"])
            .arg(&file)
            .arg("--out")
            .arg(&out));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(
            stderr
                .trim_end()
                .ends_with(&format!("; did you mean `{name}`?")),
            "{stderr}"
        );
        assert!(!out.join("runs").exists(), "nothing ran");
    }
}

#[test]
fn a_closed_pipe_ends_quietly_without_a_panic() {
    use std::process::Stdio;
    let sweep = Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/study/town_scaling_full.toml");
    let mut child = carrot()
        .args(["sweep", "list"])
        .arg(&sweep)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Close our end before carrot prints its 140 lines, as `| head -0` would.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.is_empty(), "{stderr}");
}
