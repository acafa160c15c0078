//! `havip-agent dataplane`: static ownership of VIPs on one interface, to exercise the data plane
//! and demonstrate the lease without an election.

use std::net::IpAddr;
use std::time::Duration;

use anyhow::{Context as _, bail};
use tokio::signal::unix::{SignalKind, signal};
use tracing::info;

use crate::{
    cli::{DataplaneArgs, PassThroughArgs},
    dataplane::{Dataplane, VridConfig},
    net::iface::{self, Interface},
};

/// Runs the diagnostic until SIGINT or SIGTERM, then revokes and detaches.
pub async fn run(args: DataplaneArgs) -> anyhow::Result<()> {
    if args.renew >= args.lease {
        bail!(
            "--renew ({:?}) must be shorter than --lease ({:?})",
            args.renew,
            args.lease
        );
    }
    if args.vrid == 0 {
        bail!("--vrid must be 1..=255");
    }
    let ifc = Interface::by_name(&args.iface)?;
    let primary = iface::primary_ipv4(&ifc.name)
        .context("reading interface addresses")?
        .unwrap_or(std::net::Ipv4Addr::UNSPECIFIED)
        .into();
    let mut dp = Dataplane::load().context("loading the XDP program")?;
    dp.configure_vrid(
        ifc.index,
        args.vrid,
        &VridConfig {
            primary_addr: primary,
            priority: 100,
            version: 3,
            unicast_peers: false,
            v3_checksum_as_v2: false,
            auth_pass: None,
            // h1-rule: what the shared acceptance rule compares adverts against (1 s, the VIPs).
            advert_interval: 100,
            vips: args
                .own
                .iter()
                .chain(&args.vip)
                .filter(|a| a.is_ipv4())
                .copied()
                .collect(),
            auth_hmac: false,
        },
    )?;
    // Both families gate on the one VRID's grant.
    for addr in args.own.iter().chain(&args.vip) {
        match *addr {
            IpAddr::V4(a) => dp.set_vip(ifc.index, a, ifc.mac, args.vrid, ifc.index)?,
            IpAddr::V6(a) => dp.set_vip6(ifc.index, a, ifc.mac, args.vrid, ifc.index)?,
        }
    }
    if let Some(peer) = &args.pass_on {
        dp.attach_pass(peer, args.mode)?;
    }
    let mode = dp.attach(&ifc.name, args.mode)?.mode;
    let owning = !args.own.is_empty();
    if owning {
        dp.grant(ifc.index, args.vrid, args.lease)?;
    }
    info!(iface = %ifc.name, %mode, own = ?args.own, vip = ?args.vip, lease = ?args.lease, "data plane up");
    println!(
        "havip dataplane: {} ({}, {mode} mode) owning {:?}, table-only {:?}, lease {:?}",
        ifc.name,
        iface::format_mac(ifc.mac),
        args.own,
        args.vip,
        args.lease
    );

    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut renew = tokio::time::interval(args.renew);
    let print_every = if args.print_every.is_zero() {
        Duration::from_secs(u64::from(u32::MAX))
    } else {
        args.print_every
    };
    let mut print = tokio::time::interval(print_every);
    print.tick().await;
    loop {
        tokio::select! {
            _ = renew.tick() => if owning { dp.renew(ifc.index, args.vrid, args.lease)?; },
            _ = print.tick() => print_counters(&dp)?,
            _ = term.recv() => break,
            _ = int.recv() => break,
        }
    }
    dp.revoke(ifc.index, args.vrid)?;
    print_counters(&dp)?;
    dp.detach_all();
    info!("revoked and detached");
    Ok(())
}

fn print_counters(dp: &Dataplane) -> anyhow::Result<()> {
    let c = dp.counters()?;
    let line: Vec<String> = c
        .iter()
        .filter(|(_, v)| *v != 0)
        .map(|(n, v)| format!("{n}={v}"))
        .collect();
    println!("counters: {}", line.join(" "));
    Ok(())
}

/// Runs `havip-agent pass-through` until SIGINT or SIGTERM.
pub async fn pass_through(args: PassThroughArgs) -> anyhow::Result<()> {
    let mut dp = Dataplane::load().context("loading the XDP program")?;
    let mode = dp.attach_pass(&args.iface, args.mode)?.mode;
    println!("pass-through attached to {} ({mode} mode)", args.iface);
    wait_for_stop().await?;
    dp.detach_all();
    Ok(())
}

async fn wait_for_stop() -> anyhow::Result<()> {
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    tokio::select! {
        _ = term.recv() => {},
        _ = int.recv() => {},
    }
    Ok(())
}
