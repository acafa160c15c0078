//! Counters of cloud reporting: calls by provider, action and outcome; reports by provider and
//! outcome; the time the cloud took to agree with each takeover. [`CloudStats::snapshot`] is a
//! copy for logs and tests; report outcomes and times are also exported to Prometheus once
//! [`CloudStats::export_to`] is called (`havip_cloud_reports_total` and its latency).

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex, OnceLock, PoisonError},
    time::Duration,
};

use crate::metrics::{Metrics, Outcome};

/// Shared counters (cheap to clone).
#[derive(Clone, Debug, Default)]
pub struct CloudStats {
    inner: Arc<Mutex<Snapshot>>,
    export: Arc<OnceLock<Metrics>>,
}

/// Time until the cloud agreed, per provider and instance.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AgreeTimes {
    /// How many takeovers were confirmed.
    pub count: u64,
    /// The sum of their times.
    pub total: Duration,
    /// The last one.
    pub last: Duration,
}

/// A copy of every counter.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Snapshot {
    /// API calls: `(provider, action, outcome)` -> count; outcome is `ok`, `retry`,
    /// `throttled` or `give_up`.
    pub calls: BTreeMap<(String, String, String), u64>,
    /// Reports: `(provider, outcome)` -> count; outcome is `agreed`, `delivered`, `timeout`,
    /// `failed`, `superseded`, `disagreed` (reconciliation found another owner).
    pub reports: BTreeMap<(String, String), u64>,
    /// Time until the cloud agreed: `(provider, instance)`.
    pub agree: BTreeMap<(String, String), AgreeTimes>,
}

impl CloudStats {
    fn with<T>(&self, f: impl FnOnce(&mut Snapshot) -> T) -> T {
        f(&mut self.inner.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Counts one API call.
    pub fn call(&self, provider: &str, action: &str, outcome: &str) {
        self.with(|s| {
            *s.calls
                .entry((provider.to_owned(), action.to_owned(), outcome.to_owned()))
                .or_default() += 1;
        });
    }

    /// Exports report outcomes to `metrics` from now on (every clone shares this).
    pub fn export_to(&self, metrics: Metrics) {
        let _ = self.export.set(metrics);
    }

    /// Counts one report outcome of `instance`.
    pub fn report(&self, provider: &str, instance: &str, outcome: &str) {
        self.with(|s| {
            *s.reports
                .entry((provider.to_owned(), outcome.to_owned()))
                .or_default() += 1;
        });
        // `agreed` is exported with its time by `agreed`; a superseded report is no result.
        let exported = match outcome {
            "failed" | "disagreed" => Some(Outcome::Failure),
            "timeout" => Some(Outcome::Timeout),
            "delivered" => Some(Outcome::Success),
            _ => None,
        };
        if let (Some(o), Some(m)) = (exported, self.export.get()) {
            m.cloud_report(provider, instance, o, Duration::ZERO);
        }
    }

    /// Records that the cloud agreed `took` after the takeover.
    pub fn agreed(&self, provider: &str, instance: &str, took: Duration) {
        if let Some(m) = self.export.get() {
            m.cloud_report(provider, instance, Outcome::Success, took);
        }
        self.with(|s| {
            let a = s
                .agree
                .entry((provider.to_owned(), instance.to_owned()))
                .or_default();
            a.count += 1;
            a.total += took;
            a.last = took;
        });
    }

    /// A copy of every counter.
    #[must_use]
    pub fn snapshot(&self) -> Snapshot {
        self.with(|s| s.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_accumulate() {
        let s = CloudStats::default();
        s.call("tencent-havip", "DescribeHaVips", "ok");
        s.call("tencent-havip", "DescribeHaVips", "ok");
        s.report("webhook", "VI_1", "delivered");
        s.agreed("tencent-havip", "VI_1", Duration::from_secs(3));
        s.agreed("tencent-havip", "VI_1", Duration::from_secs(1));
        let snap = s.clone().snapshot();
        let key = (
            "tencent-havip".to_owned(),
            "DescribeHaVips".to_owned(),
            "ok".to_owned(),
        );
        assert_eq!(snap.calls.get(&key), Some(&2));
        assert_eq!(
            snap.reports.get(&("webhook".into(), "delivered".into())),
            Some(&1)
        );
        let a = &snap.agree[&("tencent-havip".to_owned(), "VI_1".to_owned())];
        assert_eq!(
            (a.count, a.total, a.last),
            (2, Duration::from_secs(4), Duration::from_secs(1))
        );
    }
}
