//! Sync groups (keepalived's `vrrp_sync_group`, keepalived.conf(5)) as a sans-IO core beside the
//! state machine: the members' states go in, decisions come out (hold a member in FAULT, close or
//! open its gate, make it resign, the group's own state for its notify scripts). Nothing here
//! touches an instance; the daemon feeds the decisions back to the members' state machines as
//! [`Event::Fault`](super::Event::Fault), [`Event::Gate`](super::Event::Gate) and
//! [`Event::GroupResign`](super::Event::GroupResign).
//!
//! The rules (keepalived's semantics; VRRP itself, RFC 9568, has no groups):
//! - **FAULT together**: while any member is in FAULT by its own tracking, every member is held
//!   in FAULT, so the group's VIPs move to the peer together.
//! - **MASTER together**: a member is *ready* when it is MASTER or a BACKUP whose
//!   `Master_Down_Timer` fired (it wants to take over). Every member's gate is open only while
//!   all members are ready, so the last one to be ready releases them all at once; a MASTER whose
//!   group is not all ready resigns (a member lost MASTER to a higher-priority peer, or fell
//!   back for another reason). A group of one member is not gated.
//! - **The group's state** (for its notify scripts): FAULT if a member is in FAULT, MASTER or
//!   BACKUP when every member is, STOP (`Initialize`) when every member stopped; members in
//!   different states (one still taking over) leave it unchanged. A group that never ran has
//!   nothing to stop.

use super::State;

/// What the group needs to know about one member.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[expect(
    clippy::struct_excessive_bools,
    reason = "independent facts about a member, read straight from its state machine and tracking"
)]
pub struct Member {
    /// Its state.
    pub state: State,
    /// BACKUP whose `Master_Down_Timer` fired, held only by the gate.
    pub wants_master: bool,
    /// Whether its gate is open now.
    pub gate_open: bool,
    /// In FAULT by its own tracking.
    pub own_fault: bool,
    /// Held in FAULT by the group now.
    pub held: bool,
}

impl Member {
    const fn ready(self) -> bool {
        match self.state {
            State::Master => true,
            State::Backup => self.wants_master,
            State::Initialize | State::Fault => false,
        }
    }
}

/// A decision for the member at `member` (its position in the slice given).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Hold it in FAULT (`true`) or release it.
    Hold {
        /// Which member.
        member: usize,
        /// Held or not.
        fault: bool,
    },
    /// Leave MASTER with the group.
    Resign {
        /// Which member.
        member: usize,
    },
    /// Open or close its gate.
    Gate {
        /// Which member.
        member: usize,
        /// Open or not.
        open: bool,
    },
}

/// One sync group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncGroup {
    name: String,
    members: Vec<String>,
    /// The group state last reported ([`SyncGroup::observe`]).
    reported: Option<State>,
}

impl SyncGroup {
    /// The group `name` of the instances named `members`.
    #[must_use]
    pub fn new(name: impl Into<String>, members: Vec<String>) -> Self {
        Self {
            name: name.into(),
            members,
            reported: None,
        }
    }

    /// Its name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The names of its members, in configuration order.
    #[must_use]
    pub fn members(&self) -> &[String] {
        &self.members
    }

    /// Whether the instance `name` is a member.
    #[must_use]
    pub fn has(&self, name: &str) -> bool {
        self.members.iter().any(|m| m == name)
    }

    /// FAULT together: the members whose hold must change.
    #[must_use]
    pub fn faults(&self, members: &[Member]) -> Vec<Decision> {
        let faulty = members.iter().any(|m| m.own_fault);
        members
            .iter()
            .enumerate()
            .filter(|(_, m)| m.held != faulty)
            .map(|(member, _)| Decision::Hold {
                member,
                fault: faulty,
            })
            .collect()
    }

    /// MASTER together: resignations first, then gates, per member in order. Applying them
    /// changes the members' states, so the caller asks again until this returns nothing (each
    /// round only moves members towards agreement).
    #[must_use]
    pub fn settle(&self, members: &[Member]) -> Vec<Decision> {
        if members.len() < 2 {
            return Vec::new();
        }
        let all_ready = members.iter().all(|m| m.ready());
        let mut out = Vec::new();
        for (member, m) in members.iter().enumerate() {
            if !all_ready && m.state == State::Master {
                out.push(Decision::Resign { member });
            }
            if m.gate_open != all_ready {
                out.push(Decision::Gate {
                    member,
                    open: all_ready,
                });
            }
        }
        out
    }

    /// The group's state if it changed since the last call (for its notify scripts).
    pub fn observe(&mut self, states: &[State]) -> Option<State> {
        let &first = states.first()?;
        let state = if states.contains(&State::Fault) {
            State::Fault
        } else if states.iter().all(|s| *s == first) {
            first
        } else {
            return None;
        };
        let never_ran = self.reported.is_none() && state == State::Initialize;
        if self.reported == Some(state) || never_ran {
            return None;
        }
        self.reported = Some(state);
        Some(state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(state: State) -> Member {
        Member {
            state,
            wants_master: false,
            gate_open: true,
            own_fault: false,
            held: false,
        }
    }

    fn group() -> SyncGroup {
        SyncGroup::new("G", vec!["VI_1".into(), "VI_2".into()])
    }

    #[test]
    fn one_member_in_fault_holds_the_others_and_releases_them_when_it_clears() {
        let g = group();
        let mut a = m(State::Master);
        let b = m(State::Master);
        a.own_fault = true;
        assert_eq!(
            g.faults(&[a, b]),
            [
                Decision::Hold {
                    member: 0,
                    fault: true
                },
                Decision::Hold {
                    member: 1,
                    fault: true
                }
            ]
        );
        // Already held: nothing more.
        let (mut a2, mut b2) = (a, b);
        a2.held = true;
        b2.held = true;
        assert_eq!(g.faults(&[a2, b2]), []);
        // Cleared: both released.
        a2.own_fault = false;
        assert_eq!(
            g.faults(&[a2, b2]),
            [
                Decision::Hold {
                    member: 0,
                    fault: false
                },
                Decision::Hold {
                    member: 1,
                    fault: false
                }
            ]
        );
    }

    #[test]
    fn backups_are_held_until_every_member_wants_master() {
        let g = group();
        // Gates start open; a BACKUP whose timer fired while the other still waits: close both.
        let mut a = m(State::Backup);
        a.wants_master = true;
        let b = m(State::Backup);
        assert_eq!(
            g.settle(&[a, b]),
            [
                Decision::Gate {
                    member: 0,
                    open: false
                },
                Decision::Gate {
                    member: 1,
                    open: false
                }
            ]
        );
        // The second is ready too: both gates open at once.
        let (mut a, mut b) = (a, b);
        a.gate_open = false;
        b.gate_open = false;
        b.wants_master = true;
        assert_eq!(
            g.settle(&[a, b]),
            [
                Decision::Gate {
                    member: 0,
                    open: true
                },
                Decision::Gate {
                    member: 1,
                    open: true
                }
            ]
        );
    }

    #[test]
    fn a_master_resigns_when_another_member_falls_back() {
        let g = group();
        let a = m(State::Master);
        let b = m(State::Backup);
        assert_eq!(
            g.settle(&[a, b]),
            [
                Decision::Resign { member: 0 },
                Decision::Gate {
                    member: 0,
                    open: false
                },
                Decision::Gate {
                    member: 1,
                    open: false
                }
            ]
        );
        // Both MASTER with open gates: settled.
        assert_eq!(g.settle(&[m(State::Master), m(State::Master)]), []);
    }

    #[test]
    fn a_group_of_one_is_not_gated() {
        let g = SyncGroup::new("G", vec!["VI_1".into()]);
        assert_eq!(g.settle(&[m(State::Backup)]), []);
    }

    #[test]
    fn the_group_state_follows_its_members() {
        let mut g = group();
        // Never ran: no STOP.
        assert_eq!(g.observe(&[State::Initialize, State::Initialize]), None);
        assert_eq!(
            g.observe(&[State::Backup, State::Backup]),
            Some(State::Backup)
        );
        assert_eq!(g.observe(&[State::Backup, State::Backup]), None);
        // Members disagree while one takes over: unchanged.
        assert_eq!(g.observe(&[State::Master, State::Backup]), None);
        assert_eq!(
            g.observe(&[State::Master, State::Master]),
            Some(State::Master)
        );
        assert_eq!(
            g.observe(&[State::Master, State::Fault]),
            Some(State::Fault)
        );
        assert_eq!(
            g.observe(&[State::Initialize, State::Initialize]),
            Some(State::Initialize)
        );
        assert_eq!(g.observe(&[]), None);
    }
}
