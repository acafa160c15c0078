//! Monotonic time as data: the election core never reads a clock, the caller passes `now`.
//!
//! The unit is the nanosecond of `CLOCK_MONOTONIC`, the clock `bpf_ktime_get_ns()` reads too, so a
//! deadline computed here can be written into a BPF map as a lease without conversion.

use std::fmt;
use std::time::Duration;

/// A point on the monotonic clock (`CLOCK_MONOTONIC`), in nanoseconds.
///
/// All arithmetic saturates or is checked; nothing here panics on overflow.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(pub u64);

impl Instant {
    /// The origin of the clock.
    pub const ZERO: Self = Self(0);
    /// The last representable instant (about 584 years after the origin).
    pub const MAX: Self = Self(u64::MAX);

    /// An instant `nanos` nanoseconds after the origin.
    pub const fn from_nanos(nanos: u64) -> Self {
        Self(nanos)
    }

    /// An instant `millis` milliseconds after the origin, saturating at [`Instant::MAX`].
    pub const fn from_millis(millis: u64) -> Self {
        Self(millis.saturating_mul(1_000_000))
    }

    /// An instant `since_origin` after the origin, saturating at [`Instant::MAX`].
    pub fn from_duration(since_origin: Duration) -> Self {
        Self(u64::try_from(since_origin.as_nanos()).unwrap_or(u64::MAX))
    }

    /// Nanoseconds since the origin.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// Time since the origin.
    pub const fn as_duration(self) -> Duration {
        Duration::from_nanos(self.0)
    }

    /// `self + d`, or `None` if that is past [`Instant::MAX`].
    pub fn checked_add(self, d: Duration) -> Option<Self> {
        let d = u64::try_from(d.as_nanos()).ok()?;
        self.0.checked_add(d).map(Self)
    }

    /// `self + d`, saturating at [`Instant::MAX`]. Deadlines use this: a deadline past the end of
    /// the clock simply never fires.
    #[must_use]
    pub fn saturating_add(self, d: Duration) -> Self {
        self.checked_add(d).unwrap_or(Self::MAX)
    }

    /// `self - d`, or `None` if that is before the origin.
    pub fn checked_sub(self, d: Duration) -> Option<Self> {
        let d = u64::try_from(d.as_nanos()).ok()?;
        self.0.checked_sub(d).map(Self)
    }

    /// Time elapsed from `earlier` to `self`, or `None` if `earlier` is later than `self`.
    pub fn checked_duration_since(self, earlier: Self) -> Option<Duration> {
        self.0.checked_sub(earlier.0).map(Duration::from_nanos)
    }

    /// Time elapsed from `earlier` to `self`, zero if `earlier` is later than `self`.
    pub fn saturating_duration_since(self, earlier: Self) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }
}

impl fmt::Display for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.{:09}s",
            self.0 / 1_000_000_000,
            self.0 % 1_000_000_000
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates_and_checks() {
        let t = Instant::from_millis(1500);
        assert_eq!(t.as_nanos(), 1_500_000_000);
        assert_eq!(
            t.checked_add(Duration::from_millis(500)),
            Some(Instant::from_millis(2000))
        );
        assert_eq!(Instant::MAX.checked_add(Duration::from_nanos(1)), None);
        assert_eq!(Instant::MAX.saturating_add(Duration::MAX), Instant::MAX);
        assert_eq!(t.checked_sub(Duration::from_secs(2)), None);
        assert_eq!(
            t.checked_sub(Duration::from_secs(1)),
            Some(Instant::from_millis(500))
        );
        assert_eq!(
            t.saturating_duration_since(Instant::from_millis(2000)),
            Duration::ZERO
        );
        assert_eq!(t.checked_duration_since(Instant::from_millis(2000)), None);
        assert_eq!(
            t.saturating_duration_since(Instant::ZERO),
            Duration::from_millis(1500)
        );
        assert_eq!(Instant::from_millis(u64::MAX), Instant::MAX);
        assert_eq!(Instant::from_duration(Duration::MAX), Instant::MAX);
        assert_eq!(t.to_string(), "1.500000000s");
    }
}
