//! Fuzz target for the VRRP advert codec (`havip-agent/src/vrrp/packet.rs`).
//!
//! Input layout: 4 bytes IPv4 source, 4 bytes IPv4 destination, then the VRRP message. The
//! decoder must never panic; whatever it accepts must encode, and decode again to the same repr,
//! in both checksum modes.

#![no_main]

// The codec is a single file with no crate-internal dependencies; compiling it here keeps the
// fuzz build free of havip-agent's eBPF build step.
#[path = "../../src/vrrp/packet.rs"]
#[allow(dead_code, reason = "the target exercises the decoder and encoder, not every helper")]
mod packet;

use std::net::Ipv4Addr;

use libfuzzer_sys::fuzz_target;
use packet::{AdvertRepr, ChecksumMode, Packet};

fuzz_target!(|data: &[u8]| {
    let Some((addrs, message)) = data.split_first_chunk::<8>() else {
        return;
    };
    let src = Ipv4Addr::new(addrs[0], addrs[1], addrs[2], addrs[3]);
    let dst = Ipv4Addr::new(addrs[4], addrs[5], addrs[6], addrs[7]);

    // Accessors of an unchecked view must not panic either.
    let view = Packet::new_unchecked(message);
    let _ = (view.version(), view.vrid(), view.priority(), view.interval(), view.auth_data());
    let _ = view.addresses().count();

    for mode in [ChecksumMode::PseudoHeader, ChecksumMode::V3AsV2] {
        if let Ok(repr) = AdvertRepr::parse(message, src, dst, mode) {
            let bytes = repr.to_bytes(src, dst, mode).expect("a decoded advert must encode");
            assert_eq!(bytes.len(), repr.buffer_len());
            let again = AdvertRepr::parse(&bytes, src, dst, mode).expect("re-decode");
            assert_eq!(again, repr);
        }
    }
});
