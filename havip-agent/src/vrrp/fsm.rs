//! The VRRP state machine of one instance: RFC 9568 (v3) and RFC 3768 (v2) with keepalived 2.2.7's
//! choices where the RFCs leave room or keepalived departs from them (each noted at its branch).
//!
//! Deterministic and message driven: [`Instance::handle`] takes `(now, Event)` and returns the
//! [`Action`]s to carry out, in order; [`Instance::poll_at`] says when to call it with
//! [`Event::Timer`] next. The core never reads a clock and never does I/O.
//!
//! Timers are deadlines kept inside the state they belong to: a backup has a `Master_Down_Timer`,
//! a master an `Adver_Timer` and its gratuitous ARP schedule; INIT and FAULT have none.

use std::net::IpAddr;
use std::time::Duration;

use havip_common::{
    VridState,
    rule::{self as shared, Reject},
};

use super::garp::GarpSchedule;
pub use super::messages::{Action, AdvertRejected, Event, Reason, Resume, State};
use super::packet::{AdvertInterval, AdvertRepr, Auth, Version};
pub use super::params::{GarpParams, InitialState, InstanceParams, ParamsError};
use super::rule::{self, VridConfig};
pub use super::time::Instant;

/// Priority of the address owner (RFC 9568 5.2.4).
pub const PRIORITY_OWNER: u8 = shared::PRIORITY_OWNER;
/// Priority a leaving master advertises (RFC 9568 5.2.4).
pub const PRIORITY_SHUTDOWN: u8 = shared::PRIORITY_SHUTDOWN;

/// What a backup knows and waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Backup {
    /// `Master_Down_Timer` as a deadline (RFC 9568 6.2).
    master_down_at: Instant,
    /// The master last heard, with its priority.
    master: Option<(IpAddr, u8)>,
    /// The reason to give if the timer fires now.
    takeover: Reason,
    /// keepalived `preempt_time`: until when a lower-priority master is still accepted.
    preempt_until: Option<Instant>,
    /// The timer fired but the sync-group gate was closed: waiting for [`Event::Gate`].
    wants_master: bool,
}

/// What a master waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Master {
    /// `Adver_Timer` as a deadline (RFC 9568 6.2).
    advert_at: Instant,
    garp: GarpSchedule,
}

/// The state with the timers valid in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Initialize,
    Backup(Backup),
    Master(Master),
    Fault,
}

/// One VRRP instance's election.
#[derive(Clone, Debug)]
pub struct Instance {
    params: InstanceParams,
    /// `params.advert_interval` in its wire unit.
    advert_interval: AdvertInterval,
    effective_priority: u8,
    /// Preempt mode in force: keepalived forces it on for the owner and for `state MASTER`.
    preempt: bool,
    /// Preempt delay in force: keepalived clears it with `nopreempt` or `state MASTER`.
    preempt_delay: Duration,
    /// `Master_Adver_Interval` (RFC 9568 6.1): learned from the master's adverts in v3.
    master_adver_interval: Duration,
    /// The fault condition, kept across INIT so that a later startup enters FAULT.
    fault: bool,
    /// Sync-group gate: may a backup whose timer fired become master now ([`Event::Gate`]).
    gate_open: bool,
    /// The local side of the shared acceptance rule, kept at `effective_priority`.
    local: VridState,
    phase: Phase,
}

impl Instance {
    /// A stopped instance ([`State::Initialize`]); send [`Event::Startup`] to start it.
    pub fn new(params: InstanceParams) -> Result<Self, ParamsError> {
        let advert_interval = params.validate()?;
        let owner = params.priority == PRIORITY_OWNER;
        let initial_master = params.initial_state == InitialState::Master;
        // keepalived `vrrp_complete_instance`: nopreempt is cleared for the owner and for
        // `state MASTER`; preempt_delay is cleared for `state MASTER` and with nopreempt.
        let preempt = params.preempt || owner || initial_master;
        let preempt_delay = if params.preempt && !initial_master {
            params.preempt_delay
        } else {
            Duration::ZERO
        };
        Ok(Self {
            advert_interval,
            effective_priority: params.priority,
            preempt,
            preempt_delay,
            master_adver_interval: params.advert_interval,
            fault: false,
            gate_open: true,
            local: VridConfig::from_params(&params, params.priority).state(),
            phase: Phase::Initialize,
            params,
        })
    }

    /// The parameters the instance was built with.
    pub fn params(&self) -> &InstanceParams {
        &self.params
    }

    /// Current state.
    pub fn state(&self) -> State {
        match self.phase {
            Phase::Initialize => State::Initialize,
            Phase::Backup(_) => State::Backup,
            Phase::Master(_) => State::Master,
            Phase::Fault => State::Fault,
        }
    }

    /// Priority advertised and used in comparisons (configured, changed by tracking).
    pub fn effective_priority(&self) -> u8 {
        self.effective_priority
    }

    /// The master as far as this node knows: itself when master, the sender of the last advert
    /// it heard when backup (`None` before any, or after that master sent priority 0).
    pub fn master(&self) -> Option<(IpAddr, u8)> {
        match &self.phase {
            Phase::Master(_) => Some((self.params.primary_addr, self.effective_priority)),
            Phase::Backup(b) => b.master,
            Phase::Initialize | Phase::Fault => None,
        }
    }

    /// `Master_Adver_Interval`: the interval learned from the master (v3), else ours.
    pub fn learned_master_interval(&self) -> Duration {
        self.master_adver_interval
    }

    /// `Skew_Time`: RFC 9568 6.1 `((256 - Priority) * Master_Adver_Interval) / 256`, RFC 3768 6.1
    /// `(256 - Priority) / 256` seconds, computed exactly in nanoseconds (never truncated to zero).
    pub fn skew_time(&self) -> Duration {
        let base = match self.params.version {
            Version::V3 => self.master_adver_interval,
            Version::V2 => Duration::from_secs(1),
        };
        let ns = base.as_nanos() * (256 - u128::from(self.effective_priority)) / 256;
        Duration::from_nanos(u64::try_from(ns).unwrap_or(u64::MAX))
    }

    /// `Master_Down_Interval`: `3 * Master_Adver_Interval + Skew_Time` (RFC 9568 6.1; RFC 3768 6.1
    /// with the configured `Advertisement_Interval`, which v2 never learns).
    pub fn master_down_interval(&self) -> Duration {
        self.master_adver_interval
            .saturating_mul(3)
            .saturating_add(self.skew_time())
    }

    /// When to call [`Instance::handle`] with [`Event::Timer`] next; `None` in INIT and FAULT.
    pub fn poll_at(&self) -> Option<Instant> {
        match &self.phase {
            // Held by the sync-group gate: nothing to do until [`Event::Gate`].
            Phase::Backup(b) if b.wants_master => None,
            Phase::Backup(b) => Some(b.master_down_at),
            Phase::Master(m) => Some(m.garp.poll_at().map_or(m.advert_at, |g| g.min(m.advert_at))),
            Phase::Initialize | Phase::Fault => None,
        }
    }

    /// The advert to send for [`Action::SendAdvert`] with `priority`.
    pub fn advert(&self, priority: u8) -> AdvertRepr {
        AdvertRepr {
            version: self.params.version,
            vrid: self.params.vrid,
            priority,
            interval: self.advert_interval,
            addresses: self.params.vips.clone(),
            auth: self.params.auth,
        }
    }

    /// Feeds one event at `now`; returns the actions to carry out, in order.
    pub fn handle(&mut self, now: Instant, event: Event) -> Vec<Action> {
        let mut out = Vec::new();
        match event {
            Event::Startup => self.on_startup(now, &mut out),
            Event::Advert {
                src,
                dst,
                ttl,
                advert,
                fenced,
            } => self.on_advert(now, (src, dst, ttl), &advert, fenced, &mut out),
            Event::Timer => self.on_timer(now, &mut out),
            Event::SetPriority(priority) => self.on_set_priority(priority),
            Event::Fault(fault) => self.on_fault(now, fault, &mut out),
            Event::Gate(open) => self.on_gate(now, open, &mut out),
            Event::GroupResign => {
                if matches!(self.phase, Phase::Master(_)) {
                    self.leave_master(now, State::Backup, Reason::SyncGroup, None, &mut out);
                }
            }
            Event::PeerDown(peer) => self.on_peer_down(now, peer, &mut out),
            Event::Shutdown => self.on_shutdown(&mut out),
            Event::Resume(resume) => self.on_resume(now, resume, &mut out),
        }
        out
    }

    /// The checks an advert received from `src` to `dst` with IP `ttl` must pass before the
    /// state machine looks at it: the state machine's own (listening, VRID), then the shared rule
    /// (`havip_common::rule::check_advert`) on the same [`havip_common::VridState`] the kernel
    /// holds for this instance, so the XDP program drops and never fences on exactly these.
    pub fn check_advert(
        &self,
        src: IpAddr,
        dst: IpAddr,
        ttl: u8,
        advert: &AdvertRepr,
    ) -> Result<(), AdvertRejected> {
        let vrid = self.params.vrid;
        if matches!(self.phase, Phase::Initialize | Phase::Fault) {
            return Err(AdvertRejected::NotListening {
                vrid,
                src,
                state: self.state(),
            });
        }
        // RFC 9568 7.1: MUST verify that the VRID is configured on the receiving interface.
        if advert.vrid != vrid {
            return Err(AdvertRejected::VridMismatch {
                expected: vrid,
                got: advert.vrid,
                src,
            });
        }
        let rx = rule::received(src, dst, ttl, advert, &self.params.unicast_peers);
        let Err(reason) = shared::check_advert(&self.local, &rx) else {
            return Ok(());
        };
        Err(match reason {
            Reject::Ttl => AdvertRejected::Ttl { vrid, src, ttl },
            Reject::Version => AdvertRejected::VersionMismatch {
                vrid,
                expected: self.params.version,
                got: advert.version,
                src,
            },
            Reject::Type | Reject::Length => AdvertRejected::Malformed { vrid, src, reason },
            Reject::Own => AdvertRejected::OwnAddress { vrid, src },
            Reject::UnknownPeer => AdvertRejected::UnknownPeer { vrid, src },
            Reject::MulticastOnUnicast => AdvertRejected::MulticastOnUnicast { vrid, src, dst },
            Reject::Destination => AdvertRejected::Destination { vrid, src, dst },
            Reject::Auth => AdvertRejected::AuthMismatch { vrid, src },
            Reject::Interval => AdvertRejected::IntervalMismatch {
                vrid,
                src,
                expected: self.advert_interval.to_duration(),
                got: advert.interval.to_duration(),
            },
            Reject::Addresses => AdvertRejected::AddressMismatch {
                vrid,
                src,
                got: advert.addresses.len(),
                expected: self.params.vips.len(),
            },
        })
    }

    /// A reload changed only the v2 authentication (RFC 3768 5.3.6; keepalived drops it for
    /// `auth_hmac`): sent and checked from the next advert, with no transition.
    pub fn set_auth(&mut self, auth: Auth) {
        self.params.auth = auth;
        let fresh = VridConfig::from_params(&self.params, self.effective_priority).state();
        self.local.auth_type = fresh.auth_type;
        self.local.auth_data = fresh.auth_data;
    }

    /// The local side of the shared rule: what the kernel holds for this instance (without
    /// grant and lease), at the current effective priority.
    #[must_use]
    pub fn rule_state(&self) -> VridState {
        self.local
    }

    fn on_startup(&mut self, now: Instant, out: &mut Vec<Action>) {
        if self.phase != Phase::Initialize {
            return;
        }
        self.master_adver_interval = self.params.advert_interval;
        if self.fault {
            // keepalived `vrrp_init_state`: an instance that is not up starts in FAULT.
            self.phase = Phase::Fault;
            out.push(changed(State::Initialize, State::Fault, Reason::Fault));
        } else if self.params.priority == PRIORITY_OWNER
            && self.params.initial_state == InitialState::Master
        {
            // RFC 9568 6.4.1: the address owner becomes master at once. keepalived does so only
            // with `state MASTER` (`vrrp_init_state`); with `state BACKUP` it waits as below.
            self.become_master(now, State::Initialize, Reason::AddressOwner, out);
        } else {
            // RFC 9568 6.4.1: Master_Down_Timer := Master_Down_Interval, go to Backup.
            // keepalived treats `state MASTER` below 255 the same way (`vrrp_init_state`).
            self.enter_backup(now, State::Initialize, Reason::Startup, None, out);
        }
    }

    /// A restarted agent takes the instance over where its predecessor left it (issue #14).
    /// FAULT and a state that is not INIT fall back to [`Event::Startup`]'s rules.
    fn on_resume(&mut self, now: Instant, resume: Resume, out: &mut Vec<Action>) {
        if self.phase != Phase::Initialize {
            return;
        }
        if self.fault {
            self.on_startup(now, out);
            return;
        }
        match resume {
            Resume::Master => {
                // RFC 9568 6.4.3 as if Adver_Timer fired now: the peers hear this node at
                // once, within the Master_Down_Interval the last agent's lease was bounded by.
                self.master_adver_interval = self.params.advert_interval;
                out.push(Action::SendAdvert {
                    priority: self.effective_priority,
                });
                out.push(Action::RenewLease);
                let garp = GarpSchedule::on_resume(now, &self.params.garp, out);
                let advert_at = now.saturating_add(self.params.advert_interval);
                self.phase = Phase::Master(Master { advert_at, garp });
            }
            Resume::Backup {
                master,
                last_advert,
                learned_interval,
            } => {
                if self.params.version == Version::V3 && !learned_interval.is_zero() {
                    self.master_adver_interval =
                        learned_interval.min(self.params.learned_interval_bound());
                } else {
                    self.master_adver_interval = self.params.advert_interval;
                }
                // RFC 9568 6.4.2: the timer counts from the master's last advert; one that is
                // already due fires on the next Timer event.
                let from = last_advert.map_or(now, |t| t.min(now));
                self.phase = Phase::Backup(Backup {
                    master_down_at: from.saturating_add(self.master_down_interval()),
                    master,
                    takeover: Reason::MasterDown,
                    preempt_until: None,
                    wants_master: false,
                });
            }
        }
    }

    fn on_advert(
        &mut self,
        now: Instant,
        (src, dst, ttl): (IpAddr, IpAddr, u8),
        advert: &AdvertRepr,
        fenced: bool,
        out: &mut Vec<Action>,
    ) {
        let priority = advert.priority;
        if fenced && matches!(self.phase, Phase::Master(_)) && advert.vrid == self.params.vrid {
            // The XDP program has already revoked our ownership for this advert. It fences only
            // on adverts that pass `check_advert`'s shared rule and preempt us, so this is the
            // same decision as the branch below; it stays separate because the fence is a fact
            // (a window between a reconfiguration of the kernel and of this instance cannot
            // leave a master without ownership): follow it, the I/O layer removes the
            // addresses, and if we should in fact be master the backup's timer brings us back
            // (RFC 9568 6.4.2).
            self.learn_interval(src, advert, out);
            let reason = Reason::KernelFenced { src, priority };
            self.leave_master(now, State::Backup, reason, Some((src, priority)), out);
            return;
        }
        if let Err(rejected) = self.check_advert(src, dst, ttl, advert) {
            out.push(Action::AdvertRejected(rejected));
            return;
        }
        let local = self.effective_priority;
        let skew = self.skew_time();
        match &mut self.phase {
            Phase::Backup(b) => {
                if priority == PRIORITY_SHUTDOWN {
                    // RFC 9568 6.4.2 / RFC 3768 6.4.2: priority 0: Master_Down_Timer := Skew_Time.
                    b.master_down_at = now.saturating_add(skew);
                    b.master = None;
                    b.takeover = Reason::PriorityZero { src };
                    b.wants_master = false;
                    return;
                }
                // keepalived `vrrp_state_backup`: with preempt_delay, a lower-priority master is
                // accepted like a higher one until preempt_delay after it was first seen.
                let holding = !self.preempt_delay.is_zero()
                    && b.preempt_until.is_none_or(|until| until > now);
                if !self.preempt || priority >= local || holding {
                    // RFC 9568 6.4.2: Preempt_Mode false or priority >= local: learn
                    // Master_Adver_Interval (v3), recompute Master_Down_Interval, reset the timer.
                    if !self.preempt_delay.is_zero() {
                        if priority >= local {
                            b.preempt_until = None;
                        } else if b.preempt_until.is_none() {
                            b.preempt_until = Some(now.saturating_add(self.preempt_delay));
                        }
                    }
                    b.master = Some((src, priority));
                    b.takeover = Reason::MasterDown;
                    // A master we accept: no longer ready to take over.
                    b.wants_master = false;
                    self.learn_interval(src, advert, out);
                    let deadline = now.saturating_add(self.master_down_interval());
                    if let Phase::Backup(b) = &mut self.phase {
                        b.master_down_at = deadline;
                    }
                } else {
                    // RFC 9568 6.4.2: else discard; the timer runs out and we preempt.
                    b.master = Some((src, priority));
                    b.takeover = Reason::PreemptLowerPriority { src, priority };
                }
            }
            Phase::Master(m) => {
                if priority == PRIORITY_SHUTDOWN {
                    // RFC 9568 6.4.3: priority 0: send an advert, reset Adver_Timer.
                    out.push(Action::SendAdvert { priority: local });
                    out.push(Action::RenewLease);
                    m.advert_at = now.saturating_add(self.params.advert_interval);
                    return;
                }
                // RFC 9568 6.4.3: higher priority, or equal priority and a greater primary
                // address, wins: learn its interval, Master_Down_Timer, go to Backup. The
                // decision is the shared rule the kernel fences with.
                let preempted = shared::preempts(
                    local,
                    self.local.primary_addr,
                    priority,
                    rule::abi_addr(src),
                );
                let reason = if !preempted {
                    None
                } else if priority > local {
                    Some(Reason::HigherPriority { src, priority })
                } else {
                    Some(Reason::EqualPriorityHigherAddress { src, priority })
                };
                if let Some(reason) = reason {
                    self.learn_interval(src, advert, out);
                    self.leave_master(now, State::Backup, reason, Some((src, priority)), out);
                    return;
                }
                // RFC 9568 6.4.3 says discard. keepalived (`vrrp_state_master_rx`, unless
                // `lower_prio_no_advert`) re-asserts with an advert right away, restarts its
                // Adver_Timer, and sends the `garp_lower_prio_*` gratuitous ARPs.
                out.push(Action::SendAdvert { priority: local });
                out.push(Action::RenewLease);
                m.advert_at = now.saturating_add(self.params.advert_interval);
                m.garp.on_lower_priority(now, &self.params.garp, out);
            }
            Phase::Initialize | Phase::Fault => {}
        }
    }

    fn on_timer(&mut self, now: Instant, out: &mut Vec<Action>) {
        let gate_open = self.gate_open;
        match &mut self.phase {
            Phase::Backup(b) if b.master_down_at <= now && !b.wants_master => {
                // RFC 9568 6.4.2 / RFC 3768 6.4.2: Master_Down_Timer fired: become master,
                // unless the sync group holds us until every member is ready.
                if gate_open {
                    let reason = b.takeover;
                    self.become_master(now, State::Backup, reason, out);
                } else {
                    b.wants_master = true;
                }
            }
            Phase::Master(m) => {
                if m.advert_at <= now {
                    // RFC 9568 6.4.3: Adver_Timer fired: send an advert, reset the timer.
                    out.push(Action::SendAdvert {
                        priority: self.effective_priority,
                    });
                    out.push(Action::RenewLease);
                    m.advert_at = now.saturating_add(self.params.advert_interval);
                }
                m.garp.on_timer(now, &self.params.garp, out);
            }
            Phase::Backup(_) | Phase::Initialize | Phase::Fault => {}
        }
    }

    /// havip's `master_down_on_bfd` (an extension: RFC 9568 knows only `Master_Down_Timer`):
    /// BFD saw the master's path fail, so waiting out `Master_Down_Interval` would only add
    /// the time VRRP needs to notice the same. The takeover is the timer's, brought forward.
    fn on_peer_down(&mut self, now: Instant, peer: IpAddr, out: &mut Vec<Action>) {
        let gate_open = self.gate_open;
        if let Phase::Backup(b) = &mut self.phase
            && b.master.is_some_and(|(m, _)| m == peer)
            && !b.wants_master
        {
            b.master = None;
            if gate_open {
                self.become_master(now, State::Backup, Reason::BfdDown { src: peer }, out);
            } else {
                b.wants_master = true;
                b.takeover = Reason::BfdDown { src: peer };
            }
        }
    }

    /// Sync group: opening the gate lets a held backup take over now.
    fn on_gate(&mut self, now: Instant, open: bool, out: &mut Vec<Action>) {
        self.gate_open = open;
        if let Phase::Backup(b) = &self.phase
            && open
            && b.wants_master
        {
            let reason = b.takeover;
            self.become_master(now, State::Backup, reason, out);
        }
    }

    /// Whether a backup's timer fired while the sync-group gate was closed (it is ready to
    /// take over as soon as its group is).
    #[must_use]
    pub fn wants_master(&self) -> bool {
        matches!(&self.phase, Phase::Backup(b) if b.wants_master)
    }

    /// Whether the sync-group gate is open.
    #[must_use]
    pub fn gate_open(&self) -> bool {
        self.gate_open
    }

    fn on_set_priority(&mut self, priority: u8) {
        // keepalived `vrrp_set_effective_priority`: the owner keeps 255; others stay 1..=254.
        if self.params.priority == PRIORITY_OWNER {
            return;
        }
        let new = priority.clamp(1, PRIORITY_OWNER - 1);
        if new == self.effective_priority {
            return;
        }
        let old_down = self.master_down_interval();
        self.effective_priority = new;
        self.local.priority = new;
        let new_down = self.master_down_interval();
        // A master just advertises the new priority from its next advert on. A backup moves its
        // deadline by the change of Skew_Time, as keepalived does; if it now outranks a master
        // with preempt, that master's adverts are discarded and the timer path takes over
        // (RFC 9568 6.4.2).
        if let Phase::Backup(b) = &mut self.phase {
            b.master_down_at = if new_down >= old_down {
                b.master_down_at
                    .saturating_add(new_down.saturating_sub(old_down))
            } else {
                b.master_down_at
                    .checked_sub(old_down.saturating_sub(new_down))
                    .unwrap_or(Instant::ZERO)
            };
        }
    }

    fn on_fault(&mut self, now: Instant, fault: bool, out: &mut Vec<Action>) {
        if fault == self.fault {
            return;
        }
        self.fault = fault;
        match (self.phase, fault) {
            (Phase::Master(_), true) => {
                // keepalived `down_instance` -> `vrrp_state_leave_master`: a master entering
                // FAULT sends a priority-0 advert so that a backup takes over after Skew_Time.
                self.leave_master(now, State::Fault, Reason::Fault, None, out);
            }
            (Phase::Backup(_), true) => {
                self.phase = Phase::Fault;
                out.push(changed(State::Backup, State::Fault, Reason::Fault));
            }
            (Phase::Fault, false) => {
                // keepalived `try_up_instance` -> `vrrp_state_leave_fault`: back to BACKUP with
                // Master_Adver_Interval reset and a full Master_Down_Interval, even as owner.
                self.master_adver_interval = self.params.advert_interval;
                self.enter_backup(now, State::Fault, Reason::FaultCleared, None, out);
            }
            // In INIT the condition is only recorded: Startup enters FAULT while it holds.
            _ => {}
        }
    }

    fn on_shutdown(&mut self, out: &mut Vec<Action>) {
        match self.phase {
            Phase::Master(_) => {
                // RFC 9568 6.4.3 Shutdown: cancel Adver_Timer, send priority 0, go to Initialize.
                out.push(Action::ReleaseOwnership);
                out.push(Action::SendAdvert {
                    priority: PRIORITY_SHUTDOWN,
                });
                out.push(changed(State::Master, State::Initialize, Reason::Shutdown));
            }
            // RFC 9568 6.4.2 Shutdown: cancel Master_Down_Timer, go to Initialize.
            Phase::Backup(_) => {
                out.push(changed(State::Backup, State::Initialize, Reason::Shutdown));
            }
            Phase::Fault => out.push(changed(State::Fault, State::Initialize, Reason::Shutdown)),
            Phase::Initialize => return,
        }
        self.phase = Phase::Initialize;
    }

    /// RFC 9568 6.4.1 / 6.4.2: send an advert, broadcast gratuitous ARPs, start `Adver_Timer`.
    /// Ownership is taken before the advert so the kernel lease it renews exists.
    fn become_master(&mut self, now: Instant, from: State, reason: Reason, out: &mut Vec<Action>) {
        self.master_adver_interval = self.params.advert_interval;
        out.push(changed(from, State::Master, reason));
        // RFC 9568 6.4.2 (and RFC 3768 6.4.2): send an ADVERTISEMENT, then announce. The advert
        // goes out before ownership is taken so that a live lower-priority master (preemption)
        // is fenced by its kernel on this advert before this node's kernel starts answering:
        // the handover can show a gap of one packet's flight, never two owners.
        out.push(Action::SendAdvert {
            priority: self.effective_priority,
        });
        out.push(Action::TakeOwnership);
        let garp = GarpSchedule::on_master(now, &self.params.garp, out);
        let advert_at = now.saturating_add(self.params.advert_interval);
        self.phase = Phase::Master(Master { advert_at, garp });
    }

    /// Release first (ARCHITECTURE: the old owner stops before anyone starts), then the
    /// priority-0 advert when going to FAULT, then the state change.
    fn leave_master(
        &mut self,
        now: Instant,
        to: State,
        reason: Reason,
        master: Option<(IpAddr, u8)>,
        out: &mut Vec<Action>,
    ) {
        out.push(Action::ReleaseOwnership);
        if reason == Reason::SyncGroup {
            // Like a shutdown: the peer takes over after its skew time, not a master-down.
            out.push(Action::SendAdvert {
                priority: PRIORITY_SHUTDOWN,
            });
        }
        if to == State::Fault {
            out.push(Action::SendAdvert {
                priority: PRIORITY_SHUTDOWN,
            });
            out.push(changed(State::Master, State::Fault, reason));
            self.phase = Phase::Fault;
        } else {
            self.enter_backup(now, State::Master, reason, master, out);
        }
    }

    /// Backup with `Master_Down_Timer` := `Master_Down_Interval`.
    fn enter_backup(
        &mut self,
        now: Instant,
        from: State,
        reason: Reason,
        master: Option<(IpAddr, u8)>,
        out: &mut Vec<Action>,
    ) {
        out.push(changed(from, State::Backup, reason));
        self.phase = Phase::Backup(Backup {
            master_down_at: now.saturating_add(self.master_down_interval()),
            master,
            takeover: Reason::MasterDown,
            preempt_until: None,
            wants_master: false,
        });
    }

    /// RFC 9568 6.4.2 / 6.4.3: `Master_Adver_Interval` := the advert's interval (v3 only;
    /// RFC 3768 has no such variable, v2 intervals must match), bounded by
    /// [`InstanceParams::learned_interval_bound`]: a spoofed Max Adver Int must not stretch
    /// `Master_Down_Interval` to minutes. A clamp is reported ([`Action::IntervalClamped`]).
    fn learn_interval(&mut self, src: IpAddr, advert: &AdvertRepr, out: &mut Vec<Action>) {
        if let AdvertInterval::Centiseconds(cs) = advert.interval
            && self.params.version == Version::V3
            && cs.get() > 0
        {
            let advertised = cs.to_duration();
            let bound = self.params.learned_interval_bound();
            if advertised > bound {
                out.push(Action::IntervalClamped {
                    src,
                    advertised,
                    learned: bound,
                });
                self.master_adver_interval = bound;
            } else {
                self.master_adver_interval = advertised;
            }
        }
    }
}

fn changed(from: State, to: State, reason: Reason) -> Action {
    Action::StateChanged { from, to, reason }
}

#[cfg(test)]
mod tests;
