//! The command line (clap derive). Doc comments are the help text.

use clap::{Parser, Subcommand};

use crate::dataplane::AttachMode;

/// havip: a high-availability virtual IP agent (VRRP v2/v3, keepalived-compatible) with an XDP
/// fast path that answers ARP for the VIP only while this node owns it.
#[derive(Debug, Parser)]
#[command(version, about)]
pub struct Cli {
    /// Log filter (tracing `EnvFilter` syntax), e.g. `info` or `havip_agent=debug`.
    #[arg(long, global = true, env = "HAVIP_LOG", default_value = "info")]
    pub log: String,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the agent: VRRP election for every configured instance, with the XDP data plane.
    Run(RunArgs),
    /// Validate a configuration (havip TOML or keepalived.conf) and print a summary; exit status
    /// 0 if it can run (warnings printed), 1 if not; with `--strict`, 5 if it runs but has
    /// warnings (`keepalived -t`'s status for such a file).
    CheckConfig(CheckConfigArgs),
    /// Print the havip TOML equivalent of a keepalived.conf (diagnostics go to stderr).
    ImportKeepalived(ImportArgs),
    /// Show the running agent's instances (state, priorities, master, ownership in the kernel,
    /// last transition, tracked objects, kernel counters), through its control socket.
    Status(StatusArgs),
    /// Stop the running agent (found through its control socket) and wait for it to exit.
    /// Plainly: a clean resignation (priority-0 advert, addresses removed, program detached).
    /// With `--keep-ownership`: a planned restart, the VIPs kept for the next start under a
    /// lease shorter than the peers' `Master_Down_Interval`. Exit status 0 once the agent is
    /// gone, 3 if no agent runs, 1 on any other error.
    Stop(StopArgs),
    /// Diagnostic: attach the XDP program to an interface and own the given VIPs statically,
    /// renewing the lease while running and printing the kernel counters. After `kill -9` the
    /// kernel stops answering within the lease.
    Dataplane(DataplaneArgs),
    /// Diagnostic: attach a pass-everything XDP program to an interface until SIGINT/SIGTERM.
    /// A veth whose peer runs havip in driver mode needs it for `XDP_TX` replies to arrive.
    PassThrough(PassThroughArgs),
}

/// Arguments of `havip-agent check-config`.
#[derive(Debug, clap::Args)]
pub struct CheckConfigArgs {
    /// The configuration file.
    #[arg(default_value = "/etc/havip/havip.toml")]
    pub config: std::path::PathBuf,
    /// Configuration format (auto: decided from the file).
    #[arg(long, value_enum, default_value_t = crate::config::Format::Auto)]
    pub format: crate::config::Format,
    /// Fail on warnings too, as `keepalived -t` does: exit status 5 when the file would run but
    /// has warnings (notes do not count).
    #[arg(long)]
    pub strict: bool,
}

/// Arguments of `havip-agent status`.
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// The agent's control socket.
    #[arg(long, default_value = crate::control::DEFAULT_SOCKET)]
    pub control_socket: std::path::PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `havip-agent stop`.
#[derive(Debug, clap::Args)]
pub struct StopArgs {
    /// Keep the VIPs for the next start instead of resigning (the agent gets `SIGUSR2`; plain
    /// `stop` sends `SIGTERM`). Start the new agent within 3 advert intervals, or the peers
    /// take over normally.
    #[arg(long)]
    pub keep_ownership: bool,
    /// The agent's control socket.
    #[arg(long, default_value = crate::control::DEFAULT_SOCKET)]
    pub control_socket: std::path::PathBuf,
    /// How long to wait for the agent to exit (a clean stop waits for notify scripts, up to
    /// 10 s, and cloud reports, up to 2 s).
    #[arg(long, default_value = "20s", value_parser = parse_duration)]
    pub timeout: std::time::Duration,
}

/// Arguments of `havip-agent import-keepalived`.
#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// The keepalived.conf to convert.
    #[arg(default_value = "/etc/keepalived/keepalived.conf")]
    pub config: std::path::PathBuf,
}

/// Arguments of `havip-agent pass-through`.
#[derive(Debug, clap::Args)]
pub struct PassThroughArgs {
    /// Interface to attach to.
    #[arg(long)]
    pub iface: String,
    /// XDP attach mode.
    #[arg(long, value_enum, default_value_t = AttachMode::Driver)]
    pub mode: AttachMode,
}

/// Arguments of `havip-agent run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Configuration file: havip TOML or keepalived.conf.
    #[arg(long, short = 'f', default_value = "/etc/havip/havip.toml")]
    pub config: std::path::PathBuf,
    /// Configuration format (auto: decided from the file).
    #[arg(long, value_enum, default_value_t = crate::config::Format::Auto)]
    pub format: crate::config::Format,
    /// XDP attach mode.
    #[arg(long, value_enum, default_value_t = AttachMode::Auto)]
    pub xdp_mode: AttachMode,
    /// The hook the data plane runs on (overrides the configuration's `dataplane`; default
    /// xdp): exclusive XDP, a tc classifier beside other XDP programs, or auto (XDP on a free
    /// interface, tc beside another XDP program). xdp-multiprog is refused (not implemented).
    #[arg(long, value_enum)]
    pub dataplane: Option<crate::dataplane::DataplaneMode>,
    /// In tc mode, attach as a `clsact` + `cls_bpf` filter even where tcx exists (the fallback
    /// for Linux < 6.6, chosen by itself there).
    #[arg(long)]
    pub tc_cls_bpf: bool,
    /// Path of the control socket that `havip-agent status` talks to.
    #[arg(long, default_value = crate::control::DEFAULT_SOCKET)]
    pub control_socket: std::path::PathBuf,
    /// Prepared start (planned restart or upgrade with the least gap): do the slow part of the
    /// start-up (process start, configuration) while the running agent still serves, then stop
    /// it keeping its VIPs (as `stop --keep-ownership`), and adopt and resume at once. The
    /// running agent is found through `--takeover-socket`; when none runs, a normal start.
    #[arg(long)]
    pub takeover: bool,
    /// The control socket of the agent `--takeover` replaces (default: `--control-socket`).
    #[arg(long, requires = "takeover")]
    pub takeover_socket: Option<std::path::PathBuf>,
    /// Listen address of the Prometheus endpoint (`/metrics`, `/healthz`, `/readyz`); overrides
    /// `metrics_addr` of the configuration, whose default is 127.0.0.1:9828.
    #[arg(long, value_name = "ADDR:PORT")]
    pub metrics_addr: Option<std::net::SocketAddr>,
}

/// Arguments of `havip-agent dataplane`.
#[derive(Debug, clap::Args)]
pub struct DataplaneArgs {
    /// Interface to attach to.
    #[arg(long)]
    pub iface: String,
    /// A VIP to own (ARP or, for an IPv6 address, Neighbor Solicitations answered with the
    /// interface's MAC). Repeatable.
    #[arg(long = "own", value_name = "ADDR")]
    pub own: Vec<std::net::IpAddr>,
    /// A VIP to put in the table but not own (ARP or Neighbor Solicitations for it are
    /// dropped). Repeatable.
    #[arg(long = "vip", value_name = "ADDR")]
    pub vip: Vec<std::net::IpAddr>,
    /// VRID the VIPs belong to.
    #[arg(long, default_value_t = 51)]
    pub vrid: u8,
    /// Ownership lease; the kernel stops answering this long after the last renewal.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    pub lease: std::time::Duration,
    /// How often the lease is renewed (must be shorter than the lease).
    #[arg(long, default_value = "250ms", value_parser = parse_duration)]
    pub renew: std::time::Duration,
    /// How often counters are printed (0 = never).
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub print_every: std::time::Duration,
    /// XDP attach mode.
    #[arg(long, value_enum, default_value_t = AttachMode::Auto)]
    pub mode: AttachMode,
    /// Also attach the pass-through program to this interface (a veth peer, for driver mode).
    #[arg(long, value_name = "IFACE")]
    pub pass_on: Option<String>,
}

/// Parses `250ms`, `1s`, `1.5s`, `2m`, `100us`.
pub fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(|| format!("{s:?}: missing unit (ms, s, m, us)"))?;
    let (num, unit) = s.split_at(split);
    let value: f64 = num
        .parse()
        .map_err(|_| format!("{s:?}: {num:?} is not a number"))?;
    let secs = match unit {
        "us" => value / 1e6,
        "ms" => value / 1e3,
        "s" => value,
        "m" => value * 60.0,
        _ => return Err(format!("{s:?}: unknown unit {unit:?} (ms, s, m, us)")),
    };
    std::time::Duration::try_from_secs_f64(secs).map_err(|e| format!("{s:?}: {e}"))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("5").is_err());
        assert!(parse_duration("5h").is_err());
        assert!(parse_duration("-1s").is_err());
        assert!(parse_duration("ms").is_err());
    }

    #[test]
    fn cli_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
