//! Reporting ownership to the cloud: after this node wins (or loses) an election, make the cloud
//! agree, and keep checking that it does.
//!
//! ```text
//!  daemon event loop ──Event::StateChanged──> Reporters (a Subscriber): one watch slot per
//!        ^                                    instance (latest state wins, never blocks)
//!        │ re-announce (try_send)        │ │ │
//!        │                               v v v
//!        └──────────────────────── one task per (instance, provider): apply / reconcile
//!                                        ├─ tencent-havip: DescribeHaVips until bound here
//!                                        ├─ tencent-migrate-ip: MigratePrivateIpAddress + task
//!                                        ├─ alibaba-havip: AssociateHaVip, DescribeHaVips
//!                                        ├─ aws-private-ip: AssignPrivateIpAddresses
//!                                        └─ webhook: signed JSON POST, retried
//! ```
//!
//! The election never waits for any of it: [`Reporters`] subscribes to the daemon's events
//! ([`crate::events`]), and publishing a state change only overwrites a `tokio::sync::watch` slot (a bounded queue of one entry per instance, so
//! master -> backup -> master in quick succession delivers the final state only), and a
//! provider's request to re-announce the VIP is a `try_send` on a small bounded channel that the
//! daemon serves when it has time. A provider still working on an older state is cancelled the
//! moment a newer one arrives.
//!
//! - `config`: the `[cloud]` table, typed and checked; `credentials`, `secret`: key handling;
//!   `metadata`, `role`: instance metadata services and role credentials refreshed ahead of expiry.
//! - `tc3`, `acs3`, `sigv4`: Tencent, Alibaba and AWS request signing; `tencent`, `alibaba`,
//!   `aws`: the API clients; `rpc`: what the Alibaba and AWS clients share; `errors`: one table
//!   of error classes per cloud; `retry`: backoff.
//! - `reporter`: the [`Reporter`] trait and the task that drives one; `identity`: who this node
//!   is in the cloud.
//! - `havip`, `migrate`, `alibaba_havip`, `aws_private_ip`, `webhook`: the providers; `stats`:
//!   their counters.

pub mod acs3;
pub mod alibaba;
pub mod alibaba_havip;
pub mod aws;
pub mod aws_private_ip;
pub mod config;
pub mod credentials;
pub mod errors;
pub mod havip;
pub mod identity;
pub mod metadata;
pub mod migrate;
pub mod reporter;
pub mod retry;
pub mod role;
pub mod rpc;
pub mod secret;
pub mod sigv4;
pub mod stats;
pub mod tc3;
pub mod tencent;
pub mod webhook;

use std::{
    collections::HashMap,
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

use crate::{
    events::{self, Event, InstanceId, Subscriber},
    vrrp::State,
};

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
    /// The instance's id in the daemon's events.
    pub id: InstanceId,
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
    tx: mpsc::Sender<InstanceId>,
    id: InstanceId,
}

impl Reannounce {
    /// Asks; never waits. False if the daemon is behind (the request is dropped).
    pub fn request(&self) -> bool {
        self.tx.try_send(self.id).is_ok()
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
    /// No usable credentials (or metadata client) for `[cloud.alibaba]` / `[cloud.aws]`.
    #[error("{table}: {message}")]
    Account {
        /// `cloud.alibaba` or `cloud.aws`.
        table: &'static str,
        /// What is missing (never a key).
        message: String,
    },
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
    /// Instance id -> the latest-value slot its reporters watch.
    slots: HashMap<InstanceId, watch::Sender<Option<Ownership>>>,
    tasks: Vec<JoinHandle<()>>,
    stats: CloudStats,
    /// Kept so the daemon's receiver never sees a closed channel.
    reannounce_tx: mpsc::Sender<InstanceId>,
}

impl Reporters {
    /// Reporters that report nothing.
    #[must_use]
    pub fn disabled() -> (Self, mpsc::Receiver<InstanceId>) {
        let (reannounce_tx, reannounce_rx) = mpsc::channel(REANNOUNCE_CAPACITY);
        let me = Self {
            slots: HashMap::new(),
            tasks: Vec::new(),
            stats: CloudStats::default(),
            reannounce_tx,
        };
        (me, reannounce_rx)
    }

    /// Reads `[cloud]` and starts one task per (instance, provider) for the running
    /// `instances`. Returns the reporters and the receiver of re-announce requests (instance
    /// ids), which the daemon serves. Without `[cloud]`, nothing runs.
    pub fn start(
        cfg: &crate::config::Config,
        instances: &[events::InstanceInfo],
    ) -> Result<(Self, mpsc::Receiver<InstanceId>), CloudError> {
        let (mut me, reannounce_rx) = Self::disabled();
        let reannounce_tx = me.reannounce_tx.clone();
        let Some(table) = &cfg.cloud else {
            return Ok((me, reannounce_rx));
        };
        let names: Vec<&str> = instances.iter().map(|i| i.name.as_str()).collect();
        let settings = config::parse(table, &names).map_err(CloudError::Config)?;
        let infos: Vec<InstanceInfo> = instances
            .iter()
            .map(|i| InstanceInfo {
                id: i.id,
                name: i.name.clone(),
                vrid: i.vrid,
                // The cloud providers move IPv4 addresses (a HAVIP, a secondary private IP);
                // an instance's IPv6 VIPs are not reported to them.
                vips: i
                    .vips
                    .iter()
                    .filter_map(|(addr, _)| match addr {
                        std::net::IpAddr::V4(a) => Some(*a),
                        std::net::IpAddr::V6(_) => None,
                    })
                    .collect(),
                mac: i.mac,
            })
            .collect();
        let client = match &settings.tencent {
            Some(t) => {
                let (keys, source) = credentials::key_source(t, |k| std::env::var(k).ok())?;
                let client = tencent::Client::with_keys(t, keys, me.stats.clone())?;
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
            id: info.id,
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
                me.spawn(info.id, r);
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
                me.spawn(info.id, r);
            }
        }
        let node_name = settings
            .node
            .name
            .clone()
            .or_else(|| cfg.global.router_id.clone())
            .unwrap_or_else(identity::host_name);
        me.start_alibaba(&settings, &infos, &identity, &reannounce_tx)?;
        me.start_aws(&settings, &infos, &identity)?;
        me.start_webhooks(&settings, &infos, &node_name, &identity)?;
        info!(reporters = me.tasks.len(), "cloud reporting on");
        Ok((me, reannounce_rx))
    }

    fn start_alibaba(
        &mut self,
        settings: &config::Settings,
        infos: &[InstanceInfo],
        identity: &identity::Identity,
        reannounce_tx: &mpsc::Sender<InstanceId>,
    ) -> Result<(), CloudError> {
        let (Some(cfg), false) = (&settings.alibaba, settings.alibaba_havip.is_empty()) else {
            return Ok(());
        };
        let account = |message: String| CloudError::Account {
            table: "cloud.alibaba",
            message,
        };
        let keys = alibaba::key_source(cfg, |k| std::env::var(k).ok()).map_err(account)?;
        let client = alibaba::Client::new(cfg, keys, self.stats.clone())
            .map_err(|e| account(format!("{e:#}").replace("cloud.tencent.", "")))?;
        let metadata = metadata::Metadata::new(cfg.metadata_url(), metadata::Flavor::Alibaba)
            .map_err(|e| account(e.to_string()))?;
        let identity = identity.with_metadata(metadata);
        info!(endpoint = client.endpoint(), region = %cfg.region,
            credentials = %client.describe_keys(), "Alibaba Cloud VPC API");
        for h in &settings.alibaba_havip {
            let Some(info) = infos.iter().find(|i| i.name == h.instance).cloned() else {
                continue;
            };
            let r = alibaba_havip::AlibabaHavipReporter::new(
                h.clone(),
                info.clone(),
                client.clone(),
                identity.clone(),
                Reannounce {
                    tx: reannounce_tx.clone(),
                    id: info.id,
                },
                self.stats.clone(),
            );
            self.spawn(info.id, r);
        }
        Ok(())
    }

    fn start_aws(
        &mut self,
        settings: &config::Settings,
        infos: &[InstanceInfo],
        identity: &identity::Identity,
    ) -> Result<(), CloudError> {
        let (Some(cfg), false) = (&settings.aws, settings.aws_private_ip.is_empty()) else {
            return Ok(());
        };
        let account = |message: String| CloudError::Account {
            table: "cloud.aws",
            message,
        };
        let keys = aws::key_source(cfg, |k| std::env::var(k).ok()).map_err(account)?;
        let client = aws::Client::new(cfg, keys, self.stats.clone())
            .map_err(|e| account(format!("{e:#}").replace("cloud.tencent.", "")))?;
        let metadata = metadata::Metadata::new(cfg.metadata_url(), metadata::Flavor::Aws)
            .map_err(|e| account(e.to_string()))?;
        let identity = identity.with_metadata(metadata);
        info!(endpoint = client.endpoint(), region = %cfg.region,
            credentials = %client.describe_keys(), "AWS EC2 API");
        for p in &settings.aws_private_ip {
            let Some(info) = infos.iter().find(|i| i.name == p.instance).cloned() else {
                continue;
            };
            let r = aws_private_ip::AwsPrivateIpReporter::new(
                p.clone(),
                info.clone(),
                client.clone(),
                identity.clone(),
                self.stats.clone(),
            );
            self.spawn(info.id, r);
        }
        Ok(())
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
                self.spawn(info.id, r);
            }
        }
        Ok(())
    }

    fn spawn<R: Reporter>(&mut self, id: InstanceId, r: R) {
        let rx = if let Some(tx) = self.slots.get(&id) {
            tx.subscribe()
        } else {
            let (tx, rx) = watch::channel(None);
            self.slots.insert(id, tx);
            rx
        };
        self.tasks.push(tokio::spawn(reporter::run(r, rx)));
    }

    /// Whether instance `id` has a reporter.
    #[must_use]
    pub fn reports(&self, id: InstanceId) -> bool {
        self.slots.contains_key(&id)
    }

    /// Hands `id`'s change from `previous` to `state` to its reporters (overwriting a change
    /// they have not picked up yet). Never blocks.
    pub fn changed(&self, id: InstanceId, previous: State, state: State, reason: String) {
        let Some(slot) = self.slots.get(&id) else {
            return;
        };
        let change = Ownership {
            state,
            previous,
            reason,
            at: Instant::now(),
            wall: SystemTime::now(),
        };
        // A send only fails when every reporter of the slot has stopped.
        let _ = slot.send(Some(change));
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

/// The reporters learn of state changes as a subscriber of the daemon's events.
impl Subscriber for Reporters {
    fn publish(&mut self, event: &Event) {
        if let Event::StateChanged {
            id,
            from,
            to,
            reason,
            ..
        } = event
        {
            self.changed(*id, *from, *to, reason.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn state_changes_reach_the_slot_and_only_the_latest_is_kept() {
        let (mut r, _rx) = Reporters::disabled();
        let (tx, mut rx) = watch::channel(None);
        r.slots.insert(7, tx);
        let ev = |from, to| Event::StateChanged {
            id: 7,
            at_ns: 0,
            from,
            to,
            reason: crate::vrrp::Reason::MasterDown,
            priority: 100,
            master: None,
        };
        r.publish(&ev(State::Backup, State::Master));
        r.publish(&ev(State::Master, State::Backup));
        // Another instance's change does not touch this slot.
        r.publish(&Event::StateChanged {
            id: 8,
            at_ns: 0,
            from: State::Backup,
            to: State::Fault,
            reason: crate::vrrp::Reason::Fault,
            priority: 0,
            master: None,
        });
        assert!(rx.has_changed().unwrap_or(false));
        let seen = rx
            .borrow_and_update()
            .clone()
            .map(|o| (o.previous, o.state));
        assert_eq!(seen, Some((State::Master, State::Backup)));
        assert!(!rx.has_changed().unwrap_or(true));
    }
}
