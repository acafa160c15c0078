//! `vrrp_instance NAME { ... }` -> [`Instance`], with keepalived's defaults, and the table of
//! instance directives havip does not implement.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use super::Pos;
use super::complete::{self, ADVERT_INT_READ, MAX_PREEMPT_DELAY};
use super::context::{Cx, TIMER_DECIMALS};
use super::parser::Node;
use super::unsupported::UNSUPPORTED;
use crate::config::diagnostic::Severity;
use crate::config::model::{Family, Global, Inherited, Instance};
use crate::config::validate::FieldPath;
use crate::config::values::{Auth, AuthType, InitialState, Version, VirtualAddress};

/// RFC 2338 5.3.6 and keepalived: only the first 8 characters of `auth_pass` are used.
const AUTH_PASS_LEN: usize = 8;

/// Directives that may appear once; a repeat overrides the earlier one, as in keepalived.
const SINGLE: &[&str] = &[
    "state",
    "interface",
    "virtual_router_id",
    "priority",
    "advert_int",
    "version",
    "preempt_delay",
    "unicast_src_ip",
    "mcast_src_ip",
    "garp_master_delay",
    "garp_master_repeat",
    "garp_master_refresh",
    "garp_master_refresh_repeat",
    "notify_master",
    "notify_backup",
    "notify_fault",
    "notify_stop",
    "notify",
];

/// Converts `vrrp_instance`, the `index`th instance; `None` if it cannot be (no name, no
/// block, no interface or no `virtual_router_id`: all reported).
pub(super) fn convert(
    cx: &mut Cx<'_>,
    node: &Node,
    index: usize,
    global: &Global,
) -> Option<Instance> {
    let Some(name_arg) = node.args.first() else {
        cx.warn(
            node.pos,
            "`vrrp_instance` without a name is skipped (as keepalived does)",
        );
        return None;
    };
    let items = cx.block(node, 1)?;
    let name = name_arg.text.clone();
    let path = FieldPath::instance(index);
    cx.span(path.clone(), node.pos);
    cx.span(path.key("name"), name_arg.pos);
    let mut b = Builder {
        instance: Instance::new(name.clone(), String::new(), 0),
        path,
        has_interface: false,
        has_vrid: false,
        priority_set: false,
        explicit: HashSet::new(),
        seen: HashMap::new(),
    };
    for item in items {
        b.directive(cx, item);
    }
    for (setting, key) in Inherited::ALL {
        if !b.explicit.contains(key) {
            b.instance.inherit(global, setting);
        }
    }
    drop_own_interface(cx, &mut b);
    ipv6_rules(cx, node, &mut b);
    complete::complete(cx, node, &b.path, &mut b.instance, b.priority_set);
    if !b.has_interface {
        cx.error(
            node.pos,
            format!("vrrp_instance `{name}` has no `interface` (havip needs one)"),
        );
    }
    if !b.has_vrid {
        cx.error(
            node.pos,
            format!("vrrp_instance `{name}` has no `virtual_router_id`"),
        );
    }
    (b.has_interface && b.has_vrid).then_some(b.instance)
}

/// An instance being converted, and what its directives set.
struct Builder<'n> {
    instance: Instance,
    path: FieldPath,
    has_interface: bool,
    has_vrid: bool,
    /// Whether `priority` was given (keepalived derives it from `state` otherwise).
    priority_set: bool,
    /// Inherited settings written in the instance (the others come from `global_defs`).
    explicit: HashSet<&'static str>,
    /// Single-valued directives already seen, to report repeats.
    seen: HashMap<&'n str, Pos>,
}

impl<'n> Builder<'n> {
    fn directive(&mut self, cx: &mut Cx<'_>, item: &'n Node) {
        let key = item.keyword.as_str();
        if SINGLE.contains(&key)
            && let Some(&earlier) = self.seen.get(key)
        {
            // keepalived keeps the first notify script of each kind ("already specified -
            // ignoring") and a MASTER state over a later BACKUP; the rest override.
            if key.starts_with("notify") {
                cx.warn(
                    item.pos,
                    format!(
                        "`{key}` repeated; this one is ignored, line {} stays (as keepalived \
                         does)",
                        earlier.line
                    ),
                );
                return;
            }
            if key == "state"
                && self.instance.state == InitialState::Master
                && item.args.first().is_some_and(|a| a.text == "BACKUP")
            {
                cx.warn(
                    item.pos,
                    format!(
                        "`state BACKUP` after `state MASTER` on line {} ignored (as keepalived \
                         does)",
                        earlier.line
                    ),
                );
                return;
            }
            cx.warn(
                item.pos,
                format!("`{key}` repeated; this one overrides line {}", earlier.line),
            );
        }
        if SINGLE.contains(&key) {
            self.seen.insert(key, item.pos);
        }
        if self.election(cx, item) || self.announce_and_track(cx, item) {
            return;
        }
        match UNSUPPORTED.iter().find(|(k, _, _)| *k == key) {
            Some((_, severity, why)) => {
                let verdict = match severity {
                    Severity::Error => "is not supported",
                    Severity::Warning | Severity::Note => "ignored",
                };
                cx.report(item.pos, *severity, format!("`{key}` {verdict}: {why}"));
            }
            None => cx.warn(
                item.pos,
                format!("unknown keyword `{key}` in vrrp_instance ignored (as keepalived does)"),
            ),
        }
    }

    /// Directives about the election itself and the addresses; false if `item` is not one.
    fn election(&mut self, cx: &mut Cx<'_>, item: &Node) -> bool {
        let field = |k: &str| self.path.key(k);
        let instance = &mut self.instance;
        match item.keyword.as_str() {
            "state" => {
                if let Some(arg) = cx.value(item) {
                    match arg.text.as_str() {
                        "MASTER" => instance.state = InitialState::Master,
                        "BACKUP" => instance.state = InitialState::Backup,
                        other => {
                            cx.warn(
                                arg.pos,
                                format!(
                                    "`state` must be MASTER or BACKUP, not `{other}`; BACKUP is \
                                     used (as keepalived does)"
                                ),
                            );
                            instance.state = InitialState::Backup;
                        }
                    }
                    cx.span(field("state"), arg.pos);
                }
            }
            "interface" => {
                if let Some(arg) = cx.value(item) {
                    instance.interface.clone_from(&arg.text);
                    self.has_interface = true;
                    cx.span(field("interface"), arg.pos);
                }
            }
            "virtual_router_id" => {
                if let Some((vrid, pos)) = cx.int_value(item, 1..=255) {
                    instance.vrid = vrid;
                    self.has_vrid = true;
                    cx.span(field("vrid"), pos);
                }
            }
            "priority" => {
                self.priority_set = true;
                if let Some((priority, pos)) =
                    cx.int_or_warn(item, 1..=255, "the default 100 is used")
                {
                    instance.priority = priority;
                    cx.span(field("priority"), pos);
                } else {
                    instance.priority = crate::config::model::DEFAULT_PRIORITY;
                }
            }
            "advert_int" => advert_int(cx, item, &self.path, instance),
            "version" => {
                if let Some((n, pos)) = cx.int_or_warn::<i64>(item, 2..=3, "ignored") {
                    instance.version = Version::from_number(n).unwrap_or_default();
                    self.explicit.insert("version");
                    cx.span(field("version"), pos);
                }
            }
            "nopreempt" | "preempt" => {
                cx.flag(item);
                instance.preempt = item.keyword == "preempt";
                cx.span(field("preempt"), item.pos);
            }
            "preempt_delay" => preempt_delay(cx, item, &self.path, instance),
            "authentication" => authentication(cx, item, &self.path, instance),
            "auth_hmac" => super::auth_hmac::block(cx, item, &self.path, instance),
            "unicast_src_ip" | "mcast_src_ip" => {
                if let Some(arg) = cx.value(item)
                    && let Some(ip) = cx.ip(&item.keyword, arg)
                {
                    if item.keyword == "mcast_src_ip" {
                        cx.note(
                            item.pos,
                            "`mcast_src_ip` sets the advert source address, like unicast_src_ip",
                        );
                    }
                    instance.unicast_src_ip = Some(ip);
                    cx.span(field("unicast_src_ip"), arg.pos);
                }
            }
            "unicast_peer" => unicast_peers(cx, item, &self.path, instance),
            "virtual_ipaddress" => virtual_addresses(cx, item, &self.path, instance, false),
            "virtual_ipaddress_excluded" => {
                virtual_addresses(cx, item, &self.path, instance, true);
            }
            "native_ipv6" => {
                cx.flag(item);
                instance.native_ipv6 = true;
                cx.span(field("native_ipv6"), item.pos);
            }
            _ => return false,
        }
        true
    }

    /// Gratuitous ARP, tracking and notify directives; false if `item` is not one.
    fn announce_and_track(&mut self, cx: &mut Cx<'_>, item: &Node) -> bool {
        let key = item.keyword.as_str();
        let field = self.path.key(key);
        let instance = &mut self.instance;
        match key {
            "garp_master_delay" | "garp_master_refresh" => {
                if let Some((d, pos)) = cx.whole_seconds(item) {
                    if key == "garp_master_delay" {
                        instance.garp_master_delay = d;
                        self.explicit.insert("garp_master_delay");
                    } else {
                        instance.garp_master_refresh = d;
                        self.explicit.insert("garp_master_refresh");
                    }
                    cx.span(field, pos);
                }
            }
            "garp_master_repeat" | "garp_master_refresh_repeat" => {
                if let Some((n, pos)) = cx.int_or_warn(item, 0..=i64::from(u32::MAX), "ignored") {
                    let n = if n == 0 {
                        cx.warn(
                            pos,
                            format!(
                                "`{key}` must be greater than 0; 1 is used (as keepalived does)"
                            ),
                        );
                        1
                    } else {
                        n
                    };
                    if key == "garp_master_repeat" {
                        instance.garp_master_repeat = n;
                        self.explicit.insert("garp_master_repeat");
                    } else {
                        instance.garp_master_refresh_repeat = n;
                        self.explicit.insert("garp_master_refresh_repeat");
                    }
                    cx.span(field, pos);
                }
            }
            "v3_checksum_as_v2" => {
                if let Some(b) = cx.boolean(item) {
                    instance.v3_checksum_as_v2 = b;
                    self.explicit.insert("v3_checksum_as_v2");
                }
            }
            "dont_track_primary" => {
                cx.flag(item);
                instance.dont_track_primary = true;
            }
            "check_unicast_src" => {
                cx.flag(item);
                cx.note(
                    item.pos,
                    "`check_unicast_src`: havip always drops adverts whose source is not a \
                     unicast_peer",
                );
            }
            "track_interface" => cx.track_interfaces(
                item,
                &self.path.key("track_interfaces"),
                &mut instance.track_interfaces,
            ),
            "track_script" => cx.track_scripts(
                item,
                &self.path.key("track_scripts"),
                &mut instance.track_scripts,
            ),
            // Same shape as track_script: `NAME [weight N [reverse|noreverse]]`, the weight
            // defaulting to the bfd_instance's own.
            "track_bfd" => {
                cx.track_scripts(item, &self.path.key("track_bfds"), &mut instance.track_bfds);
            }
            "notify_master" | "notify_backup" | "notify_fault" | "notify_stop" | "notify" => {
                if let Some((command, pos)) = cx.command(item) {
                    cx.span(field, pos);
                    let slot = match key {
                        "notify_master" => &mut instance.notify_master,
                        "notify_backup" => &mut instance.notify_backup,
                        "notify_fault" => &mut instance.notify_fault,
                        "notify_stop" => &mut instance.notify_stop,
                        _ => &mut instance.notify,
                    };
                    *slot = Some(command);
                }
            }
            _ => return false,
        }
        true
    }
}

/// keepalived drops a `track_interface` entry naming the instance's own interface (its state
/// is always tracked, unless `dont_track_primary`), weight included; so does the import.
fn drop_own_interface(cx: &mut Cx<'_>, b: &mut Builder<'_>) {
    let path = b.path.key("track_interfaces");
    let tracks = std::mem::take(&mut b.instance.track_interfaces);
    let positions: Vec<Option<Pos>> = (0..tracks.len())
        .map(|i| cx.spans.remove(&path.index(i)))
        .collect();
    for (track, pos) in tracks.into_iter().zip(positions) {
        if track.name == b.instance.interface {
            if let Some(pos) = pos {
                cx.note(
                    pos,
                    format!(
                        "track_interface `{}` ignored, as keepalived does: it is the instance's \
                         own interface, always tracked (see dont_track_primary)",
                        track.name
                    ),
                );
            }
            continue;
        }
        if let Some(pos) = pos {
            cx.span(path.index(b.instance.track_interfaces.len()), pos);
        }
        b.instance.track_interfaces.push(track);
    }
}

/// `advert_int`: keepalived reads 0.01..=255 s and ignores anything else with a warning.
fn advert_int(cx: &mut Cx<'_>, item: &Node, path: &FieldPath, instance: &mut Instance) {
    let Some(arg) = cx.value(item) else {
        return;
    };
    match crate::config::duration::parse_seconds(&arg.text, TIMER_DECIMALS) {
        Ok(interval) if interval >= ADVERT_INT_READ.0 && interval <= ADVERT_INT_READ.1 => {
            instance.advert_interval = interval;
            cx.span(path.key("advert_interval"), arg.pos);
        }
        _ => cx.warn(
            arg.pos,
            format!(
                "`advert_int {}` is not 0.01..=255 seconds; ignored, the default 1 s is used \
                 (as keepalived does)",
                arg.text
            ),
        ),
    }
}

/// `preempt_delay`: 0..=1000 s; keepalived uses 0 for anything else, with a warning.
fn preempt_delay(cx: &mut Cx<'_>, item: &Node, path: &FieldPath, instance: &mut Instance) {
    let Some(arg) = cx.value(item) else {
        return;
    };
    match crate::config::duration::parse_seconds(&arg.text, TIMER_DECIMALS) {
        Ok(delay) if delay <= MAX_PREEMPT_DELAY => {
            instance.preempt_delay = delay;
            cx.span(path.key("preempt_delay"), arg.pos);
        }
        _ => {
            cx.warn(
                arg.pos,
                format!(
                    "`preempt_delay {}` is not 0..=1000 seconds; 0 is used (as keepalived does)",
                    arg.text
                ),
            );
            instance.preempt_delay = Duration::ZERO;
        }
    }
}

fn authentication(cx: &mut Cx<'_>, node: &Node, path: &FieldPath, instance: &mut Instance) {
    let Some(items) = cx.block(node, 0) else {
        return;
    };
    let auth_path = path.key("auth");
    cx.span(auth_path.clone(), node.pos);
    let mut kind = None;
    let mut kind_given = false;
    let mut pass = None;
    for item in items {
        match item.keyword.as_str() {
            "auth_type" => {
                if let Some(arg) = cx.value(item) {
                    kind_given = true;
                    match arg.text.as_str() {
                        "PASS" => kind = Some(AuthType::Pass),
                        "AH" => cx.error(
                            arg.pos,
                            "`auth_type AH` (IPsec AH) is not supported; use PASS or no \
                             authentication",
                        ),
                        other => cx.warn(
                            arg.pos,
                            format!(
                                "unknown `auth_type` `{other}`: no authentication is used (as \
                                 keepalived does)"
                            ),
                        ),
                    }
                }
            }
            "auth_pass" => {
                if let Some(arg) = cx.value(item) {
                    let mut text = arg.text.clone();
                    if text.len() > AUTH_PASS_LEN {
                        cx.warn(
                            arg.pos,
                            format!(
                                "`auth_pass` is longer than {AUTH_PASS_LEN} bytes; only the \
                                 first {AUTH_PASS_LEN} are used (as keepalived does)"
                            ),
                        );
                        let mut cut = AUTH_PASS_LEN;
                        while !text.is_char_boundary(cut) {
                            cut -= 1;
                        }
                        text.truncate(cut);
                    }
                    cx.span(auth_path.key("pass"), arg.pos);
                    pass = Some(text);
                }
            }
            other => cx.warn(
                item.pos,
                format!("unknown keyword `{other}` in authentication ignored (as keepalived does)"),
            ),
        }
    }
    match (kind, pass) {
        (Some(kind), Some(pass)) => instance.auth = Some(Auth { kind, pass }),
        (Some(_), None) => cx.warn(
            node.pos,
            "`authentication` has no `auth_pass`: no authentication is used (as keepalived does)",
        ),
        // An unsupported or misspelt type has been reported already.
        (None, _) if kind_given => {}
        (None, _) => cx.warn(
            node.pos,
            "`authentication` without `auth_type`: no authentication is used (as keepalived \
             does)",
        ),
    }
}

fn unicast_peers(cx: &mut Cx<'_>, node: &Node, path: &FieldPath, instance: &mut Instance) {
    let Some(items) = cx.block(node, 0) else {
        return;
    };
    for item in items {
        if let Some(block) = &item.block {
            cx.error(block.open, "a unicast peer does not take a block");
        }
        let peer = super::parser::Arg {
            text: item.keyword.clone(),
            pos: item.pos,
        };
        let mut args = item.args.iter();
        while let Some(arg) = args.next() {
            match arg.text.as_str() {
                "min_ttl" | "max_ttl" => {
                    let _ = args.next();
                    cx.warn(
                        arg.pos,
                        format!(
                            "`{}` ignored: havip accepts only adverts with TTL 255",
                            arg.text
                        ),
                    );
                }
                other => cx.error(arg.pos, format!("unknown unicast_peer option `{other}`")),
            }
        }
        if let Some(ip) = cx.ip("unicast_peer", &peer) {
            let index = instance.unicast_peers.len();
            cx.span(path.key("unicast_peers").index(index), item.pos);
            instance.unicast_peers.push(ip);
        }
    }
}

/// Options of a `virtual_ipaddress` line that take a value and are ignored.
const VIP_IGNORED_WITH_VALUE: [&str; 6] = [
    "brd",
    "broadcast",
    "scope",
    "peer",
    "preferred_lft",
    "track_group",
];
/// Flags of a `virtual_ipaddress` line that are ignored.
const VIP_IGNORED_FLAGS: [&str; 6] = [
    "home",
    "-nodad",
    "mngtmpaddr",
    "noprefixroute",
    "autojoin",
    "no_track",
];

/// `virtual_ipaddress { ... }`, or with `excluded` `virtual_ipaddress_excluded { ... }`.
fn virtual_addresses(
    cx: &mut Cx<'_>,
    node: &Node,
    path: &FieldPath,
    instance: &mut Instance,
    excluded: bool,
) {
    let Some(items) = cx.block(node, 0) else {
        return;
    };
    for item in items {
        if let Some(block) = &item.block {
            cx.error(block.open, "a virtual address does not take a block");
        }
        let mut vip = match item.keyword.parse::<VirtualAddress>() {
            // keepalived: an instance has the family of its first address (or native_ipv6);
            // an advertised address of the other family is ignored, with a warning.
            Ok(vip)
                if !excluded
                    && (instance.native_ipv6 || !instance.virtual_ipaddresses.is_empty())
                    && vip.address.is_ipv6() != (instance.family() == Family::Ipv6) =>
            {
                cx.warn(
                    item.pos,
                    format!(
                        "virtual address `{}` ignored, as keepalived does: the address family \
                         must match the instance's ({}); list it in \
                         virtual_ipaddress_excluded or in another instance",
                        item.keyword,
                        instance.family()
                    ),
                );
                None
            }
            Ok(vip) => Some(vip),
            Err(e) => {
                cx.error(item.pos, format!("virtual address: {e}"));
                None
            }
        };
        let mut args = item.args.iter();
        while let Some(arg) = args.next() {
            let option = arg.text.as_str();
            let needs_value =
                option == "dev" || option == "label" || VIP_IGNORED_WITH_VALUE.contains(&option);
            let value = if needs_value {
                let value = args.next();
                if value.is_none() {
                    cx.error(arg.pos, format!("`{option}` needs a value"));
                }
                value
            } else {
                None
            };
            match (option, value, vip.as_mut()) {
                ("dev", Some(v), Some(vip)) => vip.dev = Some(v.text.clone()),
                ("label", Some(v), Some(vip)) => vip.label = Some(v.text.clone()),
                ("dev" | "label", _, _) => {}
                ("use_vmac", _, _) => cx.error(
                    arg.pos,
                    "`use_vmac` is not supported: virtual MAC interfaces are not supported",
                ),
                (o, Some(v), _) => cx.warn(
                    arg.pos,
                    format!(
                        "`{o} {}` ignored: havip adds the address with defaults",
                        v.text
                    ),
                ),
                (o, None, _) if VIP_IGNORED_FLAGS.contains(&o) => cx.warn(
                    arg.pos,
                    format!("`{o}` ignored: havip adds the address with defaults"),
                ),
                (_, None, _) if needs_value => {}
                (o, None, _) => {
                    cx.error(arg.pos, format!("unknown virtual_ipaddress option `{o}`"));
                }
            }
        }
        if let Some(vip) = vip {
            let (key, list) = if excluded {
                (
                    "virtual_ipaddress_excluded",
                    &mut instance.virtual_ipaddress_excluded,
                )
            } else {
                ("virtual_ipaddresses", &mut instance.virtual_ipaddresses)
            };
            cx.span(path.key(key).index(list.len()), item.pos);
            list.push(vip);
        }
    }
}

/// keepalived's rules for an IPv6 instance, once all its directives are read: VRRP v2 is IPv4
/// only, so version 3 whatever `version` says (keepalived 2.2.7 switches silently); and the first
/// address should be link-local (RFC 9568 5.2.9 makes it a MUST; keepalived only warns).
fn ipv6_rules(cx: &mut Cx<'_>, node: &Node, b: &mut Builder<'_>) {
    if b.instance.family() != Family::Ipv6 {
        return;
    }
    if b.instance.version == Version::V2 {
        let pos = cx
            .spans
            .get(&b.path.key("version"))
            .copied()
            .unwrap_or(node.pos);
        cx.note(
            pos,
            "VRRP version 2 is IPv4 only: this IPv6 instance runs version 3, as keepalived's does",
        );
        b.instance.version = Version::V3;
    }
    if let Some(first) = b.instance.virtual_ipaddresses.first()
        && let std::net::IpAddr::V6(a) = first.address
        && !a.is_unicast_link_local()
    {
        let pos = cx
            .spans
            .get(&b.path.key("virtual_ipaddresses").index(0))
            .copied()
            .unwrap_or(node.pos);
        cx.warn(
            pos,
            format!(
                "the first IPv6 virtual address {a} should be link-local (RFC 9568 5.2.9; \
                 keepalived warns the same and goes on)"
            ),
        );
    }
}
