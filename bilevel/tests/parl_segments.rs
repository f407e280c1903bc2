//! P4: the segment boundary rules (terminations, truncations, autoresets, rollout boundary).

#[path = "parl_common/mod.rs"]
mod common;

use carrot_bilevel::parl::segments::{RolloutView, SegmentPool, Window};
use common::{true_reward, FakeRollout, NUM_SIGNALS};
use rand::SeedableRng;
use rand_pcg::Pcg64Mcg;

#[test]
fn hand_built_rollout_gives_exactly_the_admissible_windows() {
    // One env, 10 steps, L = 3: termination at step 4, truncation at step 7, boundary after 9.
    let (t, l) = (10, 3);
    let mut terminated = vec![false; t];
    let mut truncated = vec![false; t];
    terminated[4] = true;
    truncated[7] = true;
    let rewards: Vec<f32> = (0..t).map(|k| k as f32).collect();
    let signals = rewards.clone();
    let view = RolloutView::new(1, t, 1, &signals, &rewards, &terminated, &truncated).unwrap();
    let pool = SegmentPool::new(&view, l).unwrap();
    let w = |start, real_len| Window {
        env: 0,
        start,
        real_len,
    };
    // Episode 0..=4 (terminated): three full windows and two padded ones. Episode 5..=7
    // (truncated): one full window ending on the truncation, no short ones. Piece 8..=9 (cut by
    // the rollout boundary): too short, nothing.
    let want = vec![w(0, 3), w(1, 3), w(2, 3), w(3, 2), w(4, 1), w(5, 3)];
    assert_eq!(pool.windows, want);

    let seg = pool.extract(&view, w(3, 2), &[0]);
    assert_eq!(seg.mask, vec![1.0, 1.0, 0.0]);
    assert_eq!(seg.true_rewards, vec![3.0, 4.0, 0.0]);
    assert_eq!(seg.inputs, vec![3.0, 4.0, 0.0]);
    assert_eq!(seg.rows, vec![3, 4]);
    assert_eq!(seg.true_return(), 7.0);
}

#[test]
fn no_window_crosses_an_episode_end_or_the_rollout_and_padding_follows_terminations() {
    let (n, t, l) = (6, 80, 12);
    let roll = FakeRollout::random(n, t, 0.03, 0.02, 11);
    let view = roll.view();
    let pool = SegmentPool::new(&view, l).unwrap();
    assert!(pool.len() > 100, "pool too small to test: {}", pool.len());
    let mut padded = 0;
    let all_inputs: Vec<usize> = (0..NUM_SIGNALS).collect();
    for &w in &pool.windows {
        assert!(
            w.start + w.real_len <= t,
            "{w:?} crosses the rollout boundary"
        );
        let seg = pool.extract(&view, w, &all_inputs);
        let rows = &seg.rows;
        assert_eq!(rows.len(), w.real_len);
        // Consecutive steps of one env, all in the same episode (same env and episode ids).
        for (k, &row) in rows.iter().enumerate() {
            assert_eq!(row, (w.start + k) * n + w.env);
            let sig = &roll.signals[row * NUM_SIGNALS..(row + 1) * NUM_SIGNALS];
            let first = &roll.signals[rows[0] * NUM_SIGNALS..(rows[0] + 1) * NUM_SIGNALS];
            assert_eq!(
                (sig[2], sig[3]),
                (first[2], first[3]),
                "{w:?} crosses an autoreset"
            );
        }
        // Only the last real step may end the episode.
        for &row in &rows[..rows.len() - 1] {
            assert!(
                !roll.terminated[row] && !roll.truncated[row],
                "{w:?} crosses an episode end"
            );
        }
        let last = *rows.last().unwrap();
        if w.real_len < l {
            padded += 1;
            assert!(
                roll.terminated[last],
                "{w:?} is padded without a termination"
            );
            assert!(seg.mask[w.real_len..].iter().all(|&m| m == 0.0));
            assert!(seg.true_rewards[w.real_len..].iter().all(|&r| r == 0.0));
        }
        assert!(seg.mask[..w.real_len].iter().all(|&m| m == 1.0));
        // True return = masked sum of env rewards = the sum recomputed from the signals.
        let from_signals: f64 = rows
            .iter()
            .map(|&r| true_reward(&roll.signals[r * NUM_SIGNALS..(r + 1) * NUM_SIGNALS]) as f64)
            .sum();
        let masked: f64 = (0..l)
            .map(|k| seg.true_rewards[k] as f64 * seg.mask[k] as f64)
            .sum();
        assert_eq!(seg.true_return(), masked);
        assert!((seg.true_return() - from_signals).abs() < 1e-9);
    }
    assert!(
        padded > 10,
        "the fixture should produce padded windows, got {padded}"
    );
}

#[test]
fn every_admissible_window_is_in_the_pool() {
    // Brute force: a start s of env i with k real steps is admissible iff steps s..s+k stay in
    // one episode and the rollout, and k = L, or k < L and step s+k−1 terminated.
    let (n, t, l) = (3, 40, 7);
    let roll = FakeRollout::random(n, t, 0.06, 0.04, 5);
    let pool = SegmentPool::new(&roll.view(), l).unwrap();
    let mut want = Vec::new();
    for env in 0..n {
        for start in 0..t {
            let done = |s: usize| roll.terminated[s * n + env] || roll.truncated[s * n + env];
            let mut end = start; // last step of the episode piece containing `start`
            while end + 1 < t && !done(end) {
                end += 1;
            }
            let available = end + 1 - start;
            if available >= l {
                want.push(Window {
                    env,
                    start,
                    real_len: l,
                });
            } else if roll.terminated[end * n + env] {
                want.push(Window {
                    env,
                    start,
                    real_len: available,
                });
            }
        }
    }
    assert_eq!(pool.windows, want);
}

#[test]
fn sampling_is_deterministic_given_the_seed_and_pairs_are_distinct() {
    let roll = FakeRollout::random(4, 60, 0.03, 0.02, 3);
    let pool = SegmentPool::new(&roll.view(), 10).unwrap();
    let draw = |seed| pool.sample_pairs(&mut Pcg64Mcg::seed_from_u64(seed), 200);
    let (a, b, c) = (draw(1), draw(1), draw(2));
    assert_eq!(a, b);
    assert_ne!(a, c);
    assert!(a.iter().all(|(x, y)| x != y));
    // Uniform over windows: every window of a small pool gets drawn.
    let small = SegmentPool::new(&FakeRollout::random(1, 30, 0.0, 0.0, 1).view(), 25).unwrap();
    assert_eq!(small.len(), 6);
    let mut seen = vec![false; small.len()];
    for (x, y) in small.sample_pairs(&mut Pcg64Mcg::seed_from_u64(9), 100) {
        for w in [x, y] {
            seen[w.start] = true;
        }
    }
    assert!(seen.iter().all(|&s| s));
}

#[test]
fn bad_rollout_shapes_are_one_line_errors() {
    let err = RolloutView::new(2, 3, 1, &[0.0; 6], &[0.0; 5], &[false; 6], &[false; 6])
        .unwrap_err()
        .to_string();
    assert!(err.contains("env_rewards") && !err.contains('\n'), "{err}");
    let ok = RolloutView::new(1, 2, 1, &[0.0; 2], &[0.0; 2], &[false; 2], &[false; 2]).unwrap();
    assert!(SegmentPool::new(&ok, 0).is_err());
}
