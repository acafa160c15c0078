//! Liveness and readiness: a heartbeat the event loop writes on every iteration, and the facts
//! `/readyz` needs (data plane attached, every instance out of INIT).

use std::{
    sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed},
    time::Duration,
};

use crate::{clock::monotonic_ns, vrrp::State};

/// The longest the event loop sleeps between iterations, so that an idle loop still beats.
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(1);

/// `/healthz` fails once the last iteration is older than this (several missed heartbeats).
pub const STALE_AFTER: Duration = Duration::from_secs(5);

/// The heartbeat and the data plane flag.
#[derive(Debug, Default)]
pub struct Health {
    /// `CLOCK_MONOTONIC` ns of the last loop iteration; 0 before the first.
    last_beat_ns: AtomicU64,
    attached: AtomicBool,
}

impl Health {
    /// Records a loop iteration at `now_ns`.
    pub fn beat_at(&self, now_ns: u64) {
        self.last_beat_ns.store(now_ns.max(1), Relaxed);
    }

    /// Records a loop iteration now.
    pub fn beat(&self) {
        self.beat_at(monotonic_ns());
    }

    /// Whether the data plane is attached to every interface.
    pub fn set_attached(&self, attached: bool) {
        self.attached.store(attached, Relaxed);
    }

    /// Time since the last loop iteration at `now_ns`; `None` before the first.
    #[must_use]
    pub fn age_at(&self, now_ns: u64) -> Option<Duration> {
        let last = self.last_beat_ns.load(Relaxed);
        (last != 0).then(|| Duration::from_nanos(now_ns.saturating_sub(last)))
    }

    /// `Ok` if the loop iterated within [`STALE_AFTER`] of `now_ns`, else why not.
    pub fn live_at(&self, now_ns: u64) -> Result<(), String> {
        match self.age_at(now_ns) {
            None => Err("the event loop has not started".to_owned()),
            Some(age) if age > STALE_AFTER => Err(format!(
                "the event loop last iterated {:.1} s ago (limit {} s)",
                age.as_secs_f64(),
                STALE_AFTER.as_secs()
            )),
            Some(_) => Ok(()),
        }
    }

    /// `Ok` if the data plane is attached and every instance of `states` has left INIT (and there
    /// is at least one), else every reason why not.
    pub fn ready<'a>(
        &self,
        states: impl IntoIterator<Item = (&'a str, State)>,
    ) -> Result<(), Vec<String>> {
        let mut why = Vec::new();
        if !self.attached.load(Relaxed) {
            why.push("the XDP data plane is not attached".to_owned());
        }
        let mut any = false;
        for (name, state) in states {
            any = true;
            if state == State::Initialize {
                why.push(format!("instance {name} is in INIT"));
            }
        }
        if !any {
            why.push("no instance is running".to_owned());
        }
        if why.is_empty() { Ok(()) } else { Err(why) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    #[test]
    fn liveness_follows_the_heartbeat() {
        let h = Health::default();
        assert!(h.live_at(10 * S).is_err(), "before the first beat");
        h.beat_at(10 * S);
        assert_eq!(h.live_at(12 * S), Ok(()));
        assert_eq!(h.live_at(15 * S), Ok(()), "exactly at the limit");
        let err = h.live_at(16 * S).expect_err("stale");
        assert!(err.contains("6.0 s ago"), "{err}");
    }

    #[test]
    fn readiness_needs_the_data_plane_and_no_instance_in_init() {
        let h = Health::default();
        let both = [("VI_1", State::Backup), ("VI_2", State::Initialize)];
        let why = h.ready(both).expect_err("not ready");
        assert_eq!(why.len(), 2, "{why:?}");
        h.set_attached(true);
        let why = h.ready(both).expect_err("not ready");
        assert_eq!(why, vec!["instance VI_2 is in INIT".to_owned()]);
        assert_eq!(
            h.ready([("VI_1", State::Backup), ("VI_2", State::Master)]),
            Ok(())
        );
        assert!(h.ready([]).is_err(), "no instance");
    }
}
