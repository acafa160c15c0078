//! Checks on a parsed [`Config`] that types alone do not express: ranges, the VRRP version's
//! interval rules, uniqueness, and references between sections.
//!
//! Each finding names the field it is about with a [`FieldPath`] (`instance[0].vrid`), which the
//! loaders turn into `file:line:column` (TOML spans, or the keepalived directive's position).

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use super::duration::format_duration;
use super::model::{Config, Family, Instance, Script, SyncGroup};
use super::values::{TrackInterface, TrackScript, Version};

/// Smallest and largest VRRP v2 advert interval (RFC 3768 5.3.7: 8-bit seconds).
const V2_INTERVAL: (Duration, Duration) = (Duration::from_secs(1), Duration::from_secs(255));
/// Smallest and largest VRRP v3 advert interval (RFC 9568 5.2.7: 12-bit centiseconds).
const V3_INTERVAL: (Duration, Duration) =
    (Duration::from_millis(10), Duration::from_millis(40_950));
/// keepalived's `preempt_delay` range: 0..=1000 s.
const MAX_PREEMPT_DELAY: Duration = Duration::from_secs(1000);
/// keepalived's weight range for scripts and tracked objects.
const WEIGHT_RANGE: std::ops::RangeInclusive<i16> = -253..=253;
/// RFC 2338 5.3.6: the simple password field is 8 octets.
const MAX_PASS_LEN: usize = 8;

/// One step of a [`FieldPath`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PathSegment {
    /// A table key (`global`, `vrid`, a script name).
    Key(String),
    /// An array index.
    Index(usize),
}

/// Where in the model a finding is: `instance[0].vrid`, `scripts.checkhaproxy.weight`.
///
/// The segments follow the TOML layout of the native format, so the same path finds the value
/// in a TOML file and the directive in an imported keepalived.conf.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct FieldPath(Vec<PathSegment>);

impl FieldPath {
    /// The whole configuration.
    pub fn root() -> Self {
        Self::default()
    }

    /// This path followed by table key `key`.
    #[must_use]
    pub fn key(&self, key: impl Into<String>) -> Self {
        let mut segments = self.0.clone();
        segments.push(PathSegment::Key(key.into()));
        Self(segments)
    }

    /// This path followed by array index `index`.
    #[must_use]
    pub fn index(&self, index: usize) -> Self {
        let mut segments = self.0.clone();
        segments.push(PathSegment::Index(index));
        Self(segments)
    }

    /// `instance[i]`.
    pub fn instance(index: usize) -> Self {
        Self::root().key("instance").index(index)
    }

    /// `sync_group[i]`.
    pub fn sync_group(index: usize) -> Self {
        Self::root().key("sync_group").index(index)
    }

    /// `scripts.NAME`.
    pub fn script(name: &str) -> Self {
        Self::root().key("scripts").key(name)
    }

    /// The segments, outermost first.
    pub fn segments(&self) -> &[PathSegment] {
        &self.0
    }

    /// The path without its last segment, or `None` for the root.
    pub fn parent(&self) -> Option<Self> {
        let (_, init) = self.0.split_last()?;
        Some(Self(init.to_vec()))
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, segment) in self.0.iter().enumerate() {
            match segment {
                PathSegment::Key(k) if i == 0 => write!(f, "{k}")?,
                PathSegment::Key(k) => write!(f, ".{k}")?,
                PathSegment::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

/// A validation finding: the field, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct ValidationError {
    /// The field concerned.
    pub path: FieldPath,
    /// What is wrong, naming the rule.
    pub message: String,
}

impl Config {
    /// Checks everything the types do not: ranges, interval rules per VRRP version, unique
    /// names and (interface, vrid) pairs, references to scripts and instances.
    ///
    /// Returns every problem found, not only the first.
    pub fn validate(&self) -> Result<(), Vec<ValidationError>> {
        let mut v = Validator::default();
        v.global(self);
        for (name, script) in &self.scripts {
            v.script(name, script);
        }
        let mut names: HashMap<&str, usize> = HashMap::new();
        // RFC 9568 5.2.3: the IPv4 and IPv6 VRID spaces are separate (keepalived runs an IPv4
        // and an IPv6 instance with one VRID on one interface).
        let mut vrids: HashMap<(&str, u8, Family), usize> = HashMap::new();
        for (i, instance) in self.instances.iter().enumerate() {
            let path = FieldPath::instance(i);
            if let Some(first) = names.insert(&instance.name, i) {
                v.push(
                    path.key("name"),
                    format!(
                        "instance name `{}` is already used by instance[{first}]",
                        instance.name
                    ),
                );
            }
            if instance.vrid != 0
                && let Some(first) =
                    vrids.insert((&instance.interface, instance.vrid, instance.family()), i)
            {
                v.push(
                    path.key("vrid"),
                    format!(
                        "vrid {} is already used on interface {} by {} instance `{}`",
                        instance.vrid,
                        instance.interface,
                        instance.family(),
                        self.instances[first].name
                    ),
                );
            }
            v.instance(&path, instance, self);
        }
        let mut groups: HashSet<&str> = HashSet::new();
        let mut member_of: HashMap<&str, &str> = HashMap::new();
        for (i, group) in self.sync_groups.iter().enumerate() {
            let path = FieldPath::sync_group(i);
            if !groups.insert(&group.name) {
                v.push(
                    path.key("name"),
                    format!("sync group name `{}` is used twice", group.name),
                );
            }
            v.sync_group(&path, group, self, &mut member_of);
        }
        v.errors.extend(super::bfd::validate(self));
        if v.errors.is_empty() {
            Ok(())
        } else {
            Err(v.errors)
        }
    }
}

/// Most virtual addresses one instance can advertise: what fits the kernel's
/// `MAX_VRRP_LEN`-byte advert after the 8-byte header (and v2's 8 bytes of authentication
/// data, always present on the wire; RFC 3768 5.1): 28 for v2, 30 for v3.
fn max_advertised(version: Version, family: Family) -> usize {
    let v = match version {
        Version::V2 => 2,
        Version::V3 => 3,
    };
    let (f, size) = match family {
        Family::Ipv4 => (havip_common::addr_family::IPV4, 4),
        Family::Ipv6 => (havip_common::addr_family::IPV6, 16),
    };
    let fixed = usize::try_from(havip_common::rule::expected_len(f, v, 0)).unwrap_or(usize::MAX);
    havip_common::MAX_VRRP_LEN.saturating_sub(fixed) / size
}

#[derive(Default)]
struct Validator {
    errors: Vec<ValidationError>,
}

impl Validator {
    fn push(&mut self, path: FieldPath, message: impl Into<String>) {
        self.errors.push(ValidationError {
            path,
            message: message.into(),
        });
    }

    fn global(&mut self, config: &Config) {
        let path = FieldPath::root().key("global");
        if config.global.lease == Some(Duration::ZERO) {
            self.push(path.key("lease"), "lease must be longer than 0s");
        }
        if config.global.garp_master_repeat == 0 {
            self.push(
                path.key("garp_master_repeat"),
                "garp_master_repeat must be at least 1",
            );
        }
        if config.global.garp_master_refresh_repeat == 0 {
            self.push(
                path.key("garp_master_refresh_repeat"),
                "garp_master_refresh_repeat must be at least 1",
            );
        }
    }

    fn script(&mut self, name: &str, script: &Script) {
        let path = FieldPath::script(name);
        if name.is_empty() {
            self.push(path.clone(), "script name must not be empty");
        }
        if script.script.trim().is_empty() {
            self.push(path.key("script"), "script command must not be empty");
        }
        if script.interval.is_zero() {
            self.push(path.key("interval"), "interval must be longer than 0s");
        }
        if script.timeout.is_some_and(|t| t.is_zero()) {
            self.push(path.key("timeout"), "timeout must be longer than 0s");
        }
        self.weight(&path.key("weight"), script.weight);
        if script.rise == 0 {
            self.push(path.key("rise"), "rise must be at least 1");
        }
        if script.fall == 0 {
            self.push(path.key("fall"), "fall must be at least 1");
        }
    }

    fn weight(&mut self, path: &FieldPath, weight: i16) {
        if !WEIGHT_RANGE.contains(&weight) {
            self.push(
                path.clone(),
                format!("weight {weight} is outside -253..=253"),
            );
        }
    }

    fn instance(&mut self, path: &FieldPath, instance: &Instance, config: &Config) {
        if instance.name.is_empty() {
            self.push(path.key("name"), "instance name must not be empty");
        }
        if instance.interface.is_empty() {
            self.push(path.key("interface"), "interface must not be empty");
        }
        if instance.vrid == 0 {
            self.push(path.key("vrid"), "vrid must be 1..=255");
        }
        if instance.priority == 0 {
            self.push(
                path.key("priority"),
                "priority must be 1..=255 (0 is reserved for a master that resigns)",
            );
        }
        self.interval(path, instance);
        self.lease(instance, config);
        self.learned_interval(instance, config);
        if instance.preempt_delay > MAX_PREEMPT_DELAY {
            self.push(
                path.key("preempt_delay"),
                "preempt_delay must be at most 1000s",
            );
        }
        if let Some(auth) = &instance.auth {
            if instance.version != Version::V2 {
                self.push(
                    path.key("auth"),
                    "authentication exists only in VRRPv2; remove it or use version = 2",
                );
            }
            if auth.pass.is_empty() {
                self.push(path.key("auth").key("pass"), "password must not be empty");
            } else if auth.pass.len() > MAX_PASS_LEN {
                self.push(
                    path.key("auth").key("pass"),
                    format!(
                        "password is {} bytes; VRRPv2 carries at most {MAX_PASS_LEN}",
                        auth.pass.len()
                    ),
                );
            }
        }
        if let Some(hmac) = &instance.auth_hmac {
            if instance.auth.is_some() {
                self.push(
                    path.key("auth"),
                    "auth and auth_hmac together: keepalived drops the legacy authentication; \
                     remove it",
                );
            }
            if let Err(e) = hmac.key_ring() {
                self.push(path.key("auth_hmac"), e.to_string());
            }
        }
        self.addresses(path, instance);
        self.family_rules(path, instance);
        if instance.garp_master_repeat == 0 {
            self.push(
                path.key("garp_master_repeat"),
                "garp_master_repeat must be at least 1",
            );
        }
        if instance.garp_master_refresh_repeat == 0 {
            self.push(
                path.key("garp_master_refresh_repeat"),
                "garp_master_refresh_repeat must be at least 1",
            );
        }
        self.tracks(
            path,
            &instance.track_interfaces,
            &instance.track_scripts,
            config,
        );
        for (i, track) in instance.track_interfaces.iter().enumerate() {
            if track.name == instance.interface {
                self.push(
                    path.key("track_interfaces").index(i),
                    format!(
                        "{} is the instance's own interface, which is always tracked (keepalived \
                         ignores it here too); remove it, or set dont_track_primary",
                        track.name
                    ),
                );
            }
        }
    }

    /// `[global].lease` against this instance's advert interval.
    ///
    /// A backup declares the master dead after its `Master_Down_Interval`, `3 x
    /// Advertisement_Interval + Skew_Time` computed from our adverts (RFC 3768 6.1, RFC 9568
    /// 6.1; `Skew_Time` is more than 0 for any priority below 256). A master whose agent hangs
    /// keeps answering ARP from the kernel until its lease runs out; if that is not before the
    /// backup takes over, both answer for the VIP, and the backup's lower priority does not
    /// fence the hung master. So the lease must be below the smallest `Master_Down_Interval` a
    /// peer can compute, and since the skew can be as small as 1/256 of an interval, below
    /// 3 x the advert interval.
    fn lease(&mut self, instance: &Instance, config: &Config) {
        let Some(lease) = config.global.lease else {
            return;
        };
        let bound = instance.advert_interval.saturating_mul(3);
        if !lease.is_zero() && lease >= bound {
            self.push(
                FieldPath::root().key("global").key("lease"),
                format!(
                    "lease {} must be shorter than 3 x advert_interval of instance `{}` ({} x 3 = \
                     {}): a peer takes over after 3 advert intervals plus its skew, and a hung \
                     master must stop answering ARP before then",
                    format_duration(lease),
                    instance.name,
                    format_duration(instance.advert_interval),
                    format_duration(bound),
                ),
            );
        }
    }

    /// `[global].max_learned_interval` must leave room for the instance's own interval: a
    /// bound below it would make every master look slower than it is.
    fn learned_interval(&mut self, instance: &Instance, config: &Config) {
        let Some(bound) = config.global.max_learned_interval else {
            return;
        };
        if bound < instance.advert_interval {
            self.push(
                FieldPath::root().key("global").key("max_learned_interval"),
                format!(
                    "max_learned_interval {} is shorter than advert_interval of instance `{}`                      ({})",
                    format_duration(bound),
                    instance.name,
                    format_duration(instance.advert_interval),
                ),
            );
        }
    }

    fn interval(&mut self, path: &FieldPath, instance: &Instance) {
        let interval = instance.advert_interval;
        let path = path.key("advert_interval");
        match instance.version {
            Version::V2 => {
                if interval.subsec_nanos() != 0 {
                    self.push(
                        path,
                        "VRRPv2 advert_interval must be whole seconds (RFC 3768 5.3.7); use \
                         version 3 for sub-second intervals",
                    );
                } else if interval < V2_INTERVAL.0 || interval > V2_INTERVAL.1 {
                    self.push(path, "VRRPv2 advert_interval must be 1s..=255s");
                }
            }
            Version::V3 => {
                if interval < V3_INTERVAL.0 || interval > V3_INTERVAL.1 {
                    self.push(path, "VRRPv3 advert_interval must be 10ms..=40.95s");
                } else if !interval.as_nanos().is_multiple_of(10_000_000) {
                    self.push(
                        path,
                        "VRRPv3 advert_interval must be a multiple of 10ms (RFC 9568 5.2.7 \
                         counts centiseconds)",
                    );
                }
            }
        }
    }

    fn addresses(&mut self, path: &FieldPath, instance: &Instance) {
        let most = max_advertised(instance.version, instance.family());
        let count = instance.virtual_ipaddresses.len();
        if count > most {
            // keepalived advertises up to 255 addresses (what fits the MTU) and keeps the rest
            // as unadvertised eVIPs; havip's kernel path receives adverts of at most
            // MAX_VRRP_LEN bytes, so a longer advert from a peer would be dropped as `length`
            // and the instance would never hear its master: refuse it here instead.
            self.push(
                path.key("virtual_ipaddresses"),
                format!(
                    "{count} virtual addresses; a VRRPv{v} advert carries at most {most} in havip \
                     (its kernel path receives adverts of up to {len} bytes, and every address \
                     is advertised); split them over more instances (a sync group keeps them \
                     together)",
                    v = match instance.version {
                        Version::V2 => 2,
                        Version::V3 => 3,
                    },
                    len = havip_common::MAX_VRRP_LEN,
                ),
            );
        }
        let mut seen = HashSet::new();
        let family = instance.family();
        let excluded = instance.virtual_ipaddress_excluded.iter();
        let all = instance
            .virtual_ipaddresses
            .iter()
            .map(|v| ("virtual_ipaddresses", v));
        for (i, (key, vip)) in all.enumerate().chain(
            excluded
                .map(|v| ("virtual_ipaddress_excluded", v))
                .enumerate(),
        ) {
            let vpath = path.key(key).index(i);
            let max = if vip.address.is_ipv4() { 32 } else { 128 };
            if vip.prefix_len > max {
                self.push(
                    vpath.clone(),
                    format!("prefix length /{} is over {max}", vip.prefix_len),
                );
            }
            let a = vip.address;
            if a.is_unspecified() || a.is_multicast() || is_broadcast(a) || a.is_loopback() {
                self.push(
                    vpath.clone(),
                    format!("{a} cannot be a virtual address (unspecified, loopback, multicast or broadcast)"),
                );
            }
            // keepalived ignores such an address with "address family must match VRRP
            // instance"; the importer does the same with a warning, a native file is refused.
            if key == "virtual_ipaddresses" && family_of(a) != family {
                self.push(
                    vpath.clone(),
                    format!("{a} is not of the instance's family ({family}, from the first virtual address or native_ipv6); list it in virtual_ipaddress_excluded or in another instance"),
                );
            }
            if !seen.insert(a) {
                self.push(vpath, format!("{a} is listed twice"));
            }
        }
        let mut peers = HashSet::new();
        for (i, peer) in instance.unicast_peers.iter().enumerate() {
            let ppath = path.key("unicast_peers").index(i);
            if family_of(*peer) != family {
                self.push(
                    ppath.clone(),
                    format!("{peer} is not of the instance's family ({family})"),
                );
            }
            if peer.is_unspecified() || peer.is_multicast() || is_broadcast(*peer) {
                self.push(ppath.clone(), format!("{peer} cannot be a unicast peer"));
            }
            if Some(*peer) == instance.unicast_src_ip {
                self.push(ppath.clone(), format!("{peer} is also unicast_src_ip"));
            }
            if !peers.insert(*peer) {
                self.push(ppath, format!("{peer} is listed twice"));
            }
        }
        if let Some(src) = instance.unicast_src_ip {
            if src.is_unspecified() || src.is_multicast() || is_broadcast(src) {
                self.push(
                    path.key("unicast_src_ip"),
                    format!("{src} cannot be a source address"),
                );
            }
            if family_of(src) != family {
                self.push(
                    path.key("unicast_src_ip"),
                    format!("{src} is not of the instance's family ({family})"),
                );
            }
        }
    }

    /// What an instance's family implies (RFC 9568 5.1.2, keepalived's rules).
    fn family_rules(&mut self, path: &FieldPath, instance: &Instance) {
        let family = instance.family();
        if family == Family::Ipv6 {
            // RFC 9568 5.1.2; keepalived forces version 3 on an IPv6 instance, and so does
            // the importer, so only a native file can get here with version 2.
            if instance.version == Version::V2 {
                self.push(
                    path.key("version"),
                    "VRRP version 2 is IPv4 only (RFC 3768); an IPv6 instance needs version = 3"
                        .to_owned(),
                );
            }
        }
    }

    fn tracks(
        &mut self,
        path: &FieldPath,
        interfaces: &[TrackInterface],
        scripts: &[TrackScript],
        config: &Config,
    ) {
        for (i, track) in interfaces.iter().enumerate() {
            let tpath = path.key("track_interfaces").index(i);
            if track.name.is_empty() {
                self.push(tpath.clone(), "interface name must not be empty");
            }
            self.weight(&tpath, track.weight);
        }
        for (i, track) in scripts.iter().enumerate() {
            let tpath = path.key("track_scripts").index(i);
            if !config.scripts.contains_key(&track.name) {
                self.push(
                    tpath.clone(),
                    format!("script `{}` is not defined in [scripts]", track.name),
                );
            }
            if let Some(weight) = track.weight {
                self.weight(&tpath, weight);
            }
        }
    }

    fn sync_group<'c>(
        &mut self,
        path: &FieldPath,
        group: &'c SyncGroup,
        config: &'c Config,
        member_of: &mut HashMap<&'c str, &'c str>,
    ) {
        if group.name.is_empty() {
            self.push(path.key("name"), "sync group name must not be empty");
        }
        if group.instances.is_empty() {
            self.push(
                path.key("instances"),
                "a sync group needs at least one instance",
            );
        }
        for (i, name) in group.instances.iter().enumerate() {
            let ipath = path.key("instances").index(i);
            if config.instance(name).is_none() {
                self.push(ipath, format!("instance `{name}` is not defined"));
            } else if let Some(other) = member_of.insert(name, &group.name) {
                self.push(
                    ipath,
                    format!("instance `{name}` is already in sync group `{other}`"),
                );
            }
        }
        self.tracks(path, &group.track_interfaces, &group.track_scripts, config);
    }
}

/// Whether `a` is the IPv4 limited broadcast address (IPv6 has none).
fn is_broadcast(a: IpAddr) -> bool {
    matches!(a, IpAddr::V4(v4) if v4.is_broadcast())
}

/// The instance family `a` belongs to.
fn family_of(a: IpAddr) -> Family {
    if a.is_ipv4() {
        Family::Ipv4
    } else {
        Family::Ipv6
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;
    use crate::config::values::{Auth, AuthType, TrackInterface, TrackScript, VirtualAddress};

    fn config_with(instance: Instance) -> Config {
        Config {
            instances: vec![instance],
            ..Config::default()
        }
    }

    fn paths(config: &Config) -> Vec<String> {
        config
            .validate()
            .err()
            .unwrap_or_default()
            .iter()
            .map(|e| e.path.to_string())
            .collect()
    }

    #[test]
    fn defaults_are_valid() {
        assert_eq!(
            config_with(Instance::new("VI_1", "eth0", 51)).validate(),
            Ok(())
        );
    }

    #[test]
    fn an_instance_advertises_at_most_what_the_kernel_receives() {
        for (version, most) in [(Version::V2, 28), (Version::V3, 30)] {
            let mut i = Instance::new("VI_1", "eth0", 1);
            i.version = version;
            i.virtual_ipaddresses = (0..most)
                .map(|n| VirtualAddress::new(Ipv4Addr::new(198, 18, 0, n + 1), 32))
                .collect();
            assert_eq!(config_with(i.clone()).validate(), Ok(()), "{most} fit");
            i.virtual_ipaddresses
                .push(VirtualAddress::new(Ipv4Addr::new(198, 18, 1, 1), 32));
            let errors = config_with(i).validate().err().unwrap_or_default();
            assert_eq!(errors.len(), 1, "{errors:?}");
            assert_eq!(
                errors[0].path.to_string(),
                "instance[0].virtual_ipaddresses"
            );
            assert!(
                errors[0]
                    .message
                    .contains(&format!("{} virtual addresses", most + 1))
                    && errors[0].message.contains(&format!("at most {most}")),
                "{}",
                errors[0].message
            );
        }
    }

    #[test]
    fn vrid_and_priority_zero() {
        let mut i = Instance::new("VI_1", "eth0", 0);
        i.priority = 0;
        assert_eq!(
            paths(&config_with(i)),
            ["instance[0].vrid", "instance[0].priority"]
        );
    }

    #[test]
    fn interval_rules_per_version() {
        let mut i = Instance::new("VI_1", "eth0", 1);
        i.advert_interval = Duration::from_millis(1500);
        assert_eq!(
            paths(&config_with(i.clone())),
            ["instance[0].advert_interval"]
        );
        i.version = Version::V3;
        assert_eq!(paths(&config_with(i.clone())), Vec::<String>::new());
        i.advert_interval = Duration::from_millis(105);
        assert_eq!(
            paths(&config_with(i.clone())),
            ["instance[0].advert_interval"]
        );
        i.advert_interval = Duration::from_millis(40_960);
        assert_eq!(
            paths(&config_with(i.clone())),
            ["instance[0].advert_interval"]
        );
        i.version = Version::V2;
        i.advert_interval = Duration::from_secs(256);
        assert_eq!(paths(&config_with(i)), ["instance[0].advert_interval"]);
    }

    #[test]
    fn auth_only_v2_and_short() {
        let mut i = Instance::new("VI_1", "eth0", 1);
        i.auth = Some(Auth {
            kind: AuthType::Pass,
            pass: "123456789".into(),
        });
        assert_eq!(paths(&config_with(i.clone())), ["instance[0].auth.pass"]);
        i.version = Version::V3;
        i.auth = Some(Auth {
            kind: AuthType::Pass,
            pass: "1111".into(),
        });
        assert_eq!(paths(&config_with(i)), ["instance[0].auth"]);
    }

    #[test]
    fn tracking_the_own_interface_is_rejected() {
        let mut i = Instance::new("VI_1", "eth0", 1);
        i.track_interfaces.push(TrackInterface {
            name: "eth0".into(),
            weight: -10,
            reverse: false,
        });
        assert_eq!(paths(&config_with(i)), ["instance[0].track_interfaces[0]"]);
    }

    #[test]
    fn uniqueness_and_references() {
        let mut a = Instance::new("VI_1", "eth0", 51);
        a.track_scripts.push(TrackScript {
            name: "missing".into(),
            weight: None,
            reverse: None,
        });
        a.virtual_ipaddresses
            .push(VirtualAddress::new(Ipv4Addr::new(224, 0, 0, 18), 32));
        let b = Instance::new("VI_1", "eth0", 51);
        let config = Config {
            instances: vec![a, b],
            sync_groups: vec![SyncGroup {
                name: "G".into(),
                instances: vec!["VI_1".into(), "VI_9".into()],
                track_interfaces: vec![],
                track_scripts: vec![],
                track_bfds: Vec::new(),
                notify_master: None,
                notify_backup: None,
                notify_fault: None,
                notify_stop: None,
                notify: None,
            }],
            ..Config::default()
        };
        assert_eq!(
            paths(&config),
            [
                "instance[0].virtual_ipaddresses[0]",
                "instance[0].track_scripts[0]",
                "instance[1].name",
                "instance[1].vrid",
                "sync_group[0].instances[1]",
            ]
        );
    }
}
