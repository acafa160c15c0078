//! What keepalived's `vrrp_complete_instance` settles once a whole `vrrp_instance` is read,
//! each with the warning keepalived logs, and the value ranges its handlers read.

use std::time::Duration;

use super::context::Cx;
use super::parser::Node;
use crate::config::model::Instance;
use crate::config::validate::FieldPath;
use crate::config::values::{InitialState, Version};

/// keepalived's `advert_int` reading range (`vrrp_adv_handler`): 10 ms..=255 s.
pub(super) const ADVERT_INT_READ: (Duration, Duration) =
    (Duration::from_millis(10), Duration::from_secs(255));
/// keepalived's `preempt_delay` range (`TIMER_MAX_SEC`).
pub(super) const MAX_PREEMPT_DELAY: Duration = Duration::from_secs(1000);

/// What keepalived's `vrrp_complete_instance` settles once the whole instance is read: the
/// priority from the state when none was given, combinations it resolves with a warning
/// (authentication under VRRP version 3, `nopreempt` with an owner or an initial `MASTER`), and the
/// advert interval rounded to what the version can carry.
pub(super) fn complete(
    cx: &mut Cx<'_>,
    node: &Node,
    path: &FieldPath,
    i: &mut Instance,
    priority_set: bool,
) {
    let at = |cx: &Cx<'_>, key: &str| cx.spans.get(&path.key(key)).copied().unwrap_or(node.pos);
    let auth_at = at(cx, "auth");
    let interval_at = at(cx, "advert_interval");
    let name = i.name.clone();
    if !priority_set && i.state == InitialState::Master {
        i.priority = 255;
        cx.note(
            node.pos,
            format!(
                "vrrp_instance `{name}`: `state MASTER` without `priority` means priority 255 \
                 (address owner), as in keepalived"
            ),
        );
    }
    super::auth_hmac::complete(cx, node.pos, auth_at, i);
    if i.version == Version::V3 && i.auth.take().is_some() {
        cx.warn(
            auth_at,
            format!(
                "vrrp_instance `{name}`: VRRP version 3 has no authentication; ignored (as \
                 keepalived does)"
            ),
        );
    }
    if !i.preempt && (i.priority == 255 || i.state == InitialState::Master) {
        i.preempt = true;
        cx.warn(
            node.pos,
            format!(
                "vrrp_instance `{name}`: `nopreempt` does not work with priority 255 or initial \
                 state MASTER; cleared (as keepalived does)"
            ),
        );
    }
    if !i.preempt_delay.is_zero() && (i.state == InitialState::Master || !i.preempt) {
        i.preempt_delay = Duration::ZERO;
        cx.warn(
            node.pos,
            format!(
                "vrrp_instance `{name}`: `preempt_delay` does not work with initial state MASTER \
                 or nopreempt; cleared (as keepalived does)"
            ),
        );
    }
    let interval = i.advert_interval;
    let (unit, max) = match i.version {
        Version::V2 => (Duration::from_secs(1), Duration::from_secs(255)),
        Version::V3 => (Duration::from_millis(10), Duration::from_millis(40_950)),
    };
    let rounded = if interval > max {
        max
    } else {
        let units = (interval.as_nanos() + unit.as_nanos() / 2) / unit.as_nanos();
        unit.saturating_mul(u32::try_from(units.max(1)).unwrap_or(u32::MAX))
    };
    if rounded != interval {
        i.advert_interval = rounded;
        cx.warn(
            interval_at,
            format!(
                "vrrp_instance `{name}`: advert_int {} cannot be sent by VRRP version {}; {} is \
                 used (as keepalived does)",
                crate::config::format_duration(interval),
                match i.version {
                    Version::V2 => 2,
                    Version::V3 => 3,
                },
                crate::config::format_duration(rounded),
            ),
        );
    }
}
