//! Loading, attaching and driving the XDP program.

/// The eBPF object built by build.rs, 8-byte aligned as aya requires.
pub static EBPF_OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/havip"));
