//! Hand-built frames for XDP tests, written independently of the agent's codec so the two
//! cross-check each other.

use std::net::Ipv4Addr;

/// Client MAC used in crafted frames.
pub const CLIENT_MAC: [u8; 6] = [0x02, 0xc1, 0x1e, 0x47, 0x00, 0x01];
/// Client address.
pub const CLIENT_IP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);

/// RFC 1071 checksum of `data` (odd length padded with a zero byte).
#[must_use]
pub fn inet_checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for chunk in data.chunks(2) {
        let word = u16::from_be_bytes([chunk[0], *chunk.get(1).unwrap_or(&0)]);
        sum += u32::from(word);
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !u16::try_from(sum).unwrap_or(0)
}

/// An ARP frame (RFC 826) with the given operation.
#[must_use]
pub fn arp(op: u16, sha: [u8; 6], spa: Ipv4Addr, tha: [u8; 6], tpa: Ipv4Addr) -> Vec<u8> {
    let mut f = Vec::with_capacity(42);
    let dst = if op == 1 { [0xff; 6] } else { tha };
    f.extend_from_slice(&dst);
    f.extend_from_slice(&sha);
    f.extend_from_slice(&[0x08, 0x06, 0, 1, 0x08, 0x00, 6, 4]);
    f.extend_from_slice(&op.to_be_bytes());
    f.extend_from_slice(&sha);
    f.extend_from_slice(&spa.octets());
    f.extend_from_slice(&tha);
    f.extend_from_slice(&tpa.octets());
    f
}

/// An ARP request from the client for `target`.
#[must_use]
pub fn arp_request(target: Ipv4Addr) -> Vec<u8> {
    arp(1, CLIENT_MAC, CLIENT_IP, [0; 6], target)
}

/// Ethernet + IPv4 header (no options) around `payload`.
#[must_use]
pub fn ipv4(src: Ipv4Addr, dst: Ipv4Addr, proto: u8, ttl: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&[0x01, 0x00, 0x5e, 0x00, 0x00, 0x12]);
    f.extend_from_slice(&CLIENT_MAC);
    f.extend_from_slice(&[0x08, 0x00]);
    let total = u16::try_from(20 + payload.len()).unwrap_or(u16::MAX);
    let mut ip = [0u8; 20];
    ip[0] = 0x45;
    ip[1] = 0xc0;
    ip[2..4].copy_from_slice(&total.to_be_bytes());
    ip[8] = ttl;
    ip[9] = proto;
    ip[12..16].copy_from_slice(&src.octets());
    ip[16..20].copy_from_slice(&dst.octets());
    let c = inet_checksum(&ip);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    f.extend_from_slice(&ip);
    f.extend_from_slice(payload);
    f
}

/// A VRRP advertisement message (no IP header) with a correct checksum.
#[expect(
    clippy::too_many_arguments,
    reason = "one argument per header field keeps test cases readable"
)]
/// `interval` is centiseconds for v3, seconds for v2; `auth` is the v2 simple password.
#[must_use]
pub fn vrrp(
    version: u8,
    vrid: u8,
    priority: u8,
    interval: u16,
    addrs: &[Ipv4Addr],
    auth: Option<[u8; 8]>,
    src: Ipv4Addr,
    dst: Ipv4Addr,
) -> Vec<u8> {
    let mut m = vec![
        (version << 4) | 1,
        vrid,
        priority,
        u8::try_from(addrs.len()).unwrap_or(0),
    ];
    if version == 2 {
        m.push(u8::from(auth.is_some()));
        m.push(u8::try_from(interval).unwrap_or(0));
    } else {
        m.extend_from_slice(&(interval & 0x0fff).to_be_bytes());
    }
    m.extend_from_slice(&[0, 0]);
    for a in addrs {
        m.extend_from_slice(&a.octets());
    }
    if version == 2 {
        m.extend_from_slice(&auth.unwrap_or_default());
    }
    let c = if version == 3 {
        let mut pseudo = Vec::new();
        pseudo.extend_from_slice(&src.octets());
        pseudo.extend_from_slice(&dst.octets());
        pseudo.extend_from_slice(&[0, 112]);
        pseudo.extend_from_slice(&u16::try_from(m.len()).unwrap_or(0).to_be_bytes());
        pseudo.extend_from_slice(&m);
        inet_checksum(&pseudo)
    } else {
        inet_checksum(&m)
    };
    m[6..8].copy_from_slice(&c.to_be_bytes());
    m
}

/// keepalived 2.2.7's advert as captured on the wire (`TOOLCHAIN.md`): `VRRPv2`, VRID 51, priority
/// 150, interval 1 s, address 192.0.2.200, no auth, from 192.0.2.11 to 192.0.2.12.
pub const KEEPALIVED_V2_ADVERT: [u8; 40] = [
    0x45, 0xc0, 0x00, 0x28, 0x00, 0x02, 0x00, 0x00, 0xff, 0x70, 0x36, 0x8c, 0xc0, 0x00, 0x02, 0x0b,
    0xc0, 0x00, 0x02, 0x0c, 0x21, 0x33, 0x96, 0x01, 0x00, 0x01, 0x86, 0x01, 0xc0, 0x00, 0x02, 0xc8,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
];

/// Ethernet header + the keepalived advert.
#[must_use]
pub fn keepalived_frame() -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&[0x02, 0, 0, 0, 0, 0x0c]);
    f.extend_from_slice(&[0x02, 0, 0, 0, 0, 0x0b]);
    f.extend_from_slice(&[0x08, 0x00]);
    f.extend_from_slice(&KEEPALIVED_V2_ADVERT);
    f
}

/// `frame` with VLAN tags inserted after the MAC addresses, outermost first: each tag is its
/// TPID (0x8100 802.1Q, 0x88a8 802.1ad) and TCI.
#[must_use]
pub fn vlan_tagged(frame: &[u8], tags: &[(u16, u16)]) -> Vec<u8> {
    let mut f = frame[..12].to_vec();
    for (tpid, tci) in tags {
        f.extend_from_slice(&tpid.to_be_bytes());
        f.extend_from_slice(&tci.to_be_bytes());
    }
    f.extend_from_slice(&frame[12..]);
    f
}

/// Recomputes the IPv4 header checksum of an Ethernet + IPv4 frame after a test edited it.
pub fn fix_ip_checksum(frame: &mut [u8]) {
    let ihl = usize::from(frame[14] & 0x0f) * 4;
    frame[24..26].copy_from_slice(&[0, 0]);
    let c = inet_checksum(&frame[14..14 + ihl]);
    frame[24..26].copy_from_slice(&c.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_v2_builder_matches_keepalived_bytes() {
        let m = vrrp(
            2,
            51,
            150,
            1,
            &[Ipv4Addr::new(192, 0, 2, 200)],
            None,
            Ipv4Addr::new(192, 0, 2, 11),
            Ipv4Addr::new(192, 0, 2, 12),
        );
        assert_eq!(m, KEEPALIVED_V2_ADVERT[20..]);
        assert_eq!(
            inet_checksum(&KEEPALIVED_V2_ADVERT[..20]),
            0,
            "IP header checksum"
        );
    }
}
