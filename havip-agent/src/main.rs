//! The havip agent binary: parses the command line and runs the chosen command.

use anyhow::Context as _;
use clap::Parser as _;
use havip_agent::cli::{Cli, Command};

fn main() -> anyhow::Result<std::process::ExitCode> {
    let cli = Cli::parse();
    // Commands that only read files need no runtime (and print, not log).
    match &cli.command {
        Command::CheckConfig(args) => {
            return Ok(havip_agent::config_cmd::check(&args.config, args.format));
        }
        Command::ImportKeepalived(args) => {
            return Ok(havip_agent::config_cmd::import(&args.config));
        }
        _ => {}
    }
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
            Command::CheckConfig(_) | Command::ImportKeepalived(_) => Ok(()),
            Command::Status(args) => {
                let status = havip_agent::control::query(&args.control_socket).await?;
                if args.json {
                    println!("{}", serde_json::to_string_pretty(&status)?);
                } else {
                    print!("{}", status.render());
                }
                Ok(())
            }
            Command::Run(args) => havip_agent::daemon::run(havip_agent::daemon::Options {
                config: args.config,
                format: args.format,
                xdp_mode: args.xdp_mode,
                control_socket: args.control_socket,
                metrics_addr: args.metrics_addr,
            })
            .await
            .map_err(anyhow::Error::from),
            Command::Dataplane(args) => havip_agent::diag::run(args).await,
            Command::PassThrough(args) => havip_agent::diag::pass_through(args).await,
        }
    })?;
    Ok(std::process::ExitCode::SUCCESS)
}
