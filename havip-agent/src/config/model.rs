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
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::duration::{serde_duration, serde_opt_duration};
use super::values::{
    Auth, Command, InitialState, TrackInterface, TrackScript, Version, VirtualAddress,
};

/// Default Prometheus endpoint: loopback only, port 9828.
pub const DEFAULT_METRICS_ADDR: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 9828);
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
    /// `[bfd.NAME]`: keepalived's `bfd_instance NAME { ... }`, by name.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub bfd: BTreeMap<String, super::bfd::BfdInstance>,
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
#[expect(
    clippy::struct_excessive_bools,
    reason = "independent on/off settings, each one TOML boolean or keepalived keyword"
)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Global {
    /// keepalived `router_id`: a name for this node in logs and notifications. Default: none
    /// (the host name is used).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub router_id: Option<String>,
    /// Address of the Prometheus endpoint. Default `127.0.0.1:9828`.
    pub metrics_addr: SocketAddr,
    /// The hook the data plane runs on: `xdp` (default, exclusive), `tc` (beside other XDP
    /// programs), `auto` (per interface), `xdp-multiprog` (refused: not implemented). The
    /// command line's `--dataplane` overrides it.
    #[serde(skip_serializing_if = "crate::dataplane::DataplaneMode::is_xdp")]
    pub dataplane: crate::dataplane::DataplaneMode,
    /// How long the XDP program keeps answering ARP for a VIP after this node last renewed its
    /// ownership (every advert it sends as master). Default (none): two advert intervals of
    /// each instance. Must be shorter than three advert intervals of every instance: a peer
    /// takes over after its `Master_Down_Interval`, 3 x our advert interval plus its skew
    /// (RFC 3768 6.1, RFC 9568 6.1), and a hung master must stop answering before then.
    #[serde(with = "serde_opt_duration", skip_serializing_if = "Option::is_none")]
    pub lease: Option<Duration>,
    /// Accept a configuration without any instance on reload. Default false: a reload to a
    /// file without instances (emptied by mistake, or an include gone missing) is refused and
    /// logged, since it would resign every VIP; loading such a file at start is allowed.
    pub allow_no_instances: bool,
    /// Upper bound on the advert interval a `VRRPv3` backup learns from its master
    /// (`Master_Adver_Interval`, RFC 9568 6.1); a larger advertised interval is clamped and
    /// counted (`havip_learned_interval_clamped_total`). Default (none): 4 x each instance's
    /// own `advert_interval`, so a spoofed Max Adver Int of 40.95 s cannot stretch the
    /// takeover to minutes. Never below an instance's own interval.
    #[serde(with = "serde_opt_duration", skip_serializing_if = "Option::is_none")]
    pub max_learned_interval: Option<Duration>,
    /// Shortest time between two bursts of gratuitous ARP that lower-priority adverts
    /// trigger on a master (keepalived's `garp_lower_prio_*`); bursts in between are left out
    /// and counted (`havip_garps_suppressed_total`). Default 1 s; `"0s"` sends one burst per
    /// lower-priority advert, as keepalived does.
    #[serde(with = "serde_opt_duration", skip_serializing_if = "Option::is_none")]
    pub garp_lower_prio_holdoff: Option<Duration>,
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
    /// keepalived `vrrp_rt_priority`: run the election thread under `SCHED_FIFO` at this
    /// priority (1..=99), so a busy host cannot delay an advert or a takeover. Default: none
    /// (normal scheduling). Needs `CAP_SYS_NICE` or `LimitRTPRIO`; refused, it is a warning.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rt_priority: Option<RtPriority>,
    /// keepalived `vrrp_no_swap`: lock the agent's memory (`mlockall`), so no page of the
    /// election is ever read back from swap. Default false. Needs `CAP_IPC_LOCK` or
    /// `LimitMEMLOCK`; refused, it is a warning.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub lock_memory: bool,
}

/// A `SCHED_FIFO` priority, 1 (lowest) to 99 (highest), as `sched_setscheduler(2)` takes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub struct RtPriority(u8);

/// A real-time priority outside 1..=99.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("real-time priority {0} is outside 1..=99")]
pub struct RtPriorityError(pub u8);

impl RtPriority {
    /// The lowest real-time priority (still above every normal thread).
    pub const MIN: u8 = 1;
    /// The highest (`sched_get_priority_max(SCHED_FIFO)` on Linux).
    pub const MAX: u8 = 99;

    /// The priority as a number.
    pub const fn get(self) -> u8 {
        self.0
    }
}

impl TryFrom<u8> for RtPriority {
    type Error = RtPriorityError;

    fn try_from(n: u8) -> Result<Self, Self::Error> {
        if (Self::MIN..=Self::MAX).contains(&n) {
            Ok(Self(n))
        } else {
            Err(RtPriorityError(n))
        }
    }
}

impl From<RtPriority> for u8 {
    fn from(p: RtPriority) -> Self {
        p.0
    }
}

impl Default for Global {
    fn default() -> Self {
        Self {
            router_id: None,
            metrics_addr: DEFAULT_METRICS_ADDR,
            dataplane: crate::dataplane::DataplaneMode::Xdp,
            lease: None,
            allow_no_instances: false,
            max_learned_interval: None,
            garp_lower_prio_holdoff: None,
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
            rt_priority: None,
            lock_memory: false,
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
#[expect(
    clippy::struct_excessive_bools,
    reason = "one-to-one with keepalived's instance flags"
)]
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
    /// Advert interval (keepalived `advert_int`). VRRP v2: whole seconds, 1..=255 s; VRRP v3:
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
    /// Source address of adverts (keepalived `unicast_src_ip`, or `mcast_src_ip`), of the
    /// instance's family. Default (none): the interface's primary address (IPv4) or its
    /// link-local address (IPv6), found at run time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unicast_src_ip: Option<IpAddr>,
    /// Unicast peers (keepalived `unicast_peer`), of the instance's family. Empty: multicast to
    /// 224.0.0.18 (IPv4) or `ff02::12` (IPv6). When set, adverts from other sources are dropped.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unicast_peers: Vec<IpAddr>,
    /// The virtual addresses (keepalived `virtual_ipaddress`), all of one family: the first
    /// one's, which is the instance's ([`Instance::family`]).
    #[serde(default)]
    pub virtual_ipaddresses: Vec<VirtualAddress>,
    /// Addresses added and removed with the virtual addresses but not advertised (keepalived
    /// `virtual_ipaddress_excluded`); they may be of either family. Default none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub virtual_ipaddress_excluded: Vec<VirtualAddress>,
    /// The instance is IPv6 even before (or without) an IPv6 virtual address (keepalived
    /// `native_ipv6`). Default false: the family of the first virtual address.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub native_ipv6: bool,
    /// VRRP v2 simple password authentication (keepalived `authentication`). Default: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<Auth>,
    /// keepalived 2.4's HMAC-SHA256 advert trailer (`auth_hmac`). Default: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_hmac: Option<crate::config::auth_hmac::AuthHmacConfig>,
    /// VRRP v3 over IPv4: compute the checksum without the pseudo-header, as VRRP v2 does.
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
    /// BFD sessions whose state is tracked (keepalived `track_bfd`), by `[bfd.NAME]`; the
    /// weight and reverse default to the session's own.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub track_bfds: Vec<TrackScript>,
    /// havip extension (not in RFC 9568 nor keepalived): a backup whose BFD session to the
    /// current master goes Down takes over at once instead of waiting out
    /// `Master_Down_Interval`, as router "VRRP with BFD" does. Unicast peers without a
    /// `[bfd.NAME]` get a session with keepalived's BFD defaults. Default false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub master_down_on_bfd: bool,
}

/// The address family of an instance: of its adverts, its peers and its virtual addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    /// IPv4: VRRP v2 or v3 over IPv4.
    Ipv4,
    /// IPv6: VRRP v3 over IPv6 (RFC 9568 5.1.2); version 2 is IPv4 only.
    Ipv6,
}

impl std::fmt::Display for Family {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Ipv4 => "IPv4",
            Self::Ipv6 => "IPv6",
        })
    }
}

impl Instance {
    /// The instance's family, keepalived's rule: IPv6 with `native_ipv6`, else the family of the
    /// first virtual address (IPv4 without any).
    pub fn family(&self) -> Family {
        match self.virtual_ipaddresses.first() {
            _ if self.native_ipv6 => Family::Ipv6,
            Some(v) if v.address.is_ipv6() => Family::Ipv6,
            _ => Family::Ipv4,
        }
    }

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
            virtual_ipaddress_excluded: Vec::new(),
            native_ipv6: false,
            auth: None,
            auth_hmac: None,
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
            track_bfds: Vec::new(),
            master_down_on_bfd: false,
        }
    }

    /// Applies the `[global]` defaults of the inherited settings, as keepalived copies its
    /// `global_defs` values into each instance.
    pub(crate) fn inherit(&mut self, global: &Global, setting: Inherited) {
        match setting {
            // keepalived: VRRP v2 is IPv4 only, an IPv6 instance runs v3 whatever the default.
            Inherited::Version if self.family() == Family::Ipv6 => self.version = Version::V3,
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
        (
            Inherited::GarpMasterRefreshRepeat,
            "garp_master_refresh_repeat",
        ),
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
    /// BFD sessions (`[bfd.NAME]`) tracked for all members (keepalived `track_bfd` in a
    /// `vrrp_sync_group`): as in keepalived, a weight is ignored and a session that is not Up
    /// puts every member in FAULT.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub track_bfds: Vec<TrackScript>,
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
