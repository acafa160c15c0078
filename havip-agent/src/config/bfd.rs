//! `[bfd.NAME]`: keepalived's `bfd_instance NAME { ... }`, one BFD session (RFC 5880/5881)
//! that VRRP instances track with `track_bfds` (keepalived `track_bfd`).
//!
//! ```toml
//! [bfd.to_lb2]
//! neighbor_ip = "192.0.2.12"
//! min_rx = "10ms"
//! min_tx = "10ms"
//! multiplier = 5
//! ```
//!
//! keepalived writes the intervals as decimal milliseconds (`min_tx 10`, `min_rx 3.312`);
//! TOML writes them as durations. Defaults are keepalived's.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::duration::serde_duration;
use super::validate::{FieldPath, ValidationError};

/// keepalived `BFD_MINRX_DEFAULT` and `BFD_MINTX_DEFAULT`: 10 ms.
pub const DEFAULT_BFD_INTERVAL: Duration = Duration::from_millis(10);
/// keepalived `BFD_IDLETX_DEFAULT`: 1 s (RFC 5880 6.8.3 asks for at least 1 s while not Up).
pub const DEFAULT_BFD_IDLE_TX: Duration = Duration::from_secs(1);
/// keepalived `BFD_MULTIPLIER_DEFAULT`: 5.
pub const DEFAULT_BFD_MULTIPLIER: u8 = 5;
/// The largest interval the wire's 32-bit microsecond fields hold.
pub const MAX_BFD_INTERVAL: Duration = Duration::from_micros(u32::MAX as u64);

/// `[bfd.NAME]`: keepalived's `bfd_instance`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BfdInstance {
    /// keepalived `neighbor_ip`: the peer. Required.
    pub neighbor_ip: Ipv4Addr,
    /// keepalived `source_ip`: the local address packets are sent from. Default (none): the
    /// kernel's choice for the route to the neighbor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_ip: Option<Ipv4Addr>,
    /// keepalived `min_rx`: Required Min RX Interval. Default 10 ms.
    #[serde(default = "default_interval", with = "serde_duration")]
    pub min_rx: Duration,
    /// keepalived `min_tx`: Desired Min TX Interval while the session is Up. Default 10 ms.
    #[serde(default = "default_interval", with = "serde_duration")]
    pub min_tx: Duration,
    /// keepalived `idle_tx`: Desired Min TX Interval while it is not Up. Default 1 s.
    #[serde(default = "default_idle_tx", with = "serde_duration")]
    pub idle_tx: Duration,
    /// keepalived `multiplier`: Detect Mult, 1..=255. Default 5.
    #[serde(default = "default_multiplier")]
    pub multiplier: u8,
    /// keepalived `passive`: send nothing until the neighbor is heard. Default false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub passive: bool,
    /// keepalived `ttl`: IPv4 TTL of the packets sent. Default 255 (RFC 5881 5).
    #[serde(default = "default_ttl")]
    pub ttl: u8,
    /// keepalived `max_hops`: how far below 255 a received TTL may be; 255 turns the check
    /// off. Default 0 (RFC 5881 5: only TTL 255 is accepted).
    #[serde(default)]
    pub max_hops: u8,
    /// keepalived `weight`: the default weight of a `track_bfd` naming this instance,
    /// -253..=253; 0 puts the tracking instance in FAULT while the session is down.
    #[serde(default)]
    pub weight: i16,
    /// keepalived `weight N reverse`. Default false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reverse: bool,
    /// havip extension (TOML only): Required Min Echo RX Interval (RFC 5880 4.1, 6.4), the
    /// rate at which the neighbor may send Echo packets that the XDP program reflects. Default
    /// 0: no Echo. Set it only where the XDP program runs on the interface that leads to the
    /// neighbor: without it an Echo is not looped back, and the neighbor's Echo function
    /// fails.
    #[serde(
        default,
        with = "serde_duration",
        skip_serializing_if = "Duration::is_zero"
    )]
    pub echo_rx: Duration,
}

impl BfdInstance {
    /// A session with `neighbor_ip` and keepalived's defaults.
    pub fn new(neighbor_ip: Ipv4Addr) -> Self {
        Self {
            neighbor_ip,
            source_ip: None,
            min_rx: DEFAULT_BFD_INTERVAL,
            min_tx: DEFAULT_BFD_INTERVAL,
            idle_tx: DEFAULT_BFD_IDLE_TX,
            multiplier: DEFAULT_BFD_MULTIPLIER,
            passive: false,
            ttl: 255,
            max_hops: 0,
            weight: 0,
            reverse: false,
            echo_rx: Duration::ZERO,
        }
    }
}

fn default_interval() -> Duration {
    DEFAULT_BFD_INTERVAL
}
fn default_idle_tx() -> Duration {
    DEFAULT_BFD_IDLE_TX
}
fn default_multiplier() -> u8 {
    DEFAULT_BFD_MULTIPLIER
}
fn default_ttl() -> u8 {
    255
}

/// The checks of `[bfd.NAME]` and of what instances make of them: ranges, references from
/// `track_bfds`, and `master_down_on_bfd` having a session to reach the master with.
pub(super) fn validate(config: &super::Config) -> Vec<ValidationError> {
    let mut errors = Vec::new();
    let mut push =
        |path: FieldPath, message: String| errors.push(ValidationError { path, message });
    let mut neighbors: BTreeMap<Ipv4Addr, &str> = BTreeMap::new();
    for (name, b) in &config.bfd {
        let path = FieldPath::root().key("bfd").key(name.as_str());
        if name.is_empty() {
            push(
                path.clone(),
                "bfd instance name must not be empty".to_owned(),
            );
        }
        if b.neighbor_ip.is_unspecified() || b.neighbor_ip.is_multicast() {
            push(
                path.key("neighbor_ip"),
                format!("{} is not a unicast neighbor", b.neighbor_ip),
            );
        }
        if let Some(first) = neighbors.insert(b.neighbor_ip, name) {
            // One session per neighbor: RFC 5880 6.8.6 finds a Down packet's session by the
            // sender's address alone.
            push(
                path.key("neighbor_ip"),
                format!("{} is already the neighbor of bfd `{first}`", b.neighbor_ip),
            );
        }
        for (key, d, zero_ok) in [
            ("min_rx", b.min_rx, true),
            ("min_tx", b.min_tx, false),
            ("idle_tx", b.idle_tx, false),
            ("echo_rx", b.echo_rx, true),
        ] {
            if d > MAX_BFD_INTERVAL || (!zero_ok && d.is_zero()) {
                push(
                    path.key(key),
                    format!(
                        "{key} must be {} to {MAX_BFD_INTERVAL:?} (32 bits of microseconds)",
                        if zero_ok { "0" } else { "1us" }
                    ),
                );
            }
        }
        if b.multiplier == 0 {
            push(
                path.key("multiplier"),
                "multiplier must be 1..=255".to_owned(),
            );
        }
        if b.ttl == 0 {
            push(path.key("ttl"), "ttl must be 1..=255".to_owned());
        }
        if !(-253..=253).contains(&b.weight) {
            push(
                path.key("weight"),
                format!("weight {} is outside -253..=253", b.weight),
            );
        }
    }
    for (i, instance) in config.instances.iter().enumerate() {
        let path = FieldPath::instance(i);
        for (j, t) in instance.track_bfds.iter().enumerate() {
            if !config.bfd.contains_key(&t.name) {
                push(
                    path.key("track_bfds").index(j),
                    format!("track_bfd `{}` names no bfd instance", t.name),
                );
            }
            if let Some(w) = t.weight
                && !(-253..=253).contains(&w)
            {
                push(
                    path.key("track_bfds").index(j),
                    format!("weight {w} is outside -253..=253"),
                );
            }
        }
        if instance.master_down_on_bfd && instance.unicast_peers.is_empty() && config.bfd.is_empty()
        {
            push(
                path.key("master_down_on_bfd"),
                "master_down_on_bfd needs a BFD session to the master: a [bfd.NAME] whose \
                 neighbor_ip is the master's address, or unicast_peers (which get one each)"
                    .to_owned(),
            );
        }
    }
    errors.extend(validate_groups_and_size(config));
    errors
}

/// The sync groups' `track_bfds`, and the number of sessions the kernel's tables hold.
fn validate_groups_and_size(config: &super::Config) -> Vec<ValidationError> {
    let mut errors = Vec::new();
    let mut push =
        |path: FieldPath, message: String| errors.push(ValidationError { path, message });
    // The XDP program's BFD tables have a fixed size (automatic sessions beyond it run on the
    // socket alone, with a warning).
    let most = havip_common::capacity::BFD_PEERS as usize;
    if config.bfd.len() > most {
        push(
            FieldPath::root().key("bfd"),
            format!(
                "{} BFD sessions configured; at most {most} are supported",
                config.bfd.len()
            ),
        );
    }
    for (i, group) in config.sync_groups.iter().enumerate() {
        for (j, t) in group.track_bfds.iter().enumerate() {
            if !config.bfd.contains_key(&t.name) {
                push(
                    FieldPath::sync_group(i).key("track_bfds").index(j),
                    format!("track_bfd `{}` names no bfd instance", t.name),
                );
            }
        }
    }
    errors
}
