//! A master's gratuitous ARP schedule as deadlines (keepalived semantics, see [`GarpParams`]).
//!
//! The state is a fixed handful of slots, so a flood of lower-priority adverts cannot make it
//! grow: bursts that overlap are merged, and a second lower-priority burst is postponed rather
//! than queued again.

use std::time::Duration;

use super::fsm::Action;
use super::params::GarpParams;
use super::time::Instant;

/// Rounds still to send in the burst under way, spaced by [`GarpParams::interval`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Burst {
    next_at: Instant,
    remaining: u32,
}

/// Pending gratuitous ARP work of a master.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct GarpSchedule {
    burst: Option<Burst>,
    /// Second burst after becoming master (`garp_master_delay`).
    master_delayed: Option<Instant>,
    /// Second burst after a lower-priority advert (`garp_lower_prio_delay`).
    lower_prio_delayed: Option<Instant>,
    /// Next refresh burst (`garp_master_refresh`).
    refresh_at: Option<Instant>,
    /// Until when lower-priority adverts trigger no burst ([`GarpParams::lower_prio_holdoff`]).
    lower_prio_quiet_until: Option<Instant>,
}

/// A positive period, or `None` for "disabled".
fn period(d: Duration) -> Option<Duration> {
    (!d.is_zero()).then_some(d)
}

impl GarpSchedule {
    /// The schedule of a node that became master at `now`; pushes the first round(s) to `out`.
    pub(crate) fn on_master(now: Instant, p: &GarpParams, out: &mut Vec<Action>) -> Self {
        let mut s = Self {
            burst: None,
            master_delayed: period(p.master_delay).map(|d| now.saturating_add(d)),
            lower_prio_delayed: None,
            lower_prio_quiet_until: None,
            refresh_at: p
                .master_refresh
                .and_then(period)
                .map(|d| now.saturating_add(d)),
        };
        s.start_burst(now, p.master_repeat, p, out);
        s
    }

    /// The schedule of a master resumed by a restarted agent at `now` (issue #14): one round
    /// to refresh the neighbours' caches, no burst, and the periodic refresh if configured.
    pub(crate) fn on_resume(now: Instant, p: &GarpParams, out: &mut Vec<Action>) -> Self {
        out.push(Action::SendGarp);
        Self {
            burst: None,
            master_delayed: None,
            lower_prio_delayed: None,
            lower_prio_quiet_until: None,
            refresh_at: p
                .master_refresh
                .and_then(period)
                .map(|d| now.saturating_add(d)),
        }
    }

    /// A lower-priority advert reached the master at `now` (keepalived `vrrp_state_master_rx`).
    pub(crate) fn on_lower_priority(
        &mut self,
        now: Instant,
        p: &GarpParams,
        out: &mut Vec<Action>,
    ) {
        if p.lower_prio_repeat == 0 {
            return;
        }
        // havip's rate limit (keepalived has none): a flood of spoofed lower-priority adverts
        // is one burst per holdoff, and each held-back burst is reported.
        if self.lower_prio_quiet_until.is_some_and(|t| now < t) {
            out.push(Action::GarpSuppressed);
            return;
        }
        if let Some(d) = period(p.lower_prio_holdoff) {
            self.lower_prio_quiet_until = Some(now.saturating_add(d));
        }
        self.start_burst(now, p.lower_prio_repeat, p, out);
        if let Some(d) = period(p.lower_prio_delay) {
            self.lower_prio_delayed = Some(now.saturating_add(d));
        }
    }

    /// The next deadline.
    pub(crate) fn poll_at(&self) -> Option<Instant> {
        [
            self.burst.map(|b| b.next_at),
            self.master_delayed,
            self.lower_prio_delayed,
            self.refresh_at,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Sends what is due at `now`.
    pub(crate) fn on_timer(&mut self, now: Instant, p: &GarpParams, out: &mut Vec<Action>) {
        if let Some(b) = self.burst.as_mut().filter(|b| b.next_at <= now) {
            out.push(Action::SendGarp);
            b.remaining = b.remaining.saturating_sub(1);
            b.next_at = now.saturating_add(p.interval);
            if b.remaining == 0 {
                self.burst = None;
            }
        }
        if self.master_delayed.is_some_and(|t| t <= now) {
            self.master_delayed = None;
            self.start_burst(now, p.master_repeat, p, out);
        }
        if self.lower_prio_delayed.is_some_and(|t| t <= now) {
            self.lower_prio_delayed = None;
            self.start_burst(now, p.lower_prio_repeat, p, out);
        }
        if let (Some(t), Some(d)) = (self.refresh_at, p.master_refresh.and_then(period))
            && t <= now
        {
            // keepalived rearms from the time it sent (`timer_add_now`).
            self.refresh_at = Some(now.saturating_add(d));
            self.start_burst(now, p.master_refresh_repeat, p, out);
        }
    }

    /// Sends the first round of a `rounds`-round burst now; the rest now too if there is no
    /// interval, else one per interval, merged with any burst under way.
    fn start_burst(&mut self, now: Instant, rounds: u32, p: &GarpParams, out: &mut Vec<Action>) {
        if rounds == 0 {
            return;
        }
        if p.interval.is_zero() {
            out.extend((0..rounds).map(|_| Action::SendGarp));
            return;
        }
        out.push(Action::SendGarp);
        let rest = rounds - 1;
        let next_at = now.saturating_add(p.interval);
        self.burst = match self.burst {
            Some(b) => Some(Burst {
                next_at: b.next_at.min(next_at),
                remaining: b.remaining.max(rest),
            }),
            None if rest > 0 => Some(Burst {
                next_at,
                remaining: rest,
            }),
            None => None,
        };
    }
}
