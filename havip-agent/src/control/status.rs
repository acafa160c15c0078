//! The status snapshot (`havip-agent status`, `--json`) and its human-readable form.

use std::{collections::BTreeMap, fmt::Write as _, net::Ipv4Addr, time::Duration};

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
    pub master: Option<(Ipv4Addr, u8)>,
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
                master: Some((Ipv4Addr::new(192, 0, 2, 11), 120)),
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
        };
        let text = s.render();
        assert!(text.contains("VI_1 (eth0 vrid 51): MASTER  priority 120 (configured 150)"));
        assert!(text.contains("tracks script chk: DOWN (weight -30)"));
        assert!(text.contains("1.5 s ago"));
        let json = serde_json::to_string(&s).expect("json");
        assert_eq!(serde_json::from_str::<Status>(&json).expect("parse"), s);
    }
}
