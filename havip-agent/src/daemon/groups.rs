//! Sync groups (keepalived `vrrp_sync_group`) beside the instances: FAULT held across members
//! (see [`sync_faults`]) and the group's notify scripts, run when the group's state changes.
//!
//! The group's state: FAULT if a member is in FAULT, MASTER or BACKUP when every member is,
//! STOP (`Initialize`) when every member stopped; members in different states (one still
//! taking over) leave it unchanged.

use tokio::sync::mpsc;
use tracing::info;

use super::{DaemonError, addr_worker::AddrOp, instance::Runtime};
use crate::{
    config,
    dataplane::Dataplane,
    metrics::Metrics,
    notify::Notifier,
    vrrp::{self, Event, State},
};

/// While any member is in FAULT by its own tracking, every member is held in FAULT, so the
/// group's VIPs move to the peer together.
pub(super) fn sync_faults(
    cfg: &config::Config,
    runtimes: &mut [Runtime],
    t: vrrp::Instant,
    dp: &mut Dataplane,
    addr_tx: &mpsc::UnboundedSender<AddrOp>,
) {
    for g in &cfg.sync_groups {
        let member = |r: &Runtime| g.instances.iter().any(|n| n == r.name());
        let faulty = runtimes.iter().any(|r| member(r) && r.verdict.fault);
        for r in runtimes.iter_mut().filter(|r| member(r)) {
            r.set_group_fault(t, faulty, dp, addr_tx);
        }
    }
}

/// keepalived `vrrp_sync_group`: the members take over together and leave together. A member
/// is ready when it is MASTER or a backup whose timer fired; the gate of every member is open
/// only while all members are ready (so the last one to be ready releases them all at once),
/// and a master whose group is not all ready resigns (a member lost MASTER to a
/// higher-priority peer, or fell back for another reason). Repeats until nothing changes.
pub(super) fn sync_states(
    cfg: &config::Config,
    runtimes: &mut [Runtime],
    t: vrrp::Instant,
    dp: &mut Dataplane,
    addr_tx: &mpsc::UnboundedSender<AddrOp>,
) {
    let ready = |r: &Runtime| match r.fsm.state() {
        State::Master => true,
        State::Backup => r.fsm.wants_master(),
        State::Initialize | State::Fault => false,
    };
    // Each pass can only move members towards agreement; a few passes settle any group.
    for _ in 0..4 {
        let mut changed = false;
        for g in &cfg.sync_groups {
            let members: Vec<usize> = runtimes
                .iter()
                .enumerate()
                .filter(|(_, r)| g.instances.iter().any(|n| n == r.name()))
                .map(|(i, _)| i)
                .collect();
            if members.len() < 2 {
                continue;
            }
            let all_ready = members.iter().all(|&i| runtimes.get(i).is_some_and(ready));
            for &i in &members {
                let Some(r) = runtimes.get_mut(i) else {
                    continue;
                };
                if !all_ready && r.fsm.state() == State::Master {
                    info!(instance = r.name(), group = %g.name, "sync group: leaving MASTER with the group");
                    r.handle(t, Event::GroupResign, dp, addr_tx);
                    changed = true;
                }
                if r.fsm.gate_open() != all_ready {
                    r.handle(t, Event::Gate(all_ready), dp, addr_tx);
                    changed = true;
                }
            }
        }
        if !changed {
            return;
        }
    }
}

/// One group's notify scripts and the state they were last run for.
struct Group {
    members: Vec<String>,
    notifier: Notifier,
    state: Option<State>,
}

/// Every sync group with notify scripts.
pub(super) struct GroupNotify(Vec<Group>);

impl GroupNotify {
    /// Prepares the groups' notify commands.
    pub fn new(cfg: &config::Config, metrics: &Metrics) -> Result<Self, DaemonError> {
        let mut groups = Vec::new();
        for g in &cfg.sync_groups {
            let mut notifier =
                Notifier::for_group(g, &cfg.global).map_err(|e| DaemonError::Invalid {
                    instance: format!("vrrp_sync_group {}", g.name),
                    what: format!("notify: {e}"),
                })?;
            if notifier.is_empty() {
                continue;
            }
            notifier.export_to(metrics.clone());
            groups.push(Group {
                members: g.instances.clone(),
                notifier,
                state: None,
            });
        }
        Ok(Self(groups))
    }

    /// Runs the scripts of every group whose state changed.
    pub fn observe(&mut self, runtimes: &[Runtime]) {
        for g in &mut self.0 {
            let states: Vec<State> = runtimes
                .iter()
                .filter(|r| g.members.iter().any(|m| m == r.name()))
                .map(|r| r.fsm.state())
                .collect();
            let Some(&first) = states.first() else {
                continue;
            };
            let state = if states.contains(&State::Fault) {
                State::Fault
            } else if states.iter().all(|s| *s == first) {
                first
            } else {
                continue;
            };
            // A group that never ran has nothing to stop.
            if g.state != Some(state) && !(g.state.is_none() && state == State::Initialize) {
                info!(group = %g.notifier.name(), state = %state, "sync group state");
                g.state = Some(state);
                g.notifier.changed(state, 0);
            }
        }
    }

    /// Lets the scripts finish (at shutdown).
    pub async fn finish(&mut self, limit: std::time::Duration) {
        for g in &mut self.0 {
            g.notifier.finish(limit).await;
        }
    }
}
