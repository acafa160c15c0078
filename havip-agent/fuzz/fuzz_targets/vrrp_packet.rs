//! Fuzz target for the VRRP advert codec (`havip-agent/src/vrrp/packet.rs`), both families.
//!
//! Input layout: one byte whose low bit picks the family (0: IPv4, 1: IPv6), then the IP source
//! and destination (4 + 4 or 16 + 16 bytes), then the VRRP message. The decoder must never panic;
//! whatever it accepts must encode, and decode again to the same repr, in both checksum modes.

#![no_main]

// The codec is a single file with no crate-internal dependencies; compiling it here keeps the
// fuzz build free of havip-agent's eBPF build step.
#[path = "../../src/vrrp/packet.rs"]
#[allow(dead_code, reason = "the target exercises the decoder and encoder, not every helper")]
mod packet;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use libfuzzer_sys::fuzz_target;
use packet::{AdvertRepr, ChecksumMode, Family, Packet};

/// Splits the input into the family, the IP source and destination, and the message.
fn split(data: &[u8]) -> Option<(Family, IpAddr, IpAddr, &[u8])> {
    let (selector, rest) = data.split_first()?;
    if selector & 1 == 0 {
        let (a, message) = rest.split_first_chunk::<8>()?;
        let src = Ipv4Addr::new(a[0], a[1], a[2], a[3]);
        let dst = Ipv4Addr::new(a[4], a[5], a[6], a[7]);
        Some((Family::V4, src.into(), dst.into(), message))
    } else {
        let (s, rest) = rest.split_first_chunk::<16>()?;
        let (d, message) = rest.split_first_chunk::<16>()?;
        let (src, dst) = (Ipv6Addr::from(*s), Ipv6Addr::from(*d));
        Some((Family::V6, src.into(), dst.into(), message))
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((family, src, dst, message)) = split(data) else {
        return;
    };

    // Accessors of an unchecked view must not panic either.
    let view = Packet::new_unchecked(message, family);
    let _ = (view.version(), view.vrid(), view.priority(), view.interval(), view.auth_data());
    let _ = view.addresses().count();

    for mode in [ChecksumMode::PseudoHeader, ChecksumMode::V3AsV2] {
        if let Ok(repr) = AdvertRepr::parse(message, src, dst, mode) {
            assert!(repr.addresses.iter().all(|a| Family::of(*a) == family));
            let bytes = repr.to_bytes(src, dst, mode).expect("a decoded advert must encode");
            assert_eq!(bytes.len(), repr.buffer_len());
            let again = AdvertRepr::parse(&bytes, src, dst, mode).expect("re-decode");
            assert_eq!(again, repr);
        }
    }
});
