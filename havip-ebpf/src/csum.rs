//! Internet checksum (RFC 1071) over bytes the program has copied, with `bpf_csum_diff`.

use aya_ebpf::helpers::generated::bpf_csum_diff;

/// Folds a 32-bit partial one's-complement sum to 16 bits.
#[inline(always)]
pub(crate) fn fold(mut sum: u64) -> u16 {
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    sum as u16
}

/// Partial sum of `len` bytes at `buf` (len a multiple of 4, at most 512), added to `seed`.
/// Returns `None` if the helper refuses.
#[inline(always)]
pub(crate) fn partial(buf: *const u8, len: u32, seed: u32) -> Option<u32> {
    // SAFETY: the caller passes memory the verifier knows to be at least `len` bytes long; the
    // helper reads it bytewise, so the pointer type's alignment does not matter.
    let r = unsafe { bpf_csum_diff(core::ptr::null_mut(), 0, buf.cast_mut().cast(), len, seed) };
    // The helper returns a 32-bit partial sum, or a negative error.
    u32::try_from(r).ok()
}
