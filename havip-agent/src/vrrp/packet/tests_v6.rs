//! Wire codec tests over IPv6 (RFC 9568 5.1.2, 5.2.8): a keepalived 2.2.7 advert captured on the
//! wire decoded and re-encoded byte for byte, the checksum recomputed independently over the
//! RFC 8200 8.1 pseudo-header, and every malformed variant with its exact error.

#![expect(
    clippy::unwrap_used,
    reason = "tests unwrap fixtures known to be valid"
)]

use super::*;

/// keepalived 2.2.7 on the wire (captured with tcpdump in a test namespace): Ethernet to
/// `33:33:00:00:00:12`, IPv6 `fe80::ff:fe00:b` -> `ff02::12` (traffic class 0xc0, a kernel flow label,
/// payload 24, next header 112, hop limit 255), then VRRP v3 VRID 51, priority 150, 100 cs, one
/// address `2001:db8::200`, checksum 0x0b85. keepalived.conf: `virtual_router_id 51`,
/// `priority 150`, `advert_int 1`, `virtual_ipaddress { 2001:db8::200/64 }`, nothing else.
const KEEPALIVED_V6_FRAME: [u8; 78] = [
    0x33, 0x33, 0x00, 0x00, 0x00, 0x12, 0x02, 0x00, 0x00, 0x00, 0x00, 0x0b, 0x86,
    0xdd, // Ethernet
    0x6c, 0x0c, 0xff, 0x75, 0x00, 0x18, 0x70, 0xff, // IPv6 fixed part
    0xfe, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xfe, 0x00, 0x00, 0x0b,
    0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x12,
    0x31, 0x33, 0x96, 0x01, 0x00, 0x64, 0x0b, 0x85, // VRRP header
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00,
];
const ETH_LEN: usize = 14;
const LL_SRC: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0xff, 0xfe00, 0x0b);
const VIP6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x200);

fn ip6_header() -> &'static [u8] {
    &KEEPALIVED_V6_FRAME[ETH_LEN..ETH_LEN + IPV6_HEADER_LEN]
}

fn vrrp6() -> &'static [u8] {
    &KEEPALIVED_V6_FRAME[ETH_LEN + IPV6_HEADER_LEN..]
}

fn repr6() -> AdvertRepr {
    AdvertRepr {
        version: Version::V3,
        vrid: 51,
        priority: 150,
        interval: AdvertInterval::Centiseconds(Centiseconds::new(100).unwrap()),
        addresses: vec![VIP6.into()],
        auth: Auth::None,
    }
}

/// RFC 8200 8.1 pseudo-header and RFC 1071 written the long way, independent of the module:
/// source, destination, 32-bit length, three zeros, next header; the checksum field zeroed.
fn naive_checksum6(src: Ipv6Addr, dst: Ipv6Addr, message: &[u8]) -> u16 {
    let mut bytes = src.octets().to_vec();
    bytes.extend_from_slice(&dst.octets());
    bytes.extend_from_slice(&u32::try_from(message.len()).unwrap().to_be_bytes());
    bytes.extend_from_slice(&[0, 0, 0, 112]);
    let mut m = message.to_vec();
    m[6] = 0;
    m[7] = 0;
    bytes.extend_from_slice(&m);
    if bytes.len() % 2 == 1 {
        bytes.push(0);
    }
    let mut sum: u32 = 0;
    for pair in bytes.chunks(2) {
        sum += (u32::from(pair[0]) << 8) | u32::from(pair[1]);
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !u16::try_from(sum).unwrap()
}

fn fix_checksum6(bytes: &mut [u8], src: Ipv6Addr, dst: Ipv6Addr) {
    let c = Packet::new_unchecked(&*bytes, Family::V6).compute_checksum(
        src,
        dst,
        ChecksumMode::PseudoHeader,
    );
    bytes[6..8].copy_from_slice(&c.to_be_bytes());
}

#[test]
fn keepalived_v6_capture_header_facts() {
    let h = ip6_header();
    assert_eq!(h[0] >> 4, 6, "IPv6");
    assert_eq!(h[6], PROTOCOL, "next header 112");
    assert_eq!(h[7], HOP_LIMIT, "hop limit 255 (RFC 9568 5.1.2.3)");
    assert_eq!(
        &h[8..24],
        &LL_SRC.octets(),
        "sent from the link-local address"
    );
    assert_eq!(&h[24..40], &MULTICAST_GROUP_V6.octets(), "to ff02::12");
    assert_eq!(usize::from(u16::from_be_bytes([h[4], h[5]])), vrrp6().len());
}

#[test]
fn keepalived_v6_capture_decodes() {
    let repr = AdvertRepr::parse(
        vrrp6(),
        LL_SRC,
        MULTICAST_GROUP_V6,
        ChecksumMode::PseudoHeader,
    )
    .unwrap();
    assert_eq!(repr, repr6());
    assert_eq!(repr.family(), Family::V6);
    // Over IPv6 the pseudo-header is always summed: `v3_checksum_as_v2` does not apply.
    let as_v2 = AdvertRepr::parse(vrrp6(), LL_SRC, MULTICAST_GROUP_V6, ChecksumMode::V3AsV2);
    assert_eq!(as_v2, Ok(repr6()));
}

#[test]
fn keepalived_v6_capture_encodes_byte_for_byte() {
    for mode in [ChecksumMode::PseudoHeader, ChecksumMode::V3AsV2] {
        let bytes = repr6().to_bytes(LL_SRC, MULTICAST_GROUP_V6, mode).unwrap();
        assert_eq!(bytes, vrrp6());
    }
    assert_eq!(repr6().buffer_len(), 24);
}

#[test]
fn v6_checksum_matches_an_independent_sum() {
    assert_eq!(naive_checksum6(LL_SRC, MULTICAST_GROUP_V6, vrrp6()), 0x0b85);
    let p = Packet::new_checked(vrrp6(), Family::V6).unwrap();
    assert_eq!(p.checksum(), 0x0b85);
    assert_eq!(
        p.compute_checksum(LL_SRC, MULTICAST_GROUP_V6, ChecksumMode::PseudoHeader),
        0x0b85
    );
    // A unicast advert between two documentation addresses with three VIPs.
    let src = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0x11);
    let dst = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0x12);
    let repr = AdvertRepr {
        vrid: 200,
        priority: 255,
        interval: AdvertInterval::Centiseconds(Centiseconds::MAX),
        addresses: (1..=3)
            .map(|i| Ipv6Addr::new(0x2001, 0xdb8, 2, 0, 0, 0, 0, i).into())
            .collect(),
        ..repr6()
    };
    let bytes = repr.to_bytes(src, dst, ChecksumMode::PseudoHeader).unwrap();
    assert_eq!(bytes.len(), 8 + 3 * 16);
    assert_eq!(
        u16::from_be_bytes([bytes[6], bytes[7]]),
        naive_checksum6(src, dst, &bytes)
    );
    assert_eq!(
        AdvertRepr::parse(&bytes, src, dst, ChecksumMode::PseudoHeader),
        Ok(repr)
    );
}

#[test]
fn view_reads_sixteen_byte_addresses() {
    let p = Packet::new_checked(vrrp6(), Family::V6).unwrap();
    assert_eq!(p.family(), Family::V6);
    assert_eq!(p.address(0), Some(VIP6.into()));
    assert_eq!(p.address(1), None);
    assert_eq!(p.addresses().collect::<Vec<_>>(), vec![IpAddr::from(VIP6)]);
    // The same bytes read as IPv4 announce one 4-byte address and carry 12 bytes too many.
    assert_eq!(
        Packet::new_checked(vrrp6(), Family::V4).err(),
        Some(DecodeError::BadLength {
            vrid: 51,
            len: 24,
            expected: 12
        })
    );
}

#[test]
fn ipv6_header_is_keepalived_s_but_the_flow_label() {
    let h = ipv6_header(LL_SRC, MULTICAST_GROUP_V6, vrrp6().len()).unwrap();
    let captured = ip6_header();
    // Byte 1's low nibble and bytes 2..4 are the flow label, which the sender's kernel picks.
    assert_eq!(h[0], captured[0]);
    assert_eq!(h[1] & 0xf0, captured[1] & 0xf0);
    assert_eq!(&h[4..], &captured[4..]);
    assert_eq!(
        ipv6_header(LL_SRC, MULTICAST_GROUP_V6, 70_000),
        Err(EmitError::PayloadTooLong { len: 70_000 })
    );
}

#[test]
fn malformed_v6_adverts_are_refused_with_the_exact_error() {
    let (src, dst) = (LL_SRC, MULTICAST_GROUP_V6);
    let m = ChecksumMode::PseudoHeader;

    // Every truncation of the captured message.
    for len in 0..vrrp6().len() {
        let needed = if len < HEADER_LEN { HEADER_LEN } else { 24 };
        assert_eq!(
            AdvertRepr::parse(&vrrp6()[..len], src, dst, m),
            Err(DecodeError::Truncated { len, needed }),
            "length {len}"
        );
    }

    // A trailing byte.
    let mut long = vrrp6().to_vec();
    long.push(0);
    assert_eq!(
        AdvertRepr::parse(&long, src, dst, m),
        Err(DecodeError::BadLength {
            vrid: 51,
            len: 25,
            expected: 24
        })
    );

    // One bit flipped in an address.
    let mut flipped = vrrp6().to_vec();
    flipped[23] ^= 0x01;
    assert_eq!(
        AdvertRepr::parse(&flipped, src, dst, m),
        Err(DecodeError::BadChecksum {
            vrid: 51,
            got: 0x0b85,
            expected: naive_checksum6(src, dst, &flipped)
        })
    );

    // The right message from another source: the pseudo-header differs.
    let other = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0xff, 0xfe00, 0x0c);
    assert!(matches!(
        AdvertRepr::parse(vrrp6(), other, dst, m),
        Err(DecodeError::BadChecksum { vrid: 51, .. })
    ));

    // Source and destination of two families.
    assert_eq!(
        AdvertRepr::parse(vrrp6(), src, MULTICAST_GROUP, m),
        Err(DecodeError::FamilyMismatch {
            src: src.into(),
            dst: MULTICAST_GROUP.into()
        })
    );
    let view = Packet::new_checked(vrrp6(), Family::V4);
    assert!(view.is_err());
    let view4 = Packet::new_checked(&vrrp6()[..12], Family::V4).unwrap();
    assert_eq!(
        AdvertRepr::parse_packet(&view4, src, dst, m),
        Err(DecodeError::FamilyMismatch {
            src: src.into(),
            dst: dst.into()
        })
    );

    // VRRPv2 over IPv6, with a checksum a v2 receiver would accept (message only).
    let mut v2 = vrrp6().to_vec();
    v2[0] = 0x21;
    v2[4] = 0;
    v2[5] = 1;
    v2.extend_from_slice(&[0; AUTH_DATA_LEN]);
    let c = Packet::new_unchecked(&v2[..], Family::V6).compute_checksum(src, dst, m);
    v2[6..8].copy_from_slice(&c.to_be_bytes());
    assert_eq!(
        AdvertRepr::parse(&v2, src, dst, m),
        Err(DecodeError::V2OverIpv6 { vrid: 51 })
    );
}

#[test]
fn v6_header_fields_out_of_range_are_refused() {
    let (src, dst) = (LL_SRC, MULTICAST_GROUP_V6);
    let m = ChecksumMode::PseudoHeader;
    // No address, type 2, VRID 0, interval 0, version 4: each with a right checksum.
    let mut none = vrrp6()[..HEADER_LEN].to_vec();
    none[3] = 0;
    fix_checksum6(&mut none, src, dst);
    assert_eq!(
        AdvertRepr::parse(&none, src, dst, m),
        Err(DecodeError::NoAddresses { vrid: 51 })
    );
    let mut type2 = vrrp6().to_vec();
    type2[0] = 0x32;
    fix_checksum6(&mut type2, src, dst);
    assert_eq!(
        AdvertRepr::parse(&type2, src, dst, m),
        Err(DecodeError::BadType { vrid: 51, type_: 2 })
    );
    let mut vrid0 = vrrp6().to_vec();
    vrid0[1] = 0;
    fix_checksum6(&mut vrid0, src, dst);
    assert_eq!(
        AdvertRepr::parse(&vrid0, src, dst, m),
        Err(DecodeError::ZeroVrid)
    );
    let mut int0 = vrrp6().to_vec();
    int0[4] = 0xf0; // reserved bits set, interval zero
    int0[5] = 0;
    fix_checksum6(&mut int0, src, dst);
    assert_eq!(
        AdvertRepr::parse(&int0, src, dst, m),
        Err(DecodeError::ZeroInterval {
            vrid: 51,
            version: 3
        })
    );
    let mut v4 = vrrp6().to_vec();
    v4[0] = 0x41;
    assert_eq!(
        AdvertRepr::parse(&v4, src, dst, m),
        Err(DecodeError::BadVersion { version: 4 })
    );
}

#[test]
fn v6_reprs_that_cannot_be_sent_are_refused() {
    let (src, dst) = (LL_SRC, MULTICAST_GROUP_V6);
    let m = ChecksumMode::PseudoHeader;
    let v2 = AdvertRepr {
        version: Version::V2,
        interval: AdvertInterval::Seconds(Seconds(1)),
        ..repr6()
    };
    assert_eq!(
        v2.to_bytes(src, dst, m),
        Err(EmitError::V2OverIpv6 { vrid: 51 })
    );
    let v4_vip: IpAddr = Ipv4Addr::new(192, 0, 2, 200).into();
    let mixed = AdvertRepr {
        addresses: vec![VIP6.into(), v4_vip],
        ..repr6()
    };
    assert_eq!(
        mixed.to_bytes(src, dst, m),
        Err(EmitError::FamilyMismatch {
            vrid: 51,
            src: src.into(),
            addr: v4_vip
        })
    );
    // IPv6 addresses from an IPv4 source, and an IPv4 destination from an IPv6 source.
    let v4_src = Ipv4Addr::new(192, 0, 2, 11);
    assert_eq!(
        repr6().to_bytes(v4_src, MULTICAST_GROUP, m),
        Err(EmitError::FamilyMismatch {
            vrid: 51,
            src: v4_src.into(),
            addr: VIP6.into()
        })
    );
    assert_eq!(
        repr6().to_bytes(src, MULTICAST_GROUP, m),
        Err(EmitError::FamilyMismatch {
            vrid: 51,
            src: src.into(),
            addr: MULTICAST_GROUP.into()
        })
    );
    let mut small = [0u8; 23];
    assert_eq!(
        repr6().emit(&mut small, src, dst, m),
        Err(EmitError::BufferTooSmall {
            len: 23,
            needed: 24
        })
    );
}

#[test]
fn largest_v6_advert_round_trips() {
    let (src, dst) = (LL_SRC, MULTICAST_GROUP_V6);
    let repr = AdvertRepr {
        addresses: (0..=254u16)
            .map(|i| Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 1, i).into())
            .collect(),
        ..repr6()
    };
    let bytes = repr.to_bytes(src, dst, ChecksumMode::PseudoHeader).unwrap();
    assert_eq!(bytes.len(), 8 + 255 * 16);
    assert_eq!(bytes[3], 255);
    assert_eq!(
        AdvertRepr::parse(&bytes, src, dst, ChecksumMode::PseudoHeader),
        Ok(repr)
    );
}

#[test]
fn unchecked_v6_views_never_panic() {
    for len in 0..40 {
        let bytes = vec![0x3f; len];
        let p = Packet::new_unchecked(&bytes[..], Family::V6);
        let _ = (p.version(), p.vrid(), p.interval(), p.auth_data());
        let _ = p.addresses().count();
        let _ = p.address(255);
        let _ = p.compute_checksum(LL_SRC, MULTICAST_GROUP_V6, ChecksumMode::V3AsV2);
        let _ = p.verify_checksum(LL_SRC, MULTICAST_GROUP_V6, ChecksumMode::PseudoHeader);
        assert!(
            AdvertRepr::parse(
                &bytes,
                LL_SRC,
                MULTICAST_GROUP_V6,
                ChecksumMode::PseudoHeader
            )
            .is_err()
        );
    }
}
