//! The typed API over the XDP program's maps.
//!
//! The agent is the only writer of the VIP table, the VRID states and the peer list, so it keeps a
//! shadow copy of each VRID state and every write is one whole-value map update: atomic for the
//! XDP program, which sees either the old or the new value. Ownership order (ARCHITECTURE.md):
//! resign = [`Dataplane::revoke`] before removing addresses; take over = [`Dataplane::grant`]
//! before adding addresses and sending gratuitous ARP.

use std::{
    collections::HashMap as StdHashMap,
    net::{IpAddr, Ipv4Addr},
    os::fd::AsFd as _,
    time::Duration,
};

use aya::{
    Ebpf, EbpfLoader,
    maps::{HashMap, MapData, PerCpuArray, RingBuf},
    programs::{ProgramFd, Xdp},
};
use havip_common::{
    ABI_VERSION, AGENT_HEADER_KEY, AgentRecord, BfdPeer, BfdPeerKey, BfdRx, Fence, PASS_PROGRAM,
    PeerKey, PeerRecord, TC_PROGRAM, TX_PROGRAM, Vip6Key, VipCounters, VipEntry, VipKey, VridKey,
    VridState, XDP_PROGRAM, counter, map_names,
};
use tracing::{debug, info, warn};

pub use crate::vrrp::rule::VridConfig;

use super::{
    AttachMode, Attached, DataplaneError, DataplaneMode, EBPF_OBJECT,
    adopt::{self, Found, Refusal},
    attach::{attach, attach_fd, detach, detach_fd},
    reader::{self, MapReader},
    sizing::MapSizes,
    vrid::Vrid,
};
use crate::{
    clock::monotonic_ns,
    vrrp::rule::{abi_addr, family_of, ip_from_abi},
};

mod hooks;
mod upgrade;
mod vip6;
mod vip_table;
pub use upgrade::object_digest;

/// Global counters summed over CPUs, indexed like `havip_common::counter`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Counters(pub [u64; counter::COUNT as usize]);

impl Counters {
    /// The value of counter `index`.
    #[must_use]
    pub fn get(&self, index: u32) -> u64 {
        self.0.get(index as usize).copied().unwrap_or(0)
    }

    /// `(name, value)` for every counter.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        counter::NAMES.iter().copied().zip(self.0.iter().copied())
    }
}

/// The loaded XDP program and its maps.
pub struct Dataplane {
    /// The object this agent loaded; `None` when it adopted a running program instead.
    ebpf: Option<Ebpf>,
    /// The havip program a previous agent left attached, when adopted.
    adopted: Option<AdoptedProgram>,
    /// The hook [`Self::attach`] uses (see `hooks`).
    choice: DataplaneMode,
    /// tc mode through `cls_bpf` even where tcx exists.
    force_cls_bpf: bool,
    /// The agent's per-instance records and the ABI header.
    agent: HashMap<MapData, VridKey, AgentRecord>,
    vips: HashMap<MapData, VipKey, VipEntry>,
    /// The IPv6 VIP table; its entries take counter slots from the same free list.
    vips6: HashMap<MapData, Vip6Key, VipEntry>,
    vrids: HashMap<MapData, VridKey, VridState>,
    fences: HashMap<MapData, VridKey, Fence>,
    allowed: HashMap<MapData, PeerKey, u32>,
    /// An LRU hash in the kernel; aya's `HashMap` opens both kinds.
    peers: HashMap<MapData, PeerKey, PeerRecord>,
    counters: PerCpuArray<MapData, u64>,
    vip_counters: PerCpuArray<MapData, VipCounters>,
    events: Option<RingBuf<MapData>>,
    /// The BFD neighbors (written by the BFD thread through [`Self::bfd_table`]).
    bfd_peers: HashMap<MapData, BfdPeerKey, BfdPeer>,
    /// When the kernel last saw a valid Control packet of each BFD neighbor.
    bfd_rx: HashMap<MapData, BfdPeerKey, BfdRx>,
    /// Shadow of VRIDS (we are its only writer).
    states: StdHashMap<VridKey, VridState>,
    /// VIP slots in use.
    slots: StdHashMap<VipKey, u32>,
    /// IPv6 VIP slots in use.
    slots6: StdHashMap<Vip6Key, u32>,
    /// Counter slots not in use, the lowest last (taken from the end).
    free_slots: Vec<u32>,
    /// The tables' sizes as loaded.
    sizes: MapSizes,
    next_epoch: u64,
    attached: Vec<Attached>,
}

/// A program a previous agent left attached, known by descriptor.
struct AdoptedProgram {
    fd: ProgramFd,
    /// `XDP_PROGRAM` or `TC_PROGRAM`.
    name: &'static str,
    /// Its kernel id.
    id: u32,
}

fn xdp_program<'a>(
    ebpf: Option<&'a mut Ebpf>,
    name: &'static str,
) -> Result<&'a mut Xdp, DataplaneError> {
    ebpf.and_then(|e| e.program_mut(name))
        .ok_or(DataplaneError::Missing {
            what: "program",
            name,
        })?
        .try_into()
        .map_err(|e| DataplaneError::Load {
            source: Box::new(e),
        })
}

fn take<T>(ebpf: &mut Ebpf, name: &'static str) -> Result<T, DataplaneError>
where
    T: TryFrom<aya::maps::Map, Error = aya::maps::MapError>,
{
    let map = ebpf
        .take_map(name)
        .ok_or(DataplaneError::Missing { what: "map", name })?;
    T::try_from(map).map_err(|e| DataplaneError::map(name, "open", e))
}

impl Dataplane {
    /// Loads the embedded XDP object and its programs into the kernel (nothing is attached yet)
    /// with the tables at their declared sizes ([`MapSizes::MINIMUM`]).
    pub fn load() -> Result<Self, DataplaneError> {
        Self::load_sized(MapSizes::MINIMUM)
    }

    /// Loads the embedded XDP object with the configuration-dependent tables created at `sizes`
    /// (see [`super::sizing`]); nothing is attached yet.
    pub fn load_sized(sizes: MapSizes) -> Result<Self, DataplaneError> {
        if EBPF_OBJECT.is_empty() {
            return Err(DataplaneError::Load {
                source: "this havip-agent was built without the `ebpf` feature, so no XDP \
                         program is embedded (build it with default features)"
                    .into(),
            });
        }
        let ebpf = sized_loader(&sizes)
            .load(EBPF_OBJECT)
            .map_err(|e| DataplaneError::Load {
                source: Box::new(e),
            })?;
        Self::from_loaded(ebpf, sizes)
    }

    /// Loads the programs of `ebpf` into the kernel and takes its maps (created at `sizes`).
    fn from_loaded(mut ebpf: Ebpf, sizes: MapSizes) -> Result<Self, DataplaneError> {
        for name in [XDP_PROGRAM, PASS_PROGRAM, TX_PROGRAM] {
            xdp_program(Some(&mut ebpf), name)?
                .load()
                .map_err(|e| DataplaneError::Load {
                    source: Box::new(e),
                })?;
        }
        Ok(Self {
            vips: take(&mut ebpf, map_names::VIPS)?,
            vips6: take(&mut ebpf, map_names::VIPS6)?,
            vrids: take(&mut ebpf, map_names::VRIDS)?,
            fences: take(&mut ebpf, map_names::FENCES)?,
            allowed: take(&mut ebpf, map_names::ALLOWED_PEERS)?,
            peers: take(&mut ebpf, map_names::PEERS)?,
            counters: take(&mut ebpf, map_names::COUNTERS)?,
            vip_counters: take(&mut ebpf, map_names::VIP_COUNTERS)?,
            events: Some(take(&mut ebpf, map_names::EVENTS)?),
            agent: take(&mut ebpf, map_names::AGENT)?,
            bfd_peers: take(&mut ebpf, map_names::BFD_PEERS)?,
            bfd_rx: take(&mut ebpf, map_names::BFD_RX)?,
            adopted: None,
            choice: DataplaneMode::Xdp,
            force_cls_bpf: false,
            ebpf: Some(ebpf),
            states: StdHashMap::new(),
            slots: StdHashMap::new(),
            slots6: StdHashMap::new(),
            free_slots: (0..sizes.vips).rev().collect(),
            sizes,
            // Epochs only need to differ between grants of one load; start from the clock so
            // they also differ from any epoch a previous agent left in a pinned map.
            next_epoch: monotonic_ns().max(1),
            attached: Vec::new(),
        })
    }

    /// The sizes the tables were created with (a reload must fit in them).
    #[must_use]
    pub fn sizes(&self) -> MapSizes {
        self.sizes
    }

    fn program(&mut self, name: &'static str) -> Result<&mut Xdp, DataplaneError> {
        xdp_program(self.ebpf.as_mut(), name)
    }

    fn attach_program(
        &mut self,
        name: &'static str,
        ifname: &str,
        mode: AttachMode,
    ) -> Result<&Attached, DataplaneError> {
        // An adopted program is already where it was; more interfaces get the same program.
        if let Some(i) = self
            .attached
            .iter()
            .position(|a| a.ifname == ifname && a.program == name)
        {
            return Ok(&self.attached[i]);
        }
        let attached = match (&self.adopted, name) {
            (_, TC_PROGRAM) => self.attach_tc(ifname)?,
            (Some(p), XDP_PROGRAM) if p.name == XDP_PROGRAM => {
                attach_fd(p.fd.as_fd(), name, ifname, mode)?
            }
            _ => attach(self.program(name)?, name, ifname, mode)?,
        };
        if name == XDP_PROGRAM {
            Self::remove_stale_tc(ifname, attached.ifindex);
        }
        self.attached.push(attached);
        self.attached.last().ok_or(DataplaneError::Missing {
            what: "program",
            name,
        })
    }

    /// Attaches the havip program to `ifname` on the hook the data plane mode picks (see
    /// [`Self::set_dataplane_mode`]; XDP unless set); `mode` is the XDP attach mode, see
    /// [`AttachMode`] for its fallback.
    pub fn attach(&mut self, ifname: &str, mode: AttachMode) -> Result<&Attached, DataplaneError> {
        let program = self.program_for(ifname)?;
        self.attach_program(program, ifname, mode)
    }

    /// Attaches the pass-everything program to `ifname` (e.g. a veth peer for driver mode).
    pub fn attach_pass(
        &mut self,
        ifname: &str,
        mode: AttachMode,
    ) -> Result<&Attached, DataplaneError> {
        self.attach_program(PASS_PROGRAM, ifname, mode)
    }

    /// The interfaces the program is attached to.
    #[must_use]
    pub fn attachments(&self) -> &[Attached] {
        &self.attached
    }

    /// Detaches every program this agent attached (only if it is still the one attached).
    ///
    /// Nothing detaches implicitly: a program stays attached when the agent exits without
    /// calling this (crash, `kill -9`), and then its ownership lease runs out in the kernel.
    pub fn detach_all(&mut self) {
        for a in std::mem::take(&mut self.attached) {
            match self.detach_one(&a) {
                Ok(()) => debug!(ifname = %a.ifname, program = a.program, "XDP program detached"),
                Err(e) => {
                    warn!(ifname = %a.ifname, program = a.program, error = %e, "XDP detach failed");
                }
            }
        }
    }

    /// Adds or updates VIP `addr` on `ifindex` (the interface it is answered on, where the
    /// program must be attached), answered with `mac` while instance `vrid` on `vrid_ifindex`
    /// (the instance's interface, whose grant, lease and fence decide) is owned. The two
    /// interfaces differ for a VIP with `dev OTHER`.
    pub fn set_vip(
        &mut self,
        ifindex: u32,
        addr: Ipv4Addr,
        mac: [u8; 6],
        vrid: impl Into<Vrid>,
        vrid_ifindex: u32,
    ) -> Result<(), DataplaneError> {
        let vrid = vrid.into();
        let key = VipKey {
            ifindex,
            addr: addr.octets(),
        };
        let entry = VipEntry {
            mac,
            vrid: vrid.id,
            vrid_family: vrid.family,
            stat_slot: 0,
            vrid_ifindex,
        };
        self.vip_table().upsert(key, entry)
    }

    /// Removes VIP `addr` from `ifindex`.
    pub fn remove_vip(&mut self, ifindex: u32, addr: Ipv4Addr) -> Result<(), DataplaneError> {
        let key = VipKey {
            ifindex,
            addr: addr.octets(),
        };
        self.vip_table().remove(key)
    }

    /// Per-VIP counters of `addr` on `ifindex`, summed over CPUs.
    pub fn vip_counters(
        &self,
        ifindex: u32,
        addr: Ipv4Addr,
    ) -> Result<Option<VipCounters>, DataplaneError> {
        let key = VipKey {
            ifindex,
            addr: addr.octets(),
        };
        vip_table::counters(&self.slots, &self.vip_counters, &key)
    }

    /// The IPv4 VIP table with its counter slots.
    fn vip_table(&mut self) -> vip_table::VipTable<'_, VipKey> {
        vip_table::VipTable {
            map: &mut self.vips,
            slots: &mut self.slots,
            free_slots: &mut self.free_slots,
            capacity: self.sizes.vips,
            name: map_names::VIPS,
        }
    }

    /// Configures (or reconfigures) VRRP instance `vrid` on `ifindex`. Ownership is kept as is.
    pub fn configure_vrid(
        &mut self,
        ifindex: u32,
        vrid: impl Into<Vrid>,
        cfg: &VridConfig,
    ) -> Result<(), DataplaneError> {
        let key = vrid.into().key(ifindex);
        let old = self.states.get(&key).copied().unwrap_or_default();
        let state = VridState {
            lease_until_ns: old.lease_until_ns,
            grant_epoch: old.grant_epoch,
            ..cfg.state()
        };
        self.write_state(key, state)
    }

    /// Removes instance `vrid` on `ifindex` (revoking ownership first) and its peers.
    pub fn remove_vrid(
        &mut self,
        ifindex: u32,
        vrid: impl Into<Vrid>,
    ) -> Result<(), DataplaneError> {
        let vrid = vrid.into();
        let key = vrid.key(ifindex);
        if self.states.remove(&key).is_some() {
            self.vrids
                .remove(&key)
                .map_err(|e| DataplaneError::map(map_names::VRIDS, "remove", e))?;
        }
        let _ = self.fences.remove(&key);
        let stale: Vec<PeerKey> = self
            .allowed
            .keys()
            .filter_map(Result::ok)
            .filter(|k| k.ifindex == ifindex && k.vrid == vrid.id && peer_family(k) == vrid.family)
            .collect();
        for k in stale {
            let _ = self.allowed.remove(&k);
        }
        Ok(())
    }

    fn write_state(&mut self, key: VridKey, state: VridState) -> Result<(), DataplaneError> {
        self.vrids
            .insert(&key, &state, 0)
            .map_err(|e| DataplaneError::map(map_names::VRIDS, "insert", e))?;
        self.states.insert(key, state);
        Ok(())
    }

    fn state(
        &self,
        ifindex: u32,
        vrid: impl Into<Vrid>,
    ) -> Result<(VridKey, VridState), DataplaneError> {
        let vrid = vrid.into();
        let key = vrid.key(ifindex);
        self.states
            .get(&key)
            .map(|s| (key, *s))
            .ok_or(DataplaneError::UnknownVrid {
                ifindex,
                vrid: vrid.id,
            })
    }

    /// Grants ownership of `vrid` on `ifindex` with a new epoch and a lease of `lease` from now.
    /// Returns the epoch.
    pub fn grant(
        &mut self,
        ifindex: u32,
        vrid: impl Into<Vrid>,
        lease: Duration,
    ) -> Result<u64, DataplaneError> {
        let (key, mut state) = self.state(ifindex, vrid)?;
        self.next_epoch += 1;
        state.grant_epoch = self.next_epoch;
        state.lease_until_ns = monotonic_ns().saturating_add(nanos(lease));
        self.write_state(key, state)?;
        Ok(state.grant_epoch)
    }

    /// Extends the current grant's lease to `lease` from now, keeping its epoch (so a kernel
    /// fence of this grant stays in force). Does nothing if there is no grant.
    pub fn renew(
        &mut self,
        ifindex: u32,
        vrid: impl Into<Vrid>,
        lease: Duration,
    ) -> Result<(), DataplaneError> {
        let (key, mut state) = self.state(ifindex, vrid)?;
        if state.grant_epoch == 0 {
            return Ok(());
        }
        state.lease_until_ns = monotonic_ns().saturating_add(nanos(lease));
        self.write_state(key, state)
    }

    /// Revokes ownership of `vrid` on `ifindex`.
    pub fn revoke(&mut self, ifindex: u32, vrid: impl Into<Vrid>) -> Result<(), DataplaneError> {
        let (key, mut state) = self.state(ifindex, vrid)?;
        state.grant_epoch = 0;
        state.lease_until_ns = 0;
        self.write_state(key, state)
    }

    /// Updates the priority the kernel compares adverts against (effective priority changed).
    pub fn set_priority(
        &mut self,
        ifindex: u32,
        vrid: impl Into<Vrid>,
        priority: u8,
    ) -> Result<(), DataplaneError> {
        let (key, mut state) = self.state(ifindex, vrid)?;
        state.priority = priority;
        self.write_state(key, state)
    }

    /// Whether the kernel would answer ARP for `vrid` on `ifindex` right now.
    pub fn owned_now(&self, ifindex: u32, vrid: impl Into<Vrid>) -> Result<bool, DataplaneError> {
        let (key, state) = self.state(ifindex, vrid)?;
        let fence = self.fences.get(&key, 0).map_or(0, |f| f.epoch);
        Ok(state.owned_at(monotonic_ns(), fence))
    }

    /// The kernel's fence of `vrid` on `ifindex`, if any.
    #[must_use]
    pub fn fence(&self, ifindex: u32, vrid: impl Into<Vrid>) -> Option<Fence> {
        self.fences.get(&vrid.into().key(ifindex), 0).ok()
    }

    /// Accepts adverts for `vrid` on `ifindex` from `addr` (keepalived `unicast_peer`); the
    /// instance is the one of `addr`'s family.
    pub fn allow_peer(
        &mut self,
        ifindex: u32,
        vrid: u8,
        addr: impl Into<IpAddr>,
    ) -> Result<(), DataplaneError> {
        let key = PeerKey {
            ifindex,
            vrid,
            pad: [0; 3],
            addr: abi_addr(addr.into()),
        };
        self.allowed
            .insert(&key, &1, 0)
            .map_err(|e| DataplaneError::map(map_names::ALLOWED_PEERS, "insert", e))
    }

    /// The kernel's record of the last advert from each peer: `(peer key, record)`.
    #[must_use]
    pub fn peers(&self) -> Vec<(PeerKey, PeerRecord)> {
        self.peers.iter().filter_map(Result::ok).collect()
    }

    /// Global counters summed over CPUs.
    pub fn counters(&self) -> Result<Counters, DataplaneError> {
        reader::sum_counters(&self.counters)
    }

    /// A read-only view of the counter, VIP, VRID and fence maps through duplicated file
    /// descriptors, for a thread that must not share the data plane with the event loop (the
    /// metrics endpoint reads the kernel's counters at scrape time with it).
    pub fn reader(&self) -> Result<MapReader, DataplaneError> {
        Ok(MapReader::new(
            (
                reader::duplicate(&self.vips, map_names::VIPS)?,
                reader::duplicate(&self.vips6, map_names::VIPS6)?,
            ),
            reader::duplicate(&self.vrids, map_names::VRIDS)?,
            reader::duplicate(&self.fences, map_names::FENCES)?,
            reader::duplicate(&self.counters, map_names::COUNTERS)?,
            reader::duplicate(&self.vip_counters, map_names::VIP_COUNTERS)?,
        ))
    }

    /// Handles on the BFD tables for the BFD thread (duplicated descriptors; see
    /// [`super::BfdTable`]).
    pub fn bfd_table(&self) -> Result<super::BfdTable, DataplaneError> {
        Ok(super::BfdTable::new(
            reader::duplicate(&self.bfd_peers, map_names::BFD_PEERS)?,
            reader::duplicate(&self.bfd_rx, map_names::BFD_RX)?,
        ))
    }

    /// Takes the advert ring buffer (once) for the receive task.
    pub fn take_events(&mut self) -> Option<RingBuf<MapData>> {
        self.events.take()
    }

    /// The loaded havip program, for `BPF_PROG_TEST_RUN`.
    pub fn xdp_program(&mut self) -> Result<&mut Xdp, DataplaneError> {
        self.program(XDP_PROGRAM)
    }

    /// The loaded pass-everything program, for `BPF_PROG_TEST_RUN` baselines.
    pub fn pass_program(&mut self) -> Result<&mut Xdp, DataplaneError> {
        self.program(PASS_PROGRAM)
    }

    /// The loaded bounce-everything program (`XDP_TX`), the live-frames baseline.
    pub fn tx_program(&mut self) -> Result<&mut Xdp, DataplaneError> {
        self.program(TX_PROGRAM)
    }
}

/// The loader with every configuration-dependent table's `max_entries` set to `sizes` (set
/// before the maps are created; the object declares the minimum sizes). Kept apart from
/// [`Dataplane::load_sized`] so that adopting existing maps can reuse it.
fn sized_loader(sizes: &MapSizes) -> EbpfLoader<'static> {
    let mut loader = EbpfLoader::new();
    for (name, entries) in sizes.entries() {
        loader.map_max_entries(name, entries);
    }
    loader
}

/// The family of the instance a peer key belongs to: its address's.
fn peer_family(k: &PeerKey) -> u8 {
    family_of(ip_from_abi(k.addr))
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// Where the data plane of this run came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// A previous agent's program and maps, found attached and adopted by id.
    Adopted {
        /// Kernel id of the program.
        prog_id: u32,
        /// Its tag; differs from a fresh load's when this binary's program differs.
        tag: u64,
    },
    /// This binary's program, swapped in for a previous agent's different one on the same
    /// maps (an upgrade that kept everything).
    Upgraded {
        /// Kernel id of the program replaced.
        old_prog_id: u32,
        /// Its tag.
        old_tag: u64,
        /// The tag of this binary's program.
        tag: u64,
    },
    /// This agent's own program and fresh maps; `reason` says why nothing was adopted.
    Loaded {
        /// Why nothing was adopted.
        reason: String,
        /// A havip program ran that could not be taken over: its instances must hand over
        /// cleanly (priority 0) rather than start as if nothing ran.
        handover: bool,
    },
}

/// What the kernel still holds for one instance from the previous agent (see
/// [`Dataplane::inherited`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Inherited {
    /// The instance's state as the previous agent left it: grant, lease, priority.
    pub state: VridState,
    /// The fenced grant epoch, 0 if none.
    pub fence_epoch: u64,
    /// The previous agent's record of the instance, if it wrote one.
    pub record: Option<AgentRecord>,
    /// `CLOCK_MONOTONIC` ns of the last advert the kernel accepted from any peer of the
    /// instance, with that peer's address.
    pub last_advert: Option<(u64, IpAddr)>,
}

impl Inherited {
    /// Whether the grant is live at `now_ns`: granted, lease running, not fenced.
    #[must_use]
    pub fn owned_at(&self, now_ns: u64) -> bool {
        self.state.owned_at(now_ns, self.fence_epoch)
    }
}

/// The agent's copies of what inherited VIP and VRID tables hold.
struct Shadow {
    states: StdHashMap<VridKey, VridState>,
    slots: StdHashMap<VipKey, u32>,
    slots6: StdHashMap<Vip6Key, u32>,
    free_slots: Vec<u32>,
    next_epoch: u64,
}

impl Shadow {
    fn of(
        vips: &HashMap<MapData, VipKey, VipEntry>,
        vips6: &HashMap<MapData, Vip6Key, VipEntry>,
        vrids: &HashMap<MapData, VridKey, VridState>,
        vip_capacity: u32,
    ) -> Self {
        let states: StdHashMap<VridKey, VridState> = vrids.iter().filter_map(Result::ok).collect();
        let slots: StdHashMap<VipKey, u32> = vips
            .iter()
            .filter_map(Result::ok)
            .map(|(k, v)| (k, v.stat_slot))
            .collect();
        let slots6: StdHashMap<Vip6Key, u32> = vips6
            .iter()
            .filter_map(Result::ok)
            .map(|(k, v)| (k, v.stat_slot))
            .collect();
        // Counter slots still used by inherited VIPs (of both families) are not free.
        let used: std::collections::HashSet<u32> =
            slots.values().chain(slots6.values()).copied().collect();
        let free_slots = (0..vip_capacity)
            .rev()
            .filter(|s| !used.contains(s))
            .collect();
        // Epochs must never repeat one the kernel may have fenced.
        let newest = states.values().map(|s| s.grant_epoch).max().unwrap_or(0);
        Self {
            states,
            slots,
            slots6,
            free_slots,
            next_epoch: monotonic_ns().max(newest).max(1),
        }
    }
}

// Restart and adoption (issue #14): kept apart from `load` and the map API above.
impl Dataplane {
    /// Adopts the havip program attached to `ifnames` with its maps when a previous agent left
    /// one that speaks this agent's ABI (swapping in this binary's program on the same maps
    /// when the running one was built from another object, see [`upgrade`]); otherwise loads
    /// this binary's program with fresh maps. Either way the ABI header is (re)written. A
    /// program on the other hook than `mode` asks for (XDP vs tc) is not adopted: the fresh
    /// program replaces it when attached.
    pub fn adopt_or_load(
        ifnames: &[String],
        sizes: MapSizes,
        mode: DataplaneMode,
    ) -> Result<(Self, Origin), DataplaneError> {
        let adopted = adopt::find(ifnames).and_then(|found| {
            let hook_of = |m: DataplaneMode| match m {
                DataplaneMode::Tc => Some(TC_PROGRAM),
                DataplaneMode::Xdp => Some(XDP_PROGRAM),
                DataplaneMode::XdpMultiprog | DataplaneMode::Auto => None,
            };
            if let Some(want) = hook_of(mode)
                && want != found.program
            {
                return Err(Refusal::Incompatible {
                    prog_id: found.prog_id,
                    what: format!("it runs {}, this agent runs in {mode} mode", found.program),
                });
            }
            if upgrade::running_digest(&found)? == object_digest() {
                Self::adopt(found, &sizes)
            } else {
                let have = found.sizes()?;
                if !have.holds(&sizes) {
                    return Err(Refusal::TooSmall {
                        prog_id: found.prog_id,
                        have,
                        want: sizes,
                    });
                }
                Self::upgrade(&found, have)
            }
        });
        let (mut dp, origin) = match adopted {
            Ok((dp, origin)) => (dp, origin),
            Err(refusal) => {
                let reason = refusal.to_string();
                let handover = refusal.found_ours();
                (
                    Self::load_sized(sizes)?,
                    Origin::Loaded { reason, handover },
                )
            }
        };
        dp.choice = mode;
        dp.write_header()?;
        Ok((dp, origin))
    }

    fn adopt(found: Found, wanted: &MapSizes) -> Result<(Self, Origin), Refusal> {
        // The running tables must hold what this configuration needs (they were sized for the
        // previous one); smaller ones mean a fresh load, and so a normal start.
        let sizes = found.sizes()?;
        if !sizes.holds(wanted) {
            return Err(Refusal::TooSmall {
                prog_id: found.prog_id,
                have: sizes,
                want: *wanted,
            });
        }
        let vips: HashMap<MapData, VipKey, VipEntry> = found.open(map_names::VIPS)?;
        let vrids: HashMap<MapData, VridKey, VridState> = found.open(map_names::VRIDS)?;
        let vips6: HashMap<MapData, Vip6Key, VipEntry> = found.open(map_names::VIPS6)?;
        let Shadow {
            states,
            slots,
            slots6,
            free_slots,
            next_epoch,
        } = Shadow::of(&vips, &vips6, &vrids, sizes.vips);
        let origin = Origin::Adopted {
            prog_id: found.prog_id,
            tag: found.tag,
        };
        let dp = Self {
            fences: found.open(map_names::FENCES)?,
            allowed: found.open(map_names::ALLOWED_PEERS)?,
            peers: found.open(map_names::PEERS)?,
            counters: found.open(map_names::COUNTERS)?,
            vip_counters: found.open(map_names::VIP_COUNTERS)?,
            events: Some(found.open(map_names::EVENTS)?),
            agent: found.open(map_names::AGENT)?,
            bfd_peers: found.open(map_names::BFD_PEERS)?,
            bfd_rx: found.open(map_names::BFD_RX)?,
            vips,
            vips6,
            vrids,
            states,
            slots,
            slots6,
            free_slots,
            sizes,
            next_epoch,
            attached: found
                .attached
                .into_iter()
                .map(|(ifname, ifindex, mode)| Attached {
                    ifname,
                    ifindex,
                    mode,
                    program: found.program,
                })
                .collect(),
            ebpf: None,
            adopted: Some(AdoptedProgram {
                fd: found.prog,
                name: found.program,
                id: found.prog_id,
            }),
            choice: DataplaneMode::Xdp,
            force_cls_bpf: false,
        };
        Ok((dp, origin))
    }

    /// Reads the VRID and VIP tables again into the agent's copies: after a prepared start
    /// adopted the maps while the previous agent still ran and wrote them (`run --takeover`).
    pub fn reread(&mut self) {
        let Shadow {
            states,
            slots,
            slots6,
            free_slots,
            next_epoch,
        } = Shadow::of(&self.vips, &self.vips6, &self.vrids, self.sizes.vips);
        self.states = states;
        self.slots = slots;
        self.slots6 = slots6;
        self.free_slots = free_slots;
        self.next_epoch = next_epoch;
    }

    fn write_header(&mut self) -> Result<(), DataplaneError> {
        let header = AgentRecord {
            abi_version: ABI_VERSION,
            updated_ns: monotonic_ns(),
            // The header names the object the running program was built from.
            learned_interval_ns: object_digest(),
            ..AgentRecord::default()
        };
        self.agent
            .insert(&AGENT_HEADER_KEY, &header, 0)
            .map_err(|e| DataplaneError::map(map_names::AGENT, "insert", e))
    }

    /// Writes the record the next agent resumes instance `vrid` on `ifindex` from.
    pub fn write_record(
        &mut self,
        ifindex: u32,
        vrid: impl Into<Vrid>,
        record: &AgentRecord,
    ) -> Result<(), DataplaneError> {
        let record = AgentRecord {
            abi_version: ABI_VERSION,
            ..*record
        };
        self.agent
            .insert(&vrid.into().key(ifindex), &record, 0)
            .map_err(|e| DataplaneError::map(map_names::AGENT, "insert", e))
    }

    /// What the kernel holds for `vrid` on `ifindex` from before this agent configured it: read
    /// it before [`Self::configure_vrid`]. `None` when there is nothing (a fresh data plane).
    #[must_use]
    pub fn inherited(&self, ifindex: u32, vrid: impl Into<Vrid>) -> Option<Inherited> {
        let vrid = vrid.into();
        let key = vrid.key(ifindex);
        let state = *self.states.get(&key)?;
        let last_advert = self
            .peers
            .iter()
            .filter_map(Result::ok)
            .filter(|(k, _)| {
                k.ifindex == ifindex && k.vrid == vrid.id && peer_family(k) == vrid.family
            })
            .map(|(k, r)| (r.last_seen_ns, ip_from_abi(k.addr)))
            .max();
        Some(Inherited {
            state,
            fence_epoch: self.fences.get(&key, 0).map_or(0, |f| f.epoch),
            record: self.agent.get(&key, 0).ok(),
            last_advert,
        })
    }

    /// Removes instances, VIPs and peers that no configured instance claimed: `keep` holds
    /// every (interface, VRID) and `keep_vips` every VIP configured now. An adopted data plane
    /// can carry entries of a configuration that has changed since.
    pub fn forget_unconfigured(
        &mut self,
        keep: &[VridKey],
        keep_vips: &[VipKey],
        keep_vips6: &[Vip6Key],
    ) {
        let stale: Vec<VridKey> = self
            .states
            .keys()
            .filter(|k| !keep.contains(k))
            .copied()
            .collect();
        for k in stale {
            let vrid = Vrid {
                id: k.vrid,
                family: k.family,
            };
            if let Err(e) = self.remove_vrid(k.ifindex, vrid) {
                warn!(ifindex = k.ifindex, vrid = k.vrid, error = %e, "removing a stale instance failed");
            }
            let _ = self.agent.remove(&k);
        }
        let stale: Vec<VipKey> = self
            .slots
            .keys()
            .filter(|k| !keep_vips.contains(k))
            .copied()
            .collect();
        for k in stale {
            let _ = self.remove_vip(k.ifindex, Ipv4Addr::from(k.addr));
        }
        let stale6: Vec<Vip6Key> = self
            .slots6
            .keys()
            .filter(|k| !keep_vips6.contains(k))
            .copied()
            .collect();
        for k in stale6 {
            let _ = self.remove_vip6(k.ifindex, std::net::Ipv6Addr::from(k.addr));
        }
    }

    /// Detaches the havip program from every interface not in `ifnames` (a reload that
    /// dropped the last instance or VIP on it).
    pub fn detach_unused(&mut self, ifnames: &[String]) {
        let (gone, kept): (Vec<Attached>, Vec<Attached>) = std::mem::take(&mut self.attached)
            .into_iter()
            .partition(|a| a.program != PASS_PROGRAM && !ifnames.contains(&a.ifname));
        self.attached = kept;
        for a in gone {
            match self.detach_one(&a) {
                Ok(()) => {
                    info!(ifname = %a.ifname, "XDP program detached: no instance uses the interface any more");
                }
                Err(e) => warn!(ifname = %a.ifname, error = %e, "XDP detach failed"),
            }
        }
    }

    fn detach_one(&mut self, a: &Attached) -> Result<(), DataplaneError> {
        match (&self.adopted, a.program) {
            (_, TC_PROGRAM) => self.detach_tc(a),
            (Some(p), XDP_PROGRAM) if p.name == XDP_PROGRAM => detach_fd(p.fd.as_fd(), a),
            _ => self.program(a.program).and_then(|p| detach(p, a)),
        }
    }
}
