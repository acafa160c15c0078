//! havip's XDP program: the VIP's data plane in the kernel.
//!
//! 1. ARP requests for a VIP are answered in place (`XDP_TX`) while, and only while, this node owns
//!    the VIP's VRID under a valid lease that the kernel has not fenced; for a VIP not owned they are
//!    dropped so the kernel's own ARP cannot answer either. Everything else passes.
//! 2. VRRP adverts for a VRID configured on this interface are validated (RFC 9568 7.1, RFC 3768
//!    7.1), recorded in the peer table and delivered to the agent through the ring buffer; an advert
//!    that must end this node's ownership fences the grant in the same invocation (fast switch).
//!
//! The ABI (maps, counters, flags) lives in `havip-common`. Every path increments one counter.

#![no_std]
#![no_main]

mod arp;
mod csum;
mod maps;
mod vrrp;

use aya_ebpf::{bindings::xdp_action, macros::xdp, programs::XdpContext};
use havip_common::counter;
use network_types::eth::EthHdr;

use crate::maps::count;

/// Ethertypes we look at (host order).
const ETH_P_IP: u16 = 0x0800;
const ETH_P_ARP: u16 = 0x0806;
const ETH_P_IPV6: u16 = 0x86DD;
const ETH_P_8021Q: u16 = 0x8100;
const ETH_P_8021AD: u16 = 0x88A8;

/// Entry point. A bounds or map error that escapes a path is fail-open (`XDP_PASS`): on a frame we
/// could not parse, the kernel stack is the safer judge; every path that must drop does so itself.
#[xdp]
pub fn havip_xdp(ctx: XdpContext) -> u32 {
    try_havip_xdp(&ctx).unwrap_or(xdp_action::XDP_PASS)
}

fn try_havip_xdp(ctx: &XdpContext) -> Result<u32, ()> {
    let Ok(eth) = ptr_at::<EthHdr>(ctx, 0) else {
        count(counter::PASS_TRUNCATED_ETH);
        return Ok(xdp_action::XDP_PASS);
    };
    // SAFETY: `ptr_at` checked that the whole header lies inside the frame.
    let ether_type = u16::from_be(unsafe { (*eth).ether_type });
    match ether_type {
        ETH_P_ARP => Ok(arp::handle(ctx)),
        ETH_P_IP => Ok(vrrp::handle(ctx)),
        ETH_P_IPV6 => {
            count(counter::PASS_IPV6);
            Ok(xdp_action::XDP_PASS)
        }
        ETH_P_8021Q | ETH_P_8021AD => {
            count(counter::PASS_VLAN);
            Ok(xdp_action::XDP_PASS)
        }
        _ => {
            count(counter::PASS_OTHER);
            Ok(xdp_action::XDP_PASS)
        }
    }
}

/// The one bounds-checked accessor: a pointer to a `T` at `offset`, or `Err` if any byte of it
/// lies past the end of the frame.
#[inline(always)]
pub(crate) fn ptr_at<T>(ctx: &XdpContext, offset: usize) -> Result<*mut T, ()> {
    let start = ctx.data();
    let end = ctx.data_end();
    if start + offset + core::mem::size_of::<T>() > end {
        return Err(());
    }
    Ok((start + offset) as *mut T)
}

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    // The verifier rejects any program that could reach here; this only satisfies `no_std`.
    loop {}
}

/// License section; GPL is required for some helpers (ring buffer output is not, but keep it simple).
#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 13] = *b"Dual MIT/GPL\0";
