//! Provider `tencent-havip`: the VIP is a Tencent Cloud HAVIP, which the VPC moves to the node
//! that announces it with gratuitous ARP (Tencent documents a switch of about 10 s). After this
//! node becomes master, ask `DescribeHaVips` until the HAVIP is bound to this node, asking the
//! daemon to re-announce between checks, and record how long the cloud took. While master,
//! re-check every `reconcile_interval`; if the cloud shows another node, say so loudly,
//! re-announce and wait for it again. Optionally keep an EIP associated with the HAVIP.

use std::time::{Duration, Instant};

use tracing::{error, info, warn};

use super::{
    InstanceInfo, Ownership, Reannounce,
    config::HavipConfig,
    identity::Identity,
    reporter::Reporter,
    retry::{Backoff, Disposition},
    stats::CloudStats,
    tencent::{
        Client,
        api::{self, HaVip, HaVips},
        pause,
    },
};
use crate::vrrp::State;

/// The provider's name.
pub const NAME: &str = "tencent-havip";

/// Reports one instance whose VIP is a HAVIP.
#[derive(Debug)]
pub struct HavipReporter {
    cfg: HavipConfig,
    info: InstanceInfo,
    client: Client,
    identity: Identity,
    reannounce: Reannounce,
    stats: CloudStats,
    /// The takeover (its `Ownership::at`) the cloud has agreed with.
    agreed: Option<Instant>,
}

/// Where the cloud has the HAVIP.
enum Binding {
    /// On this node.
    Here,
    /// Elsewhere (another instance, or unbound: `None`).
    Elsewhere(Option<String>),
}

/// Why a confirmation ended without agreement.
enum NotAgreed {
    /// Deadline passed (the API may be down, or the cloud slow).
    Timeout,
    /// Retrying cannot help.
    Failed,
}

impl HavipReporter {
    /// A reporter for `cfg` on `info`.
    #[must_use]
    pub fn new(
        cfg: HavipConfig,
        info: InstanceInfo,
        client: Client,
        identity: Identity,
        reannounce: Reannounce,
        stats: CloudStats,
    ) -> Self {
        Self {
            cfg,
            info,
            client,
            identity,
            reannounce,
            stats,
            agreed: None,
        }
    }

    /// One `DescribeHaVips` (retried until `deadline`), read as this node or elsewhere.
    async fn check(&self, deadline: Instant) -> Result<(Binding, HaVip), NotAgreed> {
        let me = self.identity.instance_id().await.map_err(|e| {
            error!(provider = NAME, instance = %self.info.name, error = %e, "node identity unknown");
            NotAgreed::Failed
        })?;
        let mut backoff =
            Backoff::new(self.cfg.recheck_interval / 2, self.cfg.recheck_interval * 8);
        let answer = self
            .client
            .call_retrying::<HaVips>(
                NAME,
                api::DESCRIBE_HA_VIPS,
                &api::describe_ha_vip(&self.cfg.havip_id),
                &mut backoff,
                Some(deadline),
            )
            .await
            .map_err(|e| {
                if e.disposition() == Disposition::GiveUp {
                    error!(provider = NAME, instance = %self.info.name, havip_id = %self.cfg.havip_id,
                        error = %e, "cannot read the HAVIP");
                    NotAgreed::Failed
                } else {
                    NotAgreed::Timeout
                }
            })?;
        let Some(havip) = answer
            .body
            .ha_vip_set
            .unwrap_or_default()
            .into_iter()
            .find(|h| h.ha_vip_id.as_deref() == Some(self.cfg.havip_id.as_str()))
        else {
            error!(provider = NAME, instance = %self.info.name, havip_id = %self.cfg.havip_id,
                "the HAVIP does not exist in this region/account");
            return Err(NotAgreed::Failed);
        };
        let here = match (self.identity.configured_eni(), havip.bound_eni()) {
            (Some(mine), Some(bound)) => mine == bound,
            _ => havip.bound_instance() == Some(me.as_str()),
        };
        let binding = if here {
            Binding::Here
        } else {
            Binding::Elsewhere(havip.bound_instance().map(str::to_owned))
        };
        Ok((binding, havip))
    }

    /// Checks until the HAVIP is bound here or `deadline` passes, re-announcing in between;
    /// records the time since `since` when the cloud agrees.
    async fn confirm(&mut self, takeover: Instant, since: Instant, deadline: Instant) {
        loop {
            match self.check(deadline).await {
                Ok((Binding::Here, havip)) => {
                    let took = since.elapsed();
                    self.agreed = Some(takeover);
                    self.stats.agreed(NAME, &self.info.name, took);
                    self.stats.report(NAME, &self.info.name, "agreed");
                    info!(
                        provider = NAME,
                        instance = %self.info.name,
                        havip_id = %self.cfg.havip_id,
                        took_ms = took.as_millis(),
                        "cloud agrees: the HAVIP is bound to this node"
                    );
                    self.ensure_eip(&havip).await;
                    return;
                }
                Ok((Binding::Elsewhere(owner), _)) => {
                    info!(
                        provider = NAME,
                        instance = %self.info.name,
                        havip_id = %self.cfg.havip_id,
                        bound_to = owner.as_deref().unwrap_or("nothing"),
                        "HAVIP not on this node yet; re-announcing"
                    );
                    self.reannounce.request();
                }
                Err(NotAgreed::Failed) => {
                    self.stats.report(NAME, &self.info.name, "failed");
                    return;
                }
                Err(NotAgreed::Timeout) => {}
            }
            if Instant::now() + self.cfg.recheck_interval > deadline {
                self.stats.report(NAME, &self.info.name, "timeout");
                error!(
                    provider = NAME,
                    instance = %self.info.name,
                    havip_id = %self.cfg.havip_id,
                    waited_ms = since.elapsed().as_millis(),
                    "the cloud has not bound the HAVIP to this node; reconciliation keeps trying"
                );
                return;
            }
            pause(self.cfg.recheck_interval).await;
        }
    }

    /// Associates the configured EIP with the HAVIP if it is not already.
    async fn ensure_eip(&self, havip: &HaVip) {
        let Some(eip) = self.cfg.eip else { return };
        if havip.eip() == Some(eip.to_string().as_str()) {
            return;
        }
        let deadline = Instant::now() + self.cfg.confirm_timeout;
        let mut backoff =
            Backoff::new(self.cfg.recheck_interval / 2, self.cfg.recheck_interval * 8);
        let answer = self
            .client
            .call_retrying::<api::Empty>(
                NAME,
                api::HA_VIP_ASSOCIATE_ADDRESS_IP,
                &api::associate_address_ip(&self.cfg.havip_id, eip),
                &mut backoff,
                Some(deadline),
            )
            .await;
        let task = match answer {
            Ok(a) => a.request_id,
            Err(e) => {
                error!(provider = NAME, instance = %self.info.name, %eip, error = %e,
                    "EIP association failed");
                return;
            }
        };
        match self
            .client
            .wait_task(NAME, &task, self.cfg.recheck_interval, deadline)
            .await
        {
            Ok(api::TaskStatus::Success) => {
                info!(provider = NAME, instance = %self.info.name, %eip, "EIP associated with the HAVIP");
            }
            Ok(status) => {
                warn!(provider = NAME, instance = %self.info.name, %eip, ?status,
                    "EIP association did not complete; reconciliation retries");
            }
            Err(e) => {
                warn!(provider = NAME, instance = %self.info.name, %eip, error = %e,
                    "EIP association unconfirmed; reconciliation retries");
            }
        }
    }
}

impl Reporter for HavipReporter {
    fn provider(&self) -> &'static str {
        NAME
    }

    fn instance(&self) -> &str {
        &self.info.name
    }

    async fn apply(&mut self, change: &Ownership) {
        if change.state != State::Master {
            // The new master's gratuitous ARP moves the HAVIP; a backup has nothing to say.
            return;
        }
        info!(provider = NAME, instance = %self.info.name, havip_id = %self.cfg.havip_id,
            "took over; waiting for the cloud to bind the HAVIP here");
        let deadline = change.at + self.cfg.confirm_timeout;
        self.confirm(change.at, change.at, deadline).await;
    }

    fn reconcile_interval(&self, change: &Ownership) -> Option<Duration> {
        (change.state == State::Master).then_some(self.cfg.reconcile_interval)
    }

    async fn reconcile(&mut self, change: &Ownership) {
        let deadline = Instant::now() + self.cfg.confirm_timeout;
        if self.agreed != Some(change.at) {
            // Not confirmed yet (API down or slow): keep the clock running from the takeover.
            self.confirm(change.at, change.at, deadline).await;
            return;
        }
        match self.check(deadline).await {
            Ok((Binding::Here, havip)) => self.ensure_eip(&havip).await,
            Ok((Binding::Elsewhere(owner), _)) => {
                self.stats.report(NAME, &self.info.name, "disagreed");
                warn!(
                    provider = NAME,
                    instance = %self.info.name,
                    havip_id = %self.cfg.havip_id,
                    bound_to = owner.as_deref().unwrap_or("nothing"),
                    "ALERT: this node is master but the cloud binds the HAVIP elsewhere; \
                     re-announcing"
                );
                self.agreed = None;
                self.reannounce.request();
                let now = Instant::now();
                self.confirm(change.at, now, now + self.cfg.confirm_timeout)
                    .await;
            }
            Err(_) => {}
        }
    }

    fn superseded(&mut self, _change: &Ownership) {
        self.stats.report(NAME, &self.info.name, "superseded");
    }
}
