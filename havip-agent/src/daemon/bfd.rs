//! BFD transport (RFC 5881): the sessions of [`crate::bfd`] on a thread of their own, with
//! their sockets and an absolute-deadline timerfd.
//!
//! Why a thread, and not `Input`s into the event loop for every packet: at `min_tx 1` a session
//! sends 1000 packets a second and must not miss three in a row. A loop that is busy with a
//! reload, a burst of adverts or a slow subscriber would delay them, and the remote would
//! declare this node dead although it is not. So the whole BFD core (reception, transmission,
//! detection) runs here, woken by the kernel's high-resolution timer for every deadline, and
//! only a session's *state change* goes to the loop ([`BfdUpdate`], its own unbounded channel,
//! so the thread never waits on the loop). The loop turns it into a tracking change
//! (`track_bfd`) and, with `master_down_on_bfd`, into an immediate takeover.
//!
//! Sockets (RFC 5881 4, 5): one receiving socket on UDP 3784 that asks for each packet's TTL
//! (`IP_RECVTTL`) so that the GTSM check (TTL 255) can be made; one sending socket per
//! session, bound to a source port of 49152-65535 that no other session uses, with TTL 255.
//!
//! Kernel path: the sessions' neighbors and discriminators are written to the XDP program's
//! BFD table, so the kernel drops invalid packets of a neighbor and records when the last
//! valid one arrived (`havip-ebpf/src/bfd.rs`). Before a session's detection timer is allowed
//! to take it Down, the thread reads that time ([`Input::Heard`](bfd::Input::Heard)): on a
//! loaded CPU the thread may run well after its deadline while the neighbor's packets wait in
//! the socket, and it is the packets' arrival, not the thread's, that RFC 5880 6.8.4 times.
//! `HAVIP_BFD_KERNEL_RX=0` leaves the kernel path out (no table, no timestamps), for comparing
//! both in `bench failover`.

use std::{
    io,
    net::{Ipv4Addr, SocketAddrV4, UdpSocket},
    os::fd::{AsFd, AsRawFd},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    thread::JoinHandle,
    time::Duration,
};

use nix::{
    poll::{PollFd, PollFlags, PollTimeout, poll},
    sys::{
        socket::{ControlMessageOwned, MsgFlags, SockaddrIn, recvmsg, setsockopt, sockopt},
        time::TimeSpec,
        timerfd::{ClockId, Expiration, TimerFd, TimerFlags, TimerSetTimeFlags},
    },
};
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

use crate::{
    bfd::{self, Output, SessionParams, Sessions, State, Stats, packet},
    clock::monotonic_ns,
    config,
    dataplane::{BfdNeighbor, BfdTable},
    vrrp::Instant,
};

/// A session's state changed (sent to the event loop).
#[derive(Clone, Debug)]
pub(crate) struct BfdUpdate {
    /// `bfd_instance` name.
    pub name: String,
    /// Its neighbor.
    pub neighbor: Ipv4Addr,
    /// Previous state.
    pub from: State,
    /// New state.
    pub to: State,
    /// Why (`bfd.LocalDiag`).
    pub diag: bfd::Diag,
    /// The neighbor said it is `AdminDown` (RFC 5880 6.8.16), e.g. an agent stopping for a
    /// restart: the path did not fail. (A session this agent takes `AdminDown` itself, on a
    /// reload that removes it or at exit, has `to == AdminDown`: no failure either.)
    pub remote_admin_down: bool,
}

impl BfdUpdate {
    /// Whether this change means the path to the neighbor failed, for `master_down_on_bfd`:
    /// the session left Up, and not because the neighbor went `AdminDown`. RFC 5882 3.2: a
    /// session taken down administratively must not be read as a forwarding failure (a planned
    /// restart of the master then keeps its VIP; VRRP's own timer still guards it).
    pub(crate) fn path_failed(&self) -> bool {
        self.from == State::Up
            && !matches!(self.to, State::Up | State::AdminDown)
            && !self.remote_admin_down
    }
}

/// The longest the thread sleeps without looking at its stop flag.
const STOP_POLL: Duration = Duration::from_millis(50);

/// The running BFD thread.
pub(super) struct BfdService {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    /// Session views and counters, for metrics and status.
    pub(super) stats: Arc<Stats>,
    /// New session lists for the thread (reloads).
    reconfig_tx: std::sync::mpsc::Sender<Vec<(String, config::BfdInstance)>>,
}

/// The sessions the configuration asks for: every `[bfd.NAME]`, plus, for instances with
/// `master_down_on_bfd`, one per unicast peer that no `[bfd.NAME]` covers (keepalived's BFD
/// defaults, named `INSTANCE/PEER`), as `(name, session)` pairs in a stable order.
pub(super) fn wanted(cfg: &config::Config) -> Vec<(String, config::BfdInstance)> {
    let mut v: Vec<(String, config::BfdInstance)> = cfg
        .bfd
        .iter()
        .map(|(n, b)| (n.clone(), b.clone()))
        .collect();
    for inst in cfg.instances.iter().filter(|i| i.master_down_on_bfd) {
        // BFD runs over IPv4 only (RFC 5881 4); an IPv6 instance has no automatic session.
        let peers = inst.unicast_peers.iter().filter_map(|p| match p {
            std::net::IpAddr::V4(a) => Some(*a),
            std::net::IpAddr::V6(_) => None,
        });
        for peer in peers {
            if v.iter().all(|(_, b)| b.neighbor_ip != peer) {
                let mut b = config::BfdInstance::new(peer);
                b.source_ip = match inst.unicast_src_ip {
                    Some(std::net::IpAddr::V4(a)) => Some(a),
                    _ => None,
                };
                v.push((format!("{}/{peer}", inst.name), b));
            }
        }
    }
    v
}

impl BfdService {
    /// Opens the sockets and starts the thread; `None` when no session is configured. With
    /// `kernel` (the XDP program's BFD table), the sessions' neighbors are written there and
    /// its receive timestamps are used before a session goes Down.
    pub(super) fn start(
        cfg: &config::Config,
        updates_tx: mpsc::UnboundedSender<BfdUpdate>,
        mut kernel: Option<BfdTable>,
    ) -> io::Result<Option<Self>> {
        let wanted = wanted(cfg);
        if wanted.is_empty() {
            return Ok(None);
        }
        let rx = UdpSocket::bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, packet::PORT))?;
        rx.set_nonblocking(true)?;
        setsockopt(&rx, sockopt::Ipv4RecvTtl, &true).map_err(io::Error::from)?;
        if std::env::var_os("HAVIP_BFD_KERNEL_RX").is_some_and(|v| v == "0") {
            info!(
                "HAVIP_BFD_KERNEL_RX=0: BFD runs without the kernel path (no validation, no receive timestamps)"
            );
            kernel = None;
        }
        let timer = TimerFd::new(
            ClockId::CLOCK_MONOTONIC,
            TimerFlags::TFD_NONBLOCK | TimerFlags::TFD_CLOEXEC,
        )
        .map_err(io::Error::from)?;
        let stats = Arc::new(Stats::default());
        let stop = Arc::new(AtomicBool::new(false));
        let (reconfig_tx, reconfig_rx) = std::sync::mpsc::channel();
        let mut worker = Worker {
            sessions: Sessions::default(),
            configs: Vec::new(),
            rx,
            txs: Vec::new(),
            timer,
            stats: Arc::clone(&stats),
            updates_tx,
            kernel,
            reconfig_rx,
            // Discriminators: random, so a restarted agent does not reuse the last one (RFC
            // 5880 6.8.1 asks for uniqueness; a peer still holding the old session must not
            // match).
            next_discr: rand::random::<u32>() | 1,
        };
        for (name, b) in wanted {
            worker.add(name, b)?;
        }
        worker.publish_sessions();
        worker.sync_kernel();
        let flag = Arc::clone(&stop);
        let rt = cfg.global.rt_priority;
        let thread = std::thread::Builder::new()
            .name("havip-bfd".to_owned())
            .spawn(move || {
                // The sessions are as time-critical as the election: with `rt_priority` they run
                // under SCHED_FIFO at the same priority (the loop's own setting comes later
                // and is not inherited).
                if let Some(p) = rt
                    && let Err(e) = super::realtime::set_fifo(p)
                {
                    warn!(error = %e, "rt_priority: SCHED_FIFO refused for the BFD thread");
                }
                worker.run(&flag);
            })?;
        Ok(Some(Self {
            stop,
            thread: Some(thread),
            stats,
            reconfig_tx,
        }))
    }

    /// Hands the sessions `cfg` asks for to the running thread (a reload): sessions whose
    /// neighbor, source and TTL are unchanged keep running (their timers retuned if they
    /// changed), removed ones are taken `AdminDown` first (RFC 5880 6.8.16), new ones start.
    /// The thread applies it within [`STOP_POLL`].
    pub(super) fn reconfigure(&self, cfg: &config::Config) {
        let _ = self.reconfig_tx.send(wanted(cfg));
    }
}

impl Drop for BfdService {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A sending socket on a free port of 49152-65535 (RFC 5881 4), starting from a random one
/// so two agents on one host do not race for the same ports.
fn bind_source(source: Option<Ipv4Addr>, index: usize) -> io::Result<UdpSocket> {
    let span = u32::from(*packet::SOURCE_PORTS.end() - *packet::SOURCE_PORTS.start()) + 1;
    let start = rand::random::<u32>().wrapping_add(u32::try_from(index).unwrap_or(0));
    let mut last = io::Error::from(io::ErrorKind::AddrInUse);
    for k in 0..span {
        let offset = u16::try_from(start.wrapping_add(k) % span).unwrap_or(0);
        let port = packet::SOURCE_PORTS.start() + offset;
        match UdpSocket::bind(SocketAddrV4::new(
            source.unwrap_or(Ipv4Addr::UNSPECIFIED),
            port,
        )) {
            Ok(s) => return Ok(s),
            Err(e) if e.kind() == io::ErrorKind::AddrInUse => last = e,
            Err(e) => return Err(e),
        }
    }
    Err(last)
}

struct Worker {
    sessions: Sessions,
    /// The configuration of each session, by the sessions' index.
    configs: Vec<(String, config::BfdInstance)>,
    rx: UdpSocket,
    txs: Vec<UdpSocket>,
    timer: TimerFd,
    stats: Arc<Stats>,
    updates_tx: mpsc::UnboundedSender<BfdUpdate>,
    /// The XDP program's BFD table, for receive timestamps.
    kernel: Option<BfdTable>,
    reconfig_rx: std::sync::mpsc::Receiver<Vec<(String, config::BfdInstance)>>,
    /// Where the next session's discriminator search starts.
    next_discr: u32,
}

/// What a running session cannot change without becoming another session: its neighbor, how
/// its packets leave (source address and TTL), its role, and the TTL check.
fn same_path(a: &config::BfdInstance, b: &config::BfdInstance) -> bool {
    (a.neighbor_ip, a.source_ip, a.ttl, a.max_hops, a.passive)
        == (b.neighbor_ip, b.source_ip, b.ttl, b.max_hops, b.passive)
}

fn params_of(b: &config::BfdInstance, local_discr: u32) -> SessionParams {
    SessionParams {
        local_discr,
        min_tx: b.min_tx,
        min_rx: b.min_rx,
        idle_tx: b.idle_tx,
        detect_mult: b.multiplier,
        passive: b.passive,
        min_echo_rx: b.echo_rx,
        seed: rand::random(),
    }
}

impl Worker {
    /// Adds a session (not started) with its own sending socket.
    fn add(&mut self, name: String, b: config::BfdInstance) -> io::Result<usize> {
        let tx = bind_source(b.source_ip, self.txs.len())?;
        tx.set_ttl(u32::from(b.ttl))?;
        tx.set_nonblocking(true)?;
        info!(bfd = %name, neighbor = %b.neighbor_ip, port = tx.local_addr()?.port(), "BFD session configured");
        let i = self.sessions.add(
            name.clone(),
            b.neighbor_ip,
            b.max_hops,
            params_of(&b, self.next_discr),
        );
        self.next_discr = self.next_discr.wrapping_add(1).max(1);
        self.txs.push(tx);
        self.configs.push((name, b));
        Ok(i)
    }

    /// Every session's view to the shared stats (indices may have moved).
    fn publish_sessions(&self) {
        self.stats.set_sessions(
            self.sessions
                .peers()
                .iter()
                .map(bfd::Peer::snapshot)
                .collect(),
        );
    }

    /// Writes the sessions' neighbors and discriminators to the XDP program's table; without
    /// it the sessions still run, on the socket alone.
    fn sync_kernel(&mut self) {
        let Some(table) = &mut self.kernel else {
            return;
        };
        let neighbors: Vec<BfdNeighbor> = self
            .sessions
            .peers()
            .iter()
            .map(|p| BfdNeighbor {
                addr: p.neighbor,
                local_discr: p.session.params().local_discr,
                max_hops: p.max_hops,
                // Reflect only what this session invited (RFC 5880 6.4).
                echo: !p.session.params().min_echo_rx.is_zero(),
            })
            .collect();
        if let Err(e) = table.set_all(&neighbors) {
            warn!(error = %e, "BFD: the XDP program's neighbor table cannot be written; no kernel validation or timestamps");
            self.kernel = None;
        }
    }

    /// Applies a reload's session list (see [`BfdService::reconfigure`]).
    fn reconfigure(&mut self, wanted: Vec<(String, config::BfdInstance)>) {
        let t = now();
        // Removed, or changed beyond a retune: AdminDown to the neighbor, then gone.
        for i in (0..self.configs.len()).rev() {
            let (name, b) = &self.configs[i];
            let kept = wanted.iter().any(|(n, w)| n == name && same_path(w, b));
            if kept {
                continue;
            }
            info!(bfd = %name, neighbor = %b.neighbor_ip, "BFD session removed by a reload");
            let out = self.sessions.handle(i, t, bfd::Input::AdminDown);
            self.apply(out.into_iter().map(|o| (i, o)).collect());
            self.sessions.remove(i);
            self.txs.remove(i);
            self.configs.remove(i);
        }
        for (name, b) in wanted {
            if let Some(i) = self.configs.iter().position(|(n, _)| *n == name) {
                if self.configs[i].1 != b {
                    info!(bfd = %name, "BFD session retuned by a reload");
                    let discr = self.sessions.peers()[i].session.params().local_discr;
                    let out = self.sessions.retune(i, t, &params_of(&b, discr));
                    self.apply(out.into_iter().map(|o| (i, o)).collect());
                    self.configs[i].1 = b;
                }
                continue;
            }
            match self.add(name.clone(), b) {
                Ok(i) => self.sessions.start_one(i, t),
                Err(e) => {
                    warn!(bfd = %name, error = %e, "BFD session added by a reload cannot start");
                }
            }
        }
        self.publish_sessions();
        self.sync_kernel();
    }

    /// Feeds the kernel's receive time of each session whose detection deadline has passed:
    /// a packet that arrived in time but still waits in the socket moves the deadline instead
    /// of the timer taking the session Down.
    fn consult_kernel(&mut self, now: Instant) {
        let Some(table) = &self.kernel else {
            return;
        };
        for (i, neighbor) in self.sessions.expiring(now) {
            let Some(rx) = table.received(neighbor) else {
                continue;
            };
            if rx.last_rx_ns == 0 {
                continue;
            }
            self.sessions.handle(
                i,
                now,
                bfd::Input::Heard(Instant::from_nanos(rx.last_rx_ns)),
            );
            let moved = self
                .sessions
                .peers()
                .get(i)
                .and_then(|p| p.session.detect_at())
                .is_some_and(|at| at > now);
            if moved {
                self.stats.kernel_extended();
                debug!(neighbor = %neighbor, "BFD deadline moved by the kernel's receive timestamp");
            }
        }
    }

    fn run(&mut self, stop: &AtomicBool) {
        self.sessions.start(now());
        while !stop.load(Ordering::Relaxed) {
            while let Ok(wanted) = self.reconfig_rx.try_recv() {
                self.reconfigure(wanted);
            }
            let t = now();
            if self.sessions.poll_at().is_some_and(|at| at <= t) {
                self.consult_kernel(t);
                let out = self.sessions.on_timer(t);
                self.apply(out);
            }
            // Absolute deadline on CLOCK_MONOTONIC: no drift between reading the clock and
            // arming, and the kernel's high-resolution timer wakes us (daemon/timer.rs).
            let cap = now().saturating_add(STOP_POLL);
            let at = self.sessions.poll_at().map_or(cap, |a| a.min(cap));
            let armed = self.timer.set(
                Expiration::OneShot(TimeSpec::from(Duration::from_nanos(at.as_nanos().max(1)))),
                TimerSetTimeFlags::TFD_TIMER_ABSTIME,
            );
            if let Err(e) = armed {
                warn!(error = %e, "BFD timer cannot be armed; sessions stop");
                return;
            }
            let mut fds = [
                PollFd::new(self.rx.as_fd(), PollFlags::POLLIN),
                PollFd::new(self.timer.as_fd(), PollFlags::POLLIN),
            ];
            match poll(&mut fds, PollTimeout::NONE) {
                Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                Err(e) => {
                    warn!(error = %e, "BFD poll failed; sessions stop");
                    return;
                }
            }
            let readable = fds[0]
                .revents()
                .is_some_and(|r| r.contains(PollFlags::POLLIN));
            if readable {
                self.drain();
            }
        }
        // Tell the peers (RFC 5880 6.8.16) rather than let them time out.
        let t = now();
        for i in 0..self.sessions.peers().len() {
            let out = self.sessions.handle(i, t, bfd::Input::AdminDown);
            self.apply(out.into_iter().map(|o| (i, o)).collect());
        }
    }

    /// Reads every queued packet.
    fn drain(&mut self) {
        let mut buf = [0u8; 512];
        let mut cmsg = nix::cmsg_space!(libc::c_int);
        loop {
            let (src, ttl, len) = {
                let mut iov = [io::IoSliceMut::new(&mut buf)];
                let msg = match recvmsg::<SockaddrIn>(
                    self.rx.as_raw_fd(),
                    &mut iov,
                    Some(&mut cmsg),
                    MsgFlags::MSG_DONTWAIT,
                ) {
                    Ok(m) => m,
                    Err(nix::errno::Errno::EAGAIN) => return,
                    Err(e) => {
                        debug!(error = %e, "BFD receive failed");
                        return;
                    }
                };
                let mut ttl = None;
                if let Ok(cmsgs) = msg.cmsgs() {
                    for c in cmsgs {
                        if let ControlMessageOwned::Ipv4Ttl(t) = c {
                            ttl = u8::try_from(t).ok();
                        }
                    }
                }
                let Some(src) = msg.address.map(|a| a.ip()) else {
                    continue;
                };
                (src, ttl.unwrap_or(0), msg.bytes)
            };
            let payload = buf.get(..len).unwrap_or_default();
            match self.sessions.receive(now(), src, ttl, payload) {
                Ok((i, out)) => {
                    self.stats.received(0);
                    self.apply(out.into_iter().map(|o| (i, o)).collect());
                    if let Some(p) = self.sessions.peers().get(i) {
                        self.stats.set_session(i, p.snapshot());
                    }
                }
                Err(d) => {
                    self.stats.received(d.outcome());
                    debug!(reason = %d, "BFD packet discarded");
                }
            }
        }
    }

    fn apply(&mut self, out: Vec<(usize, Output)>) {
        let mut buf = [0u8; 64];
        for (i, o) in out {
            let Some(peer) = self.sessions.peers().get(i) else {
                continue;
            };
            match o {
                Output::Send(repr) => {
                    let ok = repr.emit(&mut buf).ok().and_then(|n| {
                        let to = SocketAddrV4::new(peer.neighbor, packet::PORT);
                        self.txs.get(i)?.send_to(&buf[..n], to).ok()
                    });
                    self.stats.sent(ok.is_some());
                }
                Output::Changed { from, to, diag } => {
                    info!(bfd = %peer.name, neighbor = %peer.neighbor, %from, %to, %diag, "BFD session state changed");
                    self.stats.changed(&peer.name, to, diag);
                    self.stats.set_session(i, peer.snapshot());
                    let _ = self.updates_tx.send(BfdUpdate {
                        name: peer.name.clone(),
                        neighbor: peer.neighbor,
                        from,
                        to,
                        diag,
                        remote_admin_down: peer.session.remote_state() == State::AdminDown,
                    });
                }
            }
        }
    }
}

fn now() -> Instant {
    Instant::from_nanos(monotonic_ns())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn master_down_on_bfd_adds_a_session_per_uncovered_unicast_peer() {
        let mut cfg = config::Config::default();
        let covered = Ipv4Addr::new(192, 0, 2, 12);
        let bare = Ipv4Addr::new(192, 0, 2, 13);
        cfg.bfd
            .insert("to_b".into(), config::BfdInstance::new(covered));
        let mut inst = config::Instance::new("VI_1", "eth0", 51);
        inst.unicast_src_ip = Some(Ipv4Addr::new(192, 0, 2, 11).into());
        inst.unicast_peers = vec![covered.into(), bare.into()];
        cfg.instances.push(inst.clone());
        let names = |cfg: &config::Config| -> Vec<String> {
            wanted(cfg).into_iter().map(|(n, _)| n).collect()
        };
        assert_eq!(
            names(&cfg),
            ["to_b"],
            "without the extension: configured sessions only"
        );
        cfg.instances[0].master_down_on_bfd = true;
        let w = wanted(&cfg);
        assert_eq!(names(&cfg), ["to_b", "VI_1/192.0.2.13"]);
        let mut expected = config::BfdInstance::new(bare);
        expected.source_ip = Some(Ipv4Addr::new(192, 0, 2, 11));
        assert_eq!(
            w[1].1, expected,
            "keepalived's defaults, from the instance's source"
        );
    }

    #[test]
    fn only_a_failed_path_triggers_a_takeover() {
        let update = |from, to, diag, remote_admin_down| BfdUpdate {
            name: "to_a".into(),
            neighbor: Ipv4Addr::new(192, 0, 2, 11),
            from,
            to,
            diag,
            remote_admin_down,
        };
        assert!(
            update(
                State::Up,
                State::Down,
                bfd::Diag::DetectionTimeExpired,
                false
            )
            .path_failed()
        );
        assert!(update(State::Up, State::Down, bfd::Diag::NeighborDown, false).path_failed());
        assert!(
            !update(State::Up, State::Down, bfd::Diag::NeighborDown, true).path_failed(),
            "the master said AdminDown (a planned restart)"
        );
        assert!(
            !update(
                State::Init,
                State::Down,
                bfd::Diag::DetectionTimeExpired,
                false
            )
            .path_failed()
        );
        assert!(!update(State::Down, State::Up, bfd::Diag::None, false).path_failed());
        assert!(
            !update(State::Up, State::AdminDown, bfd::Diag::AdminDown, false).path_failed(),
            "this agent removed the session (reload) or is stopping"
        );
    }
}
