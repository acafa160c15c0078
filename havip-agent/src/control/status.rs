//! The status snapshot (`havip-agent status`, `--json`) and its human-readable form.

use std::{
    collections::BTreeMap,
    fmt::Write as _,
    net::{IpAddr, Ipv4Addr},
    time::Duration,
};

use serde::{Deserialize, Serialize};

/// Everything `havip-agent status` shows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    /// keepalived `router_id`, if set.
    pub router_id: Option<String>,
    /// Agent version.
    pub version: String,
    /// One entry per instance, in configuration order.
    pub instances: Vec<InstanceStatus>,
    /// Kernel counters summed over CPUs (non-zero ones).
    pub kernel_counters: BTreeMap<String, u64>,
    /// BFD sessions (RFC 5880), in configuration order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bfd: Vec<BfdStatus>,
    /// The data plane's hook per interface: `xdp` or `tc` (issue #15).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub dataplane: BTreeMap<String, String>,
}

/// One BFD session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BfdStatus {
    /// `bfd_instance` name.
    pub name: String,
    /// Neighbor address.
    pub neighbor: Ipv4Addr,
    /// `admin_down`, `down`, `init` or `up`.
    pub state: String,
    /// Local diagnostic of the last change (RFC 5880 4.1 names in snake case).
    pub diag: String,
    /// Local and remote discriminators.
    pub discriminators: (u32, u32),
    /// Agreed transmit interval, microseconds.
    pub tx_interval_us: u64,
    /// Agreed receive interval, microseconds.
    pub rx_interval_us: u64,
    /// Detection time, microseconds (none before the neighbor is heard).
    pub detection_time_us: Option<u64>,
}

/// One instance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceStatus {
    /// Name.
    pub name: String,
    /// Interface.
    pub interface: String,
    /// VRID.
    pub vrid: u8,
    /// `INIT`, `BACKUP`, `MASTER` or `FAULT`.
    pub state: String,
    /// Configured priority.
    pub priority: u8,
    /// Priority after tracking.
    pub effective_priority: u8,
    /// The master as last heard (address and priority); this node when master.
    pub master: Option<(IpAddr, u8)>,
    /// Whether the XDP program answers for the VIPs right now (grant, lease, no fence).
    pub owned_in_kernel: bool,
    /// The VIPs.
    pub vips: Vec<String>,
    /// The last transition.
    pub last_transition: Option<TransitionStatus>,
    /// Tracked objects.
    pub tracked: Vec<TrackedStatus>,
    /// Adverts sent.
    pub adverts_sent: u64,
    /// Gratuitous ARPs sent.
    pub garps_sent: u64,
}

/// A transition.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransitionStatus {
    /// From.
    pub from: String,
    /// To.
    pub to: String,
    /// Why.
    pub reason: String,
    /// How long ago, in milliseconds.
    pub ago_ms: u64,
}

/// A tracked object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackedStatus {
    /// `interface eth0`, `script chk`.
    pub object: String,
    /// Weight (0: FAULT when down).
    pub weight: i16,
    /// Up now.
    pub up: bool,
}

impl Status {
    /// The human-readable form.
    #[must_use]
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "havip {}{}",
            self.version,
            self.router_id
                .as_deref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default()
        );
        for i in &self.instances {
            let _ = writeln!(
                out,
                "\n{} ({} vrid {}): {}  priority {} (configured {})  kernel owner: {}",
                i.name,
                i.interface,
                i.vrid,
                i.state,
                i.effective_priority,
                i.priority,
                if i.owned_in_kernel { "yes" } else { "no" }
            );
            let master = i.master.map_or_else(
                || "unknown".to_owned(),
                |(a, p)| format!("{a} priority {p}"),
            );
            let _ = writeln!(out, "  master: {master}  VIPs: {}", i.vips.join(" "));
            if let Some(t) = &i.last_transition {
                let _ = writeln!(
                    out,
                    "  last transition: {} -> {} ({}), {:.1} s ago",
                    t.from,
                    t.to,
                    t.reason,
                    Duration::from_millis(t.ago_ms).as_secs_f64()
                );
            }
            for t in &i.tracked {
                let _ = writeln!(
                    out,
                    "  tracks {}: {} (weight {})",
                    t.object,
                    if t.up { "up" } else { "DOWN" },
                    t.weight
                );
            }
            let _ = writeln!(
                out,
                "  adverts sent: {}  gratuitous ARPs sent: {}",
                i.adverts_sent, i.garps_sent
            );
        }
        for b in &self.bfd {
            let detect = b
                .detection_time_us
                .map_or_else(|| "-".to_owned(), |d| format!("{:.3} ms", ms(d)));
            let _ = writeln!(
                out,
                "\nbfd {} ({}): {}  diag {}  tx {:.3} ms  rx {:.3} ms  detection {detect}  discr {}/{}",
                b.name,
                b.neighbor,
                b.state,
                b.diag,
                ms(b.tx_interval_us),
                ms(b.rx_interval_us),
                b.discriminators.0,
                b.discriminators.1,
            );
        }
        if !self.dataplane.is_empty() {
            let line: Vec<String> = self
                .dataplane
                .iter()
                .map(|(i, m)| format!("{i}={m}"))
                .collect();
            let _ = writeln!(out, "\ndata plane: {}", line.join(" "));
        }
        if !self.kernel_counters.is_empty() {
            let line: Vec<String> = self
                .kernel_counters
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            let _ = writeln!(out, "\nkernel counters: {}", line.join(" "));
        }
        out
    }
}

/// Microseconds as fractional milliseconds, for display.
#[expect(
    clippy::cast_precision_loss,
    reason = "display only; intervals are far below 2^52 us"
)]
fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_and_round_trips() {
        let s = Status {
            router_id: Some("lb-1".into()),
            version: "0.1.0".into(),
            instances: vec![InstanceStatus {
                name: "VI_1".into(),
                interface: "eth0".into(),
                vrid: 51,
                state: "MASTER".into(),
                priority: 150,
                effective_priority: 120,
                master: Some((Ipv4Addr::new(192, 0, 2, 11).into(), 120)),
                owned_in_kernel: true,
                vips: vec!["192.0.2.200/32".into()],
                last_transition: Some(TransitionStatus {
                    from: "BACKUP".into(),
                    to: "MASTER".into(),
                    reason: "master down timer expired".into(),
                    ago_ms: 1500,
                }),
                tracked: vec![TrackedStatus {
                    object: "script chk".into(),
                    weight: -30,
                    up: false,
                }],
                adverts_sent: 10,
                garps_sent: 5,
            }],
            kernel_counters: BTreeMap::from([("arp_replied".into(), 3)]),
            bfd: vec![BfdStatus {
                name: "to_b".into(),
                neighbor: Ipv4Addr::new(192, 0, 2, 12),
                state: "up".into(),
                diag: "none".into(),
                discriminators: (7, 9),
                tx_interval_us: 10_000,
                rx_interval_us: 1_000,
                detection_time_us: Some(3_000),
            }],
            dataplane: BTreeMap::from([("eth0".into(), "tc".into())]),
        };
        let text = s.render();
        assert!(text.contains("data plane: eth0=tc"), "{text}");
        assert!(
            text.contains("bfd to_b (192.0.2.12): up  diag none  tx 10.000 ms  rx 1.000 ms  detection 3.000 ms"),
            "{text}"
        );
        assert!(text.contains("VI_1 (eth0 vrid 51): MASTER  priority 120 (configured 150)"));
        assert!(text.contains("tracks script chk: DOWN (weight -30)"));
        assert!(text.contains("1.5 s ago"));
        let json = serde_json::to_string(&s).expect("json");
        assert_eq!(serde_json::from_str::<Status>(&json).expect("parse"), s);
    }
}
