//! The IPv6 VIP table ([`map_names::VIPS6`]): which IPv6 addresses the XDP program answers
//! Neighbor Solicitations for, under which instance's grant. Its entries take their per-VIP
//! counter slots from the same free list as the IPv4 VIPs, so one counter array serves both.

use std::net::Ipv6Addr;

use havip_common::{Vip6Key, VipCounters, VipEntry, map_names};

use super::{Dataplane, DataplaneError, reader};

impl Dataplane {
    /// Adds or updates IPv6 VIP `addr` on `ifindex`, answered with `mac` while instance `vrid`
    /// on `vrid_ifindex` is owned (the IPv6 twin of [`Dataplane::set_vip`]).
    pub fn set_vip6(
        &mut self,
        ifindex: u32,
        addr: Ipv6Addr,
        mac: [u8; 6],
        vrid: u8,
        vrid_ifindex: u32,
    ) -> Result<(), DataplaneError> {
        let key = Vip6Key {
            ifindex,
            addr: addr.octets(),
        };
        let (stat_slot, fresh) = match self.slots6.get(&key) {
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
        self.vips6
            .insert(&key, &entry, 0)
            .map_err(|e| DataplaneError::map(map_names::VIPS6, "insert", e))?;
        if fresh {
            self.free_slots.pop();
        }
        self.slots6.insert(key, stat_slot);
        Ok(())
    }

    /// Removes IPv6 VIP `addr` from `ifindex`; its counter slot becomes free.
    pub fn remove_vip6(&mut self, ifindex: u32, addr: Ipv6Addr) -> Result<(), DataplaneError> {
        let key = Vip6Key {
            ifindex,
            addr: addr.octets(),
        };
        if let Some(slot) = self.slots6.remove(&key) {
            self.free_slots.push(slot);
            self.vips6
                .remove(&key)
                .map_err(|e| DataplaneError::map(map_names::VIPS6, "remove", e))?;
        }
        Ok(())
    }

    /// Per-VIP counters of IPv6 VIP `addr` on `ifindex`, summed over CPUs (`replied` counts
    /// Neighbor Solicitations answered).
    pub fn vip6_counters(
        &self,
        ifindex: u32,
        addr: Ipv6Addr,
    ) -> Result<Option<VipCounters>, DataplaneError> {
        let key = Vip6Key {
            ifindex,
            addr: addr.octets(),
        };
        let Some(&slot) = self.slots6.get(&key) else {
            return Ok(None);
        };
        reader::sum_vip_counters(&self.vip_counters, slot).map(Some)
    }
}
