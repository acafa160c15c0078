//! Byte fixtures both ways, and every malformed variant RFC 5880 6.8.6 names.

use super::*;

/// A Down packet as a peer sends it before it knows us: version 1, diag 0, Sta Down (1),
/// no flags, Detect Mult 3, Length 24, My Discriminator 0x01020304, Your 0, 1 s / 1 s / 0.
const DOWN: [u8; 24] = [
    0x20, 0x40, 0x03, 0x18, // vers 1 | diag 0, Sta 1, flags 0, mult 3, len 24
    0x01, 0x02, 0x03, 0x04, // My Discriminator
    0x00, 0x00, 0x00, 0x00, // Your Discriminator
    0x00, 0x0f, 0x42, 0x40, // Desired Min TX 1 000 000 us
    0x00, 0x0f, 0x42, 0x40, // Required Min RX 1 000 000 us
    0x00, 0x00, 0x00, 0x00, // Required Min Echo RX 0
];

/// An Up packet with Poll, diag 1 (detection time expired), 10 ms / 10 ms, echo 50 ms.
const UP_POLL: [u8; 24] = [
    0x21, 0xe0, 0x05, 0x18, // vers 1 | diag 1, Sta 3 + P, mult 5, len 24
    0xde, 0xad, 0xbe, 0xef, // My Discriminator
    0x00, 0x00, 0x00, 0x2a, // Your Discriminator 42
    0x00, 0x00, 0x27, 0x10, // 10 000 us
    0x00, 0x00, 0x27, 0x10, // 10 000 us
    0x00, 0x00, 0xc3, 0x50, // 50 000 us
];

fn down_repr() -> ControlRepr {
    ControlRepr {
        diag: Diag::None,
        state: State::Down,
        poll: false,
        final_: false,
        cpi: false,
        demand: false,
        detect_mult: 3,
        my_discr: 0x0102_0304,
        your_discr: 0,
        desired_min_tx: Duration::from_secs(1),
        required_min_rx: Duration::from_secs(1),
        required_min_echo_rx: Duration::ZERO,
        auth: None,
    }
}

#[test]
fn decodes_and_encodes_a_down_packet() {
    assert_eq!(ControlRepr::parse(&DOWN), Ok(down_repr()));
    assert_eq!(down_repr().to_bytes().as_deref(), Ok(&DOWN[..]));
}

#[test]
fn decodes_and_encodes_an_up_poll_packet() {
    let repr = ControlRepr {
        diag: Diag::DetectionTimeExpired,
        state: State::Up,
        poll: true,
        detect_mult: 5,
        my_discr: 0xdead_beef,
        your_discr: 42,
        desired_min_tx: Duration::from_millis(10),
        required_min_rx: Duration::from_millis(10),
        required_min_echo_rx: Duration::from_millis(50),
        ..down_repr()
    };
    assert_eq!(ControlRepr::parse(&UP_POLL), Ok(repr.clone()));
    assert_eq!(repr.to_bytes().as_deref(), Ok(&UP_POLL[..]));
}

#[test]
fn final_admin_down_and_authentication_round_trip() {
    let repr = ControlRepr {
        diag: Diag::AdminDown,
        state: State::AdminDown,
        final_: true,
        auth: Some(AuthSection {
            auth_type: 1,
            data: vec![1, b's', b'e', b'c'],
        }),
        ..down_repr()
    };
    let bytes = repr.to_bytes().expect("emit");
    assert_eq!(bytes.len(), 30);
    assert_eq!(&bytes[..4], &[0x27, 0x14, 0x03, 30], "diag 7, Sta 0, F|A");
    assert_eq!(&bytes[24..], &[1, 6, 1, b's', b'e', b'c']);
    assert_eq!(ControlRepr::parse(&bytes), Ok(repr));
}

#[test]
fn trailing_bytes_after_length_are_ignored() {
    let mut long = DOWN.to_vec();
    long.extend_from_slice(&[0xff; 8]);
    assert_eq!(ControlRepr::parse(&long), Ok(down_repr()));
}

#[test]
fn malformed_packets_get_a_precise_error() {
    let with = |at: usize, value: u8| {
        let mut p = DOWN;
        p[at] = value;
        p
    };
    let cases: Vec<(Vec<u8>, DecodeError)> = vec![
        (
            DOWN[..23].to_vec(),
            DecodeError::Truncated {
                len: 23,
                needed: 24,
            },
        ),
        (
            with(0, 0x40).to_vec(),
            DecodeError::BadVersion { version: 2 },
        ),
        (
            with(0, 0x00).to_vec(),
            DecodeError::BadVersion { version: 0 },
        ),
        (
            with(3, 23).to_vec(),
            DecodeError::BadLength {
                length: 23,
                minimum: 24,
            },
        ),
        (
            with(3, 28).to_vec(),
            DecodeError::Truncated {
                len: 24,
                needed: 28,
            },
        ),
        (
            with(1, 0x44).to_vec(),
            DecodeError::BadLength {
                length: 24,
                minimum: 26,
            },
        ),
        (
            with(2, 0).to_vec(),
            DecodeError::ZeroDetectMult {
                my_discr: 0x0102_0304,
            },
        ),
        (
            with(1, 0x41).to_vec(),
            DecodeError::Multipoint {
                my_discr: 0x0102_0304,
            },
        ),
        (
            {
                let mut p = DOWN;
                p[4..8].fill(0);
                p.to_vec()
            },
            DecodeError::ZeroMyDiscriminator,
        ),
        (
            {
                // A bit, Length 26, Auth Len 4: the section runs past Length.
                let mut p = with(1, 0x44).to_vec();
                p[3] = 26;
                p.extend_from_slice(&[1, 4]);
                p
            },
            DecodeError::BadAuthLength {
                auth_len: 4,
                length: 26,
            },
        ),
    ];
    for (bytes, err) in cases {
        assert_eq!(ControlRepr::parse(&bytes), Err(err), "{bytes:02x?}");
    }
}

#[test]
fn unchecked_accessors_do_not_panic_on_short_buffers() {
    for n in 0..DOWN.len() {
        let p = Packet::new_unchecked(&DOWN[..n]);
        let _ = (
            p.state(),
            p.diag(),
            p.my_discriminator(),
            p.required_min_echo_rx(),
        );
        assert!(p.auth().is_none());
    }
    let mut auth = DOWN;
    auth[1] |= 0x04;
    auth[3] = 0xff;
    assert!(Packet::new_unchecked(&auth[..]).auth().is_some());
}

#[test]
fn emit_checks_the_buffer_and_saturates_intervals() {
    let repr = ControlRepr {
        desired_min_tx: Duration::from_secs(100_000),
        ..down_repr()
    };
    let mut short = [0u8; 23];
    assert_eq!(
        repr.emit(&mut short),
        Err(EmitError::BufferTooSmall {
            len: 23,
            needed: 24
        })
    );
    let bytes = repr.to_bytes().expect("emit");
    assert_eq!(&bytes[12..16], &[0xff; 4]);
    let huge = ControlRepr {
        auth: Some(AuthSection {
            auth_type: 2,
            data: vec![0; 240],
        }),
        ..down_repr()
    };
    assert_eq!(huge.to_bytes(), Err(EmitError::AuthTooLong { len: 242 }));
}

#[test]
fn codes_cover_every_value() {
    for c in 0..=255u8 {
        assert_eq!(State::from_code(c).code(), c & 3);
        assert_eq!(Diag::from_code(c).code(), c & 0x1f);
    }
}

proptest::proptest! {
    /// What the fuzz target checks, on every `cargo test`: any bytes decode or fail without a
    /// panic, and whatever decodes encodes back to a packet that decodes the same.
    #[test]
    fn any_bytes_decode_or_fail_cleanly(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64)) {
        if let Ok(repr) = ControlRepr::parse(&bytes) {
            let again = repr.to_bytes().map(|b| ControlRepr::parse(&b));
            proptest::prop_assert_eq!(again, Ok(Ok(repr)));
        }
    }

    /// Packets that pass the version and length checks are common in the corpus too.
    #[test]
    fn plausible_packets_round_trip(tail in proptest::collection::vec(proptest::prelude::any::<u8>(), 22..40), flags in 0u8..=0xff) {
        let mut bytes = vec![0x20 | (flags & 0x1f), flags & !0x05];
        bytes.extend_from_slice(&tail);
        bytes[3] = 24;
        if let Ok(repr) = ControlRepr::parse(&bytes) {
            proptest::prop_assert_eq!(repr.to_bytes().map(|b| b[..].to_vec()), Ok(bytes[..24].to_vec()));
        }
    }
}
