//! The havip agent binary: parses the command line and runs the chosen command.

use anyhow::Context as _;
use clap::Parser as _;
use havip_agent::cli::{Cli, Command};

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_new(&cli.log)
        .with_context(|| format!("invalid --log filter {:?}", cli.log))?;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the tokio runtime")?;
    rt.block_on(async move {
        match cli.command {
            Command::Run(args) => havip_agent::daemon::run(havip_agent::daemon::Options {
                config: args.config,
                format: args.format,
                xdp_mode: args.xdp_mode,
                metrics_addr: args.metrics_addr,
            })
            .await
            .map_err(anyhow::Error::from),
            Command::Dataplane(args) => havip_agent::diag::run(args).await,
            Command::PassThrough(args) => havip_agent::diag::pass_through(args).await,
        }
    })
}
