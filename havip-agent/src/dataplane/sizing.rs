//! How big the kernel tables are made: what a configuration needs, and the sizes the maps get
//! when the object is loaded (one rule, used by the daemon at start, by a reload to decide
//! whether the new configuration still fits, and by `check-config`).
//!
//! Rule: every table that grows with the configuration gets **twice** what the configuration
//! needs (room for a reload that adds instances), never less than the object's declared size
//! (`havip_common::capacity::VIPS`, ...) and never more than its `MAX_*` limit. A configuration
//! needing more than a `MAX_*` limit cannot run and is refused before anything is loaded.

use std::collections::HashSet;

use havip_common::{VipCounters, capacity, map_names};

use tracing::info;

use crate::config::Config;

/// Entries a configuration needs in each table that grows with it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Needs {
    /// VIP table keys: distinct (answering interface, address) pairs.
    pub vips: u32,
    /// VRRP instances (interface, VRID).
    pub vrids: u32,
    /// Unicast peers over all instances.
    pub allowed_peers: u32,
}

impl Needs {
    /// What `cfg` needs. A VIP with `dev OTHER` is answered on `OTHER`, so it is counted there;
    /// the same address on one interface in two instances shares one entry.
    #[must_use]
    pub fn of(cfg: &Config) -> Self {
        let mut vips: HashSet<(&str, std::net::IpAddr)> = HashSet::new();
        let mut allowed = 0usize;
        for inst in &cfg.instances {
            for v in &inst.virtual_ipaddresses {
                vips.insert((v.dev.as_deref().unwrap_or(&inst.interface), v.address));
            }
            allowed += inst.unicast_peers.len();
        }
        Self {
            vips: saturate(vips.len()),
            vrids: saturate(cfg.instances.len()),
            allowed_peers: saturate(allowed),
        }
    }

    /// Peer records worth keeping: one per unicast peer, plus one per instance for a multicast
    /// instance's (usually single) peer.
    const fn peers(&self) -> u32 {
        self.allowed_peers.saturating_add(self.vrids)
    }
}

fn saturate(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// One table that is over a limit: which, what is needed, what there is.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{what}: the configuration needs {needed}, {place} holds {capacity}{hint}")]
pub struct OverCapacity {
    /// The table, in words ("VIPs (distinct address and interface pairs)").
    pub what: &'static str,
    /// Entries needed.
    pub needed: u32,
    /// Entries available.
    pub capacity: u32,
    /// "havip's limit" or "the loaded data plane".
    pub place: &'static str,
    /// What to do about it.
    pub hint: &'static str,
}

/// The `max_entries` of every table sized from the configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MapSizes {
    /// `HAVIP_VIPS` and `HAVIP_VIP_COUNTERS` (one counter slot per VIP entry).
    pub vips: u32,
    /// `HAVIP_VRIDS` and `HAVIP_FENCES`.
    pub vrids: u32,
    /// `HAVIP_ALLOWED_PEERS`.
    pub allowed_peers: u32,
    /// `HAVIP_PEERS` (LRU).
    pub peers: u32,
}

impl Default for MapSizes {
    /// The sizes the object declares (what a load without a configuration gets).
    fn default() -> Self {
        Self::MINIMUM
    }
}

/// Headroom factor over what the configuration needs.
pub const HEADROOM: u32 = 2;

const fn sized(needed: u32, minimum: u32, maximum: u32) -> u32 {
    let want = needed.saturating_mul(HEADROOM);
    let want = if want < minimum { minimum } else { want };
    if want > maximum { maximum } else { want }
}

impl MapSizes {
    /// The object's declared sizes.
    pub const MINIMUM: Self = Self {
        vips: capacity::VIPS,
        vrids: capacity::VRIDS,
        allowed_peers: capacity::ALLOWED_PEERS,
        peers: capacity::PEERS,
    };

    /// The havip limits: no configuration gets more.
    pub const MAXIMUM: Self = Self {
        vips: capacity::MAX_VIPS,
        vrids: capacity::MAX_VRIDS,
        allowed_peers: capacity::MAX_ALLOWED_PEERS,
        peers: capacity::MAX_PEERS,
    };

    /// The sizes for a configuration that needs `needs` (the rule in the module doc).
    #[must_use]
    pub const fn for_needs(needs: &Needs) -> Self {
        Self {
            vips: sized(needs.vips, capacity::VIPS, capacity::MAX_VIPS),
            vrids: sized(needs.vrids, capacity::VRIDS, capacity::MAX_VRIDS),
            allowed_peers: sized(
                needs.allowed_peers,
                capacity::ALLOWED_PEERS,
                capacity::MAX_ALLOWED_PEERS,
            ),
            peers: sized(needs.peers(), capacity::PEERS, capacity::MAX_PEERS),
        }
    }

    /// Whether tables of these sizes hold everything tables of `other`'s sizes would.
    #[must_use]
    pub const fn holds(&self, other: &Self) -> bool {
        self.vips >= other.vips
            && self.vrids >= other.vrids
            && self.allowed_peers >= other.allowed_peers
            && self.peers >= other.peers
    }

    /// `(map name, max_entries)` for the loader.
    #[must_use]
    pub const fn entries(&self) -> [(&'static str, u32); 8] {
        [
            (map_names::VIPS, self.vips),
            // The IPv6 VIPs share the counter slots, so neither table can need more.
            (map_names::VIPS6, self.vips),
            (map_names::VIP_COUNTERS, self.vips),
            (map_names::VRIDS, self.vrids),
            (map_names::FENCES, self.vrids),
            // One agent record per instance, plus the ABI header.
            (map_names::AGENT, self.vrids.saturating_add(1)),
            (map_names::ALLOWED_PEERS, self.allowed_peers),
            (map_names::PEERS, self.peers),
        ]
    }

    /// Bytes of per-CPU VIP counters with these sizes on `cpus` possible CPUs.
    #[must_use]
    pub fn vip_counter_bytes(&self, cpus: u32) -> u64 {
        u64::from(self.vips) * u64::from(cpus) * size_of::<VipCounters>() as u64
    }

    /// Every table `needs` does not fit in (the peer records are an LRU cache: not checked).
    /// `place` names these sizes in the messages.
    #[must_use]
    pub fn shortfalls(&self, needs: &Needs, place: &'static str) -> Vec<OverCapacity> {
        let hint = if place == PLACE_LIMIT {
            "; split the configuration over more nodes"
        } else {
            "; restart the agent to load tables sized for it (a reload cannot grow them)"
        };
        [
            (
                "VIPs (distinct address and interface pairs)",
                needs.vips,
                self.vips,
            ),
            ("VRRP instances", needs.vrids, self.vrids),
            (
                "unicast peers (over all instances)",
                needs.allowed_peers,
                self.allowed_peers,
            ),
        ]
        .into_iter()
        .filter(|&(_, needed, capacity)| needed > capacity)
        .map(|(what, needed, capacity)| OverCapacity {
            what,
            needed,
            capacity,
            place,
            hint,
        })
        .collect()
    }
}

/// The sizes for `cfg` (the module's rule), logged with the per-CPU counter memory they cost.
#[must_use]
pub fn for_config(cfg: &Config) -> MapSizes {
    let needs = Needs::of(cfg);
    let sizes = MapSizes::for_needs(&needs);
    let cpus = aya::util::nr_cpus().map_or(1, std::num::NonZeroU32::get);
    info!(
        vips = needs.vips,
        vrids = needs.vrids,
        unicast_peers = needs.allowed_peers,
        vip_entries = sizes.vips,
        vrid_entries = sizes.vrids,
        peer_entries = sizes.allowed_peers,
        vip_counter_kib = sizes.vip_counter_bytes(cpus) / 1024,
        "kernel tables sized from the configuration"
    );
    sizes
}

/// `place` for the havip limits ([`MapSizes::MAXIMUM`]).
pub const PLACE_LIMIT: &str = "havip's limit";
/// `place` for the sizes of the running data plane.
pub const PLACE_LOADED: &str = "the loaded data plane";

/// The problems `check-config` and a reload report when `cfg` is over havip's limits.
#[must_use]
pub fn limit_problems(cfg: &Config) -> Vec<String> {
    MapSizes::MAXIMUM
        .shortfalls(&Needs::of(cfg), PLACE_LIMIT)
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_twice_the_needs_within_minimum_and_limit() {
        let small = Needs {
            vips: 4,
            vrids: 1,
            allowed_peers: 1,
        };
        assert_eq!(MapSizes::for_needs(&small), MapSizes::MINIMUM);
        // 255 instances x 16 VIPs, one unicast peer each.
        let lb = Needs {
            vips: 4080,
            vrids: 255,
            allowed_peers: 255,
        };
        let s = MapSizes::for_needs(&lb);
        assert_eq!(s.vips, 8160);
        assert_eq!(s.vrids, 510);
        assert_eq!(s.allowed_peers, capacity::ALLOWED_PEERS);
        assert_eq!(s.peers, capacity::PEERS);
        assert_eq!(s.shortfalls(&lb, PLACE_LOADED), Vec::new());
        // At the limit: no headroom left, but it still fits.
        let max = Needs {
            vips: capacity::MAX_VIPS,
            vrids: capacity::MAX_VRIDS,
            allowed_peers: capacity::MAX_ALLOWED_PEERS,
        };
        assert_eq!(MapSizes::for_needs(&max), MapSizes::MAXIMUM);
        assert_eq!(MapSizes::MAXIMUM.shortfalls(&max, PLACE_LIMIT), Vec::new());
    }

    #[test]
    fn a_need_over_the_sizes_is_named_with_both_numbers() {
        let loaded = MapSizes::for_needs(&Needs {
            vips: 600,
            vrids: 10,
            allowed_peers: 10,
        });
        let grown = Needs {
            vips: 1500,
            vrids: 10,
            allowed_peers: 10,
        };
        let short = loaded.shortfalls(&grown, PLACE_LOADED);
        assert_eq!(short.len(), 1);
        let msg = short[0].to_string();
        assert!(
            msg.contains("needs 1500") && msg.contains("holds 1200") && msg.contains("restart"),
            "{msg}"
        );
        let over = Needs {
            vips: capacity::MAX_VIPS + 1,
            vrids: capacity::MAX_VRIDS + 1,
            allowed_peers: 0,
        };
        assert_eq!(MapSizes::MAXIMUM.shortfalls(&over, PLACE_LIMIT).len(), 2);
    }

    #[test]
    fn per_cpu_counter_memory_is_entries_times_cpus_times_32() {
        assert_eq!(
            MapSizes::MAXIMUM.vip_counter_bytes(4),
            u64::from(capacity::MAX_VIPS) * 4 * 32
        );
    }

    #[test]
    fn needs_count_each_answering_interface_once() {
        use crate::config::{Instance, VirtualAddress};
        let mut a = Instance::new("a", "eth0", 1);
        a.unicast_peers = vec!["192.0.2.2".parse().expect("ip")];
        let v = VirtualAddress::new("192.0.2.10".parse::<std::net::Ipv4Addr>().expect("ip"), 32);
        let mut on_eth1 = v.clone();
        on_eth1.dev = Some("eth1".into());
        a.virtual_ipaddresses = vec![v.clone(), on_eth1];
        let mut b = a.clone();
        b.name = "b".into();
        b.vrid = 2;
        b.virtual_ipaddresses = vec![v];
        let cfg = Config {
            instances: vec![a, b],
            ..Config::default()
        };
        assert_eq!(
            Needs::of(&cfg),
            Needs {
                vips: 2,
                vrids: 2,
                allowed_peers: 2
            }
        );
    }
}
