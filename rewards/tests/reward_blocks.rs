//! Reward building blocks usable in any run: `agreement` (BARFI's PD and bang-bang
//! auxiliaries), the `abs` transform, and the config forms of every new reward.

mod common;

use carrot_rewards::{AgreementConfig, RewardConfig, Transform, WeightedSignal};
use common::{parse, spec};

#[test]
fn agreement_follows_its_truth_table() {
    let spec = spec();
    let config = AgreementConfig {
        action: "force".into(),
        target: vec![
            WeightedSignal::new("v", 1.0),
            WeightedSignal::new("pos", 0.5),
        ],
        on_match: 2.0,
        on_mismatch: -3.0,
    };
    let reward = RewardConfig::Agreement(config).build(&spec).unwrap();
    assert_eq!(reward.term_names(), ["agreement"]);
    let mut terms = [0.0];
    // (action, v, pos) -> matched?
    let table = [
        (1.0, 1.0, 0.0, true),
        (-1.0, -1.0, 0.0, true),
        (1.0, -1.0, 0.0, false),
        (-1.0, 1.0, 0.0, false),
        (0.0, 1.0, 0.0, false),  // no push is a mismatch
        (1.0, 0.0, 0.0, false),  // no target direction is a mismatch
        (1.0, 1.0, -2.0, false), // the target is the weighted sum: 1 - 1 = 0
        (-1.0, 0.2, -1.0, true), // 0.2 - 0.5 < 0
    ];
    for (action, v, pos, matched) in table {
        let row = [0.0, 0.0, v, action, pos];
        let (r, cause) = reward.evaluate(&row, &mut terms);
        assert_eq!(r, if matched { 2.0 } else { -3.0 }, "{action} {v} {pos}");
        assert_eq!((terms[0], cause), (r, None));
    }
}

#[test]
fn abs_transform_applies_to_signals_and_weighted_signals() {
    let spec = spec();
    let abs_v = RewardConfig::Signal {
        signal: "v".into(),
        scale: 0.3,
        transform: Transform::Abs,
    }
    .build(&spec)
    .unwrap();
    let sum = RewardConfig::Sum {
        terms: vec![
            WeightedSignal {
                transform: Transform::Abs,
                ..WeightedSignal::new("v", 2.0)
            },
            WeightedSignal::new("dist", 1.0),
        ],
    }
    .build(&spec)
    .unwrap();
    assert_eq!(abs_v.term_names(), ["abs_v"]);
    assert_eq!(sum.term_names(), ["abs_v", "dist"]);
    let mut terms = [0.0; 2];
    for v in [-1.5f32, 1.5] {
        let row = [0.0, -1.0, v, 0.0, 0.0];
        assert_eq!(abs_v.evaluate(&row, &mut terms).0, 0.3 * 1.5);
        assert_eq!(sum.evaluate(&row, &mut terms).0, 3.0 - 1.0);
        assert_eq!(terms, [3.0, -1.0]);
    }
}

#[test]
fn new_reward_configs_round_trip_and_reject_unknown_keys() {
    let configs = [
        "id = \"signal\"\nsignal = \"v\"\nscale = 0.3\ntransform = \"abs\"",
        "id = \"sum\"\nterms = [{ signal = \"v\", weight = 2.0, transform = \"abs\" }]",
        "id = \"mix\"\nterms = [{ reward = { id = \"signal\", signal = \"goal\" } }, \
         { reward = { id = \"sum\", terms = [{ signal = \"dist\" }] }, term = \"dist\", weight = -0.5, name = \"near\" }]",
        "id = \"agreement\"\naction = \"force\"\ntarget = [{ signal = \"v\" }]\non_match = 1.0\non_mismatch = -1.0",
        "id = \"blend\"\nprimary = { id = \"signal\", signal = \"goal\" }\naux = [{ reward = { id = \"signal\", signal = \"dist\" }, weight = -0.1 }]",
        "id = \"blend\"\nprimary = { id = \"signal\", signal = \"goal\" }\naux = [{ reward = { id = \"signal\", signal = \"dist\" } }]\nfeatures = { basis = \"linear\", signals = [{ signal = \"pos\", low = -1.0, high = 1.0 }] }",
        "id = \"blend\"\nprimary = { id = \"signal\", signal = \"goal\" }\naux = [{ reward = { id = \"signal\", signal = \"dist\" } }]\nfeatures = { basis = \"fourier\", order = 3, signals = [{ signal = \"pos\", low = -1.0, high = 1.0 }] }",
    ];
    let spec = spec();
    for text in configs {
        let config = parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        let again = toml::to_string(&config).unwrap();
        assert_eq!(parse(&again).unwrap(), config, "{again}");
        config
            .build(&spec)
            .unwrap_or_else(|e| panic!("{text}: {e}"));
    }
    let bad = [
        ("id = \"signal\"\nsignal = \"v\"\ntransform = \"sqrt\"", "sqrt"),
        ("id = \"mix\"\nterms = [{ reward = { id = \"signal\", signal = \"v\" }, wieght = 1.0 }]", "wieght"),
        ("id = \"mix\"\nterms = [{ reward = { id = \"signal\", signal = \"v\", scal = 1.0 } }]", "scal"),
        ("id = \"agreement\"\naction = \"force\"\ntarget = []\non_matc = 1.0", "on_matc"),
        ("id = \"blend\"\nprimary = { id = \"signal\", signal = \"goal\" }\naux = []\nbogus = 1", "bogus"),
        ("id = \"blend\"\nprimary = { id = \"signal\", signal = \"goal\" }\naux = []\nfeatures = { basis = \"fourier\", ordr = 2, signals = [] }", "ordr"),
        ("id = \"blend\"\nprimary = { id = \"signal\", signal = \"goal\" }\naux = []\nfeatures = { basis = \"radial\" }", "radial"),
    ];
    for (text, key) in bad {
        let err = parse(text).unwrap_err();
        assert!(err.contains(key), "{text}: {err}");
    }
    let build_err = |text: &str| parse(text).unwrap().build(&spec).err().unwrap().to_string();
    let err =
        build_err("id = \"blend\"\nprimary = { id = \"signal\", signal = \"goal\" }\naux = []");
    assert!(err.contains("aux"), "{err}");
    let err = build_err("id = \"agreement\"\naction = \"force\"\ntarget = []");
    assert!(
        err.contains("agreement") && err.contains("at least one"),
        "{err}"
    );
    let err = build_err(
        "id = \"blend\"\nprimary = { id = \"signal\", signal = \"goal\" }\naux = [{ reward = { id = \"signal\", signal = \"dist\" } }]\nfeatures = { basis = \"fourier\", order = 9, signals = [{ signal = \"pos\", low = 0.0, high = 1.0 }, { signal = \"v\", low = 0.0, high = 1.0 }, { signal = \"dist\", low = 0.0, high = 1.0 }, { signal = \"goal\", low = 0.0, high = 1.0 }] }",
    );
    assert!(err.contains("fourier") && err.contains("features"), "{err}");
}

#[test]
fn cartpole_pd_agreement_judges_the_push_against_the_state_it_was_chosen_in() {
    use carrot_envs::{CartPole, CartPoleConfig, Env};
    let mut env = CartPole::new(CartPoleConfig::default()).unwrap();
    let spec = env.signal_spec().clone();
    let text = "id = \"agreement\"\naction = \"force\"\non_match = 1.0\non_mismatch = 0.0\n\
                target = [{ signal = \"theta_before\", weight = 1.0 }, \
                { signal = \"theta_dot_before\", weight = 0.1 }]";
    let reward = parse(text).unwrap().build(&spec).unwrap();
    let mut obs = [0.0f32; 4];
    let mut signals = vec![0.0; spec.len()];
    let mut terms = [0.0];
    env.reset(Some(3), &mut obs);
    let (mut matches, mut steps) = (0, 0);
    for k in 0..400u32 {
        let pd_push_right = obs[2] + 0.1 * obs[3] > 0.0;
        let push_right = (k * 7919 % 13) < 6;
        let outcome = env.step(&[push_right as u8 as f32], &mut obs, &mut signals);
        let (r, _) = reward.evaluate(&signals, &mut terms);
        assert_eq!(r, (push_right == pd_push_right) as u8 as f32, "step {k}");
        matches += r as u32;
        steps += 1;
        if outcome.done() {
            env.reset(None, &mut obs);
        }
    }
    assert!(matches > 50 && matches < steps - 50, "{matches} of {steps}");
}
