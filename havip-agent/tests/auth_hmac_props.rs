//! Properties of the `auth_hmac` trailer over random adverts, keys and sources: signing then
//! verifying passes; flipping any bit the HMAC covers fails; the checksum bytes are not covered;
//! and a node without `auth_hmac` refuses a signed advert as too long (keepalived's behaviour).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use havip_agent::vrrp::{
    ChecksumMode, DecodeError,
    auth_hmac::{
        AntiReplay, AuthHmac, HmacKey, KeyRing, Marks, Mode, Rejection, WallClock,
        trailer::{self, Binding},
    },
    packet::AdvertRepr,
};
use proptest::prelude::*;

/// A v3 PDU with `count` addresses of the family of `src`, random header fields.
fn pdu(src: IpAddr, vrid: u8, prio: u8, count: u8, fill: u8) -> Vec<u8> {
    let alen = if src.is_ipv4() { 4 } else { 16 };
    let mut out = vec![0x31, vrid, prio, count, 0, 100, 0xab, 0xcd];
    out.extend(std::iter::repeat_n(fill, alen * usize::from(count)));
    out
}

fn receiver(key: &[u8]) -> AuthHmac {
    let ring = KeyRing::new(vec![(9, HmacKey::new(key.to_vec()).expect("32..64"))], 9)
        .expect("active defined");
    AuthHmac::new(
        Mode::Enforce,
        AntiReplay::Monotonic,
        ring,
        Marks::multicast(),
    )
}

fn source() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        any::<[u8; 4]>().prop_map(|a| IpAddr::V4(Ipv4Addr::from(a))),
        any::<[u8; 16]>().prop_map(|a| IpAddr::V6(Ipv6Addr::from(a))),
    ]
}

const AT: WallClock = WallClock { secs: 0, nanos: 0 };

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn sign_verify_and_every_covered_bit(
        src in source(),
        key in proptest::collection::vec(any::<u8>(), 32..=64),
        vrid in 1u8..=255,
        prio in any::<u8>(),
        count in 0u8..=4,
        fill in any::<u8>(),
        seq in any::<u64>(),
        flip in any::<prop::sample::Index>(),
        bit in 0u8..8,
    ) {
        let body = pdu(src, vrid, prio, count, fill);
        let binding = Binding { src, version: 3, vrid };
        let tr = trailer::sign(&key, 9, &binding, &body, seq).expect("key fits");
        let image = [body.clone(), tr.to_vec()].concat();
        prop_assert!(receiver(&key).verify(&image, src, 3, vrid, AT).is_ok());
        let at = flip.index(image.len());
        let mut bad = image.clone();
        bad[at] ^= 1 << bit;
        let got = receiver(&key).verify(&bad, src, 3, vrid, AT);
        match at {
            // The checksum is read as zero in the HMAC input.
            6 | 7 => prop_assert!(got.is_ok()),
            // The address count changes the announced length: no trailer at that length.
            3 => prop_assert_eq!(got, Err(Rejection::Missing)),
            _ => prop_assert!(got.is_err(), "flip at {} accepted", at),
        }
    }
}

#[test]
fn a_node_without_auth_hmac_drops_signed_adverts_as_too_long() {
    let src = Ipv4Addr::new(198, 51, 100, 10);
    let dst = Ipv4Addr::new(224, 0, 0, 18);
    let body = pdu(IpAddr::V4(src), 51, 200, 1, 7);
    let binding = Binding {
        src: IpAddr::V4(src),
        version: 3,
        vrid: 51,
    };
    let tr = trailer::sign(&[1; 32], 1, &binding, &body, 1).expect("key fits");
    let image = [body, tr.to_vec()].concat();
    let err = AdvertRepr::parse(&image, src, dst, ChecksumMode::PseudoHeader)
        .expect_err("a signed advert is longer than announced");
    assert!(
        matches!(
            err,
            DecodeError::BadLength {
                len: 40,
                expected: 12,
                ..
            }
        ),
        "{err:?}"
    );
}
