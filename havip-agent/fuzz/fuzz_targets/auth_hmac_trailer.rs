//! Fuzz target for the `auth_hmac` trailer codec (`havip-agent/src/vrrp/auth_hmac/trailer.rs`).
//!
//! Input layout: 1 byte family (even: IPv4, odd: IPv6), 16 bytes source address (IPv4 uses the
//! first 4), then the IP payload. Nothing may panic; a split payload must put back together; a
//! trailer must read back to its bytes; and re-signing the PDU must verify.

#![no_main]

#[path = "../../src/vrrp/auth_hmac/trailer.rs"]
#[allow(
    dead_code,
    reason = "the target exercises the decoder and signer, not every helper"
)]
mod trailer;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use libfuzzer_sys::fuzz_target;
use trailer::{Binding, Family, Trailer};

const KEY: [u8; 32] = [0x5a; 32];

fuzz_target!(|data: &[u8]| {
    let Some((&family, rest)) = data.split_first() else {
        return;
    };
    let Some((addr, payload)) = rest.split_first_chunk::<16>() else {
        return;
    };
    let src = if family % 2 == 0 {
        IpAddr::V4(Ipv4Addr::new(addr[0], addr[1], addr[2], addr[3]))
    } else {
        IpAddr::V6(Ipv6Addr::from(*addr))
    };
    let _ = trailer::announced_pdu_len(payload, Family::of(src));
    let Some((pdu, raw)) = trailer::split(payload, Family::of(src)) else {
        return;
    };
    assert_eq!(pdu.len() + raw.len(), payload.len());
    let sent = Trailer::parse(raw);
    assert_eq!(&sent.to_bytes(), raw);
    let binding = Binding {
        src,
        version: pdu[0] >> 4,
        vrid: pdu[1],
    };
    let _ = trailer::hmac_matches(&KEY, &binding, pdu, &sent);
    let signed = trailer::sign(&KEY, sent.key_id, &binding, pdu, sent.seq).expect("32-byte key");
    assert!(trailer::hmac_matches(
        &KEY,
        &binding,
        pdu,
        &Trailer::parse(&signed)
    ));
});
