//! A fixed-bucket histogram that the event loop records into with relaxed atomic adds only, and
//! that a scrape on another thread reads without a lock. (prometheus-client's `Histogram` takes a
//! lock on every observation, which a scrape holding it could make the event loop wait for.)

use std::{
    sync::atomic::{AtomicU64, Ordering::Relaxed},
    time::Duration,
};

/// Upper bounds (seconds) for the takeover duration: from a millisecond (map write and GARP
/// right after the trigger) to several seconds (priority-0 skew, v2 intervals).
pub const TAKEOVER_BOUNDS: &[f64] = &[
    0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0,
];

/// Upper bounds (seconds) for the advert receive jitter: sub-millisecond on a quiet LAN, up to
/// whole intervals when adverts are lost or the master is starved.
pub const JITTER_BOUNDS: &[f64] = &[
    0.000_1, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// Upper bounds (seconds) for the event loop's timer lateness: tens of microseconds on a quiet
/// host with the timerfd, a millisecond was tokio's timer wheel, more is CPU starvation.
pub const LATENESS_BOUNDS: &[f64] = &[
    0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.1,
];

/// Upper bounds (seconds) for cloud API calls.
pub const CLOUD_BOUNDS: &[f64] = &[0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

/// A histogram with the bucket bounds fixed at construction.
#[derive(Debug)]
pub struct AtomicHistogram {
    bounds: &'static [f64],
    /// One per bound, then the `+Inf` bucket; not cumulative.
    buckets: Box<[AtomicU64]>,
    sum_ns: AtomicU64,
}

/// What a scrape reads from an [`AtomicHistogram`].
#[derive(Clone, Debug, PartialEq)]
pub struct HistogramSnapshot {
    /// Sum of the observations in seconds.
    pub sum: f64,
    /// Number of observations (the sum of `buckets`, so the two always agree).
    pub count: u64,
    /// `(upper bound, observations in this bucket)`, not cumulative, the last bound `+Inf`:
    /// the shape prometheus-client's encoder takes.
    pub buckets: Vec<(f64, u64)>,
}

impl AtomicHistogram {
    /// An empty histogram with `bounds` (ascending, finite, in seconds).
    #[must_use]
    pub fn new(bounds: &'static [f64]) -> Self {
        Self {
            bounds,
            buckets: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum_ns: AtomicU64::new(0),
        }
    }

    /// Records one observation of `d`.
    pub fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        // A value equal to a bound belongs to that bucket (`le`).
        let i = self
            .bounds
            .iter()
            .position(|&b| secs <= b)
            .unwrap_or(self.bounds.len());
        if let Some(b) = self.buckets.get(i) {
            b.fetch_add(1, Relaxed);
        }
        let ns = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.sum_ns.fetch_add(ns, Relaxed);
    }

    /// The current counts.
    #[must_use]
    pub fn snapshot(&self) -> HistogramSnapshot {
        let mut buckets = Vec::with_capacity(self.buckets.len());
        let mut count = 0u64;
        let bounds = self.bounds.iter().copied().chain([f64::INFINITY]);
        for (bound, n) in bounds.zip(self.buckets.iter()) {
            let n = n.load(Relaxed);
            count = count.wrapping_add(n);
            buckets.push((bound, n));
        }
        #[expect(
            clippy::cast_precision_loss,
            reason = "a sum of nanoseconds shown in seconds; f64 keeps 15 digits"
        )]
        let sum = self.sum_ns.load(Relaxed) as f64 / 1e9;
        HistogramSnapshot {
            sum,
            count,
            buckets,
        }
    }

    /// Number of observations so far.
    #[must_use]
    pub fn count(&self) -> u64 {
        self.buckets
            .iter()
            .fold(0u64, |a, b| a.wrapping_add(b.load(Relaxed)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observations_land_in_the_le_bucket() {
        let h = AtomicHistogram::new(&[0.001, 0.01, 0.1]);
        h.observe(Duration::from_micros(500));
        h.observe(Duration::from_millis(1)); // equal to a bound: that bucket
        h.observe(Duration::from_millis(50));
        h.observe(Duration::from_secs(3)); // past the last bound: +Inf
        let s = h.snapshot();
        assert_eq!(s.count, 4);
        assert_eq!(
            s.buckets,
            vec![(0.001, 2), (0.01, 0), (0.1, 1), (f64::INFINITY, 1)]
        );
        assert!((s.sum - 3.0515).abs() < 1e-9, "{}", s.sum);
        assert_eq!(h.count(), 4);
    }

    #[test]
    fn bounds_are_ascending() {
        for bounds in [TAKEOVER_BOUNDS, JITTER_BOUNDS, CLOUD_BOUNDS] {
            assert!(bounds.windows(2).all(|w| w[0] < w[1]), "{bounds:?}");
            assert!(bounds.iter().all(|b| b.is_finite() && *b > 0.0));
        }
    }
}
