//! Neighbor Discovery (RFC 4861) for IPv6 VIPs: the IPv6 twin of `arp.rs`, fail-closed around
//! every Neighbor Solicitation that names a VIP, fail-open elsewhere. IPv6 VRRP adverts (next
//! header 112 right after the fixed header) go to `vrrp6.rs`.
//!
//! - An NS (`ICMPv6` type 135 right after the fixed IPv6 header) whose target is a VIP of the
//!   interface ([`VIPS6`]) is answered in place with a solicited Neighbor Advertisement while,
//!   and only while, the VIP's VRID holds a grant whose lease runs and that the kernel has not
//!   fenced (`VridState::owned_at`, the rule the ARP path follows); otherwise it is dropped, so
//!   the kernel's own NDP cannot answer for a VIP this node does not own.
//! - The answer (RFC 4861 7.2.4): sent to the solicitation's source address and Ethernet source,
//!   from the target address with the VIP's MAC, hop limit 255 (RFC 4861 7.1.2), Solicited and
//!   Override set (the VIP is not anycast), Router clear (a load balancer's VIP, not a router's),
//!   one Target Link-Layer Address option, and the `ICMPv6` checksum over the RFC 8200 8.1
//!   pseudo-header computed here. The frame is resized to exactly the advertisement.
//! - An NS that RFC 4861 7.1.1 says to discard (hop limit not 255, code not 0, ICMP length under
//!   24) and that names a VIP is dropped and counted, never passed.
//! - Duplicate address detection probes (source `::`) pass: they announce nobody's ownership, and
//!   the agent adds VIPs with `nodad` anyway. Other `ICMPv6` (Neighbor Advertisements included: a new
//!   owner's unsolicited NA must reach neighbour caches here) and every other IPv6 frame pass,
//!   as do frames with extension headers before `ICMPv6` (the stack parses those chains).
//! - The incoming NS's checksum is not verified: answering a corrupted NS for an owned VIP tells
//!   the truth, and one for a VIP not owned is dropped either way.

use aya_ebpf::helpers::bpf_ktime_get_ns;
use havip_common::{Vip6Key, VipEntry, counter};
use network_types::eth::EthHdr;

use crate::{
    frame::{Frame, Verdict},
    maps::{FENCES, VIPS6, VRIDS, VipStat, count, count_vip, vrid_key},
    ptr_at,
};

/// Fixed IPv6 header length (RFC 8200 3).
pub(crate) const IPV6_LEN: usize = 40;
/// IPv6 next header of `ICMPv6`.
const NEXTHDR_ICMPV6: u8 = 58;
/// `ICMPv6` Neighbor Solicitation and Advertisement types (RFC 4861 4.3, 4.4).
const NEIGHBOR_SOLICITATION: u8 = 135;
const NEIGHBOR_ADVERTISEMENT: u8 = 136;
/// Hop limit every ND message carries and receivers require (RFC 4861 7.1.1, 7.1.2).
const ND_HOP_LIMIT: u8 = 255;
/// Type, code, checksum, reserved, target: the NS and NA bodies without options.
const ND_LEN: usize = 24;
/// Target Link-Layer Address option (RFC 4861 4.6.1): type 2, length 1 (8 bytes).
const OPT_TARGET_LLADDR: u8 = 2;
/// NA flags (RFC 4861 4.4): Solicited and Override, in the first byte of the flags word.
const NA_SOLICITED_OVERRIDE: u8 = 0x40 | 0x20;
/// Offset of the `ICMPv6` message in an untagged frame.
const ICMP_OFF: usize = EthHdr::LEN + IPV6_LEN;
/// `ICMPv6` length of the advertisement: body plus one 8-byte option.
const NA_ICMP_LEN: usize = ND_LEN + 8;
/// Frame length of the advertisement.
const NA_FRAME_LEN: usize = ICMP_OFF + NA_ICMP_LEN;

/// Handles an Ethernet frame whose ethertype is IPv6.
#[inline(always)]
pub(crate) fn handle<C: Frame>(ctx: &C) -> Verdict {
    let Ok(ip) = ptr_at::<[u8; IPV6_LEN]>(ctx, EthHdr::LEN) else {
        count(counter::PASS_IPV6);
        return Verdict::Pass;
    };
    // SAFETY: bounds-checked by `ptr_at`; copied so nothing aliases the frame once it is rewritten.
    let ip = unsafe { *ip };
    if ip[6] == havip_common::IPPROTO_VRRP {
        return crate::vrrp6::handle(ctx, &ip);
    }
    if ip[6] != NEXTHDR_ICMPV6 {
        // Plain IPv6, or an extension header chain the stack parses (RFC 8200 4).
        count(counter::PASS_IPV6);
        return Verdict::Pass;
    }
    let Ok(icmp_type) = ptr_at::<u8>(ctx, ICMP_OFF) else {
        count(counter::NDP_PASS_TRUNCATED);
        return Verdict::Pass;
    };
    // SAFETY: bounds-checked by `ptr_at`.
    if unsafe { *icmp_type } != NEIGHBOR_SOLICITATION {
        count(counter::NDP_PASS_NOT_SOLICITATION);
        return Verdict::Pass;
    }
    // Without the whole target there is nothing to look up; the stack drops it too (7.1.1).
    let Ok(ns) = ptr_at::<[u8; ND_LEN]>(ctx, ICMP_OFF) else {
        count(counter::NDP_PASS_TRUNCATED);
        return Verdict::Pass;
    };
    // SAFETY: bounds-checked by `ptr_at`.
    let ns = unsafe { *ns };
    let mut target = [0u8; 16];
    target.copy_from_slice(&ns[8..24]);
    let ifindex = ctx.ingress_ifindex();
    // SAFETY: read-only copy of a preallocated hash value.
    let Some(vip) = (unsafe {
        VIPS6.get(&Vip6Key {
            ifindex,
            addr: target,
        })
    })
    .copied() else {
        count(counter::NDP_PASS_NOT_VIP);
        return Verdict::Pass;
    };

    // From here the target is a VIP: fail-closed.
    let payload_len = usize::from(u16::from_be_bytes([ip[4], ip[5]]));
    if ip[7] != ND_HOP_LIMIT || ns[1] != 0 || payload_len < ND_LEN {
        count(counter::NDP_DROP_INVALID);
        return Verdict::Drop;
    }
    let mut requester_ip = [0u8; 16];
    requester_ip.copy_from_slice(&ip[8..24]);
    if requester_ip == [0; 16] {
        count(counter::NDP_PASS_DAD);
        return Verdict::Pass;
    }
    if let Err((global, stat)) = owned(&vip) {
        count(global);
        count_vip(vip.stat_slot, stat);
        return Verdict::Drop;
    }
    let Ok(eth) = ptr_at::<EthHdr>(ctx, 0) else {
        return Verdict::Pass; // unreachable: the IPv6 header after it was in bounds
    };
    // SAFETY: bounds-checked by `ptr_at`.
    let requester_mac = unsafe { (*eth).src_addr };

    // Owned: resize the frame to the advertisement, then write it whole.
    // A frame is at most a page, so both lengths fit an i32 (the conversion folds at compile time).
    let (Ok(want), Ok(len)) = (
        i32::try_from(NA_FRAME_LEN),
        i32::try_from(ctx.data_end() - ctx.data()),
    ) else {
        count(counter::NDP_PASS_RESIZE);
        return Verdict::Pass;
    };
    let delta = want - len;
    // The helper checks the new length against the frame's room itself.
    if delta != 0 && ctx.adjust_tail(delta) != 0 {
        count(counter::NDP_PASS_RESIZE);
        return Verdict::Pass;
    }
    let Ok(frame) = ptr_at::<[u8; NA_FRAME_LEN]>(ctx, 0) else {
        count(counter::NDP_PASS_RESIZE);
        return Verdict::Pass;
    };
    // SAFETY: bounds-checked by `ptr_at` after the resize; the only reference to these bytes.
    let f = unsafe { &mut *frame };
    write_advertisement(f, requester_mac, requester_ip, target, vip.mac);
    count(counter::NDP_REPLIED);
    count_vip(vip.stat_slot, VipStat::Replied);
    Verdict::Tx
}

/// Writes the solicited advertisement for `target` (owned, answered with `mac`) to the node at
/// `requester_ip` / `requester_mac` over the whole frame `f` (RFC 4861 4.4, 7.2.4).
#[inline(always)]
fn write_advertisement(
    f: &mut [u8; NA_FRAME_LEN],
    requester_mac: [u8; 6],
    requester_ip: [u8; 16],
    target: [u8; 16],
    mac: [u8; 6],
) {
    f[0..6].copy_from_slice(&requester_mac);
    f[6..12].copy_from_slice(&mac);
    f[12..14].copy_from_slice(&0x86ddu16.to_be_bytes());
    // Version 6, traffic class 0, flow label 0.
    f[14..18].copy_from_slice(&[0x60, 0, 0, 0]);
    f[18..20].copy_from_slice(&(NA_ICMP_LEN as u16).to_be_bytes());
    f[20] = NEXTHDR_ICMPV6;
    f[21] = ND_HOP_LIMIT;
    f[22..38].copy_from_slice(&target);
    f[38..54].copy_from_slice(&requester_ip);
    f[54] = NEIGHBOR_ADVERTISEMENT;
    f[55] = 0;
    f[58..62].copy_from_slice(&[NA_SOLICITED_OVERRIDE, 0, 0, 0]);
    f[62..78].copy_from_slice(&target);
    f[78] = OPT_TARGET_LLADDR;
    f[79] = 1;
    f[80..86].copy_from_slice(&mac);
    let checksum = na_checksum(requester_ip, target, mac);
    f[56..58].copy_from_slice(&checksum.to_be_bytes());
}

/// The `ICMPv6` checksum of the advertisement [`write_advertisement`] builds: RFC 1071 over the
/// RFC 8200 8.1 pseudo-header (source = target, destination, 32-bit length, next header 58) and
/// the message, from the values rather than the frame (the target appears twice).
#[inline(always)]
fn na_checksum(requester_ip: [u8; 16], target: [u8; 16], mac: [u8; 6]) -> u16 {
    let mut sum: u32 = NA_ICMP_LEN as u32 + u32::from(NEXTHDR_ICMPV6);
    sum += u32::from(NEIGHBOR_ADVERTISEMENT) << 8;
    sum += u32::from(NA_SOLICITED_OVERRIDE) << 8;
    sum += (u32::from(OPT_TARGET_LLADDR) << 8) | 1;
    let mut i = 0;
    while i < 16 {
        sum += 2 * ((u32::from(target[i]) << 8) | u32::from(target[i + 1]));
        sum += (u32::from(requester_ip[i]) << 8) | u32::from(requester_ip[i + 1]);
        i += 2;
    }
    let mut i = 0;
    while i < 6 {
        sum += (u32::from(mac[i]) << 8) | u32::from(mac[i + 1]);
        i += 2;
    }
    !crate::csum::fold(u64::from(sum))
}

/// Whether this node owns `vip` now (the shared [`havip_common::VridState::owned_at`] rule), else
/// the counters of the reason it does not.
#[inline(always)]
fn owned(vip: &VipEntry) -> Result<(), (u32, VipStat)> {
    let vkey = vrid_key(vip.vrid_ifindex, vip.vrid, vip.vrid_family);
    // SAFETY: read-only copy of a preallocated hash value.
    let Some(state) = (unsafe { VRIDS.get(&vkey) }).copied() else {
        return Err((counter::NDP_DROP_NOT_OWNED, VipStat::NotOwned));
    };
    // SAFETY: reads the same clock as userspace CLOCK_MONOTONIC; no memory access.
    let now = unsafe { bpf_ktime_get_ns() };
    // SAFETY: as above.
    let fence_epoch = unsafe { FENCES.get(&vkey) }.map_or(0, |f| f.epoch);
    if state.owned_at(now, fence_epoch) {
        return Ok(());
    }
    if state.grant_epoch == 0 {
        Err((counter::NDP_DROP_NOT_OWNED, VipStat::NotOwned))
    } else if now >= state.lease_until_ns {
        Err((counter::NDP_DROP_LEASE_EXPIRED, VipStat::LeaseExpired))
    } else {
        Err((counter::NDP_DROP_FENCED, VipStat::Fenced))
    }
}
