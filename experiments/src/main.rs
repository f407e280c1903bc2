//! `carrot`: parses the command line and runs it through the `carrot_experiments` library.

use std::process::ExitCode;

use carrot_experiments::{layered, run_command, suggest, Cli};
use clap::Parser;

fn main() -> ExitCode {
    // Sets process-wide environment variables, so it runs before any other thread exists.
    carrot_agents::runtime::tune_for_cpu_training();
    // `carrot sweep list | head` must end quietly, as other command-line tools do, instead of
    // panicking on the broken pipe: restore the default SIGPIPE action Rust's runtime ignores.
    // SAFETY: called before any other thread exists; SIG_DFL is a valid handler.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    // Run the command on a rayon worker: parallel sections started from a worker join inline,
    // where started from the main thread each one pays a cross-thread wake-up and sleep.
    let result = rayon::scope(|_| run_command(&cli));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            let line = layered::one_line(&format!("{err:#}"));
            eprintln!("error: {}", suggest::with_suggestion(&line));
            ExitCode::FAILURE
        }
    }
}
