//! VRRP advertisements in the kernel: validation, peer table, fast switch, delivery to the agent.
//!
//! ```text
//! RFC 9568 5.1 (v3)                        RFC 3768 5.1 (v2)
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |Version| Type  | Virtual Rtr ID|   Priority    |Count IPvX Addr|
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |(rsvd) |     Max Adver Int     |          Checksum             |   v3
//! |   Auth Type   |   Adver Int   |          Checksum             |   v2
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                       IPvX Address(es)                        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                 Authentication Data (1), (2)                  |   v2 only
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! This file holds the IPv4 front end and what both families share ([`check`], [`deliver`]);
//! `vrrp6.rs` is the IPv6 front end (RFC 9568 5.1.2).
//!
//! Valid adverts for a configured VRID are consumed (dropped after delivery): the ring buffer is
//! the agent's receive path, and consuming them means the stack never answers a unicast advert
//! with ICMP protocol-unreachable. Adverts for VRIDs not configured here pass untouched, so a
//! co-located VRRP daemon for other VRIDs keeps working.

use aya_ebpf::helpers::bpf_ktime_get_ns;
use havip_common::{
    AUTH_TRAILER_LEN, AdvertEvent, Fence, IPPROTO_VRRP, MAX_ADVERT_LEN, MAX_VRRP_LEN, PeerKey,
    PeerRecord, VridKey, addr_family, auth_type, counter, event_flags,
    rule::{self, Received},
    v4_mapped, vrid_flags,
};
use network_types::{eth::EthHdr, ip::Ipv4Hdr};

use crate::{
    csum,
    frame::{Frame, Verdict},
    maps::{ALLOWED_PEERS, EVENTS, FENCES, PEERS, SCRATCH, VRIDS, count},
    ptr_at,
};

pub(crate) const VRRP_HDR_LEN: u32 = rule::HEADER_LEN;
const IP_MF: u16 = 0x2000;
const IP_OFFMASK: u16 = 0x1fff;
/// Longest IPv4 header (IHL 15).
const IP_MAX_HDR: usize = 60;

/// Handles an Ethernet frame whose ethertype is IPv4.
#[inline(always)]
pub(crate) fn handle<C: Frame>(ctx: &C) -> Verdict {
    match try_handle(ctx) {
        Ok(action) => action,
        Err(reason) => {
            count(reason);
            if reason == counter::PASS_IPV4 || reason == counter::VRRP_PASS_UNKNOWN_VRID {
                Verdict::Pass
            } else {
                Verdict::Drop
            }
        }
    }
}

/// Where the VRRP message of a frame lies, as each family's front end parsed it; the IP facts
/// the rule reads (source, destination, TTL or hop limit, message length) the front end writes
/// into the [`Received`] it passes along, once (the stack is 512 bytes).
pub(crate) struct Wire {
    /// [`addr_family`] of the frame; the instance looked up is the one of this family.
    pub family: u8,
    /// Frame offset of the VRRP message (whose length is at least the fixed header).
    pub vrrp_off: u32,
}

/// An advert that passed every rule check, copied into the scratch event with its addresses,
/// and its checksum still to verify (each family seeds it with its own pseudo-header). Only what
/// [`deliver`] reads.
pub(crate) struct Checked {
    /// The instance's grant and priority, and this node's address (fast switch). Copied: a
    /// map value pointer kept in this struct ends up in arithmetic the verifier refuses.
    grant_epoch: u64,
    local_priority: u8,
    local_addr: havip_common::Addr,
    /// keepalived `auth_hmac` instance: the kernel cannot check the HMAC, so it never fences;
    /// the agent verifies and revokes.
    auth_hmac: bool,
    /// The advert carries an `auth_hmac` trailer after its PDU (copied after it).
    signed: bool,
    /// Whether the v3 checksum covers a pseudo-header (RFC 9568 5.2.8; keepalived
    /// `v3_checksum_as_v2` turns it off for IPv4 only).
    pub pseudo_header: bool,
    /// The advert's fields the peer record and the fence keep.
    priority: u8,
    version: u8,
    adver_int: u16,
    vkey: VridKey,
    pkey: PeerKey,
    ev: *mut AdvertEvent,
    /// Bytes copied into the event (the message length, restated for the verifier).
    pub len: u32,
}

/// `Ok(action)` for an accepted advert (already counted), `Err(counter)` for every other path.
/// The acceptance rule itself is `havip_common::rule` (shared with the agent); what is here is
/// the IPv4 parsing it needs and the checks only the wire can answer (IP header, checksums).
///
/// Order, cheapest rejection first: the IP header's own fields, then [`check`] (VRID lookup,
/// the rule's fixed-field checks, the peer lookup and the rule's source checks, the copy and the
/// rule's content checks), and only then the two checksums, which are the costliest part and
/// would only confirm a frame already known to be rejected. Every accepted advert has passed
/// both checksums; a frame with two faults is counted under the one checked first.
#[inline(always)]
fn try_handle<C: Frame>(ctx: &C) -> Result<Verdict, u32> {
    // Not VRRP, or not even a whole IPv4 header: fail-open, the stack decides.
    let ip = ptr_at::<Ipv4Hdr>(ctx, EthHdr::LEN).map_err(|()| counter::PASS_IPV4)?;
    // SAFETY: bounds-checked by `ptr_at`.
    let ip = unsafe { &*ip };
    if ip.proto != IPPROTO_VRRP || ip.vihl >> 4 != 4 {
        return Err(counter::PASS_IPV4);
    }
    // From here on it is VRRP: fail-closed for a configured VRID, every drop counted.
    let ihl = u32::from(ip.vihl & 0x0f) * 4;
    if ihl < 20 {
        return Err(counter::VRRP_DROP_IP_HEADER);
    }
    let frags = u16::from_be_bytes(ip.frags);
    if frags & (IP_MF | IP_OFFMASK) != 0 {
        return Err(counter::VRRP_DROP_IP_HEADER);
    }
    let tot_len = u32::from(u16::from_be_bytes(ip.tot_len));
    let frame_len = (ctx.data_end() - ctx.data()) as u32;
    if tot_len < ihl + VRRP_HDR_LEN || EthHdr::LEN as u32 + tot_len > frame_len {
        return Err(counter::VRRP_DROP_TRUNCATED);
    }
    let wire = Wire {
        family: addr_family::IPV4,
        vrrp_off: EthHdr::LEN as u32 + ihl,
    };
    let rx = scratch_rx()?;
    rx.src = v4_mapped(ip.src_addr);
    rx.dst = v4_mapped(ip.dst_addr);
    rx.ttl = ip.ttl;
    rx.len = tot_len - ihl;
    let checked = check(ctx, &wire, rx)?;

    // RFC 791 3.1: the header checksum; the stack (and so keepalived) never sees a bad one.
    ip_checksum(ctx, ip, ihl)?;
    // RFC 9568 5.2.8: v3 checksum over the pseudo-header and the message (unless configured
    // `v3_checksum_as_v2`); RFC 3768 5.3.8: v2 over the message only.
    let mut seed = 0u32;
    if checked.pseudo_header {
        // The pseudo-header (RFC 9568 5.2.8, as for TCP/UDP: source, destination, zero,
        // protocol, length) as three 32-bit words summed here rather than by the helper.
        let l = (checked.len as u16).to_be_bytes();
        let words = u64::from(u32::from_ne_bytes(ip.src_addr))
            + u64::from(u32::from_ne_bytes(ip.dst_addr))
            + u64::from(u32::from_ne_bytes([0, IPPROTO_VRRP, l[0], l[1]]));
        seed = u32::from(csum::fold(words));
    }
    deliver(ctx, &checked, seed)
}

/// The per-CPU [`Received`] of this invocation, its advert-derived fields cleared (the front
/// end writes the IP facts, [`check`] the rest).
#[inline(always)]
pub(crate) fn scratch_rx() -> Result<&'static mut Received, u32> {
    let Some(rx) = crate::maps::SCRATCH_RX.get_ptr_mut(0) else {
        return Err(counter::VRRP_DROP_SCRATCH);
    };
    // SAFETY: per-CPU scratch value, exclusively ours for this invocation.
    let rx = unsafe { &mut *rx };
    rx.auth_data = [0; 8];
    rx.addr_digest = 0;
    Ok(rx)
}

/// The family-independent part of validation: the VRID lookup (the instance of `wire.family`),
/// the shared rule's fixed-field checks, the peer lookup and the rule's source checks, the copy
/// into the scratch event, and the rule's content checks. `rx` comes with the IP facts (source,
/// destination, TTL, length) filled in; the header's fields are read here. `Err(counter)` on
/// every rejection.
#[inline(always)]
#[expect(
    clippy::too_many_lines,
    reason = "the RFC 9568 7.1 checks in order, in one function the verifier follows"
)]
pub(crate) fn check<C: Frame>(ctx: &C, wire: &Wire, rx: &mut Received) -> Result<Checked, u32> {
    let hdr = vrrp_header(ctx, wire.vrrp_off)?;
    let ifindex = ctx.ingress_ifindex();
    let vrid = hdr[1];
    let vkey = crate::maps::vrid_key(ifindex, vrid, wire.family);
    // A reference into the map rather than a copy (the stack is 512 bytes): the agent may
    // rewrite the value meanwhile, and a copy could tear as well.
    let Some(state_ptr) = VRIDS.get_ptr(&vkey) else {
        crate::maps::bind_agent_map();
        return Err(counter::VRRP_PASS_UNKNOWN_VRID);
    };
    // SAFETY: a live value of a preallocated hash map, valid for this invocation.
    let state = unsafe { &*state_ptr };

    let version = hdr[0] >> 4;
    rx.version = version;
    rx.kind = hdr[0] & 0x0f;
    rx.priority = hdr[2];
    rx.naddr = hdr[3];
    rx.auth_type = if version == 2 { hdr[4] } else { 0 };
    rx.adver_int = if version == 2 {
        u16::from(hdr[5])
    } else {
        (u16::from(hdr[4] & 0x0f) << 8) | u16::from(hdr[5])
    };
    // Looked up below, once the fixed fields have passed.
    rx.peer_allowed = false;
    // The shared rule, part 1: TTL, version, type, length, own address (no lookup needed).
    rule::check_fixed(state, rx).map_err(rule::Reject::counter)?;
    let pkey = crate::maps::peer_key(ifindex, vrid, rx.src);
    // keepalived `unicast_peer`: only looked up when the instance has a peer list.
    rx.peer_allowed = state.flags & vrid_flags::UNICAST_PEERS != 0
        // SAFETY: existence check only.
        && unsafe { ALLOWED_PEERS.get(&pkey) }.is_some();
    // The shared rule, part 2: peer list, destination.
    rule::check_source(state, rx).map_err(rule::Reject::counter)?;
    // The PDU (without an `auth_hmac` trailer, which the rule accepted only for an instance
    // with that flag) and the kernel's own limit: the event carries at most MAX_VRRP_LEN bytes
    // of it, and the trailer after them.
    let pdu_len = rule::expected_len(wire.family, version, hdr[3]);
    if pdu_len > MAX_VRRP_LEN as u32 {
        return Err(counter::VRRP_DROP_LENGTH);
    }
    let signed = rx.len != pdu_len;

    let Some(ev) = SCRATCH.get_ptr_mut(0) else {
        return Err(counter::VRRP_DROP_SCRATCH);
    };
    // SAFETY: per-CPU scratch value, exclusively ours for this invocation.
    let evr = unsafe { &mut *ev };
    // `pdu_len` is a multiple of 4 in 8..=128 (checked above); restate that as arithmetic the
    // verifier tracks, so it sees 4 <= len <= 128 (a plain comparison loses the lower bound).
    let len = ((pdu_len - 4) & 0x7c) + 4;
    // SAFETY: `ev.vrrp` has MAX_ADVERT_LEN bytes and `len` is at most MAX_VRRP_LEN.
    let r = unsafe { ctx.load_bytes(wire.vrrp_off, evr.vrrp.as_mut_ptr().cast(), len) };
    if r != 0 {
        return Err(counter::VRRP_DROP_TRUNCATED);
    }
    if signed {
        // keepalived `auth_hmac`: the trailer goes to the agent, which verifies it.
        // SAFETY: `len` <= MAX_VRRP_LEN, so the 28 bytes end within MAX_ADVERT_LEN.
        let r = unsafe {
            ctx.load_bytes(
                wire.vrrp_off + len,
                evr.vrrp.as_mut_ptr().add(len as usize).cast(),
                AUTH_TRAILER_LEN as u32,
            )
        };
        if r != 0 {
            return Err(counter::VRRP_DROP_TRUNCATED);
        }
    }

    // The facts the rule's last part needs: the v2 password and the address digest, read from
    // the copy. The length check above (`len` == 8 + 4 * naddr [+ 8], or 8 + 16 * naddr) keeps
    // every read inside it; the constant loop bounds keep each index below MAX_VRRP_LEN for the
    // verifier.
    let naddr = usize::from(hdr[3]);
    if version == 2 && state.auth_type == auth_type::SIMPLE {
        let mut pass = [0u8; 8];
        let off = wire.vrrp_off + VRRP_HDR_LEN + naddr as u32 * 4;
        // SAFETY: `pass` is 8 bytes of stack. Loaded from the frame by the helper (runtime
        // bounds check): an index into the copy that depends on `naddr` is more than the
        // verifier can follow.
        let r = unsafe { ctx.load_bytes(off, pass.as_mut_ptr().cast(), 8) };
        if r != 0 {
            return Err(counter::VRRP_DROP_TRUNCATED);
        }
        rx.auth_data = pass;
    }
    if wire.family == addr_family::IPV6 {
        rx.addr_digest = digest6(&evr.vrrp, naddr);
    } else {
        let mut i = 0;
        while i < rule::MAX_ADDRESSES as usize {
            if i >= naddr {
                break;
            }
            // At most 8 + 29 * 4 = 124; the mask (a no-op on that range) is what lets the
            // compiler drop the bounds checks and the verifier see the offset below
            // MAX_VRRP_LEN - 3.
            let o = (VRRP_HDR_LEN as usize + i * 4) & 0x7c;
            let addr = [
                evr.vrrp[o],
                evr.vrrp[o + 1],
                evr.vrrp[o + 2],
                evr.vrrp[o + 3],
            ];
            rx.addr_digest = rx.addr_digest.wrapping_add(rule::addr_mix(v4_mapped(addr)));
            i += 1;
        }
    }
    // The shared rule, part 3: v2 authentication and interval, address list.
    rule::check_content(state, rx).map_err(rule::Reject::counter)?;
    evr.src = rx.src;
    evr.dst = rx.dst;
    evr.ttl = rx.ttl;
    evr.family = wire.family;
    Ok(Checked {
        grant_epoch: state.grant_epoch,
        local_priority: state.priority,
        local_addr: state.primary_addr,
        auth_hmac: rule::has_trailer_room(state),
        signed,
        pseudo_header: version == 3
            && (wire.family == addr_family::IPV6
                || state.flags & vrid_flags::V3_CHECKSUM_AS_V2 == 0),
        priority: rx.priority,
        version,
        adver_int: rx.adver_int,
        vkey,
        pkey,
        ev,
        len,
    })
}

/// [`rule::addr_digest`] of the `naddr` IPv6 addresses of the copied message `vrrp` (RFC 9568
/// 5.2.9: 16 bytes each after the 8-byte header), read as two 64-bit halves each.
#[inline(always)]
fn digest6(vrrp: &[u8; MAX_ADVERT_LEN], naddr: usize) -> u64 {
    let mut sum = 0u64;
    let mut i = 0;
    while i < rule::MAX_ADDRESSES6 as usize {
        if i >= naddr {
            break;
        }
        // At most 8 + 6 * 16 = 104, so the 16 bytes end inside the copy; the masks (no-ops on
        // that range) keep every index below MAX_VRRP_LEN for the compiler and the verifier.
        let o = VRRP_HDR_LEN as usize + i * 16;
        let (mut hi, mut lo) = (0u64, 0u64);
        let mut k = 0;
        while k < 8 {
            hi = (hi << 8) | u64::from(vrrp[(o + k) & 0x7f]);
            lo = (lo << 8) | u64::from(vrrp[(o + 8 + k) & 0x7f]);
            k += 1;
        }
        sum = sum.wrapping_add(rule::addr_mix_halves(hi, lo));
        i += 1;
    }
    sum
}

/// The end of every accepted path: the VRRP checksum (`seed` is the family's pseudo-header sum,
/// 0 for none), the peer record, the fast switch, and delivery through the ring buffer.
#[inline(always)]
pub(crate) fn deliver<C: Frame>(ctx: &C, c: &Checked, seed: u32) -> Result<Verdict, u32> {
    // SAFETY: the per-CPU scratch value `check` filled, exclusively ours for this invocation.
    let ev = unsafe { &mut *c.ev };
    let sum = csum::partial(ev.vrrp.as_ptr(), c.len, seed).ok_or(counter::VRRP_DROP_CHECKSUM)?;
    if csum::fold(u64::from(sum)) != 0xffff {
        return Err(counter::VRRP_DROP_CHECKSUM);
    }

    let priority = c.priority;
    // SAFETY: same clock as userspace CLOCK_MONOTONIC.
    let now = unsafe { bpf_ktime_get_ns() };
    // The peer's record is updated in place when it exists (one lookup; an LRU insert costs
    // as much again and this runs for every advert), inserted otherwise. A reader may see a
    // record half updated and two CPUs may lose an increment: it is a diagnostic record.
    if let Some(p) = PEERS.get_ptr_mut(&c.pkey) {
        // SAFETY: a live value of the map, valid for this invocation.
        unsafe {
            (*p).last_seen_ns = now;
            (*p).adverts += 1;
            (*p).adver_int = c.adver_int;
            (*p).priority = priority;
            (*p).version = c.version;
        }
    } else {
        let record = PeerRecord {
            last_seen_ns: now,
            adverts: 1,
            adver_int: c.adver_int,
            priority,
            version: c.version,
            pad: [0; 4],
        };
        // A full LRU evicts; a failure here only loses a diagnostic record.
        let _ = PEERS.insert(&c.pkey, &record, 0);
    }

    // Fast switch: the advert passed every check the state machine applies, so whether it ends
    // mastership is the shared RFC 9568 6.4.3 rule (`rule::fences` without re-running checks).
    // Not with `auth_hmac`: the HMAC is beyond the program, so the agent verifies and revokes.
    let mut flags = 0u16;
    if c.grant_epoch != 0
        && !c.auth_hmac
        && rule::preempts(c.local_priority, c.local_addr, priority, ev.src)
    {
        let fence = Fence {
            epoch: c.grant_epoch,
            at_ns: now,
            by_addr: ev.src,
            by_priority: priority,
            pad: [0; 7],
        };
        // One element replacement: atomic for every reader of FENCES.
        if FENCES.insert(&c.vkey, &fence, 0).is_ok() {
            flags |= event_flags::FENCED;
            count(counter::VRRP_FENCED);
        }
    }

    ev.ts_ns = now;
    ev.ifindex = c.vkey.ifindex;
    ev.vrrp_len = if c.signed {
        (c.len + AUTH_TRAILER_LEN as u32) as u16
    } else {
        c.len as u16
    };
    ev.tail = [0; 4];
    ev.flags = flags;
    ev.src_mac = match ptr_at::<EthHdr>(ctx, 0) {
        // SAFETY: bounds checked by ptr_at.
        Ok(eth) => unsafe { (*eth).src_addr },
        Err(()) => [0; 6],
    };
    // Valid but undeliverable: consumed and counted as lost, not as accepted.
    EVENTS
        .output(ev, 0)
        .map_err(|_| counter::VRRP_RINGBUF_FULL)?;
    count(counter::VRRP_ACCEPTED);
    Ok(Verdict::Drop)
}

/// RFC 791 3.1: the IPv4 header checksum of the header at `ip` (`ihl` bytes, 20..=60, a
/// multiple of 4). The usual 20-byte header is summed in place from the bounds-checked
/// [`Ipv4Hdr`]; a header with options is copied first (its length is only known at run time).
#[inline(always)]
fn ip_checksum<C: Frame>(ctx: &C, ip: &Ipv4Hdr, ihl: u32) -> Result<(), u32> {
    let sum = if ihl == 20 {
        {
            // SAFETY: `ip` is a bounds-checked 20-byte header of byte fields (alignment 1).
            csum::sum_words(unsafe { &*core::ptr::from_ref(ip).cast::<[u8; 20]>() })
        }
    } else {
        // `ihl` is a multiple of 4 in 24..=60: restated as arithmetic the verifier tracks.
        let ip_len = ((ihl - 4) & 0x3c) + 4;
        let mut iph = [0u8; IP_MAX_HDR];
        // SAFETY: `iph` has 60 bytes of stack and `ip_len` is at most that.
        let r = unsafe { ctx.load_bytes(EthHdr::LEN as u32, iph.as_mut_ptr().cast(), ip_len) };
        if r != 0 {
            return Err(counter::VRRP_DROP_TRUNCATED);
        }
        u64::from(csum::partial(iph.as_ptr(), ip_len, 0).ok_or(counter::VRRP_DROP_IP_CHECKSUM)?)
    };
    if csum::fold(sum) == 0xffff {
        Ok(())
    } else {
        Err(counter::VRRP_DROP_IP_CHECKSUM)
    }
}

/// The fixed VRRP header at `vrrp_off`: read in place when the IPv4 header has no options (a
/// constant offset the verifier checks once), else (options, or IPv6) copied by the helper.
#[inline(always)]
fn vrrp_header<C: Frame>(ctx: &C, vrrp_off: u32) -> Result<[u8; VRRP_HDR_LEN as usize], u32> {
    const PLAIN: usize = EthHdr::LEN + 20;
    if vrrp_off as usize == PLAIN {
        let p = ptr_at::<[u8; VRRP_HDR_LEN as usize]>(ctx, PLAIN)
            .map_err(|()| counter::VRRP_DROP_TRUNCATED)?;
        // SAFETY: bounds-checked by `ptr_at`.
        return Ok(unsafe { *p });
    }
    let mut hdr = [0u8; VRRP_HDR_LEN as usize];
    // SAFETY: `hdr` is 8 bytes of stack; the helper bounds-checks the frame itself.
    let r = unsafe { ctx.load_bytes(vrrp_off, hdr.as_mut_ptr().cast(), VRRP_HDR_LEN) };
    if r != 0 {
        return Err(counter::VRRP_DROP_TRUNCATED);
    }
    Ok(hdr)
}
