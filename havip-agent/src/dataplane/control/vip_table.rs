//! The one insert/remove/read logic of the two VIP tables (IPv4 [`map_names::VIPS`], IPv6
//! [`map_names::VIPS6`]): they differ only in the key, and share the per-VIP counter array, so
//! both draw their counter slots from one free list.

use std::{collections::HashMap as StdHashMap, hash::Hash};

use aya::{
    Pod,
    maps::{HashMap, MapData},
};
use havip_common::{VipCounters, VipEntry};

use super::{DataplaneError, reader};

/// One VIP table with the agent's copy of its counter slots, borrowed from the [`super::Dataplane`].
pub(super) struct VipTable<'a, K> {
    /// The kernel map.
    pub map: &'a mut HashMap<MapData, K, VipEntry>,
    /// Counter slot of every VIP in `map`.
    pub slots: &'a mut StdHashMap<K, u32>,
    /// Counter slots no VIP of either table uses.
    pub free_slots: &'a mut Vec<u32>,
    /// Size of the counter array, for the error when no slot is free.
    pub capacity: u32,
    /// The map's name, for errors.
    pub name: &'static str,
}

impl<K: Pod + Eq + Hash> VipTable<'_, K> {
    /// Inserts or updates `key` with `entry` (whose `stat_slot` is set here: the VIP's own slot
    /// when it is already present, else the next free one, taken only once the insert worked).
    pub fn upsert(&mut self, key: K, mut entry: VipEntry) -> Result<(), DataplaneError> {
        let (stat_slot, fresh) = match self.slots.get(&key) {
            Some(&s) => (s, false),
            None => (
                *self.free_slots.last().ok_or(DataplaneError::VipTableFull {
                    capacity: self.capacity,
                })?,
                true,
            ),
        };
        entry.stat_slot = stat_slot;
        self.map
            .insert(&key, &entry, 0)
            .map_err(|e| DataplaneError::map(self.name, "insert", e))?;
        if fresh {
            self.free_slots.pop();
        }
        self.slots.insert(key, stat_slot);
        Ok(())
    }

    /// Removes `key`, if present; its counter slot goes back to `free_slots`.
    pub fn remove(&mut self, key: K) -> Result<(), DataplaneError> {
        if let Some(slot) = self.slots.remove(&key) {
            self.free_slots.push(slot);
            self.map
                .remove(&key)
                .map_err(|e| DataplaneError::map(self.name, "remove", e))?;
        }
        Ok(())
    }
}

/// The per-VIP counters of `key`, summed over CPUs; `None` for a VIP not in the table.
pub(super) fn counters<K: Eq + Hash>(
    slots: &StdHashMap<K, u32>,
    vip_counters: &aya::maps::PerCpuArray<MapData, VipCounters>,
    key: &K,
) -> Result<Option<VipCounters>, DataplaneError> {
    let Some(&slot) = slots.get(key) else {
        return Ok(None);
    };
    reader::sum_vip_counters(vip_counters, slot).map(Some)
}
