//! Diagnostics: what loading a configuration reports, each one at `file:line:column`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use super::limits::{MAX_DIAGNOSTICS, MAX_DIAGNOSTICS_PER_KIND};

/// How serious a [`Diagnostic`] is.
///
/// Ordered from least to most serious, so `max()` over a list gives the verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Information only: the directive was understood, perhaps differently than keepalived would
    /// word it (for example `smtp_alert`, which havip does not send).
    Note,
    /// The directive is ignored; the configuration still loads.
    Warning,
    /// The configuration cannot be used as written; `load` fails.
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Note => "note",
            Severity::Warning => "warning",
            Severity::Error => "error",
        })
    }
}

/// One finding about a configuration file, with its position.
///
/// `line` and `column` are 1-based; `column` counts characters, not bytes. Both are 0 when the
/// finding concerns the whole file (for example a file that cannot be read).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file the finding is about (an included file when it comes from one).
    pub file: PathBuf,
    /// 1-based line, or 0 for the whole file.
    pub line: u32,
    /// 1-based column in characters, or 0 for the whole file.
    pub column: u32,
    /// How serious it is.
    pub severity: Severity,
    /// What is wrong, in one sentence, naming the directive.
    pub message: String,
}

impl Diagnostic {
    /// A diagnostic at `file:line:column`.
    pub fn new(
        file: impl Into<PathBuf>,
        line: u32,
        column: u32,
        severity: Severity,
        message: impl Into<String>,
    ) -> Self {
        Self {
            file: file.into(),
            line,
            column,
            severity,
            message: message.into(),
        }
    }

    /// A diagnostic about a whole file (no position).
    pub fn whole_file(file: &Path, severity: Severity, message: impl Into<String>) -> Self {
        Self::new(file, 0, 0, severity, message)
    }

    /// Whether this diagnostic makes the configuration unusable.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(
                f,
                "{}: {}: {}",
                self.file.display(),
                self.severity,
                self.message
            )
        } else {
            write!(
                f,
                "{}:{}:{}: {}: {}",
                self.file.display(),
                self.line,
                self.column,
                self.severity,
                self.message
            )
        }
    }
}

/// Turns byte offsets into 1-based (line, column) pairs, columns counted in characters.
pub(crate) struct LineIndex<'a> {
    text: &'a str,
    /// Byte offset of the first character of each line.
    starts: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Self { text, starts }
    }

    /// Line and column of `offset`; an offset past the end maps to the end of the text.
    pub(crate) fn position(&self, offset: usize) -> (u32, u32) {
        let offset = offset.min(self.text.len());
        let line = self.starts.partition_point(|&s| s <= offset).max(1);
        let start = self.starts.get(line - 1).copied().unwrap_or(0);
        let column = self
            .text
            .get(start..offset)
            .map_or(offset - start, |s| s.chars().count())
            + 1;
        (saturate(line), saturate(column))
    }
}

fn saturate(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Something a [`Cap`] can count: a diagnostic, or a keepalived finding before its file
/// index becomes a path.
pub(crate) trait Capped: Sized {
    fn severity(&self) -> Severity;
    fn message(&self) -> &str;
    /// The line that stands for `hidden` findings of the kind of `self` (the first hidden
    /// one), at its position and with its severity, so a hidden error still fails the load.
    fn summary(self, hidden: usize) -> Self;
}

impl Capped for Diagnostic {
    fn severity(&self) -> Severity {
        self.severity
    }
    fn message(&self) -> &str {
        &self.message
    }
    fn summary(self, hidden: usize) -> Self {
        Self {
            message: summary_message(&self, hidden),
            ..self
        }
    }
}

/// `N more SEVERITY(s) like: MESSAGE`.
pub(crate) fn summary_message(first: &impl Capped, hidden: usize) -> String {
    format!(
        "{hidden} more {}(s) not shown, the first of them: {}",
        first.severity(),
        first.message()
    )
}

/// Distinct kinds tracked; past this, every new kind counts as one "other" kind, so the
/// bookkeeping stays bounded too.
const MAX_KINDS: usize = 1024;

/// Keeps at most [`MAX_DIAGNOSTICS_PER_KIND`] findings of each kind and
/// [`MAX_DIAGNOSTICS`] in all, counting the rest: a file of a million unknown blocks yields a
/// few lines, and the memory held does not grow with the input.
pub(crate) struct Cap<T> {
    kept: Vec<T>,
    kinds: BTreeMap<(Severity, String), Kind<T>>,
}

/// One kind's count: kept, hidden, and the first hidden one (for the summary line).
struct Kind<T> {
    kept: usize,
    hidden: usize,
    first_hidden: Option<T>,
}

impl<T> Default for Cap<T> {
    fn default() -> Self {
        Self {
            kept: Vec::new(),
            kinds: BTreeMap::new(),
        }
    }
}

impl<T: Capped> Cap<T> {
    pub(crate) fn push(&mut self, item: T) {
        let mut key = (item.severity(), kind_of(item.message()));
        if !self.kinds.contains_key(&key) && self.kinds.len() >= MAX_KINDS {
            key.1 = String::from("(other)");
        }
        let kind = self.kinds.entry(key).or_insert(Kind {
            kept: 0,
            hidden: 0,
            first_hidden: None,
        });
        if kind.kept < MAX_DIAGNOSTICS_PER_KIND && self.kept.len() < MAX_DIAGNOSTICS {
            kind.kept += 1;
            self.kept.push(item);
        } else {
            kind.hidden += 1;
            if kind.first_hidden.is_none() {
                kind.first_hidden = Some(item);
            }
        }
    }

    /// The kept findings, then one summary per kind that had some hidden.
    pub(crate) fn finish(self) -> Vec<T> {
        let mut out = self.kept;
        out.extend(
            self.kinds
                .into_values()
                .filter_map(|kind| kind.first_hidden.map(|first| first.summary(kind.hidden))),
        );
        out
    }
}

/// The kind of a message: its text with the names (between backticks) and numbers blanked,
/// so `unknown keyword `a`` and `unknown keyword `b`` are one kind.
fn kind_of(message: &str) -> String {
    let mut out = String::with_capacity(message.len().min(200));
    let mut quoted = false;
    let mut last_digit = false;
    for c in message.chars().take(200) {
        if c == '`' {
            quoted = !quoted;
            out.push(c);
        } else if quoted {
            // A name: left out of the kind.
        } else if c.is_ascii_digit() {
            if !last_digit {
                out.push('#');
            }
        } else {
            out.push(c);
        }
        last_digit = c.is_ascii_digit();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_index_counts_lines_and_characters() {
        let text = "ab\ncé d\n\nx";
        let index = LineIndex::new(text);
        assert_eq!(index.position(0), (1, 1));
        assert_eq!(index.position(1), (1, 2));
        assert_eq!(index.position(3), (2, 1));
        // `d` follows a two-byte `é` and a space: third character of line 2.
        assert_eq!(index.position(text.find('d').unwrap_or_default()), (2, 4));
        assert_eq!(index.position(text.len()), (4, 2));
        assert_eq!(index.position(999), (4, 2));
    }

    #[test]
    fn cap_keeps_some_of_each_kind_and_sums_up_the_rest() {
        assert_eq!(
            kind_of("unknown keyword `a` on line 12"),
            kind_of("unknown keyword `bb` on line 3")
        );
        assert_ne!(kind_of("unknown keyword `a`"), kind_of("extra `}` ignored"));
        let mut cap = Cap::default();
        for i in 0..25 {
            cap.push(Diagnostic::new(
                "/k",
                i,
                1,
                Severity::Warning,
                format!("bad `{i}`"),
            ));
        }
        cap.push(Diagnostic::new("/k", 99, 1, Severity::Error, "other"));
        let out = cap.finish();
        assert_eq!(out.len(), MAX_DIAGNOSTICS_PER_KIND + 2);
        let summary = out.last().map(ToString::to_string).unwrap_or_default();
        assert_eq!(
            summary,
            "/k:10:1: warning: 15 more warning(s) not shown, the first of them: bad `10`"
        );
    }

    #[test]
    fn display_has_position_unless_whole_file() {
        let d = Diagnostic::new("/etc/k.conf", 3, 5, Severity::Warning, "x ignored");
        assert_eq!(d.to_string(), "/etc/k.conf:3:5: warning: x ignored");
        let d = Diagnostic::whole_file(Path::new("/etc/k.conf"), Severity::Error, "unreadable");
        assert_eq!(d.to_string(), "/etc/k.conf: error: unreadable");
    }
}
