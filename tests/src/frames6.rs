//! Hand-built IPv6 Neighbor Discovery frames (RFC 4861) for XDP tests, written independently of
//! the XDP program so the two cross-check each other: Neighbor Solicitations in, and the checks
//! that a Neighbor Advertisement out is well formed (`ICMPv6` checksum recomputed here).

use std::net::Ipv6Addr;

use crate::frames::{CLIENT_MAC, inet_checksum};

/// The client's IPv6 address in crafted frames (documentation prefix).
pub const CLIENT_IP6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
/// IPv6 next header of `ICMPv6`.
pub const NEXTHDR_ICMPV6: u8 = 58;

/// The solicited-node multicast address of `target` (RFC 4291 2.7.1).
#[must_use]
pub fn solicited_node(target: Ipv6Addr) -> Ipv6Addr {
    let t = target.octets();
    Ipv6Addr::new(
        0xff02,
        0,
        0,
        0,
        0,
        1,
        0xff00 | u16::from(t[13]),
        u16::from_be_bytes([t[14], t[15]]),
    )
}

/// The Ethernet multicast address of IPv6 `group` (RFC 2464 7).
#[must_use]
pub fn multicast_mac(group: Ipv6Addr) -> [u8; 6] {
    let g = group.octets();
    [0x33, 0x33, g[12], g[13], g[14], g[15]]
}

/// The `ICMPv6` checksum of `message` (checksum field included as it is) from `src` to `dst`:
/// RFC 8200 8.1 pseudo-header, then RFC 1071. A message with a right checksum yields 0.
#[must_use]
pub fn icmpv6_checksum(src: Ipv6Addr, dst: Ipv6Addr, message: &[u8]) -> u16 {
    let mut bytes = src.octets().to_vec();
    bytes.extend_from_slice(&dst.octets());
    bytes.extend_from_slice(&u32::try_from(message.len()).unwrap_or(0).to_be_bytes());
    bytes.extend_from_slice(&[0, 0, 0, NEXTHDR_ICMPV6]);
    bytes.extend_from_slice(message);
    inet_checksum(&bytes)
}

/// Ethernet + IPv6 header with `next` and `hop_limit` around `payload`.
#[must_use]
pub fn ipv6(
    eth_dst: [u8; 6],
    src: Ipv6Addr,
    dst: Ipv6Addr,
    next: u8,
    hop_limit: u8,
    payload: &[u8],
) -> Vec<u8> {
    let mut f = Vec::with_capacity(54 + payload.len());
    f.extend_from_slice(&eth_dst);
    f.extend_from_slice(&CLIENT_MAC);
    f.extend_from_slice(&[0x86, 0xdd, 0x60, 0, 0, 0]);
    f.extend_from_slice(
        &u16::try_from(payload.len())
            .unwrap_or(u16::MAX)
            .to_be_bytes(),
    );
    f.push(next);
    f.push(hop_limit);
    f.extend_from_slice(&src.octets());
    f.extend_from_slice(&dst.octets());
    f.extend_from_slice(payload);
    f
}

/// A Neighbor Solicitation message (RFC 4861 4.3) for `target` with a right checksum from `src`
/// to `dst`, with `options` appended as given.
#[must_use]
pub fn ns_message(src: Ipv6Addr, dst: Ipv6Addr, target: Ipv6Addr, options: &[u8]) -> Vec<u8> {
    let mut m = vec![135, 0, 0, 0, 0, 0, 0, 0];
    m.extend_from_slice(&target.octets());
    m.extend_from_slice(options);
    let c = icmpv6_checksum(src, dst, &m);
    m[2..4].copy_from_slice(&c.to_be_bytes());
    m
}

/// The Source Link-Layer Address option (RFC 4861 4.6.1) with the client's MAC.
#[must_use]
pub fn source_lladdr_option() -> Vec<u8> {
    let mut o = vec![1, 1];
    o.extend_from_slice(&CLIENT_MAC);
    o
}

/// An address-resolution NS for `target` from `src_mac` / `src`, to the solicited-node group,
/// hop limit 255, with a source link-layer option carrying `src_mac`.
#[must_use]
pub fn solicitation_from(src_mac: [u8; 6], src: Ipv6Addr, target: Ipv6Addr) -> Vec<u8> {
    let group = solicited_node(target);
    let mut option = vec![1, 1];
    option.extend_from_slice(&src_mac);
    let m = ns_message(src, group, target, &option);
    let mut f = ipv6(multicast_mac(group), src, group, NEXTHDR_ICMPV6, 255, &m);
    f[6..12].copy_from_slice(&src_mac);
    f
}

/// The Ethernet source of `frame` if it is a Neighbor Advertisement for `target` with hop limit
/// 255 and a right `ICMPv6` checksum (RFC 4861 7.1.2), sent to `to`.
#[must_use]
pub fn parse_advertisement(frame: &[u8], target: Ipv6Addr, to: Ipv6Addr) -> Option<[u8; 6]> {
    let ip = frame.get(14..54)?;
    let icmp = frame.get(54..)?;
    let src = Ipv6Addr::from(<[u8; 16]>::try_from(ip.get(8..24)?).ok()?);
    let dst = Ipv6Addr::from(<[u8; 16]>::try_from(ip.get(24..40)?).ok()?);
    let len = usize::from(u16::from_be_bytes([ip[4], ip[5]]));
    let icmp = icmp.get(..len)?;
    let ok = frame.get(12..14)? == [0x86, 0xdd]
        && ip[6] == NEXTHDR_ICMPV6
        && ip[7] == 255
        && dst == to
        && *icmp.first()? == 136
        && icmp.get(8..24)? == target.octets()
        && icmpv6_checksum(src, dst, icmp) == 0;
    ok.then(|| frame[6..12].try_into().ok()).flatten()
}

/// The client's address-resolution NS for `target`: from [`CLIENT_IP6`] to the solicited-node
/// group, hop limit 255, with the source link-layer option when `with_slla`.
#[must_use]
pub fn neighbor_solicitation(target: Ipv6Addr, with_slla: bool) -> Vec<u8> {
    let group = solicited_node(target);
    let options = if with_slla {
        source_lladdr_option()
    } else {
        Vec::new()
    };
    let m = ns_message(CLIENT_IP6, group, target, &options);
    ipv6(
        multicast_mac(group),
        CLIENT_IP6,
        group,
        NEXTHDR_ICMPV6,
        255,
        &m,
    )
}

/// A duplicate address detection probe for `target` (RFC 4862 5.4.2: from `::`, no options).
#[must_use]
pub fn dad_probe(target: Ipv6Addr) -> Vec<u8> {
    let group = solicited_node(target);
    let m = ns_message(Ipv6Addr::UNSPECIFIED, group, target, &[]);
    ipv6(
        multicast_mac(group),
        Ipv6Addr::UNSPECIFIED,
        group,
        NEXTHDR_ICMPV6,
        255,
        &m,
    )
}

/// The VRRP IPv6 group, `ff02::12` (RFC 9568 5.1.2.2).
pub const VRRP_GROUP6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);

/// A `VRRPv3` advert over IPv6 (RFC 9568 5.1, 5.2): version 3, type 1, `interval` centiseconds,
/// `addrs` 16 bytes each, with its checksum over the RFC 8200 8.1 pseudo-header of `src` ->
/// `dst` (RFC 9568 5.2.8) computed here, independently of the agent's codec.
#[must_use]
pub fn vrrp6(
    vrid: u8,
    priority: u8,
    interval: u16,
    addrs: &[Ipv6Addr],
    src: Ipv6Addr,
    dst: Ipv6Addr,
) -> Vec<u8> {
    let mut m = vec![0x31, vrid, priority, u8::try_from(addrs.len()).unwrap_or(0)];
    m.extend_from_slice(&(interval & 0x0fff).to_be_bytes());
    m.extend_from_slice(&[0, 0]);
    for a in addrs {
        m.extend_from_slice(&a.octets());
    }
    let mut pseudo = src.octets().to_vec();
    pseudo.extend_from_slice(&dst.octets());
    pseudo.extend_from_slice(&u32::try_from(m.len()).unwrap_or(0).to_be_bytes());
    pseudo.extend_from_slice(&[0, 0, 0, 112]);
    pseudo.extend_from_slice(&m);
    let c = inet_checksum(&pseudo);
    m[6..8].copy_from_slice(&c.to_be_bytes());
    m
}
