//! The daemon: one event loop that owns every instance. Inputs (the XDP ring buffer, timers,
//! signals) become `vrrp::Event`s for the instance they concern; the actions that come out are
//! carried out at once (map writes, advert and ARP sends are non-blocking) or handed to a worker
//! task in order (addresses through netlink).
//!
//! ```text
//!  XDP ring buffer ──┐                        ┌─> raw socket (adverts)
//!  deadlines       ──┤                        │
//!  link / scripts  ──┼─> event loop ─> FSM ───┼─> BPF maps (grant / renew / revoke)
//!  SIGTERM/SIGINT  ──┘   (this task)          ├─> AF_PACKET (gratuitous ARP)
//!                                             └─> address worker task (rtnetlink)
//! ```

mod addr_worker;
mod groups;
pub mod instance;
mod reload;
mod snapshot;
mod tracking;

use std::{
    collections::HashMap, net::SocketAddr, os::fd::AsRawFd as _, path::PathBuf, time::Duration,
};

use aya::maps::{MapData, RingBuf};
use havip_common::{AdvertEvent, MAX_VRRP_LEN, event_flags};
use tokio::{
    io::unix::AsyncFd,
    signal::unix::{SignalKind, signal},
    sync::{mpsc, oneshot},
};
use tracing::{debug, error, info, warn};

use self::{addr_worker::AddrOp, groups::GroupNotify, instance::Runtime, tracking::Tracking};
use crate::{
    clock::monotonic_ns,
    cloud::Reporters,
    config, control,
    dataplane::{AttachMode, Dataplane, DataplaneError},
    metrics::{self, InstanceInfo, Metrics, MetricsError},
    net::{addr::Addresses, iface::IfaceError},
    track::{Object, TrackEvent, Tracker},
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
    /// The metrics endpoint cannot start.
    #[error(transparent)]
    Metrics(#[from] MetricsError),
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
    /// Path of the control socket (`havip-agent status`).
    pub control_socket: PathBuf,
    /// Address of the metrics endpoint; `None`: the configuration's `metrics_addr`.
    pub metrics_addr: Option<SocketAddr>,
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
    let mut cfg = loaded.config;
    // metrics: listen first, so a taken port fails the start before the data plane changes.
    let metrics = Metrics::new();
    let metrics_addr = opts.metrics_addr.unwrap_or(cfg.global.metrics_addr);
    let server = metrics::serve(metrics_addr, metrics.clone())?;
    let mut dp = Dataplane::load()?;
    // metrics: scrapes read the kernel's counters through their own map handles.
    match dp.reader() {
        Ok(reader) => metrics.attach_kernel(reader),
        Err(e) => warn!(error = %e, "metrics: kernel counters will not be exported"),
    }
    let mut runtimes: Vec<Runtime> = Vec::new();
    for inst in &cfg.instances {
        let tracker = Tracker::new(inst, &cfg.scripts, &cfg.sync_groups).map_err(|e| {
            DaemonError::Invalid {
                instance: inst.name.clone(),
                what: e.to_string(),
            }
        })?;
        let mut r = Runtime::new(inst, &cfg.global, tracker, &mut dp)?;
        r.metrics = metrics.register_instance(InstanceInfo::of(&r)); // metrics
        r.notifier.export_to(metrics.clone()); // metrics
        runtimes.push(r);
    }
    // Cloud reporting (issue #6), set up before anything is attached so a bad `[cloud]` stops
    // the start cleanly: reporters run in their own tasks; the loop only publishes state changes
    // to them (never blocking) and serves their re-announce requests.
    let (mut cloud, mut reannounce_rx) = Reporters::start(&cfg, &runtimes)?;
    cloud.export_to(&metrics); // metrics
    let mut ifaces: Vec<String> = runtimes.iter().map(|r| r.iface.name.clone()).collect();
    ifaces.sort();
    ifaces.dedup();
    for ifname in &ifaces {
        dp.attach(ifname, opts.xdp_mode)?;
    }
    metrics.set_dataplane_attached(true); // metrics
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
    let mut index: HashMap<(u32, u8), usize> = runtimes
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
    let mut hup = signal(SignalKind::hangup()).map_err(|source| DaemonError::Io {
        what: "installing the SIGHUP handler",
        source,
    })?;

    let (ctl_tx, mut ctl_rx) = mpsc::channel::<control::Request>(8);
    // Status is for operators; an agent that cannot offer it still runs the election.
    let _control = match control::Server::start(&opts.control_socket, ctl_tx) {
        Ok(server) => Some(server),
        Err(e) => {
            warn!(path = %opts.control_socket.display(), error = %e, "control socket unavailable: `havip-agent status` will not answer");
            None
        }
    };
    let mut tracking = Tracking::start(&cfg, &runtimes)?;
    let start = now();
    for r in &mut runtimes {
        r.clear_addresses(&addr_tx);
        r.handle(start, Event::Startup, &mut dp, &addr_tx);
        r.retrack(start, &tracking.states, &mut dp, &addr_tx);
    }
    groups::sync_faults(&cfg, &mut runtimes, start, &mut dp, &addr_tx);
    let mut group_notify = GroupNotify::new(&cfg, &metrics)?;
    info!(
        instances = runtimes.len(),
        interfaces = ?ifaces,
        fd = events.0.as_raw_fd(),
        "havip running"
    );

    loop {
        // metrics: /healthz fails when this stops; the sleep is capped so an idle loop beats.
        metrics.heartbeat();
        groups::sync_states(&cfg, &mut runtimes, now(), &mut dp, &addr_tx);
        cloud.observe(&runtimes);
        group_notify.observe(&runtimes);
        let next = runtimes.iter().filter_map(|r| r.fsm.poll_at()).min();
        let sleep = next
            .map_or(metrics::HEARTBEAT_INTERVAL, |t| {
                t.saturating_duration_since(now())
            })
            .min(metrics::HEARTBEAT_INTERVAL);
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
            Some(ev) = tracking.next() => {
                export_tracking(&metrics, &ev, &runtimes); // metrics
                let t = now();
                for r in &mut runtimes {
                    r.retrack(t, &tracking.states, &mut dp, &addr_tx);
                }
                groups::sync_faults(&cfg, &mut runtimes, t, &mut dp, &addr_tx);
            }
            Some(reply) = ctl_rx.recv() => {
                let _ = reply.send(snapshot::snapshot(&cfg, &runtimes, &tracking.states, &mut dp));
            }
            _ = hup.recv() => {
                let before: Vec<String> = runtimes.iter().map(|r| r.name().to_owned()).collect();
                let cloud_before = cfg.cloud.clone();
                let mut running = reload::Running {
                    cfg: &mut cfg,
                    runtimes: &mut runtimes,
                    index: &mut index,
                    ifaces: &mut ifaces,
                    tracking: &mut tracking,
                    dp: &mut dp,
                    metrics: &metrics,
                };
                reload::reload(&opts, &mut running, &addr_tx);
                match GroupNotify::new(&cfg, &metrics) {
                    Ok(g) => group_notify = g,
                    Err(e) => error!(error = %e, "sync group notify scripts could not be prepared"),
                }
                // Cloud reporters address instances by position: restart them when the
                // instances or the `[cloud]` table changed (a report is idempotent).
                let after: Vec<String> = runtimes.iter().map(|r| r.name().to_owned()).collect();
                if before != after || cloud_before != cfg.cloud {
                    match Reporters::start(&cfg, &runtimes) {
                        Ok((new_cloud, new_rx)) => {
                            new_cloud.export_to(&metrics); // metrics
                            let old = std::mem::replace(&mut cloud, new_cloud);
                            reannounce_rx = new_rx;
                            tokio::spawn(old.shutdown(Duration::from_secs(2)));
                        }
                        Err(e) => {
                            error!(error = %e, "cloud reporting stopped: the new [cloud] does not start");
                            let (none, rx) = Reporters::disabled(runtimes.len());
                            let old = std::mem::replace(&mut cloud, none);
                            reannounce_rx = rx;
                            tokio::spawn(old.shutdown(Duration::from_secs(2)));
                        }
                    }
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

    drop(tracking);
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
    group_notify.observe(&runtimes);
    for r in &mut runtimes {
        r.notifier.finish(Duration::from_secs(10)).await;
    }
    group_notify.finish(Duration::from_secs(10)).await;
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
    metrics.set_dataplane_attached(false); // metrics
    server.stop(); // metrics
    info!("stopped");
    Ok(())
}

/// Exports a tracked object's new state (interfaces only if some instance tracks them).
fn export_tracking(metrics: &Metrics, ev: &TrackEvent, runtimes: &[Runtime]) {
    match ev {
        TrackEvent::Script { name, ok } => metrics.track_script_status(name, *ok),
        TrackEvent::Link { name, up, .. } => {
            let object = Object::Interface(name.clone());
            if runtimes
                .iter()
                .any(|r| r.tracker.objects().iter().any(|t| t.object == object))
            {
                metrics.track_interface_status(name, *up);
            }
        }
    }
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
    r.learn_peer(src, ev.src_mac, addr_tx);
    let fenced = ev.flags & event_flags::FENCED != 0;
    r.metrics.advert_received(ev.ts_ns, src, &advert); // metrics
    r.handle(
        now(),
        Event::Advert {
            src,
            dst,
            ttl: ev.ttl, // h1-rule: IP facts for the shared acceptance rule
            advert,
            fenced,
        },
        dp,
        addr_tx,
    );
}
