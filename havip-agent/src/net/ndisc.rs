//! Unsolicited Neighbor Advertisements (RFC 4861 7.2.6), the IPv6 counterpart of gratuitous ARP
//! (RFC 9568 6.4.1 asks the new master to send one per IPv6 VIP): to all-nodes `ff02::1`, from
//! the VIP, hop limit 255, Override set (neighbours replace the cached link-layer address),
//! Solicited clear, one target link-layer address option. keepalived 2.2.7 sends them on the
//! gratuitous ARP schedule (`garp_master_delay`, `_repeat`, `_refresh`), one per VIP per round.
//!
//! Router is clear, as in the kernel's solicited answers (`havip-ebpf/src/ndp.rs`): the VIP is a
//! service address; a host must not start using it as a default router.

//!
//! Sent by [`super::garp::GarpSender`], the same sender and schedule as gratuitous ARP.

use std::net::Ipv6Addr;

/// Length of the advertisement frame: Ethernet 14, IPv6 40, NA 24, option 8.
pub const FRAME_LEN: usize = 86;
/// The all-nodes multicast group (RFC 4291 2.7.1).
const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
/// `ICMPv6` as IPv6 next header, and the Neighbor Advertisement type (RFC 4861 4.4).
const NEXTHDR_ICMPV6: u8 = 58;
const NEIGHBOR_ADVERTISEMENT: u8 = 136;
/// Override flag, first byte of the NA flags word.
const FLAG_OVERRIDE: u8 = 0x20;
/// `ICMPv6` length of the advertisement: body plus one 8-byte option.
const ICMP_LEN: u16 = 32;

/// Builds the unsolicited Neighbor Advertisement announcing `vip` at `mac`.
#[must_use]
pub fn frame(mac: [u8; 6], vip: Ipv6Addr) -> [u8; FRAME_LEN] {
    let mut f = [0u8; FRAME_LEN];
    // RFC 2464 7: 33:33 and the group's last 32 bits.
    f[0..6].copy_from_slice(&[0x33, 0x33, 0, 0, 0, 1]);
    f[6..12].copy_from_slice(&mac);
    f[12..14].copy_from_slice(&0x86ddu16.to_be_bytes());
    f[14] = 0x60;
    f[18..20].copy_from_slice(&ICMP_LEN.to_be_bytes());
    f[20] = NEXTHDR_ICMPV6;
    f[21] = 255;
    f[22..38].copy_from_slice(&vip.octets());
    f[38..54].copy_from_slice(&ALL_NODES.octets());
    f[54] = NEIGHBOR_ADVERTISEMENT;
    f[58] = FLAG_OVERRIDE;
    f[62..78].copy_from_slice(&vip.octets());
    // Target link-layer address option (RFC 4861 4.6.1): type 2, length 1 (8 bytes).
    f[78] = 2;
    f[79] = 1;
    f[80..86].copy_from_slice(&mac);
    let checksum = checksum(&f[22..54], &f[54..]);
    f[56..58].copy_from_slice(&checksum.to_be_bytes());
    f
}

/// RFC 1071 over the RFC 8200 8.1 pseudo-header (the addresses as in the IPv6 header, the
/// 32-bit length, next header 58) and the `ICMPv6` message with its checksum field zero.
fn checksum(addresses: &[u8], message: &[u8]) -> u16 {
    let mut sum: u64 = u64::from(ICMP_LEN) + u64::from(NEXTHDR_ICMPV6);
    for pair in addresses
        .as_chunks::<2>()
        .0
        .iter()
        .chain(message.as_chunks::<2>().0)
    {
        sum += u64::from(u16::from_be_bytes(*pair));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !u16::try_from(sum).unwrap_or(u16::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAC: [u8; 6] = [2, 0, 0, 0, 0, 0x0b];
    const VIP: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x200);

    /// The checksum summed the long way, with a 32-bit accumulator folded twice.
    fn naive(frame: &[u8]) -> u16 {
        let mut bytes = frame[22..54].to_vec();
        bytes.extend_from_slice(&[0, 0, 0, 32, 0, 0, 0, 58]);
        let mut message = frame[54..].to_vec();
        message[2] = 0;
        message[3] = 0;
        bytes.extend_from_slice(&message);
        let mut sum: u32 = 0;
        for i in (0..bytes.len()).step_by(2) {
            sum += (u32::from(bytes[i]) << 8) | u32::from(bytes[i + 1]);
        }
        sum = (sum & 0xffff) + (sum >> 16);
        sum = (sum & 0xffff) + (sum >> 16);
        !u16::try_from(sum).unwrap_or(0)
    }

    #[test]
    fn advertisement_layout() {
        let f = frame(MAC, VIP);
        assert_eq!(&f[0..6], &[0x33, 0x33, 0, 0, 0, 1], "all-nodes MAC");
        assert_eq!(&f[6..12], &MAC);
        assert_eq!(&f[12..14], &[0x86, 0xdd]);
        assert_eq!(f[20], 58, "next header ICMPv6");
        assert_eq!(f[21], 255, "hop limit (RFC 4861 7.1.2)");
        assert_eq!(&f[22..38], &VIP.octets(), "from the VIP");
        assert_eq!(&f[38..54], &ALL_NODES.octets(), "to all nodes");
        assert_eq!(f[54], 136, "Neighbor Advertisement");
        assert_eq!(f[58], 0x20, "Override only: not solicited, not a router");
        assert_eq!(&f[62..78], &VIP.octets(), "target = VIP");
        assert_eq!(&f[78..80], &[2, 1], "target link-layer option");
        assert_eq!(&f[80..86], &MAC);
    }

    #[test]
    fn checksum_matches_an_independent_sum() {
        for vip in [VIP, Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0xff, 0xfe00, 0x0b)] {
            let f = frame(MAC, vip);
            assert_eq!(u16::from_be_bytes([f[56], f[57]]), naive(&f), "{vip}");
        }
    }
}
