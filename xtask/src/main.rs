//! havip developer tasks: `cargo xtask setup | test | build-and-load | lab | bench`.
//!
//! xtask builds with the stable rustc a fresh machine has; everything it runs afterwards uses the
//! pinned toolchains that `setup` installs.

mod bench;
mod cmd;
mod host_guard;
mod lab;
mod load;
mod setup;
mod test;

use clap::{Parser, Subcommand};

/// havip developer tasks.
#[derive(Debug, Parser)]
#[command(about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Install what a fresh Debian machine lacks (apt packages, pinned toolchains, bpf-linker).
    /// Idempotent: skips what is present and says so.
    Setup,
    /// Setup, build, then run every test of the workspace (unit and root namespace tests).
    Test(test::Args),
    /// Setup, build, and start the agent on an interface with the given agent arguments.
    BuildAndLoad(load::Args),
    /// Setup, build, and run the namespace lab: two havip nodes, a client, a failover.
    Lab(lab::Args),
    /// Benchmarks; results are printed as a table and written under bench-results/.
    Bench(bench::Args),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Setup => setup::run_setup(),
        Command::Test(args) => test::run(&args),
        Command::BuildAndLoad(args) => load::run(&args),
        Command::Lab(args) => lab::run(&args),
        Command::Bench(args) => bench::run(&args),
    };
    // `{:#}`: one line with its causes. The environment sets RUST_BACKTRACE=1, and returning the
    // error from main would print it with `{:?}`, backtrace included, burying a refusal's reason.
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
