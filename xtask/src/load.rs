//! `cargo xtask build-and-load`: build, then start the agent on an interface.

use std::process::Command;

use anyhow::bail;

use crate::{cmd, host_guard, setup};

/// Arguments of `cargo xtask build-and-load`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The interface the agent attaches to.
    #[arg(long)]
    iface: String,
    /// Run inside this network namespace (`ip netns exec`).
    #[arg(long)]
    netns: Option<String>,
    /// Allow an interface of the host's own network namespace. Attaching XDP there changes how
    /// the host answers ARP on that link; refused unless asked for explicitly.
    #[arg(long)]
    yes_host_interface: bool,
    /// Build in release mode.
    #[arg(long)]
    release: bool,
    /// Agent arguments after `--` (default: `dataplane --iface IFACE`).
    #[arg(last = true)]
    agent: Vec<String>,
}

/// Entry point.
pub fn run(args: &Args) -> anyhow::Result<()> {
    let facts = host_guard::observe(args.netns.is_some(), args.yes_host_interface);
    match host_guard::decide(&facts) {
        Ok(allowed) => println!("host guard: allowed ({allowed:?})"),
        Err(refused) => bail!(
            "refusing to attach XDP to {}: {refused}. Attaching XDP to an interface of the \
             host's own network namespace makes the kernel drop ARP for configured VIPs this \
             node does not own. Use --netns NS for a lab namespace, or --yes-host-interface if \
             this is really what you want",
            args.iface
        ),
    }
    setup::run_setup()?;
    let bin = cmd::build_agent(args.release)?;
    let agent_args: Vec<String> = if args.agent.is_empty() {
        vec!["dataplane".into(), "--iface".into(), args.iface.clone()]
    } else {
        args.agent.clone()
    };
    let mut c = match &args.netns {
        Some(ns) => {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", ns]).arg(&bin);
            c
        }
        None => Command::new(&bin),
    };
    c.args(&agent_args);
    cmd::run(&mut c)
}
