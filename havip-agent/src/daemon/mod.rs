//! The daemon: a shell around the pure cores. One event loop owns every instance; everything
//! that can happen reaches it as one [`Input`] (ring-buffer advert, timer, tracking change,
//! signal, reload result, control request, cloud re-announce request), and [`Shell::step`]
//! turns it into `vrrp::Event`s for the state machines ([`crate::vrrp::Instance`]) and the sync
//! groups ([`crate::vrrp::sync_group`]). Their actions become [`effect::Effect`]s carried out at
//! once (map writes, advert and ARP sends are non-blocking) or handed to the address worker in
//! order (rtnetlink). What happened is published as [`crate::events::Event`]s to subscribers
//! (metrics, cloud reporting, notify scripts), none of which reads the loop's state.
//!
//! ```text
//!  XDP ring buffer ─┐                                    ┌─ Effect ─> raw socket (adverts)
//!  deadlines       ─┤                                    │            BPF maps (grant/renew/revoke)
//!  link / scripts  ─┤   Input   ┌───────────────────┐    │            AF_PACKET (gratuitous ARP)
//!  SIGHUP/TERM/INT ─┼─────────> │ Shell::step       │ ───┤            address worker (rtnetlink)
//!  reload result   ─┤ (one enum)│ FSMs, sync groups │    │
//!  (parsed off-loop)│           └───────────────────┘    └─ Event ──> metrics (bounded queue)
//!  control socket  ─┤                                                 cloud (latest-value slots)
//!  cloud re-announce┘                                                 notify (per-instance queue)
//! ```

mod addr_worker;
mod bfd;
mod effect;
mod groups;
pub mod instance;
mod kernel_drops;
mod log_limit;
mod realtime;
mod reload;
mod resume;
mod shell;
mod snapshot;
mod timer;
mod tracking;

use std::{net::SocketAddr, os::fd::AsRawFd as _, path::PathBuf, time::Duration};

pub use self::reload::ReloadError;

use tokio::{
    io::unix::AsyncFd,
    signal::unix::{SignalKind, signal},
    sync::{mpsc, oneshot},
};
use tracing::{error, info, warn};

pub(crate) use self::shell::Input;
use self::{
    addr_worker::AddrOp,
    groups::Groups,
    instance::Runtime,
    shell::{Events, INPUT_CAPACITY, Shell, index_of, read_event},
    timer::{Deadline, TimerError},
    tracking::Tracking,
};
use crate::{
    clock::monotonic_ns,
    cloud::Reporters,
    config, control,
    dataplane::{AttachMode, Dataplane, DataplaneError, Origin},
    events::{self, InstanceId, Subscriber},
    metrics::{self, Metrics, MetricsError},
    net::{addr::Addresses, iface::IfaceError},
    notify::Hub,
    track::Tracker,
    vrrp::{self, Event},
};

/// Errors that stop the daemon from starting.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// The configuration did not load (the cause names the file and the position).
    #[error("{source}")]
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
    /// The deadline timer cannot be created or armed.
    #[error(transparent)]
    Timer(#[from] TimerError),
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
    /// Data plane mode (hook); `None`: the configuration's `dataplane`.
    pub dataplane: Option<crate::dataplane::DataplaneMode>,
    /// In tc mode, attach through `clsact` + `cls_bpf` even where tcx exists.
    pub force_cls_bpf: bool,
    /// Path of the control socket (`havip-agent status`).
    pub control_socket: PathBuf,
    /// Address of the metrics endpoint; `None`: the configuration's `metrics_addr`.
    pub metrics_addr: Option<SocketAddr>,
    /// Prepared start: the control socket of a running agent to stop for a restart (keeping
    /// its VIPs) once this one is ready to adopt, instead of being started after it.
    pub takeover: Option<PathBuf>,
}

#[expect(
    clippy::too_many_lines,
    reason = "setup, the select loop and shutdown read best in one place"
)]
/// Runs the daemon until SIGTERM or SIGINT; then every master sends a priority-0 advert and
/// resigns, addresses are removed, and the program is detached.
pub async fn run(opts: Options) -> Result<(), DaemonError> {
    // Where a restart's time goes (issue #14): logged with the first advert and at `running`.
    let t0 = std::time::Instant::now();
    let loaded = config::load(&opts.config, opts.format).map_err(|source| DaemonError::Config {
        path: opts.config.clone(),
        source,
    })?;
    for d in &loaded.diagnostics {
        warn!(diagnostic = %d, "configuration");
    }
    let cfg = loaded.config;
    let configured = t0.elapsed();
    // metrics: listen first, so a taken port fails the start before the data plane changes;
    // after a takeover only, as the previous agent held the port until it exited.
    let metrics = Metrics::new();
    let metrics_addr = opts.metrics_addr.unwrap_or(cfg.global.metrics_addr);
    let server = if opts.takeover.is_none() {
        Some(metrics::serve(metrics_addr, metrics.clone())?)
    } else {
        None
    };
    let (metrics_sub, recorder) = metrics::subscribe(&metrics);
    // Issue #14: the program and maps a previous agent left attached are adopted when they
    // speak this ABI, so that its instances resume without a transition.
    // Issue #15: the hook comes from the command line, else the configuration.
    let dataplane_mode = opts.dataplane.unwrap_or(cfg.global.dataplane);
    let (mut dp, origin) = Dataplane::adopt_or_load(
        &configured_interfaces(&cfg),
        crate::dataplane::sizing::for_config(&cfg),
        dataplane_mode,
    )?;
    dp.force_cls_bpf(opts.force_cls_bpf);
    // A prepared start opens the running maps first (the slow part), then stops the previous
    // agent and reads the tables it left.
    let previous = match &opts.takeover {
        Some(path) => {
            let pid = take_over(path, t0).await?;
            dp.reread();
            pid
        }
        None => None,
    };
    let adopted_at = t0.elapsed();
    let handover = log_origin(&origin);
    // metrics: scrapes read the kernel's counters through their own map handles.
    match dp.reader() {
        Ok(reader) => metrics.attach_kernel(reader),
        Err(e) => warn!(error = %e, "metrics: kernel counters will not be exported"),
    }
    // Frames the kernel refused never reach the loop: log them from their counters.
    let _drops = match dp.reader().map(kernel_drops::KernelDrops::start) {
        Ok(Ok(watcher)) => Some(watcher),
        Ok(Err(e)) => {
            warn!(error = %e, "dropped adverts will not be logged");
            None
        }
        Err(e) => {
            warn!(error = %e, "dropped adverts will not be logged");
            None
        }
    };
    let mut notify = Hub::new(Some(metrics.clone()));
    let mut runtimes: Vec<Runtime> = Vec::new();
    let mut next_id: InstanceId = 0;
    for inst in &cfg.instances {
        let tracker = Tracker::new(inst, &cfg.scripts, &cfg.sync_groups)
            .map_err(|e| DaemonError::Invalid {
                instance: inst.name.clone(),
                what: e.to_string(),
            })?
            .with_bfds(inst, &cfg.bfd, &cfg.sync_groups);
        let mut r = Runtime::new(next_id, inst, &cfg.global, tracker, &mut dp)?;
        if let Some(n) = r.notifier.take() {
            notify.add_instance(next_id, n);
        }
        r.announce();
        next_id += 1;
        runtimes.push(r);
    }
    let mut group_notifiers = Vec::new();
    for g in &cfg.sync_groups {
        group_notifiers.push(
            crate::notify::Notifier::for_group(g, &cfg.global).map_err(|e| {
                DaemonError::Invalid {
                    instance: format!("vrrp_sync_group {}", g.name),
                    what: format!("notify: {e}"),
                }
            })?,
        );
    }
    notify.set_groups(group_notifiers);
    // Cloud reporting (issue #6), set up before anything is attached so a bad `[cloud]` stops
    // the start cleanly: reporters run in their own tasks and subscribe to state changes
    // (never blocking the loop); the loop serves their re-announce requests.
    if matches!(origin, Origin::Adopted { .. } | Origin::Upgraded { .. }) {
        let (vrids, vips, vips6) = resume::configured_keys(&runtimes);
        dp.forget_unconfigured(&vrids, &vips, &vips6);
    }
    // Instances that resume do so before the slower rest of the start-up (cloud reporters,
    // script checks, sockets): their first advert is what a planned restart waits for, and it
    // must come within the lease the previous agent left (3 advert intervals).
    let (addr_tx, addr_rx) = mpsc::unbounded_channel();
    let early = now();
    let mut started: Vec<Option<resume::Start>> = Vec::with_capacity(runtimes.len());
    for r in &mut runtimes {
        started.push(r.resumes(early).then(|| r.start(early, &mut dp, &addr_tx)));
    }
    if started.iter().any(Option::is_some) {
        info!(
            config = ?configured,
            adopted = ?adopted_at,
            first_advert = ?t0.elapsed(),
            "resumed before the rest of the start-up"
        );
    }
    // After a takeover the previous agent holds the metrics port until it exits: the endpoint
    // starts once it has, beside the running election.
    let server = std::sync::Arc::new(std::sync::Mutex::new(server));
    if opts.takeover.is_some() {
        let (slot, metrics) = (std::sync::Arc::clone(&server), metrics.clone());
        tokio::spawn(async move {
            if let Some(pid) = previous
                && let Err(e) = control::stop::wait_exit(pid, Duration::from_secs(20)).await
            {
                warn!(error = %e, "the previous agent has not exited");
            }
            match metrics::serve(metrics_addr, metrics) {
                Ok(s) => {
                    if let Ok(mut slot) = slot.lock() {
                        *slot = Some(s);
                    }
                }
                Err(e) => error!(error = %e, "the metrics endpoint did not start"),
            }
        });
    }
    let infos: Vec<events::InstanceInfo> = runtimes.iter().map(Runtime::info).collect();
    let (cloud, reannounce_rx) = Reporters::start(&cfg, &infos)?;
    cloud.export_to(&metrics);
    let mut ifaces: Vec<String> = runtimes.iter().flat_map(Runtime::xdp_interfaces).collect();
    ifaces.sort();
    ifaces.dedup();
    for ifname in &ifaces {
        dp.attach(ifname, opts.xdp_mode)?;
    }
    // Issue #15: which hook each interface got (auto decides per interface).
    let hooks = dp.hooks();
    info!(asked = %dp.dataplane_mode(), used = ?hooks, "data plane mode");
    metrics.set_dataplane_modes(hooks);
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
    let index = index_of(&runtimes);

    let addresses = Addresses::new()?;
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
    // SIGUSR2: stop for a restart, keeping ownership (issue #14; `systemctl restart`).
    let mut usr2 = signal(SignalKind::user_defined2()).map_err(|source| DaemonError::Io {
        what: "installing the SIGUSR2 handler",
        source,
    })?;
    let mut keep_ownership = false;

    let (ctl_tx, mut ctl_rx) = mpsc::channel::<control::Request>(8);
    // Status is for operators; an agent that cannot offer it still runs the election.
    let control_server = match control::Server::start(&opts.control_socket, ctl_tx) {
        Ok(server) => Some(server),
        Err(e) => {
            warn!(path = %opts.control_socket.display(), error = %e, "control socket unavailable: `havip-agent status` will not answer");
            None
        }
    };
    let tracking = Tracking::start(&cfg, &runtimes)?;
    let (inputs_tx, mut inputs_rx) = mpsc::channel::<Input>(INPUT_CAPACITY);
    // BFD runs on its own thread (bfd.rs says why); only state changes come to the loop.
    let (bfd_tx, mut bfd_rx) = mpsc::unbounded_channel();
    // The kernel half of BFD is optional: the sessions run on their sockets without it.
    let bfd_table = dp
        .bfd_table()
        .inspect_err(|e| warn!(error = %e, "BFD: no handle on the XDP program's BFD table"))
        .ok();
    let bfd = bfd::BfdService::start(&cfg, bfd_tx.clone(), bfd_table).map_err(|source| {
        DaemonError::Io {
            what: "starting BFD (UDP port 3784)",
            source,
        }
    })?;
    if let Some(b) = &bfd {
        metrics.attach_bfd(std::sync::Arc::clone(&b.stats));
    }
    let groups = Groups::new(&cfg);
    let mut shell = Shell {
        opts,
        cfg,
        runtimes,
        index,
        ifaces,
        tracking,
        groups,
        dp,
        addr_tx,
        metrics_sub,
        notify,
        cloud,
        reannounce_rx,
        inputs_tx,
        reloading: false,
        next_id,
        pending: vec![events::Event::DataplaneAttached(true)],
        bfd,
    };
    let start = now();
    for (r, early) in shell.runtimes.iter_mut().zip(started) {
        let how = if let Some(how) = early {
            how
        } else {
            if handover {
                r.hand_over_unadopted();
            }
            r.start(start, &mut shell.dp, &shell.addr_tx)
        };
        if how == resume::Start::ResumedMaster {
            // No transition is published for a resumed master, but its cloud reporters start
            // from nothing: they must check (and keep checking) that the cloud agrees, as after
            // a takeover (a previous agent may have stopped in the middle of a report).
            shell.cloud.changed(
                r.id,
                vrrp::State::Initialize,
                vrrp::State::Master,
                "resumed after a restart".to_owned(),
            );
        }
        r.retrack(start, &shell.tracking.states, &mut shell.dp, &shell.addr_tx);
    }
    shell
        .groups
        .sync_faults(&mut shell.runtimes, start, &mut shell.dp, &shell.addr_tx);
    shell
        .groups
        .sync_states(&mut shell.runtimes, start, &mut shell.dp, &shell.addr_tx);
    shell.publish();
    info!(
        instances = shell.runtimes.len(),
        interfaces = ?shell.ifaces,
        startup = ?t0.elapsed(),
        fd = events.0.as_raw_fd(),
        "havip running"
    );

    let mut deadline = Deadline::new()?;
    // Set up last, so start-up work (loading, attaching) does not run with real-time priority.
    realtime::apply(&shell.cfg.global);
    'run: loop {
        // /healthz fails when this stops; the wait is capped so an idle loop beats.
        metrics.heartbeat();
        // One absolute timerfd deadline, the earliest of all instances (timer.rs says why not
        // tokio's sleep). Only an instance's deadline counts as a timer whose lateness matters.
        // The earliest deadline, and whether it is a backup's (its Master_Down_Timer, RFC 9568
        // 6.4.2, the one deadline whose lateness delays a takeover past the protocol's bound;
        // `false` sorts first, so a tie counts as a backup's).
        let earliest = shell
            .runtimes
            .iter()
            .filter_map(|r| {
                let t = r.fsm.poll_at()?;
                Some((t, r.fsm.state() != vrrp::State::Backup))
            })
            .min();
        let next = earliest.map(|(t, _)| t);
        let cap = now().saturating_add(metrics::HEARTBEAT_INTERVAL);
        let at = next.map_or(cap, |t| t.min(cap));
        // A backup's deadline is met by waking early and spinning to it (`precise_wait`); every
        // other deadline takes the timer's own wake-up.
        let precise = earliest
            .filter(|&(t, not_backup)| !not_backup && t == at)
            .map(|(t, _)| t);
        let wake = precise.map_or(at, |t| {
            t.checked_sub(timer::PRECISE_LEAD)
                .unwrap_or(vrrp::Instant::ZERO)
        });
        if let Err(e) = deadline.arm(wake.as_nanos()) {
            // A loop that cannot keep time must not hold a VIP: resign cleanly.
            error!(error = %e, "stopping");
            break 'run;
        }
        let inputs: Vec<Input> = tokio::select! {
            // Adverts first: when an advert and the Master_Down deadline are ready together,
            // the advert (its arrival time is the kernel's, see `shell::received_at`) decides
            // whether the deadline still holds; a random pick could take over from a master
            // whose advert is already waiting.
            biased;
            ready = events.0.readable_mut() => {
                let Ok(mut guard) = ready else { continue };
                // Clear readiness *before* draining: the kernel only signals a ring buffer when
                // its consumer has caught up, so a record committed after the drain but before a
                // late clear would lose its only wakeup and stall the receive path.
                guard.clear_ready();
                let ring = guard.get_inner_mut();
                let mut adverts = Vec::new();
                while let Some(item) = ring.next() {
                    if let Some(ev) = read_event(&item) {
                        adverts.push(Input::Advert(ev));
                    } else {
                        warn!(len = item.len(), "short ring buffer record");
                    }
                }
                adverts
            }
            late = deadline.wait() => match late {
                Ok(late) => {
                    if next == Some(at) && precise.is_none() {
                        metrics.timer_lateness(late);
                    }
                    vec![Input::Timer]
                }
                Err(e) => {
                    error!(error = %e, "stopping");
                    vec![Input::Stop]
                }
            },
            Some(ev) = shell.tracking.next() => vec![Input::Track(ev)],
            Some(reply) = ctl_rx.recv() => vec![Input::Control(reply)],
            _ = hup.recv() => vec![Input::Reload],
            Some(input) = inputs_rx.recv() => vec![input],
            Some(update) = bfd_rx.recv() => vec![Input::Bfd(update)],
            Some(id) = shell.reannounce_rx.recv() => vec![Input::Reannounce(id)],
            _ = term.recv() => vec![Input::Stop],
            _ = int.recv() => vec![Input::Stop],
            _ = usr2.recv() => {
                keep_ownership = true;
                vec![Input::Stop]
            }
        };
        let inputs = match (precise, inputs.as_slice()) {
            (Some(t), [Input::Timer]) => {
                let (inputs, late) = precise_wait(t, events.0.get_mut());
                if let Some(late) = late {
                    metrics.timer_lateness(late);
                }
                inputs
            }
            _ => inputs,
        };
        for input in inputs {
            if !shell.step(input) {
                break 'run;
            }
        }
    }

    let Shell {
        mut runtimes,
        tracking,
        mut dp,
        addr_tx,
        mut metrics_sub,
        mut notify,
        mut cloud,
        mut groups,
        ..
    } = shell;
    drop(tracking);
    if keep_ownership {
        // Planned restart: the data plane stays attached and keeps answering under the lease
        // each master just extended; the next agent adopts it. No resignation, no address
        // removed, no notify script, no cloud report: nothing moved.
        for r in &mut runtimes {
            if let Some(lease) = r.hand_over(&mut dp) {
                info!(instance = r.name(), lease = ?lease, "kept ownership for the restart");
            }
        }
        // Handed over: a prepared successor (`run --takeover`) waits for this socket to close.
        drop(control_server);
        info!("stopped for a restart; the XDP program stays attached");
        drop(addr_tx);
        let _ = tokio::time::timeout(Duration::from_secs(1), worker).await;
        stop_metrics(&server);
        return Ok(());
    }
    info!("shutting down");
    let stop = now();
    let mut last = Vec::new();
    for r in &mut runtimes {
        r.handle(stop, Event::Shutdown, &mut dp, &addr_tx);
        last.extend(r.drain_events());
    }
    // The groups' STOP follows their members'.
    last.extend(groups.observe(&runtimes));
    for ev in &last {
        metrics_sub.publish(ev);
        cloud.publish(ev);
        notify.publish(ev);
    }
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
    notify.finish(Duration::from_secs(10)).await;
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
    metrics_sub.publish(&events::Event::DataplaneAttached(false));
    drop(metrics_sub);
    let _ = tokio::time::timeout(Duration::from_secs(1), recorder).await;
    stop_metrics(&server);
    info!("stopped");
    Ok(())
}

/// Stops the metrics endpoint, if it started.
fn stop_metrics(slot: &std::sync::Mutex<Option<metrics::Server>>) {
    if let Some(s) = slot.lock().ok().and_then(|mut s| s.take()) {
        s.stop();
    }
}

/// Stops the agent listening on `path` for a restart and waits until it has handed over;
/// returns its pid.
async fn take_over(
    path: &std::path::Path,
    t0: std::time::Instant,
) -> Result<Option<i32>, DaemonError> {
    match control::stop::take_over(path, Duration::from_secs(20)).await {
        Ok(Some(pid)) => {
            info!(pid, after = ?t0.elapsed(), "took over from the running agent");
            Ok(Some(pid))
        }
        Ok(None) => {
            info!(path = %path.display(), "no agent to take over from: a normal start");
            Ok(None)
        }
        Err(e) => Err(DaemonError::Io {
            what: "taking over from the running agent",
            source: std::io::Error::other(e.to_string()),
        }),
    }
}

/// Logs where the data plane came from; true when the instances must hand over cleanly (a
/// havip program ran that this agent could not take over).
fn log_origin(origin: &Origin) -> bool {
    match origin {
        Origin::Adopted { prog_id, tag } => {
            info!(
                prog_id,
                tag = format_args!("{tag:016x}"),
                "adopted the running XDP program and its maps"
            );
            false
        }
        Origin::Upgraded {
            old_prog_id,
            old_tag,
            tag,
        } => {
            info!(
                old_prog_id,
                old_tag = format_args!("{old_tag:016x}"),
                tag = format_args!("{tag:016x}"),
                "adopted the running maps and replaced the XDP program with this binary's"
            );
            false
        }
        Origin::Loaded {
            reason,
            handover: true,
        } => {
            warn!(%reason, "loaded a fresh XDP program: the running one cannot be taken over, so its instances hand over cleanly (priority 0)");
            true
        }
        Origin::Loaded { reason, .. } => {
            info!(%reason, "loaded a fresh XDP program");
            false
        }
    }
}

/// Every interface the configuration puts the program on: instances' and their VIPs'.
fn configured_interfaces(cfg: &config::Config) -> Vec<String> {
    let mut v: Vec<String> = Vec::new();
    for inst in &cfg.instances {
        let devs = inst
            .virtual_ipaddresses
            .iter()
            .filter_map(|a| a.dev.clone());
        for name in std::iter::once(inst.interface.clone()).chain(devs) {
            if !v.contains(&name) {
                v.push(name);
            }
        }
    }
    v
}

/// The rest of an early wake-up for a backup's deadline `at`: spins until `at` while watching
/// the ring buffer, so the takeover starts on the deadline's nanosecond instead of after the
/// kernel's and the reactor's wake-up (tens to hundreds of microseconds). An advert that arrives
/// meanwhile ends the spin: the adverts come first and the timer step after them decides with
/// the deadline they moved. The spin is bounded by [`timer::PRECISE_LEAD`] (the wake-up was
/// armed that much before `at`) and happens only when a master has gone quiet, never in the
/// steady state. Returns the inputs to step and, when the deadline was reached, how late.
fn precise_wait(
    at: vrrp::Instant,
    ring: &mut aya::maps::RingBuf<aya::maps::MapData>,
) -> (Vec<Input>, Option<Duration>) {
    let mut inputs = Vec::new();
    loop {
        while let Some(item) = ring.next() {
            if let Some(ev) = read_event(&item) {
                inputs.push(Input::Advert(ev));
            }
        }
        let t = now();
        if !inputs.is_empty() {
            inputs.push(Input::Timer);
            return (inputs, None);
        }
        if t >= at {
            inputs.push(Input::Timer);
            return (inputs, Some(t.saturating_duration_since(at)));
        }
        std::hint::spin_loop();
    }
}

fn now() -> vrrp::Instant {
    vrrp::Instant::from_nanos(monotonic_ns())
}
