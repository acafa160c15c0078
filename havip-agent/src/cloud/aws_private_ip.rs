//! Provider `aws-private-ip`: the VIP is a secondary private IP of one node's ENI. After this node
//! becomes master it reassigns the IP to its own ENI with `AssignPrivateIpAddresses` and
//! `AllowReassignment=true` (EC2 moves it from the old holder in the same call), then checks
//! `DescribeNetworkInterfaces` until the IP is on this ENI. This node's ENI: configured, else the
//! one `IMDSv2` lists for the VRRP interface's MAC. While master, re-check every
//! `reconcile_interval` and reassign if the IP wandered.

use std::{
    net::Ipv4Addr,
    time::{Duration, Instant},
};

use tracing::{error, info, warn};

use super::{
    InstanceInfo, Ownership,
    aws::{self, Client},
    config::providers::AwsPrivateIpConfig,
    identity::Identity,
    reporter::{self, Confirm, Reporter, Step},
    retry::{Backoff, Disposition},
    stats::CloudStats,
};
use crate::vrrp::State;

/// The provider's name.
pub const NAME: &str = "aws-private-ip";

/// Reports one instance by reassigning its private IP.
#[derive(Debug)]
pub struct AwsPrivateIpReporter {
    cfg: AwsPrivateIpConfig,
    info: InstanceInfo,
    client: Client,
    identity: Identity,
    stats: CloudStats,
    my_eni: Option<String>,
    agreed: Option<Instant>,
}

impl AwsPrivateIpReporter {
    /// A reporter for `cfg` on `info`.
    #[must_use]
    pub fn new(
        cfg: AwsPrivateIpConfig,
        info: InstanceInfo,
        client: Client,
        identity: Identity,
        stats: CloudStats,
    ) -> Self {
        Self {
            cfg,
            info,
            client,
            identity,
            stats,
            my_eni: None,
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

    async fn my_eni(&mut self) -> Option<String> {
        if let Some(eni) = &self.my_eni {
            return Some(eni.clone());
        }
        match self.identity.eni_of_mac(self.info.mac).await {
            Ok(eni) => {
                info!(provider = NAME, instance = %self.info.name, eni = %eni, "this node's ENI");
                self.my_eni = Some(eni.clone());
                Some(eni)
            }
            Err(e) => {
                error!(provider = NAME, instance = %self.info.name, error = %e,
                    "this node's ENI is unknown; set cloud.node.network_interface_id");
                None
            }
        }
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

impl Confirm for AwsPrivateIpReporter {
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

    async fn step(&mut self, ip: Ipv4Addr, deadline: Instant) -> Step {
        let Some(mine) = self.my_eni().await else {
            return Step::Retry;
        };
        let mut backoff = self.backoff();
        let holder = match self
            .client
            .enis_with_ip(NAME, ip, &mut backoff, Some(deadline))
            .await
        {
            Ok(enis) => enis.into_iter().find(|e| e.ips.contains(&ip)).map(|e| e.id),
            Err(e) if e.disposition() == Disposition::GiveUp => {
                error!(provider = NAME, instance = %self.info.name, %ip,
                    code = e.code().unwrap_or("none"), error = %e, "cannot look the IP up");
                return Step::Stop;
            }
            Err(_) => return Step::Retry,
        };
        if holder.as_deref() == Some(mine.as_str()) {
            return Step::Agreed;
        }
        info!(provider = NAME, instance = %self.info.name, %ip,
            from = holder.as_deref().unwrap_or("nothing"), to = %mine,
            "reassigning the private IP to this node");
        let ip_text = ip.to_string();
        let params = [
            ("NetworkInterfaceId", mine.as_str()),
            ("PrivateIpAddress.1", ip_text.as_str()),
            ("AllowReassignment", "true"),
        ];
        let mut backoff = self.backoff();
        match self
            .client
            .call_retrying(
                NAME,
                aws::ASSIGN_PRIVATE_IP_ADDRESSES,
                &params,
                &mut backoff,
                Some(deadline),
            )
            .await
        {
            Err(e) if e.disposition() == Disposition::GiveUp => {
                error!(provider = NAME, instance = %self.info.name, %ip,
                    code = e.code().unwrap_or("none"), error = %e, "reassignment refused");
                Step::Stop
            }
            // The next look says where the IP is: the call's word alone is not agreement.
            Ok(_) | Err(_) => Step::Retry,
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

impl Reporter for AwsPrivateIpReporter {
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
            if let Step::Agreed = self.step(ip, now + self.cfg.confirm_timeout).await {
                return;
            }
            self.stats.report(NAME, &self.info.name, "disagreed");
            warn!(provider = NAME, instance = %self.info.name, %ip,
                "ALERT: this node is master but its private IP is elsewhere; reassigning it");
            self.agreed = None;
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
