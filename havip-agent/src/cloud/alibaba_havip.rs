//! Provider `alibaba-havip`: the VIP is an Alibaba Cloud `HaVip`. The `HaVip` answers on the
//! associated ECS instance whose gratuitous ARP it saw last (`MasterInstanceId` in
//! `DescribeHaVips`). After this node becomes master: associate the `HaVip` with this instance if
//! it is not (`AssociateHaVip`, asynchronous), with `exclusive` unassociate the others
//! (`UnassociateHaVip`), then check `DescribeHaVips` until this instance is the master,
//! asking the daemon to re-announce between checks. While master, re-check every
//! `reconcile_interval` and start over if the cloud shows another master.

use std::time::{Duration, Instant};

use tracing::{error, info, warn};

use super::{
    InstanceInfo, Ownership, Reannounce,
    alibaba::{self, Client, HaVip},
    config::providers::AlibabaHavipConfig,
    identity::Identity,
    reporter::{self, Confirm, Reporter, Step},
    retry::{Backoff, Disposition},
    stats::CloudStats,
};
use crate::vrrp::State;

/// The provider's name.
pub const NAME: &str = "alibaba-havip";

/// Reports one instance whose VIP is an Alibaba `HaVip`.
#[derive(Debug)]
pub struct AlibabaHavipReporter {
    cfg: AlibabaHavipConfig,
    info: InstanceInfo,
    client: Client,
    identity: Identity,
    reannounce: Reannounce,
    stats: CloudStats,
    agreed: Option<Instant>,
    /// When this node last asked for its association: the change is asynchronous, so it is not
    /// asked again while it may still be under way.
    associating_since: Option<Instant>,
}

impl AlibabaHavipReporter {
    /// A reporter for `cfg` on `info`.
    #[must_use]
    pub fn new(
        cfg: AlibabaHavipConfig,
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
            associating_since: None,
        }
    }

    /// How long an association may take before it is asked for again.
    fn association_wait(&self) -> Duration {
        (self.cfg.recheck_interval * 4).min(self.cfg.confirm_timeout / 2)
    }

    fn backoff(&self) -> Backoff {
        Backoff::new(self.cfg.recheck_interval / 2, self.cfg.recheck_interval * 8)
    }

    async fn change(
        &self,
        action: &str,
        me: &str,
        extra: &[(&str, &str)],
        deadline: Instant,
    ) -> Step {
        let mut params = vec![
            ("HaVipId", self.cfg.havip_id.as_str()),
            ("InstanceId", me),
            ("InstanceType", "EcsInstance"),
        ];
        params.extend_from_slice(extra);
        let mut backoff = self.backoff();
        match self
            .client
            .call_retrying::<serde_json::Value>(NAME, action, &params, &mut backoff, Some(deadline))
            .await
        {
            // Already (un)associated, maybe by an earlier call that looked lost: the next look
            // decides.
            Err(e) if e.code().is_some_and(|c| c.contains("Associated")) => Step::Retry,
            Err(e) if e.disposition() == Disposition::GiveUp => {
                error!(provider = NAME, instance = %self.info.name, havip_id = %self.cfg.havip_id,
                    action, code = e.code().unwrap_or("none"), error = %e, "HaVip change refused");
                Step::Stop
            }
            // Asynchronous: the next look says whether it took effect.
            Ok(_) | Err(_) => Step::Retry,
        }
    }

    async fn confirm(&mut self, takeover: Instant, since: Instant, deadline: Instant) {
        reporter::confirm(self, (), takeover, since, deadline).await;
    }
}

impl Confirm for AlibabaHavipReporter {
    type Target = ();

    fn stats(&self) -> &CloudStats {
        &self.stats
    }

    fn recheck_interval(&self) -> Duration {
        self.cfg.recheck_interval
    }

    fn set_agreed(&mut self, takeover: Instant) {
        self.agreed = Some(takeover);
    }

    async fn step(&mut self, (): (), deadline: Instant) -> Step {
        let me = match self.identity.instance_id().await {
            Ok(me) => me,
            Err(e) => {
                error!(provider = NAME, instance = %self.info.name, error = %e, "node identity unknown");
                return Step::Stop;
            }
        };
        let mut backoff = self.backoff();
        let havip: HaVip = match self
            .client
            .describe_ha_vip(NAME, &self.cfg.havip_id, &mut backoff, Some(deadline))
            .await
        {
            Ok(Some(h)) => h,
            Ok(None) => {
                error!(provider = NAME, instance = %self.info.name, havip_id = %self.cfg.havip_id,
                    "the HaVip does not exist in this region/account");
                return Step::Stop;
            }
            Err(e) if e.disposition() == Disposition::GiveUp => {
                error!(provider = NAME, instance = %self.info.name, havip_id = %self.cfg.havip_id,
                    code = e.code().unwrap_or("none"), error = %e, "cannot read the HaVip");
                return Step::Stop;
            }
            Err(_) => return Step::Retry,
        };
        let associated = havip.associated().contains(&me);
        if !associated {
            if self
                .associating_since
                .is_some_and(|t| t.elapsed() < self.association_wait())
            {
                return Step::Retry;
            }
            info!(provider = NAME, instance = %self.info.name, havip_id = %self.cfg.havip_id,
                "associating the HaVip with this instance");
            self.associating_since = Some(Instant::now());
            return self
                .change(alibaba::ASSOCIATE_HA_VIP, &me, &[], deadline)
                .await;
        }
        self.associating_since = None;
        if self.cfg.exclusive {
            for other in havip.associated().iter().filter(|i| **i != me) {
                info!(provider = NAME, instance = %self.info.name, havip_id = %self.cfg.havip_id,
                    from = %other, "unassociating the HaVip from the other instance");
                if let Step::Stop = self
                    .change(
                        alibaba::UNASSOCIATE_HA_VIP,
                        other,
                        &[("Force", "true")],
                        deadline,
                    )
                    .await
                {
                    return Step::Stop;
                }
            }
            if havip.associated().len() > 1 {
                return Step::Retry;
            }
        }
        if havip.master() == Some(me.as_str()) {
            Step::Agreed
        } else {
            info!(provider = NAME, instance = %self.info.name, havip_id = %self.cfg.havip_id,
                master = havip.master().unwrap_or("nothing"),
                "HaVip not on this node yet; re-announcing");
            self.reannounce.request();
            Step::Retry
        }
    }

    fn log_agreed(&self, (): (), took: Duration) {
        info!(provider = NAME, instance = %self.info.name, havip_id = %self.cfg.havip_id,
            took_ms = took.as_millis(), "cloud agrees: the HaVip answers on this node");
    }

    fn log_timeout(&self, (): (), waited: Duration) {
        error!(provider = NAME, instance = %self.info.name, havip_id = %self.cfg.havip_id,
            waited_ms = waited.as_millis(),
            "the HaVip is not on this node yet; reconciliation keeps trying");
    }
}

impl Reporter for AlibabaHavipReporter {
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
        if self.agreed != Some(change.at) {
            self.confirm(change.at, change.at, now + self.cfg.confirm_timeout)
                .await;
            return;
        }
        if let Step::Agreed = self.step((), now + self.cfg.confirm_timeout).await {
            return;
        }
        self.stats.report(NAME, &self.info.name, "disagreed");
        warn!(provider = NAME, instance = %self.info.name, havip_id = %self.cfg.havip_id,
            "ALERT: this node is master but the HaVip answers elsewhere; re-announcing");
        self.agreed = None;
        self.reannounce.request();
        self.confirm(change.at, now, now + self.cfg.confirm_timeout)
            .await;
    }

    fn superseded(&mut self, _change: &Ownership) {
        self.stats.report(NAME, &self.info.name, "superseded");
    }
}
