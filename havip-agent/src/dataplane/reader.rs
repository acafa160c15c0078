//! A read-only view of the XDP program's maps for another thread (the metrics endpoint).
//!
//! [`Dataplane::reader`](super::Dataplane::reader) duplicates the file descriptors of the maps a
//! scrape reads, so the reader shares nothing with the event loop: no lock, no `&Dataplane`, and a
//! scrape never waits for (or delays) the loop. Everything is read from the kernel's maps at the
//! moment of the call, not from the agent's shadow copies.

use std::{net::IpAddr, os::fd::AsFd as _, time::Duration};

use aya::maps::{HashMap, IterableMap, Map, MapData, PerCpuArray};
use havip_common::{
    Vip6Key, VipCounters, VipEntry, VipKey, VridKey, VridState, counter, map_names,
};

use super::{Counters, DataplaneError, Vrid};
use crate::clock::monotonic_ns;

/// Whether the kernel answers ARP for one (interface, VRID), as its maps say right now.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ownership {
    /// A grant is set, its lease has not run out, and the kernel has not fenced it.
    pub owned: bool,
    /// A grant is set (whatever its lease and fence say).
    pub granted: bool,
    /// The kernel fenced the current grant (fast switch).
    pub fenced: bool,
    /// Time left on the lease of the current grant (zero without a grant or once expired).
    pub lease_remaining: Duration,
}

/// Read-only handles on the counter, VIP, VRID and fence maps (duplicated descriptors).
pub struct MapReader {
    vips: HashMap<MapData, VipKey, VipEntry>,
    vips6: HashMap<MapData, Vip6Key, VipEntry>,
    vrids: HashMap<MapData, VridKey, VridState>,
    fences: HashMap<MapData, VridKey, havip_common::Fence>,
    counters: PerCpuArray<MapData, u64>,
    vip_counters: PerCpuArray<MapData, VipCounters>,
}

impl std::fmt::Debug for MapReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MapReader").finish_non_exhaustive()
    }
}

/// A second handle on `map`'s kernel object, through a duplicated file descriptor.
pub(super) fn duplicate<K, V, T>(
    map: &impl IterableMap<K, V>,
    name: &'static str,
) -> Result<T, DataplaneError>
where
    K: aya::Pod,
    T: TryFrom<Map, Error = aya::maps::MapError>,
{
    let fd = map
        .map()
        .fd()
        .as_fd()
        .try_clone_to_owned()
        .map_err(|e| DataplaneError::map(name, "dup", aya::maps::MapError::IoError(e)))?;
    let data = MapData::from_fd(fd).map_err(|e| DataplaneError::map(name, "dup", e))?;
    let map = Map::from_map_data(data).map_err(|e| DataplaneError::map(name, "dup", e))?;
    T::try_from(map).map_err(|e| DataplaneError::map(name, "dup", e))
}

impl MapReader {
    /// Assembles a reader from already duplicated maps.
    pub(super) fn new(
        (vips, vips6): (
            HashMap<MapData, VipKey, VipEntry>,
            HashMap<MapData, Vip6Key, VipEntry>,
        ),
        vrids: HashMap<MapData, VridKey, VridState>,
        fences: HashMap<MapData, VridKey, havip_common::Fence>,
        counters: PerCpuArray<MapData, u64>,
        vip_counters: PerCpuArray<MapData, VipCounters>,
    ) -> Self {
        Self {
            vips,
            vips6,
            vrids,
            fences,
            counters,
            vip_counters,
        }
    }

    /// Global counters summed over CPUs.
    pub fn counters(&self) -> Result<Counters, DataplaneError> {
        sum_counters(&self.counters)
    }

    /// Per-VIP counters of `addr` on `ifindex` summed over CPUs; `None` if it is not in the
    /// kernel's VIP table.
    pub fn vip_counters(
        &self,
        ifindex: u32,
        addr: IpAddr,
    ) -> Result<Option<VipCounters>, DataplaneError> {
        let entry = match addr {
            IpAddr::V4(a) => {
                let key = VipKey {
                    ifindex,
                    addr: a.octets(),
                };
                found(self.vips.get(&key, 0), map_names::VIPS)?
            }
            IpAddr::V6(a) => {
                let key = Vip6Key {
                    ifindex,
                    addr: a.octets(),
                };
                found(self.vips6.get(&key, 0), map_names::VIPS6)?
            }
        };
        let Some(entry) = entry else {
            return Ok(None);
        };
        sum_vip_counters(&self.vip_counters, entry.stat_slot).map(Some)
    }

    /// The kernel's view of the ownership of `vrid` on `ifindex` at the time of the call;
    /// `None` if the kernel has no state for it.
    pub fn ownership(
        &self,
        ifindex: u32,
        vrid: impl Into<Vrid>,
    ) -> Result<Option<Ownership>, DataplaneError> {
        let key = vrid.into().key(ifindex);
        let Some(state) = found(self.vrids.get(&key, 0), map_names::VRIDS)? else {
            return Ok(None);
        };
        let fence = found(self.fences.get(&key, 0), map_names::FENCES)?.map_or(0, |f| f.epoch);
        let now = monotonic_ns();
        let granted = state.grant_epoch != 0;
        Ok(Some(Ownership {
            owned: state.owned_at(now, fence),
            granted,
            fenced: granted && fence == state.grant_epoch,
            lease_remaining: if granted {
                Duration::from_nanos(state.lease_until_ns.saturating_sub(now))
            } else {
                Duration::ZERO
            },
        }))
    }
}

/// A hash map lookup with "no such key" as `None` and any other failure as an error.
fn found<V>(
    r: Result<V, aya::maps::MapError>,
    name: &'static str,
) -> Result<Option<V>, DataplaneError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(aya::maps::MapError::KeyNotFound) => Ok(None),
        Err(e) => Err(DataplaneError::map(name, "get", e)),
    }
}

/// Sums every global counter over CPUs.
pub(super) fn sum_counters(map: &PerCpuArray<MapData, u64>) -> Result<Counters, DataplaneError> {
    let mut out = [0u64; counter::COUNT as usize];
    for (i, slot) in (0u32..).zip(out.iter_mut()) {
        let per_cpu = map
            .get(&i, 0)
            .map_err(|e| DataplaneError::map(map_names::COUNTERS, "get", e))?;
        *slot = per_cpu.iter().fold(0u64, |a, v| a.wrapping_add(*v));
    }
    Ok(Counters(out))
}

/// Sums the per-VIP counters of `slot` over CPUs.
pub(super) fn sum_vip_counters(
    map: &PerCpuArray<MapData, VipCounters>,
    slot: u32,
) -> Result<VipCounters, DataplaneError> {
    let per_cpu = map
        .get(&slot, 0)
        .map_err(|e| DataplaneError::map(map_names::VIP_COUNTERS, "get", e))?;
    let mut sum = VipCounters::default();
    for c in per_cpu.iter() {
        sum.replied = sum.replied.wrapping_add(c.replied);
        sum.dropped_not_owned = sum.dropped_not_owned.wrapping_add(c.dropped_not_owned);
        sum.dropped_lease_expired = sum
            .dropped_lease_expired
            .wrapping_add(c.dropped_lease_expired);
        sum.dropped_fenced = sum.dropped_fenced.wrapping_add(c.dropped_fenced);
    }
    Ok(sum)
}
