//! What the daemon's event loop publishes, and how subscribers receive it without ever slowing
//! the election down.
//!
//! The loop is the only writer of election state. Modules that want to know what happened
//! (metrics, cloud reporting, notify scripts) do not read the loop's fields: they receive
//! [`Event`]s through a [`Subscriber`]. Every subscriber is non-blocking by construction:
//! - [`Channel`]: a bounded queue to the subscriber's own task; an event that does not fit is
//!   dropped and counted ([`Channel::dropped`]), so a stalled consumer costs the loop nothing.
//! - latest-value slots (the cloud reporters' `watch` channels): a newer state overwrites an older
//!   one that was not looked at yet, because only the latest ownership matters to the cloud.
//!
//! This module depends on the election core's vocabulary ([`crate::vrrp`]) only; the cores do not
//! import it, and neither the daemon nor its subscribers import each other.

use std::{
    net::IpAddr,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering::Relaxed},
    },
    time::Duration,
};

use tokio::sync::mpsc;

use crate::vrrp::{self, Reason, State};

/// Identifies a running instance for as long as it runs; a reload that restarts an instance
/// gives it a new id (so a subscriber never mixes the counters of two incarnations).
pub type InstanceId = u64;

/// What identifies an instance and what subscribers need to serve it (published once, when it
/// starts).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InstanceInfo {
    /// The id its events carry.
    pub id: InstanceId,
    /// Instance name (`vrrp_instance`).
    pub name: String,
    /// VRID.
    pub vrid: u8,
    /// The instance runs VRRP over IPv6 (its VRID is then the IPv6 one of the interface).
    pub ipv6: bool,
    /// Name of the interface its adverts use.
    pub interface: String,
    /// Index of that interface (key of the kernel's VRID state).
    pub ifindex: u32,
    /// MAC of that interface.
    pub mac: [u8; 6],
    /// The VIPs, each with the index of the interface it is answered on (keys of the VIP table).
    pub vips: Vec<(IpAddr, u32)>,
    /// Configured priority.
    pub priority: u8,
    /// Configured advert interval.
    pub advert_interval: Duration,
}

/// The values of the state machine that gauges show; published when any of them changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InstanceView {
    /// Current state.
    pub state: State,
    /// Priority advertised and compared now.
    pub effective_priority: u8,
    /// The master as this node knows it (address, priority).
    pub master: Option<(IpAddr, u8)>,
    /// `Master_Adver_Interval`.
    pub learned_interval: Duration,
    /// `Master_Down_Interval`.
    pub master_down_interval: Duration,
}

impl InstanceView {
    /// The current values of `fsm`.
    #[must_use]
    pub fn of(fsm: &vrrp::Instance) -> Self {
        Self {
            state: fsm.state(),
            effective_priority: fsm.effective_priority(),
            master: fsm.master(),
            learned_interval: fsm.learned_master_interval(),
            master_down_interval: fsm.master_down_interval(),
        }
    }
}

/// Something that happened in the event loop. Times are `CLOCK_MONOTONIC` nanoseconds (the
/// kernel's receive time for adverts), so a subscriber that runs later still measures the loop's
/// moments, not its own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// An instance started.
    InstanceAdded(Arc<InstanceInfo>),
    /// An instance stopped for good (removed or changed by a reload); after its last events.
    InstanceRemoved {
        /// Which.
        id: InstanceId,
    },
    /// The state machine changed state.
    StateChanged {
        /// Which instance.
        id: InstanceId,
        /// When the loop handled the cause.
        at_ns: u64,
        /// From.
        from: State,
        /// To.
        to: State,
        /// Why.
        reason: Reason,
        /// Effective priority after the change.
        priority: u8,
        /// The master as known after the change.
        master: Option<(IpAddr, u8)>,
    },
    /// Gauged values changed (see [`InstanceView`]).
    Updated {
        /// Which instance.
        id: InstanceId,
        /// The values now.
        view: InstanceView,
    },
    /// An advert for the instance was received and decoded.
    AdvertReceived {
        /// Which instance.
        id: InstanceId,
        /// Kernel receive time.
        rx_ns: u64,
        /// Sender.
        src: IpAddr,
        /// Its priority.
        priority: u8,
        /// The interval it carries.
        interval: Duration,
    },
    /// One advert was sent (to one destination).
    AdvertSent {
        /// Which instance.
        id: InstanceId,
    },
    /// The state machine rejected an advert; `reason` is `AdvertRejected::as_label`.
    AdvertRejected {
        /// Which instance.
        id: InstanceId,
        /// Why.
        reason: &'static str,
    },
    /// The `auth_hmac` check of a received advert (keepalived 2.4 extension); `outcome` is
    /// `ok`, `unsigned` (accepted without trailer) or a refusal's `Rejection::label`.
    AuthHmac {
        /// Which instance.
        id: InstanceId,
        /// What came of it.
        outcome: &'static str,
    },
    /// The interval learned from a master's advert was clamped to the configured bound.
    IntervalClamped {
        /// Which instance.
        id: InstanceId,
        /// The sender.
        src: IpAddr,
        /// What it advertised.
        advertised: Duration,
        /// What was learned instead.
        learned: Duration,
    },
    /// Gratuitous ARP frames were sent (takeover, refresh or a re-announce for the cloud).
    GarpSent {
        /// Which instance.
        id: InstanceId,
        /// How many frames.
        frames: usize,
        /// When.
        at_ns: u64,
    },
    /// A gratuitous ARP burst on a lower-priority advert was rate limited.
    GarpSuppressed {
        /// Which instance.
        id: InstanceId,
    },
    /// Ownership was granted in the kernel map.
    Granted {
        /// Which instance.
        id: InstanceId,
        /// When.
        at_ns: u64,
    },
    /// Ownership was revoked in the kernel map.
    Revoked {
        /// Which instance.
        id: InstanceId,
    },
    /// A sync group's state changed (FAULT if a member is, else the state all members share).
    GroupStateChanged {
        /// The group's name.
        group: String,
        /// The new state.
        state: State,
    },
    /// A tracked script's result (after rise/fall) changed.
    TrackScript {
        /// Script name.
        name: String,
        /// OK now.
        up: bool,
    },
    /// A tracked interface changed.
    TrackInterface {
        /// Interface name.
        name: String,
        /// Up now.
        up: bool,
    },
    /// The data plane was attached to (or detached from) every interface.
    DataplaneAttached(bool),
}

/// A consumer of the loop's events. `publish` must return at once: queue, overwrite or drop,
/// never wait.
pub trait Subscriber: Send {
    /// Hands `event` over.
    fn publish(&mut self, event: &Event);
}

/// A bounded queue to a subscriber's task; what does not fit is dropped and counted.
#[derive(Debug)]
pub struct Channel {
    name: &'static str,
    tx: mpsc::Sender<Event>,
    dropped: Arc<AtomicU64>,
}

impl Channel {
    /// A channel named `name` (for logs and `havip_events_dropped_total`) holding `capacity`
    /// events, and its receiving end.
    #[must_use]
    pub fn new(name: &'static str, capacity: usize) -> (Self, mpsc::Receiver<Event>) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let me = Self {
            name,
            tx,
            dropped: Arc::new(AtomicU64::new(0)),
        };
        (me, rx)
    }

    /// The subscriber's name.
    #[must_use]
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The count of events dropped because the queue was full or its consumer gone (shared).
    #[must_use]
    pub fn dropped(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.dropped)
    }
}

impl Subscriber for Channel {
    fn publish(&mut self, event: &Event) {
        if self.tx.try_send(event.clone()).is_err() {
            self.dropped.fetch_add(1, Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_full_channel_drops_and_counts_without_waiting() {
        let (mut ch, mut rx) = Channel::new("test", 2);
        let dropped = ch.dropped();
        for id in 0..5 {
            ch.publish(&Event::AdvertSent { id });
        }
        assert_eq!(dropped.load(Relaxed), 3);
        assert_eq!(rx.recv().await, Some(Event::AdvertSent { id: 0 }));
        assert_eq!(rx.recv().await, Some(Event::AdvertSent { id: 1 }));
        // Room again: the next one is delivered.
        ch.publish(&Event::AdvertSent { id: 9 });
        assert_eq!(rx.recv().await, Some(Event::AdvertSent { id: 9 }));
        assert_eq!(dropped.load(Relaxed), 3);
    }
}
