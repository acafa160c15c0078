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

/// One's-complement partial sum of a 20-byte IPv4 header without options, as five 32-bit
/// words added in 64 bits: no helper call, and [`fold`] finishes it.
#[inline(always)]
pub(crate) fn sum_words(hdr: &[u8; 20]) -> u64 {
    let mut sum = 0u64;
    let mut i = 0;
    while i < 20 {
        sum += u64::from(u32::from_ne_bytes([
            hdr[i],
            hdr[i + 1],
            hdr[i + 2],
            hdr[i + 3],
        ]));
        i += 4;
    }
    sum
}
