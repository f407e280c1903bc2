//! `custom_env`: carrot's command line with this crate's env and reward registered.
//!
//!   cargo run --release --bin custom_env -- train --config examples/custom_env/point_goal.toml

fn main() -> std::process::ExitCode {
    if let Err(err) = carrot_example_custom_env::register() {
        eprintln!("error: {err}");
        return std::process::ExitCode::FAILURE;
    }
    carrot_experiments::cli_main()
}
