//! Directive tree -> [`Config`]: `global_defs`, `vrrp_script`, `vrrp_sync_group` here,
//! `vrrp_instance` in [`super::instance`]; argument helpers in [`super::context`].
//!
//! keepalived copies the `global_defs` GARP settings and `vrrp_version` into each instance; so
//! does this conversion, whatever the order of the blocks in the file.

use std::collections::HashMap;
use std::time::Duration;

use super::context::{Cx, TIMER_DECIMALS, WEIGHT};
use super::instance;
use super::parser::{Arg, Node};
use super::resolve;
use super::{Findings, Pos};
use crate::config::model::{Config, Global, RtPriority, Script, SyncGroup};
use crate::config::validate::FieldPath;
use crate::config::values::{TrackScript, Version};

/// keepalived `vrrp_script` interval and timeout have millisecond resolution.
const SCRIPT_DECIMALS: usize = 3;

/// The converted configuration and where its fields came from.
pub(crate) struct Converted {
    pub(crate) config: Config,
    pub(crate) spans: HashMap<FieldPath, Pos>,
}

/// Converts the directive tree of a keepalived.conf.
pub(crate) fn convert(nodes: &[Node], findings: &mut Findings) -> Converted {
    let mut cx = Cx::new(findings);
    let mut config = Config::default();
    let mut global = GlobalSet::default();
    for node in nodes.iter().filter(|n| n.keyword == "global_defs") {
        cx.span(FieldPath::root().key("global"), node.pos);
        global_defs(&mut cx, node, &mut config.global, &mut global);
    }
    // BFD instances first: a track_bfd may name one defined further down the file.
    for node in nodes.iter().filter(|n| n.keyword == "bfd_instance") {
        super::bfd::bfd_instance(&mut cx, node, &mut config);
    }
    let dynamic_interfaces = nodes
        .iter()
        .filter(|n| n.keyword == "global_defs")
        .filter_map(|n| n.block.as_ref())
        .any(|b| b.nodes.iter().any(|n| n.keyword == "dynamic_interfaces"));
    for node in nodes {
        match node.keyword.as_str() {
            "global_defs" | "bfd_instance" => {}
            "vrrp_script" => vrrp_script(&mut cx, node, &mut config),
            "vrrp_instance" => {
                if let Some(name) = node.args.first()
                    && config.instances.iter().any(|i| i.name == name.text)
                {
                    cx.warn(
                        name.pos,
                        format!(
                            "vrrp_instance `{}` is already defined; this one is skipped (as \
                             keepalived does)",
                            name.text
                        ),
                    );
                    continue;
                }
                let index = config.instances.len();
                if let Some(mut i) = instance::convert(&mut cx, node, index, &config.global) {
                    let scope = resolve::Scope {
                        scripts: &config.scripts,
                        dynamic_interfaces,
                    };
                    let owner = format!("vrrp_instance {}", i.name);
                    resolve::tracks(
                        &mut cx,
                        &FieldPath::instance(index),
                        &owner,
                        &scope,
                        &mut i.track_interfaces,
                        &mut i.track_scripts,
                    );
                    config.instances.push(i);
                }
            }
            "vrrp_sync_group" => {
                sync_group(&mut cx, node, &mut config);
                if let Some(index) = config.sync_groups.len().checked_sub(1)
                    && let Some(mut g) = config.sync_groups.pop()
                {
                    let scope = resolve::Scope {
                        scripts: &config.scripts,
                        dynamic_interfaces,
                    };
                    let owner = format!("vrrp_sync_group {}", g.name);
                    resolve::tracks(
                        &mut cx,
                        &FieldPath::sync_group(index),
                        &owner,
                        &scope,
                        &mut g.track_interfaces,
                        &mut g.track_scripts,
                    );
                    config.sync_groups.push(g);
                }
            }
            keyword => top_level_other(&mut cx, node, keyword),
        }
    }
    unused_scripts(&mut cx, &config);
    unknown_bfds(&mut cx, &mut config);
    Converted {
        config,
        spans: cx.spans,
    }
}

/// keepalived warns about a `vrrp_script` that nothing tracks ("script X is not used") and
/// does not run it; havip runs only tracked scripts too.
fn unused_scripts(cx: &mut Cx<'_>, config: &Config) {
    for name in config.scripts.keys() {
        let used = config
            .instances
            .iter()
            .flat_map(|i| &i.track_scripts)
            .chain(config.sync_groups.iter().flat_map(|g| &g.track_scripts))
            .any(|t| &t.name == name);
        if !used && let Some(&pos) = cx.spans.get(&FieldPath::script(name)) {
            cx.warn(
                pos,
                format!("vrrp_script `{name}` is not used by any instance or sync group"),
            );
        }
    }
}

/// keepalived drops a `track_bfd` entry that names no `bfd_instance` with a warning, in an
/// instance as in a sync group.
fn unknown_bfds(cx: &mut Cx<'_>, config: &mut Config) {
    let known = |name: &str| config.bfd.contains_key(name);
    for (i, instance) in config.instances.iter_mut().enumerate() {
        let path = FieldPath::instance(i).key("track_bfds");
        drop_unknown_bfds(cx, &path, &mut instance.track_bfds, known);
    }
    for (i, group) in config.sync_groups.iter_mut().enumerate() {
        let path = FieldPath::sync_group(i).key("track_bfds");
        drop_unknown_bfds(cx, &path, &mut group.track_bfds, known);
    }
}

/// Keeps the entries of `tracks` (at `path`) that `known` names, moving their source positions
/// to their new indices; warns about the others.
fn drop_unknown_bfds(
    cx: &mut Cx<'_>,
    path: &FieldPath,
    tracks: &mut Vec<TrackScript>,
    known: impl Fn(&str) -> bool,
) {
    let mut kept = Vec::new();
    for (j, t) in std::mem::take(tracks).into_iter().enumerate() {
        if known(&t.name) {
            if let Some(pos) = cx.spans.remove(&path.index(j)) {
                cx.span(path.index(kept.len()), pos);
            }
            kept.push(t);
        } else if let Some(&pos) = cx.spans.get(&path.index(j)) {
            cx.warn(
                pos,
                format!(
                    "track_bfd `{}` names no bfd_instance; not tracked (as keepalived does)",
                    t.name
                ),
            );
        }
    }
    *tracks = kept;
}

/// Which `global_defs` settings were written (to warn about repeats).
#[derive(Default)]
struct GlobalSet {
    seen: HashMap<String, Pos>,
}

fn global_defs(cx: &mut Cx<'_>, node: &Node, g: &mut Global, set: &mut GlobalSet) {
    let Some(items) = cx.block(node, 0) else {
        return;
    };
    let path = FieldPath::root().key("global");
    for item in items {
        if let Some(earlier) = set.seen.insert(item.keyword.clone(), item.pos) {
            cx.warn(
                item.pos,
                format!(
                    "`{}` repeated; this one overrides line {}",
                    item.keyword, earlier.line
                ),
            );
        }
        let key = item.keyword.as_str();
        match key {
            "router_id" => {
                if let Some(arg) = cx.value(item) {
                    g.router_id = Some(arg.text.clone());
                    cx.span(path.key("router_id"), arg.pos);
                }
            }
            "vrrp_version" => {
                if let Some((n, pos)) = cx.int_or_warn::<i64>(item, 2..=3, "ignored") {
                    g.vrrp_version = Version::from_number(n).unwrap_or_default();
                    cx.span(path.key("vrrp_version"), pos);
                }
            }
            "script_user" => {
                cx.no_block(item);
                match cx.user_group(item, &item.args) {
                    Some((user, group)) => {
                        g.script_user = Some(user);
                        g.script_group = group;
                    }
                    None => cx.error(item.pos, "`script_user` needs a user name"),
                }
            }
            "enable_script_security" => {
                cx.flag(item);
                g.enable_script_security = true;
            }
            "vrrp_garp_master_delay" => {
                if let Some((d, pos)) = cx.whole_seconds(item) {
                    g.garp_master_delay = d;
                    cx.span(path.key("garp_master_delay"), pos);
                }
            }
            "vrrp_garp_master_repeat" => {
                if let Some((n, pos)) = cx.int_or_warn(item, 0..=i64::from(u32::MAX), "ignored") {
                    g.garp_master_repeat = at_least_one(cx, item, n, pos);
                    cx.span(path.key("garp_master_repeat"), pos);
                }
            }
            "vrrp_garp_master_refresh" => {
                if let Some((d, pos)) = cx.whole_seconds(item) {
                    g.garp_master_refresh = d;
                    cx.span(path.key("garp_master_refresh"), pos);
                }
            }
            "vrrp_garp_master_refresh_repeat" => {
                if let Some((n, pos)) = cx.int_or_warn(item, 0..=i64::from(u32::MAX), "ignored") {
                    g.garp_master_refresh_repeat = at_least_one(cx, item, n, pos);
                    cx.span(path.key("garp_master_refresh_repeat"), pos);
                }
            }
            "vrrp_garp_interval" => {
                if let Some((d, pos)) = cx.seconds(item, TIMER_DECIMALS) {
                    g.garp_interval = d;
                    cx.span(path.key("garp_interval"), pos);
                }
            }
            "vrrp_rt_priority" => rt_priority(cx, item, g, &path),
            "vrrp_no_swap" => {
                cx.flag(item);
                g.lock_memory = true;
            }
            "v3_checksum_as_v2" => {
                if let Some(b) = cx.boolean(item) {
                    g.v3_checksum_as_v2 = b;
                }
            }
            _ => global_other(cx, item),
        }
    }
}

/// keepalived runs its VRRP process under `SCHED_RR` at `vrrp_rt_priority`; havip runs its
/// election thread under `SCHED_FIFO` (one thread: no round-robin peer to share with). Out of
/// range, keepalived uses the nearest bound with a warning: so does havip.
fn rt_priority(cx: &mut Cx<'_>, item: &Node, g: &mut Global, path: &FieldPath) {
    let Some((n, pos)) = cx.int_or_warn::<i64>(item, i64::MIN..=i64::MAX, "ignored") else {
        return;
    };
    let (min, max) = (i64::from(RtPriority::MIN), i64::from(RtPriority::MAX));
    let clamped = n.clamp(min, max);
    if clamped != n {
        cx.warn(
            pos,
            format!(
                "`vrrp_rt_priority` {n} is outside {min}..={max}; {clamped} is used (as \
                 keepalived does)"
            ),
        );
    }
    g.rt_priority = u8::try_from(clamped)
        .ok()
        .and_then(|p| RtPriority::try_from(p).ok());
    cx.span(path.key("rt_priority"), pos);
}

/// keepalived reads a GARP repeat count of 0 as 1, with a warning.
fn at_least_one(cx: &mut Cx<'_>, item: &Node, n: u32, pos: Pos) -> u32 {
    if n == 0 {
        cx.warn(
            pos,
            format!(
                "`{}` must be greater than 0; 1 is used (as keepalived does)",
                item.keyword
            ),
        );
        1
    } else {
        n
    }
}

/// `global_defs` items havip does not use: a note, a warning or an error each.
fn global_other(cx: &mut Cx<'_>, item: &Node) {
    match item.keyword.as_str() {
        "vrrp_check_unicast_src" => {
            cx.flag(item);
            cx.note(
                item.pos,
                "`vrrp_check_unicast_src`: havip always drops adverts whose source is not a \
                 unicast_peer",
            );
        }
        "dynamic_interfaces" => cx.note(
            item.pos,
            "`dynamic_interfaces`: tracked interfaces that do not exist yet are kept, and count \
             as down until they appear",
        ),
        "vrrp_mcast_group4" => {
            if let Some(arg) = cx.value(item) {
                if arg.text == "224.0.0.18" {
                    cx.note(arg.pos, "`vrrp_mcast_group4` 224.0.0.18 is the default");
                } else {
                    cx.error(
                        arg.pos,
                        "`vrrp_mcast_group4`: havip sends multicast adverts to 224.0.0.18 \
                         only; use unicast_peer instead",
                    );
                }
            }
        }
        "vrrp_down_timer_adverts" => cx.error(
            item.pos,
            "`vrrp_down_timer_adverts` is not supported: havip uses the RFC master-down \
             timer (3 advert intervals plus skew)",
        ),
        "vrrp_strict" => cx.warn(
            item.pos,
            "`vrrp_strict` ignored: havip does not add firewall rules and keeps the \
             configured authentication and unicast settings",
        ),
        k if k.starts_with("notification_email")
            || k.starts_with("smtp_")
            || k == "email_faults" =>
        {
            cx.note(item.pos, format!("`{k}` ignored: havip sends no email"));
        }
        k if k.starts_with("vrrp_garp_lower_prio")
            || k == "vrrp_lower_prio_no_advert"
            || k == "vrrp_higher_prio_send_advert"
            || k == "vrrp_skip_check_adv_addr"
            || k == "vrrp_min_garp"
            || k == "vrrp_gna_interval"
            || k == "vrrp_garp_extra_if" =>
        {
            cx.warn(
                item.pos,
                format!("`{k}` ignored: not supported by havip's VRRP implementation"),
            );
        }
        k => cx.warn(
            item.pos,
            format!("`{k}` in global_defs ignored: not used by havip"),
        ),
    }
}

fn vrrp_script(cx: &mut Cx<'_>, node: &Node, config: &mut Config) {
    let Some(name_arg) = node.args.first() else {
        cx.error(node.pos, "`vrrp_script` needs a name");
        return;
    };
    let name = name_arg.text.clone();
    let Some(items) = node.block.as_ref().map(|b| &b.nodes) else {
        cx.error(
            node.pos,
            format!("vrrp_script `{name}` needs a `{{ ... }}` block"),
        );
        return;
    };
    for extra in node.args.iter().skip(1) {
        cx.warn(
            extra.pos,
            format!("extra argument `{}` ignored", extra.text),
        );
    }
    if config.scripts.contains_key(&name) {
        // keepalived keeps both and finds the first by name.
        cx.warn(
            name_arg.pos,
            format!("vrrp_script `{name}` is defined twice; this one is ignored"),
        );
        return;
    }
    let path = FieldPath::script(&name);
    cx.span(path.clone(), name_arg.pos);
    let mut script = Script::new(String::new());
    let mut has_script = false;
    for item in items {
        has_script |= script_item(cx, item, &path, &mut script);
    }
    if !has_script {
        cx.warn(
            node.pos,
            format!(
                "vrrp_script `{name}` has no `script` line; removed (as keepalived does), so \
                 nothing can track it"
            ),
        );
        return;
    }
    config.scripts.insert(name, script);
}

/// One directive of a `vrrp_script` block; true if it set the command.
fn script_item(cx: &mut Cx<'_>, item: &Node, path: &FieldPath, script: &mut Script) -> bool {
    let mut has_script = false;
    let key = item.keyword.as_str();
    match key {
        "script" => {
            cx.no_block(item);
            if item.args.is_empty() {
                cx.error(item.pos, "`script` needs a command");
            } else {
                script.script = join_command(&item.args);
                has_script = true;
                cx.span(path.key("script"), item.args[0].pos);
            }
        }
        "interval" | "timeout" => {
            if let Some((mut d, pos)) = cx.seconds(item, SCRIPT_DECIMALS) {
                if d.is_zero() {
                    cx.warn(
                        pos,
                        format!("`{key}` must be greater than 0; 1 s is used (as keepalived does)"),
                    );
                    d = Duration::from_secs(1);
                }
                if key == "interval" {
                    script.interval = d;
                } else {
                    script.timeout = Some(d);
                }
                cx.span(path.key(key), pos);
            }
        }
        "weight" => script_weight(cx, item, path, script),
        "rise" | "fall" => {
            let read = cx.int_or_warn::<u32>(item, 1..=i64::from(i32::MAX), "1 is used");
            if read.is_none() {
                if key == "rise" {
                    script.rise = 1;
                } else {
                    script.fall = 1;
                }
            }
            if let Some((n, pos)) = read {
                if key == "rise" {
                    script.rise = n;
                } else {
                    script.fall = n;
                }
                cx.span(path.key(key), pos);
            }
        }
        "user" => {
            cx.no_block(item);
            match cx.user_group(item, &item.args) {
                Some((user, group)) => {
                    script.user = Some(user);
                    script.group = group;
                }
                None => cx.error(item.pos, "`user` needs a user name"),
            }
        }
        "init_fail" => {
            cx.flag(item);
            script.init_fail = true;
        }
        other => cx.warn(
            item.pos,
            format!("unknown keyword `{other}` in vrrp_script ignored (as keepalived does)"),
        ),
    }
    has_script
}

/// `weight N [reverse|noreverse]` in a `vrrp_script`.
fn script_weight(cx: &mut Cx<'_>, item: &Node, path: &FieldPath, script: &mut Script) {
    cx.no_block(item);
    let mut args = item.args.iter();
    match args.next() {
        None => cx.error(item.pos, "`weight` needs a value"),
        Some(arg) => match arg.text.parse::<i16>() {
            Ok(w) if WEIGHT.contains(&i64::from(w)) => {
                script.weight = w;
                cx.span(path.key("weight"), arg.pos);
            }
            // keepalived warns and runs with whatever its parser left; 0, the default, here.
            _ => cx.warn(
                arg.pos,
                format!(
                    "vrrp_script weight `{}` is not in -253..=253; weight 0 is used",
                    arg.text
                ),
            ),
        },
    }
    for arg in args {
        match arg.text.as_str() {
            "reverse" => script.reverse = true,
            "noreverse" => script.reverse = false,
            other => cx.warn(
                arg.pos,
                format!("unknown `weight` option `{other}` ignored (as keepalived does)"),
            ),
        }
    }
}

/// The command line of `script a b c`: one quoted argument is the whole command line; several
/// are joined, single-quoting those with spaces so the script runner splits them the same way.
pub(super) fn join_command(args: &[Arg]) -> String {
    if let [only] = args {
        return only.text.clone();
    }
    args.iter()
        .map(|a| {
            if a.text.contains(char::is_whitespace) && !a.text.contains('\'') {
                format!("'{}'", a.text)
            } else {
                a.text.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn sync_group(cx: &mut Cx<'_>, node: &Node, config: &mut Config) {
    let Some(name_arg) = node.args.first() else {
        cx.error(node.pos, "`vrrp_sync_group` needs a name");
        return;
    };
    let Some(items) = cx.block(node, 1) else {
        return;
    };
    let index = config.sync_groups.len();
    let path = FieldPath::sync_group(index);
    cx.span(path.clone(), node.pos);
    cx.span(path.key("name"), name_arg.pos);
    let mut group = SyncGroup {
        name: name_arg.text.clone(),
        instances: Vec::new(),
        track_interfaces: Vec::new(),
        track_scripts: Vec::new(),
        track_bfds: Vec::new(),
        notify_master: None,
        notify_backup: None,
        notify_fault: None,
        notify_stop: None,
        notify: None,
    };
    for item in items {
        let key = item.keyword.as_str();
        match key {
            "group" => {
                let Some(members) = cx.block(item, 0) else {
                    continue;
                };
                cx.span(path.key("instances"), item.pos);
                for member in members {
                    cx.no_block(member);
                    let words = std::iter::once((&member.keyword, member.pos))
                        .chain(member.args.iter().map(|a| (&a.text, a.pos)));
                    for (name, pos) in words {
                        cx.span(path.key("instances").index(group.instances.len()), pos);
                        group.instances.push(name.clone());
                    }
                }
            }
            "notify_master" | "notify_backup" | "notify_fault" | "notify_stop" | "notify" => {
                if let Some((command, pos)) = cx.command(item) {
                    cx.span(path.key(key), pos);
                    let slot = match key {
                        "notify_master" => &mut group.notify_master,
                        "notify_backup" => &mut group.notify_backup,
                        "notify_fault" => &mut group.notify_fault,
                        "notify_stop" => &mut group.notify_stop,
                        _ => &mut group.notify,
                    };
                    *slot = Some(command);
                }
            }
            "track_interface" => {
                cx.track_interfaces(
                    item,
                    &path.key("track_interfaces"),
                    &mut group.track_interfaces,
                );
            }
            "track_script" => {
                cx.track_scripts(item, &path.key("track_scripts"), &mut group.track_scripts);
            }
            "smtp_alert" => cx.note(item.pos, "`smtp_alert` ignored: havip sends no email"),
            "track_bfd" => {
                cx.track_scripts(item, &path.key("track_bfds"), &mut group.track_bfds);
            }
            "track_file" | "track_process" => cx.error(
                item.pos,
                format!(
                    "`{key}` is not supported: havip tracks interfaces and scripts only (a \
                     vrrp_script can check the file or process)"
                ),
            ),
            "global_tracking"
            | "sync_group_tracking_weight"
            | "notify_priority_changes"
            | "notify_deleted" => {
                cx.warn(item.pos, format!("`{key}` ignored: not supported by havip"));
            }
            other => cx.warn(
                item.pos,
                format!(
                    "unknown keyword `{other}` in vrrp_sync_group ignored (as keepalived does)"
                ),
            ),
        }
    }
    config.sync_groups.push(group);
}

/// keepalived top-level blocks outside havip's scope (LVS, BFD, static addresses...).
const IGNORED_TOP_LEVEL: [&str; 16] = [
    "virtual_server",
    "virtual_server_group",
    "static_ipaddress",
    "static_routes",
    "static_rules",
    "linkbeat_interfaces",
    "garp_group",
    "vrrp_track_file",
    "track_file",
    "vrrp_track_process",
    "interface_up_down_delays",
    "net_namespace",
    "net_namespace_ipvs",
    "namespace_with_ipsets",
    "use_pid_dir",
    "instance",
];

fn top_level_other(cx: &mut Cx<'_>, node: &Node, keyword: &str) {
    if IGNORED_TOP_LEVEL.contains(&keyword) {
        cx.warn(
            node.pos,
            format!("`{keyword}` ignored: outside havip's scope (VRRP only)"),
        );
    } else if keyword.starts_with(['$', '@', '~']) {
        cx.error(
            node.pos,
            format!(
                "`{keyword}`: keepalived parameter substitution and conditional configuration \
                 are not supported; expand them first"
            ),
        );
    } else {
        cx.warn(
            node.pos,
            format!("unknown top-level keyword `{keyword}` ignored (as keepalived does)"),
        );
    }
}
