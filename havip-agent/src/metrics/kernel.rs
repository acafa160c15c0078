//! How the XDP program's global counters (`havip_common::counter`) become metric families: each
//! counter index is one series of one family, with the label that says which path it counts.
//! The table covers every index exactly once (a unit test checks it against the ABI).

use havip_common::counter as c;

/// A family of kernel counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KernelFamily {
    /// Metric name without the `_total` suffix (prometheus-client appends it to counters).
    pub name: &'static str,
    /// Help text.
    pub help: &'static str,
    /// The label that tells the series apart, if the family has more than one.
    pub label: Option<&'static str>,
}

/// ARP requests for an owned VIP, answered in the kernel.
pub const ARP_REPLIES: KernelFamily = KernelFamily {
    name: "havip_xdp_arp_replies",
    help: "ARP requests for an owned VIP answered by the XDP program (XDP_TX), all VIPs",
    label: None,
};
/// ARP requests for a VIP dropped, by reason.
pub const ARP_DROPPED: KernelFamily = KernelFamily {
    name: "havip_xdp_arp_dropped",
    help: "ARP requests for a VIP dropped by the XDP program, by reason: not_owned (another \
           node owns it), lease_expired (grant set but its lease ran out: the agent stopped \
           renewing), fenced (the kernel fenced the grant on a better advert)",
    label: Some("reason"),
};
/// ARP frames passed to the kernel stack, by reason.
pub const ARP_PASSED: KernelFamily = KernelFamily {
    name: "havip_xdp_arp_passed",
    help: "ARP frames the XDP program passed to the kernel stack, by reason",
    label: Some("reason"),
};
/// Valid adverts delivered to the agent.
pub const ADVERTS_ACCEPTED: KernelFamily = KernelFamily {
    name: "havip_xdp_adverts_accepted",
    help: "Valid VRRP adverts validated by the XDP program and delivered to the agent",
    label: None,
};
/// Adverts dropped, by reason.
pub const ADVERTS_DROPPED: KernelFamily = KernelFamily {
    name: "havip_xdp_adverts_dropped",
    help: "VRRP adverts for a configured VRID dropped by the XDP program, by reason \
           (ringbuf_full: valid but lost because the agent did not drain the ring buffer)",
    label: Some("reason"),
};
/// Adverts passed to the kernel stack (not ours).
pub const ADVERTS_PASSED: KernelFamily = KernelFamily {
    name: "havip_xdp_adverts_passed",
    help: "VRRP packets the XDP program passed untouched, by reason (unknown_vrid: a VRID \
           not configured on the interface)",
    label: Some("reason"),
};
/// Fast switches.
pub const FENCES: KernelFamily = KernelFamily {
    name: "havip_xdp_fences",
    help: "Fast switches: valid adverts that made the XDP program fence this node's \
           ownership before the agent heard of them",
    label: None,
};
/// Other frames passed.
pub const PACKETS_PASSED: KernelFamily = KernelFamily {
    name: "havip_xdp_packets_passed",
    help: "Frames that are neither ARP nor VRRP, passed untouched by the XDP program, by kind",
    label: Some("kind"),
};

/// Every family, in exposition order.
pub const FAMILIES: [KernelFamily; 8] = [
    ARP_REPLIES,
    ARP_DROPPED,
    ARP_PASSED,
    ADVERTS_ACCEPTED,
    ADVERTS_DROPPED,
    ADVERTS_PASSED,
    FENCES,
    PACKETS_PASSED,
];

/// `(counter index, family, label value)` for every kernel counter.
pub const SERIES: [(u32, KernelFamily, &str); c::COUNT as usize] = [
    (c::ARP_REPLIED, ARP_REPLIES, ""),
    (c::ARP_DROP_NOT_OWNED, ARP_DROPPED, "not_owned"),
    (c::ARP_DROP_LEASE_EXPIRED, ARP_DROPPED, "lease_expired"),
    (c::ARP_DROP_FENCED, ARP_DROPPED, "fenced"),
    (c::ARP_PASS_NOT_VIP, ARP_PASSED, "not_vip"),
    (c::ARP_PASS_GRATUITOUS, ARP_PASSED, "gratuitous"),
    (c::ARP_PASS_NOT_REQUEST, ARP_PASSED, "not_request"),
    (c::ARP_PASS_UNSUPPORTED, ARP_PASSED, "unsupported"),
    (c::ARP_PASS_TRUNCATED, ARP_PASSED, "truncated"),
    (c::PASS_TRUNCATED_ETH, PACKETS_PASSED, "truncated_ethernet"),
    (c::PASS_IPV4, PACKETS_PASSED, "ipv4"),
    (c::PASS_IPV6, PACKETS_PASSED, "ipv6"),
    (c::PASS_VLAN, PACKETS_PASSED, "vlan"),
    (c::PASS_OTHER, PACKETS_PASSED, "other"),
    (c::VRRP_ACCEPTED, ADVERTS_ACCEPTED, ""),
    (c::VRRP_PASS_UNKNOWN_VRID, ADVERTS_PASSED, "unknown_vrid"),
    (c::VRRP_DROP_TRUNCATED, ADVERTS_DROPPED, "truncated"),
    (c::VRRP_DROP_TTL, ADVERTS_DROPPED, "ttl"),
    (c::VRRP_DROP_VERSION, ADVERTS_DROPPED, "version"),
    (c::VRRP_DROP_TYPE, ADVERTS_DROPPED, "type"),
    (c::VRRP_DROP_UNKNOWN_PEER, ADVERTS_DROPPED, "unknown_peer"),
    (c::VRRP_DROP_CHECKSUM, ADVERTS_DROPPED, "checksum"),
    (c::VRRP_DROP_AUTH, ADVERTS_DROPPED, "auth"),
    (c::VRRP_DROP_LENGTH, ADVERTS_DROPPED, "length"),
    (c::VRRP_DROP_IP_HEADER, ADVERTS_DROPPED, "ip_header"),
    (c::VRRP_DROP_OWN, ADVERTS_DROPPED, "own"),
    (c::VRRP_RINGBUF_FULL, ADVERTS_DROPPED, "ringbuf_full"),
    (c::VRRP_FENCED, FENCES, ""),
];

/// The series of `family`: `(counter index, label value)`.
pub fn series_of(family: KernelFamily) -> impl Iterator<Item = (u32, &'static str)> {
    SERIES
        .iter()
        .filter(move |(_, f, _)| *f == family)
        .map(|&(i, _, l)| (i, l))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_counter_is_one_series() {
        for i in 0..c::COUNT {
            let n = SERIES.iter().filter(|(idx, _, _)| *idx == i).count();
            assert_eq!(
                n,
                1,
                "counter {i} ({}) appears {n} times",
                c::NAMES[i as usize]
            );
        }
        for (i, f, label) in SERIES {
            assert!(FAMILIES.contains(&f), "{}", f.name);
            assert_eq!(f.label.is_some(), !label.is_empty(), "{}", f.name);
            // The label value is the ABI name without its family's prefix.
            let abi = c::NAMES[i as usize];
            assert!(
                label.is_empty() || abi.ends_with(label) || label == "truncated_ethernet",
                "{abi} -> {label}"
            );
        }
    }

    #[test]
    fn label_values_are_unique_within_a_family() {
        for f in FAMILIES {
            let labels: Vec<&str> = series_of(f).map(|(_, l)| l).collect();
            for (i, a) in labels.iter().enumerate() {
                assert!(!labels[i + 1..].contains(a), "{}: {a}", f.name);
            }
        }
    }
}
