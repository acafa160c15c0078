//! The kernel/user ABI of havip: every map key and value, the ring-buffer event, map names,
//! capacities, counter indices and flag bits that the XDP program (`havip-ebpf`) and the agent
//! (`havip-agent`) share.
//!
//! Rules (see `ARCHITECTURE.md`):
//! - `#[repr(C)]`, fixed-width integers and byte arrays only, padding spelled out as fields, and a
//!   `const` size assertion beside every struct, so both sides agree byte for byte.
//! - No Rust `enum` or `bool` is ever built from map or packet bytes: states and reasons are integer
//!   constants, flags are bit masks.
//! - Addresses in the per-instance tables are [`Addr`]s: 16 bytes in network order, an IPv6
//!   address as on the wire and an IPv4 address IPv4-mapped (`::ffff:a.b.c.d`, RFC 4291 2.5.5.2,
//!   [`v4_mapped`]), so that one rule compares both families and the numeric order of two IPv4
//!   addresses (the RFC 9568 6.4.3 tie-break) is the order of their mapped forms. The family of
//!   an instance is part of its [`VridKey`] (an IPv4 and an IPv6 instance may share a VRID on
//!   one interface, RFC 9568 5.2.3). The IPv4 VIP table keeps 4-byte keys.
//!
//! # Ownership, lease and fence
//! A VIP is answered by this node only while its VRID's [`VridState`] says so *and* the lease has
//! not run out *and* the kernel has not fenced that grant:
//!
//! ```text
//! owned(now) = state.grant_epoch != 0
//!           && now < state.lease_until_ns           (bpf_ktime_get_ns == CLOCK_MONOTONIC)
//!           && fence.epoch != state.grant_epoch     (fence absent counts as "not fenced")
//! ```
//!
//! The agent writes [`VridState`] (grant = new epoch + lease, renew = same epoch + later lease,
//! revoke = epoch 0). The kernel writes only [`Fence`]: when a valid advert must end this node's
//! ownership it records the current grant epoch there, in the same XDP invocation. A lease renewal
//! that races with the fence keeps the epoch, so it cannot bring ownership back; only a new grant
//! (a new election won by the agent) can.

#![no_std]

use core::mem::size_of;

/// Map names, as the XDP object defines them and the agent looks them up.
pub mod map_names {
    /// [`crate::VipKey`] -> [`crate::VipEntry`].
    pub const VIPS: &str = "HAVIP_VIPS";
    /// [`crate::VridKey`] -> [`crate::VridState`], written by the agent.
    pub const VRIDS: &str = "HAVIP_VRIDS";
    /// [`crate::VridKey`] -> [`crate::Fence`], written by the kernel on fast switch.
    pub const FENCES: &str = "HAVIP_FENCES";
    /// [`crate::PeerKey`] -> `u32` (1 = allowed): unicast peers per VRID.
    pub const ALLOWED_PEERS: &str = "HAVIP_ALLOWED_PEERS";
    /// [`crate::PeerKey`] -> [`crate::PeerRecord`] (LRU): last advert seen from each peer.
    pub const PEERS: &str = "HAVIP_PEERS";
    /// Per-CPU array of `u64`, indexed by [`crate::counter`].
    pub const COUNTERS: &str = "HAVIP_COUNTERS";
    /// Per-CPU array of [`crate::VipCounters`], indexed by [`crate::VipEntry::stat_slot`].
    pub const VIP_COUNTERS: &str = "HAVIP_VIP_COUNTERS";
    /// Ring buffer of [`crate::AdvertEvent`].
    pub const EVENTS: &str = "HAVIP_EVENTS";
    /// [`crate::VridKey`] -> [`crate::AgentRecord`]: what the agent must find again after a
    /// restart; key [`crate::AGENT_HEADER_KEY`] holds the [`crate::ABI_VERSION`] of its writer.
    pub const AGENT: &str = "HAVIP_AGENT";
    /// [`crate::Vip6Key`] -> [`crate::VipEntry`]: the IPv6 VIPs, whose Neighbor Solicitations the
    /// program answers (sized and slotted with [`VIPS`]: one counter slot space for both).
    pub const VIPS6: &str = "HAVIP_VIPS6";
    /// [`crate::BfdPeerKey`] -> [`crate::BfdPeer`], written by the agent: the BFD sessions'
    /// neighbors, whose Control packets the program validates and whose Echo packets it
    /// reflects.
    pub const BFD_PEERS: &str = "HAVIP_BFD_PEERS";
    /// [`crate::BfdPeerKey`] -> [`crate::BfdRx`], written by the kernel only: when the last valid
    /// Control packet of each neighbor arrived.
    pub const BFD_RX: &str = "HAVIP_BFD_RX";
}

/// The XDP program's name in the object file.
pub const XDP_PROGRAM: &str = "havip_xdp";

/// A pass-everything XDP program in the same object (veth peers in driver mode, benchmark baseline).
pub const PASS_PROGRAM: &str = "havip_pass";
/// Name of the program that returns `XDP_TX` for every frame, untouched: never attached, the
/// baseline of the reply path in live-frames benchmarks (an `XDP_PASS` baseline would be charged
/// the trip up the stack).
pub const TX_PROGRAM: &str = "havip_tx";
/// The tc classifier's name in the object file: the same logic as [`XDP_PROGRAM`] on tc ingress
/// (the agent's `tc` data plane mode; attached through tcx, or `cls_bpf` before Linux 6.6).
pub const TC_PROGRAM: &str = "havip_tc";
/// A tc classifier that passes everything: never attached, the empty baseline of [`TC_PROGRAM`]
/// in benchmarks.
pub const TC_PASS_PROGRAM: &str = "havip_tc_pass";

/// Map capacities.
///
/// The object file declares the tables at their minimum sizes below; the agent resizes each
/// table that grows with the configuration when it loads the object (`max_entries` set before
/// the maps are created): twice what the configuration needs, for reloads, never below the
/// minimum and never above the `MAX_*` limit. A configuration that needs more than a `MAX_*`
/// limit is refused by `check-config`. The kernel lets any hash, LRU hash or array size up to
/// these limits, so no rounding is needed (the ring buffer, which must be a power-of-two
/// number of pages, does not grow with the configuration).
pub mod capacity {
    /// VIP table entries (all interfaces): minimum (the object's declared size).
    pub const VIPS: u32 = 1024;
    /// VRRP instances (interface, VRID) on this node: minimum.
    pub const VRIDS: u32 = 256;
    /// Unicast peers over all instances: minimum.
    pub const ALLOWED_PEERS: u32 = 1024;
    /// Peer records kept (LRU): minimum.
    pub const PEERS: u32 = 1024;
    /// Per-VIP counter slots; always sized like the VIP table.
    pub const VIP_COUNTERS: u32 = VIPS;
    /// Ring buffer size in bytes (a power of two and a multiple of the page size).
    pub const EVENTS_BYTES: u32 = 256 * 1024;

    /// Most VIP table entries (and per-VIP counter slots). The counters are a per-CPU array of
    /// 32-byte values, so this bounds them to 512 KiB per possible CPU.
    pub const MAX_VIPS: u32 = 16_384;
    /// Most VRRP instances: 255 VRIDs on each of 16 interfaces.
    pub const MAX_VRIDS: u32 = 16 * 255;
    /// Most unicast peers over all instances.
    pub const MAX_ALLOWED_PEERS: u32 = 65_536;
    /// Most peer records kept (LRU; 36 bytes of key and value each).
    pub const MAX_PEERS: u32 = 65_536;
    /// BFD neighbors ([`crate::map_names::BFD_PEERS`] and [`crate::map_names::BFD_RX`]): a fixed
    /// size, not resized with the configuration (`check-config` refuses more `[bfd.NAME]`).
    pub const BFD_PEERS: u32 = 256;
}

pub mod counter;
pub mod rule;

/// An address in the per-instance tables: IPv6 as on the wire, IPv4 as [`v4_mapped`].
pub type Addr = [u8; 16];

/// Values of [`VridKey::family`], [`VridState::family`], [`VipEntry::vrid_family`] and
/// [`AdvertEvent::family`]: the address family of a VRRP instance (not a Rust `enum` in map
/// bytes).
pub mod addr_family {
    /// An IPv4 instance (adverts in IPv4, protocol 112).
    pub const IPV4: u8 = 4;
    /// An IPv6 instance (adverts in IPv6, next header 112).
    pub const IPV6: u8 = 6;
}

/// `a` as an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`, RFC 4291 2.5.5.2).
pub const fn v4_mapped(a: [u8; 4]) -> Addr {
    [
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, a[0], a[1], a[2], a[3],
    ]
}

/// Key of the VIP table: the VIP on one interface.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct VipKey {
    /// Interface index the XDP program runs on.
    pub ifindex: u32,
    /// The VIP, network order.
    pub addr: [u8; 4],
}
const _: () = assert!(size_of::<VipKey>() == 8);

/// Key of the IPv6 VIP table ([`map_names::VIPS6`]): the VIP on one interface. A table of its
/// own rather than a widened [`VipKey`], so the IPv4 ARP path keeps its 8-byte key and hash.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Vip6Key {
    /// Interface index the XDP program runs on.
    pub ifindex: u32,
    /// The IPv6 VIP, network order.
    pub addr: [u8; 16],
}
const _: () = assert!(size_of::<Vip6Key>() == 20);

/// Value of the VIP table.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct VipEntry {
    /// The MAC address the ARP reply carries (the interface's, or a virtual MAC).
    pub mac: [u8; 6],
    /// The VRID whose ownership decides whether this VIP is answered.
    pub vrid: u8,
    /// The [`addr_family`] of the instance that owns the VIP (part of its [`VridKey`]): an
    /// IPv6 VIP is normally owned by an IPv6 instance, but keepalived's
    /// `virtual_ipaddress_excluded` lets an instance own addresses of the other family.
    pub vrid_family: u8,
    /// Index into [`map_names::VIP_COUNTERS`]; below that map's size as loaded (at least
    /// [`capacity::VIP_COUNTERS`], sized like the VIP table).
    pub stat_slot: u32,
    /// The interface whose [`VridKey`] (with [`Self::vrid`]) holds the grant, lease and fence
    /// that decide this VIP. It differs from the key's interface for a VIP with `dev OTHER`:
    /// the VIP is answered on `OTHER`, but owned by the instance on its own interface.
    pub vrid_ifindex: u32,
}
const _: () = assert!(size_of::<VipEntry>() == 16);

/// Key of the per-(interface, VRID) maps.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct VridKey {
    /// Interface index.
    pub ifindex: u32,
    /// Virtual router id, 1..=255.
    pub vrid: u8,
    /// [`addr_family`] of the instance (0 only in [`AGENT_HEADER_KEY`]).
    pub family: u8,
    /// Explicit padding; always zero.
    pub pad: [u8; 2],
}
const _: () = assert!(size_of::<VridKey>() == 8);

impl VridKey {
    /// The key for the `family` instance `vrid` on `ifindex`, padding zeroed.
    pub const fn new(ifindex: u32, vrid: u8, family: u8) -> Self {
        Self {
            ifindex,
            vrid,
            family,
            pad: [0; 2],
        }
    }
}

/// Bits of [`VridState::flags`].
pub mod vrid_flags {
    /// Adverts must come from an address in [`crate::map_names::ALLOWED_PEERS`].
    pub const UNICAST_PEERS: u8 = 1 << 0;
    /// v3 checksum is computed without the pseudo-header (keepalived `v3_checksum_as_v2`).
    pub const V3_CHECKSUM_AS_V2: u8 = 1 << 1;
    /// The instance has keepalived's `auth_hmac`: an advert may carry the 28-byte trailer
    /// ([`crate::AUTH_TRAILER_LEN`]) after the PDU, and the kernel, which cannot compute
    /// HMAC-SHA256, never fences on it. The agent verifies the trailer and ends ownership
    /// through [`crate::VridState`] like on any transition.
    pub const AUTH_HMAC: u8 = 1 << 2;
}

/// Authentication types (RFC 3768 5.3.6; v3 has none).
pub mod auth_type {
    /// No authentication.
    pub const NONE: u8 = 0;
    /// Simple text password, 8 octets, zero padded (keepalived `auth_type PASS`).
    pub const SIMPLE: u8 = 1;
}

/// Per-(interface, VRID) state written by the agent: ownership grant, lease, and what the kernel
/// needs to validate adverts and decide a fast switch. The same value is the "local" side of
/// [`rule::check_advert`] in the agent's state machine, so both sides check against the same
/// facts.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct VridState {
    /// `CLOCK_MONOTONIC` ns until which the grant is valid; renewed with every advert sent.
    pub lease_until_ns: u64,
    /// Nonzero while this node holds a grant; a new value for every new grant.
    pub grant_epoch: u64,
    /// [`rule::addr_digest`] of this instance's virtual addresses.
    pub addr_digest: u64,
    /// This node's primary address on the interface (tie-break, loop detection, unicast
    /// destination): IPv4 mapped, or IPv6 (the link-local address or `unicast_src_ip`).
    pub primary_addr: Addr,
    /// The priority this node currently advertises (effective priority).
    pub priority: u8,
    /// VRRP version for this instance: 2 or 3.
    pub version: u8,
    /// [`vrid_flags`] bits.
    pub flags: u8,
    /// [`auth_type`] value (v2 only).
    pub auth_type: u8,
    /// Authentication data (v2 simple password), zero padded.
    pub auth_data: [u8; 8],
    /// The configured advert interval as on the wire: v2 seconds, v3 centiseconds.
    pub adver_int: u16,
    /// Number of virtual addresses (the adverts' Count field must match).
    pub naddr: u8,
    /// [`addr_family`] of the instance: the adverts' IP version, address size and group.
    pub family: u8,
    /// Explicit padding; room for later fields.
    pub pad: [u8; 8],
}
const _: () = assert!(size_of::<VridState>() == 64);

impl VridState {
    /// Whether the grant is valid at `now_ns` given the kernel's fence epoch (0 = none).
    pub const fn owned_at(&self, now_ns: u64, fence_epoch: u64) -> bool {
        self.grant_epoch != 0 && now_ns < self.lease_until_ns && fence_epoch != self.grant_epoch
    }
}

/// Written by the kernel only: the grant epoch it fenced on a fast switch, and why.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Fence {
    /// The fenced [`VridState::grant_epoch`].
    pub epoch: u64,
    /// When (`CLOCK_MONOTONIC` ns).
    pub at_ns: u64,
    /// Source of the advert that fenced us ([`Addr`]).
    pub by_addr: Addr,
    /// Its priority.
    pub by_priority: u8,
    /// Explicit padding.
    pub pad: [u8; 7],
}
const _: () = assert!(size_of::<Fence>() == 40);

/// Key of the peer tables: one address for one (interface, VRID).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct PeerKey {
    /// Interface index.
    pub ifindex: u32,
    /// Virtual router id.
    pub vrid: u8,
    /// Explicit padding; always zero.
    pub pad: [u8; 3],
    /// Peer address ([`Addr`]; the family tells IPv4 and IPv6 peers of one VRID apart).
    pub addr: Addr,
}
const _: () = assert!(size_of::<PeerKey>() == 24);

/// The last valid advert seen from one peer (kernel-written).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct PeerRecord {
    /// `CLOCK_MONOTONIC` ns of the last advert.
    pub last_seen_ns: u64,
    /// Valid adverts seen from this peer.
    pub adverts: u64,
    /// Advertised interval as on the wire: v3 centiseconds, v2 seconds.
    pub adver_int: u16,
    /// Advertised priority.
    pub priority: u8,
    /// VRRP version.
    pub version: u8,
    /// Explicit padding.
    pub pad: [u8; 4],
}
const _: () = assert!(size_of::<PeerRecord>() == 24);

/// Per-VIP counters (per CPU), indexed by [`VipEntry::stat_slot`].
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct VipCounters {
    /// ARP requests (IPv4 VIP) or Neighbor Solicitations (IPv6 VIP) answered.
    pub replied: u64,
    /// ARP requests or Neighbor Solicitations dropped: not owned.
    pub dropped_not_owned: u64,
    /// ARP requests or Neighbor Solicitations dropped: lease expired.
    pub dropped_lease_expired: u64,
    /// ARP requests or Neighbor Solicitations dropped: fenced.
    pub dropped_fenced: u64,
}
const _: () = assert!(size_of::<VipCounters>() == 32);

/// Bits of [`AdvertEvent::flags`].
pub mod event_flags {
    /// The kernel fenced this node's grant while handling this advert.
    pub const FENCED: u16 = 1 << 0;
}

/// Largest VRRP message (the PDU, without an `auth_hmac` trailer) the kernel accepts and copies
/// into an event: 8-byte header, 8-byte v2 auth, and up to 28 IPv4 addresses (30 for v3), or 7
/// IPv6 addresses. Longer adverts are dropped as [`counter::VRRP_DROP_LENGTH`]; it bounds the
/// VIPs of an instance.
pub const MAX_VRRP_LEN: usize = 128;

/// Size of keepalived 2.4's `auth_hmac` trailer after the PDU (key id, sequence, HMAC-SHA256/128;
/// keepalived extension, not RFC 9568). Accepted only with [`vrid_flags::AUTH_HMAC`].
pub const AUTH_TRAILER_LEN: usize = 28;

/// Bytes of an event's [`AdvertEvent::vrrp`]: the largest PDU and its `auth_hmac` trailer, so the
/// agent gets the whole signed advert through the ring buffer.
pub const MAX_ADVERT_LEN: usize = MAX_VRRP_LEN + AUTH_TRAILER_LEN;

/// A valid advert delivered to the agent through the ring buffer. `vrrp[..vrrp_len]` is the VRRP
/// message exactly as received, with its `auth_hmac` trailer if it has one (the agent verifies
/// that and decodes the PDU again with the full codec).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AdvertEvent {
    /// `CLOCK_MONOTONIC` ns at reception.
    pub ts_ns: u64,
    /// Interface index it arrived on.
    pub ifindex: u32,
    /// IP source ([`Addr`]).
    pub src: Addr,
    /// IP destination ([`Addr`]).
    pub dst: Addr,
    /// Bytes of `vrrp` that are valid.
    pub vrrp_len: u16,
    /// [`event_flags`] bits.
    pub flags: u16,
    /// IPv4 TTL or IPv6 hop limit as received (always 255 for accepted adverts).
    pub ttl: u8,
    /// Ethernet source of the frame (the sender's MAC, to reach it without ARP).
    pub src_mac: [u8; 6],
    /// [`addr_family`] of the advert (and of the instance it was validated for).
    pub family: u8,
    /// The VRRP message, then the trailer if any.
    pub vrrp: [u8; MAX_ADVERT_LEN],
    /// Explicit padding to the struct's 8-byte alignment.
    pub tail: [u8; 4],
}
const _: () = assert!(size_of::<AdvertEvent>() == 56 + MAX_ADVERT_LEN + 4);

/// IP protocol number of VRRP (RFC 9568 5.1.1.4).
pub const IPPROTO_VRRP: u8 = 112;

/// Version of this ABI (map layouts, key and value types, flag meanings). A restarted agent
/// adopts a running program and its maps only if their [`AGENT_HEADER_KEY`] record carries the
/// same number; bump it with any change a running program and a new agent could disagree on.
///
/// 2: the IPv6 VIP table ([`map_names::VIPS6`]) and the NDP counters.
/// 3: IPv6 instances: 16-byte [`Addr`]s in [`VridState`], [`Fence`], [`PeerKey`],
/// [`AdvertEvent`] and [`AgentRecord`]; the family in [`VridKey`], [`VridState`] and
/// [`VipEntry`]; [`vrid_flags::AUTH_HMAC`] and the trailer in [`AdvertEvent::vrrp`]
/// ([`MAX_ADVERT_LEN`]); the BFD tables ([`map_names::BFD_PEERS`], [`map_names::BFD_RX`]) and
/// the BFD counters.
pub const ABI_VERSION: u32 = 3;

/// Key of the header record in [`map_names::AGENT`]: interface 0 and VRID 0 name no instance.
/// In the header, `learned_interval_ns` holds a digest of the XDP object the running program
/// was built from (0: not recorded), so that a new binary knows whether its program differs.
pub const AGENT_HEADER_KEY: VridKey = VridKey::new(0, 0, 0);

/// Declared entries of [`map_names::AGENT`]: one per instance plus the header (the agent sizes it
/// with the VRID table at load, like the other configuration-sized tables).
pub const AGENT_RECORDS: u32 = capacity::VRIDS + 1;

/// Values of [`AgentRecord::state`] (keepalived's states; not a Rust `enum` in map bytes).
pub mod agent_state {
    /// Not running (also the header record).
    pub const INIT: u8 = 0;
    /// Backup.
    pub const BACKUP: u8 = 1;
    /// Master.
    pub const MASTER: u8 = 2;
    /// Fault.
    pub const FAULT: u8 = 3;
}

/// What the agent keeps about one instance so that its successor can resume it (written by the
/// agent on every change, never by the kernel; the program only references the map so that it
/// is listed among the program's maps, where a restarted agent finds it by id).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct AgentRecord {
    /// [`ABI_VERSION`] of the agent that wrote it.
    pub abi_version: u32,
    /// [`agent_state`] value.
    pub state: u8,
    /// Effective priority at the time of writing.
    pub priority: u8,
    /// Priority of [`Self::master_addr`] (0 when no master is known).
    pub master_priority: u8,
    /// Explicit padding.
    pub pad: u8,
    /// The current master's primary address ([`Addr`]; all zero when unknown).
    pub master_addr: Addr,
    /// `Master_Adver_Interval` in nanoseconds (learned from the master in v3).
    pub learned_interval_ns: u64,
    /// `CLOCK_MONOTONIC` ns of the write.
    pub updated_ns: u64,
}
const _: () = assert!(size_of::<AgentRecord>() == 40);

/// Key of the BFD tables: one neighbor (RFC 5881 single hop, so one address names it).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct BfdPeerKey {
    /// The neighbor's IPv4 address, network order (the source of its packets).
    pub addr: [u8; 4],
}
const _: () = assert!(size_of::<BfdPeerKey>() == 4);

/// Bits of [`BfdPeer::flags`].
pub mod bfd_flags {
    /// Reflect this neighbor's Echo packets (RFC 5880 6.4, RFC 5881 4: UDP 3785) with
    /// `XDP_TX`.
    pub const ECHO: u8 = 1 << 0;
}

/// One BFD session as the kernel checks its Control packets (agent-written, one whole-value
/// write per change).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct BfdPeer {
    /// `bfd.LocalDiscr` of the session: a packet whose Your Discriminator is neither 0 nor this
    /// value is for no session of ours (RFC 5880 6.8.6).
    pub local_discr: u32,
    /// Lowest IPv4 TTL accepted: 255 (RFC 5881 5, GTSM) less keepalived's `max_hops`; 0 turns
    /// the check off.
    pub min_ttl: u8,
    /// [`bfd_flags`] bits.
    pub flags: u8,
    /// Explicit padding.
    pub pad: [u8; 2],
}
const _: () = assert!(size_of::<BfdPeer>() == 8);

/// The last valid Control packet of one neighbor (kernel-written).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct BfdRx {
    /// `CLOCK_MONOTONIC` ns (`bpf_ktime_get_ns`) at which the program saw it.
    pub last_rx_ns: u64,
    /// Valid Control packets seen from this neighbor.
    pub packets: u64,
    /// Echo packets of this neighbor reflected.
    pub echoes: u64,
}
const _: () = assert!(size_of::<BfdRx>() == 24);

#[cfg(feature = "user")]
mod pod {
    // SAFETY: every type below is `#[repr(C)]`, made only of integers and byte arrays, with all
    // padding spelled out as fields, so any bit pattern is valid and there are no holes.
    unsafe impl aya::Pod for super::VipKey {}
    unsafe impl aya::Pod for super::Vip6Key {}
    unsafe impl aya::Pod for super::VipEntry {}
    unsafe impl aya::Pod for super::VridKey {}
    unsafe impl aya::Pod for super::VridState {}
    unsafe impl aya::Pod for super::Fence {}
    unsafe impl aya::Pod for super::PeerKey {}
    unsafe impl aya::Pod for super::PeerRecord {}
    unsafe impl aya::Pod for super::VipCounters {}
    unsafe impl aya::Pod for super::AdvertEvent {}
    unsafe impl aya::Pod for super::AgentRecord {}
    unsafe impl aya::Pod for super::BfdPeerKey {}
    unsafe impl aya::Pod for super::BfdPeer {}
    unsafe impl aya::Pod for super::BfdRx {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ownership_needs_epoch_lease_and_no_fence() {
        let s = VridState {
            lease_until_ns: 1_000,
            grant_epoch: 7,
            ..VridState::default()
        };
        assert!(s.owned_at(999, 0));
        assert!(!s.owned_at(1_000, 0), "lease boundary is exclusive");
        assert!(!s.owned_at(10, 7), "fenced grant");
        assert!(s.owned_at(10, 6), "fence of an older grant does not apply");
        let revoked = VridState {
            grant_epoch: 0,
            ..s
        };
        assert!(!revoked.owned_at(10, 0));
    }

    #[test]
    fn counter_names_are_unique() {
        for (i, a) in counter::NAMES.iter().enumerate() {
            for b in &counter::NAMES[i + 1..] {
                assert_ne!(a, b);
            }
        }
    }

    #[test]
    fn every_advert_a_u8_count_can_describe_fits_the_event_or_is_refused() {
        // The kernel refuses an advert longer than MAX_VRRP_LEN as `length`: the rule's bound on
        // the address count agrees with it.
        let v4 = addr_family::IPV4;
        assert_eq!(
            usize::try_from(rule::expected_len(v4, 3, 30)),
            Ok(MAX_VRRP_LEN)
        );
        assert_eq!(
            usize::try_from(rule::expected_len(v4, 2, 28)),
            Ok(MAX_VRRP_LEN)
        );
        assert_eq!(rule::MAX_ADDRESSES, 30);
        let v6 = addr_family::IPV6;
        assert!(rule::expected_len(v6, 3, rule::MAX_ADDRESSES6) as usize <= MAX_VRRP_LEN);
        assert!(rule::expected_len(v6, 3, rule::MAX_ADDRESSES6 + 1) as usize > MAX_VRRP_LEN);
    }
}
