//! `auth_hmac { }` in a `vrrp_instance`, read as keepalived 2.4.3 reads it (`vrrp_parser.c`
//! `vrrp_auth_hmac_*_handler`): bad keys are dropped with an error, a second block adds to the
//! first, and an `active_key` that names no key disables `auth_hmac`.

use super::Pos;
use super::context::Cx;
use super::parser::Node;
use crate::config::auth_hmac::{
    AntiReplayKind, AuthHmacConfig, HmacKeyConfig, KeyValue, MAX_TIME_WINDOW, ModeConfig,
};
use crate::config::model::Instance;
use crate::config::validate::FieldPath;
use crate::vrrp::auth_hmac::parse_key_value;

/// Reads one block into `instance.auth_hmac` (creating it, or adding to an earlier block).
pub(super) fn block(cx: &mut Cx<'_>, node: &Node, path: &FieldPath, instance: &mut Instance) {
    let Some(items) = cx.block(node, 0) else {
        return;
    };
    cx.span(path.key("auth_hmac"), node.pos);
    let hmac = instance.auth_hmac.get_or_insert_with(|| AuthHmacConfig {
        keys: Vec::new(),
        active_key: 0,
        anti_replay: AntiReplayKind::default(),
        time_window: None,
        mode: ModeConfig::default(),
    });
    for item in items {
        match item.keyword.as_str() {
            "key" => key(cx, item, hmac),
            "active_key" => {
                if let Some((id, _)) = cx.int_value(item, 1..=255) {
                    hmac.active_key = id;
                }
            }
            "anti_replay" => {
                if let Some(arg) = cx.value(item) {
                    match arg.text.as_str() {
                        "time" => hmac.anti_replay = AntiReplayKind::Time,
                        "monotonic" => hmac.anti_replay = AntiReplayKind::Monotonic,
                        other => cx.error(
                            arg.pos,
                            format!("`anti_replay` is `time` or `monotonic`, not `{other}`"),
                        ),
                    }
                }
            }
            "time_window" => {
                if let Some((w, _)) = cx.int_value(item, 1..=i64::from(MAX_TIME_WINDOW)) {
                    hmac.time_window = Some(w);
                }
            }
            "mode" => {
                if let Some(arg) = cx.value(item) {
                    match arg.text.as_str() {
                        "enforce" => hmac.mode = ModeConfig::Enforce,
                        "permissive" => hmac.mode = ModeConfig::Permissive,
                        "receive-only" => hmac.mode = ModeConfig::ReceiveOnly,
                        other => cx.error(
                            arg.pos,
                            format!(
                                "`mode` is `enforce`, `permissive` or `receive-only`, not \
                                 `{other}`"
                            ),
                        ),
                    }
                }
            }
            other => cx.warn(
                item.pos,
                format!("unknown keyword `{other}` in auth_hmac ignored"),
            ),
        }
    }
}

/// `key <1..255> hex:<hex> | file:<path> | <ascii>`: checked now, dropped with an error when
/// it does not decode to 32..64 bytes or its id is taken.
fn key(cx: &mut Cx<'_>, node: &Node, hmac: &mut AuthHmacConfig) {
    cx.no_block(node);
    let (Some(id_arg), Some(first)) = (node.args.first(), node.args.get(1)) else {
        cx.error(node.pos, "`key` needs an id (1..255) and a value");
        return;
    };
    let Some(id) = cx.int::<u8>("key", id_arg, 1..=255) else {
        return;
    };
    // `hex:` skips blanks, so a value split into words is one value; others take one word.
    let value = if first.text.starts_with("hex:") {
        node.args[1..]
            .iter()
            .map(|a| a.text.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    } else {
        for extra in &node.args[2..] {
            cx.warn(extra.pos, "extra argument of `key` ignored");
        }
        first.text.clone()
    };
    if hmac.keys.iter().any(|k| k.id == id) {
        cx.error(
            id_arg.pos,
            format!("auth_hmac key {id} is defined twice; this one is dropped"),
        );
        return;
    }
    match parse_key_value(&value) {
        Ok(loaded) => {
            if loaded.file_too_open {
                cx.warn(
                    first.pos,
                    format!(
                        "auth_hmac key {id}: the key file is readable by group or others; \
                         `chmod 600` it (the key is still used, as in keepalived)"
                    ),
                );
            }
            hmac.keys.push(HmacKeyConfig {
                id,
                key: KeyValue(value),
            });
        }
        Err(e) => cx.error(first.pos, format!("{e}; key {id} is dropped")),
    }
}

/// After the instance is read: an `active_key` that names no kept key disables `auth_hmac`,
/// and the legacy `authentication` block is dropped when `auth_hmac` is on (both as keepalived).
pub(super) fn complete(cx: &mut Cx<'_>, at: Pos, auth_at: Pos, i: &mut Instance) {
    let Some(hmac) = &i.auth_hmac else {
        return;
    };
    let active = hmac.active_key;
    if !hmac.keys.iter().any(|k| k.id == active) {
        let what = if active == 0 {
            "has no `active_key`".to_owned()
        } else {
            format!("`active_key {active}` names no usable key")
        };
        cx.error(
            at,
            format!(
                "vrrp_instance `{}`: auth_hmac {what}; auth_hmac is disabled (as keepalived does)",
                i.name
            ),
        );
        i.auth_hmac = None;
        return;
    }
    if i.auth.take().is_some() {
        cx.error(
            auth_at,
            format!(
                "vrrp_instance `{}`: `authentication` and `auth_hmac` together; the legacy \
                 authentication is dropped (as keepalived does)",
                i.name
            ),
        );
    }
}
