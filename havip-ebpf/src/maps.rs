//! The maps the program shares with the agent (names and layouts from `havip-common`), and the
//! counter helpers.

use aya_ebpf::{
    macros::map,
    maps::{HashMap, LruHashMap, PerCpuArray, RingBuf},
};
use havip_common::{
    Addr, AdvertEvent, AgentRecord, BfdPeer, BfdPeerKey, BfdRx, Fence, PeerKey, PeerRecord,
    Vip6Key, VipCounters, VipEntry, VipKey, VridKey, VridState, capacity,
};

#[map(name = "HAVIP_VIPS")]
pub(crate) static VIPS: HashMap<VipKey, VipEntry> = HashMap::with_max_entries(capacity::VIPS, 0);

/// The IPv6 VIPs (Neighbor Solicitations answered by `ndp.rs`), sized like [`VIPS`].
#[map(name = "HAVIP_VIPS6")]
pub(crate) static VIPS6: HashMap<Vip6Key, VipEntry> = HashMap::with_max_entries(capacity::VIPS, 0);

/// The BFD sessions' neighbors (agent-written; `bfd.rs`).
#[map(name = "HAVIP_BFD_PEERS")]
pub(crate) static BFD_PEERS: HashMap<BfdPeerKey, BfdPeer> =
    HashMap::with_max_entries(capacity::BFD_PEERS, 0);

/// When each neighbor's last valid Control packet arrived (kernel-written; `bfd.rs`).
#[map(name = "HAVIP_BFD_RX")]
pub(crate) static BFD_RX: HashMap<BfdPeerKey, BfdRx> =
    HashMap::with_max_entries(capacity::BFD_PEERS, 0);

#[map(name = "HAVIP_VRIDS")]
pub(crate) static VRIDS: HashMap<VridKey, VridState> =
    HashMap::with_max_entries(capacity::VRIDS, 0);

#[map(name = "HAVIP_FENCES")]
pub(crate) static FENCES: HashMap<VridKey, Fence> = HashMap::with_max_entries(capacity::VRIDS, 0);

#[map(name = "HAVIP_ALLOWED_PEERS")]
pub(crate) static ALLOWED_PEERS: HashMap<PeerKey, u32> =
    HashMap::with_max_entries(capacity::ALLOWED_PEERS, 0);

#[map(name = "HAVIP_PEERS")]
pub(crate) static PEERS: LruHashMap<PeerKey, PeerRecord> =
    LruHashMap::with_max_entries(capacity::PEERS, 0);

#[map(name = "HAVIP_COUNTERS")]
static COUNTERS: PerCpuArray<u64> = PerCpuArray::with_max_entries(havip_common::counter::COUNT, 0);

#[map(name = "HAVIP_VIP_COUNTERS")]
pub(crate) static VIP_COUNTERS: PerCpuArray<VipCounters> =
    PerCpuArray::with_max_entries(capacity::VIP_COUNTERS, 0);

#[map(name = "HAVIP_EVENTS")]
pub(crate) static EVENTS: RingBuf = RingBuf::with_byte_size(capacity::EVENTS_BYTES, 0);

/// The agent's per-instance records (and the ABI header). The program never reads them for a
/// decision; see [`bind_agent_map`].
#[map(name = "HAVIP_AGENT")]
pub(crate) static AGENT: HashMap<VridKey, AgentRecord> =
    HashMap::with_max_entries(havip_common::AGENT_RECORDS, 0);

/// Makes [`AGENT`] one of the program's maps: the kernel lists only the maps a program's code
/// references among its map ids, and that list is how a restarted agent finds the map by id
/// without a bpffs. Called on a rare path (advert for an unknown VRID); the lookup is discarded.
#[inline(always)]
pub(crate) fn bind_agent_map() {
    // SAFETY: read-only lookup; the value is not dereferenced.
    let found = unsafe { AGENT.get(&havip_common::AGENT_HEADER_KEY) }.is_some();
    core::hint::black_box(found);
}

/// Per-CPU scratch space for building an [`AdvertEvent`] (too large for the 512-byte stack along
/// with everything else).
#[map(name = "HAVIP_SCRATCH")]
pub(crate) static SCRATCH: PerCpuArray<AdvertEvent> = PerCpuArray::with_max_entries(1, 0);

/// Per-CPU scratch for the shared rule's view of the advert being checked
/// ([`havip_common::rule::Received`]): off the 512-byte stack, which the IPv4 and IPv6 advert
/// paths, inlined into one function, would exceed. Never read by the agent.
#[map(name = "HAVIP_SCRATCH_RX")]
pub(crate) static SCRATCH_RX: PerCpuArray<havip_common::rule::Received> =
    PerCpuArray::with_max_entries(1, 0);

/// Increments global counter `index` on this CPU.
#[inline(always)]
pub(crate) fn count(index: u32) {
    if let Some(c) = COUNTERS.get_ptr_mut(index) {
        // SAFETY: per-CPU slot, valid for the map's lifetime; no other writer on this CPU while
        // this program runs (XDP is not preempted by itself).
        unsafe { *c += 1 };
    }
}

/// Per-VIP counter fields.
#[derive(Clone, Copy)]
pub(crate) enum VipStat {
    Replied,
    NotOwned,
    LeaseExpired,
    Fenced,
}

/// Increments one per-VIP counter on this CPU.
#[inline(always)]
pub(crate) fn count_vip(slot: u32, stat: VipStat) {
    if let Some(c) = VIP_COUNTERS.get_ptr_mut(slot) {
        // SAFETY: as in `count`.
        unsafe {
            match stat {
                VipStat::Replied => (*c).replied += 1,
                VipStat::NotOwned => (*c).dropped_not_owned += 1,
                VipStat::LeaseExpired => (*c).dropped_lease_expired += 1,
                VipStat::Fenced => (*c).dropped_fenced += 1,
            }
        }
    }
}

/// [`VridKey::new`] without the byte-wise `memset` the BPF backend emits for the 2-byte padding:
/// the key is one little-endian `u64` (ifindex, vrid, family, zero padding; layout asserted in
/// `havip-common`).
#[inline(always)]
pub(crate) fn vrid_key(ifindex: u32, vrid: u8, family: u8) -> VridKey {
    let raw = u64::from(ifindex) | (u64::from(vrid) << 32) | (u64::from(family) << 40);
    // SAFETY: `VridKey` is `repr(C)`, 8 bytes, all integer fields: every bit pattern is valid,
    // and on the little-endian BPF target these bytes are ifindex, vrid, family, then zeros.
    unsafe { core::mem::transmute::<u64, VridKey>(raw) }
}

/// The [`PeerKey`] of `addr` for `vrid` on `ifindex`, built from `u32`s like [`vrid_key`]: a
/// literal `pad: [0; 3]` becomes a call to a byte-wise `memset` subprogram.
#[inline(always)]
pub(crate) fn peer_key(ifindex: u32, vrid: u8, addr: Addr) -> PeerKey {
    let w = |i: usize| u32::from_ne_bytes([addr[i], addr[i + 1], addr[i + 2], addr[i + 3]]);
    let raw = [ifindex, u32::from(vrid), w(0), w(4), w(8), w(12)];
    // SAFETY: `PeerKey` is `repr(C)`, 24 bytes, all integer fields: every bit pattern is valid,
    // and on the little-endian BPF target these bytes are ifindex, vrid and three zero bytes of
    // padding, then the address as it was.
    unsafe { core::mem::transmute::<[u32; 6], PeerKey>(raw) }
}
