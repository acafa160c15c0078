//! The sessions of one system and the part of RFC 5880 6.8.6 that picks a packet's session:
//! the TTL check of RFC 5881 5 (GTSM), decoding, the discriminator and address rules, and
//! the authentication rule. Every discarded packet gets a [`Discard`] reason, so the I/O layer
//! counts it by outcome; nothing discarded reaches a session.

use std::net::Ipv4Addr;
use std::time::Duration;

use super::packet::{self, ControlRepr, DecodeError, State};
use super::session::{Input, Output, Session, SessionParams};
use crate::vrrp::Instant;

/// One configured session: its peer and its state machine.
#[derive(Clone, Debug)]
pub struct Peer {
    /// keepalived `bfd_instance` name.
    pub name: String,
    /// keepalived `neighbor_ip`.
    pub neighbor: Ipv4Addr,
    /// keepalived `max_hops`: how far below 255 the received TTL may be (255: no check).
    pub max_hops: u8,
    /// The state machine.
    pub session: Session,
}

/// Why a received packet was discarded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Discard {
    /// RFC 5881 5: a single-hop packet must arrive with TTL 255 (less `max_hops`).
    #[error("BFD packet from {src} with TTL {ttl}")]
    Ttl {
        /// Sender.
        src: Ipv4Addr,
        /// TTL received.
        ttl: u8,
    },
    /// The packet did not decode.
    #[error("BFD packet from {src}: {source}")]
    Malformed {
        /// Sender.
        src: Ipv4Addr,
        /// Why.
        #[source]
        source: DecodeError,
    },
    /// Your Discriminator names no session (RFC 5880 6.8.6).
    #[error("BFD packet from {src} for unknown discriminator {your_discr}")]
    UnknownDiscriminator {
        /// Sender.
        src: Ipv4Addr,
        /// Your Discriminator received.
        your_discr: u32,
    },
    /// Your Discriminator names a session with another neighbor.
    #[error("BFD packet from {src} for the session with {neighbor}")]
    WrongSource {
        /// Sender.
        src: Ipv4Addr,
        /// The session's neighbor.
        neighbor: Ipv4Addr,
    },
    /// Your Discriminator 0 while the sender is neither Down nor `AdminDown` (RFC 5880 6.8.6).
    #[error("BFD packet from {src} in state {state} without Your Discriminator")]
    NoDiscriminator {
        /// Sender.
        src: Ipv4Addr,
        /// Its state.
        state: State,
    },
    /// Your Discriminator 0 from an address no session is configured for.
    #[error("BFD packet from {src}, which is no configured neighbor")]
    UnknownPeer {
        /// Sender.
        src: Ipv4Addr,
    },
    /// The A bit is set; havip's sessions use no authentication (RFC 5880 6.8.6).
    #[error("BFD packet from {src} with authentication, which no session uses")]
    Authenticated {
        /// Sender.
        src: Ipv4Addr,
    },
}

/// Packet outcomes, as counted and exported (`outcome` label).
pub const OUTCOMES: [&str; 8] = [
    "accepted",
    "ttl",
    "malformed",
    "unknown_discriminator",
    "wrong_source",
    "no_discriminator",
    "unknown_peer",
    "authenticated",
];

impl Discard {
    /// Index of this outcome in [`OUTCOMES`].
    pub const fn outcome(&self) -> usize {
        match self {
            Self::Ttl { .. } => 1,
            Self::Malformed { .. } => 2,
            Self::UnknownDiscriminator { .. } => 3,
            Self::WrongSource { .. } => 4,
            Self::NoDiscriminator { .. } => 5,
            Self::UnknownPeer { .. } => 6,
            Self::Authenticated { .. } => 7,
        }
    }
}

/// Every session of this system.
#[derive(Clone, Debug, Default)]
pub struct Sessions {
    peers: Vec<Peer>,
}

impl Sessions {
    /// Adds a session with `neighbor`; its local discriminator is chosen here from `seed`
    /// (non-zero, unique among the sessions). Returns its index.
    pub fn add(
        &mut self,
        name: String,
        neighbor: Ipv4Addr,
        max_hops: u8,
        mut params: SessionParams,
    ) -> usize {
        let mut discr = params.local_discr.max(1);
        while self
            .peers
            .iter()
            .any(|p| p.session.params().local_discr == discr)
        {
            discr = discr.wrapping_add(1).max(1);
        }
        params.local_discr = discr;
        self.peers.push(Peer {
            name,
            neighbor,
            max_hops,
            session: Session::new(params),
        });
        self.peers.len() - 1
    }

    /// The sessions.
    pub fn peers(&self) -> &[Peer] {
        &self.peers
    }

    /// Starts every session.
    pub fn start(&mut self, now: Instant) {
        for p in &mut self.peers {
            p.session.start(now);
        }
    }

    /// The earliest deadline of all sessions.
    pub fn poll_at(&self) -> Option<Instant> {
        self.peers.iter().filter_map(|p| p.session.poll_at()).min()
    }

    /// Runs every session whose deadline passed; returns `(index, output)` pairs.
    pub fn on_timer(&mut self, now: Instant) -> Vec<(usize, Output)> {
        let mut out = Vec::new();
        for (i, p) in self.peers.iter_mut().enumerate() {
            if p.session.poll_at().is_some_and(|at| at <= now) {
                out.extend(
                    p.session
                        .handle(now, Input::Timer)
                        .into_iter()
                        .map(|o| (i, o)),
                );
            }
        }
        out
    }

    /// Removes session `index` (nothing if there is none); the others' indices above it move
    /// down by one.
    pub fn remove(&mut self, index: usize) -> Option<Peer> {
        (index < self.peers.len()).then(|| self.peers.remove(index))
    }

    /// Changes the timers of session `index` (see [`Session::retune`]).
    pub fn retune(&mut self, index: usize, now: Instant, params: &SessionParams) -> Vec<Output> {
        self.peers
            .get_mut(index)
            .map(|p| p.session.retune(now, params))
            .unwrap_or_default()
    }

    /// Starts session `index` alone (one added to running sessions).
    pub fn start_one(&mut self, index: usize, now: Instant) {
        if let Some(p) = self.peers.get_mut(index) {
            p.session.start(now);
        }
    }

    /// The sessions whose detection timer has expired at `now`: `(index, neighbor)`, for the
    /// transport to look for kernel receive timestamps ([`Input::Heard`]) before
    /// [`Self::on_timer`] declares them Down.
    pub fn expiring(&self, now: Instant) -> Vec<(usize, Ipv4Addr)> {
        self.peers
            .iter()
            .enumerate()
            .filter(|(_, p)| p.session.detect_at().is_some_and(|at| at <= now))
            .map(|(i, p)| (i, p.neighbor))
            .collect()
    }

    /// Runs `input` on session `index` (nothing if there is none).
    pub fn handle(&mut self, index: usize, now: Instant, input: Input) -> Vec<Output> {
        self.peers
            .get_mut(index)
            .map(|p| p.session.handle(now, input))
            .unwrap_or_default()
    }

    /// RFC 5881 5 and RFC 5880 6.8.6: checks and demultiplexes one UDP payload received from
    /// `src` with IPv4 TTL `ttl`, and runs it on its session.
    pub fn receive(
        &mut self,
        now: Instant,
        src: Ipv4Addr,
        ttl: u8,
        payload: &[u8],
    ) -> Result<(usize, Vec<Output>), Discard> {
        let repr =
            ControlRepr::parse(payload).map_err(|source| Discard::Malformed { src, source })?;
        let index = if repr.your_discr == 0 {
            if !matches!(repr.state, State::Down | State::AdminDown) {
                return Err(Discard::NoDiscriminator {
                    src,
                    state: repr.state,
                });
            }
            self.peers
                .iter()
                .position(|p| p.neighbor == src)
                .ok_or(Discard::UnknownPeer { src })?
        } else {
            let i = self
                .peers
                .iter()
                .position(|p| p.session.params().local_discr == repr.your_discr)
                .ok_or(Discard::UnknownDiscriminator {
                    src,
                    your_discr: repr.your_discr,
                })?;
            if self.peers[i].neighbor != src {
                return Err(Discard::WrongSource {
                    src,
                    neighbor: self.peers[i].neighbor,
                });
            }
            i
        };
        let peer = &mut self.peers[index];
        // keepalived `max_hops`: 255 turns the check off; 0 (the default) is RFC 5881's 255.
        if peer.max_hops != u8::MAX && packet::TTL - ttl > peer.max_hops {
            return Err(Discard::Ttl { src, ttl });
        }
        if repr.auth.is_some() {
            return Err(Discard::Authenticated { src });
        }
        Ok((index, peer.session.handle(now, Input::Received(repr))))
    }
}

/// What one session looks like from outside, for status and metrics.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// keepalived `bfd_instance` name.
    pub name: String,
    /// Neighbor address.
    pub neighbor: Ipv4Addr,
    /// `bfd.SessionState`.
    pub state: State,
    /// `bfd.LocalDiag`.
    pub diag: crate::bfd::Diag,
    /// `bfd.LocalDiscr`.
    pub local_discr: u32,
    /// `bfd.RemoteDiscr`.
    pub remote_discr: u32,
    /// Agreed transmit interval (before jitter).
    pub tx_interval: Duration,
    /// Agreed receive interval.
    pub rx_interval: Duration,
    /// Detection time, once the remote is heard.
    pub detection_time: Option<Duration>,
}

impl Peer {
    /// This session's [`Snapshot`].
    pub fn snapshot(&self) -> Snapshot {
        let s = &self.session;
        Snapshot {
            name: self.name.clone(),
            neighbor: self.neighbor,
            state: s.state(),
            diag: s.diag(),
            local_discr: s.params().local_discr,
            remote_discr: s.remote_discr(),
            tx_interval: s.tx_interval(),
            rx_interval: s.rx_interval(),
            detection_time: s.detection_time(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bfd::packet::Diag;

    const PEER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 12);
    const OTHER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 99);

    fn sessions() -> Sessions {
        let mut s = Sessions::default();
        let params = SessionParams {
            local_discr: 7,
            min_tx: Duration::from_millis(10),
            min_rx: Duration::from_millis(10),
            idle_tx: Duration::from_secs(1),
            detect_mult: 3,
            passive: false,
            min_echo_rx: Duration::ZERO,
            seed: 1,
        };
        assert_eq!(s.add("b".into(), PEER, 0, params.clone()), 0);
        // A second session asking for the same discriminator gets another one.
        assert_eq!(s.add("c".into(), OTHER, 255, params), 1);
        assert_eq!(s.peers()[1].session.params().local_discr, 8);
        s
    }

    fn bytes(your: u32, state: State) -> Vec<u8> {
        ControlRepr {
            diag: Diag::None,
            state,
            poll: false,
            final_: false,
            cpi: false,
            demand: false,
            detect_mult: 3,
            my_discr: 99,
            your_discr: your,
            desired_min_tx: Duration::from_millis(10),
            required_min_rx: Duration::from_millis(10),
            required_min_echo_rx: Duration::ZERO,
            auth: None,
        }
        .to_bytes()
        .unwrap_or_default()
    }

    #[test]
    fn every_discard_rule_leaves_the_sessions_alone() {
        let mut s = sessions();
        let now = Instant::from_millis(1);
        let cases = [
            (
                PEER,
                254,
                bytes(0, State::Down),
                Discard::Ttl {
                    src: PEER,
                    ttl: 254,
                }
                .outcome(),
            ),
            (PEER, 255, bytes(0, State::Down)[..20].to_vec(), 2),
            (PEER, 255, bytes(1234, State::Up), 3),
            (OTHER, 255, bytes(7, State::Up), 4),
            (PEER, 255, bytes(0, State::Up), 5),
            (Ipv4Addr::new(192, 0, 2, 50), 255, bytes(0, State::Down), 6),
            (
                PEER,
                255,
                {
                    let mut b = bytes(0, State::Down);
                    b[1] |= 0x04;
                    b[3] = 26;
                    b.extend_from_slice(&[1, 2]);
                    b
                },
                7,
            ),
        ];
        for (src, ttl, payload, outcome) in cases {
            let err = s.receive(now, src, ttl, &payload).expect_err("discarded");
            assert_eq!(err.outcome(), outcome, "{err}");
            assert!(s.peers().iter().all(|p| p.session.state() == State::Down));
            assert!(s.peers().iter().all(|p| p.session.remote_discr() == 0));
        }
        assert_eq!(OUTCOMES[1], "ttl");
    }

    #[test]
    fn packets_reach_their_session_by_address_then_by_discriminator() {
        let mut s = sessions();
        let now = Instant::from_millis(1);
        let (i, out) = s
            .receive(now, PEER, 255, &bytes(0, State::Down))
            .expect("accepted");
        assert_eq!(i, 0);
        assert!(out.contains(&Output::Changed {
            from: State::Down,
            to: State::Init,
            diag: Diag::None
        }));
        let (i, _) = s
            .receive(now, PEER, 255, &bytes(7, State::Up))
            .expect("accepted");
        assert_eq!(i, 0);
        assert_eq!(s.peers()[0].snapshot().state, State::Up);
        assert_eq!(s.peers()[0].snapshot().remote_discr, 99);
        // max_hops 255 turns the TTL check off for the second session.
        let (i, _) = s
            .receive(now, OTHER, 1, &bytes(0, State::Down))
            .expect("accepted");
        assert_eq!(i, 1);
    }
}
