//! The inputs and outputs of the state machine: [`Event`] in, [`Action`] out, with the [`State`]s
//! and the [`Reason`]s of their changes, and why an advert can be rejected ([`AdvertRejected`]).

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use havip_common::rule::Reject;

use super::packet::{AdvertRepr, Version};

/// Instance state (RFC 9568 6.3; keepalived's names).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum State {
    /// Not running: before [`Event::Startup`] and after [`Event::Shutdown`].
    Initialize,
    /// Watching the master; takes over when its `Master_Down_Timer` fires.
    Backup,
    /// Owns the virtual addresses and advertises (RFC 9568 calls it Active).
    Master,
    /// Unable to serve (tracked interface or script down); silent (keepalived FAULT).
    Fault,
}

impl State {
    /// keepalived's word for the state: `INIT`, `BACKUP`, `MASTER`, `FAULT`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Initialize => "INIT",
            Self::Backup => "BACKUP",
            Self::Master => "MASTER",
            Self::Fault => "FAULT",
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An input of the state machine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// Start the instance (RFC 9568 6.4.1).
    Startup,
    /// An advert decoded by [`AdvertRepr::parse`], received from `src`.
    Advert {
        /// IPv4 source of the advert.
        src: IpAddr,
        /// IPv4 destination (this node's address for unicast, 224.0.0.18 for multicast).
        dst: IpAddr,
        /// IPv4 TTL as received (RFC 9568 7.1: must be 255).
        ttl: u8,
        /// The advert.
        advert: AdvertRepr,
        /// The XDP program already cleared this node's ownership because of this advert.
        fenced: bool,
    },
    /// A deadline passed: send when `now >= poll_at()` (spurious calls are harmless).
    Timer,
    /// The effective priority changed (tracking). Clamped to 1..=254; ignored by an address owner,
    /// whose priority stays 255 (keepalived `vrrp_set_effective_priority`).
    SetPriority(u8),
    /// Enter (`true`) or leave (`false`) FAULT.
    Fault(bool),
    /// Sync group (keepalived `vrrp_sync_group`): whether this instance may become master
    /// now. A closed gate holds a backup whose `Master_Down_Timer` fired until every member
    /// of its group is ready, so that the members take over together.
    Gate(bool),
    /// Sync group: another member left MASTER, leave it too (with a priority-0 advert, so
    /// that the peer takes over after its skew time).
    GroupResign,
    /// havip extension `master_down_on_bfd` (not RFC 9568, not keepalived): the BFD session
    /// (RFC 5880) to `0` went Down. A backup whose master is `0` takes over at once, as if its
    /// `Master_Down_Timer` had fired; any other state ignores it.
    PeerDown(IpAddr),
    /// Stop the instance (RFC 9568 6.4.2, 6.4.3).
    Shutdown,
    /// Start the instance where a previous agent left it (a planned restart or an upgrade),
    /// instead of [`Event::Startup`]: no state change is reported, since on the wire and in the
    /// kernel nothing changes. Ignored unless the instance is in INIT.
    Resume(Resume),
}

/// What a restarted agent found of an instance (the kernel's grant, lease and fence, the peers'
/// last adverts, and the previous agent's record of it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resume {
    /// The kernel still holds this node's live, unfenced grant: go on as master with an
    /// advert at once and one gratuitous ARP refresh, the lease renewed.
    Master,
    /// Go on as backup, with `Master_Down_Timer` running from the last advert the kernel
    /// accepted from the master (not from now: the restart must not lengthen a failover).
    Backup {
        /// The master the previous agent knew, with its priority.
        master: Option<(IpAddr, u8)>,
        /// When the kernel last accepted an advert for this instance; `None`: never, and the
        /// timer runs a full `Master_Down_Interval` from now.
        last_advert: Option<super::time::Instant>,
        /// `Master_Adver_Interval` the previous agent had learned (v3).
        learned_interval: Duration,
    },
}

/// An output of the state machine, to be carried out in the order returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// Send one advert with this priority (0 when leaving). The I/O layer builds it with
    /// [`Instance::advert`](super::fsm::Instance::advert). Each advert sent as master also renews
    /// the kernel ownership lease.
    SendAdvert {
        /// Priority to advertise.
        priority: u8,
    },
    /// Become owner: grant the ownership map entry with a lease, then add the VIP addresses.
    /// Comes right after the first advert as master (see `become_master`).
    TakeOwnership,
    /// Stop being owner: revoke the map entry first, then remove the addresses.
    ReleaseOwnership,
    /// Renew the kernel ownership lease (`lease_until = now + lease`), keeping the grant's epoch
    /// so that a fence the kernel set stays in force. Follows every advert a master sends with
    /// its own priority, except the first (whose [`Action::TakeOwnership`] grants with a lease).
    RenewLease,
    /// One round of gratuitous ARPs, one for each VIP.
    SendGarp,
    /// Gratuitous ARPs that a lower-priority advert would have triggered were not sent: the
    /// rate limit on that path held them (a spoofed advert must not become a GARP burst).
    GarpSuppressed,
    /// An advert was not taken into account: to be counted by reason and logged (rate limited).
    AdvertRejected(AdvertRejected),
    /// The master's advertised interval exceeded the accepted bound; the bound was learned
    /// instead (a spoofed Max Adver Int must not stretch `Master_Down_Interval` for minutes).
    IntervalClamped {
        /// Sender.
        src: IpAddr,
        /// The interval it advertised.
        advertised: Duration,
        /// The interval learned.
        learned: Duration,
    },
    /// The state changed (logs, notify scripts, metrics, cloud reporting).
    StateChanged {
        /// Previous state.
        from: State,
        /// New state.
        to: State,
        /// Why.
        reason: Reason,
    },
}

/// Why a state changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reason {
    /// INIT -> BACKUP at startup.
    Startup,
    /// INIT -> MASTER at startup as address owner (priority 255, `state MASTER`).
    AddressOwner,
    /// The `Master_Down_Timer` fired: no (acceptable) advert for `Master_Down_Interval`.
    MasterDown,
    /// A higher-priority advert reached the master.
    HigherPriority {
        /// Sender.
        src: IpAddr,
        /// Its priority.
        priority: u8,
    },
    /// An equal-priority advert from a higher primary address reached the master.
    EqualPriorityHigherAddress {
        /// Sender.
        src: IpAddr,
        /// Its (and our) priority.
        priority: u8,
    },
    /// A backup took over from a lower-priority master whose adverts it ignored (preempt).
    PreemptLowerPriority {
        /// The lower-priority master.
        src: IpAddr,
        /// Its priority.
        priority: u8,
    },
    /// A backup took over after `Skew_Time` because the master sent priority 0.
    PriorityZero {
        /// The master that left.
        src: IpAddr,
    },
    /// The XDP program cleared our ownership on this advert; the master follows it to BACKUP.
    KernelFenced {
        /// Sender.
        src: IpAddr,
        /// Its priority.
        priority: u8,
    },
    /// [`Event::Shutdown`].
    Shutdown,
    /// [`Event::Fault`] with `true`.
    Fault,
    /// [`Event::Fault`] with `false`.
    FaultCleared,
    /// Another member of the sync group left MASTER ([`Event::GroupResign`]).
    SyncGroup,
    /// The BFD session to the master went Down ([`Event::PeerDown`], `master_down_on_bfd`).
    BfdDown {
        /// The master.
        src: IpAddr,
    },
}

impl Reason {
    /// Every label [`Self::as_label`] can return, for metrics that register their series up
    /// front (the one list; a test checks it against every variant).
    pub const LABELS: [&'static str; 13] = [
        "startup",
        "address_owner",
        "master_down",
        "higher_priority",
        "equal_priority_higher_address",
        "preempt_lower_priority",
        "priority_zero",
        "kernel_fenced",
        "shutdown",
        "fault",
        "fault_cleared",
        "sync_group",
        "bfd_down",
    ];

    /// A stable `snake_case` label for metrics.
    pub const fn as_label(&self) -> &'static str {
        match self {
            Self::Startup => "startup",
            Self::AddressOwner => "address_owner",
            Self::MasterDown => "master_down",
            Self::HigherPriority { .. } => "higher_priority",
            Self::EqualPriorityHigherAddress { .. } => "equal_priority_higher_address",
            Self::PreemptLowerPriority { .. } => "preempt_lower_priority",
            Self::PriorityZero { .. } => "priority_zero",
            Self::KernelFenced { .. } => "kernel_fenced",
            Self::Shutdown => "shutdown",
            Self::Fault => "fault",
            Self::FaultCleared => "fault_cleared",
            Self::SyncGroup => "sync_group",
            Self::BfdDown { .. } => "bfd_down",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Startup => f.write_str("startup"),
            Self::AddressOwner => f.write_str("address owner at startup"),
            Self::MasterDown => f.write_str("master down timer expired"),
            Self::HigherPriority { src, priority } => {
                write!(f, "higher priority {priority} advert from {src}")
            }
            Self::EqualPriorityHigherAddress { src, priority } => {
                write!(
                    f,
                    "equal priority {priority} advert from higher address {src}"
                )
            }
            Self::PreemptLowerPriority { src, priority } => {
                write!(f, "preempted lower priority {priority} master {src}")
            }
            Self::PriorityZero { src } => write!(f, "master {src} sent priority 0"),
            Self::KernelFenced { src, priority } => {
                write!(f, "kernel fenced on priority {priority} advert from {src}")
            }
            Self::Shutdown => f.write_str("shutdown"),
            Self::Fault => f.write_str("fault"),
            Self::FaultCleared => f.write_str("fault cleared"),
            Self::SyncGroup => f.write_str("another member of the sync group left MASTER"),
            Self::BfdDown { src } => write!(f, "BFD session to master {src} went down"),
        }
    }
}

/// Why an advert was not taken into account: [`Instance::handle`](super::fsm::Instance::handle)
/// returns it as [`Action::AdvertRejected`]. Every variant but [`Self::NotListening`] and
/// [`Self::VridMismatch`] is one reason of the shared rule (`havip_common::rule::Reject`, see
/// [`AdvertRejected::reject`]): the XDP program drops the same adverts under the same label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum AdvertRejected {
    /// Adverts are ignored in INIT and FAULT (keepalived `vrrp_dispatcher_read`).
    #[error("VRID {vrid}: advert from {src} ignored in state {state}")]
    NotListening {
        /// Our VRID.
        vrid: u8,
        /// Sender.
        src: IpAddr,
        /// Our state.
        state: State,
    },
    /// For another virtual router (RFC 9568 7.1).
    #[error("VRID {expected}: advert from {src} for VRID {got}")]
    VridMismatch {
        /// Our VRID.
        expected: u8,
        /// The advert's VRID.
        got: u8,
        /// Sender.
        src: IpAddr,
    },
    /// Another protocol version (RFC 9568 7.1, RFC 3768 7.1).
    #[error("VRID {vrid}: {got} advert from {src}, we speak {expected}")]
    VersionMismatch {
        /// Our VRID.
        vrid: u8,
        /// Our version.
        expected: Version,
        /// The advert's version.
        got: Version,
        /// Sender.
        src: IpAddr,
    },
    /// Our own advert came back.
    #[error("VRID {vrid}: advert from our own address {src}")]
    OwnAddress {
        /// Our VRID.
        vrid: u8,
        /// Sender (our primary address).
        src: IpAddr,
    },
    /// v2 interval differs from ours: RFC 3768 7.1 MUST discard (keepalived drops too).
    #[error("VRID {vrid}: advert from {src} with interval {got:?}, ours is {expected:?}")]
    IntervalMismatch {
        /// Our VRID.
        vrid: u8,
        /// Sender.
        src: IpAddr,
        /// Our interval.
        expected: Duration,
        /// The advert's interval.
        got: Duration,
    },
    /// v2 authentication type or password differs (RFC 3768 7.1; keepalived `vrrp_check_packet`).
    #[error("VRID {vrid}: advert from {src} fails authentication")]
    AuthMismatch {
        /// Our VRID.
        vrid: u8,
        /// Sender.
        src: IpAddr,
    },
    /// IPv4 TTL is not 255 (RFC 9568 7.1).
    #[error("VRID {vrid}: advert from {src} with TTL {ttl}, must be 255")]
    Ttl {
        /// Our VRID.
        vrid: u8,
        /// Sender.
        src: IpAddr,
        /// TTL received.
        ttl: u8,
    },
    /// Not a well-formed advertisement (type or length); the codec refuses these first, so
    /// the state machine only sees it from a caller that bypassed it.
    #[error("VRID {vrid}: malformed advert from {src} ({})", reason.label())]
    Malformed {
        /// Our VRID.
        vrid: u8,
        /// Sender.
        src: IpAddr,
        /// [`Reject::Type`] or [`Reject::Length`].
        reason: Reject,
    },
    /// Sender is not one of the instance's unicast peers (keepalived `unicast_peer`).
    #[error("VRID {vrid}: advert from {src}, which is not a unicast peer")]
    UnknownPeer {
        /// Our VRID.
        vrid: u8,
        /// Sender.
        src: IpAddr,
    },
    /// A multicast advert on an instance with unicast peers (keepalived `vrrp_check_packet`).
    #[error("VRID {vrid}: multicast advert from {src} to {dst} on a unicast instance")]
    MulticastOnUnicast {
        /// Our VRID.
        vrid: u8,
        /// Sender.
        src: IpAddr,
        /// Destination.
        dst: IpAddr,
    },
    /// Destination is neither our address (unicast) nor 224.0.0.18 (multicast).
    #[error("VRID {vrid}: advert from {src} sent to {dst}, neither us nor the VRRP group")]
    Destination {
        /// Our VRID.
        vrid: u8,
        /// Sender.
        src: IpAddr,
        /// Destination.
        dst: IpAddr,
    },
    /// The address list differs from ours and the sender is not the owner (RFC 9568 7.1,
    /// RFC 3768 7.1).
    #[error("VRID {vrid}: advert from {src} lists {got} addresses that differ from our {expected}")]
    AddressMismatch {
        /// Our VRID.
        vrid: u8,
        /// Sender.
        src: IpAddr,
        /// Number of addresses in the advert.
        got: usize,
        /// Number of our addresses.
        expected: usize,
    },
}

impl AdvertRejected {
    /// A stable `snake_case` label for metrics and logs: for a reason of the shared rule, the
    /// label of its kernel counter (`havip_common::counter`), so the agent's and the kernel's
    /// series for one reason carry one name.
    pub const fn as_label(&self) -> &'static str {
        match self.reject() {
            Some(r) => r.label(),
            None => match self {
                Self::NotListening { .. } => "not_listening",
                _ => "vrid_mismatch",
            },
        }
    }

    /// Every label [`Self::as_label`] can return, for metrics that register their series up
    /// front: the state machine's two, then the shared rule's from the kernel counter table.
    pub const LABELS: [&'static str; 2 + Reject::ALL.len()] = {
        let mut out = [""; 2 + Reject::ALL.len()];
        out[0] = "not_listening";
        out[1] = "vrid_mismatch";
        let mut i = 0;
        while i < Reject::ALL.len() {
            out[2 + i] = Reject::ALL[i].label();
            i += 1;
        }
        out
    };

    /// The shared rule's reason, for every variant but the state machine's own
    /// ([`Self::NotListening`], [`Self::VridMismatch`]).
    pub const fn reject(&self) -> Option<Reject> {
        Some(match self {
            Self::NotListening { .. } | Self::VridMismatch { .. } => return None,
            Self::Ttl { .. } => Reject::Ttl,
            Self::Malformed { reason, .. } => *reason,
            Self::VersionMismatch { .. } => Reject::Version,
            Self::OwnAddress { .. } => Reject::Own,
            Self::UnknownPeer { .. } => Reject::UnknownPeer,
            Self::MulticastOnUnicast { .. } => Reject::MulticastOnUnicast,
            Self::Destination { .. } => Reject::Destination,
            Self::IntervalMismatch { .. } => Reject::Interval,
            Self::AuthMismatch { .. } => Reject::Auth,
            Self::AddressMismatch { .. } => Reject::Addresses,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[expect(clippy::too_many_lines, reason = "one value of every variant")]
    fn every_label_is_listed_once() {
        let a = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));
        let reasons = [
            Reason::Startup,
            Reason::AddressOwner,
            Reason::MasterDown,
            Reason::HigherPriority {
                src: a,
                priority: 1,
            },
            Reason::EqualPriorityHigherAddress {
                src: a,
                priority: 1,
            },
            Reason::PreemptLowerPriority {
                src: a,
                priority: 1,
            },
            Reason::PriorityZero { src: a },
            Reason::KernelFenced {
                src: a,
                priority: 1,
            },
            Reason::Shutdown,
            Reason::Fault,
            Reason::FaultCleared,
            Reason::SyncGroup,
            Reason::BfdDown { src: a },
        ];
        let labels: Vec<&str> = reasons.iter().map(Reason::as_label).collect();
        assert_eq!(labels, Reason::LABELS);

        let vrid = 1;
        let d = Duration::ZERO;
        let rejected = [
            AdvertRejected::NotListening {
                vrid,
                src: a,
                state: State::Fault,
            },
            AdvertRejected::VridMismatch {
                expected: 1,
                got: 2,
                src: a,
            },
            AdvertRejected::Ttl {
                vrid,
                src: a,
                ttl: 1,
            },
            AdvertRejected::VersionMismatch {
                vrid,
                expected: Version::V2,
                got: Version::V3,
                src: a,
            },
            AdvertRejected::Malformed {
                vrid,
                src: a,
                reason: Reject::Type,
            },
            AdvertRejected::Malformed {
                vrid,
                src: a,
                reason: Reject::Length,
            },
            AdvertRejected::OwnAddress { vrid, src: a },
            AdvertRejected::UnknownPeer { vrid, src: a },
            AdvertRejected::MulticastOnUnicast {
                vrid,
                src: a,
                dst: a,
            },
            AdvertRejected::Destination {
                vrid,
                src: a,
                dst: a,
            },
            AdvertRejected::AuthMismatch { vrid, src: a },
            AdvertRejected::IntervalMismatch {
                vrid,
                src: a,
                expected: d,
                got: d,
            },
            AdvertRejected::AddressMismatch {
                vrid,
                src: a,
                got: 1,
                expected: 2,
            },
        ];
        let mut labels: Vec<&str> = rejected.iter().map(AdvertRejected::as_label).collect();
        let mut listed = AdvertRejected::LABELS.to_vec();
        labels.sort_unstable();
        listed.sort_unstable();
        assert_eq!(
            labels, listed,
            "one variant per label, one label per variant"
        );
        assert_eq!(
            rejected[12].as_label(),
            "addresses",
            "the kernel counter's label"
        );
    }
}
