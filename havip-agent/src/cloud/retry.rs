//! Retrying cloud calls: what a failure means ([`Disposition`]) and how long to wait before the
//! next try ([`Backoff`]: exponential, capped, with jitter so a fleet of agents that failed
//! together does not retry together).

use std::time::Duration;

/// What to do after a failed call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Disposition {
    /// A transient fault (timeout, connection refused, 5xx, `InternalError`): try again soon.
    Retry,
    /// The API throttles us (`RequestLimitExceeded`, HTTP 429): try again, later than for a
    /// transient fault.
    BackOff,
    /// Retrying cannot help (bad credentials, unknown resource, bad parameter): stop and say so.
    GiveUp,
}

impl Disposition {
    /// A word for logs and metrics.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Retry => "retry",
            Self::BackOff => "throttled",
            Self::GiveUp => "give_up",
        }
    }
}

impl Disposition {
    /// What to do about an HTTP `status` that came without the API's error document:
    /// throttled on 429, a transient fault on 408 and 5xx, anything else final.
    #[must_use]
    pub const fn of_http_status(status: u16) -> Self {
        match status {
            429 => Self::BackOff,
            408 | 500..=599 => Self::Retry,
            _ => Self::GiveUp,
        }
    }
}

/// Exponential backoff with "equal jitter": attempt `n` waits a random time in
/// `[d/2, d]` where `d = min(max, base * 2^n)`. Throttling starts four steps up the ladder.
#[derive(Clone, Debug)]
pub struct Backoff {
    base: Duration,
    max: Duration,
    attempt: u32,
}

/// Throttled calls start this many doublings later.
const THROTTLE_STEPS: u32 = 2;

impl Backoff {
    /// A fresh backoff: first delay about `base`, never more than `max`.
    #[must_use]
    pub fn new(base: Duration, max: Duration) -> Self {
        Self {
            base,
            max: max.max(base),
            attempt: 0,
        }
    }

    /// The delay before the next try after a failure of kind `kind`, with random jitter.
    pub fn next_delay(&mut self, kind: Disposition) -> Duration {
        let jitter = rand::random::<f64>();
        self.next_delay_with(kind, jitter)
    }

    /// [`Self::next_delay`] with the jitter given (`0.0..1.0`), for tests.
    pub fn next_delay_with(&mut self, kind: Disposition, jitter: f64) -> Duration {
        let steps = match kind {
            Disposition::BackOff => self.attempt.saturating_add(THROTTLE_STEPS),
            Disposition::Retry | Disposition::GiveUp => self.attempt,
        };
        self.attempt = self.attempt.saturating_add(1);
        let full = self
            .base
            .checked_mul(1u32.checked_shl(steps.min(31)).unwrap_or(u32::MAX))
            .unwrap_or(self.max)
            .min(self.max);
        let half = full / 2;
        half + half.mul_f64(jitter.clamp(0.0, 1.0))
    }

    /// Starts over after a success.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }

    /// Failures since the last reset.
    #[must_use]
    pub fn attempts(&self) -> u32 {
        self.attempt
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap_within_jitter_bounds() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(2));
        let lows: Vec<Duration> = (0..7)
            .map(|_| b.next_delay_with(Disposition::Retry, 0.0))
            .collect();
        let ms = |v: u64| Duration::from_millis(v);
        assert_eq!(
            lows,
            [
                ms(50),
                ms(100),
                ms(200),
                ms(400),
                ms(800),
                ms(1000),
                ms(1000)
            ]
        );
        b.reset();
        assert_eq!(b.next_delay_with(Disposition::Retry, 1.0), ms(100));
        assert_eq!(b.attempts(), 1);
        for _ in 0..200 {
            let d = b.next_delay(Disposition::Retry);
            assert!(
                d <= Duration::from_secs(2) && d >= Duration::from_millis(50),
                "{d:?}"
            );
        }
    }

    #[test]
    fn throttling_waits_longer_than_a_transient_fault() {
        let mut a = Backoff::new(Duration::from_millis(100), Duration::from_secs(30));
        let mut b = a.clone();
        let retry = a.next_delay_with(Disposition::Retry, 0.5);
        let throttled = b.next_delay_with(Disposition::BackOff, 0.5);
        assert_eq!(throttled, retry * 4);
    }

    #[test]
    fn huge_attempt_counts_do_not_overflow() {
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(60));
        for _ in 0..100 {
            let _ = b.next_delay_with(Disposition::BackOff, 1.0);
        }
        assert_eq!(
            b.next_delay_with(Disposition::BackOff, 1.0),
            Duration::from_secs(60)
        );
    }
}
