//! The keepalived.conf importer: lexer -> directive tree (includes resolved) -> [`Config`].
//!
//! Every directive is accounted for: used, or reported with its position as ignored
//! (warning), understood differently (note) or not supported (error). keepalived's defaults
//! are applied where keepalived applies them, so a file that keepalived reads the same way on a
//! peer node yields the same election behaviour here.

mod auth_hmac;
mod bfd;
mod complete;
mod context;
mod convert;
mod glob;
mod instance;
mod lexer;
mod parser;
mod resolve;
#[cfg(test)]
mod tests_ipv6;
mod unsupported;

pub(crate) use parser::decode;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::diagnostic::{Cap, Capped, Diagnostic, Severity, summary_message};
use super::model::Config;
use super::validate::FieldPath;

/// A position in one of the files read: index into [`Sources`], 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Pos {
    pub(crate) file: u32,
    pub(crate) line: u32,
    pub(crate) column: u32,
}

/// A diagnostic before its file index is turned into a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Finding {
    pub(crate) pos: Pos,
    pub(crate) severity: Severity,
    pub(crate) message: String,
}

impl Finding {
    pub(crate) fn new(pos: Pos, severity: Severity, message: impl Into<String>) -> Self {
        Self {
            pos,
            severity,
            message: message.into(),
        }
    }

    pub(crate) fn error(pos: Pos, message: impl Into<String>) -> Self {
        Self::new(pos, Severity::Error, message)
    }
}

impl Capped for Finding {
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

/// Where the import's findings go: capped per kind as they arrive (see [`Cap`]).
pub(crate) type Findings = Cap<Finding>;

/// The files read, in order; [`Pos::file`] indexes into it.
#[derive(Debug, Default)]
pub(crate) struct Sources {
    paths: Vec<PathBuf>,
}

impl Sources {
    fn add(&mut self, path: &Path) -> u32 {
        self.paths.push(path.to_path_buf());
        u32::try_from(self.paths.len() - 1).unwrap_or(u32::MAX)
    }

    fn path(&self, file: u32) -> &Path {
        usize::try_from(file)
            .ok()
            .and_then(|i| self.paths.get(i))
            .map_or(Path::new("?"), PathBuf::as_path)
    }
}

/// The result of importing a keepalived.conf.
pub(crate) struct Imported {
    /// The configuration, with keepalived's defaults applied.
    pub(crate) config: Config,
    /// Everything worth telling, in file order.
    pub(crate) diagnostics: Vec<Diagnostic>,
    sources: Sources,
    /// Where each field set from a directive was written.
    spans: HashMap<FieldPath, Pos>,
    root: PathBuf,
}

impl Imported {
    /// The `file:line:column` of the directive behind `path`, or of the closest enclosing one
    /// (an instance's `vrrp_instance` line for a default value).
    pub(crate) fn locate(&self, path: &FieldPath) -> (PathBuf, u32, u32) {
        let mut current = Some(path.clone());
        while let Some(p) = current {
            if let Some(pos) = self.spans.get(&p) {
                return (
                    self.sources.path(pos.file).to_path_buf(),
                    pos.line,
                    pos.column,
                );
            }
            current = p.parent();
        }
        (self.root.clone(), 0, 0)
    }
}

/// Imports `text`, the contents of `path` (includes are relative to its directory).
pub(crate) fn import(path: &Path, text: &str) -> Imported {
    let mut sources = Sources::default();
    let mut findings = Findings::default();
    let nodes = parser::parse(path, text, &mut sources, &mut findings);
    let converted = convert::convert(&nodes, &mut findings);
    let mut findings = findings.finish();
    findings.sort_by_key(|f| (f.pos.file, f.pos.line, f.pos.column));
    let diagnostics = findings
        .into_iter()
        .map(|f| {
            Diagnostic::new(
                sources.path(f.pos.file),
                f.pos.line,
                f.pos.column,
                f.severity,
                f.message,
            )
        })
        .collect();
    Imported {
        config: converted.config,
        diagnostics,
        sources,
        spans: converted.spans,
        root: path.to_path_buf(),
    }
}
