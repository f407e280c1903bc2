//! `ParlConfig`: TOML round trip, unknown keys refused, one-line validation errors by key.

use carrot_bilevel::parl::config::{resolve_inputs, Method, ParlConfig, Selection};

const FULL: &str = r#"
method = "aparl"
inputs = ["theta", "theta_dot", "torque"]
segment_length = 50
queries_per_session = 25
session_every = 10
max_queries = 200
selection = "uniform"
candidates_factor = 10
heldout_fraction = 0.1
correction_step = 0.01

[teacher]
beta = 1.0
mistake = 0.1
equal = 0.0
skip = 0.0
gamma = 0.99

[model]
members = 3
hidden = [64, 64]
lr = 0.0003
steps = 100
batch = 64
"#;

#[test]
fn full_config_parses_validates_and_round_trips() {
    let cfg: ParlConfig = toml::from_str(FULL).unwrap();
    cfg.validate().unwrap();
    assert_eq!(cfg.method, Method::Aparl);
    assert_eq!(cfg.selection, Selection::Uniform);
    assert_eq!(cfg.teacher.beta, Some(1.0));
    assert_eq!(cfg.model.hidden, vec![64, 64]);
    let back: ParlConfig = toml::from_str(&toml::to_string(&cfg).unwrap()).unwrap();
    assert_eq!(back, cfg);
    // Omitted keys take the defaults; an omitted beta is the deterministic teacher.
    let minimal: ParlConfig = toml::from_str("inputs = [\"x\"]").unwrap();
    minimal.validate().unwrap();
    assert_eq!(minimal.teacher.beta, None);
    assert_eq!(minimal.method, Method::Pebble);
}

#[test]
fn unknown_keys_and_values_are_refused() {
    let err = toml::from_str::<ParlConfig>("inputs = [\"x\"]\nsegment_lenght = 3").unwrap_err();
    assert!(err.to_string().contains("segment_lenght"), "{err}");
    let err = toml::from_str::<ParlConfig>("[teacher]\nbta = 1.0").unwrap_err();
    assert!(err.to_string().contains("bta"), "{err}");
    let err = toml::from_str::<ParlConfig>("method = \"sac\"").unwrap_err();
    assert!(err.to_string().contains("sac"), "{err}");
}

#[test]
fn each_bad_value_is_a_one_line_error_naming_its_key() {
    let cases: &[(&str, &str)] = &[
        ("segment_length = 0", "preference.segment_length"),
        ("queries_per_session = 0", "preference.queries_per_session"),
        ("session_every = 0", "preference.session_every"),
        ("max_queries = 0", "preference.max_queries"),
        ("candidates_factor = 0", "preference.candidates_factor"),
        ("heldout_fraction = 0.9", "preference.heldout_fraction"),
        ("correction_step = -1.0", "preference.correction_step"),
        ("[teacher]\nbeta = 0.0", "preference.teacher.beta"),
        ("[teacher]\nmistake = 1.5", "preference.teacher.mistake"),
        ("[teacher]\nequal = -0.1", "preference.teacher.equal"),
        ("[teacher]\nskip = nan", "preference.teacher.skip"),
        ("[teacher]\ngamma = 0.0", "preference.teacher.gamma"),
        ("[model]\nmembers = 0", "preference.model.members"),
        ("[model]\nhidden = [64, 0]", "preference.model.hidden"),
        ("[model]\nlr = 0.0", "preference.model.lr"),
        ("[model]\nsteps = 0", "preference.model.steps"),
        ("[model]\nbatch = 0", "preference.model.batch"),
    ];
    for (toml_text, key) in cases {
        let text = format!("inputs = [\"x\"]\n{toml_text}");
        let cfg: ParlConfig = toml::from_str(&text).unwrap();
        let err = cfg.validate().unwrap_err().to_string();
        assert!(err.contains(&format!(" {key}:")), "{toml_text}: {err}");
        assert!(!err.contains('\n'), "{err}");
    }
    let empty: ParlConfig = toml::from_str("").unwrap();
    assert!(empty
        .validate()
        .unwrap_err()
        .to_string()
        .contains("preference.inputs:"));
    let twice: ParlConfig = toml::from_str("inputs = [\"x\", \"x\"]").unwrap();
    assert!(twice
        .validate()
        .unwrap_err()
        .to_string()
        .contains("`x` is listed twice"));
}

#[test]
fn inputs_resolve_to_signal_indices_unless_denied() {
    let signals: Vec<String> = ["alive", "x", "theta"].map(String::from).to_vec();
    let deny = vec!["alive".to_string()];
    let ok = resolve_inputs(&["theta".into(), "x".into()], &signals, &deny).unwrap();
    assert_eq!(ok, vec![2, 1]);
    let err = resolve_inputs(&["x".into(), "alive".into()], &signals, &deny)
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("reward-model input `alive`"), "{err}");
}
