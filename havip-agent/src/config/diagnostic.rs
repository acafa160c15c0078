//! Diagnostics: what loading a configuration reports, each one at `file:line:column`.

use std::fmt;
use std::path::{Path, PathBuf};

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
    fn display_has_position_unless_whole_file() {
        let d = Diagnostic::new("/etc/k.conf", 3, 5, Severity::Warning, "x ignored");
        assert_eq!(d.to_string(), "/etc/k.conf:3:5: warning: x ignored");
        let d = Diagnostic::whole_file(Path::new("/etc/k.conf"), Severity::Error, "unreadable");
        assert_eq!(d.to_string(), "/etc/k.conf: error: unreadable");
    }
}
