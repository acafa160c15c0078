//! The vectors of `../shared/AUTH_HMAC.md` section 10 (keepalived's `test/auth_hmac_test.c`),
//! byte for byte, and the sequence / replay scenarios, with time as an input.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::{
    key::{self, KeyError},
    replay::{self, AntiReplay, Marks, SendSequence, WallClock},
    trailer::{self, Binding, Family, Trailer},
    verify::{Accepted, AuthHmac, KeyRing, KeyRingError, Mode, Rejection},
};
use crate::vrrp::packet::{self, ChecksumMode, Packet};

const KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const V4_PDU: &str = "3133c80100644402c0000264";
const V4_TRAILER: &str = "0101000068000000800000001b84bc4e8e43892dc6d98448f8ee2265";
const V6_PDU: &str = "3133c8010064a2e9fe800000000000000000000000000100";
const V6_TRAILER: &str = "010100006800000080000000c8c56146ebfd66ee10ec4d8186461b78";
const V4_INPUT: &str = "04033300c633640a0000000000000000000000003133c80100640000c000\
026401010000680000008000000000000000000000000000000000000000";
const V4_DIGEST: &str = "1b84bc4e8e43892dc6d98448f8ee2265f674824d1bfd1c6e62aa1b5f4312fe4a";
const V6_INPUT: &str = "06033300fe8000000000000000000000000000103133c80100640000fe80000000000000\
000000000000010001010000680000008000000000000000000000000000000000000000";
const V6_DIGEST: &str = "c8c56146ebfd66ee10ec4d8186461b78016459dfdb722df2300edca011646494";
const SEQ: u64 = 0x6800_0000_8000_0000;
const VRID: u8 = 51;

fn hex(s: &str) -> Vec<u8> {
    hex::decode(s).expect("test vector is hex")
}

fn v4_src() -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(198, 51, 100, 10))
}

fn v6_src() -> IpAddr {
    IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0x10))
}

fn v6_dst() -> Ipv6Addr {
    Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0x20)
}

fn ring() -> KeyRing {
    let key = key::HmacKey::new(hex(KEY)).expect("32-byte key");
    KeyRing::new(vec![(1, key)], 1).expect("active key defined")
}

fn state(anti_replay: AntiReplay, marks: Marks) -> AuthHmac {
    AuthHmac::new(Mode::Enforce, anti_replay, ring(), marks)
}

fn image(pdu: &str, trailer: &str) -> Vec<u8> {
    [hex(pdu), hex(trailer)].concat()
}

/// The vectors' receiver: monotonic, fresh mark; the time is irrelevant there.
fn check_monotonic(image: &[u8], src: IpAddr, vrid: u8) -> Result<Accepted, Rejection> {
    let at = WallClock { secs: 0, nanos: 0 };
    state(AntiReplay::Monotonic, Marks::multicast())
        .verify(image, src, 3, vrid, at)
        .map(|(_, a)| a)
}

#[test]
fn ipv4_vector_input_digest_trailer_and_checksum() {
    let pdu = hex(V4_PDU);
    let sent = Trailer::parse(&hex(V4_TRAILER).try_into().expect("28 bytes"));
    let binding = Binding {
        src: v4_src(),
        version: 3,
        vrid: VRID,
    };
    assert_eq!(
        hex::encode(trailer::hmac_input(&binding, &pdu, &sent)),
        V4_INPUT
    );
    let digest = trailer::digest(&hex(KEY), &binding, &pdu, &sent).expect("key fits");
    assert_eq!(hex::encode(digest), V4_DIGEST);
    let signed = trailer::sign(&hex(KEY), 1, &binding, &pdu, SEQ).expect("key fits");
    assert_eq!(hex::encode(signed), V4_TRAILER);
    // The vector's checksum is message-only (no pseudo-header) and excludes the trailer.
    let dst = Ipv4Addr::new(224, 0, 0, 18);
    let src = Ipv4Addr::new(198, 51, 100, 10);
    let computed = Packet::new_unchecked(&pdu, packet::Family::V4).compute_checksum(
        src,
        dst,
        ChecksumMode::V3AsV2,
    );
    assert_eq!(computed, 0x4402);
    let accepted = check_monotonic(&image(V4_PDU, V4_TRAILER), v4_src(), VRID);
    assert_eq!(
        accepted,
        Ok(Accepted::Signed {
            key_id: 1,
            skew: -0x6800_0000
        })
    );
}

#[test]
fn ipv6_vector_input_digest_trailer_and_checksum() {
    let pdu = hex(V6_PDU);
    let sent = Trailer::parse(&hex(V6_TRAILER).try_into().expect("28 bytes"));
    let binding = Binding {
        src: v6_src(),
        version: 3,
        vrid: VRID,
    };
    assert_eq!(
        hex::encode(trailer::hmac_input(&binding, &pdu, &sent)),
        V6_INPUT
    );
    let digest = trailer::digest(&hex(KEY), &binding, &pdu, &sent).expect("key fits");
    assert_eq!(hex::encode(digest), V6_DIGEST);
    let signed = trailer::sign(&hex(KEY), 1, &binding, &pdu, SEQ).expect("key fits");
    assert_eq!(hex::encode(signed), V6_TRAILER);
    // IPv6: the checksum covers the trailer too, and so does the pseudo-header length.
    let full = image(V6_PDU, V6_TRAILER);
    let IpAddr::V6(src) = v6_src() else {
        unreachable!("v6 source")
    };
    assert_eq!(trailer::ipv6_checksum(src, v6_dst(), &full), 0xa2e9);
    assert_ne!(trailer::ipv6_checksum(src, v6_dst(), &pdu), 0xa2e9);
    assert!(matches!(
        check_monotonic(&full, v6_src(), VRID),
        Ok(Accepted::Signed { key_id: 1, .. })
    ));
}

#[test]
fn ipv6_mutation_table() {
    let table = [
        (2, Err(Rejection::BadHmac)),
        (4, Err(Rejection::BadHmac)),
        (6, Ok(())),
        (23, Err(Rejection::BadHmac)),
        (24, Err(Rejection::Malformed)),
        (25, Err(Rejection::UnknownKey { key_id: 0 })),
        (26, Err(Rejection::Malformed)),
        (28, Err(Rejection::BadHmac)),
        (34, Err(Rejection::BadHmac)),
        (36, Err(Rejection::BadHmac)),
    ];
    for (offset, want) in table {
        let mut img = image(V6_PDU, V6_TRAILER);
        img[offset] ^= 1;
        let got = check_monotonic(&img, v6_src(), VRID).map(|_| ());
        assert_eq!(got, want, "offset {offset}");
    }
}

#[test]
fn pseudo_header_binds_source_and_vrid() {
    let img = image(V6_PDU, V6_TRAILER);
    let other = IpAddr::V6(v6_dst());
    assert_eq!(check_monotonic(&img, other, VRID), Err(Rejection::BadHmac));
    assert_eq!(check_monotonic(&img, v6_src(), 52), Err(Rejection::BadHmac));
    let v4 = image(V4_PDU, V4_TRAILER);
    assert_eq!(
        check_monotonic(&v4, IpAddr::V4(Ipv4Addr::new(198, 51, 100, 11)), VRID),
        Err(Rejection::BadHmac)
    );
}

#[test]
fn trailer_only_at_exact_length() {
    let img = image(V4_PDU, V4_TRAILER);
    assert!(trailer::split(&img, Family::V4).is_some());
    let mut longer = img.clone();
    longer.push(0);
    assert!(trailer::split(&longer, Family::V4).is_none());
    assert!(trailer::split(&img[..img.len() - 1], Family::V4).is_none());
    assert!(trailer::split(&hex(V4_PDU), Family::V4).is_none());
    // The IPv4 image read as IPv6 announces 8 + 16 bytes, not 12.
    assert!(trailer::split(&img, Family::V6).is_none());
    assert!(trailer::split(&[], Family::V4).is_none());
    assert!(trailer::split(&[0x31, 0x33], Family::V6).is_none());
    // v2 (IPv4 only) counts the 8 authentication bytes before the trailer; not on IPv6.
    let mut v2 = vec![0x21, 1, 100, 1, 0, 1, 0, 0, 192, 0, 2, 1];
    v2.extend([0; 8]);
    v2.extend([0; trailer::TRAILER_LEN]);
    let (pdu, _) = trailer::split(&v2, Family::V4).expect("v2 with trailer");
    assert_eq!(pdu.len(), 20);
    assert!(trailer::announced_pdu_len(&v2, Family::V6).is_none());
    // Enforce refuses what has no trailer at the exact length.
    let mut enforce = state(AntiReplay::Monotonic, Marks::multicast());
    let at = WallClock { secs: 0, nanos: 0 };
    assert_eq!(
        enforce.verify(&longer, v4_src(), 3, VRID, at),
        Err(Rejection::Missing)
    );
}

#[test]
fn v2_signing_round_trip_covers_auth_bytes() {
    let src = v4_src();
    let mut pdu = vec![0x21, VRID, 100, 1, 0, 1, 0, 0, 192, 0, 2, 1];
    pdu.extend([0; 8]);
    let binding = Binding {
        src,
        version: 2,
        vrid: VRID,
    };
    let tr = trailer::sign(&hex(KEY), 1, &binding, &pdu, SEQ).expect("key fits");
    let mut img = [pdu.clone(), tr.to_vec()].concat();
    assert!(check_v2(&img).is_ok());
    img[15] ^= 1; // an auth byte: covered by the HMAC
    assert_eq!(check_v2(&img), Err(Rejection::BadHmac));
}

fn check_v2(img: &[u8]) -> Result<Accepted, Rejection> {
    let at = WallClock { secs: 0, nanos: 0 };
    state(AntiReplay::Monotonic, Marks::multicast())
        .verify(img, v4_src(), 2, VRID, at)
        .map(|(_, a)| a)
}

#[test]
fn long_keys_are_refused_not_hashed() {
    let binding = Binding {
        src: v4_src(),
        version: 3,
        vrid: VRID,
    };
    let err = trailer::sign(&[7; 65], 1, &binding, &hex(V4_PDU), SEQ);
    assert_eq!(err, Err(trailer::SignError::KeyTooLong { len: 65 }));
    let sent = Trailer::parse(&hex(V4_TRAILER).try_into().expect("28 bytes"));
    assert!(!trailer::hmac_matches(
        &[7; 65],
        &binding,
        &hex(V4_PDU),
        &sent
    ));
}

const NOW: u64 = 1_780_000_000;

fn at(secs: u64) -> WallClock {
    WallClock { secs, nanos: 0 }
}

/// A v3 IPv4 advert from `v4_src()` signed with sequence `seq`.
fn signed_v4(seq: u64) -> Vec<u8> {
    let pdu = hex(V4_PDU);
    let binding = Binding {
        src: v4_src(),
        version: 3,
        vrid: VRID,
    };
    let tr = trailer::sign(&hex(KEY), 1, &binding, &pdu, seq).expect("key fits");
    [pdu, tr.to_vec()].concat()
}

fn seq_at(secs: u64) -> u64 {
    at(secs).seq()
}

#[test]
fn sign_then_verify_then_replay_then_fresh_mark() {
    let now = WallClock {
        secs: NOW,
        nanos: 500_000_000,
    };
    let mut tx = AuthHmac::new(
        Mode::Enforce,
        AntiReplay::Time { window: 5 },
        ring(),
        Marks::multicast(),
    );
    let pdu = hex(V4_PDU);
    let tr = tx
        .sign(&pdu, v4_src(), 3, VRID, now)
        .expect("key fits")
        .expect("enforce signs");
    assert_eq!(Trailer::parse(&tr).seq, seq_at(NOW) | 0x8000 << 16);
    let img = [pdu.clone(), tr.to_vec()].concat();
    let mut rx = state(AntiReplay::Time { window: 5 }, Marks::unicast([v4_src()]));
    assert!(rx.verify(&img, v4_src(), 3, VRID, now).is_ok());
    assert_eq!(
        rx.verify(&img, v4_src(), 3, VRID, now),
        Err(Rejection::Replay)
    );
    let mut other = state(AntiReplay::Time { window: 5 }, Marks::unicast([v4_src()]));
    assert!(other.verify(&img, v4_src(), 3, VRID, now).is_ok());
    // The mark moves only after a good HMAC: a forged later trailer leaves it alone.
    let mut forged = signed_v4(seq_at(NOW + 1));
    let last = forged.len() - 1;
    forged[last] ^= 1;
    assert_eq!(
        rx.verify(&forged, v4_src(), 3, VRID, now),
        Err(Rejection::BadHmac)
    );
    assert!(
        rx.verify(
            &signed_v4(seq_at(NOW) | 0x8000_0001),
            v4_src(),
            3,
            VRID,
            now
        )
        .is_ok()
    );
}

#[test]
fn receive_only_sends_nothing_and_moves_no_sequence() {
    let mut tx = AuthHmac::new(
        Mode::ReceiveOnly,
        AntiReplay::Monotonic,
        ring(),
        Marks::multicast(),
    );
    assert_eq!(tx.sign(&hex(V4_PDU), v4_src(), 3, VRID, at(NOW)), Ok(None));
    assert_eq!(tx.last_sent(), 0);
    // It accepts trailerless adverts and still verifies trailers.
    assert_eq!(
        tx.verify(&hex(V4_PDU), v4_src(), 3, VRID, at(NOW)),
        Ok((&hex(V4_PDU)[..], Accepted::Unsigned))
    );
    let mut bad = signed_v4(seq_at(NOW));
    bad[2] ^= 1;
    assert_eq!(
        tx.verify(&bad, v4_src(), 3, VRID, at(NOW)),
        Err(Rejection::BadHmac)
    );
}

#[test]
fn modes_on_trailerless_adverts() {
    let pdu = hex(V4_PDU);
    for (mode, want) in [
        (Mode::Enforce, Err(Rejection::Missing)),
        (Mode::Permissive, Ok(Accepted::Unsigned)),
        (Mode::ReceiveOnly, Ok(Accepted::Unsigned)),
    ] {
        let mut rx = AuthHmac::new(mode, AntiReplay::Monotonic, ring(), Marks::multicast());
        assert_eq!(
            rx.verify(&pdu, v4_src(), 3, VRID, at(NOW)).map(|(_, a)| a),
            want,
            "{mode:?}"
        );
        assert_eq!(Mode::from_keyword(mode.keyword()), Some(mode));
        // A bad trailer rejects in every mode.
        let mut bad = signed_v4(seq_at(NOW));
        bad[2] ^= 1;
        assert_eq!(
            rx.verify(&bad, v4_src(), 3, VRID, at(NOW)),
            Err(Rejection::BadHmac)
        );
    }
    assert_eq!(Mode::from_keyword("receive_only"), None);
}

#[test]
fn time_window_edges_are_inclusive_and_stale_comes_before_the_key() {
    let mode = AntiReplay::Time { window: 5 };
    let cases = [
        (NOW - 5, Ok(5)),
        (NOW + 5, Ok(-5)),
        (NOW - 6, Err(6)),
        (NOW + 6, Err(-6)),
        (NOW - 100, Err(100)),
        (NOW + 100, Err(-100)),
    ];
    for (secs, want) in cases {
        let mut rx = state(mode, Marks::multicast());
        let img = signed_v4(seq_at(secs));
        let got = rx.verify(&img, v4_src(), 3, VRID, at(NOW));
        match want {
            Ok(skew) => assert_eq!(
                got.map(|(_, a)| a),
                Ok(Accepted::Signed { key_id: 1, skew })
            ),
            Err(skew) => assert_eq!(got, Err(Rejection::Stale { skew })),
        }
    }
    // STALE is decided on unauthenticated data, before the key lookup.
    let mut img = signed_v4(seq_at(NOW - 100));
    img[13] = 9;
    assert_eq!(
        state(mode, Marks::multicast()).verify(&img, v4_src(), 3, VRID, at(NOW)),
        Err(Rejection::Stale { skew: 100 })
    );
    // Monotonic has no window.
    let mut mono = state(AntiReplay::Monotonic, Marks::multicast());
    assert!(
        mono.verify(
            &signed_v4(seq_at(NOW - 100_000)),
            v4_src(),
            3,
            VRID,
            at(NOW)
        )
        .is_ok()
    );
}

#[test]
fn equal_and_older_sequences_are_replays() {
    let mut rx = state(AntiReplay::Time { window: 5 }, Marks::multicast());
    let s = seq_at(NOW);
    assert!(
        rx.verify(&signed_v4(s + 1), v4_src(), 3, VRID, at(NOW))
            .is_ok()
    );
    assert_eq!(
        rx.verify(&signed_v4(s + 1), v4_src(), 3, VRID, at(NOW)),
        Err(Rejection::Replay)
    );
    assert_eq!(
        rx.verify(&signed_v4(s), v4_src(), 3, VRID, at(NOW)),
        Err(Rejection::Replay)
    );
    assert!(
        rx.verify(&signed_v4(s + 2), v4_src(), 3, VRID, at(NOW))
            .is_ok()
    );
}

#[test]
fn receiver_mark_far_ahead_is_dropped_in_time_mode_only() {
    let mut marks = Marks::unicast([v4_src()]);
    marks.set(v4_src(), Some(seq_at(NOW + 3600)));
    let mut rx = state(AntiReplay::Time { window: 5 }, marks.clone());
    let img = signed_v4(seq_at(NOW));
    assert!(rx.verify(&img, v4_src(), 3, VRID, at(NOW)).is_ok());
    assert_eq!(
        rx.verify(&img, v4_src(), 3, VRID, at(NOW)),
        Err(Rejection::Replay)
    );
    marks.set(v4_src(), Some(seq_at(NOW + 7200)));
    let mut mono = state(AntiReplay::Monotonic, marks);
    assert_eq!(
        mono.verify(&img, v4_src(), 3, VRID, at(NOW)),
        Err(Rejection::Replay)
    );
}

#[test]
fn send_sequence_clock_steps() {
    let time = AntiReplay::Time { window: 5 };
    // Last value 3600 s ahead (the clock stepped back): time mode restarts from the clock.
    let mut tx = SendSequence::resume(seq_at(NOW + 3600));
    let next = tx.next(at(NOW), time);
    assert!(replay::seq_secs(next).abs_diff(replay::seq_secs(seq_at(NOW))) <= 1);
    // Monotonic keeps going from the last value: same second, ctr 1.
    let mut mono = SendSequence::resume(seq_at(NOW + 3600));
    let next = mono.next(at(NOW), AntiReplay::Monotonic);
    assert_eq!(next, seq_at(NOW + 3600) | 1);
    // Within the window, a step back gives last + 1; a step forward takes the clock.
    let mut tx = SendSequence::resume(seq_at(NOW + 5));
    assert_eq!(tx.next(at(NOW), time), seq_at(NOW + 5) + 1);
    assert_eq!(tx.next(at(NOW + 10), time), seq_at(NOW + 10));
    // Same clock reading twice: the tie-breaker counts.
    assert_eq!(tx.next(at(NOW + 10), time), seq_at(NOW + 10) + 1);
    // A restart (last 0) takes the clock, which is after anything sent before it unless the
    // clock went back.
    let mut fresh = SendSequence::default();
    assert_eq!(fresh.next(at(NOW), time), seq_at(NOW));
    // ctr carries into subsec.
    let mut carry = SendSequence::resume(seq_at(NOW) | 0xffff);
    assert_eq!(carry.next(at(NOW), time), seq_at(NOW) + 0x1_0000);
    assert!(replay::seq_after(1, u64::MAX));
    assert!(!replay::seq_after(5, 5));
}

#[test]
fn subsec_is_a_fraction_of_65536() {
    assert_eq!(
        WallClock {
            secs: 0x6800_0000,
            nanos: 500_000_000
        }
        .seq(),
        SEQ
    );
    assert_eq!(
        WallClock {
            secs: 1,
            nanos: 999_999_999
        }
        .seq(),
        1 << 32 | 0xffff << 16
    );
    assert_eq!(
        WallClock {
            secs: 1 << 32 | 7,
            nanos: 0
        }
        .seq(),
        7 << 32
    );
}

#[test]
fn unicast_drops_signed_adverts_from_strangers() {
    let peer = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 11));
    let mut rx = state(AntiReplay::Time { window: 5 }, Marks::unicast([peer]));
    assert_eq!(
        rx.verify(&signed_v4(seq_at(NOW)), v4_src(), 3, VRID, at(NOW)),
        Err(Rejection::NotPeer)
    );
}

#[test]
fn multicast_keeps_four_senders_least_recent_evicted() {
    let mut marks = Marks::multicast();
    let ip = |n| IpAddr::V4(Ipv4Addr::new(192, 0, 2, n));
    for n in 1..=4 {
        marks.set(ip(n), Some(u64::from(n)));
    }
    marks.set(ip(1), Some(10)); // 1 is now the most recent; 2 the least
    marks.set(ip(5), Some(5));
    assert_eq!(marks.get(ip(2)), Ok(None));
    assert_eq!(marks.get(ip(1)), Ok(Some(10)));
    assert_eq!(marks.get(ip(5)), Ok(Some(5)));
    assert_eq!(marks.get(ip(3)), Ok(Some(3)));
}

#[test]
fn rotation_accepts_every_defined_key_and_signs_with_the_active_one() {
    let k1 = key::HmacKey::new(hex(KEY)).expect("32 bytes");
    let k2 = key::HmacKey::new(vec![0x42; 40]).expect("40 bytes");
    let both = KeyRing::new(vec![(1, k1.clone()), (2, k2.clone())], 2).expect("active defined");
    let mut rx = AuthHmac::new(
        Mode::Enforce,
        AntiReplay::Monotonic,
        both.clone(),
        Marks::multicast(),
    );
    assert!(
        rx.verify(&signed_v4(seq_at(NOW)), v4_src(), 3, VRID, at(NOW))
            .is_ok()
    );
    let mut tx = AuthHmac::new(
        Mode::Enforce,
        AntiReplay::Monotonic,
        both,
        Marks::multicast(),
    );
    let tr = tx
        .sign(&hex(V4_PDU), v4_src(), 3, VRID, at(NOW + 1))
        .expect("fits")
        .expect("signs");
    assert_eq!(tr[1], 2);
    let img = [hex(V4_PDU), tr.to_vec()].concat();
    assert_eq!(
        rx.verify(&img, v4_src(), 3, VRID, at(NOW + 1))
            .map(|(_, a)| a),
        Ok(Accepted::Signed { key_id: 2, skew: 0 })
    );
    // A reload that drops key 1 keeps the marks: the old advert is a replay, new ones pass.
    let only2 = KeyRing::new(vec![(2, k2)], 2).expect("active defined");
    rx.reconfigure(Mode::Enforce, AntiReplay::Monotonic, only2);
    assert_eq!(
        rx.verify(&img, v4_src(), 3, VRID, at(NOW + 1)),
        Err(Rejection::Replay)
    );
    assert_eq!(
        rx.verify(&signed_v4(seq_at(NOW + 2)), v4_src(), 3, VRID, at(NOW + 2)),
        Err(Rejection::UnknownKey { key_id: 1 })
    );
    assert_eq!(
        KeyRing::new(vec![(1, k1.clone())], 3),
        Err(KeyRingError::ActiveUndefined(3))
    );
    assert_eq!(
        KeyRing::new(vec![(1, k1.clone()), (1, k1.clone())], 1),
        Err(KeyRingError::Duplicate(1))
    );
    assert_eq!(KeyRing::new(vec![(0, k1)], 0), Err(KeyRingError::IdZero));
}

#[test]
fn key_values() {
    let spaced = "hex: 00010203 04050607\t08090A0B0C0D0E0F 101112131415161718191a1b1c1d1e1f";
    let key = key::parse_key_value(spaced).expect("valid hex");
    assert_eq!(key.key.expose(), &hex(KEY)[..]);
    assert!(!key.file_too_open);
    let ascii = key::parse_key_value("correct horse battery staple 1234").expect("33 bytes");
    assert_eq!(ascii.key.expose(), b"correct horse battery staple 1234");
    assert!(matches!(
        key::parse_key_value("short"),
        Err(KeyError::TooShort { len: 5 })
    ));
    assert!(matches!(
        key::parse_key_value(&"x".repeat(65)),
        Err(KeyError::TooLong { len: 65 })
    ));
    assert!(matches!(
        key::parse_key_value(&format!("hex:{}zz", &KEY[..62])),
        Err(KeyError::BadHex { at: 62 })
    ));
    assert!(matches!(
        key::parse_key_value(&format!("hex:{KEY}0")),
        Err(KeyError::OddHex)
    ));
    assert!(matches!(
        key::parse_key_value(&format!("hex:{}", &KEY[..62])),
        Err(KeyError::TooShort { len: 31 })
    ));
    let shown = format!("{:?}", key.key);
    assert_eq!(shown, "[redacted; 32 bytes]");
    let err = key::parse_key_value("hex:0g").expect_err("bad digit");
    assert!(!err.to_string().contains("0g"), "{err}");
}

#[test]
fn key_files() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = std::env::temp_dir().join(format!("havip-auth-hmac-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let write = |name: &str, body: &[u8], mode: u32| {
        let path = dir.join(name);
        std::fs::write(&path, body).expect("write key file");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
        format!("file:{}", path.display())
    };
    let tight = write("tight", format!("hex:{KEY}\r\n").as_bytes(), 0o600);
    let loaded = key::parse_key_value(&tight).expect("hex file");
    assert_eq!(loaded.key.expose(), &hex(KEY)[..]);
    assert!(!loaded.file_too_open);
    let open = write("open", &[b'k'; 40], 0o644);
    let loaded = key::parse_key_value(&open).expect("ascii file");
    assert_eq!(loaded.key.expose(), &[b'k'; 40][..]);
    assert!(loaded.file_too_open);
    let big = write("big", &[b'k'; 139], 0o600);
    assert!(matches!(
        key::parse_key_value(&big),
        Err(KeyError::FileTooLarge { len: 139, .. })
    ));
    let missing = format!("file:{}", dir.join("missing").display());
    assert!(matches!(
        key::parse_key_value(&missing),
        Err(KeyError::File { .. })
    ));
    std::fs::remove_dir_all(&dir).expect("clean up");
}

#[test]
fn default_window() {
    assert_eq!(AntiReplay::default_window(100), 5);
    assert_eq!(AntiReplay::default_window(199), 5);
    assert_eq!(AntiReplay::default_window(200), 6);
    assert_eq!(AntiReplay::default_window(25_500), 300);
}
