//! The native configuration model: one file, several VRRP instances, shaped one-to-one after
//! keepalived's `global_defs`, `vrrp_script`, `vrrp_instance` and `vrrp_sync_group`, with
//! keepalived's names (snake case) and keepalived's defaults.
//!
//! In TOML (see `havip-agent/tests/fixtures/config/*.toml` for complete files):
//!
//! ```toml
//! [global]
//! router_id = "lb-1"
//! metrics_addr = "127.0.0.1:9828"
//!
//! [scripts.checkhaproxy]
//! script = "/usr/bin/pgrep -x haproxy"
//! interval = "2s"
//! weight = -30
//!
//! [[instance]]
//! name = "VI_1"
//! interface = "eth0"
//! vrid = 51
//! priority = 80
//! virtual_ipaddresses = ["192.0.2.3/24", { address = "192.0.2.4/32", dev = "eth1" }]
//! track_scripts = ["checkhaproxy"]
//! ```
//!
//! Durations are strings with a unit (`"100ms"`, `"1s"`, `"1.5s"`, `"2m"`). Settings that
//! keepalived inherits from `global_defs` (the VRRP version, the GARP timings,
//! `v3_checksum_as_v2`) are inherited from `[global]` the same way when an `[[instance]]` does
//! not set them; that resolution happens when a file is loaded, so every [`Instance`] in a
//! loaded [`Config`] carries its effective values.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::str::FromStr;
use std::time::Duration;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::ser::{SerializeStruct, Serializer};
use serde::{Deserialize, Serialize};

use super::duration::{serde_duration, serde_opt_duration};

/// Default Prometheus endpoint: loopback only, port 9828.
pub const DEFAULT_METRICS_ADDR: SocketAddr =
    SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 9828);
/// keepalived `VRRP_PRIO_DFL` (RFC 3768 5.3.4): 100.
pub const DEFAULT_PRIORITY: u8 = 100;
/// keepalived `VRRP_ADVER_DFL` (RFC 3768 5.3.7): 1 s.
pub const DEFAULT_ADVERT_INTERVAL: Duration = Duration::from_secs(1);
/// keepalived `VRRP_GARP_DELAY`: a second burst of gratuitous ARPs 5 s after becoming MASTER.
pub const DEFAULT_GARP_MASTER_DELAY: Duration = Duration::from_secs(5);
/// keepalived `VRRP_GARP_REP`: 5 gratuitous ARPs per burst.
pub const DEFAULT_GARP_MASTER_REPEAT: u32 = 5;
/// keepalived `VRRP_GARP_REFRESH`: 0, no periodic refresh while MASTER.
pub const DEFAULT_GARP_MASTER_REFRESH: Duration = Duration::ZERO;
/// keepalived `VRRP_GARP_REFRESH_REP`: 1 gratuitous ARP per refresh.
pub const DEFAULT_GARP_MASTER_REFRESH_REPEAT: u32 = 1;
/// keepalived `vrrp_garp_interval` default: 0, no pause between gratuitous ARPs.
pub const DEFAULT_GARP_INTERVAL: Duration = Duration::ZERO;
/// keepalived `VRRP_SCRIPT_DI`: a `vrrp_script` runs every second.
pub const DEFAULT_SCRIPT_INTERVAL: Duration = Duration::from_secs(1);

/// A whole havip configuration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// `[global]`: process-wide settings and the defaults instances inherit.
    pub global: Global,
    /// `[scripts.NAME]`: keepalived's `vrrp_script NAME { ... }`, by name.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub scripts: BTreeMap<String, Script>,
    /// `[[instance]]`: keepalived's `vrrp_instance`, in file order.
    #[serde(rename = "instance", skip_serializing_if = "Vec::is_empty")]
    pub instances: Vec<Instance>,
    /// `[[sync_group]]`: keepalived's `vrrp_sync_group`, in file order.
    #[serde(rename = "sync_group", skip_serializing_if = "Vec::is_empty")]
    pub sync_groups: Vec<SyncGroup>,
    /// `[cloud]`: provider settings, see the cloud section of the documentation. Kept as a raw
    /// table here; the cloud module gives it its types.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cloud: Option<toml::Table>,
}

impl Config {
    /// The instance named `name`.
    pub fn instance(&self, name: &str) -> Option<&Instance> {
        self.instances.iter().find(|i| i.name == name)
    }
}

/// `[global]`: keepalived's `global_defs` items that matter to VRRP, plus havip's own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Global {
    /// keepalived `router_id`: a name for this node in logs and notifications. Default: none
    /// (the host name is used).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub router_id: Option<String>,
    /// Address of the Prometheus endpoint. Default `127.0.0.1:9828`.
    pub metrics_addr: SocketAddr,
    /// How long the XDP program keeps answering ARP for a VIP after the last advert this node
    /// sent as owner. Default (none): three advert intervals of the instance.
    #[serde(
        with = "serde_opt_duration",
        skip_serializing_if = "Option::is_none"
    )]
    pub lease: Option<Duration>,
    /// keepalived `vrrp_version`: the version of instances that do not set one. Default 2.
    pub vrrp_version: Version,
    /// keepalived global `v3_checksum_as_v2`: default of the instance setting. Default false.
    pub v3_checksum_as_v2: bool,
    /// keepalived `script_user`: user that runs scripts that name none. Default: none
    /// (keepalived: `keepalived_script` if it exists, else root).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub script_user: Option<String>,
    /// Group of `script_user`. Default: the user's primary group.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub script_group: Option<String>,
    /// keepalived `enable_script_security`: refuse scripts that a non-root user could modify
    /// when they run as root. Default false.
    pub enable_script_security: bool,
    /// keepalived `vrrp_garp_master_delay`: default of the instance setting. Default 5 s.
    #[serde(with = "serde_duration")]
    pub garp_master_delay: Duration,
    /// keepalived `vrrp_garp_master_repeat`: default of the instance setting. Default 5.
    pub garp_master_repeat: u32,
    /// keepalived `vrrp_garp_master_refresh`: default of the instance setting. Default 0 (off).
    #[serde(with = "serde_duration")]
    pub garp_master_refresh: Duration,
    /// keepalived `vrrp_garp_master_refresh_repeat`: default of the instance setting. Default 1.
    pub garp_master_refresh_repeat: u32,
    /// keepalived `vrrp_garp_interval`: default of the instance setting. Default 0.
    #[serde(with = "serde_duration")]
    pub garp_interval: Duration,
}

impl Default for Global {
    fn default() -> Self {
        Self {
            router_id: None,
            metrics_addr: DEFAULT_METRICS_ADDR,
            lease: None,
            vrrp_version: Version::V2,
            v3_checksum_as_v2: false,
            script_user: None,
            script_group: None,
            enable_script_security: false,
            garp_master_delay: DEFAULT_GARP_MASTER_DELAY,
            garp_master_repeat: DEFAULT_GARP_MASTER_REPEAT,
            garp_master_refresh: DEFAULT_GARP_MASTER_REFRESH,
            garp_master_refresh_repeat: DEFAULT_GARP_MASTER_REFRESH_REPEAT,
            garp_interval: DEFAULT_GARP_INTERVAL,
        }
    }
}

/// `[scripts.NAME]`: keepalived's `vrrp_script`, a periodic check whose exit status moves the
/// priority (non-zero `weight`) or puts tracking instances in FAULT (`weight` 0).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Script {
    /// Command line, split into words like keepalived does (whitespace separates words, single
    /// quotes keep spaces inside one). Required.
    pub script: String,
    /// Time between runs. Default 1 s.
    #[serde(default = "default_script_interval", with = "serde_duration")]
    pub interval: Duration,
    /// Time after which a run counts as failed. Default (none): the interval.
    #[serde(
        default,
        with = "serde_opt_duration",
        skip_serializing_if = "Option::is_none"
    )]
    pub timeout: Option<Duration>,
    /// Priority adjustment, -253..=253. Default 0: failure means FAULT.
    #[serde(default)]
    pub weight: i16,
    /// keepalived `weight N reverse`: adjust the priority the other way round. Default false.
    #[serde(default)]
    pub reverse: bool,
    /// Successes needed to count as up. Default 1.
    #[serde(default = "one")]
    pub rise: u32,
    /// Failures needed to count as down. Default 1.
    #[serde(default = "one")]
    pub fall: u32,
    /// User to run as. Default (none): `[global].script_user`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Group to run as. Default (none): the user's primary group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Consider the script failed until its first success. Default false.
    #[serde(default)]
    pub init_fail: bool,
}

impl Script {
    /// A script with keepalived's defaults.
    pub fn new(script: impl Into<String>) -> Self {
        Self {
            script: script.into(),
            interval: DEFAULT_SCRIPT_INTERVAL,
            timeout: None,
            weight: 0,
            reverse: false,
            rise: 1,
            fall: 1,
            user: None,
            group: None,
            init_fail: false,
        }
    }

    /// The effective timeout: `timeout`, or the interval when unset (keepalived's rule).
    pub fn effective_timeout(&self) -> Duration {
        self.timeout.unwrap_or(self.interval)
    }
}

/// `[[instance]]`: keepalived's `vrrp_instance`, one virtual router on one interface.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Instance {
    /// Instance name (keepalived `vrrp_instance NAME`). Required, unique.
    pub name: String,
    /// Initial state (`MASTER` or `BACKUP`). Default `BACKUP`.
    #[serde(default)]
    pub state: InitialState,
    /// Interface the adverts go out of. Required.
    pub interface: String,
    /// Virtual router id (keepalived `virtual_router_id`), 1..=255. Required; unique per
    /// interface.
    pub vrid: u8,
    /// Priority, 1..=255 (255: address owner). Default 100.
    #[serde(default = "default_priority")]
    pub priority: u8,
    /// Advert interval (keepalived `advert_int`). VRRPv2: whole seconds, 1..=255 s; VRRPv3:
    /// 10 ms steps, 10 ms..=40.95 s. Default 1 s.
    #[serde(default = "default_advert_interval", with = "serde_duration")]
    pub advert_interval: Duration,
    /// VRRP version. Default: `[global].vrrp_version`.
    #[serde(default)]
    pub version: Version,
    /// Whether a higher priority node takes over from a lower priority master (keepalived
    /// `nopreempt` sets false). Default true.
    #[serde(default = "yes")]
    pub preempt: bool,
    /// Delay before preempting (keepalived `preempt_delay`), 0..=1000 s. Default 0.
    #[serde(default, with = "serde_duration")]
    pub preempt_delay: Duration,
    /// Source address of adverts (keepalived `unicast_src_ip`, or `mcast_src_ip`). Default
    /// (none): the interface's primary address, found at run time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unicast_src_ip: Option<Ipv4Addr>,
    /// Unicast peers (keepalived `unicast_peer`). Empty: multicast to 224.0.0.18. When set,
    /// adverts from other sources are dropped.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unicast_peers: Vec<Ipv4Addr>,
    /// The virtual addresses (keepalived `virtual_ipaddress`).
    #[serde(default)]
    pub virtual_ipaddresses: Vec<VirtualAddress>,
    /// VRRPv2 simple password authentication (keepalived `authentication`). Default: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<Auth>,
    /// VRRPv3 over IPv4: compute the checksum without the pseudo-header, as VRRPv2 does.
    /// Default: `[global].v3_checksum_as_v2`.
    #[serde(default)]
    pub v3_checksum_as_v2: bool,
    /// Add and remove the VIP addresses on the interface with netlink (havip only; turn off
    /// when the cloud or another tool owns the addresses). Default true.
    #[serde(default = "yes")]
    pub manage_addresses: bool,
    /// Delay of the second burst of gratuitous ARPs after becoming MASTER; 0: no second burst.
    /// Default: `[global].garp_master_delay` (5 s).
    #[serde(default = "default_garp_master_delay", with = "serde_duration")]
    pub garp_master_delay: Duration,
    /// Gratuitous ARPs per burst. Default: `[global].garp_master_repeat` (5).
    #[serde(default = "default_garp_master_repeat")]
    pub garp_master_repeat: u32,
    /// Period of gratuitous ARP refreshes while MASTER; 0: off. Default:
    /// `[global].garp_master_refresh` (0).
    #[serde(default, with = "serde_duration")]
    pub garp_master_refresh: Duration,
    /// Gratuitous ARPs per refresh. Default: `[global].garp_master_refresh_repeat` (1).
    #[serde(default = "one")]
    pub garp_master_refresh_repeat: u32,
    /// Pause between two gratuitous ARPs. Default: `[global].garp_interval` (0).
    #[serde(default, with = "serde_duration")]
    pub garp_interval: Duration,
    /// Do not go to FAULT when `interface` goes down (keepalived `dont_track_primary`).
    /// Default false.
    #[serde(default)]
    pub dont_track_primary: bool,
    /// Interfaces whose state is tracked (keepalived `track_interface`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub track_interfaces: Vec<TrackInterface>,
    /// Scripts whose result is tracked (keepalived `track_script`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub track_scripts: Vec<TrackScript>,
    /// Run on transition to MASTER.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify_master: Option<Command>,
    /// Run on transition to BACKUP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify_backup: Option<Command>,
    /// Run on transition to FAULT.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify_fault: Option<Command>,
    /// Run when the instance stops.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify_stop: Option<Command>,
    /// Run on every transition, after the specific one, with keepalived's four extra arguments
    /// (`INSTANCE`, name, state, priority).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify: Option<Command>,
}

impl Instance {
    /// An instance with keepalived's defaults.
    pub fn new(name: impl Into<String>, interface: impl Into<String>, vrid: u8) -> Self {
        Self {
            name: name.into(),
            state: InitialState::Backup,
            interface: interface.into(),
            vrid,
            priority: DEFAULT_PRIORITY,
            advert_interval: DEFAULT_ADVERT_INTERVAL,
            version: Version::V2,
            preempt: true,
            preempt_delay: Duration::ZERO,
            unicast_src_ip: None,
            unicast_peers: Vec::new(),
            virtual_ipaddresses: Vec::new(),
            auth: None,
            v3_checksum_as_v2: false,
            manage_addresses: true,
            garp_master_delay: DEFAULT_GARP_MASTER_DELAY,
            garp_master_repeat: DEFAULT_GARP_MASTER_REPEAT,
            garp_master_refresh: DEFAULT_GARP_MASTER_REFRESH,
            garp_master_refresh_repeat: DEFAULT_GARP_MASTER_REFRESH_REPEAT,
            garp_interval: DEFAULT_GARP_INTERVAL,
            dont_track_primary: false,
            track_interfaces: Vec::new(),
            track_scripts: Vec::new(),
            notify_master: None,
            notify_backup: None,
            notify_fault: None,
            notify_stop: None,
            notify: None,
        }
    }

    /// Applies the `[global]` defaults of the inherited settings, as keepalived copies its
    /// `global_defs` values into each instance.
    pub(crate) fn inherit(&mut self, global: &Global, setting: Inherited) {
        match setting {
            Inherited::Version => self.version = global.vrrp_version,
            Inherited::V3ChecksumAsV2 => self.v3_checksum_as_v2 = global.v3_checksum_as_v2,
            Inherited::GarpMasterDelay => self.garp_master_delay = global.garp_master_delay,
            Inherited::GarpMasterRepeat => self.garp_master_repeat = global.garp_master_repeat,
            Inherited::GarpMasterRefresh => self.garp_master_refresh = global.garp_master_refresh,
            Inherited::GarpMasterRefreshRepeat => {
                self.garp_master_refresh_repeat = global.garp_master_refresh_repeat;
            }
            Inherited::GarpInterval => self.garp_interval = global.garp_interval,
        }
    }
}

/// Instance settings whose default comes from `[global]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Inherited {
    Version,
    V3ChecksumAsV2,
    GarpMasterDelay,
    GarpMasterRepeat,
    GarpMasterRefresh,
    GarpMasterRefreshRepeat,
    GarpInterval,
}

impl Inherited {
    /// Every inherited setting with its instance key.
    pub(crate) const ALL: [(Inherited, &'static str); 7] = [
        (Inherited::Version, "version"),
        (Inherited::V3ChecksumAsV2, "v3_checksum_as_v2"),
        (Inherited::GarpMasterDelay, "garp_master_delay"),
        (Inherited::GarpMasterRepeat, "garp_master_repeat"),
        (Inherited::GarpMasterRefresh, "garp_master_refresh"),
        (Inherited::GarpMasterRefreshRepeat, "garp_master_refresh_repeat"),
        (Inherited::GarpInterval, "garp_interval"),
    ];
}

/// `[[sync_group]]`: keepalived's `vrrp_sync_group`, instances that change state together.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncGroup {
    /// Group name. Required, unique.
    pub name: String,
    /// Member instance names (keepalived `group { ... }`). Required, at least one.
    pub instances: Vec<String>,
    /// Interfaces tracked for all members.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub track_interfaces: Vec<TrackInterface>,
    /// Scripts tracked for all members.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub track_scripts: Vec<TrackScript>,
    /// Run when the group becomes MASTER.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify_master: Option<Command>,
    /// Run when the group becomes BACKUP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify_backup: Option<Command>,
    /// Run when the group goes to FAULT.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify_fault: Option<Command>,
    /// Run when the group stops.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify_stop: Option<Command>,
    /// Run on every transition of the group (extra arguments `GROUP`, name, state, priority).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify: Option<Command>,
}

/// VRRP protocol version; written as the integer `2` or `3`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Version {
    /// VRRPv2, RFC 3768 (keepalived's default).
    #[default]
    V2,
    /// VRRPv3, RFC 9568.
    V3,
}

impl Version {
    /// The version number on the wire.
    pub fn number(self) -> u8 {
        match self {
            Version::V2 => 2,
            Version::V3 => 3,
        }
    }

    /// The version with that number.
    pub fn from_number(n: i64) -> Option<Self> {
        match n {
            2 => Some(Version::V2),
            3 => Some(Version::V3),
            _ => None,
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.number())
    }
}

impl Serialize for Version {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u8(self.number())
    }
}

impl<'de> Deserialize<'de> for Version {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Version;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("VRRP version 2 or 3")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Version, E> {
                Version::from_number(v)
                    .ok_or_else(|| E::custom(format!("VRRP version must be 2 or 3, not {v}")))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Version, E> {
                self.visit_i64(i64::try_from(v).unwrap_or(i64::MAX))
            }
        }
        deserializer.deserialize_i64(V)
    }
}

/// Initial state of an instance, with keepalived's words.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum InitialState {
    /// Start as MASTER (immediately only with priority 255, keepalived's rule).
    Master,
    /// Start as BACKUP and wait for the master-down timer.
    #[default]
    Backup,
}

/// VRRPv2 authentication (RFC 2338 5.3.6): only the simple password is supported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Auth {
    /// The authentication type, `"PASS"`.
    #[serde(rename = "type")]
    pub kind: AuthType,
    /// The password, at most 8 bytes.
    pub pass: String,
}

/// VRRPv2 authentication types havip implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AuthType {
    /// Simple text password (keepalived `auth_type PASS`). `AH` is not supported.
    #[serde(rename = "PASS")]
    Pass,
}

/// A virtual address: `"192.0.2.3/24"`, or a table
/// `{ address = "192.0.2.4/32", dev = "eth1", label = "eth1:vip" }`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct VirtualAddress {
    /// The address.
    pub address: Ipv4Addr,
    /// Prefix length, 0..=32. Default 32 when written without one (keepalived's rule).
    pub prefix_len: u8,
    /// Interface to add it to. Default: the instance's interface.
    pub dev: Option<String>,
    /// Address label (`eth0:1` style). Default: none.
    pub label: Option<String>,
}

impl VirtualAddress {
    /// `address/prefix_len` on the instance's interface, no label.
    pub fn new(address: Ipv4Addr, prefix_len: u8) -> Self {
        Self {
            address,
            prefix_len,
            dev: None,
            label: None,
        }
    }
}

/// Why an address could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    /// Not an IPv4 address.
    #[error("`{input}` is not an IPv4 address")]
    NotIpv4 {
        /// The text as written.
        input: String,
    },
    /// An IPv6 address, which havip does not support.
    #[error("`{input}` is an IPv6 address; havip supports IPv4 virtual addresses only")]
    Ipv6 {
        /// The text as written.
        input: String,
    },
    /// A prefix length that is not 0..=32.
    #[error("prefix length in `{input}` must be 0..=32")]
    Prefix {
        /// The text as written.
        input: String,
    },
}

impl FromStr for VirtualAddress {
    type Err = AddressError;

    fn from_str(s: &str) -> Result<Self, AddressError> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let address = parse_ipv4(addr).map_err(|e| match e {
            AddressError::Ipv6 { .. } => AddressError::Ipv6 {
                input: s.to_owned(),
            },
            _ => AddressError::NotIpv4 {
                input: s.to_owned(),
            },
        })?;
        let prefix_len = match prefix {
            None => 32,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|&n| n <= 32 && !p.starts_with('+'))
                .ok_or_else(|| AddressError::Prefix {
                    input: s.to_owned(),
                })?,
        };
        Ok(Self::new(address, prefix_len))
    }
}

/// Parses an IPv4 address, telling IPv6 apart for a better message.
pub(crate) fn parse_ipv4(s: &str) -> Result<Ipv4Addr, AddressError> {
    match s.parse::<IpAddr>() {
        Ok(IpAddr::V4(a)) => Ok(a),
        Ok(IpAddr::V6(_)) => Err(AddressError::Ipv6 {
            input: s.to_owned(),
        }),
        Err(_) => Err(AddressError::NotIpv4 {
            input: s.to_owned(),
        }),
    }
}

impl fmt::Display for VirtualAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.address, self.prefix_len)
    }
}

/// The table form of a [`VirtualAddress`].
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VirtualAddressTable {
    address: String,
    dev: Option<String>,
    label: Option<String>,
}

impl TryFrom<VirtualAddressTable> for VirtualAddress {
    type Error = AddressError;

    fn try_from(t: VirtualAddressTable) -> Result<Self, AddressError> {
        Ok(Self {
            dev: t.dev,
            label: t.label,
            ..t.address.parse()?
        })
    }
}

impl Serialize for VirtualAddress {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.dev.is_none() && self.label.is_none() {
            return serializer.collect_str(self);
        }
        let mut s = serializer.serialize_struct("VirtualAddress", 3)?;
        s.serialize_field("address", &self.to_string())?;
        if let Some(dev) = &self.dev {
            s.serialize_field("dev", dev)?;
        }
        if let Some(label) = &self.label {
            s.serialize_field("label", label)?;
        }
        s.end()
    }
}

impl<'de> Deserialize<'de> for VirtualAddress {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        str_or_table::<D, Self, VirtualAddressTable>(
            deserializer,
            "an address like \"192.0.2.3/24\" or a table { address, dev, label }",
        )
    }
}

/// An interface whose state is tracked: `"eth1"` or `{ name = "eth1", weight = -20 }`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TrackInterface {
    /// Interface name.
    pub name: String,
    /// Priority adjustment, -253..=253. Default 0: interface down means FAULT.
    pub weight: i16,
    /// Adjust the priority the other way round (keepalived `reverse`). Default false.
    pub reverse: bool,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TrackInterfaceTable {
    name: String,
    #[serde(default)]
    weight: i16,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    reverse: bool,
}

impl TryFrom<TrackInterfaceTable> for TrackInterface {
    type Error = std::convert::Infallible;

    fn try_from(t: TrackInterfaceTable) -> Result<Self, Self::Error> {
        Ok(Self {
            name: t.name,
            weight: t.weight,
            reverse: t.reverse,
        })
    }
}

impl Serialize for TrackInterface {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.weight == 0 && !self.reverse {
            return serializer.serialize_str(&self.name);
        }
        TrackInterfaceTable {
            name: self.name.clone(),
            weight: self.weight,
            reverse: self.reverse,
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for TrackInterface {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        str_or_table::<D, Self, TrackInterfaceTable>(
            deserializer,
            "an interface name or a table { name, weight, reverse }",
        )
    }
}

/// A tracked script: `"checkhaproxy"` or `{ name = "checkhaproxy", weight = -30 }`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TrackScript {
    /// Name of a `[scripts.NAME]` entry.
    pub name: String,
    /// Priority adjustment, -253..=253. Default (none): the script's weight.
    pub weight: Option<i16>,
    /// `reverse` / `noreverse`. Default (none): the script's setting.
    pub reverse: Option<bool>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TrackScriptTable {
    name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    weight: Option<i16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reverse: Option<bool>,
}

impl TryFrom<TrackScriptTable> for TrackScript {
    type Error = std::convert::Infallible;

    fn try_from(t: TrackScriptTable) -> Result<Self, Self::Error> {
        Ok(Self {
            name: t.name,
            weight: t.weight,
            reverse: t.reverse,
        })
    }
}

impl Serialize for TrackScript {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.weight.is_none() && self.reverse.is_none() {
            return serializer.serialize_str(&self.name);
        }
        TrackScriptTable {
            name: self.name.clone(),
            weight: self.weight,
            reverse: self.reverse,
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for TrackScript {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        str_or_table::<D, Self, TrackScriptTable>(
            deserializer,
            "a script name or a table { name, weight, reverse }",
        )
    }
}

/// A notify command: `"/etc/havip/notify.sh master"`, or
/// `{ command = "...", user = "havip", group = "havip" }`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Command {
    /// Command line, split into words like keepalived does (whitespace separates words, single
    /// quotes keep spaces inside one).
    pub command: String,
    /// User to run as. Default (none): `[global].script_user`.
    pub user: Option<String>,
    /// Group to run as. Default (none): the user's primary group.
    pub group: Option<String>,
}

impl Command {
    /// A command run as the default script user.
    pub fn new(command: impl Into<String>) -> Self {
        Self {
            command: command.into(),
            user: None,
            group: None,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CommandTable {
    command: String,
    user: Option<String>,
    group: Option<String>,
}

impl TryFrom<CommandTable> for Command {
    type Error = std::convert::Infallible;

    fn try_from(t: CommandTable) -> Result<Self, Self::Error> {
        Ok(Self {
            command: t.command,
            user: t.user,
            group: t.group,
        })
    }
}

impl FromStr for Command {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self::new(s))
    }
}

impl Serialize for Command {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.user.is_none() && self.group.is_none() {
            return serializer.serialize_str(&self.command);
        }
        let mut s = serializer.serialize_struct("Command", 3)?;
        s.serialize_field("command", &self.command)?;
        if let Some(user) = &self.user {
            s.serialize_field("user", user)?;
        }
        if let Some(group) = &self.group {
            s.serialize_field("group", group)?;
        }
        s.end()
    }
}

impl<'de> Deserialize<'de> for Command {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        str_or_table::<D, Self, CommandTable>(
            deserializer,
            "a command line or a table { command, user, group }",
        )
    }
}

/// Deserializes `T` from a string (through `FromStr`) or from its table form `Tb`.
fn str_or_table<'de, D, T, Tb>(deserializer: D, expecting: &'static str) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr,
    T::Err: fmt::Display,
    Tb: Deserialize<'de>,
    T: TryFrom<Tb>,
    <T as TryFrom<Tb>>::Error: fmt::Display,
{
    struct V<T, Tb>(&'static str, std::marker::PhantomData<(T, Tb)>);

    impl<'de, T, Tb> Visitor<'de> for V<T, Tb>
    where
        T: FromStr + TryFrom<Tb>,
        T::Err: fmt::Display,
        <T as TryFrom<Tb>>::Error: fmt::Display,
        Tb: Deserialize<'de>,
    {
        type Value = T;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.0)
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
            v.parse().map_err(E::custom)
        }

        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
            let table = Tb::deserialize(de::value::MapAccessDeserializer::new(map))?;
            T::try_from(table).map_err(de::Error::custom)
        }
    }

    deserializer.deserialize_any(V::<T, Tb>(expecting, std::marker::PhantomData))
}

impl FromStr for TrackInterface {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self {
            name: s.to_owned(),
            weight: 0,
            reverse: false,
        })
    }
}

impl FromStr for TrackScript {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self {
            name: s.to_owned(),
            weight: None,
            reverse: None,
        })
    }
}

fn default_priority() -> u8 {
    DEFAULT_PRIORITY
}
fn default_advert_interval() -> Duration {
    DEFAULT_ADVERT_INTERVAL
}
fn default_garp_master_delay() -> Duration {
    DEFAULT_GARP_MASTER_DELAY
}
fn default_garp_master_repeat() -> u32 {
    DEFAULT_GARP_MASTER_REPEAT
}
fn default_script_interval() -> Duration {
    DEFAULT_SCRIPT_INTERVAL
}
fn one() -> u32 {
    1
}
fn yes() -> bool {
    true
}
