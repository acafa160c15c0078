//! ARP (RFC 826) for VIPs: answer in place while owned, drop while not, pass everything else.

use aya_ebpf::{bindings::xdp_action, helpers::bpf_ktime_get_ns, programs::XdpContext};
use havip_common::{VipKey, counter};
use network_types::{arp::ArpHdr, eth::EthHdr};

use crate::{
    maps::{FENCES, VIPS, VRIDS, VipStat, count, count_vip},
    ptr_at,
};

const ARPHRD_ETHER: u16 = 1;
const ARPOP_REQUEST: u16 = 1;
const ARPOP_REPLY: u16 = 2;
const ETH_P_IP: u16 = 0x0800;

/// Handles an Ethernet frame whose ethertype is ARP.
#[inline(always)]
pub(crate) fn handle(ctx: &XdpContext) -> u32 {
    // Truncated or foreign ARP: fail-open, it is not ours to judge.
    let Ok(arp) = ptr_at::<ArpHdr>(ctx, EthHdr::LEN) else {
        count(counter::ARP_PASS_TRUNCATED);
        return xdp_action::XDP_PASS;
    };
    // SAFETY: `ptr_at` bounds-checked the whole ARP header.
    let arp = unsafe { &mut *arp };
    if arp.htype() != ARPHRD_ETHER || arp.ptype() != ETH_P_IP || arp.hlen != 6 || arp.plen != 4 {
        count(counter::ARP_PASS_UNSUPPORTED);
        return xdp_action::XDP_PASS;
    }
    if arp.oper() != ARPOP_REQUEST {
        count(counter::ARP_PASS_NOT_REQUEST);
        return xdp_action::XDP_PASS;
    }
    let tpa = arp.tpa;
    let key = VipKey {
        ifindex: ctx.ingress_ifindex() as u32,
        addr: tpa,
    };
    // SAFETY: read-only copy of a preallocated hash value; see aya-ebpf `HashMap::get`.
    let Some(vip) = (unsafe { VIPS.get(&key) }).copied() else {
        count(counter::ARP_PASS_NOT_VIP);
        return xdp_action::XDP_PASS;
    };
    // A gratuitous ARP (a node announcing the VIP, maybe the new owner) must reach the stack so
    // neighbour caches follow it.
    if arp.spa == tpa {
        count(counter::ARP_PASS_GRATUITOUS);
        return xdp_action::XDP_PASS;
    }

    // From here the target is a VIP: fail-closed. Whatever is not a valid grant is dropped, so
    // neither this program nor the kernel's ARP answers for a VIP this node does not own.
    let vkey = crate::maps::vrid_key(key.ifindex, vip.vrid);
    // SAFETY: as above.
    let Some(state) = (unsafe { VRIDS.get(&vkey) }).copied() else {
        return drop_vip(
            vip.stat_slot,
            counter::ARP_DROP_NOT_OWNED,
            VipStat::NotOwned,
        );
    };
    if state.grant_epoch == 0 {
        return drop_vip(
            vip.stat_slot,
            counter::ARP_DROP_NOT_OWNED,
            VipStat::NotOwned,
        );
    }
    // SAFETY: reads the same clock as userspace CLOCK_MONOTONIC; no memory access.
    let now = unsafe { bpf_ktime_get_ns() };
    if now >= state.lease_until_ns {
        return drop_vip(
            vip.stat_slot,
            counter::ARP_DROP_LEASE_EXPIRED,
            VipStat::LeaseExpired,
        );
    }
    // SAFETY: as above.
    let fence_epoch = unsafe { FENCES.get(&vkey) }.map_or(0, |f| f.epoch);
    if fence_epoch == state.grant_epoch {
        return drop_vip(vip.stat_slot, counter::ARP_DROP_FENCED, VipStat::Fenced);
    }

    // Owned: turn the request into the reply in place (RFC 826 "Packet Reception").
    let Ok(eth) = ptr_at::<EthHdr>(ctx, 0) else {
        return xdp_action::XDP_PASS; // unreachable: the ARP header after it was in bounds
    };
    // SAFETY: bounds-checked above; no other reference to these bytes is alive.
    let eth = unsafe { &mut *eth };
    // Volatile reads pin the requester's MAC and IP in registers/stack before the frame is
    // rewritten: otherwise the compiler, unable to prove the packet fields disjoint, copies
    // through a byte-wise `memmove` loop (the costliest part of this path).
    // SAFETY: plain reads of fields of a bounds-checked header.
    let requester_mac = unsafe { core::ptr::read_volatile(&raw const arp.sha) };
    // SAFETY: as above.
    let requester_ip = unsafe { core::ptr::read_volatile(&raw const arp.spa) };
    eth.dst_addr = requester_mac;
    eth.src_addr = vip.mac;
    arp.set_oper(ARPOP_REPLY);
    arp.tha = requester_mac;
    arp.tpa = requester_ip;
    arp.sha = vip.mac;
    arp.spa = tpa;
    count(counter::ARP_REPLIED);
    count_vip(vip.stat_slot, VipStat::Replied);
    xdp_action::XDP_TX
}

#[inline(always)]
fn drop_vip(slot: u32, global: u32, stat: VipStat) -> u32 {
    count(global);
    count_vip(slot, stat);
    xdp_action::XDP_DROP
}
