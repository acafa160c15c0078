//! VRRP adverts over IPv6 (RFC 9568 5.1.2): the IPv6 front end of `vrrp.rs`, which validates,
//! fences and delivers them with the same shared rule as IPv4 adverts.
//!
//! ```text
//! RFC 8200 3: the fixed header the front end reads
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |Version| Traffic Class |           Flow Label                  |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |         Payload Length        |  Next Header  |   Hop Limit   |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                   Source Address (16 bytes)                   |
//! |                Destination Address (16 bytes)                 |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! Only next header 112 directly after the fixed header is parsed: VRRP adverts carry no
//! extension headers, and a chain is left to the stack (`pass_ipv6`, counted by `ndp.rs`).
//! RFC 9568 5.1.2.3: the hop limit MUST be 255 (the rule's TTL check); RFC 9568 5.2.8: the
//! checksum covers the RFC 8200 8.1 pseudo-header.

use havip_common::{IPPROTO_VRRP, addr_family, counter};
use network_types::eth::EthHdr;

use crate::{
    csum,
    frame::{Frame, Verdict},
    maps::count,
    ndp::IPV6_LEN,
    vrrp::{Wire, check, deliver, scratch_rx},
};

/// Handles an IPv6 frame whose fixed header `ip` (already copied) names VRRP as next header.
#[inline(always)]
pub(crate) fn handle<C: Frame>(ctx: &C, ip: &[u8; IPV6_LEN]) -> Verdict {
    match try_handle(ctx, ip) {
        Ok(action) => action,
        Err(reason) => {
            count(reason);
            if reason == counter::PASS_IPV6 || reason == counter::VRRP_PASS_UNKNOWN_VRID {
                Verdict::Pass
            } else {
                Verdict::Drop
            }
        }
    }
}

/// `Ok(action)` for an accepted advert, `Err(counter)` for every other path (as in `vrrp.rs`).
#[inline(always)]
fn try_handle<C: Frame>(ctx: &C, ip: &[u8; IPV6_LEN]) -> Result<Verdict, u32> {
    // Not IPv6 despite the ethertype: fail-open, as the IPv4 path does for a bad version.
    if ip[0] >> 4 != 6 {
        return Err(counter::PASS_IPV6);
    }
    let payload_len = u32::from(u16::from_be_bytes([ip[4], ip[5]]));
    let frame_len = (ctx.data_end() - ctx.data()) as u32;
    // A jumbogram (payload length 0, RFC 2675) needs a hop-by-hop header, so 0 is truncated too.
    if payload_len < crate::vrrp::VRRP_HDR_LEN
        || (EthHdr::LEN + IPV6_LEN) as u32 + payload_len > frame_len
    {
        return Err(counter::VRRP_DROP_TRUNCATED);
    }
    let rx = scratch_rx()?;
    rx.ttl = ip[7];
    rx.len = payload_len;
    rx.src.copy_from_slice(&ip[8..24]);
    rx.dst.copy_from_slice(&ip[24..40]);
    let wire = Wire {
        family: addr_family::IPV6,
        vrrp_off: (EthHdr::LEN + IPV6_LEN) as u32,
    };
    let checked = check(ctx, &wire, rx)?;
    // RFC 9568 5.2.8 with RFC 8200 8.1: source, destination, 32-bit upper-layer length, three
    // zero bytes and the next header, as 32-bit words summed here.
    let mut words = 0u64;
    let mut i = 8;
    while i < 40 {
        words += u64::from(u32::from_ne_bytes([ip[i], ip[i + 1], ip[i + 2], ip[i + 3]]));
        i += 4;
    }
    words += u64::from(u32::from_ne_bytes(checked.len.to_be_bytes()));
    words += u64::from(u32::from_ne_bytes([0, 0, 0, IPPROTO_VRRP]));
    deliver(ctx, &checked, u32::from(csum::fold(words)))
}
