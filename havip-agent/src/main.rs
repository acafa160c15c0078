//! The havip agent binary: parses the command line and runs the chosen command.
//!
//! Every error reaches the operator as one line, `error: ` and the chain of causes joined by
//! `: ` (what `{:#}` prints): never `{:?}`, which adds a backtrace when `RUST_BACKTRACE` is set
//! and repeats the chain as `Caused by:` lines.

use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser as _;
use havip_agent::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", one_line(&e));
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    // Commands that only read files need no runtime (and print, not log).
    match &cli.command {
        Command::CheckConfig(args) => {
            return Ok(havip_agent::config_cmd::check(
                &args.config,
                args.format,
                args.strict,
            ));
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
            Command::CheckConfig(_) | Command::ImportKeepalived(_) => Ok(ExitCode::SUCCESS),
            Command::Status(args) => {
                let status = havip_agent::control::query(&args.control_socket).await?;
                if args.json {
                    println!("{}", serde_json::to_string_pretty(&status)?);
                } else {
                    print!("{}", status.render());
                }
                Ok(ExitCode::SUCCESS)
            }
            Command::Stop(args) => {
                use havip_agent::control::stop::{StopError, stop};
                match stop(&args.control_socket, args.keep_ownership, args.timeout).await {
                    Ok(pid) => {
                        let how = if args.keep_ownership {
                            "keeping its VIPs for the next start"
                        } else {
                            "resigned"
                        };
                        eprintln!("havip-agent (pid {pid}) stopped, {how}");
                        Ok(ExitCode::SUCCESS)
                    }
                    Err(e @ StopError::NotRunning { .. }) => {
                        eprintln!("error: {e}");
                        Ok(ExitCode::from(NOT_RUNNING))
                    }
                    Err(e) => Err(e.into()),
                }
            }
            Command::Run(args) => havip_agent::daemon::run(havip_agent::daemon::Options {
                takeover: args.takeover.then(|| {
                    args.takeover_socket
                        .unwrap_or_else(|| args.control_socket.clone())
                }),
                config: args.config,
                format: args.format,
                xdp_mode: args.xdp_mode,
                dataplane: args.dataplane,
                force_cls_bpf: args.tc_cls_bpf,
                control_socket: args.control_socket,
                metrics_addr: args.metrics_addr,
            })
            .await
            .map(|()| ExitCode::SUCCESS)
            .map_err(anyhow::Error::from),
            Command::Dataplane(args) => havip_agent::diag::run(args)
                .await
                .map(|()| ExitCode::SUCCESS),
            Command::PassThrough(args) => havip_agent::diag::pass_through(args)
                .await
                .map(|()| ExitCode::SUCCESS),
        }
    })
}

/// Exit status of `stop` when no agent runs (LSB's "program is not running").
const NOT_RUNNING: u8 = 3;

/// `e` and its causes as `{:#}` joins them, without a cause whose text an outer message already
/// shows (`#[error("{path}: {source}")]` with `#[source]` would otherwise print it twice), and
/// without line breaks.
fn one_line(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if text.is_empty() || out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out.lines().map(str::trim).collect::<Vec<_>>().join("; ")
}

#[cfg(test)]
mod tests {
    use super::one_line;

    #[derive(Debug, thiserror::Error)]
    #[error("/etc/havip.toml: {source}")]
    struct Outer {
        #[source]
        source: std::io::Error,
    }

    #[test]
    fn a_cause_repeated_by_its_wrapper_is_printed_once() {
        let e = anyhow::Error::new(Outer {
            source: std::io::Error::other("no such file"),
        })
        .context("loading the configuration");
        assert_eq!(
            one_line(&e),
            "loading the configuration: /etc/havip.toml: no such file"
        );
        let two_lines = anyhow::anyhow!("first\nsecond");
        assert_eq!(one_line(&two_lines), "first; second");
    }
}
