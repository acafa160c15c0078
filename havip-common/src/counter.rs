//! Global per-CPU counters of the XDP program ([`crate::map_names::COUNTERS`]), from ONE table:
//! the [`counters!`] invocation below defines each counter's index (its position), its stable ABI
//! name ([`NAMES`]), and the metric family and label value it is exported under ([`SERIES`]).
//! Nothing else lists counters; the agent's metrics, the CLI and the tests read these.
//!
//! Every path of the program increments exactly one of them (a fast switch also bumps
//! [`VRRP_FENCED`] beside the advert's own counter). The agent sums over CPUs at read time.
//! New counters go at the end so that the indices of existing ones never move.

/// A Prometheus family that kernel counters are exported under.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Family {
    /// Metric name without the `_total` suffix (prometheus-client appends it to counters).
    pub name: &'static str,
    /// Help text.
    pub help: &'static str,
    /// The label key that tells the series apart, if the family has more than one series.
    pub label: Option<&'static str>,
}

/// The families, one constant each (names as exposed to Prometheus).
pub mod family {
    use super::Family;

    /// ARP requests for an owned VIP, answered in the kernel.
    pub const ARP_REPLIES: Family = Family {
        name: "havip_xdp_arp_replies",
        help: "ARP requests for an owned VIP answered by the XDP program (XDP_TX), all VIPs",
        label: None,
    };
    /// ARP frames naming a VIP, dropped, by reason.
    pub const ARP_DROPPED: Family = Family {
        name: "havip_xdp_arp_dropped",
        help: "ARP frames naming a VIP dropped by the XDP program, by reason: not_owned \
               (another node owns it), lease_expired (grant set but its lease ran out: the \
               agent stopped renewing), fenced (the kernel fenced the grant on a better \
               advert), unsupported (a hardware type, protocol type or length the program \
               does not answer), vlan (VLAN-tagged ARP for a VIP)",
        label: Some("reason"),
    };
    /// ARP frames passed to the kernel stack, by reason.
    pub const ARP_PASSED: Family = Family {
        name: "havip_xdp_arp_passed",
        help: "ARP frames the XDP program passed to the kernel stack, by reason",
        label: Some("reason"),
    };
    /// Valid adverts delivered to the agent.
    pub const ADVERTS_ACCEPTED: Family = Family {
        name: "havip_xdp_adverts_accepted",
        help: "Valid VRRP adverts validated by the XDP program and delivered to the agent",
        label: None,
    };
    /// Adverts dropped, by reason.
    pub const ADVERTS_DROPPED: Family = Family {
        name: "havip_xdp_adverts_dropped",
        help: "VRRP adverts for a configured VRID dropped by the XDP program, by reason \
               (ringbuf_full: valid but lost because the agent did not drain the ring buffer; \
               scratch: the per-CPU scratch buffer could not be looked up)",
        label: Some("reason"),
    };
    /// Adverts passed to the kernel stack (not ours).
    pub const ADVERTS_PASSED: Family = Family {
        name: "havip_xdp_adverts_passed",
        help: "VRRP packets the XDP program passed untouched, by reason (unknown_vrid: a VRID \
               not configured on the interface)",
        label: Some("reason"),
    };
    /// Fast switches.
    pub const FENCES: Family = Family {
        name: "havip_xdp_fences",
        help: "Fast switches: valid adverts that made the XDP program fence this node's \
               ownership before the agent heard of them",
        label: None,
    };
    /// Other frames passed.
    pub const PACKETS_PASSED: Family = Family {
        name: "havip_xdp_packets_passed",
        help: "Frames that are neither ARP nor VRRP, passed untouched by the XDP program, by kind",
        label: Some("kind"),
    };

    /// Neighbor Solicitations for an owned IPv6 VIP, answered in the kernel.
    pub const NDP_REPLIES: Family = Family {
        name: "havip_xdp_ndp_replies",
        help: "Neighbor Solicitations for an owned IPv6 VIP answered by the XDP program with a \
               solicited Neighbor Advertisement (XDP_TX), all VIPs",
        label: None,
    };
    /// Neighbor Solicitations naming an IPv6 VIP, dropped, by reason.
    pub const NDP_DROPPED: Family = Family {
        name: "havip_xdp_ndp_dropped",
        help: "Neighbor Solicitations naming an IPv6 VIP dropped by the XDP program, by reason: \
               not_owned, lease_expired, fenced (as for ARP), invalid (hop limit not 255, \
               code not 0, or shorter than RFC 4861 7.1.1 allows)",
        label: Some("reason"),
    };
    /// IPv6 ICMP frames passed to the kernel stack by the NDP path, by reason.
    pub const NDP_PASSED: Family = Family {
        name: "havip_xdp_ndp_passed",
        help: "ICMPv6 frames the XDP program passed to the kernel stack, by reason (dad: a \
               duplicate address detection probe, from the unspecified address)",
        label: Some("reason"),
    };

    /// Valid BFD Control packets of a configured neighbor, timestamped and passed to the socket.
    pub const BFD_ACCEPTED: Family = Family {
        name: "havip_xdp_bfd_accepted",
        help: "BFD Control packets of a configured neighbor that the XDP program validated, \
               timestamped for the session's detection time and passed to the agent's socket",
        label: None,
    };
    /// BFD Control packets of a configured neighbor dropped, by reason.
    pub const BFD_DROPPED: Family = Family {
        name: "havip_xdp_bfd_dropped",
        help: "BFD Control packets from a configured neighbor dropped by the XDP program, by \
               reason: ttl (RFC 5881 5), length, version, fields (Detect Mult 0, M bit, My \
               Discriminator 0), discriminator (Your Discriminator not this session's, or 0 \
               while the sender is up), auth (A bit; no session uses authentication), \
               ip_header (an IPv4 fragment)",
        label: Some("reason"),
    };
    /// BFD packets passed untouched, by reason.
    pub const BFD_PASSED: Family = Family {
        name: "havip_xdp_bfd_passed",
        help: "BFD packets the XDP program passed untouched, by reason: unknown_peer (Control \
               from an address that is no configured neighbor), echo_not_ours (Echo from an \
               address that is no neighbor with echo, or not addressed to its sender)",
        label: Some("reason"),
    };
    /// BFD Echo packets reflected.
    pub const BFD_ECHOES: Family = Family {
        name: "havip_xdp_bfd_echoes_reflected",
        help: "BFD Echo packets of a configured neighbor sent back to it by the XDP program \
               (XDP_TX, RFC 5880 6.4)",
        label: None,
    };

    /// Every family, in exposition order.
    pub const ALL: [Family; 15] = [
        ARP_REPLIES,
        ARP_DROPPED,
        ARP_PASSED,
        ADVERTS_ACCEPTED,
        ADVERTS_DROPPED,
        ADVERTS_PASSED,
        FENCES,
        PACKETS_PASSED,
        NDP_REPLIES,
        NDP_DROPPED,
        NDP_PASSED,
        BFD_ACCEPTED,
        BFD_DROPPED,
        BFD_PASSED,
        BFD_ECHOES,
    ];
}

/// One counter as exported: its index, family and label value (`""` for a family without label).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Series {
    /// Counter index.
    pub index: u32,
    /// The family it belongs to.
    pub family: Family,
    /// Value of the family's label for this counter; empty when the family has no label.
    pub label: &'static str,
}

/// Defines, from one list, the index constants (by position), [`COUNT`], [`NAMES`] and
/// [`SERIES`].
macro_rules! counters {
    ($( $(#[$doc:meta])* $id:ident => $name:literal, $family:ident, $label:literal; )*) => {
        /// Positions in the table; only used to number the constants.
        #[expect(non_camel_case_types, reason = "variants carry the constants' names")]
        #[repr(u32)]
        enum Position { $( $id, )* End }

        $( $(#[$doc])* pub const $id: u32 = Position::$id as u32; )*

        /// Number of counters.
        pub const COUNT: u32 = Position::End as u32;

        /// Stable ABI names, indexed by counter value (metrics labels, CLI, tests).
        pub const NAMES: [&str; COUNT as usize] = [$( $name ),*];

        /// Family and label of every counter, indexed by counter value.
        pub const SERIES: [Series; COUNT as usize] = [$(
            Series { index: $id, family: family::$family, label: $label },
        )*];
    };
}

counters! {
    /// ARP request for an owned VIP, answered in place with `XDP_TX`.
    ARP_REPLIED => "arp_replied", ARP_REPLIES, "";
    /// ARP frame for a VIP whose VRID this node does not own: dropped.
    ARP_DROP_NOT_OWNED => "arp_drop_not_owned", ARP_DROPPED, "not_owned";
    /// ARP frame for a VIP whose grant is still set but whose lease ran out: dropped.
    ARP_DROP_LEASE_EXPIRED => "arp_drop_lease_expired", ARP_DROPPED, "lease_expired";
    /// ARP frame for a VIP whose grant the kernel fenced (fast switch): dropped.
    ARP_DROP_FENCED => "arp_drop_fenced", ARP_DROPPED, "fenced";
    /// ARP request for an address that is not a VIP: passed.
    ARP_PASS_NOT_VIP => "arp_pass_not_vip", ARP_PASSED, "not_vip";
    /// Gratuitous ARP (sender IP == target IP) in the Ethernet/IPv4 layout: passed, so that
    /// neighbour caches on this node follow the new owner (see `havip-ebpf/src/arp.rs`).
    ARP_PASS_GRATUITOUS => "arp_pass_gratuitous", ARP_PASSED, "gratuitous";
    /// ARP that is not a request (replies, RARP ops): passed if its target is no VIP, or a VIP
    /// this node owns (the reply to a request the owner sent from the VIP).
    ARP_PASS_NOT_REQUEST => "arp_pass_not_request", ARP_PASSED, "not_request";
    /// ARP that is not Ethernet/IPv4 (htype, ptype, hlen, plen) and names no VIP: passed.
    ARP_PASS_UNSUPPORTED => "arp_pass_unsupported", ARP_PASSED, "unsupported";
    /// ARP frame too short to hold a target protocol address: passed (the stack drops it too).
    ARP_PASS_TRUNCATED => "arp_pass_truncated", ARP_PASSED, "truncated";
    /// Frame shorter than an Ethernet header: passed.
    PASS_TRUNCATED_ETH => "pass_truncated_eth", PACKETS_PASSED, "truncated_ethernet";
    /// IPv4 that is not VRRP: passed.
    PASS_IPV4 => "pass_ipv4", PACKETS_PASSED, "ipv4";
    /// IPv6: passed.
    PASS_IPV6 => "pass_ipv6", PACKETS_PASSED, "ipv6";
    /// 802.1Q / 802.1ad tagged (one or two tags) and not ARP for a VIP: passed.
    PASS_VLAN => "pass_vlan", PACKETS_PASSED, "vlan";
    /// Any other ethertype: passed.
    PASS_OTHER => "pass_other", PACKETS_PASSED, "other";
    /// Valid VRRP advert: delivered to the agent through the ring buffer and consumed.
    VRRP_ACCEPTED => "vrrp_accepted", ADVERTS_ACCEPTED, "";
    /// VRRP for a VRID not configured on this interface: passed (another router's business).
    VRRP_PASS_UNKNOWN_VRID => "vrrp_pass_unknown_vrid", ADVERTS_PASSED, "unknown_vrid";
    /// VRRP dropped: IPv4 or VRRP header truncated, or the IP total length disagrees.
    VRRP_DROP_TRUNCATED => "vrrp_drop_truncated", ADVERTS_DROPPED, "truncated";
    /// VRRP dropped: IP TTL is not 255 (RFC 9568 7.1, RFC 3768 7.1).
    VRRP_DROP_TTL => "vrrp_drop_ttl", ADVERTS_DROPPED, "ttl";
    /// VRRP dropped: version is not the one configured for the VRID.
    VRRP_DROP_VERSION => "vrrp_drop_version", ADVERTS_DROPPED, "version";
    /// VRRP dropped: type is not ADVERTISEMENT (1).
    VRRP_DROP_TYPE => "vrrp_drop_type", ADVERTS_DROPPED, "type";
    /// VRRP dropped: source not in the VRID's unicast peer list.
    VRRP_DROP_UNKNOWN_PEER => "vrrp_drop_unknown_peer", ADVERTS_DROPPED, "unknown_peer";
    /// VRRP dropped: VRRP checksum mismatch.
    VRRP_DROP_CHECKSUM => "vrrp_drop_checksum", ADVERTS_DROPPED, "checksum";
    /// VRRP dropped: authentication type or data mismatch (v2 only).
    VRRP_DROP_AUTH => "vrrp_drop_auth", ADVERTS_DROPPED, "auth";
    /// VRRP dropped: length inconsistent with the address count.
    VRRP_DROP_LENGTH => "vrrp_drop_length", ADVERTS_DROPPED, "length";
    /// VRRP dropped: fragment or malformed IPv4 header length.
    VRRP_DROP_IP_HEADER => "vrrp_drop_ip_header", ADVERTS_DROPPED, "ip_header";
    /// VRRP dropped: our own advert looped back (source is our primary address).
    VRRP_DROP_OWN => "vrrp_drop_own", ADVERTS_DROPPED, "own";
    /// Valid advert that could not be delivered: ring buffer full (consumed, not accepted).
    VRRP_RINGBUF_FULL => "vrrp_ringbuf_full", ADVERTS_DROPPED, "ringbuf_full";
    /// Fast switch: a valid advert fenced this node's ownership in the kernel. Counted beside
    /// the advert's own path counter.
    VRRP_FENCED => "vrrp_fenced", FENCES, "";
    /// ARP frame whose target protocol address is a VIP but whose hardware type, protocol
    /// type or lengths are not Ethernet/IPv4 (e.g. htype 6, IEEE 802, which Linux accepts on
    /// Ethernet): dropped, never answered and never passed.
    ARP_DROP_UNSUPPORTED => "arp_drop_unsupported", ARP_DROPPED, "unsupported";
    /// VLAN-tagged (802.1Q, 802.1ad, or both) ARP whose target is a VIP of this interface:
    /// dropped; the VIP lives on the untagged network.
    VLAN_DROP_VIP => "vlan_drop_vip", ARP_DROPPED, "vlan";
    /// VRRP dropped: IPv4 header checksum mismatch (the stack would drop it; keepalived never
    /// sees it).
    VRRP_DROP_IP_CHECKSUM => "vrrp_drop_ip_checksum", ADVERTS_DROPPED, "ip_checksum";
    /// VRRP dropped: destination is neither this instance's address (unicast) nor 224.0.0.18
    /// (multicast).
    VRRP_DROP_DESTINATION => "vrrp_drop_destination", ADVERTS_DROPPED, "destination";
    /// VRRP dropped: a multicast advert on an instance with unicast peers (keepalived
    /// `vrrp_check_packet`).
    VRRP_DROP_MULTICAST_ON_UNICAST => "vrrp_drop_multicast_on_unicast", ADVERTS_DROPPED,
        "multicast_on_unicast";
    /// VRRP dropped: the address list differs from ours and the sender is not the owner
    /// (RFC 9568 7.1, RFC 3768 7.1), or a v3 advert lists no address.
    VRRP_DROP_ADDRESSES => "vrrp_drop_addresses", ADVERTS_DROPPED, "addresses";
    /// VRRP dropped: v2 advert interval differs from ours (RFC 3768 7.1), or it is zero.
    VRRP_DROP_INTERVAL => "vrrp_drop_interval", ADVERTS_DROPPED, "interval";
    /// VRRP dropped: the per-CPU scratch buffer lookup failed (cannot happen with a loaded
    /// map; counted so it is never mistaken for a full ring buffer).
    VRRP_DROP_SCRATCH => "vrrp_drop_scratch", ADVERTS_DROPPED, "scratch";
    /// Neighbor Solicitation for an owned IPv6 VIP, answered in place with a solicited Neighbor
    /// Advertisement and `XDP_TX` (RFC 4861 7.2.4).
    NDP_REPLIED => "ndp_replied", NDP_REPLIES, "";
    /// Neighbor Solicitation for an IPv6 VIP whose VRID this node does not own: dropped.
    NDP_DROP_NOT_OWNED => "ndp_drop_not_owned", NDP_DROPPED, "not_owned";
    /// Neighbor Solicitation for an IPv6 VIP whose grant's lease ran out: dropped.
    NDP_DROP_LEASE_EXPIRED => "ndp_drop_lease_expired", NDP_DROPPED, "lease_expired";
    /// Neighbor Solicitation for an IPv6 VIP whose grant the kernel fenced: dropped.
    NDP_DROP_FENCED => "ndp_drop_fenced", NDP_DROPPED, "fenced";
    /// Neighbor Solicitation naming an IPv6 VIP that RFC 4861 7.1.1 says to discard (hop limit
    /// not 255, code not 0, ICMP length under 24): dropped, never passed.
    NDP_DROP_INVALID => "ndp_drop_invalid", NDP_DROPPED, "invalid";
    /// Neighbor Solicitation from the unspecified address (duplicate address detection): passed.
    NDP_PASS_DAD => "ndp_pass_dad", NDP_PASSED, "dad";
    /// Neighbor Solicitation whose target is not an IPv6 VIP of the interface: passed.
    NDP_PASS_NOT_VIP => "ndp_pass_not_vip", NDP_PASSED, "not_vip";
    /// IPv6 ICMP message other than a Neighbor Solicitation: passed.
    NDP_PASS_NOT_SOLICITATION => "ndp_pass_not_solicitation", NDP_PASSED, "not_solicitation";
    /// IPv6 ICMP frame too short for its headers: passed (the stack drops it too).
    NDP_PASS_TRUNCATED => "ndp_pass_truncated", NDP_PASSED, "truncated";
    /// Neighbor Solicitation for an owned VIP that could not be rewritten (the frame could not be
    /// resized to the advertisement's length): passed, the owner's stack answers it.
    NDP_PASS_RESIZE => "ndp_pass_resize", NDP_PASSED, "resize";
    /// Valid BFD Control packet of a configured neighbor: its arrival time recorded in
    /// `HAVIP_BFD_RX`, passed to the agent's socket.
    BFD_ACCEPTED => "bfd_accepted", BFD_ACCEPTED, "";
    /// BFD Control packet from an address that is no configured neighbor: passed.
    BFD_PASS_UNKNOWN_PEER => "bfd_pass_unknown_peer", BFD_PASSED, "unknown_peer";
    /// BFD Control dropped: TTL below the session's minimum (RFC 5881 5).
    BFD_DROP_TTL => "bfd_drop_ttl", BFD_DROPPED, "ttl";
    /// BFD Control dropped: IP, UDP or BFD length inconsistent, or shorter than 24 bytes
    /// (RFC 5880 6.8.6).
    BFD_DROP_LENGTH => "bfd_drop_length", BFD_DROPPED, "length";
    /// BFD Control dropped: version is not 1 (RFC 5880 6.8.6).
    BFD_DROP_VERSION => "bfd_drop_version", BFD_DROPPED, "version";
    /// BFD Control dropped: Detect Mult 0, the M bit set, or My Discriminator 0 (RFC 5880
    /// 6.8.6).
    BFD_DROP_FIELDS => "bfd_drop_fields", BFD_DROPPED, "fields";
    /// BFD Control dropped: Your Discriminator is not the session's, or is 0 while the sender
    /// is neither Down nor `AdminDown` (RFC 5880 6.8.6).
    BFD_DROP_DISCRIMINATOR => "bfd_drop_discriminator", BFD_DROPPED, "discriminator";
    /// BFD Control dropped: the A bit is set and no session uses authentication (RFC 5880
    /// 6.8.6).
    BFD_DROP_AUTH => "bfd_drop_auth", BFD_DROPPED, "auth";
    /// BFD Control of a configured neighbor dropped: an IPv4 fragment.
    BFD_DROP_IP_HEADER => "bfd_drop_ip_header", BFD_DROPPED, "ip_header";
    /// BFD Echo of a configured neighbor with echo, addressed to itself: reflected with `XDP_TX`.
    BFD_ECHO_REFLECTED => "bfd_echo_reflected", BFD_ECHOES, "";
    /// BFD Echo that is not ours to reflect (unknown source, echo off, or another destination):
    /// passed.
    BFD_PASS_ECHO_NOT_OURS => "bfd_pass_echo_not_ours", BFD_PASSED, "echo_not_ours";
}

/// The series of `family`: `(counter index, label value)`, in counter order.
pub fn series_of(family: Family) -> impl Iterator<Item = (u32, &'static str)> {
    SERIES
        .iter()
        .filter(move |s| s.family == family)
        .map(|s| (s.index, s.label))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_consistent() {
        for (i, s) in SERIES.iter().enumerate() {
            assert_eq!(s.index as usize, i, "{}", NAMES[i]);
            assert!(family::ALL.contains(&s.family), "{}", s.family.name);
            assert_eq!(
                s.family.label.is_some(),
                !s.label.is_empty(),
                "{}",
                NAMES[i]
            );
        }
        for (i, a) in NAMES.iter().enumerate() {
            for b in &NAMES[i + 1..] {
                assert_ne!(a, b);
            }
        }
        for f in family::ALL {
            let labels: [&str; COUNT as usize] = core::array::from_fn(|i| {
                if SERIES[i].family == f {
                    SERIES[i].label
                } else {
                    ""
                }
            });
            for (i, a) in labels.iter().enumerate().filter(|(_, l)| !l.is_empty()) {
                assert!(!labels[i + 1..].contains(a), "{}: {a}", f.name);
            }
        }
        // Indices of the counters that existed before the table was generated never move.
        assert_eq!(ARP_REPLIED, 0);
        assert_eq!(VRRP_RINGBUF_FULL, 26);
        assert_eq!(VRRP_FENCED, 27);
        assert_eq!(NAMES[VRRP_DROP_ADDRESSES as usize], "vrrp_drop_addresses");
    }
}
