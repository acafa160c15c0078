//! Reporting ownership to the cloud: after this node wins (or loses) an election, make the cloud
//! agree, and keep checking that it does.
//!
//! ```text
//!  daemon event loop ──observe()──> one watch slot per instance (latest state wins, never blocks)
//!        ^                               │ │ │
//!        │ re-announce (try_send)        v v v
//!        └──────────────────────── one task per (instance, provider): apply / reconcile
//!                                        ├─ tencent-havip: DescribeHaVips until bound here
//!                                        ├─ tencent-migrate-ip: MigratePrivateIpAddress + task
//!                                        └─ webhook: signed JSON POST, retried
//! ```
//!
//! The election never waits for any of it: [`Reporters::observe`] only overwrites a
//! `tokio::sync::watch` slot (a bounded queue of one entry per instance, so
//! master -> backup -> master in quick succession delivers the final state only), and a
//! provider's request to re-announce the VIP is a `try_send` on a small bounded channel that the
//! daemon serves when it has time. A provider still working on an older state is cancelled the
//! moment a newer one arrives.
//!
//! - `config`: the `[cloud]` table, typed and checked; `credentials`, `secret`: key handling.
//! - `tc3`: Tencent Cloud API v3 signing; `tencent`: the VPC API client; `retry`: backoff.
//! - `reporter`: the [`Reporter`] trait and the task that drives one; `identity`: who this node
//!   is in the cloud.
//! - `havip`, `migrate`, `webhook`: the providers; `stats`: their counters.

pub mod config;
pub mod credentials;
pub mod havip;
pub mod identity;
pub mod migrate;
pub mod reporter;
pub mod retry;
pub mod secret;
pub mod stats;
pub mod tc3;
pub mod tencent;
pub mod webhook;

use std::{
    net::Ipv4Addr,
    sync::{Arc, atomic::AtomicU64},
    time::{Duration, Instant, SystemTime},
};

use tokio::{
    sync::{mpsc, watch},
    task::JoinHandle,
};
use tracing::{info, warn};

pub use reporter::Reporter;
pub use stats::CloudStats;

use crate::{daemon::instance::Runtime, vrrp::State};

/// Capacity of the re-announce channel; a request that does not fit is dropped (the next
/// recheck asks again).
const REANNOUNCE_CAPACITY: usize = 16;

/// One ownership change as the reporters see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ownership {
    /// The new state.
    pub state: State,
    /// The state before.
    pub previous: State,
    /// Why, in the daemon's words.
    pub reason: String,
    /// When the daemon saw it (the start of "time until the cloud agrees").
    pub at: Instant,
    /// The same moment in wall-clock time, for events.
    pub wall: SystemTime,
}

/// What a provider knows about the instance it reports.
#[derive(Clone, Debug)]
pub struct InstanceInfo {
    /// Index of the instance in the daemon.
    pub index: usize,
    /// Name.
    pub name: String,
    /// VRID.
    pub vrid: u8,
    /// VIPs.
    pub vips: Vec<Ipv4Addr>,
    /// MAC of its interface.
    pub mac: [u8; 6],
}

/// A provider's way to ask the daemon for one more round of gratuitous ARP for its instance.
#[derive(Clone, Debug)]
pub struct Reannounce {
    tx: mpsc::Sender<usize>,
    index: usize,
}

impl Reannounce {
    /// Asks; never waits. False if the daemon is behind (the request is dropped).
    pub fn request(&self) -> bool {
        self.tx.try_send(self.index).is_ok()
    }
}

/// Why cloud reporting could not start.
#[derive(Debug, thiserror::Error)]
pub enum CloudError {
    /// `[cloud]` is wrong.
    #[error("invalid [cloud] configuration: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Config(Vec<config::FieldError>),
    /// No usable credentials.
    #[error(transparent)]
    Credentials(#[from] credentials::CredentialsError),
    /// The API client could not be built.
    #[error(transparent)]
    Client(#[from] tencent::ClientError),
    /// A webhook key file could not be read.
    #[error("cloud.webhook[{index}].secret_file: {source}")]
    WebhookKey {
        /// Which webhook.
        index: usize,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// The running reporters: what the daemon holds.
#[derive(Debug)]
pub struct Reporters {
    slots: Vec<Option<watch::Sender<Option<Ownership>>>>,
    last: Vec<State>,
    tasks: Vec<JoinHandle<()>>,
    stats: CloudStats,
    /// Kept so the daemon's receiver never sees a closed channel.
    reannounce_tx: mpsc::Sender<usize>,
}

impl Reporters {
    /// Reporters that report nothing (for `n` instances).
    #[must_use]
    pub fn disabled(n: usize) -> (Self, mpsc::Receiver<usize>) {
        let (reannounce_tx, reannounce_rx) = mpsc::channel(REANNOUNCE_CAPACITY);
        let me = Self {
            slots: (0..n).map(|_| None).collect(),
            last: (0..n).map(|_| State::Initialize).collect(),
            tasks: Vec::new(),
            stats: CloudStats::default(),
            reannounce_tx,
        };
        (me, reannounce_rx)
    }

    /// Reads `[cloud]` and starts one task per (instance, provider). Returns the reporters and
    /// the receiver of re-announce requests (instance indices), which the daemon serves. Without
    /// `[cloud]`, nothing runs.
    pub fn start(
        cfg: &crate::config::Config,
        runtimes: &[Runtime],
    ) -> Result<(Self, mpsc::Receiver<usize>), CloudError> {
        let (mut me, reannounce_rx) = Self::disabled(runtimes.len());
        let reannounce_tx = me.reannounce_tx.clone();
        let Some(table) = &cfg.cloud else {
            return Ok((me, reannounce_rx));
        };
        let names: Vec<&str> = runtimes.iter().map(Runtime::name).collect();
        let settings = config::parse(table, &names).map_err(CloudError::Config)?;
        let infos: Vec<InstanceInfo> = runtimes
            .iter()
            .enumerate()
            .map(|(index, r)| InstanceInfo {
                index,
                name: r.name().to_owned(),
                vrid: r.fsm.params().vrid,
                vips: r.vips.iter().map(|v| v.addr).collect(),
                mac: r.iface.mac,
            })
            .collect();
        let client = match &settings.tencent {
            Some(t) => {
                let (creds, source) = credentials::resolve(t, |k| std::env::var(k).ok())?;
                let client = tencent::Client::new(t, creds, me.stats.clone())?;
                info!(
                    endpoint = client.endpoint(),
                    region = %t.region,
                    key_id = %client.masked_id(),
                    credentials = %source,
                    "Tencent Cloud VPC API"
                );
                Some(client)
            }
            None => None,
        };
        let identity = identity::Identity::new(settings.node.clone());
        let by_name = |name: &str| infos.iter().find(|i| i.name == name).cloned();
        let reannounce = |info: &InstanceInfo| Reannounce {
            tx: reannounce_tx.clone(),
            index: info.index,
        };
        if let Some(client) = &client {
            for h in &settings.tencent_havip {
                let Some(info) = by_name(&h.instance) else {
                    continue;
                };
                let r = havip::HavipReporter::new(
                    h.clone(),
                    info.clone(),
                    client.clone(),
                    identity.clone(),
                    reannounce(&info),
                    me.stats.clone(),
                );
                me.spawn(info.index, r);
            }
            for m in &settings.tencent_migrate_ip {
                let Some(info) = by_name(&m.instance) else {
                    continue;
                };
                let r = migrate::MigrateReporter::new(
                    m.clone(),
                    info.clone(),
                    client.clone(),
                    identity.clone(),
                    me.stats.clone(),
                );
                me.spawn(info.index, r);
            }
        }
        let node_name = settings
            .node
            .name
            .clone()
            .or_else(|| cfg.global.router_id.clone())
            .unwrap_or_else(identity::host_name);
        me.start_webhooks(&settings, &infos, &node_name, &identity)?;
        info!(reporters = me.tasks.len(), "cloud reporting on");
        Ok((me, reannounce_rx))
    }

    fn start_webhooks(
        &mut self,
        settings: &config::Settings,
        infos: &[InstanceInfo],
        node_name: &str,
        identity: &identity::Identity,
    ) -> Result<(), CloudError> {
        for (index, w) in settings.webhook.iter().enumerate() {
            let key = webhook::key(w).map_err(|source| CloudError::WebhookKey { index, source })?;
            // One sequence per webhook, across its instances, starting at the Unix time in ms so
            // it also grows across restarts.
            let sequence = Arc::new(AtomicU64::new(webhook::initial_sequence()));
            for info in infos {
                if !w.instances.is_empty() && !w.instances.contains(&info.name) {
                    continue;
                }
                let r = webhook::WebhookReporter::new(
                    w,
                    key.clone(),
                    info.clone(),
                    node_name.to_owned(),
                    identity.clone(),
                    Arc::clone(&sequence),
                    self.stats.clone(),
                );
                self.spawn(info.index, r);
            }
        }
        Ok(())
    }

    fn spawn<R: Reporter>(&mut self, index: usize, r: R) {
        let Some(slot) = self.slots.get_mut(index) else {
            return;
        };
        let rx = if let Some(tx) = slot {
            tx.subscribe()
        } else {
            let (tx, rx) = watch::channel(None);
            *slot = Some(tx);
            rx
        };
        self.tasks.push(tokio::spawn(reporter::run(r, rx)));
    }

    /// Publishes every instance whose state changed since the last call. Never blocks.
    pub fn observe(&mut self, runtimes: &[Runtime]) {
        for (i, r) in runtimes.iter().enumerate() {
            let (Some(Some(slot)), Some(last)) = (self.slots.get(i), self.last.get_mut(i)) else {
                continue;
            };
            let state = r.fsm.state();
            if state == *last {
                continue;
            }
            let change = Ownership {
                state,
                previous: *last,
                reason: r.last.map(|t| t.reason.to_string()).unwrap_or_default(),
                at: Instant::now(),
                wall: SystemTime::now(),
            };
            *last = state;
            // A send only fails when every reporter of the slot has stopped.
            let _ = slot.send(Some(change));
        }
    }

    /// Exports report outcomes and times to `metrics` (also for the tasks already running).
    pub fn export_to(&self, metrics: &crate::metrics::Metrics) {
        self.stats.export_to(metrics.clone());
    }

    /// The counters (a shared handle).
    #[must_use]
    pub fn stats(&self) -> CloudStats {
        self.stats.clone()
    }

    /// Closes the slots (the reporters see the last state, then stop) and waits up to `limit`
    /// for them; what is still running then is aborted.
    pub async fn shutdown(self, limit: Duration) {
        drop(self.slots);
        let deadline = tokio::time::Instant::now() + limit;
        for task in self.tasks {
            let abort = task.abort_handle();
            if tokio::time::timeout_at(deadline, task).await.is_err() {
                abort.abort();
                warn!("a cloud reporter did not finish in time; stopped");
            }
        }
    }
}
