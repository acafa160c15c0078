//! Prometheus metrics and the HTTP endpoint (`/metrics`, `/healthz`, `/readyz`).
//!
//! ```text
//!  event loop            bounded queue            metrics subscriber task      metrics thread
//!  ──────────            ─────────────            ───────────────────────      ──────────────
//!  publish(Event) ──try_send (drop+count)──> Recorder ─ InstanceMetrics ──> InstanceShared ─┐
//!  heartbeat() ─────────────────────relaxed atomic──────────────────────────> Health ───────┤ scrape:
//!  script / notify / cloud tasks ─ hooks ─ mutex ───────────────────────────> Hooks ────────┤ Collect
//!                                               MapReader (own map fds) ─> kernel ──────────┤ /proc/self
//!                                                                                           └─> text
//! ```
//!
//! **A scrape never blocks or delays the election.** The event loop does not call into this
//! module for what happens in the election: it publishes [`crate::events::Event`]s, and the
//! [`Recorder`] in its own task turns them into relaxed atomics (state, counters, histogram
//! buckets). The only call the loop makes is [`Metrics::heartbeat`], one relaxed store. The
//! endpoint runs on its own OS thread with its own runtime, so encoding, `/proc` reads and slow
//! or many clients cost the loop nothing. The kernel's counters are read at scrape time through
//! the scrape's own duplicated map file descriptors ([`crate::dataplane::MapReader`]), not
//! through the loop's [`crate::dataplane::Dataplane`].
//!
//! Using it from the daemon: [`serve`] the endpoint, [`subscribe`] a recorder and publish every
//! event to its channel, [`Metrics::attach_kernel`] once the data plane is loaded, and
//! [`Metrics::heartbeat`] on every loop iteration (the loop must iterate at least every
//! [`HEARTBEAT_INTERVAL`]).
//!
//! Track scripts and interfaces, notify scripts and cloud reporting record through
//! [`Metrics::track_script_status`], [`Metrics::track_script_run`],
//! [`Metrics::track_interface_status`], [`Metrics::notify_run`], [`Metrics::cloud_report`].
//! Their families appear once first called; nothing is exported for them before.
//!
//! The VRRP instance's name is the label `vrrp_instance` (see [`INSTANCE_LABEL`]); `vrid` and
//! `interface` label instance series. The README's metrics section lists every metric.

mod bfd;
mod collect;
mod exposition;
mod health;
mod histogram;
mod hooks;
mod instance;
mod kernel;
mod process;
mod recorder;
mod server;

use std::{
    sync::{
        Arc, OnceLock, PoisonError, RwLock,
        atomic::{AtomicU64, Ordering::Relaxed},
    },
    time::Duration,
};

pub use self::{
    collect::INSTANCE_LABEL,
    exposition::{Format, to_prometheus_text},
    health::{HEARTBEAT_INTERVAL, STALE_AFTER},
    hooks::Outcome,
    instance::{InstanceMetrics, InstanceShared, InstanceSnapshot, Stage},
    recorder::{Recorder, subscribe},
    server::{MetricsError, Server, serve},
};
use self::{health::Health, hooks::Hooks};
use crate::{dataplane::MapReader, events::InstanceInfo};

/// What `havip_build_info` says.
#[derive(Clone, Debug)]
struct BuildInfo {
    version: &'static str,
    kernel: String,
}

/// Kernel release from uname(2), or `unknown`.
fn kernel_release() -> String {
    // SAFETY: an all-zero utsname is valid, and uname fills it (NUL-terminated fields).
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: `u` is a valid, writable utsname.
    if unsafe { libc::uname(&raw mut u) } != 0 {
        return "unknown".to_owned();
    }
    let bytes: Vec<u8> = u
        .release
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c.to_ne_bytes()[0])
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Everything a scrape reads.
#[derive(Debug)]
pub(crate) struct Shared {
    instances: RwLock<Vec<Arc<InstanceShared>>>,
    kernel: OnceLock<MapReader>,
    kernel_read_errors: AtomicU64,
    /// Event subscribers and the count of events each dropped.
    event_drops: RwLock<Vec<(&'static str, Arc<AtomicU64>)>>,
    health: Health,
    hooks: Hooks,
    build: BuildInfo,
    /// How late the event loop woke for its instances' deadlines.
    timer_lateness: histogram::AtomicHistogram,
    /// BFD sessions and counters, once the BFD thread runs.
    bfd: OnceLock<Arc<crate::bfd::Stats>>,
    /// `(interface, mode)` of the data plane's attachments (`havip_dataplane_mode`).
    dataplane_modes: RwLock<Vec<(String, &'static str)>>,
}

impl Shared {
    /// The registered instances (a copy of the list; the lock is released at once).
    fn instances(&self) -> Vec<Arc<InstanceShared>> {
        self.instances
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn kernel_read_error(&self) {
        self.kernel_read_errors.fetch_add(1, Relaxed);
    }

    fn kernel_read_errors(&self) -> u64 {
        self.kernel_read_errors.load(Relaxed)
    }

    fn event_drops(&self) -> Vec<(&'static str, u64)> {
        self.event_drops
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(n, c)| (*n, c.load(Relaxed)))
            .collect()
    }
}

/// The handle the daemon and the other agent tasks record through; cheap to clone.
#[derive(Clone, Debug)]
pub struct Metrics {
    shared: Arc<Shared>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// An empty set: no instance, no kernel reader, loop not started.
    #[must_use]
    pub fn new() -> Self {
        Self {
            shared: Arc::new(Shared {
                instances: RwLock::new(Vec::new()),
                kernel: OnceLock::new(),
                bfd: OnceLock::new(),
                kernel_read_errors: AtomicU64::new(0),
                event_drops: RwLock::new(Vec::new()),
                dataplane_modes: RwLock::new(Vec::new()),
                health: Health::default(),
                hooks: Hooks::default(),
                timer_lateness: histogram::AtomicHistogram::new(histogram::LATENESS_BOUNDS),
                build: BuildInfo {
                    version: env!("CARGO_PKG_VERSION"),
                    kernel: kernel_release(),
                },
            }),
        }
    }

    /// Exports instance `info`; returns the recorder its runtime keeps and calls.
    pub fn register_instance(&self, info: InstanceInfo) -> InstanceMetrics {
        let shared = Arc::new(InstanceShared::new(info));
        self.shared
            .instances
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Arc::clone(&shared));
        InstanceMetrics::with_shared(shared)
    }

    /// Stops exporting the instance `m` records (it was removed by a reload).
    pub fn unregister_instance(&self, m: &InstanceMetrics) {
        self.shared
            .instances
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|s| !Arc::ptr_eq(s, m.shared()));
    }

    /// Gives scrapes their own read-only handles on the kernel's maps (see
    /// [`crate::dataplane::Dataplane::reader`]). Only the first call counts.
    pub fn attach_kernel(&self, reader: MapReader) {
        let _ = self.shared.kernel.set(reader);
    }

    /// Exports the BFD sessions and counters of `stats` (`havip_bfd_*`) from now on.
    pub fn attach_bfd(&self, stats: Arc<crate::bfd::Stats>) {
        let _ = self.shared.bfd.set(stats);
    }

    /// Exports `dropped`, the count of events subscriber `name` dropped
    /// (`havip_events_dropped_total`); a name exported again replaces the earlier counter.
    pub fn export_event_drops(&self, name: &'static str, dropped: Arc<AtomicU64>) {
        let mut v = self
            .shared
            .event_drops
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        v.retain(|(n, _)| *n != name);
        v.push((name, dropped));
    }

    /// The hook of every attachment, `(interface, "xdp" | "tc")`, as exported by
    /// `havip_dataplane_mode` (replaces the previous list: call it after each attach).
    pub fn set_dataplane_modes(&self, modes: Vec<(String, &'static str)>) {
        *self
            .shared
            .dataplane_modes
            .write()
            .unwrap_or_else(PoisonError::into_inner) = modes;
    }

    /// Whether the XDP program is attached to every interface (for `/readyz`).
    pub fn set_dataplane_attached(&self, attached: bool) {
        self.shared.health.set_attached(attached);
    }

    /// The event loop iterated (for `/healthz`); call it on every iteration.
    pub fn heartbeat(&self) {
        self.shared.health.beat();
    }

    /// The event loop woke `late` after an instance's deadline
    /// (`havip_timer_lateness_seconds`): one relaxed atomic add, safe on the loop.
    pub fn timer_lateness(&self, late: Duration) {
        self.shared.timer_lateness.observe(late);
    }

    /// Track scripts: `script`'s result after rise/fall is now `up` (`havip_track_script_up`).
    pub fn track_script_status(&self, script: &str, up: bool) {
        self.shared.hooks.track_script_status(script, up);
    }

    /// Track scripts: one run of `script` ended with `outcome` (`havip_track_script_runs_total`).
    pub fn track_script_run(&self, script: &str, outcome: Outcome) {
        self.shared.hooks.track_script_run(script, outcome);
    }

    /// Track interfaces: `interface` is now `up` (`havip_track_interface_up`).
    pub fn track_interface_status(&self, interface: &str, up: bool) {
        self.shared.hooks.track_interface_status(interface, up);
    }

    /// Notify scripts: one run of `script` ended with `outcome` (`havip_notify_runs_total`;
    /// alert on outcomes other than success).
    pub fn notify_run(&self, script: &str, outcome: Outcome) {
        self.shared.hooks.notify_run(script, outcome);
    }

    /// Cloud reporting: one report of `instance`'s ownership to `provider` ended with
    /// `outcome` after `latency` (`havip_cloud_reports_total`,
    /// `havip_cloud_report_duration_seconds`).
    pub fn cloud_report(
        &self,
        provider: &str,
        instance: &str,
        outcome: Outcome,
        latency: Duration,
    ) {
        self.shared
            .hooks
            .cloud_report(provider, instance, outcome, latency);
    }

    /// The exposition in `format`, as a scrape returns it.
    pub fn render(&self, format: Format) -> Result<String, std::fmt::Error> {
        let mut registry = prometheus_client::registry::Registry::default();
        registry.register_collector(Box::new(collect::Collect(Arc::clone(&self.shared))));
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry)?;
        Ok(match format {
            Format::OpenMetrics => text,
            Format::Prometheus => to_prometheus_text(&text),
        })
    }

    /// `Ok` while the event loop iterates (`/healthz`), else why not.
    pub fn live(&self) -> Result<(), String> {
        self.shared.health.live_at(crate::clock::monotonic_ns())
    }

    /// `Ok` when the data plane is attached and every instance has left INIT (`/readyz`), else
    /// every reason why not.
    pub fn ready(&self) -> Result<(), Vec<String>> {
        let instances = self.shared.instances();
        let states: Vec<(String, crate::vrrp::State)> = instances
            .iter()
            .map(|i| (i.info.name.clone(), i.snapshot().state))
            .collect();
        self.shared
            .health
            .ready(states.iter().map(|(n, s)| (n.as_str(), *s)))
    }
}

#[cfg(test)]
mod tests;
