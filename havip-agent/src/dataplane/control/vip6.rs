//! The IPv6 VIP table ([`map_names::VIPS6`]): which IPv6 addresses the XDP program answers
//! Neighbor Solicitations for, under which instance's grant. Its entries take their per-VIP
//! counter slots from the same free list as the IPv4 VIPs, so one counter array serves both.

use std::net::Ipv6Addr;

use havip_common::{Vip6Key, VipCounters, VipEntry, map_names};

use super::{Dataplane, DataplaneError};

impl Dataplane {
    /// Adds or updates IPv6 VIP `addr` on `ifindex`, answered with `mac` while instance `vrid`
    /// (a bare `u8`: the IPv4 instance) on `vrid_ifindex` is owned (the IPv6 twin of [`Dataplane::set_vip`]).
    pub fn set_vip6(
        &mut self,
        ifindex: u32,
        addr: Ipv6Addr,
        mac: [u8; 6],
        vrid: impl Into<super::Vrid>,
        vrid_ifindex: u32,
    ) -> Result<(), DataplaneError> {
        // The owner may be of either family: an IPv4 instance owns an IPv6 VIP through
        // keepalived's `virtual_ipaddress_excluded`.
        let vrid: super::Vrid = vrid.into();
        let key = Vip6Key {
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
        self.vip6_table().upsert(key, entry)
    }

    /// Removes IPv6 VIP `addr` from `ifindex`; its counter slot becomes free.
    pub fn remove_vip6(&mut self, ifindex: u32, addr: Ipv6Addr) -> Result<(), DataplaneError> {
        let key = Vip6Key {
            ifindex,
            addr: addr.octets(),
        };
        self.vip6_table().remove(key)
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
        super::vip_table::counters(&self.slots6, &self.vip_counters, &key)
    }

    /// The IPv6 VIP table with its counter slots.
    fn vip6_table(&mut self) -> super::vip_table::VipTable<'_, Vip6Key> {
        super::vip_table::VipTable {
            map: &mut self.vips6,
            slots: &mut self.slots6,
            free_slots: &mut self.free_slots,
            capacity: self.sizes.vips,
            name: map_names::VIPS6,
        }
    }
}
