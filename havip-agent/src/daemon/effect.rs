//! What the daemon does for each action of the state machine, decided without doing it: an
//! [`Action`] becomes a short list of [`Effect`]s, in the order ARCHITECTURE.md fixes for
//! ownership changes (take over = priority and grant with lease in the map, then addresses, then
//! GARP; resign = revoke in the map, then remove addresses). The instance runtime carries them out.

use std::{net::IpAddr, time::Duration};

use crate::vrrp::{Action, AdvertRejected, Reason, State};

/// One thing to do for an instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Send an advert with this priority to every destination.
    SendAdvert {
        /// Advertised priority.
        priority: u8,
    },
    /// Write the effective priority into the kernel's VRID state (the fast switch compares it).
    WritePriority,
    /// Grant ownership in the map, with a fresh lease.
    Grant,
    /// Extend the lease of the current grant.
    RenewLease,
    /// Clear ownership in the map.
    Revoke,
    /// Add the VIP addresses (address worker).
    AddAddresses,
    /// Remove the VIP addresses (address worker).
    RemoveAddresses,
    /// Send one round of gratuitous ARP.
    SendGarp,
    /// Log and publish a state change.
    StateChanged {
        /// From.
        from: State,
        /// To.
        to: State,
        /// Why.
        reason: Reason,
    },
    /// Count and (rate limited) log a rejected advert.
    Rejected(AdvertRejected),
    /// Count and (rate limited) log a clamped learned interval.
    Clamped {
        /// Sender.
        src: IpAddr,
        /// What it advertised.
        advertised: Duration,
        /// What was learned.
        learned: Duration,
    },
    /// Count a rate-limited GARP burst.
    GarpSuppressed,
}

/// The effects of `action`; address effects only when the agent manages addresses.
#[must_use]
pub fn plan(action: Action, manage_addresses: bool) -> Vec<Effect> {
    match action {
        // RFC 9568 6.4.3: the master's advert; the lease is renewed by its own action.
        Action::SendAdvert { priority } => vec![Effect::SendAdvert { priority }],
        Action::RenewLease => vec![Effect::RenewLease],
        Action::TakeOwnership => {
            let mut v = vec![Effect::WritePriority, Effect::Grant];
            if manage_addresses {
                v.push(Effect::AddAddresses);
            }
            v
        }
        Action::ReleaseOwnership => {
            let mut v = vec![Effect::Revoke];
            if manage_addresses {
                v.push(Effect::RemoveAddresses);
            }
            v
        }
        Action::SendGarp => vec![Effect::SendGarp],
        Action::GarpSuppressed => vec![Effect::GarpSuppressed],
        Action::AdvertRejected(r) => vec![Effect::Rejected(r)],
        Action::IntervalClamped {
            src,
            advertised,
            learned,
        } => vec![Effect::Clamped {
            src,
            advertised,
            learned,
        }],
        Action::StateChanged { from, to, reason } => {
            vec![Effect::StateChanged { from, to, reason }]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn take_over_is_map_then_address_and_resign_is_the_reverse() {
        assert_eq!(
            plan(Action::TakeOwnership, true),
            [Effect::WritePriority, Effect::Grant, Effect::AddAddresses]
        );
        assert_eq!(
            plan(Action::ReleaseOwnership, true),
            [Effect::Revoke, Effect::RemoveAddresses]
        );
        assert_eq!(
            plan(Action::TakeOwnership, false),
            [Effect::WritePriority, Effect::Grant]
        );
        assert_eq!(plan(Action::ReleaseOwnership, false), [Effect::Revoke]);
    }

    #[test]
    fn the_lease_is_renewed_by_its_action_only() {
        assert_eq!(
            plan(Action::SendAdvert { priority: 100 }, true),
            [Effect::SendAdvert { priority: 100 }]
        );
        assert_eq!(plan(Action::RenewLease, true), [Effect::RenewLease]);
    }

    #[test]
    fn notices_are_passed_on() {
        let r = AdvertRejected::OwnAddress {
            vrid: 51,
            src: std::net::Ipv4Addr::new(192, 0, 2, 11).into(),
        };
        assert_eq!(plan(Action::AdvertRejected(r), true), [Effect::Rejected(r)]);
        assert_eq!(plan(Action::GarpSuppressed, true), [Effect::GarpSuppressed]);
    }
}
