//! `bfd_instance NAME { ... }` -> `[bfd.NAME]`, with keepalived's units (decimal milliseconds
//! with microsecond resolution for the intervals) and keepalived's handling of bad values.

use std::time::Duration;

use super::Pos;
use super::context::{Cx, WEIGHT};
use super::parser::Node;
use crate::config::bfd::{BfdInstance, MAX_BFD_INTERVAL};
use crate::config::duration::parse_seconds;
use crate::config::model::Config;
use crate::config::validate::FieldPath;

/// Converts one `bfd_instance` block into `config.bfd`.
pub(super) fn bfd_instance(cx: &mut Cx<'_>, node: &Node, config: &mut Config) {
    let Some(name_arg) = node.args.first() else {
        cx.error(node.pos, "`bfd_instance` needs a name");
        return;
    };
    let name = name_arg.text.clone();
    let Some(items) = cx.block(node, 1) else {
        return;
    };
    if config.bfd.contains_key(&name) {
        cx.warn(
            name_arg.pos,
            format!("bfd_instance `{name}` is defined twice; this one is ignored"),
        );
        return;
    }
    let path = FieldPath::root().key("bfd").key(name.as_str());
    cx.span(path.clone(), name_arg.pos);
    let mut neighbor = None;
    let mut b = BfdInstance::new(std::net::Ipv4Addr::UNSPECIFIED);
    for item in items {
        let key = item.keyword.as_str();
        match key {
            "neighbor_ip" | "neighbour_ip" | "source_ip" => {
                let Some(arg) = cx.value(item) else { continue };
                let addr = match cx.ip(key, arg) {
                    Some(std::net::IpAddr::V4(a)) => a,
                    Some(std::net::IpAddr::V6(_)) => {
                        // RFC 5881 over IPv6 is not implemented: say so instead of guessing.
                        cx.error(arg.pos, format!("`{key}`: BFD over IPv6 is not supported"));
                        continue;
                    }
                    None => continue,
                };
                let field = if key == "source_ip" {
                    b.source_ip = Some(addr);
                    "source_ip"
                } else {
                    neighbor = Some(addr);
                    "neighbor_ip"
                };
                cx.span(path.key(field), arg.pos);
            }
            "min_rx" | "min_tx" | "idle_tx" => {
                if let Some((d, pos)) = millis(cx, item) {
                    let slot = match key {
                        "min_rx" => &mut b.min_rx,
                        "min_tx" => &mut b.min_tx,
                        _ => &mut b.idle_tx,
                    };
                    *slot = d;
                    cx.span(path.key(key), pos);
                }
            }
            "multiplier" | "ttl" | "max_hops" => {
                let low = i64::from(key == "multiplier" || key == "ttl");
                if let Some((n, pos)) = cx.int_value::<u8>(item, low..=255) {
                    match key {
                        "multiplier" => b.multiplier = n,
                        "ttl" => b.ttl = n,
                        _ => b.max_hops = n,
                    }
                    cx.span(path.key(key), pos);
                }
            }
            "passive" => {
                cx.flag(item);
                b.passive = true;
            }
            "weight" => weight(cx, item, &path, &mut b),
            "hoplimit" => cx.note(item.pos, "`hoplimit` ignored: havip's BFD is IPv4 only"),
            // keepalived sends events to its VRRP and checker processes; havip has one.
            "vrrp" | "checker" => cx.flag(item),
            other => cx.warn(
                item.pos,
                format!("unknown keyword `{other}` in bfd_instance ignored (as keepalived does)"),
            ),
        }
    }
    let Some(neighbor) = neighbor else {
        cx.warn(
            node.pos,
            format!(
                "bfd_instance `{name}` has no neighbor_ip; removed (as keepalived does), so \
                 nothing can track it"
            ),
        );
        return;
    };
    b.neighbor_ip = neighbor;
    config.bfd.insert(name, b);
}

/// keepalived's BFD intervals: decimal milliseconds with microsecond resolution (`10`,
/// `3.312`), at most what the wire's 32 bits of microseconds hold.
fn millis(cx: &mut Cx<'_>, item: &Node) -> Option<(Duration, Pos)> {
    let arg = cx.value(item)?;
    // Milliseconds with 3 decimals read as seconds are 1000 times the duration meant.
    match parse_seconds(&arg.text, 3) {
        Ok(d) if d / 1000 <= MAX_BFD_INTERVAL => Some((d / 1000, arg.pos)),
        Ok(_) => {
            cx.error(
                arg.pos,
                format!(
                    "`{}` {} ms is longer than {MAX_BFD_INTERVAL:?}",
                    item.keyword, arg.text
                ),
            );
            None
        }
        Err(e) => {
            cx.error(
                arg.pos,
                format!(
                    "`{}` takes milliseconds (like 10 or 3.312): {e}",
                    item.keyword
                ),
            );
            None
        }
    }
}

fn weight(cx: &mut Cx<'_>, item: &Node, path: &FieldPath, b: &mut BfdInstance) {
    cx.no_block(item);
    let mut args = item.args.iter();
    let Some(value) = args.next() else {
        cx.error(item.pos, "`weight` needs a value");
        return;
    };
    match value.text.parse::<i16>() {
        Ok(w) if WEIGHT.contains(&i64::from(w)) => {
            b.weight = w;
            cx.span(path.key("weight"), value.pos);
        }
        _ => cx.warn(
            value.pos,
            format!(
                "bfd_instance weight `{}` is not in -253..=253; weight 0 is used",
                value.text
            ),
        ),
    }
    if let Some(option) = args.next() {
        match option.text.as_str() {
            "reverse" => b.reverse = true,
            "noreverse" => b.reverse = false,
            other => cx.warn(
                option.pos,
                format!("unknown weight option `{other}` ignored"),
            ),
        }
    }
}
