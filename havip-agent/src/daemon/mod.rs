//! The daemon: one event loop that owns every instance. Inputs (the XDP ring buffer, timers,
//! signals) become `vrrp::Event`s for the instance they concern; the actions that come out are
//! carried out at once (map writes, advert and ARP sends are non-blocking) or handed to a worker
//! task in order (addresses through netlink).
//!
//! ```text
//!  XDP ring buffer ──┐                        ┌─> raw socket (adverts)
//!  deadlines       ──┼─> event loop ─> FSM ───┼─> BPF maps (grant / renew / revoke)
//!  SIGTERM/SIGINT  ──┘   (this task)          ├─> AF_PACKET (gratuitous ARP)
//!                                             └─> address worker task (rtnetlink)
//! ```

mod addr_worker;
pub mod instance;

use std::{collections::HashMap, os::fd::AsRawFd as _, path::PathBuf, time::Duration};

use aya::maps::{MapData, RingBuf};
use havip_common::{AdvertEvent, MAX_VRRP_LEN, event_flags};
use tokio::{
    io::unix::AsyncFd,
    signal::unix::{SignalKind, signal},
    sync::{mpsc, oneshot},
};
use tracing::{debug, info, warn};

use self::{addr_worker::AddrOp, instance::Runtime};
use crate::{
    clock::monotonic_ns,
    cloud::Reporters,
    config,
    dataplane::{AttachMode, Dataplane, DataplaneError},
    net::{addr::Addresses, iface::IfaceError},
    vrrp::{self, AdvertRepr, Event},
};

/// Errors that stop the daemon from starting.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// The configuration did not load.
    #[error("{path}: {source}")]
    Config {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: config::ConfigError,
    },
    /// The data plane failed.
    #[error(transparent)]
    Dataplane(#[from] DataplaneError),
    /// An interface lookup failed.
    #[error(transparent)]
    Iface(#[from] IfaceError),
    /// An instance cannot run as configured.
    #[error("instance {instance}: {what}")]
    Invalid {
        /// The instance.
        instance: String,
        /// What is wrong.
        what: String,
    },
    /// An instance has no address to advertise from.
    #[error(
        "instance {instance}: {ifname} has no IPv4 address and no unicast_src_ip is configured"
    )]
    NoPrimaryAddress {
        /// The instance.
        instance: String,
        /// Its interface.
        ifname: String,
    },
    /// A system call failed.
    #[error("{what}: {source}")]
    Io {
        /// What we were doing.
        what: &'static str,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Opening rtnetlink failed.
    #[error(transparent)]
    Netlink(#[from] crate::net::addr::AddrError),
    /// Cloud reporting could not start (its configuration or credentials).
    #[error(transparent)]
    Cloud(#[from] crate::cloud::CloudError),
}

/// How to run.
#[derive(Clone, Debug)]
pub struct Options {
    /// Configuration file.
    pub config: PathBuf,
    /// Its format.
    pub format: config::Format,
    /// XDP attach mode.
    pub xdp_mode: AttachMode,
}

/// A ring buffer as a tokio-readable source.
struct Events(AsyncFd<RingBuf<MapData>>);

#[expect(
    clippy::too_many_lines,
    reason = "setup, the select loop and shutdown read best in one place; split when the loop grows"
)]
/// Runs the daemon until SIGTERM or SIGINT; then every master sends a priority-0 advert and
/// resigns, addresses are removed, and the program is detached.
pub async fn run(opts: Options) -> Result<(), DaemonError> {
    let loaded = config::load(&opts.config, opts.format).map_err(|source| DaemonError::Config {
        path: opts.config.clone(),
        source,
    })?;
    for d in &loaded.diagnostics {
        warn!(diagnostic = %d, "configuration");
    }
    let cfg = loaded.config;
    let mut dp = Dataplane::load()?;
    let mut runtimes: Vec<Runtime> = Vec::new();
    for inst in &cfg.instances {
        runtimes.push(Runtime::new(inst, &cfg.global, &mut dp)?);
    }
    // Cloud reporting (issue #6), set up before anything is attached so a bad `[cloud]` stops
    // the start cleanly: reporters run in their own tasks; the loop only publishes state changes
    // to them (never blocking) and serves their re-announce requests.
    let (mut cloud, mut reannounce_rx) = Reporters::start(&cfg, &runtimes)?;
    let mut ifaces: Vec<String> = runtimes.iter().map(|r| r.iface.name.clone()).collect();
    ifaces.sort();
    ifaces.dedup();
    for ifname in &ifaces {
        dp.attach(ifname, opts.xdp_mode)?;
    }
    let ring = dp.take_events().ok_or(DaemonError::Invalid {
        instance: String::new(),
        what: "ring buffer already taken".to_owned(),
    })?;
    // SAFETY: the ring buffer owns its fd for as long as the AsyncFd owns the ring buffer, and
    // nothing else closes or re-registers it.
    let registered = unsafe { AsyncFd::register(ring) };
    let mut events = Events(registered.map_err(|e| DaemonError::Io {
        what: "polling the ring buffer",
        source: std::io::Error::other(e.to_string()),
    })?);
    let index: HashMap<(u32, u8), usize> = runtimes
        .iter()
        .enumerate()
        .map(|(i, r)| ((r.iface.index, r.fsm.params().vrid), i))
        .collect();

    let addresses = Addresses::new()?;
    let (addr_tx, addr_rx) = mpsc::unbounded_channel();
    let worker = tokio::spawn(addr_worker::run(addresses, addr_rx));

    let mut term = signal(SignalKind::terminate()).map_err(|source| DaemonError::Io {
        what: "installing the SIGTERM handler",
        source,
    })?;
    let mut int = signal(SignalKind::interrupt()).map_err(|source| DaemonError::Io {
        what: "installing the SIGINT handler",
        source,
    })?;

    let start = now();
    for r in &mut runtimes {
        r.clear_addresses(&addr_tx);
        r.handle(start, Event::Startup, &mut dp, &addr_tx);
    }
    info!(
        instances = runtimes.len(),
        interfaces = ?ifaces,
        fd = events.0.as_raw_fd(),
        "havip running"
    );

    loop {
        cloud.observe(&runtimes);
        let next = runtimes.iter().filter_map(|r| r.fsm.poll_at()).min();
        let sleep = next.map_or(Duration::from_secs(3600), |t| {
            t.saturating_duration_since(now())
        });
        tokio::select! {
            () = tokio::time::sleep(sleep) => {
                let t = now();
                for r in &mut runtimes {
                    if r.fsm.poll_at().is_some_and(|at| at <= t) {
                        r.handle(t, Event::Timer, &mut dp, &addr_tx);
                    }
                }
            }
            ready = events.0.readable_mut() => {
                let Ok(mut guard) = ready else { continue };
                // Clear readiness *before* draining: the kernel only signals a ring buffer when
                // its consumer has caught up, so a record committed after the drain but before a
                // late clear would lose its only wakeup and stall the receive path.
                guard.clear_ready();
                let ring = guard.get_inner_mut();
                while let Some(item) = ring.next() {
                    let Some(ev) = read_event(&item) else {
                        warn!(len = item.len(), "short ring buffer record");
                        continue;
                    };
                    drop(item);
                    deliver(&ev, &index, &mut runtimes, &mut dp, &addr_tx);
                }
            }
            Some(i) = reannounce_rx.recv() => {
                if let Some(r) = runtimes.get_mut(i) {
                    r.reannounce();
                }
            }
            _ = term.recv() => break,
            _ = int.recv() => break,
        }
    }

    info!("shutting down");
    let stop = now();
    for r in &mut runtimes {
        r.handle(stop, Event::Shutdown, &mut dp, &addr_tx);
    }
    cloud.observe(&runtimes);
    let (done_tx, done_rx) = oneshot::channel();
    let _ = addr_tx.send(AddrOp::Flush(done_tx));
    if tokio::time::timeout(Duration::from_secs(3), done_rx)
        .await
        .is_err()
    {
        warn!("address removal did not finish within 3 s");
    }
    drop(addr_tx);
    let _ = tokio::time::timeout(Duration::from_secs(1), worker).await;
    cloud.shutdown(Duration::from_secs(2)).await;
    match dp.counters() {
        Ok(c) => {
            let line: Vec<String> = c
                .iter()
                .filter(|(_, v)| *v != 0)
                .map(|(n, v)| format!("{n}={v}"))
                .collect();
            info!(counters = %line.join(" "), "kernel counters");
        }
        Err(e) => warn!(error = %e, "reading kernel counters failed"),
    }
    dp.detach_all();
    info!("stopped");
    Ok(())
}

fn now() -> vrrp::Instant {
    vrrp::Instant::from_nanos(monotonic_ns())
}

fn read_event(bytes: &[u8]) -> Option<AdvertEvent> {
    if bytes.len() < size_of::<AdvertEvent>() {
        return None;
    }
    // SAFETY: length checked; AdvertEvent is plain old data (havip-common), read unaligned.
    Some(unsafe { std::ptr::read_unaligned(bytes.as_ptr().cast::<AdvertEvent>()) })
}

fn deliver(
    ev: &AdvertEvent,
    index: &HashMap<(u32, u8), usize>,
    runtimes: &mut [Runtime],
    dp: &mut Dataplane,
    addr_tx: &mpsc::UnboundedSender<AddrOp>,
) {
    let vrid = ev.vrrp[1];
    let Some(r) = index
        .get(&(ev.ifindex, vrid))
        .and_then(|&i| runtimes.get_mut(i))
    else {
        debug!(
            ifindex = ev.ifindex,
            vrid, "advert for an instance we do not run"
        );
        return;
    };
    let len = usize::from(ev.vrrp_len).min(MAX_VRRP_LEN);
    let src = std::net::Ipv4Addr::from(ev.src);
    let dst = std::net::Ipv4Addr::from(ev.dst);
    let mode = r.fsm.params().checksum_mode;
    let advert = match AdvertRepr::parse(&ev.vrrp[..len], src, dst, mode) {
        Ok(a) => a,
        Err(e) => {
            warn!(instance = r.name(), %src, error = %e, "advert accepted by XDP but not decodable");
            return;
        }
    };
    let fenced = ev.flags & event_flags::FENCED != 0;
    r.handle(
        now(),
        Event::Advert {
            src,
            advert,
            fenced,
        },
        dp,
        addr_tx,
    );
}
