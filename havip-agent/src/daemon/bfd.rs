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
    /// restart: the path did not fail.
    pub remote_admin_down: bool,
}

impl BfdUpdate {
    /// Whether this change means the path to the neighbor failed, for `master_down_on_bfd`:
    /// the session left Up, and not because the neighbor went `AdminDown`. RFC 5882 3.2: a
    /// session taken down administratively must not be read as a forwarding failure (a planned
    /// restart of the master then keeps its VIP; VRRP's own timer still guards it).
    pub(crate) fn path_failed(&self) -> bool {
        self.from == State::Up && self.to != State::Up && !self.remote_admin_down
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
    /// Opens the sockets and starts the thread; `None` when no session is configured.
    pub(super) fn start(
        cfg: &config::Config,
        updates_tx: mpsc::UnboundedSender<BfdUpdate>,
    ) -> io::Result<Option<Self>> {
        let wanted = wanted(cfg);
        if wanted.is_empty() {
            return Ok(None);
        }
        let rx = UdpSocket::bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, packet::PORT))?;
        rx.set_nonblocking(true)?;
        setsockopt(&rx, sockopt::Ipv4RecvTtl, &true).map_err(io::Error::from)?;
        let mut sessions = Sessions::default();
        let mut txs = Vec::new();
        // Discriminators: random, so a restarted agent does not reuse the last one (RFC 5880
        // 6.8.1 asks for uniqueness; a peer still holding the old session must not match).
        let base: u32 = rand::random::<u32>() | 1;
        for (i, (name, b)) in wanted.into_iter().enumerate() {
            let tx = bind_source(b.source_ip, i)?;
            tx.set_ttl(u32::from(b.ttl))?;
            tx.set_nonblocking(true)?;
            let params = SessionParams {
                local_discr: base.wrapping_add(u32::try_from(i).unwrap_or(0)),
                min_tx: b.min_tx,
                min_rx: b.min_rx,
                idle_tx: b.idle_tx,
                detect_mult: b.multiplier,
                passive: b.passive,
                seed: rand::random(),
            };
            info!(bfd = %name, neighbor = %b.neighbor_ip, port = tx.local_addr()?.port(), "BFD session configured");
            sessions.add(name, b.neighbor_ip, b.max_hops, params);
            txs.push(tx);
        }
        let timer = TimerFd::new(
            ClockId::CLOCK_MONOTONIC,
            TimerFlags::TFD_NONBLOCK | TimerFlags::TFD_CLOEXEC,
        )
        .map_err(io::Error::from)?;
        let stats = Arc::new(Stats::default());
        for (i, p) in sessions.peers().iter().enumerate() {
            stats.set_session(i, p.snapshot());
        }
        let stop = Arc::new(AtomicBool::new(false));
        let mut worker = Worker {
            sessions,
            rx,
            txs,
            timer,
            stats: Arc::clone(&stats),
            updates_tx,
        };
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
        }))
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
    rx: UdpSocket,
    txs: Vec<UdpSocket>,
    timer: TimerFd,
    stats: Arc<Stats>,
    updates_tx: mpsc::UnboundedSender<BfdUpdate>,
}

impl Worker {
    fn run(&mut self, stop: &AtomicBool) {
        self.sessions.start(now());
        while !stop.load(Ordering::Relaxed) {
            let t = now();
            if self.sessions.poll_at().is_some_and(|at| at <= t) {
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
    }
}
