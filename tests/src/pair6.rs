//! The IPv6 twin of [`crate::pair`]: one bridge with a client (`2001:db8::1`) that probes the IPv6
//! VIP with Neighbor Solicitations, node a (link-local `fe80::11`) and node b (`fe80::12`), and a
//! work directory. Each node's kernel-made link-local address is replaced by that one fixed
//! address (added without duplicate address detection), so the advert sources, and the
//! RFC 9568 6.4.3 tie-break between them, are known to the test.

use std::{net::Ipv6Addr, time::Duration};

use crate::{
    agents::Workdir,
    ndp_prober::NdpProber,
    netns::{Lan, wait_for},
};

/// The client's address.
pub const CLIENT6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
/// The IPv6 VIP.
pub const VIP6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x200);
/// Node index of a on [`Pair6Lab::lan`].
pub const NODE_A: usize = 1;
/// Node index of b on [`Pair6Lab::lan`].
pub const NODE_B: usize = 2;

/// The link-local address of the node at `host`: its decimal digits read as hex after `fe80::`
/// (11 is `fe80::11`).
#[must_use]
pub fn link_local(host: u8) -> Ipv6Addr {
    let h = u16::from_str_radix(&host.to_string(), 16).unwrap_or(u16::from(host));
    Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, h)
}

/// Client, a and b. Fields drop in order: the directory last.
#[derive(Debug)]
pub struct Pair6Lab {
    /// The bridge and the three nodes (client, a, b).
    pub lan: Lan,
    /// Neighbor Discovery prober on the client.
    pub prober: NdpProber,
    /// Configuration and log files of what runs in the nodes.
    pub dir: Workdir,
}

impl Pair6Lab {
    /// Builds the lab; `a` and `b` name the two nodes' namespaces.
    pub fn new(a: &str, b: &str) -> anyhow::Result<Self> {
        let mut lan = Lan::new()?;
        lan.add_node("c", 1)?;
        lan.add_node(a, 11)?;
        lan.add_node(b, 12)?;
        for (i, n) in lan.nodes.iter().enumerate() {
            // One known link-local address per node, usable at once.
            n.ns.ip(&["-6", "addr", "flush", "dev", "eth0", "scope", "link"])?;
            let host = [1, 11, 12][i];
            let ll = format!("{}/64", link_local(host));
            n.ns.ip(&["-6", "addr", "add", &ll, "dev", "eth0", "nodad"])?;
        }
        lan.nodes[0].ns.ip(&[
            "-6",
            "addr",
            "add",
            &format!("{CLIENT6}/64"),
            "dev",
            "eth0",
            "nodad",
        ])?;
        let prober = NdpProber::open(&lan.nodes[0].ns, "eth0", lan.nodes[0].mac, CLIENT6)?;
        Ok(Self {
            lan,
            prober,
            dir: Workdir::new()?,
        })
    }

    /// The MAC of node `node`.
    #[must_use]
    pub fn mac(&self, node: usize) -> [u8; 6] {
        self.lan.nodes[node].mac
    }

    /// Waits up to `limit` until `mac` alone answers for the VIP in three probes in a row.
    #[must_use]
    pub fn settles_on(&self, mac: [u8; 6], limit: Duration) -> bool {
        let mut streak = 0;
        wait_for(limit, Duration::from_millis(1), || {
            let s = self.prober.probe(VIP6, Duration::from_millis(50)).ok()?;
            streak = if s.macs == [mac] { streak + 1 } else { 0 };
            (streak >= 3).then_some(())
        })
        .is_some()
    }
}

/// A havip TOML instance `V6` (VRID 52, `VRRPv3` at `centis` centiseconds) over IPv6 on `eth0`,
/// with the VIP `2001:db8::200/64`; adverts from `src`, to `peers` (multicast `ff02::12` when
/// empty).
#[must_use]
pub fn toml6(priority: u8, centis: u16, src: Ipv6Addr, peers: &[Ipv6Addr]) -> String {
    let peers: Vec<String> = peers
        .iter()
        .map(|p| format!("{:?}", p.to_string()))
        .collect();
    format!(
        "[[instance]]\nname = \"V6\"\ninterface = \"eth0\"\nvrid = 52\npriority = {priority}\n\
         version = 3\nadvert_interval = \"{}ms\"\nunicast_src_ip = \"{src}\"\n\
         unicast_peers = [{}]\nvirtual_ipaddresses = [\"{VIP6}/64\"]\n",
        u32::from(centis) * 10,
        peers.join(", ")
    )
}

/// The keepalived 2.2.7 instance `V6` that [`toml6`] describes (multicast), as keepalived.conf
/// text without `global_defs`.
#[must_use]
pub fn keepalived6(priority: u8, centis: u16, state: &str) -> String {
    format!(
        "vrrp_instance V6 {{\n    state {state}\n    interface eth0\n    virtual_router_id 52\n    \
         priority {priority}\n    advert_int {}\n    virtual_ipaddress {{\n        {VIP6}/64\n    \
         }}\n}}\n",
        f64::from(centis) / 100.0
    )
}
