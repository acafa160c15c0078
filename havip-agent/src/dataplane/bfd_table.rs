//! The BFD tables of the XDP program, for the BFD thread: which neighbors' Control packets the
//! kernel validates (and whose Echo packets it reflects), and when it last saw a valid one.
//!
//! [`Dataplane::bfd_table`](super::Dataplane::bfd_table) hands out duplicated descriptors, so
//! the BFD thread reads and writes the maps without a lock on, or a message to, the event loop
//! (the same pattern as [`super::MapReader`] for metrics).

use std::net::Ipv4Addr;

use aya::maps::{HashMap, MapData};
use havip_common::{BfdPeer, BfdPeerKey, BfdRx, bfd_flags, map_names};

use super::DataplaneError;

/// One session as the kernel checks it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BfdNeighbor {
    /// The neighbor's address.
    pub addr: Ipv4Addr,
    /// The session's `bfd.LocalDiscr`.
    pub local_discr: u32,
    /// keepalived `max_hops` (255: no TTL check).
    pub max_hops: u8,
    /// Reflect the neighbor's Echo packets.
    pub echo: bool,
}

impl BfdNeighbor {
    /// The map value: RFC 5881 5's TTL 255, lowered by `max_hops` (0 when it is 255, keepalived's
    /// way of turning the check off).
    #[must_use]
    pub fn entry(&self) -> BfdPeer {
        BfdPeer {
            local_discr: self.local_discr,
            min_ttl: if self.max_hops == u8::MAX {
                0
            } else {
                u8::MAX - self.max_hops
            },
            flags: if self.echo { bfd_flags::ECHO } else { 0 },
            pad: [0; 2],
        }
    }
}

/// Handles on `HAVIP_BFD_PEERS` (agent-written) and `HAVIP_BFD_RX` (kernel-written).
pub struct BfdTable {
    peers: HashMap<MapData, BfdPeerKey, BfdPeer>,
    rx: HashMap<MapData, BfdPeerKey, BfdRx>,
}

impl std::fmt::Debug for BfdTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BfdTable").finish_non_exhaustive()
    }
}

fn key(addr: Ipv4Addr) -> BfdPeerKey {
    BfdPeerKey {
        addr: addr.octets(),
    }
}

impl BfdTable {
    /// Assembles the table from already duplicated maps.
    pub(super) fn new(
        peers: HashMap<MapData, BfdPeerKey, BfdPeer>,
        rx: HashMap<MapData, BfdPeerKey, BfdRx>,
    ) -> Self {
        Self { peers, rx }
    }

    /// Makes the kernel's neighbors exactly `neighbors`: entries a previous agent or
    /// configuration left are removed (their packets pass untouched again), the others written
    /// whole. A neighbor's receive record is kept, so a restarted agent's first deadline can
    /// still use it.
    pub fn set_all(&mut self, neighbors: &[BfdNeighbor]) -> Result<(), DataplaneError> {
        let stale: Vec<BfdPeerKey> = self
            .peers
            .keys()
            .filter_map(Result::ok)
            .filter(|k| neighbors.iter().all(|n| key(n.addr) != *k))
            .collect();
        for k in stale {
            self.peers
                .remove(&k)
                .map_err(|e| DataplaneError::map(map_names::BFD_PEERS, "remove", e))?;
            // Best effort: the record of a neighbor no longer configured is only a statistic.
            let _ = self.rx.remove(&k);
        }
        for n in neighbors {
            self.peers
                .insert(&key(n.addr), &n.entry(), 0)
                .map_err(|e| DataplaneError::map(map_names::BFD_PEERS, "insert", e))?;
        }
        Ok(())
    }

    /// What the kernel last recorded for `addr`: `None` before its first valid Control packet
    /// (or when the record cannot be read, which the caller treats the same way: no evidence).
    #[must_use]
    pub fn received(&self, addr: Ipv4Addr) -> Option<BfdRx> {
        self.rx.get(&key(addr), 0).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ttl_floor_follows_max_hops_and_255_turns_it_off() {
        let n = |max_hops, echo| BfdNeighbor {
            addr: Ipv4Addr::new(192, 0, 2, 12),
            local_discr: 7,
            max_hops,
            echo,
        };
        assert_eq!(
            n(0, true).entry(),
            BfdPeer {
                local_discr: 7,
                min_ttl: 255,
                flags: bfd_flags::ECHO,
                pad: [0; 2]
            },
            "RFC 5881 5: only 255"
        );
        assert_eq!(n(3, false).entry().min_ttl, 252);
        assert_eq!(n(3, false).entry().flags, 0);
        assert_eq!(n(255, false).entry().min_ttl, 0, "keepalived: no check");
    }
}
