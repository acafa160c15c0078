//! Wire codec of keepalived 2.4.3's `auth_hmac` trailer: where it sits, what it holds, and the
//! exact bytes the HMAC covers (see `../shared/AUTH_HMAC.md` sections 1-4).
//!
//! The trailer is not part of RFC 9568 (or RFC 3768): it is 28 bytes appended after the last byte
//! of the VRRP PDU (after the address list in v3, after the 8 authentication bytes in v2). Nothing
//! in the VRRP header announces it; a receiver that has `auth_hmac` assumes it only when the
//! received length is exactly the length the header announces plus 28.
//!
//! This file depends on nothing else in the crate (only `std`, `hmac`, `sha2`, `thiserror`), so
//! the fuzz target compiles it on its own, and so it works on byte slices whatever the VRRP codec
//! does with IPv6.

use std::net::{IpAddr, Ipv6Addr};

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Size of the trailer on the wire.
pub const TRAILER_LEN: usize = 28;
/// `ext_type` of HMAC-SHA256 truncated to 128 bits, the only type keepalived defines.
pub const EXT_TYPE_HMAC_SHA256_128: u8 = 1;
/// Bytes of the HMAC-SHA256 digest that are sent (its left half).
pub const HMAC_LEN: usize = 16;
/// Bytes of the trailer before the HMAC field: they are signed as sent.
const HEAD_LEN: usize = TRAILER_LEN - HMAC_LEN;
/// Longest key that HMAC-SHA256 uses as is (its block size); longer keys would be hashed first,
/// which keepalived never does because it rejects them.
pub const MAX_KEY_LEN: usize = 64;
/// Size of the pseudo-header that binds the HMAC to family, version, VRID and source.
const PSEUDO_LEN: usize = 20;
/// VRRP fixed header (RFC 9568 5.1, RFC 3768 5.1).
const HEADER_LEN: usize = 8;
/// Version 2 authentication data after the addresses (RFC 3768 5.3.10).
const V2_AUTH_LEN: usize = 8;
/// Offset of the VRRP checksum, read as zero in the HMAC input (keepalived `a0845cb2`).
const CHECKSUM_OFFSET: usize = 6;
/// IPv6 next header / IPv4 protocol number of VRRP (RFC 9568 5.1.1.4).
const PROTO_VRRP: u8 = 112;

/// Address family of the advert; it fixes the address size and the pseudo-header tag.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Family {
    /// IPv4: 4-byte addresses; v2 or v3.
    V4,
    /// IPv6: 16-byte addresses; keepalived only sends v3 there.
    V6,
}

impl Family {
    /// The family of `addr`.
    pub const fn of(addr: IpAddr) -> Self {
        match addr {
            IpAddr::V4(_) => Self::V4,
            IpAddr::V6(_) => Self::V6,
        }
    }

    const fn address_len(self) -> usize {
        match self {
            Self::V4 => 4,
            Self::V6 => 16,
        }
    }
}

/// The HMAC input cannot be built or keyed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    /// The key is longer than HMAC-SHA256's block, which keepalived never accepts.
    #[error("HMAC key of {len} bytes is longer than {MAX_KEY_LEN}")]
    KeyTooLong {
        /// Length given.
        len: usize,
    },
}

/// Length of the PDU (without trailer) that the header of `vrrp` announces for `family`, or
/// `None` when the header is short, the version is neither 2 nor 3, or it is v2 over IPv6
/// (keepalived forces v3 there, so no trailer is expected).
pub fn announced_pdu_len(vrrp: &[u8], family: Family) -> Option<usize> {
    let version = vrrp.first()? >> 4;
    let count = usize::from(*vrrp.get(3)?);
    let addresses = count * family.address_len();
    match (version, family) {
        (3, _) => Some(HEADER_LEN + addresses),
        (2, Family::V4) => Some(HEADER_LEN + addresses + V2_AUTH_LEN),
        _ => None,
    }
}

/// Splits an IP payload (IPv4: the datagram after `ihl`; IPv6: the payload) into the PDU and the
/// trailer, when and only when its length is exactly the announced PDU length plus 28.
pub fn split(payload: &[u8], family: Family) -> Option<(&[u8], &[u8; TRAILER_LEN])> {
    let pdu_len = announced_pdu_len(payload, family)?;
    if payload.len() != pdu_len + TRAILER_LEN {
        return None;
    }
    let (pdu, trailer) = payload.split_at(pdu_len);
    Some((pdu, trailer.try_into().ok()?))
}

/// The fields of a trailer (all big-endian on the wire).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Trailer {
    /// Extension type; only [`EXT_TYPE_HMAC_SHA256_128`] is well formed.
    pub ext_type: u8,
    /// Id of the signing key, 1..=255.
    pub key_id: u8,
    /// Must be zero.
    pub reserved: u16,
    /// `sec << 32 | subsec << 16 | ctr`: UTC seconds mod 2^32, 1/65536 s, tie-breaker.
    pub seq: u64,
    /// First 16 bytes of the HMAC-SHA256 digest.
    pub hmac: [u8; HMAC_LEN],
}

impl Trailer {
    /// Reads the 28 bytes. Every byte pattern has a reading; [`Trailer::is_well_formed`] says
    /// whether keepalived would take it further.
    pub fn parse(bytes: &[u8; TRAILER_LEN]) -> Self {
        let (head, hmac) = bytes.split_at(HEAD_LEN);
        let mut seq = [0; 8];
        seq.copy_from_slice(&head[4..12]);
        let mut tag = [0; HMAC_LEN];
        tag.copy_from_slice(hmac);
        Self {
            ext_type: head[0],
            key_id: head[1],
            reserved: u16::from_be_bytes([head[2], head[3]]),
            seq: u64::from_be_bytes(seq),
            hmac: tag,
        }
    }

    /// The wire bytes.
    pub fn to_bytes(&self) -> [u8; TRAILER_LEN] {
        let mut out = [0; TRAILER_LEN];
        out[..HEAD_LEN].copy_from_slice(&self.head());
        out[HEAD_LEN..].copy_from_slice(&self.hmac);
        out
    }

    /// Type 1 with the reserved field zero; anything else is MALFORMED before any other check.
    pub fn is_well_formed(&self) -> bool {
        self.ext_type == EXT_TYPE_HMAC_SHA256_128 && self.reserved == 0
    }

    /// Bytes 0-11 as sent: they are part of the HMAC input.
    fn head(&self) -> [u8; HEAD_LEN] {
        let mut out = [0; HEAD_LEN];
        out[0] = self.ext_type;
        out[1] = self.key_id;
        out[2..4].copy_from_slice(&self.reserved.to_be_bytes());
        out[4..12].copy_from_slice(&self.seq.to_be_bytes());
        out
    }
}

/// What the pseudo-header binds the HMAC to: the sender's address and the instance's version
/// and VRID. The receiver takes the packet's source and its own instance's version and VRID.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Binding {
    /// Source address of the advert.
    pub src: IpAddr,
    /// VRRP version number (2 or 3).
    pub version: u8,
    /// Virtual router id.
    pub vrid: u8,
}

impl Binding {
    /// `[family 4|6, version, vrid, 0, source padded to 16 bytes]`.
    fn pseudo_header(&self) -> [u8; PSEUDO_LEN] {
        let mut out = [0; PSEUDO_LEN];
        out[1] = self.version;
        out[2] = self.vrid;
        match self.src {
            IpAddr::V4(a) => {
                out[0] = 4;
                out[4..8].copy_from_slice(&a.octets());
            }
            IpAddr::V6(a) => {
                out[0] = 6;
                out[4..].copy_from_slice(&a.octets());
            }
        }
        out
    }
}

/// Feeds the HMAC input to `sink` in order: pseudo-header, PDU with the checksum read as zero,
/// trailer bytes 0-11, and 16 zeros in place of the HMAC.
fn feed(binding: &Binding, pdu: &[u8], trailer: &Trailer, mut sink: impl FnMut(&[u8])) {
    sink(&binding.pseudo_header());
    match (pdu.get(..CHECKSUM_OFFSET), pdu.get(CHECKSUM_OFFSET + 2..)) {
        (Some(before), Some(after)) => {
            sink(before);
            sink(&[0, 0]);
            sink(after);
        }
        // Shorter than a header: no checksum field to blank; a real PDU never gets here.
        _ => sink(pdu),
    }
    sink(&trailer.head());
    sink(&[0; HMAC_LEN]);
}

/// The full HMAC input as one buffer, for tests and diagnostics.
pub fn hmac_input(binding: &Binding, pdu: &[u8], trailer: &Trailer) -> Vec<u8> {
    let mut out = Vec::with_capacity(PSEUDO_LEN + pdu.len() + TRAILER_LEN);
    feed(binding, pdu, trailer, |part| out.extend_from_slice(part));
    out
}

/// HMAC-SHA256 keyed with the raw key bytes (RFC 2104; never hashed, since they fit one block).
fn keyed(key: &[u8]) -> Result<Hmac<Sha256>, SignError> {
    if key.len() > MAX_KEY_LEN {
        return Err(SignError::KeyTooLong { len: key.len() });
    }
    <Hmac<Sha256> as Mac>::new_from_slice(key).map_err(|_| SignError::KeyTooLong { len: key.len() })
}

/// The full 32-byte digest over [`hmac_input`].
pub fn digest(
    key: &[u8],
    binding: &Binding,
    pdu: &[u8],
    trailer: &Trailer,
) -> Result<[u8; 32], SignError> {
    let mut mac = keyed(key)?;
    feed(binding, pdu, trailer, |part| mac.update(part));
    Ok(mac.finalize().into_bytes().into())
}

/// Builds the trailer for `pdu` (its checksum field may hold anything: it is read as zero).
pub fn sign(
    key: &[u8],
    key_id: u8,
    binding: &Binding,
    pdu: &[u8],
    seq: u64,
) -> Result<[u8; TRAILER_LEN], SignError> {
    let mut trailer = Trailer {
        ext_type: EXT_TYPE_HMAC_SHA256_128,
        key_id,
        reserved: 0,
        seq,
        hmac: [0; HMAC_LEN],
    };
    let full = digest(key, binding, pdu, &trailer)?;
    trailer.hmac.copy_from_slice(&full[..HMAC_LEN]);
    Ok(trailer.to_bytes())
}

/// Whether the trailer's HMAC is right for `pdu` under `key`, compared in constant time
/// (`verify_truncated_left` compares the sent 16 bytes with the digest's left half).
pub fn hmac_matches(key: &[u8], binding: &Binding, pdu: &[u8], trailer: &Trailer) -> bool {
    let Ok(mut mac) = keyed(key) else {
        return false;
    };
    feed(binding, pdu, trailer, |part| mac.update(part));
    mac.verify_truncated_left(&trailer.hmac).is_ok()
}

/// The VRRP checksum over IPv6 (RFC 9568 5.2.8 with the RFC 8200 8.1 pseudo-header) as the
/// kernel computes it for keepalived's sockets: over the whole payload **including** the trailer,
/// with the checksum field taken as zero and the pseudo-header length counting the trailer.
pub fn ipv6_checksum(src: Ipv6Addr, dst: Ipv6Addr, payload: &[u8]) -> u16 {
    let mut acc: u64 = 0;
    for addr in [src, dst] {
        acc = sum_words(&addr.octets(), acc);
    }
    acc += payload.len() as u64 + u64::from(PROTO_VRRP);
    match (
        payload.get(..CHECKSUM_OFFSET),
        payload.get(CHECKSUM_OFFSET + 2..),
    ) {
        (Some(before), Some(after)) => {
            acc = sum_words(before, acc);
            acc = sum_words(after, acc);
        }
        _ => acc = sum_words(payload, acc),
    }
    !fold(acc)
}

/// One's-complement sum of big-endian 16-bit words (RFC 1071); an odd last byte is padded.
/// `before` and `after` are split at an even offset, so summing them apart is exact.
fn sum_words(data: &[u8], mut acc: u64) -> u64 {
    let (words, rest) = data.as_chunks::<2>();
    for w in words {
        acc += u64::from(u16::from_be_bytes(*w));
    }
    if let [last] = rest {
        acc += u64::from(*last) << 8;
    }
    acc
}

/// Folds the carries back into 16 bits.
fn fold(mut acc: u64) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    // The loop leaves at most 16 bits.
    u16::try_from(acc).unwrap_or(u16::MAX)
}
