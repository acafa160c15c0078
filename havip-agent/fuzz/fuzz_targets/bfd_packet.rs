//! Fuzz target for the BFD Control packet codec (`havip-agent/src/bfd/packet.rs`).
//!
//! Input: one UDP payload. The decoder must never panic; whatever it accepts must encode, and
//! decode again to the same repr.

#![no_main]

// The codec is a single file with no crate-internal dependencies (its tests module is
// `#[cfg(test)]`); compiling it here keeps the fuzz build free of havip-agent's eBPF step.
#[path = "../../src/bfd/packet.rs"]
#[allow(dead_code, reason = "the target exercises the decoder and encoder, not every helper")]
mod packet;

use libfuzzer_sys::fuzz_target;
use packet::{ControlRepr, Packet};

fuzz_target!(|data: &[u8]| {
    // Accessors of an unchecked view must not panic either.
    let view = Packet::new_unchecked(data);
    let _ = (view.state(), view.diag(), view.your_discriminator(), view.auth());
    if let Ok(repr) = ControlRepr::parse(data) {
        let bytes = repr.to_bytes().expect("a decoded packet must encode");
        assert_eq!(bytes.len(), repr.buffer_len());
        assert_eq!(ControlRepr::parse(&bytes), Ok(repr));
    }
});
