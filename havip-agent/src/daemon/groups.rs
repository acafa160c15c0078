//! Sync groups in the daemon: reads the members' states for the sans-IO core
//! ([`crate::vrrp::sync_group`]) and feeds its decisions back to the members' state machines;
//! the group's state changes are published as events (the notify subscriber runs the group's
//! scripts).

use tokio::sync::mpsc;
use tracing::info;

use super::{addr_worker::AddrOp, instance::Runtime};
use crate::{
    config,
    dataplane::Dataplane,
    events::Event,
    vrrp::{
        self, Event as FsmEvent,
        sync_group::{Decision, Member, SyncGroup},
    },
};

/// Every configured sync group.
pub(super) struct Groups(Vec<SyncGroup>);

/// Positions in `runtimes` of `g`'s running members, in the group's order.
fn members_of(g: &SyncGroup, runtimes: &[Runtime]) -> Vec<usize> {
    g.members()
        .iter()
        .filter_map(|n| runtimes.iter().position(|r| r.name() == n))
        .collect()
}

fn member(r: &Runtime) -> Member {
    Member {
        state: r.fsm.state(),
        wants_master: r.fsm.wants_master(),
        gate_open: r.fsm.gate_open(),
        own_fault: r.verdict.fault,
        held: r.group_fault(),
    }
}

impl Groups {
    /// The groups of `cfg`.
    pub fn new(cfg: &config::Config) -> Self {
        Self(
            cfg.sync_groups
                .iter()
                .map(|g| SyncGroup::new(g.name.clone(), g.instances.clone()))
                .collect(),
        )
    }

    /// FAULT together (see [`SyncGroup::faults`]).
    pub fn sync_faults(
        &self,
        runtimes: &mut [Runtime],
        t: vrrp::Instant,
        dp: &mut Dataplane,
        addr_tx: &mpsc::UnboundedSender<AddrOp>,
    ) {
        for g in &self.0 {
            let idx = members_of(g, runtimes);
            let views: Vec<Member> = idx
                .iter()
                .filter_map(|&i| runtimes.get(i).map(member))
                .collect();
            for d in g.faults(&views) {
                if let Decision::Hold { member, fault } = d
                    && let Some(r) = idx.get(member).and_then(|&i| runtimes.get_mut(i))
                {
                    r.set_group_fault(t, fault, dp, addr_tx);
                }
            }
        }
    }

    /// MASTER together (see [`SyncGroup::settle`]); repeats until the core asks for nothing.
    pub fn sync_states(
        &self,
        runtimes: &mut [Runtime],
        t: vrrp::Instant,
        dp: &mut Dataplane,
        addr_tx: &mpsc::UnboundedSender<AddrOp>,
    ) {
        // Each round only moves members towards agreement; a few settle any group.
        for _ in 0..4 {
            let mut changed = false;
            for g in &self.0 {
                let idx = members_of(g, runtimes);
                let views: Vec<Member> = idx
                    .iter()
                    .filter_map(|&i| runtimes.get(i).map(member))
                    .collect();
                for d in g.settle(&views) {
                    let (m, event) = match d {
                        Decision::Resign { member } => (member, FsmEvent::GroupResign),
                        Decision::Gate { member, open } => (member, FsmEvent::Gate(open)),
                        Decision::Hold { .. } => continue,
                    };
                    let Some(r) = idx.get(m).and_then(|&i| runtimes.get_mut(i)) else {
                        continue;
                    };
                    if event == FsmEvent::GroupResign {
                        info!(instance = r.name(), group = %g.name(), "sync group: leaving MASTER with the group");
                    }
                    r.handle(t, event, dp, addr_tx);
                    changed = true;
                }
            }
            if !changed {
                return;
            }
        }
    }

    /// The groups whose state changed since the last call, as events.
    pub fn observe(&mut self, runtimes: &[Runtime]) -> Vec<Event> {
        let mut out = Vec::new();
        for g in &mut self.0 {
            let states: Vec<_> = members_of(g, runtimes)
                .iter()
                .filter_map(|&i| runtimes.get(i).map(|r| r.fsm.state()))
                .collect();
            if let Some(state) = g.observe(&states) {
                info!(group = %g.name(), state = %state, "sync group state");
                out.push(Event::GroupStateChanged {
                    group: g.name().to_owned(),
                    state,
                });
            }
        }
        out
    }
}
