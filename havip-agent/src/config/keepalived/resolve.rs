//! What keepalived resolves while it reads the file: a `track_script` must name a
//! `vrrp_script` defined above it, a `track_interface` an interface that exists now (unless
//! `dynamic_interfaces`). keepalived drops the others with a warning ("track script X not
//! found, ignoring") and runs; so does the import, so that a node running havip elects exactly
//! as a keepalived peer reading the same file (`vrrp_track.c` `alloc_track_script`,
//! `alloc_track_if`).

use std::collections::BTreeMap;

use super::Pos;
use super::context::Cx;
use crate::config::model::Script;
use crate::config::validate::FieldPath;
use crate::config::values::{TrackInterface, TrackScript};

/// Where tracked objects are resolved: the scripts defined so far, and whether missing
/// interfaces are kept (`dynamic_interfaces`).
pub(super) struct Scope<'a> {
    pub(super) scripts: &'a BTreeMap<String, Script>,
    pub(super) dynamic_interfaces: bool,
}

/// Drops, with a warning each, the tracked scripts and interfaces of `owner` (an instance or
/// sync group at `path`) that keepalived would not find.
pub(super) fn tracks(
    cx: &mut Cx<'_>,
    path: &FieldPath,
    owner: &str,
    scope: &Scope<'_>,
    interfaces: &mut Vec<TrackInterface>,
    scripts: &mut Vec<TrackScript>,
) {
    retain(cx, &path.key("track_scripts"), scripts, |cx, track, pos| {
        if scope.scripts.contains_key(&track.name) {
            return true;
        }
        cx.warn(
            pos,
            format!(
                "track script `{}` of `{owner}` not found, ignoring (as keepalived does): no \
                 vrrp_script `{}` is defined before this point",
                track.name, track.name
            ),
        );
        false
    });
    if scope.dynamic_interfaces {
        return;
    }
    retain(
        cx,
        &path.key("track_interfaces"),
        interfaces,
        |cx, track, pos| {
            if interface_exists(&track.name) {
                return true;
            }
            cx.warn(
                pos,
                format!(
                    "tracked interface `{}` of `{owner}` does not exist on this host, ignoring (as \
                 keepalived does without dynamic_interfaces)",
                    track.name
                ),
            );
            false
        },
    );
}

/// Whether the network interface `name` exists in this network namespace. `if_nametoindex`
/// asks the kernel of the calling thread's namespace; `/sys/class/net` would show whichever
/// namespace sysfs was mounted from.
fn interface_exists(name: &str) -> bool {
    // IFNAMSIZ is 16 with its NUL: a longer name cannot be an interface.
    if name.is_empty() || name.len() >= 16 {
        return false;
    }
    let Ok(c_name) = std::ffi::CString::new(name) else {
        return false;
    };
    // SAFETY: `c_name` is a valid NUL-terminated string that outlives the call.
    unsafe { libc::if_nametoindex(c_name.as_ptr()) != 0 }
}

/// Keeps the items of `items` (whose positions are recorded under `path[i]`) for which `keep`
/// says so, renumbering the positions.
fn retain<T>(
    cx: &mut Cx<'_>,
    path: &FieldPath,
    items: &mut Vec<T>,
    mut keep: impl FnMut(&mut Cx<'_>, &T, Pos) -> bool,
) {
    let all = std::mem::take(items);
    let positions: Vec<Option<Pos>> = (0..all.len())
        .map(|i| cx.spans.remove(&path.index(i)))
        .collect();
    for (item, pos) in all.into_iter().zip(positions) {
        let at = pos.unwrap_or(Pos {
            file: 0,
            line: 0,
            column: 0,
        });
        if keep(cx, &item, at) {
            if let Some(pos) = pos {
                cx.span(path.index(items.len()), pos);
            }
            items.push(item);
        }
    }
}
