//! "Did you mean": an error that names an unknown key, variant or signal and lists the known
//! ones gets the closest known name, when one is close enough to be a typo.
//!
//! It reads the one-line message itself, so a single call where the command line prints its
//! error covers every source: serde's `deny_unknown_fields` and enum errors ("unknown field
//! `lerning_rate`, expected one of `num_envs`, ...") in every config section and sweep file,
//! and the signal errors of envs, rewards and reward models ("no signal 'x' (it emits: a, b)").

/// Where an unknown name is introduced; the name follows in quotes (`, ' or ").
const UNKNOWN_MARKERS: [&str; 5] = [
    "unknown field ",
    "unknown variant ",
    "no signal ",
    "unknown signal ",
    "input ",
];

/// Where a plain, comma-separated list of the known names starts (it ends at `)`).
const LIST_MARKERS: [&str; 2] = ["(it emits: ", "(signals: "];

/// `message` with `; did you mean `name`?` appended when it names an unknown name and a known
/// one is close to it; otherwise `message` unchanged.
pub fn with_suggestion(message: &str) -> String {
    match unknown_and_known(message).and_then(|(unknown, known)| closest(unknown, &known)) {
        Some(name) => format!("{message}; did you mean `{name}`?"),
        None => message.to_string(),
    }
}

/// The unknown name in `message` and the known names it lists.
fn unknown_and_known(message: &str) -> Option<(&str, Vec<&str>)> {
    let (at, unknown) = UNKNOWN_MARKERS.iter().find_map(|marker| {
        let start = message.find(marker)? + marker.len();
        quoted(&message[start..]).map(|name| (start, name))
    })?;
    let rest = &message[at..];
    let known: Vec<&str> = if let Some(list) = rest.find("expected ").map(|i| &rest[i..]) {
        // serde: "expected one of `a`, `b`", "expected `a` or `b`", "expected `a`".
        list.split('`').skip(1).step_by(2).collect()
    } else {
        let start = LIST_MARKERS
            .iter()
            .find_map(|marker| rest.find(marker).map(|i| i + marker.len()))?;
        let list = &rest[start..];
        list[..list.find(')').unwrap_or(list.len())]
            .split(',')
            .map(str::trim)
            .collect()
    };
    Some((unknown, known))
}

/// The text between the quote `text` starts with and its closing twin.
fn quoted(text: &str) -> Option<&str> {
    let quote = text
        .chars()
        .next()
        .filter(|c| matches!(c, '`' | '\'' | '"'))?;
    let inner = &text[1..];
    inner.find(quote).map(|end| &inner[..end])
}

/// The known name nearest to `unknown`, if it is a plausible typo of it: at most two edits,
/// and at most a third of the longer name (so `x` never suggests `y`).
pub fn closest<'a>(unknown: &str, known: &[&'a str]) -> Option<&'a str> {
    let typed = unknown.to_lowercase();
    known
        .iter()
        .filter(|name| !name.is_empty() && **name != unknown)
        .map(|name| (edit_distance(&typed, &name.to_lowercase()), *name))
        .filter(|(d, name)| *d <= 2 && 3 * d <= typed.chars().count().max(name.chars().count()))
        .min_by_key(|(d, _)| *d)
        .map(|(_, name)| name)
}

/// Edits (insertions, deletions, substitutions, transpositions of neighbours) between `a` and
/// `b`: the optimal-string-alignment distance.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    // Rows i-2, i-1 and i of the dynamic programme over prefixes.
    let mut before: Vec<usize> = vec![0; b.len() + 1];
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut current = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            current[j] = (previous[j] + 1)
                .min(current[j - 1] + 1)
                .min(previous[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                current[j] = current[j].min(before[j - 2] + 1);
            }
        }
        before = std::mem::replace(&mut previous, current);
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_counts_single_edits() {
        assert_eq!(edit_distance("learning_rate", "learning_rate"), 0);
        assert_eq!(edit_distance("lerning_rate", "learning_rate"), 1);
        assert_eq!(edit_distance("segment_lenght", "segment_length"), 1);
        assert_eq!(edit_distance("cartpol", "cartpole"), 1);
        assert_eq!(edit_distance("abc", "xyz"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
    }

    #[test]
    fn serde_errors_get_the_closest_field_or_variant() {
        let field = "config key `ppo.lerning_rate`: unknown field `lerning_rate`, expected one \
                     of `num_envs`, `learning_rate`, `gamma`";
        assert!(with_suggestion(field).ends_with("; did you mean `learning_rate`?"));
        let variant = "config key `env.id`: unknown variant `cartpol`, expected one of \
                       `cartpole`, `pendulum`";
        assert!(with_suggestion(variant).ends_with("did you mean `cartpole`?"));
        let pair = "unknown variant `tahn`, expected `tanh` or `relu`";
        assert!(with_suggestion(pair).ends_with("did you mean `tanh`?"));
    }

    #[test]
    fn signal_errors_get_the_closest_signal() {
        let reward = "reward 'signal': env 'cartpole' has no signal 'thetadot' (it emits: x, \
                      theta, theta_dot)";
        assert!(with_suggestion(reward).ends_with("did you mean `theta_dot`?"));
        let model = "reward-model input `torqe`: is not a signal of this env (signals: reward, \
                     torque)";
        assert!(with_suggestion(model).ends_with("did you mean `torque`?"));
    }

    #[test]
    fn far_names_and_other_errors_are_left_alone() {
        for message in [
            "unknown field `optimizer`, expected one of `seed`, `env`, `ppo`",
            "unknown field `id2`, there are no fields",
            "unknown field `x2`, expected `x`",
            "config key `ppo.num_envs`: must be at least 1",
        ] {
            assert_eq!(with_suggestion(message), message);
        }
    }
}
