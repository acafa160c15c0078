//! Provider `tencent-migrate-ip`: on subnets without HAVIP, the VIP is a secondary private IP of
//! one node's ENI, and the new master moves it to its own ENI with `MigratePrivateIpAddress`
//! (asynchronous: `DescribeVpcTaskResult` with the call's `RequestId` says when it is done).
//! The current holder comes from `DescribeNetworkInterfaces`; this node's ENI from
//! `[cloud.node]`, else from the ENIs of its instance, matched by the VRRP interface's MAC.
//! While master, re-check every `reconcile_interval` and move the IP back if it wandered.

use std::{
    net::Ipv4Addr,
    time::{Duration, Instant},
};

use tracing::{error, info, warn};

use super::{
    InstanceInfo, Ownership,
    config::MigrateConfig,
    identity::Identity,
    reporter::{self, Confirm, Reporter, Step},
    retry::{Backoff, Disposition},
    stats::CloudStats,
    tencent::{
        ApiError, Client,
        api::{self, NetworkInterfaces},
    },
};
use crate::vrrp::State;

/// The provider's name.
pub const NAME: &str = "tencent-migrate-ip";

/// Reports one instance by moving its private IP.
#[derive(Debug)]
pub struct MigrateReporter {
    cfg: MigrateConfig,
    info: InstanceInfo,
    client: Client,
    identity: Identity,
    stats: CloudStats,
    my_eni: Option<String>,
    agreed: Option<Instant>,
}

impl MigrateReporter {
    /// A reporter for `cfg` on `info`.
    #[must_use]
    pub fn new(
        cfg: MigrateConfig,
        info: InstanceInfo,
        client: Client,
        identity: Identity,
        stats: CloudStats,
    ) -> Self {
        let my_eni = identity.configured_eni().map(str::to_owned);
        Self {
            cfg,
            info,
            client,
            identity,
            stats,
            my_eni,
            agreed: None,
        }
    }

    fn ip(&self) -> Option<Ipv4Addr> {
        self.cfg
            .private_ip
            .or_else(|| self.info.vips.first().copied())
    }

    fn backoff(&self) -> Backoff {
        Backoff::new(self.cfg.recheck_interval / 2, self.cfg.recheck_interval * 8)
    }

    async fn describe(
        &self,
        payload: &serde_json::Value,
        deadline: Instant,
    ) -> Result<NetworkInterfaces, ApiError> {
        let mut backoff = self.backoff();
        self.client
            .call_retrying::<NetworkInterfaces>(
                NAME,
                api::DESCRIBE_NETWORK_INTERFACES,
                payload,
                &mut backoff,
                Some(deadline),
            )
            .await
            .map(|a| a.body)
    }

    /// This node's ENI: configured, else the ENI of this instance with the interface's MAC.
    async fn my_eni(&mut self, deadline: Instant) -> Option<String> {
        if let Some(eni) = &self.my_eni {
            return Some(eni.clone());
        }
        let me = match self.identity.instance_id().await {
            Ok(me) => me,
            Err(e) => {
                error!(provider = NAME, instance = %self.info.name, error = %e, "node identity unknown");
                return None;
            }
        };
        let enis = match self
            .describe(&api::interfaces_of_instance(&me), deadline)
            .await
        {
            Ok(set) => set.network_interface_set.unwrap_or_default(),
            Err(e) => {
                warn!(provider = NAME, instance = %self.info.name, error = %e, "cannot list this node's ENIs");
                return None;
            }
        };
        let found = enis
            .iter()
            .find(|e| e.has_mac(self.info.mac))
            .or_else(|| (enis.len() == 1).then(|| &enis[0]))
            .and_then(|e| e.network_interface_id.clone());
        if let Some(eni) = &found {
            info!(provider = NAME, instance = %self.info.name, eni = %eni, "this node's ENI");
        } else {
            error!(provider = NAME, instance = %self.info.name, instance_id = %me,
                "no ENI of this instance has the VRRP interface's MAC; set cloud.node.network_interface_id");
        }
        self.my_eni.clone_from(&found);
        found
    }

    async fn confirm(&mut self, takeover: Instant, since: Instant, deadline: Instant) {
        let Some(ip) = self.ip() else {
            error!(provider = NAME, instance = %self.info.name, "no private IP to move");
            self.stats.report(NAME, &self.info.name, "failed");
            return;
        };
        reporter::confirm(self, ip, takeover, since, deadline).await;
    }
}

impl Confirm for MigrateReporter {
    type Target = Ipv4Addr;

    fn stats(&self) -> &CloudStats {
        &self.stats
    }

    fn recheck_interval(&self) -> Duration {
        self.cfg.recheck_interval
    }

    fn set_agreed(&mut self, takeover: Instant) {
        self.agreed = Some(takeover);
    }

    /// One look and, if needed, one move.
    async fn step(&mut self, ip: Ipv4Addr, deadline: Instant) -> Step {
        let Some(mine) = self.my_eni(deadline).await else {
            return Step::Stop;
        };
        let holder = match self.describe(&api::interfaces_with_ip(ip), deadline).await {
            Ok(set) => set
                .network_interface_set
                .unwrap_or_default()
                .into_iter()
                .find(|e| e.holds(ip))
                .and_then(|e| e.network_interface_id),
            Err(e) if e.disposition() == Disposition::GiveUp => return Step::Stop,
            Err(_) => return Step::Retry,
        };
        let source = match holder {
            Some(h) if h == mine => return Step::Agreed,
            Some(h) => h,
            None => {
                error!(provider = NAME, instance = %self.info.name, %ip,
                    "no ENI holds this private IP: assign it to one node as a secondary IP first");
                return Step::Stop;
            }
        };
        info!(provider = NAME, instance = %self.info.name, %ip, from = %source, to = %mine,
            "moving the private IP to this node");
        let mut backoff = self.backoff();
        let task = match self
            .client
            .call_retrying::<api::Empty>(
                NAME,
                api::MIGRATE_PRIVATE_IP_ADDRESS,
                &api::migrate_private_ip(&source, &mine, ip),
                &mut backoff,
                Some(deadline),
            )
            .await
        {
            Ok(a) => a.request_id,
            Err(e) if e.disposition() == Disposition::GiveUp => return Step::Stop,
            Err(_) => return Step::Retry,
        };
        match self
            .client
            .wait_task(NAME, &task, self.cfg.recheck_interval, deadline)
            .await
        {
            // Success or not, the next look at the ENIs says where the IP is: the task's
            // word alone is not taken for agreement.
            Ok(status) => {
                if status != api::TaskStatus::Success {
                    warn!(provider = NAME, instance = %self.info.name, %ip, ?status,
                        "the move did not complete");
                }
                Step::Retry
            }
            Err(_) => Step::Retry,
        }
    }

    fn log_agreed(&self, ip: Ipv4Addr, took: Duration) {
        info!(provider = NAME, instance = %self.info.name, %ip, took_ms = took.as_millis(),
            "cloud agrees: the private IP is on this node's ENI");
    }

    fn log_timeout(&self, ip: Ipv4Addr, waited: Duration) {
        error!(provider = NAME, instance = %self.info.name, %ip,
            waited_ms = waited.as_millis(),
            "the private IP is not on this node yet; reconciliation keeps trying");
    }
}

impl Reporter for MigrateReporter {
    fn provider(&self) -> &'static str {
        NAME
    }

    fn instance(&self) -> &str {
        &self.info.name
    }

    async fn apply(&mut self, change: &Ownership) {
        if change.state != State::Master {
            return;
        }
        let deadline = change.at + self.cfg.confirm_timeout;
        self.confirm(change.at, change.at, deadline).await;
    }

    fn reconcile_interval(&self, change: &Ownership) -> Option<Duration> {
        (change.state == State::Master).then_some(self.cfg.reconcile_interval)
    }

    async fn reconcile(&mut self, change: &Ownership) {
        let now = Instant::now();
        if self.agreed == Some(change.at) {
            let Some(ip) = self.ip() else { return };
            match self.step(ip, now + self.cfg.confirm_timeout).await {
                Step::Agreed => return,
                Step::Retry | Step::Stop => {
                    self.stats.report(NAME, &self.info.name, "disagreed");
                    warn!(provider = NAME, instance = %self.info.name, %ip,
                        "ALERT: this node is master but its private IP is elsewhere; moving it back");
                    self.agreed = None;
                }
            }
            self.confirm(change.at, now, now + self.cfg.confirm_timeout)
                .await;
        } else {
            self.confirm(change.at, change.at, now + self.cfg.confirm_timeout)
                .await;
        }
    }

    fn superseded(&mut self, _change: &Ownership) {
        self.stats.report(NAME, &self.info.name, "superseded");
    }
}
