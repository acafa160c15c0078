//! What one VRRP instance records for the metrics endpoint, and how.
//!
//! [`InstanceMetrics`] is kept by the metrics subscriber ([`super::Recorder`]), which calls it for
//! every event the daemon publishes about the instance (state change, grant, GARP, advert in or
//! out). It writes relaxed atomics in an [`InstanceShared`] that a scrape on the metrics thread
//! reads (the per-reason rejection counts sit under a mutex that neither side holds for more than
//! a copy). Bookkeeping only the recorder needs (a takeover under way, the last advert for the
//! jitter) stays in plain fields of [`InstanceMetrics`].

use std::{
    collections::BTreeMap,
    net::IpAddr,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicU8, AtomicU64, Ordering::Relaxed},
    },
    time::Duration,
};

use super::histogram::{AtomicHistogram, JITTER_BOUNDS, TAKEOVER_BOUNDS};
use crate::{
    clock::monotonic_ns,
    events::{InstanceInfo, InstanceView},
    vrrp::{self, AdvertRepr, Reason, State},
};

/// Every state, in the order of [`state_index`]; the state-set series are emitted in this order.
pub const STATES: [State; 4] = [
    State::Initialize,
    State::Backup,
    State::Master,
    State::Fault,
];

/// Number of [`Reason`] variants (labels of [`REASONS`]).
pub const REASON_COUNT: usize = 13;

/// The `reason` label of every [`Reason`] variant, in the order of [`reason_index`].
pub const REASONS: [&str; REASON_COUNT] = [
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

/// Position of `state` in [`STATES`].
#[must_use]
pub const fn state_index(state: State) -> usize {
    match state {
        State::Initialize => 0,
        State::Backup => 1,
        State::Master => 2,
        State::Fault => 3,
    }
}

/// Position of `reason` in [`REASONS`] (exhaustive: a new variant fails to compile here).
#[must_use]
pub const fn reason_index(reason: Reason) -> usize {
    match reason {
        Reason::Startup => 0,
        Reason::AddressOwner => 1,
        Reason::MasterDown => 2,
        Reason::HigherPriority { .. } => 3,
        Reason::EqualPriorityHigherAddress { .. } => 4,
        Reason::PreemptLowerPriority { .. } => 5,
        Reason::PriorityZero { .. } => 6,
        Reason::KernelFenced { .. } => 7,
        Reason::Shutdown => 8,
        Reason::Fault => 9,
        Reason::FaultCleared => 10,
        Reason::SyncGroup => 11,
        Reason::BfdDown { .. } => 12,
    }
}

/// The transitions the state machine can make, as `(from, to, reason)`. Their counters are
/// exported from the start at zero, so that `increase()` sees the first one; any other
/// combination is still counted and exported once it happened.
pub const KNOWN_TRANSITIONS: [(State, State, usize); 17] = [
    (State::Initialize, State::Backup, 0),
    (State::Initialize, State::Master, 1),
    (State::Initialize, State::Fault, 9),
    (State::Backup, State::Master, 2),
    (State::Backup, State::Master, 5),
    (State::Backup, State::Master, 6),
    (State::Master, State::Backup, 3),
    (State::Master, State::Backup, 4),
    (State::Master, State::Backup, 7),
    (State::Master, State::Backup, 11),
    (State::Backup, State::Fault, 9),
    (State::Master, State::Fault, 9),
    (State::Fault, State::Backup, 10),
    (State::Master, State::Initialize, 8),
    (State::Backup, State::Initialize, 8),
    (State::Fault, State::Initialize, 8),
    (State::Backup, State::Master, 12),
];

/// The reasons whose takeover histograms are exported from the start (at zero).
pub const TAKEOVER_REASONS: [usize; 3] = [2, 6, 12];

/// The stages of a takeover that are timed from its trigger.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// Ownership granted in the kernel map (the XDP program answers ARP from here on).
    Granted,
    /// The first gratuitous ARP sent (clients and switches learn the move from here on).
    Announced,
}

impl Stage {
    /// Both stages, in order.
    pub const ALL: [Self; 2] = [Self::Granted, Self::Announced];

    /// The `stage` label.
    #[must_use]
    pub const fn as_label(self) -> &'static str {
        match self {
            Self::Granted => "granted",
            Self::Announced => "announced",
        }
    }

    const fn index(self) -> usize {
        match self {
            Self::Granted => 0,
            Self::Announced => 1,
        }
    }
}

/// The state of one instance as the scrape reads it: relaxed atomics written by the recorder.
#[derive(Debug)]
pub struct InstanceShared {
    /// Its identity.
    pub info: InstanceInfo,
    state: AtomicU8,
    effective_priority: AtomicU8,
    /// The master known, with its priority (an IPv6 address does not fit an atomic word).
    master: Mutex<Option<(IpAddr, u8)>>,
    learned_interval_ns: AtomicU64,
    master_down_ns: AtomicU64,
    /// `[from][to][reason]`, flattened.
    transitions: Box<[AtomicU64]>,
    adverts_sent: AtomicU64,
    adverts_received: AtomicU64,
    priority_zero_received: AtomicU64,
    garps_sent: AtomicU64,
    garps_suppressed: AtomicU64,
    intervals_clamped: AtomicU64,
    /// `AdvertRejected::as_label` -> adverts the state machine rejected for that reason.
    rejected: Mutex<BTreeMap<&'static str, u64>>,
    /// `auth_hmac` outcome -> adverts checked with that outcome.
    auth_hmac: Mutex<BTreeMap<&'static str, u64>>,
    /// `[stage][reason]`, flattened.
    takeover: Box<[AtomicHistogram]>,
    jitter: AtomicHistogram,
}

/// A plain copy of an [`InstanceShared`] for one scrape.
#[derive(Clone, Debug, PartialEq)]
pub struct InstanceSnapshot {
    /// Current state.
    pub state: State,
    /// Effective priority.
    pub effective_priority: u8,
    /// The master as this node knows it, with its priority.
    pub master: Option<(IpAddr, u8)>,
    /// `Master_Adver_Interval`.
    pub learned_interval: Duration,
    /// `Master_Down_Interval`.
    pub master_down_interval: Duration,
    /// Adverts sent (every destination counts).
    pub adverts_sent: u64,
    /// Adverts received from the kernel for this instance.
    pub adverts_received: u64,
    /// Of those, adverts with priority 0 (a master leaving).
    pub priority_zero_received: u64,
    /// Gratuitous ARP frames sent.
    pub garps_sent: u64,
    /// Gratuitous ARP bursts on lower-priority adverts that were rate limited.
    pub garps_suppressed: u64,
    /// Learned advert intervals clamped to their bound.
    pub intervals_clamped: u64,
}

const fn transition_index(from: usize, to: usize, reason: usize) -> usize {
    (from * STATES.len() + to) * REASON_COUNT + reason
}

const fn takeover_index(stage: Stage, reason: usize) -> usize {
    stage.index() * REASON_COUNT + reason
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl InstanceShared {
    /// A fresh record for `info`: INIT, configured priority, nothing counted.
    #[must_use]
    pub fn new(info: InstanceInfo) -> Self {
        let n = STATES.len() * STATES.len() * REASON_COUNT;
        Self {
            state: AtomicU8::new(0),
            effective_priority: AtomicU8::new(info.priority),
            master: Mutex::new(None),
            learned_interval_ns: AtomicU64::new(nanos(info.advert_interval)),
            master_down_ns: AtomicU64::new(0),
            transitions: (0..n).map(|_| AtomicU64::new(0)).collect(),
            adverts_sent: AtomicU64::new(0),
            adverts_received: AtomicU64::new(0),
            priority_zero_received: AtomicU64::new(0),
            garps_sent: AtomicU64::new(0),
            garps_suppressed: AtomicU64::new(0),
            intervals_clamped: AtomicU64::new(0),
            rejected: Mutex::new(BTreeMap::new()),
            auth_hmac: Mutex::new(BTreeMap::new()),
            takeover: (0..Stage::ALL.len() * REASON_COUNT)
                .map(|_| AtomicHistogram::new(TAKEOVER_BOUNDS))
                .collect(),
            jitter: AtomicHistogram::new(JITTER_BOUNDS),
            info,
        }
    }

    /// The scalar values now.
    #[must_use]
    pub fn snapshot(&self) -> InstanceSnapshot {
        let state = STATES
            .get(usize::from(self.state.load(Relaxed)))
            .copied()
            .unwrap_or(State::Initialize);
        let master = *self.master.lock().unwrap_or_else(PoisonError::into_inner);
        InstanceSnapshot {
            state,
            effective_priority: self.effective_priority.load(Relaxed),
            master,
            learned_interval: Duration::from_nanos(self.learned_interval_ns.load(Relaxed)),
            master_down_interval: Duration::from_nanos(self.master_down_ns.load(Relaxed)),
            adverts_sent: self.adverts_sent.load(Relaxed),
            adverts_received: self.adverts_received.load(Relaxed),
            priority_zero_received: self.priority_zero_received.load(Relaxed),
            garps_sent: self.garps_sent.load(Relaxed),
            garps_suppressed: self.garps_suppressed.load(Relaxed),
            intervals_clamped: self.intervals_clamped.load(Relaxed),
        }
    }

    /// Rejected adverts by reason label (only reasons seen so far).
    #[must_use]
    pub fn rejected(&self) -> BTreeMap<&'static str, u64> {
        self.rejected
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// `auth_hmac` outcomes counted (only outcomes seen so far).
    #[must_use]
    pub fn auth_hmac(&self) -> BTreeMap<&'static str, u64> {
        self.auth_hmac
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Transitions counted for `(from, to, reason index)`.
    #[must_use]
    pub fn transitions(&self, from: State, to: State, reason: usize) -> u64 {
        self.transitions
            .get(transition_index(state_index(from), state_index(to), reason))
            .map_or(0, |c| c.load(Relaxed))
    }

    /// The takeover histogram of `stage` for `reason` (index).
    #[must_use]
    pub fn takeover(&self, stage: Stage, reason: usize) -> Option<&AtomicHistogram> {
        self.takeover.get(takeover_index(stage, reason))
    }

    /// The advert receive jitter histogram.
    #[must_use]
    pub fn jitter(&self) -> &AtomicHistogram {
        &self.jitter
    }
}

/// A takeover being timed: from its trigger to the grant and the first GARP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Takeover {
    trigger_ns: u64,
    reason: usize,
    granted: bool,
}

/// The event loop's recorder for one instance (see the module doc).
#[derive(Debug)]
pub struct InstanceMetrics {
    shared: Arc<InstanceShared>,
    takeover: Option<Takeover>,
    /// Kernel receive time of the last priority-0 advert (the trigger of a priority-0 takeover).
    priority_zero_at: Option<u64>,
    /// Source and kernel receive time of the last advert (for the jitter).
    last_advert: Option<(IpAddr, u64)>,
}

impl Default for InstanceMetrics {
    fn default() -> Self {
        Self::unregistered()
    }
}

impl InstanceMetrics {
    /// A recorder that no endpoint reads (before registration, and in tools without one).
    #[must_use]
    pub fn unregistered() -> Self {
        Self::with_shared(Arc::new(InstanceShared::new(InstanceInfo::default())))
    }

    pub(super) fn with_shared(shared: Arc<InstanceShared>) -> Self {
        Self {
            shared,
            takeover: None,
            priority_zero_at: None,
            last_advert: None,
        }
    }

    /// What the scrape reads.
    #[must_use]
    pub fn shared(&self) -> &Arc<InstanceShared> {
        &self.shared
    }

    /// Copies the state machine's gauged values (state, priority, master, intervals), as the
    /// daemon published them.
    pub fn sync(&self, view: &InstanceView) {
        let s = &self.shared;
        let state = u8::try_from(state_index(view.state)).unwrap_or(0);
        s.state.store(state, Relaxed);
        s.effective_priority.store(view.effective_priority, Relaxed);
        *s.master.lock().unwrap_or_else(PoisonError::into_inner) = view.master;
        s.learned_interval_ns
            .store(nanos(view.learned_interval), Relaxed);
        s.master_down_ns
            .store(nanos(view.master_down_interval), Relaxed);
    }

    /// The state machine rejected an advert for `reason` (`AdvertRejected::as_label`).
    pub fn advert_rejected(&self, reason: &'static str) {
        *self
            .shared
            .rejected
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(reason)
            .or_default() += 1;
    }

    /// An advert went through the `auth_hmac` check with `outcome`.
    pub fn auth_hmac(&self, outcome: &'static str) {
        *self
            .shared
            .auth_hmac
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(outcome)
            .or_default() += 1;
    }

    /// A learned advert interval was clamped to its bound.
    pub fn interval_clamped(&self) {
        self.shared.intervals_clamped.fetch_add(1, Relaxed);
    }

    /// A gratuitous ARP burst on a lower-priority advert was rate limited.
    pub fn garps_suppressed(&self) {
        self.shared.garps_suppressed.fetch_add(1, Relaxed);
    }

    /// A state change at `now` (the time the loop handled its cause). A change to MASTER
    /// starts timing a takeover: from `now` (the `Master_Down_Timer` expiry as the loop saw it),
    /// or for a priority-0 takeover from the kernel's receive time of that advert.
    pub fn transition(&mut self, now: vrrp::Instant, from: State, to: State, reason: Reason) {
        let r = reason_index(reason);
        let i = transition_index(state_index(from), state_index(to), r);
        if let Some(c) = self.shared.transitions.get(i) {
            c.fetch_add(1, Relaxed);
        }
        if let Ok(s) = u8::try_from(state_index(to)) {
            self.shared.state.store(s, Relaxed);
        }
        self.takeover = (to == State::Master).then(|| {
            let trigger_ns = match reason {
                Reason::PriorityZero { .. } => self
                    .priority_zero_at
                    .filter(|&t| t <= now.as_nanos())
                    .unwrap_or(now.as_nanos()),
                _ => now.as_nanos(),
            };
            Takeover {
                trigger_ns,
                reason: r,
                granted: false,
            }
        });
        if to != State::Backup {
            self.last_advert = None;
        }
    }

    /// Ownership was granted in the kernel map just now.
    pub fn granted(&mut self) {
        self.granted_at(monotonic_ns());
    }

    /// [`Self::granted`] at `now_ns` (`CLOCK_MONOTONIC`).
    pub fn granted_at(&mut self, now_ns: u64) {
        if let Some(t) = &mut self.takeover
            && !t.granted
        {
            t.granted = true;
            self.observe(Stage::Granted, now_ns);
        }
    }

    /// `frames` gratuitous ARPs were sent just now.
    pub fn garps_sent(&mut self, frames: usize) {
        self.garps_sent_at(frames, monotonic_ns());
    }

    /// [`Self::garps_sent`] at `now_ns` (`CLOCK_MONOTONIC`).
    pub fn garps_sent_at(&mut self, frames: usize, now_ns: u64) {
        self.shared
            .garps_sent
            .fetch_add(u64::try_from(frames).unwrap_or(u64::MAX), Relaxed);
        // The announcement completes a takeover only after the grant (ARCHITECTURE order).
        if frames > 0 && self.takeover.is_some_and(|t| t.granted) {
            self.observe(Stage::Announced, now_ns);
            self.takeover = None;
        }
    }

    fn observe(&self, stage: Stage, now_ns: u64) {
        if let Some(t) = self.takeover
            && let Some(h) = self.shared.takeover(stage, t.reason)
        {
            h.observe(Duration::from_nanos(now_ns.saturating_sub(t.trigger_ns)));
        }
    }

    /// One advert was sent (to one destination).
    pub fn advert_sent(&self) {
        self.shared.adverts_sent.fetch_add(1, Relaxed);
    }

    /// An advert for this instance arrived from `src`, received by the kernel at `rx_ns`
    /// (`CLOCK_MONOTONIC`). Counts it, notes a priority 0, and records the jitter: how far the
    /// gap since the previous advert from the same sender is from the interval it advertises.
    pub fn advert_received(&mut self, rx_ns: u64, src: IpAddr, advert: &AdvertRepr) {
        self.advert_received_with(rx_ns, src, advert.priority, advert.interval.to_duration());
    }

    /// [`Self::advert_received`] with the advert's priority and interval only.
    pub fn advert_received_with(
        &mut self,
        rx_ns: u64,
        src: IpAddr,
        priority: u8,
        expected: Duration,
    ) {
        self.shared.adverts_received.fetch_add(1, Relaxed);
        if priority == 0 {
            self.shared.priority_zero_received.fetch_add(1, Relaxed);
            self.priority_zero_at = Some(rx_ns);
            self.last_advert = None;
            return;
        }
        if let Some((prev_src, prev_ns)) = self.last_advert
            && prev_src == src
            && rx_ns > prev_ns
        {
            let gap = Duration::from_nanos(rx_ns - prev_ns);
            self.shared.jitter.observe(gap.abs_diff(expected));
        }
        self.last_advert = Some((src, rx_ns));
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use std::net::Ipv4Addr;

    use super::*;
    use crate::vrrp::{AdvertInterval, Auth, Centiseconds, Version};

    fn recorder() -> InstanceMetrics {
        InstanceMetrics::unregistered()
    }

    fn advert(priority: u8, centis: u16) -> AdvertRepr {
        AdvertRepr {
            version: Version::V3,
            vrid: 51,
            priority,
            interval: AdvertInterval::Centiseconds(
                Centiseconds::new(centis).expect("valid interval"),
            ),
            addresses: vec![Ipv4Addr::new(192, 0, 2, 200).into()],
            auth: Auth::None,
        }
    }

    const MS: u64 = 1_000_000;
    const PEER: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 11));

    #[test]
    fn reasons_are_in_label_order() {
        let all = [
            Reason::Startup,
            Reason::AddressOwner,
            Reason::MasterDown,
            Reason::HigherPriority {
                src: PEER,
                priority: 1,
            },
            Reason::EqualPriorityHigherAddress {
                src: PEER,
                priority: 1,
            },
            Reason::PreemptLowerPriority {
                src: PEER,
                priority: 1,
            },
            Reason::PriorityZero { src: PEER },
            Reason::KernelFenced {
                src: PEER,
                priority: 1,
            },
            Reason::Shutdown,
            Reason::Fault,
            Reason::FaultCleared,
        ];
        for r in &all {
            assert_eq!(REASONS[reason_index(*r)], r.as_label());
        }
        for (i, s) in STATES.iter().enumerate() {
            assert_eq!(state_index(*s), i);
        }
    }

    #[test]
    fn master_down_takeover_is_timed_from_the_timer_to_grant_and_garp() {
        let mut m = recorder();
        let t0 = vrrp::Instant::from_millis(1_000);
        m.transition(t0, State::Backup, State::Master, Reason::MasterDown);
        m.granted_at(1_000 * MS + 2 * MS);
        m.garps_sent_at(1, 1_000 * MS + 3 * MS);
        // A second GARP round is not a new takeover.
        m.garps_sent_at(1, 1_000 * MS + 5_000 * MS);
        let s = m.shared();
        assert_eq!(s.transitions(State::Backup, State::Master, 2), 1);
        let granted = s.takeover(Stage::Granted, 2).expect("histogram").snapshot();
        let announced = s
            .takeover(Stage::Announced, 2)
            .expect("histogram")
            .snapshot();
        assert_eq!((granted.count, announced.count), (1, 1));
        assert!((granted.sum - 0.002).abs() < 1e-9, "{granted:?}");
        assert!((announced.sum - 0.003).abs() < 1e-9, "{announced:?}");
        assert_eq!(s.snapshot().garps_sent, 2);
        assert_eq!(s.snapshot().state, State::Master);
    }

    #[test]
    fn priority_zero_takeover_starts_at_the_advert() {
        let mut m = recorder();
        m.advert_received(500 * MS, PEER, &advert(0, 10));
        let t = vrrp::Instant::from_millis(561);
        m.transition(
            t,
            State::Backup,
            State::Master,
            Reason::PriorityZero { src: PEER },
        );
        m.granted_at(562 * MS);
        m.garps_sent_at(1, 563 * MS);
        let h = m
            .shared()
            .takeover(Stage::Announced, 6)
            .expect("histogram")
            .snapshot();
        assert_eq!(h.count, 1);
        assert!((h.sum - 0.063).abs() < 1e-9, "{h:?}");
        assert_eq!(m.shared().snapshot().priority_zero_received, 1);
    }

    #[test]
    fn garp_before_grant_or_without_takeover_is_not_a_takeover() {
        let mut m = recorder();
        m.garps_sent_at(1, 10 * MS);
        m.transition(
            vrrp::Instant::from_millis(20),
            State::Backup,
            State::Master,
            Reason::MasterDown,
        );
        m.garps_sent_at(1, 21 * MS);
        // Leaving MASTER before the grant abandons the measurement.
        m.transition(
            vrrp::Instant::from_millis(22),
            State::Master,
            State::Backup,
            Reason::HigherPriority {
                src: PEER,
                priority: 200,
            },
        );
        m.granted_at(23 * MS);
        for stage in Stage::ALL {
            let n = m.shared().takeover(stage, 2).expect("histogram").count();
            assert_eq!(n, 0, "{stage:?}");
        }
    }

    #[test]
    fn jitter_is_the_distance_from_the_advertised_interval() {
        let mut m = recorder();
        m.advert_received(0, PEER, &advert(150, 10));
        m.advert_received(103 * MS, PEER, &advert(150, 10)); // 3 ms late
        m.advert_received(201 * MS, PEER, &advert(150, 10)); // 2 ms early
        // Another sender does not count against the first.
        m.advert_received(
            250 * MS,
            Ipv4Addr::new(192, 0, 2, 12).into(),
            &advert(100, 10),
        );
        let h = m.shared().jitter().snapshot();
        assert_eq!(h.count, 2, "{h:?}");
        assert!((h.sum - 0.005).abs() < 1e-9, "{h:?}");
        assert_eq!(m.shared().snapshot().adverts_received, 4);
    }

    #[test]
    fn sync_copies_the_state_machine() {
        let params = vrrp::InstanceParams {
            name: "VI_1".to_owned(),
            vrid: 51,
            version: Version::V3,
            priority: 100,
            advert_interval: Duration::from_millis(100),
            preempt: true,
            preempt_delay: Duration::ZERO,
            initial_state: vrrp::InitialState::Backup,
            primary_addr: Ipv4Addr::new(192, 0, 2, 12).into(),
            vips: vec![Ipv4Addr::new(192, 0, 2, 200).into()],
            unicast_peers: vec![],
            max_learned_interval: None,
            auth: Auth::None,
            checksum_mode: vrrp::ChecksumMode::PseudoHeader,
            garp: vrrp::GarpParams::default(),
        };
        let mut fsm = vrrp::Instance::new(params).expect("params");
        let m = recorder();
        let now = vrrp::Instant::from_millis(1);
        fsm.handle(now, vrrp::Event::Startup);
        fsm.handle(
            now,
            vrrp::Event::Advert {
                src: PEER,
                dst: Ipv4Addr::new(224, 0, 0, 18).into(),
                ttl: 255,
                advert: advert(150, 20),
                fenced: false,
            },
        );
        m.sync(&InstanceView::of(&fsm));
        let s = m.shared().snapshot();
        assert_eq!(s.state, State::Backup);
        assert_eq!(s.master, Some((PEER, 150)));
        assert_eq!(s.learned_interval, Duration::from_millis(200));
        // 3 x 200 ms + (256 - 100) / 256 x 200 ms
        assert_eq!(s.master_down_interval, Duration::from_micros(721_875));
        assert_eq!(s.effective_priority, 100);
    }
}
