//! Wire codec tests: byte fixtures both ways, every malformed variant, and a no-panic sweep.
//!
//! Each fixture states what goes in (bytes, IPv4 source and destination, checksum mode) and what
//! must come out (the repr, or the exact error).

#![expect(
    clippy::unwrap_used,
    reason = "tests unwrap fixtures known to be valid"
)]

use super::*;

const SRC: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 11);
const DST: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 12);
const VIP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 200);

/// keepalived 2.2.7 on the wire (TOOLCHAIN.md): IPv4 header then VRRP v2, VRID 51, priority 150,
/// interval 1 s, address 192.0.2.200, no auth, checksum 0x8601, 192.0.2.11 -> 192.0.2.12.
const KEEPALIVED_FRAME: [u8; 40] = [
    0x45, 0xc0, 0x00, 0x28, 0x00, 0x02, 0x00, 0x00, 0xff, 0x70, 0x36, 0x8c, 0xc0, 0x00, 0x02, 0x0b,
    0xc0, 0x00, 0x02, 0x0c, // IPv4
    0x21, 0x33, 0x96, 0x01, 0x00, 0x01, 0x86, 0x01, 0xc0, 0x00, 0x02, 0xc8, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, // VRRP
];

/// VRRP v3, VRID 51, priority 150, 100 cs, 192.0.2.200, from 192.0.2.11 to 224.0.0.18.
/// Checksum by hand (RFC 1071), pseudo-header c000 020b e000 0012 0070 000c, message
/// 3133 9601 0064 0000 c000 02c8: sum 0x32cf9, folded 0x2cfc, complement 0xd303.
const V3_MCAST: [u8; 12] = [
    0x31, 0x33, 0x96, 0x01, 0x00, 0x64, 0xd3, 0x03, 0xc0, 0x00, 0x02, 0xc8,
];
/// The same advert with `v3_checksum_as_v2`: message only, sum 0x18a60, folded 0x8a61, 0x759e.
const V3_MCAST_AS_V2: [u8; 12] = [
    0x31, 0x33, 0x96, 0x01, 0x00, 0x64, 0x75, 0x9e, 0xc0, 0x00, 0x02, 0xc8,
];
/// VRRP v3, VRID 1, priority 255, 4095 cs (the maximum), 10.0.0.1 and 10.0.0.2, from 10.0.0.254
/// to 224.0.0.18. Pseudo-header sum 0xeb90, total 0x23f95, folded 0x3f97, complement 0xc068.
const V3_OWNER: [u8; 16] = [
    0x31, 0x01, 0xff, 0x02, 0x0f, 0xff, 0xc0, 0x68, 0x0a, 0x00, 0x00, 0x01, 0x0a, 0x00, 0x00, 0x02,
];
const V3_OWNER_SRC: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 254);
/// VRRP v2, VRID 7, priority 100, 3 s, 10.1.1.1, simple password "secret". Sum 0x1cd58, folded
/// 0xcd59, complement 0x32a6.
const V2_AUTH: [u8; 20] = [
    0x21, 0x07, 0x64, 0x01, 0x01, 0x03, 0x32, 0xa6, 0x0a, 0x01, 0x01, 0x01, b's', b'e', b'c', b'r',
    b'e', b't', 0, 0,
];

fn keepalived_vrrp() -> &'static [u8] {
    &KEEPALIVED_FRAME[IPV4_HEADER_LEN..]
}

fn keepalived_repr() -> AdvertRepr {
    AdvertRepr {
        version: Version::V2,
        vrid: 51,
        priority: 150,
        interval: AdvertInterval::Seconds(Seconds(1)),
        addresses: vec![VIP.into()],
        auth: Auth::None,
    }
}

fn v3_repr() -> AdvertRepr {
    AdvertRepr {
        version: Version::V3,
        vrid: 51,
        priority: 150,
        interval: AdvertInterval::Centiseconds(Centiseconds::new(100).unwrap()),
        addresses: vec![VIP.into()],
        auth: Auth::None,
    }
}

/// RFC 1071 written the long way, independent of the module's helpers: zero the field, add
/// every 16-bit word into a u32, fold twice, complement.
fn naive_checksum(pseudo: &[u8], message: &[u8]) -> u16 {
    let mut bytes = pseudo.to_vec();
    let mut m = message.to_vec();
    m[6] = 0;
    m[7] = 0;
    bytes.extend_from_slice(&m);
    let mut sum: u32 = 0;
    for i in (0..bytes.len()).step_by(2) {
        sum += (u32::from(bytes[i]) << 8) | u32::from(bytes[i + 1]);
    }
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    !u16::try_from(sum).unwrap()
}

fn pseudo(src: Ipv4Addr, dst: Ipv4Addr, len: u16) -> Vec<u8> {
    let mut p = src.octets().to_vec();
    p.extend_from_slice(&dst.octets());
    p.extend_from_slice(&[0, PROTOCOL]);
    p.extend_from_slice(&len.to_be_bytes());
    p
}

/// Rewrites the checksum so a test can reach the checks that come after it.
fn fix_checksum(bytes: &mut [u8], src: Ipv4Addr, dst: Ipv4Addr, mode: ChecksumMode) {
    let c = Packet::new_unchecked(&*bytes, Family::V4).compute_checksum(src, dst, mode);
    bytes[6..8].copy_from_slice(&c.to_be_bytes());
}

#[test]
fn keepalived_capture_decodes() {
    let repr = AdvertRepr::parse(keepalived_vrrp(), SRC, DST, ChecksumMode::PseudoHeader).unwrap();
    assert_eq!(repr, keepalived_repr());
    // v2 ignores the mode.
    let repr2 = AdvertRepr::parse(keepalived_vrrp(), SRC, DST, ChecksumMode::V3AsV2).unwrap();
    assert_eq!(repr2, keepalived_repr());
    let p = Packet::new_checked(keepalived_vrrp(), Family::V4).unwrap();
    assert_eq!(p.checksum(), 0x8601);
    assert_eq!(p.auth_type(), Some(0));
    assert_eq!(p.auth_data(), Some([0; 8]));
    assert_eq!(p.interval(), Some(AdvertInterval::Seconds(Seconds(1))));
    assert_eq!(p.address(0), Some(VIP.into()));
    assert_eq!(p.address(1), None);
    assert_eq!(naive_checksum(&[], keepalived_vrrp()), 0x8601);
}

#[test]
fn keepalived_capture_encodes_byte_for_byte() {
    let repr = keepalived_repr();
    assert_eq!(repr.buffer_len(), 20);
    let bytes = repr.to_bytes(SRC, DST, ChecksumMode::PseudoHeader).unwrap();
    assert_eq!(bytes, keepalived_vrrp());
    let header = ipv4_header(SRC, DST, bytes.len(), 2).unwrap();
    assert_eq!(header[..], KEEPALIVED_FRAME[..IPV4_HEADER_LEN]);
}

#[test]
fn ipv4_header_rejects_oversized_payload() {
    assert_eq!(
        ipv4_header(SRC, DST, 65_516, 0),
        Err(EmitError::PayloadTooLong { len: 65_516 })
    );
    assert!(ipv4_header(SRC, DST, 65_515, 0).is_ok());
}

#[test]
fn v3_fixtures_both_ways() {
    let cases: [(&[u8], AdvertRepr, Ipv4Addr, ChecksumMode); 3] = [
        (&V3_MCAST, v3_repr(), SRC, ChecksumMode::PseudoHeader),
        (&V3_MCAST_AS_V2, v3_repr(), SRC, ChecksumMode::V3AsV2),
        (
            &V3_OWNER,
            AdvertRepr {
                version: Version::V3,
                vrid: 1,
                priority: 255,
                interval: AdvertInterval::Centiseconds(Centiseconds::MAX),
                addresses: vec![
                    Ipv4Addr::new(10, 0, 0, 1).into(),
                    Ipv4Addr::new(10, 0, 0, 2).into(),
                ],
                auth: Auth::None,
            },
            V3_OWNER_SRC,
            ChecksumMode::PseudoHeader,
        ),
    ];
    for (bytes, repr, src, mode) in cases {
        assert_eq!(
            AdvertRepr::parse(bytes, src, MULTICAST_GROUP, mode),
            Ok(repr.clone())
        );
        assert_eq!(repr.to_bytes(src, MULTICAST_GROUP, mode).unwrap(), bytes);
        let len = u16::try_from(bytes.len()).unwrap();
        let ph = match mode {
            ChecksumMode::PseudoHeader => pseudo(src, MULTICAST_GROUP, len),
            ChecksumMode::V3AsV2 => Vec::new(),
        };
        assert_eq!(
            naive_checksum(&ph, bytes),
            u16::from_be_bytes([bytes[6], bytes[7]])
        );
    }
}

#[test]
fn v3_reserved_bits_are_ignored_on_receipt() {
    let mut bytes = V3_MCAST;
    bytes[4] |= 0xf0;
    fix_checksum(&mut bytes, SRC, MULTICAST_GROUP, ChecksumMode::PseudoHeader);
    let repr = AdvertRepr::parse(&bytes, SRC, MULTICAST_GROUP, ChecksumMode::PseudoHeader);
    assert_eq!(repr, Ok(v3_repr()));
}

#[test]
fn v2_simple_auth_both_ways() {
    let repr = AdvertRepr {
        version: Version::V2,
        vrid: 7,
        priority: 100,
        interval: AdvertInterval::Seconds(Seconds(3)),
        addresses: vec![Ipv4Addr::new(10, 1, 1, 1).into()],
        auth: Auth::simple(b"secret").unwrap(),
    };
    assert_eq!(
        AdvertRepr::parse(&V2_AUTH, SRC, DST, ChecksumMode::PseudoHeader),
        Ok(repr.clone())
    );
    assert_eq!(
        repr.to_bytes(SRC, DST, ChecksumMode::PseudoHeader).unwrap(),
        V2_AUTH
    );
    assert_eq!(naive_checksum(&[], &V2_AUTH), 0x32a6);
    assert_eq!(format!("{:?}", repr.auth), "Simple(<redacted>)");
    assert_eq!(Auth::simple(b"123456789"), None);
}

#[test]
fn v3_checksum_depends_on_addresses_and_mode() {
    let m = ChecksumMode::PseudoHeader;
    let other = Ipv4Addr::new(192, 0, 2, 99);
    assert_eq!(
        AdvertRepr::parse(&V3_MCAST, other, MULTICAST_GROUP, m),
        Err(DecodeError::BadChecksum {
            vrid: 51,
            got: 0xd303,
            expected: 0xd2ab
        })
    );
    assert!(matches!(
        AdvertRepr::parse(&V3_MCAST, SRC, DST, m),
        Err(DecodeError::BadChecksum {
            vrid: 51,
            got: 0xd303,
            ..
        })
    ));
    assert_eq!(
        AdvertRepr::parse(&V3_MCAST, SRC, MULTICAST_GROUP, ChecksumMode::V3AsV2),
        Err(DecodeError::BadChecksum {
            vrid: 51,
            got: 0xd303,
            expected: 0x759e
        })
    );
    assert_eq!(
        AdvertRepr::parse(&V3_MCAST_AS_V2, SRC, MULTICAST_GROUP, m),
        Err(DecodeError::BadChecksum {
            vrid: 51,
            got: 0x759e,
            expected: 0xd303
        })
    );
}

#[test]
fn every_truncation_is_reported() {
    let fixtures: [&[u8]; 4] = [keepalived_vrrp(), &V3_MCAST, &V3_OWNER, &V2_AUTH];
    for full in fixtures {
        for len in 0..full.len() {
            let needed = if len < HEADER_LEN {
                HEADER_LEN
            } else {
                full.len()
            };
            assert_eq!(
                AdvertRepr::parse(
                    &full[..len],
                    SRC,
                    MULTICAST_GROUP,
                    ChecksumMode::PseudoHeader
                ),
                Err(DecodeError::Truncated { len, needed }),
                "fixture {full:02x?} cut at {len}"
            );
        }
    }
}

#[test]
fn trailing_bytes_are_a_length_error() {
    let mut long = keepalived_vrrp().to_vec();
    long.push(0);
    assert_eq!(
        AdvertRepr::parse(&long, SRC, DST, ChecksumMode::PseudoHeader),
        Err(DecodeError::BadLength {
            vrid: 51,
            len: 21,
            expected: 20
        })
    );
}

#[test]
fn address_count_mismatch() {
    // Count says 2, one address present: the header announces more than was received.
    let mut more = keepalived_vrrp().to_vec();
    more[3] = 2;
    assert_eq!(
        AdvertRepr::parse(&more, SRC, DST, ChecksumMode::PseudoHeader),
        Err(DecodeError::Truncated {
            len: 20,
            needed: 24
        })
    );
    // Count says 0, one address present.
    let mut fewer = keepalived_vrrp().to_vec();
    fewer[3] = 0;
    assert_eq!(
        AdvertRepr::parse(&fewer, SRC, DST, ChecksumMode::PseudoHeader),
        Err(DecodeError::BadLength {
            vrid: 51,
            len: 20,
            expected: 16
        })
    );
}

#[test]
fn bad_version_and_type() {
    for version in [0u8, 1, 4, 15] {
        let mut bytes = keepalived_vrrp().to_vec();
        bytes[0] = (version << 4) | 1;
        assert_eq!(
            AdvertRepr::parse(&bytes, SRC, DST, ChecksumMode::PseudoHeader),
            Err(DecodeError::BadVersion { version })
        );
    }
    for type_ in [0u8, 2, 15] {
        let mut bytes = V3_MCAST;
        bytes[0] = 0x30 | type_;
        fix_checksum(&mut bytes, SRC, MULTICAST_GROUP, ChecksumMode::PseudoHeader);
        assert_eq!(
            AdvertRepr::parse(&bytes, SRC, MULTICAST_GROUP, ChecksumMode::PseudoHeader),
            Err(DecodeError::BadType { vrid: 51, type_ })
        );
    }
}

#[test]
fn bad_checksum_reports_both_values() {
    let mut bytes = keepalived_vrrp().to_vec();
    bytes[7] ^= 0x10;
    assert_eq!(
        AdvertRepr::parse(&bytes, SRC, DST, ChecksumMode::PseudoHeader),
        Err(DecodeError::BadChecksum {
            vrid: 51,
            got: 0x8611,
            expected: 0x8601
        })
    );
    // A flipped payload bit is caught too.
    let mut bytes = keepalived_vrrp().to_vec();
    bytes[2] = 151;
    assert!(matches!(
        AdvertRepr::parse(&bytes, SRC, DST, ChecksumMode::PseudoHeader),
        Err(DecodeError::BadChecksum {
            vrid: 51,
            got: 0x8601,
            ..
        })
    ));
}

#[test]
fn semantic_errors_after_a_valid_checksum() {
    let m = ChecksumMode::PseudoHeader;
    let g = MULTICAST_GROUP;
    let mut zero_vrid = V3_MCAST;
    zero_vrid[1] = 0;
    fix_checksum(&mut zero_vrid, SRC, g, m);
    assert_eq!(
        AdvertRepr::parse(&zero_vrid, SRC, g, m),
        Err(DecodeError::ZeroVrid)
    );

    let mut no_addr = V3_MCAST[..8].to_vec();
    no_addr[3] = 0;
    fix_checksum(&mut no_addr, SRC, g, m);
    assert_eq!(
        AdvertRepr::parse(&no_addr, SRC, g, m),
        Err(DecodeError::NoAddresses { vrid: 51 })
    );

    // v2 without addresses is accepted (keepalived allows it outside strict mode).
    let mut v2_no_addr = keepalived_vrrp()[..8].to_vec();
    v2_no_addr.extend_from_slice(&[0; 8]);
    v2_no_addr[3] = 0;
    fix_checksum(&mut v2_no_addr, SRC, DST, m);
    assert_eq!(
        AdvertRepr::parse(&v2_no_addr, SRC, DST, m)
            .unwrap()
            .addresses,
        Vec::<IpAddr>::new()
    );

    let mut zero_v3 = V3_MCAST;
    zero_v3[5] = 0;
    fix_checksum(&mut zero_v3, SRC, g, m);
    assert_eq!(
        AdvertRepr::parse(&zero_v3, SRC, g, m),
        Err(DecodeError::ZeroInterval {
            vrid: 51,
            version: 3
        })
    );
    let mut zero_v2 = keepalived_vrrp().to_vec();
    zero_v2[5] = 0;
    fix_checksum(&mut zero_v2, SRC, DST, m);
    assert_eq!(
        AdvertRepr::parse(&zero_v2, SRC, DST, m),
        Err(DecodeError::ZeroInterval {
            vrid: 51,
            version: 2
        })
    );
}

#[test]
fn auth_type_mismatch() {
    for auth_type in [2u8, 3, 255] {
        let mut bytes = V2_AUTH;
        bytes[4] = auth_type;
        fix_checksum(&mut bytes, SRC, DST, ChecksumMode::PseudoHeader);
        assert_eq!(
            AdvertRepr::parse(&bytes, SRC, DST, ChecksumMode::PseudoHeader),
            Err(DecodeError::UnsupportedAuth { vrid: 7, auth_type })
        );
    }
    // Type 0 with data present: the data is ignored (RFC 3768 5.3.6.1).
    let mut bytes = V2_AUTH;
    bytes[4] = 0;
    fix_checksum(&mut bytes, SRC, DST, ChecksumMode::PseudoHeader);
    let repr = AdvertRepr::parse(&bytes, SRC, DST, ChecksumMode::PseudoHeader).unwrap();
    assert_eq!(repr.auth, Auth::None);
}

#[test]
fn emit_refuses_unencodable_reprs() {
    let src = SRC;
    let m = ChecksumMode::PseudoHeader;
    let mut buf = [0u8; 64];
    assert_eq!(
        keepalived_repr().emit(&mut buf[..19], src, DST, m),
        Err(EmitError::BufferTooSmall {
            len: 19,
            needed: 20
        })
    );
    let cases = [
        (
            AdvertRepr {
                vrid: 0,
                ..keepalived_repr()
            },
            EmitError::ZeroVrid,
        ),
        (
            AdvertRepr {
                addresses: vec![VIP.into(); 256],
                ..keepalived_repr()
            },
            EmitError::TooManyAddresses {
                vrid: 51,
                count: 256,
            },
        ),
        (
            AdvertRepr {
                version: Version::V3,
                ..keepalived_repr()
            },
            EmitError::IntervalVersionMismatch {
                vrid: 51,
                version: 3,
            },
        ),
        (
            AdvertRepr {
                interval: AdvertInterval::Seconds(Seconds(0)),
                ..keepalived_repr()
            },
            EmitError::ZeroInterval { vrid: 51 },
        ),
        (
            AdvertRepr {
                addresses: vec![],
                ..v3_repr()
            },
            EmitError::NoAddresses { vrid: 51 },
        ),
        (
            AdvertRepr {
                auth: Auth::simple(b"x").unwrap(),
                ..v3_repr()
            },
            EmitError::AuthInV3 { vrid: 51 },
        ),
    ];
    for (repr, err) in cases {
        assert_eq!(repr.emit(&mut buf, src, DST, m), Err(err));
    }
    // A larger buffer is fine; only the message is written.
    assert_eq!(keepalived_repr().emit(&mut buf, src, DST, m), Ok(20));
    assert_eq!(&buf[..20], keepalived_vrrp());
}

#[test]
fn interval_units() {
    assert_eq!(Centiseconds::new(4096), None);
    assert_eq!(
        Centiseconds::new(4095).map(Centiseconds::to_duration),
        Some(Duration::from_millis(40_950))
    );
    assert_eq!(
        Centiseconds::from_duration(Duration::from_millis(100)),
        Centiseconds::new(10)
    );
    assert_eq!(
        Centiseconds::from_duration(Duration::from_millis(105)),
        None
    );
    assert_eq!(Centiseconds::from_duration(Duration::from_secs(41)), None);
    assert_eq!(
        Seconds::from_duration(Duration::from_secs(255)),
        Some(Seconds(255))
    );
    assert_eq!(Seconds::from_duration(Duration::from_secs(256)), None);
    assert_eq!(Seconds::from_duration(Duration::from_millis(1500)), None);
    assert_eq!(
        AdvertInterval::from_duration(Version::V3, Duration::from_secs(1)),
        Some(AdvertInterval::Centiseconds(
            Centiseconds::new(100).unwrap()
        ))
    );
    assert_eq!(
        AdvertInterval::Seconds(Seconds(2)).to_duration(),
        Duration::from_secs(2)
    );
    assert_eq!(AdvertInterval::Seconds(Seconds(2)).version(), Version::V2);
}

#[test]
fn unchecked_views_never_panic() {
    for len in 0..12 {
        let bytes = vec![0x3f; len];
        let p = Packet::new_unchecked(&bytes[..], Family::V4);
        let _ = (
            p.version(),
            p.message_type(),
            p.vrid(),
            p.priority(),
            p.address_count(),
        );
        let _ = (p.auth_type(), p.interval(), p.checksum(), p.auth_data());
        let _ = p.addresses().count();
        let _ = p.compute_checksum(SRC, DST, ChecksumMode::PseudoHeader);
        let _ = p.verify_checksum(SRC, DST, ChecksumMode::V3AsV2);
        let _ = p.address(200);
    }
}

/// xorshift64*: deterministic pseudo-random bytes without a crate.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn byte(&mut self) -> u8 {
        self.next().to_le_bytes()[0]
    }
}

/// What the fuzz target does, on a fixed pseudo-random corpus: random strings, and fixtures with
/// a few random bytes changed (so some get past the length and version checks).
#[test]
fn pseudo_random_inputs_never_panic_and_round_trip() {
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let seeds: [&[u8]; 4] = [keepalived_vrrp(), &V3_MCAST, &V3_OWNER, &V2_AUTH];
    let mut decoded = 0;
    for i in 0..6000_usize {
        let bytes: Vec<u8> = if i.is_multiple_of(2) {
            let len = usize::from(rng.byte() % 48);
            (0..len).map(|_| rng.byte()).collect()
        } else {
            let mut b = seeds[i % seeds.len()].to_vec();
            for _ in 0..=rng.byte() % 3 {
                let at = usize::from(rng.byte()) % b.len();
                b[at] = rng.byte();
            }
            if rng.byte().is_multiple_of(4) {
                // Make the checksum right so the later checks run.
                fix_checksum(&mut b, SRC, DST, ChecksumMode::PseudoHeader);
            }
            b
        };
        for mode in [ChecksumMode::PseudoHeader, ChecksumMode::V3AsV2] {
            if let Ok(repr) = AdvertRepr::parse(&bytes, SRC, DST, mode) {
                decoded += 1;
                let again = repr.to_bytes(SRC, DST, mode).unwrap();
                assert_eq!(AdvertRepr::parse(&again, SRC, DST, mode), Ok(repr));
            }
        }
    }
    assert!(
        decoded > 100,
        "the sweep should reach the decoder's later checks ({decoded})"
    );
}
