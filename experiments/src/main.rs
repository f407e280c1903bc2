//! `carrot`: the command line of the `carrot_experiments` library.

fn main() -> std::process::ExitCode {
    carrot_experiments::cli_main()
}
