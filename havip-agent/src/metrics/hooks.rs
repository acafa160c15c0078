//! Recorders for the parts of the agent that run beside the election and are still being built:
//! track scripts and interfaces, notify scripts, and cloud reporting. They call the matching
//! functions of [`Metrics`](super::Metrics); until something calls them, their metric families
//! are not exported at all (no invented zeros for scripts or providers that do not exist).
//!
//! The values sit in small maps under one mutex. A caller holds it only to bump a value; a scrape
//! holds it only to copy the maps, never while encoding or doing I/O.

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use super::histogram::{AtomicHistogram, CLOUD_BOUNDS, HistogramSnapshot};

/// How a script run or a cloud call ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Outcome {
    /// Exit status 0 / the API accepted the report.
    Success,
    /// Non-zero exit status, killed by a signal, or an API error.
    Failure,
    /// Did not finish within its timeout.
    Timeout,
}

impl Outcome {
    /// The `outcome` label.
    #[must_use]
    pub const fn as_label(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Failure => "failure",
            Self::Timeout => "timeout",
        }
    }
}

/// Everything the hooks recorded.
#[derive(Clone, Debug, Default)]
pub struct HookValues {
    /// Track script -> up (its rise/fall result says OK).
    pub track_scripts: BTreeMap<String, bool>,
    /// (track script, outcome) -> runs.
    pub track_runs: BTreeMap<(String, Outcome), u64>,
    /// Tracked interface -> up.
    pub track_interfaces: BTreeMap<String, bool>,
    /// (notify script, outcome) -> runs.
    pub notify_runs: BTreeMap<(String, Outcome), u64>,
    /// (provider, instance, outcome) -> reports.
    pub cloud_reports: BTreeMap<(String, String, Outcome), u64>,
    /// Provider -> latency of its reports.
    pub cloud_latency: BTreeMap<String, Arc<AtomicHistogram>>,
}

/// The hook recorders.
#[derive(Debug, Default)]
pub struct Hooks {
    values: Mutex<HookValues>,
}

impl Hooks {
    fn with<T>(&self, f: impl FnOnce(&mut HookValues) -> T) -> T {
        // A panic elsewhere while holding the lock cannot leave these maps inconsistent (each
        // update is one insert), so a poisoned lock is used as is.
        let mut v = self.values.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut v)
    }

    /// A copy of everything, for a scrape.
    #[must_use]
    pub fn snapshot(&self) -> HookValues {
        self.with(|v| v.clone())
    }

    /// Latency snapshots per provider (read outside the lock: the histograms are atomic).
    #[must_use]
    pub fn cloud_latency(values: &HookValues) -> Vec<(String, HistogramSnapshot)> {
        values
            .cloud_latency
            .iter()
            .map(|(p, h)| (p.clone(), h.snapshot()))
            .collect()
    }

    pub(super) fn track_script_status(&self, script: &str, up: bool) {
        self.with(|v| v.track_scripts.insert(script.to_owned(), up));
    }

    pub(super) fn track_script_run(&self, script: &str, outcome: Outcome) {
        self.with(|v| {
            *v.track_runs
                .entry((script.to_owned(), outcome))
                .or_default() += 1;
        });
    }

    pub(super) fn track_interface_status(&self, interface: &str, up: bool) {
        self.with(|v| v.track_interfaces.insert(interface.to_owned(), up));
    }

    pub(super) fn notify_run(&self, script: &str, outcome: Outcome) {
        self.with(|v| {
            *v.notify_runs
                .entry((script.to_owned(), outcome))
                .or_default() += 1;
        });
    }

    pub(super) fn cloud_report(
        &self,
        provider: &str,
        instance: &str,
        outcome: Outcome,
        latency: Duration,
    ) {
        let h = self.with(|v| {
            *v.cloud_reports
                .entry((provider.to_owned(), instance.to_owned(), outcome))
                .or_default() += 1;
            Arc::clone(
                v.cloud_latency
                    .entry(provider.to_owned())
                    .or_insert_with(|| Arc::new(AtomicHistogram::new(CLOUD_BOUNDS))),
            )
        });
        h.observe(latency);
    }
}
