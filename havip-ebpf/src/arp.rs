//! ARP (RFC 826) for VIPs: fail-closed around every frame that names a VIP, fail-open elsewhere.
//!
//! - Ethernet/IPv4 layout (htype 1, ptype 0x0800, hlen 6, plen 4) with a VIP as target: a
//!   request is answered in place while, and only while, the VIP's VRID is owned (grant, lease,
//!   no fence); a reply or other opcode is passed only while owned (it answers a request the owner
//!   sent from the VIP); anything else is dropped, so the kernel's own ARP cannot answer either.
//! - Gratuitous ARP for a VIP (sender == target, Ethernet/IPv4 layout) is passed on purpose:
//!   neighbour caches on this node (a health check, a co-located client) must follow the new
//!   owner. Passing it cannot make this node's stack answer for the VIP: Linux only replies to a
//!   request whose source is not one of its own addresses (`fib_validate_source` refuses a local
//!   source as martian), and a gratuitous request's source *is* the VIP.
//! - Any other layout (htype 6 "IEEE 802", which Linux accepts on Ethernet, odd lengths, another
//!   protocol type) whose target names a VIP, at the position its own lengths give or at the
//!   Ethernet/IPv4 position, is dropped ([`counter::ARP_DROP_UNSUPPORTED`]), never passed.
//! - VLAN-tagged ARP is judged by [`names_vip`] from `main.rs` (dropped when it names a VIP).

use aya_ebpf::helpers::bpf_ktime_get_ns;
use havip_common::{VipEntry, VipKey, counter};
use network_types::{arp::ArpHdr, eth::EthHdr};

use crate::{
    frame::{Frame, Verdict},
    maps::{FENCES, VIPS, VRIDS, VipStat, count, count_vip},
    ptr_at,
};

const ARPHRD_ETHER: u16 = 1;
const ARPOP_REQUEST: u16 = 1;
const ARPOP_REPLY: u16 = 2;
const ETH_P_IP: u16 = 0x0800;
/// Length of the fixed part of an ARP header (htype, ptype, hlen, plen, oper).
const ARP_FIXED_LEN: usize = 8;
/// Offset of the target protocol address in the Ethernet/IPv4 layout, from the ARP header.
const ETHER_IPV4_TPA: u32 = 24;

/// Handles an Ethernet frame whose ethertype is ARP.
#[inline(always)]
pub(crate) fn handle<C: Frame>(ctx: &C) -> Verdict {
    let ifindex = ctx.ingress_ifindex();
    // Shorter than the fixed part: no target address at all, nothing to protect; the stack
    // drops it too (arp_rcv needs the whole header).
    let Ok(fixed) = ptr_at::<[u8; ARP_FIXED_LEN]>(ctx, EthHdr::LEN) else {
        count(counter::ARP_PASS_TRUNCATED);
        return Verdict::Pass;
    };
    // SAFETY: bounds-checked by `ptr_at`.
    let fixed = unsafe { *fixed };
    let htype = u16::from_be_bytes([fixed[0], fixed[1]]);
    let ptype = u16::from_be_bytes([fixed[2], fixed[3]]);
    let (hlen, plen) = (fixed[4], fixed[5]);
    if htype != ARPHRD_ETHER || ptype != ETH_P_IP || hlen != 6 || plen != 4 {
        // Fail-closed: whatever the layout, a frame that names a VIP is not passed.
        if names_vip(ctx, ifindex, EthHdr::LEN as u32, fixed) {
            count(counter::ARP_DROP_UNSUPPORTED);
            return Verdict::Drop;
        }
        count(counter::ARP_PASS_UNSUPPORTED);
        return Verdict::Pass;
    }
    // Ethernet/IPv4 layout but cut short: the stack drops it too.
    let Ok(arp) = ptr_at::<ArpHdr>(ctx, EthHdr::LEN) else {
        count(counter::ARP_PASS_TRUNCATED);
        return Verdict::Pass;
    };
    // SAFETY: `ptr_at` bounds-checked the whole ARP header.
    let arp = unsafe { &mut *arp };
    let request = arp.oper() == ARPOP_REQUEST;
    let tpa = arp.tpa;
    let key = VipKey { ifindex, addr: tpa };
    // SAFETY: read-only copy of a preallocated hash value; see aya-ebpf `HashMap::get`.
    let Some(vip) = (unsafe { VIPS.get(&key) }).copied() else {
        if request {
            count(counter::ARP_PASS_NOT_VIP);
        } else {
            count(counter::ARP_PASS_NOT_REQUEST);
        }
        return Verdict::Pass;
    };
    // A gratuitous ARP (a node announcing the VIP, maybe the new owner): passed so neighbour
    // caches here follow it; the stack cannot answer it (see the module doc).
    if arp.spa == tpa {
        count(counter::ARP_PASS_GRATUITOUS);
        return Verdict::Pass;
    }

    // From here the target is a VIP: fail-closed. Whatever is not a valid grant is dropped, so
    // neither this program nor the kernel's ARP answers for a VIP this node does not own.
    if let Err((global, stat)) = owned(&vip) {
        count(global);
        count_vip(vip.stat_slot, stat);
        return Verdict::Drop;
    }
    if !request {
        // A reply (or another opcode) to the owned VIP: the answer to a request this node sent
        // from the VIP; the stack needs it.
        count(counter::ARP_PASS_NOT_REQUEST);
        return Verdict::Pass;
    }

    // Owned: turn the request into the reply in place (RFC 826 "Packet Reception").
    let Ok(eth) = ptr_at::<EthHdr>(ctx, 0) else {
        return Verdict::Pass; // unreachable: the ARP header after it was in bounds
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
    Verdict::Tx
}

/// Whether this node owns `vip` now, else the counters of the reason it does not. Ownership
/// lives under the VRID state of the instance's interface ([`VipEntry::vrid_ifindex`]), which
/// differs from the interface the VIP is answered on for a VIP with `dev OTHER`.
#[inline(always)]
fn owned(vip: &VipEntry) -> Result<(), (u32, VipStat)> {
    let vkey = crate::maps::vrid_key(vip.vrid_ifindex, vip.vrid, vip.vrid_family);
    // SAFETY: read-only copy of a preallocated hash value.
    let Some(state) = (unsafe { VRIDS.get(&vkey) }).copied() else {
        return Err((counter::ARP_DROP_NOT_OWNED, VipStat::NotOwned));
    };
    if state.grant_epoch == 0 {
        return Err((counter::ARP_DROP_NOT_OWNED, VipStat::NotOwned));
    }
    // SAFETY: reads the same clock as userspace CLOCK_MONOTONIC; no memory access.
    let now = unsafe { bpf_ktime_get_ns() };
    if now >= state.lease_until_ns {
        return Err((counter::ARP_DROP_LEASE_EXPIRED, VipStat::LeaseExpired));
    }
    // SAFETY: as above.
    let fence_epoch = unsafe { FENCES.get(&vkey) }.map_or(0, |f| f.epoch);
    if fence_epoch == state.grant_epoch {
        return Err((counter::ARP_DROP_FENCED, VipStat::Fenced));
    }
    Ok(())
}

/// Whether the ARP frame whose header starts at `arp_off` (fixed part `fixed`) names a VIP of
/// `ifindex` as its target: at the Ethernet/IPv4 position, or, for an IPv4 protocol type, at the
/// position its own hardware length gives (RFC 826: sha, spa, tha, tpa follow the fixed part).
#[inline(always)]
pub(crate) fn names_vip<C: Frame>(
    ctx: &C,
    ifindex: u32,
    arp_off: u32,
    fixed: [u8; ARP_FIXED_LEN],
) -> bool {
    if is_vip(ctx, ifindex, arp_off + ETHER_IPV4_TPA) {
        return true;
    }
    let ptype = u16::from_be_bytes([fixed[2], fixed[3]]);
    // `hlen` is a u8: the offset is at most 8 + 510 + 4 past the header, a bound the verifier
    // and the helper's own range check both follow.
    let hlen = u32::from(fixed[4]);
    ptype == ETH_P_IP && fixed[5] == 4 && is_vip(ctx, ifindex, arp_off + 8 + 2 * hlen + 4)
}

/// Whether the 4 bytes at `off` are a VIP of `ifindex` (false if they lie past the frame).
#[inline(always)]
fn is_vip<C: Frame>(ctx: &C, ifindex: u32, off: u32) -> bool {
    let mut addr = [0u8; 4];
    // SAFETY: `addr` is 4 bytes of stack; the helper bounds-checks the frame itself.
    let r = unsafe { ctx.load_bytes(off, addr.as_mut_ptr().cast(), 4) };
    // SAFETY: existence check only.
    r == 0 && unsafe { VIPS.get(&VipKey { ifindex, addr }) }.is_some()
}
