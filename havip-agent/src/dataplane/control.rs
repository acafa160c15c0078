//! The typed API over the XDP program's maps.
//!
//! The agent is the only writer of the VIP table, the VRID states and the peer list, so it keeps a
//! shadow copy of each VRID state and every write is one whole-value map update: atomic for the
//! XDP program, which sees either the old or the new value. Ownership order (ARCHITECTURE.md):
//! resign = [`Dataplane::revoke`] before removing addresses; take over = [`Dataplane::grant`]
//! before adding addresses and sending gratuitous ARP.

use std::{collections::HashMap as StdHashMap, net::Ipv4Addr, time::Duration};

use aya::{
    Ebpf, EbpfLoader,
    maps::{HashMap, MapData, PerCpuArray, RingBuf},
    programs::Xdp,
};
use havip_common::{
    Fence, PASS_PROGRAM, PeerKey, PeerRecord, TX_PROGRAM, VipCounters, VipEntry, VipKey, VridKey,
    VridState, XDP_PROGRAM, counter, map_names,
};
use tracing::{debug, warn};

pub use crate::vrrp::rule::VridConfig;

use super::{
    AttachMode, Attached, DataplaneError, EBPF_OBJECT,
    attach::{attach, detach},
    reader::{self, MapReader},
    sizing::MapSizes,
};
use crate::clock::monotonic_ns;

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
    ebpf: Ebpf,
    vips: HashMap<MapData, VipKey, VipEntry>,
    vrids: HashMap<MapData, VridKey, VridState>,
    fences: HashMap<MapData, VridKey, Fence>,
    allowed: HashMap<MapData, PeerKey, u32>,
    /// An LRU hash in the kernel; aya's `HashMap` opens both kinds.
    peers: HashMap<MapData, PeerKey, PeerRecord>,
    counters: PerCpuArray<MapData, u64>,
    vip_counters: PerCpuArray<MapData, VipCounters>,
    events: Option<RingBuf<MapData>>,
    /// Shadow of VRIDS (we are its only writer).
    states: StdHashMap<VridKey, VridState>,
    /// VIP slots in use.
    slots: StdHashMap<VipKey, u32>,
    /// Counter slots not in use, the lowest last (taken from the end).
    free_slots: Vec<u32>,
    /// The tables' sizes as loaded.
    sizes: MapSizes,
    next_epoch: u64,
    attached: Vec<Attached>,
}

fn xdp_program<'a>(ebpf: &'a mut Ebpf, name: &'static str) -> Result<&'a mut Xdp, DataplaneError> {
    ebpf.program_mut(name)
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
        let mut ebpf =
            sized_loader(&sizes)
                .load(EBPF_OBJECT)
                .map_err(|e| DataplaneError::Load {
                    source: Box::new(e),
                })?;
        for name in [XDP_PROGRAM, PASS_PROGRAM, TX_PROGRAM] {
            xdp_program(&mut ebpf, name)?
                .load()
                .map_err(|e| DataplaneError::Load {
                    source: Box::new(e),
                })?;
        }
        Ok(Self {
            vips: take(&mut ebpf, map_names::VIPS)?,
            vrids: take(&mut ebpf, map_names::VRIDS)?,
            fences: take(&mut ebpf, map_names::FENCES)?,
            allowed: take(&mut ebpf, map_names::ALLOWED_PEERS)?,
            peers: take(&mut ebpf, map_names::PEERS)?,
            counters: take(&mut ebpf, map_names::COUNTERS)?,
            vip_counters: take(&mut ebpf, map_names::VIP_COUNTERS)?,
            events: Some(take(&mut ebpf, map_names::EVENTS)?),
            ebpf,
            states: StdHashMap::new(),
            slots: StdHashMap::new(),
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
        xdp_program(&mut self.ebpf, name)
    }

    fn attach_program(
        &mut self,
        name: &'static str,
        ifname: &str,
        mode: AttachMode,
    ) -> Result<&Attached, DataplaneError> {
        let attached = attach(self.program(name)?, name, ifname, mode)?;
        self.attached.push(attached);
        self.attached.last().ok_or(DataplaneError::Missing {
            what: "program",
            name,
        })
    }

    /// Attaches the havip program to `ifname`; see [`AttachMode`] for the fallback.
    pub fn attach(&mut self, ifname: &str, mode: AttachMode) -> Result<&Attached, DataplaneError> {
        self.attach_program(XDP_PROGRAM, ifname, mode)
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
            match self.program(a.program).and_then(|p| detach(p, &a)) {
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
        vrid: u8,
        vrid_ifindex: u32,
    ) -> Result<(), DataplaneError> {
        let key = VipKey {
            ifindex,
            addr: addr.octets(),
        };
        let (stat_slot, fresh) = match self.slots.get(&key) {
            Some(&s) => (s, false),
            None => (
                *self.free_slots.last().ok_or(DataplaneError::VipTableFull {
                    capacity: self.sizes.vips,
                })?,
                true,
            ),
        };
        let entry = VipEntry {
            mac,
            vrid,
            flags: 0,
            stat_slot,
            vrid_ifindex,
        };
        self.vips
            .insert(&key, &entry, 0)
            .map_err(|e| DataplaneError::map(map_names::VIPS, "insert", e))?;
        if fresh {
            self.free_slots.pop();
        }
        self.slots.insert(key, stat_slot);
        Ok(())
    }

    /// Removes VIP `addr` from `ifindex`.
    pub fn remove_vip(&mut self, ifindex: u32, addr: Ipv4Addr) -> Result<(), DataplaneError> {
        let key = VipKey {
            ifindex,
            addr: addr.octets(),
        };
        if let Some(slot) = self.slots.remove(&key) {
            self.free_slots.push(slot);
            self.vips
                .remove(&key)
                .map_err(|e| DataplaneError::map(map_names::VIPS, "remove", e))?;
        }
        Ok(())
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
        let Some(&slot) = self.slots.get(&key) else {
            return Ok(None);
        };
        reader::sum_vip_counters(&self.vip_counters, slot).map(Some)
    }

    /// Configures (or reconfigures) VRRP instance `vrid` on `ifindex`. Ownership is kept as is.
    pub fn configure_vrid(
        &mut self,
        ifindex: u32,
        vrid: u8,
        cfg: &VridConfig,
    ) -> Result<(), DataplaneError> {
        let key = VridKey::new(ifindex, vrid);
        let old = self.states.get(&key).copied().unwrap_or_default();
        let state = VridState {
            lease_until_ns: old.lease_until_ns,
            grant_epoch: old.grant_epoch,
            ..cfg.state()
        };
        self.write_state(key, state)
    }

    /// Removes instance `vrid` on `ifindex` (revoking ownership first) and its peers.
    pub fn remove_vrid(&mut self, ifindex: u32, vrid: u8) -> Result<(), DataplaneError> {
        let key = VridKey::new(ifindex, vrid);
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
            .filter(|k| k.ifindex == ifindex && k.vrid == vrid)
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

    fn state(&self, ifindex: u32, vrid: u8) -> Result<(VridKey, VridState), DataplaneError> {
        let key = VridKey::new(ifindex, vrid);
        self.states
            .get(&key)
            .map(|s| (key, *s))
            .ok_or(DataplaneError::UnknownVrid { ifindex, vrid })
    }

    /// Grants ownership of `vrid` on `ifindex` with a new epoch and a lease of `lease` from now.
    /// Returns the epoch.
    pub fn grant(
        &mut self,
        ifindex: u32,
        vrid: u8,
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
    pub fn renew(&mut self, ifindex: u32, vrid: u8, lease: Duration) -> Result<(), DataplaneError> {
        let (key, mut state) = self.state(ifindex, vrid)?;
        if state.grant_epoch == 0 {
            return Ok(());
        }
        state.lease_until_ns = monotonic_ns().saturating_add(nanos(lease));
        self.write_state(key, state)
    }

    /// Revokes ownership of `vrid` on `ifindex`.
    pub fn revoke(&mut self, ifindex: u32, vrid: u8) -> Result<(), DataplaneError> {
        let (key, mut state) = self.state(ifindex, vrid)?;
        state.grant_epoch = 0;
        state.lease_until_ns = 0;
        self.write_state(key, state)
    }

    /// Updates the priority the kernel compares adverts against (effective priority changed).
    pub fn set_priority(
        &mut self,
        ifindex: u32,
        vrid: u8,
        priority: u8,
    ) -> Result<(), DataplaneError> {
        let (key, mut state) = self.state(ifindex, vrid)?;
        state.priority = priority;
        self.write_state(key, state)
    }

    /// Whether the kernel would answer ARP for `vrid` on `ifindex` right now.
    pub fn owned_now(&self, ifindex: u32, vrid: u8) -> Result<bool, DataplaneError> {
        let (key, state) = self.state(ifindex, vrid)?;
        let fence = self.fences.get(&key, 0).map_or(0, |f| f.epoch);
        Ok(state.owned_at(monotonic_ns(), fence))
    }

    /// The kernel's fence of `vrid` on `ifindex`, if any.
    #[must_use]
    pub fn fence(&self, ifindex: u32, vrid: u8) -> Option<Fence> {
        self.fences.get(&VridKey::new(ifindex, vrid), 0).ok()
    }

    /// Accepts adverts for `vrid` on `ifindex` from `addr` (keepalived `unicast_peer`).
    pub fn allow_peer(
        &mut self,
        ifindex: u32,
        vrid: u8,
        addr: Ipv4Addr,
    ) -> Result<(), DataplaneError> {
        let key = PeerKey {
            ifindex,
            vrid,
            pad: [0; 3],
            addr: addr.octets(),
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
            reader::duplicate(&self.vips, map_names::VIPS)?,
            reader::duplicate(&self.vrids, map_names::VRIDS)?,
            reader::duplicate(&self.fences, map_names::FENCES)?,
            reader::duplicate(&self.counters, map_names::COUNTERS)?,
            reader::duplicate(&self.vip_counters, map_names::VIP_COUNTERS)?,
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

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}
