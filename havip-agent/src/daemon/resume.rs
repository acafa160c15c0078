//! Starting an instance where a previous agent left it, and leaving it for the next one
//! (issue #14): the decision between [`Event::Resume`] and [`Event::Startup`], the record the
//! agent keeps in the kernel for its successor, and the lease of a planned restart.

use std::{net::IpAddr, time::Duration};

use havip_common::{AgentRecord, Vip6Key, VipKey, VridKey, agent_state};
use tokio::sync::mpsc;
use tracing::{info, warn};

use super::{addr_worker::AddrOp, instance::Runtime};
use crate::{
    clock::monotonic_ns,
    dataplane::{Dataplane, Inherited},
    vrrp::{
        self, Event, Resume, State,
        rule::{abi_addr, ip_from_abi},
    },
};

/// How an instance was started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Start {
    /// Resumed as master: the previous agent's grant was live.
    ResumedMaster,
    /// Resumed as backup.
    ResumedBackup,
    /// A normal start; `why` says why nothing was resumed.
    Fresh {
        /// Why.
        why: &'static str,
    },
}

/// The record of an instance in `state` with `master`, `learned` interval and `priority`.
#[must_use]
pub fn record_of(
    state: State,
    master: Option<(IpAddr, u8)>,
    learned: Duration,
    priority: u8,
    now_ns: u64,
) -> AgentRecord {
    let (addr, prio) = master.map_or(([0; 16], 0), |(a, p)| (abi_addr(a), p));
    AgentRecord {
        state: match state {
            State::Initialize => agent_state::INIT,
            State::Backup => agent_state::BACKUP,
            State::Master => agent_state::MASTER,
            State::Fault => agent_state::FAULT,
        },
        priority,
        master_priority: prio,
        master_addr: addr,
        learned_interval_ns: u64::try_from(learned.as_nanos()).unwrap_or(u64::MAX),
        updated_ns: now_ns,
        ..AgentRecord::default()
    }
}

/// What to do with an instance the kernel still knows: resume it, or start it as usual and why.
#[must_use]
pub fn decide(inherited: Option<&Inherited>, now_ns: u64) -> (Option<Resume>, &'static str) {
    let Some(inh) = inherited else {
        return (None, "nothing inherited");
    };
    let Some(rec) = inh.record else {
        return (None, "no record from a previous agent");
    };
    if inh.owned_at(now_ns) {
        return (Some(Resume::Master), "");
    }
    if inh.state.grant_epoch != 0 {
        return (
            None,
            if inh.fence_epoch == inh.state.grant_epoch {
                "the previous grant was fenced by a peer"
            } else {
                "the previous grant's lease ran out"
            },
        );
    }
    if rec.state != agent_state::BACKUP {
        return (None, "the previous agent was neither master nor backup");
    }
    let master =
        (rec.master_priority != 0).then(|| (ip_from_abi(rec.master_addr), rec.master_priority));
    let last_advert = inh
        .last_advert
        .map(|(ns, _)| vrrp::Instant::from_nanos(ns.min(now_ns)));
    (
        Some(Resume::Backup {
            master,
            last_advert,
            learned_interval: Duration::from_nanos(rec.learned_interval_ns),
        }),
        "",
    )
}

/// The (interface, VRID) of every instance and every VIP they configure: what an adopted data
/// plane keeps; the rest belonged to a configuration that has changed since.
#[must_use]
pub fn configured_keys(runtimes: &[Runtime]) -> (Vec<VridKey>, Vec<VipKey>, Vec<Vip6Key>) {
    let vrids = runtimes
        .iter()
        .map(|r| r.vrid().key(r.iface.index))
        .collect();
    let vips = runtimes
        .iter()
        .flat_map(|r| r.vips.iter())
        .filter_map(|v| match v.addr {
            IpAddr::V4(a) => Some(VipKey {
                ifindex: v.ifindex,
                addr: a.octets(),
            }),
            IpAddr::V6(_) => None,
        })
        .collect();
    let vips6 = runtimes
        .iter()
        .flat_map(|r| r.vips.iter())
        .filter_map(|v| match v.addr {
            IpAddr::V6(a) => Some(Vip6Key {
                ifindex: v.ifindex,
                addr: a.octets(),
            }),
            IpAddr::V4(_) => None,
        })
        .collect();
    (vrids, vips, vips6)
}

impl Runtime {
    /// Starts the instance: resumed when the kernel holds what the previous agent left, else
    /// [`Event::Startup`] (after revoking a stale grant and removing left-over addresses).
    pub fn start(
        &mut self,
        now: vrrp::Instant,
        dp: &mut Dataplane,
        addr_tx: &mpsc::UnboundedSender<AddrOp>,
    ) -> Start {
        let (ifindex, vrid) = (self.iface.index, self.vrid());
        let (resume, why) = decide(self.inherited.as_ref(), now.as_nanos());
        if let Some(r) = resume {
            if r != Resume::Master {
                self.clear_addresses(addr_tx);
            }
            self.handle(now, Event::Resume(r), dp, addr_tx);
            let started = if self.fsm.state() == State::Master {
                Start::ResumedMaster
            } else {
                Start::ResumedBackup
            };
            // What was left of the previous agent's lease: a planned restart's margin.
            let lease_left = self.inherited.as_ref().map(|i| {
                Duration::from_nanos(i.state.lease_until_ns.saturating_sub(now.as_nanos()))
            });
            info!(instance = self.name(), state = %self.fsm.state(), lease_left = ?lease_left, "resumed where the previous agent left it");
            started
        } else {
            if self
                .inherited
                .as_ref()
                .is_some_and(|i| i.state.grant_epoch != 0)
                && let Err(e) = dp.revoke(ifindex, vrid)
            {
                warn!(instance = self.name(), error = %e, "revoking the previous grant failed");
            }
            if self.inherited.as_ref().is_some() {
                info!(instance = self.name(), why, "not resumed: normal start");
            }
            self.clear_addresses(addr_tx);
            self.handle(now, Event::Startup, dp, addr_tx);
            Start::Fresh { why }
        }
    }

    /// Whether [`Self::start`] at `now` resumes the instance (the previous agent left it live).
    #[must_use]
    pub fn resumes(&self, now: vrrp::Instant) -> bool {
        decide(self.inherited.as_ref(), now.as_nanos()).0.is_some()
    }

    /// Tells the peers that whatever the previous agent held is given up (RFC 9568 6.4.3: a
    /// priority-0 advert makes a backup take over after `Skew_Time`), when its data plane could
    /// not be taken over (another ABI): the fresh program already replaced the old one, so the
    /// VIP is not answered here any more, and waiting for the peers' `Master_Down_Interval`
    /// would only lengthen the gap. A peer that is master answers with an advert at once.
    pub fn hand_over_unadopted(&mut self) {
        let advert = self.fsm.advert(0);
        self.send_advert(&advert);
        info!(
            instance = self.name(),
            "sent a priority-0 advert for the previous agent"
        );
    }

    /// Leaves the instance for the next agent (planned restart): a master sends one more
    /// advert and sets its lease to 3 advert intervals, which ends before any peer's
    /// `Master_Down_Interval` (3 intervals + `Skew_Time`, counted from that advert's arrival)
    /// does: a successor that is too late lets the kernel stop answering first, and the peer
    /// then takes over normally. Nothing is resigned, no address removed.
    pub fn hand_over(&mut self, dp: &mut Dataplane) -> Option<Duration> {
        self.write_record(dp);
        if self.fsm.state() != State::Master {
            return None;
        }
        let (ifindex, vrid) = (self.iface.index, self.vrid());
        let lease = self.fsm.params().advert_interval.saturating_mul(3);
        let advert = self.fsm.advert(self.fsm.effective_priority());
        self.send_advert(&advert);
        if let Err(e) = dp.renew(ifindex, vrid, lease) {
            warn!(instance = self.name(), error = %e, "extending the lease for the restart failed");
            return None;
        }
        Some(lease)
    }

    /// Writes this instance's record for a successor when it changed.
    pub(super) fn write_record(&mut self, dp: &mut Dataplane) {
        let f = &self.fsm;
        let rec = record_of(
            f.state(),
            f.master(),
            f.learned_master_interval(),
            f.effective_priority(),
            0,
        );
        if self.record == Some(rec) {
            return;
        }
        let stamped = AgentRecord {
            updated_ns: monotonic_ns(),
            ..rec
        };
        let (ifindex, vrid) = (self.iface.index, f.params().vrid);
        match dp.write_record(ifindex, vrid, &stamped) {
            Ok(()) => self.record = Some(rec),
            Err(e) => {
                warn!(instance = self.name(), error = %e, "writing the restart record failed");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use havip_common::VridState;

    use super::*;

    const NOW: u64 = 10_000_000_000;

    fn inherited(state: VridState, fence: u64, rec: u8) -> Inherited {
        Inherited {
            state,
            fence_epoch: fence,
            record: Some(AgentRecord {
                state: rec,
                master_addr: havip_common::v4_mapped([192, 0, 2, 12]),
                master_priority: 150,
                learned_interval_ns: 100_000_000,
                ..AgentRecord::default()
            }),
            last_advert: Some((NOW - 50_000_000, Ipv4Addr::new(192, 0, 2, 12).into())),
        }
    }

    fn granted(lease_until_ns: u64) -> VridState {
        VridState {
            grant_epoch: 7,
            lease_until_ns,
            ..VridState::default()
        }
    }

    #[test]
    fn a_live_unfenced_grant_resumes_as_master() {
        let i = inherited(granted(NOW + 1), 0, agent_state::MASTER);
        assert_eq!(decide(Some(&i), NOW).0, Some(Resume::Master));
    }

    #[test]
    fn an_expired_or_fenced_grant_starts_normally() {
        let expired = inherited(granted(NOW), 0, agent_state::MASTER);
        assert_eq!(
            decide(Some(&expired), NOW),
            (None, "the previous grant's lease ran out")
        );
        let fenced = inherited(granted(NOW + 1), 7, agent_state::MASTER);
        assert_eq!(
            decide(Some(&fenced), NOW),
            (None, "the previous grant was fenced by a peer")
        );
    }

    #[test]
    fn a_backup_resumes_from_the_last_recorded_advert() {
        let i = inherited(VridState::default(), 0, agent_state::BACKUP);
        assert_eq!(
            decide(Some(&i), NOW).0,
            Some(Resume::Backup {
                master: Some((Ipv4Addr::new(192, 0, 2, 12).into(), 150)),
                last_advert: Some(vrrp::Instant::from_nanos(NOW - 50_000_000)),
                learned_interval: Duration::from_millis(100),
            })
        );
    }

    #[test]
    fn nothing_inherited_or_no_record_starts_normally() {
        assert_eq!(decide(None, NOW).0, None);
        let mut i = inherited(granted(NOW + 1), 0, agent_state::MASTER);
        i.record = None;
        assert_eq!(decide(Some(&i), NOW).0, None);
        let init = inherited(VridState::default(), 0, agent_state::INIT);
        assert_eq!(decide(Some(&init), NOW).0, None);
    }
}
