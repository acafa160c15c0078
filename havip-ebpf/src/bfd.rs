//! BFD in the kernel (RFC 5880 over single-hop IPv4 UDP, RFC 5881): Control packets of the
//! agent's sessions are validated and timestamped, Echo packets of its neighbors are reflected.
//!
//! ```text
//! RFC 5880 4.1, the mandatory part of a Control packet (UDP destination port 3784)
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |Vers |  Diag   |Sta|P|F|C|A|D|M|  Detect Mult  |    Length     |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                       My Discriminator                        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                      Your Discriminator                       |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |  Desired Min TX, Required Min RX, Required Min Echo RX (3x32) |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! **Control**: a packet from an address in `HAVIP_BFD_PEERS` gets the checks of RFC 5881 5
//! (TTL) and RFC 5880 6.8.6 that need no session state beyond the neighbor's discriminator;
//! a failing one is dropped and counted by reason, a valid one has its arrival time
//! (`bpf_ktime_get_ns`, the agent's `CLOCK_MONOTONIC`) written to `HAVIP_BFD_RX` and is
//! *passed* to the agent's UDP socket. Passing rather than a ring buffer: the session state
//! machine and its socket already exist and stay the one receive path whether or not this
//! program runs on the interface the packet arrives on (a neighbor reached through another
//! interface, a generic-mode fallback), the adverts' ring buffer is drained by the election
//! loop, not by the BFD thread, and what detection needs from the kernel is only the time:
//! the BFD thread compares it with its deadline before it declares a session Down, so a
//! thread scheduled late on a loaded CPU does not mistake its own delay for a dead path.
//! The UDP checksum is left to the stack (which drops a bad one before the socket), so a
//! corrupted packet from a neighbor can still count as heard; its source address, TTL 255
//! and discriminator have passed.
//!
//! **Echo** (UDP destination port 3785): RFC 5880 6.4 and RFC 5881 4 have the remote system
//! loop the packet back without looking into it; the sender addresses it to itself. So an
//! Echo from a neighbor with [`bfd_flags::ECHO`], whose destination is its own source, goes
//! back out of the interface it came in on with the Ethernet addresses swapped (`XDP_TX`) and
//! every other byte as it was; IP routing would do the same but later, and only with
//! forwarding on.
//!
//! Anything else (another source, IP options, not UDP to these ports) is not ours and passes.

use aya_ebpf::helpers::bpf_ktime_get_ns;
use havip_common::{BfdPeer, BfdPeerKey, BfdRx, bfd_flags, counter};
use network_types::{eth::EthHdr, ip::Ipv4Hdr};

use crate::{
    frame::{Frame, Verdict},
    maps::{BFD_PEERS, BFD_RX, count},
    ptr_at,
};

/// IP protocol number of UDP.
const IPPROTO_UDP: u8 = 17;
/// RFC 5881 4: Control packets go to this UDP port.
const CONTROL_PORT: u16 = 3784;
/// RFC 5881 4: Echo packets go to this one.
const ECHO_PORT: u16 = 3785;
/// IPv4 header without options (the only layout handled here).
const IP_LEN: usize = 20;
const UDP_LEN: usize = 8;
/// RFC 5880 4.1: the mandatory section; Length is at least this.
const CONTROL_LEN: usize = 24;
/// RFC 5880 6.8.6: with the A bit, Length is at least this.
const CONTROL_AUTH_LEN: u8 = 26;
const IP_MF: u16 = 0x2000;
const IP_OFFMASK: u16 = 0x1fff;

/// `Some(action)` for a UDP packet to the BFD Control or Echo port (already counted), `None`
/// for everything else, which the caller handles as before.
#[inline(always)]
pub(crate) fn handle<C: Frame>(ctx: &C) -> Option<Verdict> {
    let ip = ptr_at::<Ipv4Hdr>(ctx, EthHdr::LEN).ok()?;
    // SAFETY: bounds-checked by `ptr_at`.
    let ip = unsafe { &*ip };
    // Only an option-less header is parsed: with options the UDP ports sit at a variable
    // offset, and no BFD implementation sends any. Such a packet goes the IPv4 way (passed);
    // the agent's socket still judges it, without a kernel timestamp.
    if ip.proto != IPPROTO_UDP || ip.vihl != 0x45 {
        return None;
    }
    // A later fragment carries no UDP header: what sits where the ports would is payload.
    if u16::from_be_bytes(ip.frags) & IP_OFFMASK != 0 {
        return None;
    }
    let udp = ptr_at::<[u8; UDP_LEN]>(ctx, EthHdr::LEN + IP_LEN).ok()?;
    // SAFETY: bounds-checked by `ptr_at`.
    let udp = unsafe { *udp };
    let port = u16::from_be_bytes([udp[2], udp[3]]);
    if port != CONTROL_PORT && port != ECHO_PORT {
        return None;
    }
    let action = if port == CONTROL_PORT {
        match control(ctx, ip, udp) {
            Ok(()) => {
                count(counter::BFD_ACCEPTED);
                Verdict::Pass
            }
            Err(c) => {
                count(c);
                // Unknown peers pass (fail-open: another BFD speaker on this host may own
                // them); invalid packets of our neighbors are dropped (fail-closed).
                if c == counter::BFD_PASS_UNKNOWN_PEER {
                    Verdict::Pass
                } else {
                    Verdict::Drop
                }
            }
        }
    } else {
        echo(ctx, ip)
    };
    Some(action)
}

/// The neighbor entry of `addr`, if it is one.
#[inline(always)]
fn peer_of(addr: [u8; 4]) -> Option<BfdPeer> {
    // SAFETY: read-only copy of a hash value.
    unsafe { BFD_PEERS.get(&BfdPeerKey { addr }) }.copied()
}

/// RFC 5881 5 and the stateless part of RFC 5880 6.8.6, cheapest first; `Err(counter)` says
/// which path the packet takes.
#[inline(always)]
fn control<C: Frame>(ctx: &C, ip: &Ipv4Hdr, udp: [u8; UDP_LEN]) -> Result<(), u32> {
    let Some(peer) = peer_of(ip.src_addr) else {
        return Err(counter::BFD_PASS_UNKNOWN_PEER);
    };
    // The first fragment of a Control packet (no BFD speaker fragments 24-byte packets).
    if u16::from_be_bytes(ip.frags) & IP_MF != 0 {
        return Err(counter::BFD_DROP_IP_HEADER);
    }
    // RFC 5881 5: 255 on a single hop (GTSM, RFC 5082); `max_hops` lowers the floor.
    if ip.ttl < peer.min_ttl {
        return Err(counter::BFD_DROP_TTL);
    }
    let tot_len = usize::from(u16::from_be_bytes(ip.tot_len));
    let udp_len = usize::from(u16::from_be_bytes([udp[4], udp[5]]));
    let frame_len = ctx.data_end() - ctx.data();
    if tot_len < IP_LEN + UDP_LEN + CONTROL_LEN
        || EthHdr::LEN + tot_len > frame_len
        || udp_len < UDP_LEN + CONTROL_LEN
        || udp_len > tot_len - IP_LEN
    {
        return Err(counter::BFD_DROP_LENGTH);
    }
    let bfd = ptr_at::<[u8; CONTROL_LEN]>(ctx, EthHdr::LEN + IP_LEN + UDP_LEN)
        .map_err(|()| counter::BFD_DROP_LENGTH)?;
    // SAFETY: bounds-checked by `ptr_at`.
    let bfd = unsafe { *bfd };
    // RFC 5880 6.8.6, in its order.
    if bfd[0] >> 5 != 1 {
        return Err(counter::BFD_DROP_VERSION);
    }
    let auth = bfd[1] & 0x04 != 0;
    let length = bfd[3];
    if usize::from(length) < CONTROL_LEN
        || (auth && length < CONTROL_AUTH_LEN)
        || usize::from(length) > udp_len - UDP_LEN
    {
        return Err(counter::BFD_DROP_LENGTH);
    }
    let multipoint = bfd[1] & 0x01 != 0;
    let my_discr = u32::from_be_bytes([bfd[4], bfd[5], bfd[6], bfd[7]]);
    if bfd[2] == 0 || multipoint || my_discr == 0 {
        return Err(counter::BFD_DROP_FIELDS);
    }
    let your_discr = u32::from_be_bytes([bfd[8], bfd[9], bfd[10], bfd[11]]);
    // State: 0 AdminDown, 1 Down, 2 Init, 3 Up (RFC 5880 4.1).
    let state = bfd[1] >> 6;
    if (your_discr != 0 && your_discr != peer.local_discr) || (your_discr == 0 && state > 1) {
        return Err(counter::BFD_DROP_DISCRIMINATOR);
    }
    if auth {
        return Err(counter::BFD_DROP_AUTH);
    }
    heard(ip.src_addr);
    Ok(())
}

/// Records a valid Control packet of `addr` now: in place when the neighbor has a record (one
/// lookup per packet), inserted otherwise. The two 64-bit stores are not one atomic write; the
/// agent reads only `last_rx_ns`, which is.
#[inline(always)]
fn heard(addr: [u8; 4]) {
    let key = BfdPeerKey { addr };
    // SAFETY: helper without arguments.
    let now = unsafe { bpf_ktime_get_ns() };
    if let Some(r) = BFD_RX.get_ptr_mut(&key) {
        // SAFETY: a live hash value; concurrent writers on other CPUs write the same kind of
        // value, and a lost increment of `packets` only undercounts a statistic.
        unsafe {
            (*r).last_rx_ns = now;
            (*r).packets += 1;
        }
    } else {
        let _ = BFD_RX.insert(
            &key,
            &BfdRx {
                last_rx_ns: now,
                packets: 1,
                echoes: 0,
            },
            0,
        );
    }
}

/// RFC 5880 6.4, RFC 5881 4: sends a neighbor's Echo packet back to it.
#[inline(always)]
fn echo<C: Frame>(ctx: &C, ip: &Ipv4Hdr) -> Verdict {
    let ours = peer_of(ip.src_addr).is_some_and(|p| p.flags & bfd_flags::ECHO != 0)
        && ip.dst_addr == ip.src_addr;
    let Ok(eth) = ptr_at::<EthHdr>(ctx, 0) else {
        count(counter::BFD_PASS_ECHO_NOT_OURS);
        return Verdict::Pass;
    };
    if !ours {
        count(counter::BFD_PASS_ECHO_NOT_OURS);
        return Verdict::Pass;
    }
    // SAFETY: bounds-checked by `ptr_at`; nothing else holds a reference into the frame.
    let eth = unsafe { &mut *eth };
    let (dst, src) = (eth.dst_addr, eth.src_addr);
    eth.dst_addr = src;
    eth.src_addr = dst;
    let key = BfdPeerKey { addr: ip.src_addr };
    if let Some(r) = BFD_RX.get_ptr_mut(&key) {
        // SAFETY: as in `heard`.
        unsafe { (*r).echoes += 1 };
    }
    count(counter::BFD_ECHO_REFLECTED);
    Verdict::Tx
}
