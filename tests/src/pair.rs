//! The lab most namespace tests share: one bridge with a client (192.0.2.1) that probes the VIP
//! with ARP, node a (192.0.2.11) and node b (192.0.2.12), and a work directory for their files.

use std::{net::Ipv4Addr, time::Duration};

use crate::{
    agents::Workdir,
    netns::{Lan, wait_for},
    prober::ArpProber,
};

/// The client's address.
pub const CLIENT: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
/// Node index of a on [`PairLab::lan`].
pub const NODE_A: usize = 1;
/// Node index of b on [`PairLab::lan`].
pub const NODE_B: usize = 2;

/// Client, a and b. Fields drop in order: the directory last, after the namespaces (and what
/// ran in them).
#[derive(Debug)]
pub struct PairLab {
    /// The bridge and the three nodes (client, a, b).
    pub lan: Lan,
    /// ARP prober on the client.
    pub prober: ArpProber,
    /// Configuration and log files of what runs in the nodes.
    pub dir: Workdir,
}

impl PairLab {
    /// Builds the lab; `a` and `b` name the two nodes' namespaces.
    pub fn new(a: &str, b: &str) -> anyhow::Result<Self> {
        Self::with_hosts((a, 11), (b, 12))
    }

    /// Builds the lab with a and b at `192.0.2.<host>` (for files whose addresses are mapped
    /// octet for octet into the test range); `(name, host)` each.
    pub fn with_hosts(a: (&str, u8), b: (&str, u8)) -> anyhow::Result<Self> {
        let mut lan = Lan::new()?;
        lan.add_node("c", 1)?;
        lan.add_node(a.0, a.1)?;
        lan.add_node(b.0, b.1)?;
        let prober = ArpProber::open(&lan.nodes[0].ns, "eth0", CLIENT)?;
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

    /// Waits up to `limit` until `mac` alone answers for `addr` in three probes in a row.
    #[must_use]
    pub fn settles_on(&self, addr: Ipv4Addr, mac: [u8; 6], limit: Duration) -> bool {
        let mut streak = 0;
        wait_for(limit, Duration::from_millis(1), || {
            let s = self.prober.probe(addr, Duration::from_millis(50)).ok()?;
            streak = if s.macs == [mac] { streak + 1 } else { 0 };
            (streak >= 3).then_some(())
        })
        .is_some()
    }
}
