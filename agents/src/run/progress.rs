//! Training progress on stderr: an indicatif bar on a terminal, plain lines otherwise.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::train::IterationMetrics;

/// How to report progress.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ProgressMode {
    /// A bar when stderr is a terminal, lines otherwise.
    #[default]
    Auto,
    Bar,
    Lines,
    Quiet,
}

pub(crate) struct Progress {
    bar: Option<ProgressBar>,
    lines: bool,
    total: usize,
    last_line: Option<Instant>,
    recent_return: f64,
}

impl Progress {
    pub fn new(mode: ProgressMode, done: usize, total: usize) -> Self {
        let bar_mode = match mode {
            ProgressMode::Auto => std::io::stderr().is_terminal(),
            ProgressMode::Bar => true,
            _ => false,
        };
        let bar = bar_mode.then(|| {
            let bar =
                ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
            if let Ok(style) = ProgressStyle::with_template(
                "{bar:30.cyan/blue} {pos}/{len} it [{elapsed_precise}<{eta_precise}] {msg}",
            ) {
                bar.set_style(style);
            }
            bar.set_position(done as u64);
            bar
        });
        Progress {
            lines: !bar_mode && mode != ProgressMode::Quiet,
            bar,
            total,
            last_line: None,
            recent_return: f64::NAN,
        }
    }

    pub fn update(&mut self, m: &IterationMetrics) {
        if let Some(r) = m.get("charts/episodic_return").filter(|r| r.is_finite()) {
            self.recent_return = r;
        }
        let it = m.get("iteration").unwrap_or(0.0) as usize;
        let sps = m.get("charts/SPS").unwrap_or(f64::NAN);
        let step = m.get("global_step").unwrap_or(0.0);
        let msg = format!(
            "step {step:.0}  {sps:.0} steps/s  return {:.2}",
            self.recent_return
        );
        if let Some(bar) = &self.bar {
            bar.set_position(it as u64);
            bar.set_message(msg);
        } else if self.lines {
            let due = self
                .last_line
                .is_none_or(|t| t.elapsed() >= Duration::from_secs(2));
            if due || it == self.total {
                eprintln!("iteration {it}/{}  {msg}", self.total);
                self.last_line = Some(Instant::now());
            }
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish();
        }
    }
}
