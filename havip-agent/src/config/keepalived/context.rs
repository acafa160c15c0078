//! The conversion context: where findings and field positions go, and the helpers that read
//! keepalived's argument types (integers in a range, `<TIMER>` seconds, `<BOOL>`, IPv4
//! addresses, `SCRIPT [USER [[:]GROUP]]`, tracked objects with `weight N [reverse]`), each
//! reporting a precise finding when the text does not fit.

use std::collections::HashMap;
use std::ops::RangeInclusive;
use std::time::Duration;

use super::parser::{Arg, Node};
use super::{Finding, Findings, Pos};
use crate::config::diagnostic::Severity;
use crate::config::duration::parse_seconds;
use crate::config::validate::FieldPath;
use crate::config::values::{Command, TrackInterface, TrackScript};

/// keepalived's weight range for scripts and tracked interfaces.
pub(super) const WEIGHT: RangeInclusive<i64> = -253..=253;
/// keepalived timers have microsecond resolution.
pub(super) const TIMER_DECIMALS: usize = 6;

/// Conversion context: findings and field positions.
pub(super) struct Cx<'f> {
    findings: &'f mut Findings,
    pub(super) spans: HashMap<FieldPath, Pos>,
}

impl<'f> Cx<'f> {
    /// A context reporting into `findings`.
    pub(super) fn new(findings: &'f mut Findings) -> Self {
        Self {
            findings,
            spans: HashMap::new(),
        }
    }

    pub(super) fn report(&mut self, pos: Pos, severity: Severity, message: impl Into<String>) {
        self.findings.push(Finding::new(pos, severity, message));
    }

    pub(super) fn error(&mut self, pos: Pos, message: impl Into<String>) {
        self.report(pos, Severity::Error, message);
    }

    pub(super) fn warn(&mut self, pos: Pos, message: impl Into<String>) {
        self.report(pos, Severity::Warning, message);
    }

    pub(super) fn note(&mut self, pos: Pos, message: impl Into<String>) {
        self.report(pos, Severity::Note, message);
    }

    /// Records that the field at `path` was written at `pos`.
    pub(super) fn span(&mut self, path: FieldPath, pos: Pos) {
        self.spans.insert(path, pos);
    }

    /// The block of `node`, or an error if it has none; arguments past the first `named`
    /// (the name of a `vrrp_instance`, say) get a warning.
    pub(super) fn block<'n>(&mut self, node: &'n Node, named: usize) -> Option<&'n [Node]> {
        if let Some(block) = &node.block {
            for extra in node.args.iter().skip(named) {
                self.warn(
                    extra.pos,
                    format!("argument `{}` of `{}` ignored", extra.text, node.keyword),
                );
            }
            Some(&block.nodes)
        } else {
            self.error(
                node.pos,
                format!("`{}` needs a `{{ ... }}` block", node.keyword),
            );
            None
        }
    }

    /// An error if `node` has a block it does not take.
    pub(super) fn no_block(&mut self, node: &Node) {
        if let Some(block) = &node.block {
            self.error(
                block.open,
                format!("`{}` does not take a `{{ ... }}` block", node.keyword),
            );
        }
    }

    /// The single argument of `node`; an error when missing, a warning for extra ones.
    pub(super) fn value<'n>(&mut self, node: &'n Node) -> Option<&'n Arg> {
        self.no_block(node);
        for extra in node.args.iter().skip(1) {
            self.warn(
                extra.pos,
                format!(
                    "extra argument `{}` of `{}` ignored",
                    extra.text, node.keyword
                ),
            );
        }
        let first = node.args.first();
        if first.is_none() {
            self.error(node.pos, format!("`{}` needs a value", node.keyword));
        }
        first
    }

    /// A directive without arguments; a warning for any given.
    pub(super) fn flag(&mut self, node: &Node) {
        self.no_block(node);
        for extra in &node.args {
            self.warn(
                extra.pos,
                format!(
                    "`{}` takes no argument; `{}` ignored",
                    node.keyword, extra.text
                ),
            );
        }
    }

    /// keepalived `<BOOL>`: on|off|true|false|yes|no, absent meaning true.
    pub(super) fn boolean(&mut self, node: &Node) -> Option<bool> {
        self.no_block(node);
        let Some(arg) = node.args.first() else {
            return Some(true);
        };
        match arg.text.to_ascii_lowercase().as_str() {
            "on" | "true" | "yes" => Some(true),
            "off" | "false" | "no" => Some(false),
            _ => {
                self.error(
                    arg.pos,
                    format!(
                        "`{}` takes on|off|true|false|yes|no, not `{}`",
                        node.keyword, arg.text
                    ),
                );
                None
            }
        }
    }

    /// An integer in `range`, converted to `T`.
    pub(super) fn int<T: TryFrom<i64>>(
        &mut self,
        keyword: &str,
        arg: &Arg,
        range: RangeInclusive<i64>,
    ) -> Option<T> {
        let parsed = arg
            .text
            .parse::<i64>()
            .ok()
            .filter(|n| range.contains(n))
            .and_then(|n| T::try_from(n).ok());
        if parsed.is_none() {
            self.error(
                arg.pos,
                format!(
                    "`{keyword}` must be an integer in {}..={}, not `{}`",
                    range.start(),
                    range.end(),
                    arg.text
                ),
            );
        }
        parsed
    }

    /// The single integer argument of `node` in `range`; otherwise a warning saying what
    /// keepalived does instead (`instead`: "ignored", "1 is used"...) and `None`, for the
    /// settings keepalived reads leniently.
    pub(super) fn int_or_warn<T: TryFrom<i64>>(
        &mut self,
        node: &Node,
        range: RangeInclusive<i64>,
        instead: &str,
    ) -> Option<(T, Pos)> {
        let arg = self.value(node)?;
        let parsed = arg
            .text
            .parse::<i64>()
            .ok()
            .filter(|n| range.contains(n))
            .and_then(|n| T::try_from(n).ok());
        if parsed.is_none() {
            self.warn(
                arg.pos,
                format!(
                    "`{}` must be an integer in {}..={}, not `{}`; {instead} (as keepalived does)",
                    node.keyword,
                    range.start(),
                    range.end(),
                    arg.text
                ),
            );
        }
        parsed.map(|n| (n, arg.pos))
    }

    /// The single integer argument of `node`.
    pub(super) fn int_value<T: TryFrom<i64>>(
        &mut self,
        node: &Node,
        range: RangeInclusive<i64>,
    ) -> Option<(T, Pos)> {
        let arg = self.value(node)?;
        self.int(&node.keyword, arg, range).map(|n| (n, arg.pos))
    }

    /// keepalived `<TIMER>`: decimal seconds with at most `decimals` decimals.
    pub(super) fn seconds(&mut self, node: &Node, decimals: usize) -> Option<(Duration, Pos)> {
        let arg = self.value(node)?;
        match parse_seconds(&arg.text, decimals) {
            Ok(d) => Some((d, arg.pos)),
            Err(e) => {
                self.error(
                    arg.pos,
                    format!("`{}` takes seconds (like 1 or 0.5): {e}", node.keyword),
                );
                None
            }
        }
    }

    /// Whole seconds, for keepalived settings read with `read_unsigned`.
    pub(super) fn whole_seconds(&mut self, node: &Node) -> Option<(Duration, Pos)> {
        // keepalived ignores a bad value here with a warning (`garp_master_delay '%s' invalid
        // - ignoring`).
        self.int_or_warn::<u64>(node, 0..=i64::from(u32::MAX), "ignored")
            .map(|(s, pos)| (Duration::from_secs(s), pos))
    }

    /// An IPv4 or IPv6 address argument of `keyword` (an error is reported otherwise).
    pub(super) fn ip(&mut self, keyword: &str, arg: &Arg) -> Option<std::net::IpAddr> {
        let parsed = arg.text.parse().ok();
        if parsed.is_none() {
            self.error(
                arg.pos,
                format!("`{keyword}`: `{}` is not an IP address", arg.text),
            );
        }
        parsed
    }

    /// `notify* SCRIPT [USER [[:]GROUP]]`.
    pub(super) fn command(&mut self, node: &Node) -> Option<(Command, Pos)> {
        self.no_block(node);
        let Some((first, rest)) = node.args.split_first() else {
            self.error(node.pos, format!("`{}` needs a script", node.keyword));
            return None;
        };
        let mut command = Command::new(first.text.clone());
        if let Some((user, group)) = self.user_group(node, rest) {
            self.note(
                rest.first().map_or(first.pos, |a| a.pos),
                format!(
                    "`{}` runs as user `{user}` (keepalived reads the word after the script as \
                     the user; quote the whole command line to pass arguments)",
                    node.keyword
                ),
            );
            command.user = Some(user);
            command.group = group;
        }
        Some((command, first.pos))
    }

    /// `USER [[:]GROUP]` arguments (keepalived's `set_script_uid_gid`).
    pub(super) fn user_group(
        &mut self,
        node: &Node,
        args: &[Arg],
    ) -> Option<(String, Option<String>)> {
        let (user, rest) = args.split_first()?;
        let (colon, group, extra) = match rest {
            [] => (None, None, &[][..]),
            [c, g, extra @ ..] if c.text == ":" => (Some(c), Some(g.text.clone()), extra),
            [g, extra @ ..] => match g.text.strip_prefix(':') {
                Some("") => (Some(g), None, extra),
                Some(stripped) => (Some(g), Some(stripped.to_owned()), extra),
                None => (None, Some(g.text.clone()), extra),
            },
        };
        if let Some(colon) = colon {
            self.warn(
                colon.pos,
                format!(
                    "`{}`: `:` (set supplementary groups) ignored; havip runs scripts with \
                     the primary group only",
                    node.keyword
                ),
            );
        }
        for arg in extra {
            self.warn(arg.pos, format!("extra argument `{}` ignored", arg.text));
        }
        Some((user.text.clone(), group))
    }

    /// `track_interface { IFNAME [weight N [reverse]] ... }`, with keepalived's reading of
    /// bad options (`alloc_track_if`): an unknown option or a `weight` without value drops
    /// the entry, a weight out of range is 0, +/-254 is +/-253, each with a warning.
    pub(super) fn track_interfaces(
        &mut self,
        node: &Node,
        path: &FieldPath,
        out: &mut Vec<TrackInterface>,
    ) {
        let Some(items) = self.block(node, 0) else {
            return;
        };
        for item in items {
            self.no_block(item);
            if out.iter().any(|t| t.name == item.keyword) {
                self.warn(
                    item.pos,
                    format!(
                        "duplicate track_interface `{}` ignored (as keepalived does)",
                        item.keyword
                    ),
                );
                continue;
            }
            let Some((weight, reverse)) = self.weight_args(item, false) else {
                continue;
            };
            self.span(path.index(out.len()), item.pos);
            out.push(TrackInterface {
                name: item.keyword.clone(),
                weight: weight.unwrap_or(0),
                reverse: reverse.unwrap_or(false),
            });
        }
    }

    /// `track_script { NAME [weight N [reverse|noreverse]] ... }`, read like
    /// [`Self::track_interfaces`] (`alloc_track_script`), except that a weight out of range
    /// leaves the script's own weight.
    pub(super) fn track_scripts(
        &mut self,
        node: &Node,
        path: &FieldPath,
        out: &mut Vec<TrackScript>,
    ) {
        let Some(items) = self.block(node, 0) else {
            return;
        };
        for item in items {
            self.no_block(item);
            if out.iter().any(|t| t.name == item.keyword) {
                self.warn(
                    item.pos,
                    format!(
                        "duplicate track_script `{}` ignored (as keepalived does)",
                        item.keyword
                    ),
                );
                continue;
            }
            let Some((weight, reverse)) = self.weight_args(item, true) else {
                continue;
            };
            self.span(path.index(out.len()), item.pos);
            out.push(TrackScript {
                name: item.keyword.clone(),
                weight,
                reverse,
            });
        }
    }

    /// `weight N [reverse|noreverse]` after a tracked object's name; `None` when keepalived
    /// drops the whole entry.
    fn weight_args(&mut self, item: &Node, script: bool) -> Option<(Option<i16>, Option<bool>)> {
        let what = if script {
            "track_script"
        } else {
            "track_interface"
        };
        let name = &item.keyword;
        let mut args = item.args.iter();
        let Some(first) = args.next() else {
            return Some((None, None));
        };
        if first.text != "weight" {
            self.warn(
                first.pos,
                format!(
                    "unknown {what} option `{}`: `{name}` is not tracked (as keepalived does); \
                     expected `weight N [reverse]`",
                    first.text
                ),
            );
            return None;
        }
        let Some(value) = args.next() else {
            self.warn(
                first.pos,
                format!("`weight` without a value: `{name}` is not tracked (as keepalived does)"),
            );
            return None;
        };
        let weight = match value.text.parse::<i16>() {
            Ok(w) if WEIGHT.contains(&i64::from(w)) => Some(w),
            Ok(w @ (-254 | 254)) => {
                let clamped = w.signum() * 253;
                self.warn(
                    value.pos,
                    format!("weight {w} for `{name}` read as {clamped}, as keepalived does"),
                );
                Some(clamped)
            }
            _ => {
                let instead = if script {
                    "the script's own weight is used"
                } else {
                    "weight 0 is used"
                };
                self.warn(
                    value.pos,
                    format!(
                        "weight `{}` for `{name}` is not in -253..=253; {instead} (as keepalived \
                         does)",
                        value.text
                    ),
                );
                None
            }
        };
        let mut reverse = None;
        if let Some(option) = args.next() {
            match option.text.as_str() {
                "reverse" => reverse = Some(true),
                "noreverse" if script => reverse = Some(false),
                other => self.warn(
                    option.pos,
                    format!("unknown {what} weight option `{other}` ignored (as keepalived does)"),
                ),
            }
        }
        for extra in args {
            self.warn(
                extra.pos,
                format!("extra argument `{}` of `{name}` ignored", extra.text),
            );
        }
        Some((weight, reverse))
    }
}
