//! Configuration: the native TOML model, its validation, and the keepalived.conf importer.
//!
//! [`load`] reads either format and returns a validated [`Config`] plus the non-fatal
//! [`Diagnostic`]s (ignored directives, notes); any error-level diagnostic makes it fail with
//! all of them, each at `file:line:column`.
//!
//! - `model`: the types, one-to-one with keepalived's `global_defs` / `vrrp_script` /
//!   `vrrp_instance` / `vrrp_sync_group`, with keepalived's defaults.
//! - `native`: the TOML format and the sidecar file (`<keepalived.conf>.havip.toml`) that holds
//!   havip-only settings next to an unchanged keepalived.conf.
//! - `keepalived`: lexer, parser (with includes) and conversion of keepalived.conf.
//! - `values`: the value types and their TOML forms (string or table).
//! - `validate`: the checks types cannot express.
//! - `read` and [`limits`]: every file is read without blocking, only if it is a regular file,
//!   and never past the size limit; see [`limits`] for the bounds on the whole input.
//!
//! [`load`] is a plain blocking function (it reads files): call it from a blocking task, never
//! on an event loop.

pub mod auth_hmac;
mod bfd;
mod diagnostic;
mod duration;
mod keepalived;
pub mod limits;
mod model;
mod native;
mod read;
mod validate;
mod values;

use std::path::{Path, PathBuf};

pub use bfd::{
    BfdInstance, DEFAULT_BFD_IDLE_TX, DEFAULT_BFD_INTERVAL, DEFAULT_BFD_MULTIPLIER,
    MAX_BFD_INTERVAL,
};
pub use diagnostic::{Diagnostic, Severity};
pub use duration::{DurationError, format_duration, parse_duration};
pub use model::{
    Config, DEFAULT_ADVERT_INTERVAL, DEFAULT_GARP_INTERVAL, DEFAULT_GARP_MASTER_DELAY,
    DEFAULT_GARP_MASTER_REFRESH, DEFAULT_GARP_MASTER_REFRESH_REPEAT, DEFAULT_GARP_MASTER_REPEAT,
    DEFAULT_METRICS_ADDR, DEFAULT_PRIORITY, DEFAULT_SCRIPT_INTERVAL, Family, Global, Instance,
    RtPriority, RtPriorityError, Script, SyncGroup,
};
pub use read::ReadError;
pub use validate::{FieldPath, PathSegment, ValidationError};
pub use values::{
    AddressError, Auth, AuthType, Command, InitialState, TrackInterface, TrackScript, Version,
    VirtualAddress,
};

/// Which format a configuration file is in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum Format {
    /// Decide from the file: a `.toml` extension, or contents that parse as TOML with a
    /// `[global]` table or `[[instance]]`, mean TOML; anything else is keepalived.conf.
    #[default]
    Auto,
    /// havip's native TOML.
    Toml,
    /// keepalived.conf (with includes), plus the optional sidecar `<file>.havip.toml`.
    Keepalived,
}

/// Which sidecar file to merge into a keepalived.conf.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Sidecar {
    /// `<file>.havip.toml` next to a keepalived.conf, if it exists; none for TOML files.
    #[default]
    Default,
    /// None.
    Disabled,
    /// This file, which must exist (for either format).
    File(PathBuf),
}

/// A loaded, validated configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded {
    /// The configuration, defaults applied.
    pub config: Config,
    /// Warnings and notes (never errors): ignored directives, differences from keepalived.
    pub diagnostics: Vec<Diagnostic>,
    /// The format the file was read as ([`Format::Toml`] or [`Format::Keepalived`]).
    pub format: Format,
    /// The sidecar file merged in, if any.
    pub sidecar: Option<PathBuf>,
}

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read: I/O error, not a regular file, or over
    /// [`limits::MAX_FILE_BYTES`].
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why not.
        #[source]
        source: ReadError,
    },
    /// The file has errors; `diagnostics` lists them all, with the warnings.
    #[error("{} has {count} error(s){first}", path.display(), count = count_errors(diagnostics), first = first_error(diagnostics))]
    Invalid {
        /// The file given to [`load`].
        path: PathBuf,
        /// Every diagnostic, errors and warnings, in file order.
        diagnostics: Vec<Diagnostic>,
    },
}

fn count_errors(diagnostics: &[Diagnostic]) -> usize {
    diagnostics.iter().filter(|d| d.is_error()).count()
}

fn first_error(diagnostics: &[Diagnostic]) -> String {
    diagnostics
        .iter()
        .find(|d| d.is_error())
        .map(|d| format!(", first: {d}"))
        .unwrap_or_default()
}

/// The sidecar path of a keepalived.conf: `<path>.havip.toml`
/// (`/etc/keepalived/keepalived.conf.havip.toml`).
pub fn sidecar_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".havip.toml");
    PathBuf::from(name)
}

/// Loads the configuration at `path` in `format`, merging the default sidecar of a
/// keepalived.conf when it exists.
pub fn load(path: &Path, format: Format) -> Result<Loaded, ConfigError> {
    load_with(path, format, &Sidecar::Default)
}

/// [`load`] with an explicit choice of sidecar.
pub fn load_with(path: &Path, format: Format, sidecar: &Sidecar) -> Result<Loaded, ConfigError> {
    let read_error = |source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    };
    let bytes = read::read_bounded(path, limits::MAX_FILE_BYTES, read::Executable::Allow)
        .map_err(read_error)?;
    let (text, lossy) = keepalived::decode(bytes);
    let format = detect(path, &text, format);
    let mut early = Vec::new();
    if lossy {
        if format == Format::Toml {
            return Err(read_error(ReadError::Io(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "TOML must be valid UTF-8",
            ))));
        }
        // keepalived reads bytes; a Latin-1 comment must not stop the file from running.
        early.push(Diagnostic::whole_file(
            path,
            Severity::Warning,
            "not valid UTF-8; invalid bytes read as U+FFFD",
        ));
    }
    let sidecar = match sidecar {
        Sidecar::File(file) => Some(file.clone()),
        Sidecar::Default if format == Format::Keepalived => {
            Some(sidecar_path(path)).filter(|p| p.exists())
        }
        Sidecar::Default | Sidecar::Disabled => None,
    };
    load_text(path, &text, format, sidecar.as_deref(), early)
}

/// Loads a configuration from `text` as if read from `origin` (for messages and includes),
/// without a sidecar.
pub fn load_str(text: &str, origin: &Path, format: Format) -> Result<Loaded, ConfigError> {
    let format = detect(origin, text, format);
    load_text(origin, text, format, None, Vec::new())
}

/// The format of `text` read from `path` when `format` is [`Format::Auto`].
fn detect(path: &Path, text: &str, format: Format) -> Format {
    match format {
        Format::Auto => {
            if path.extension().is_some_and(|e| e == "toml") || native::looks_like_toml(text) {
                Format::Toml
            } else {
                Format::Keepalived
            }
        }
        other => other,
    }
}

/// Maps a validation path to `file:line:column` in the format that was read.
type Locate<'a> = Box<dyn Fn(&FieldPath) -> (PathBuf, u32, u32) + 'a>;

fn load_text(
    path: &Path,
    text: &str,
    format: Format,
    sidecar: Option<&Path>,
    early: Vec<Diagnostic>,
) -> Result<Loaded, ConfigError> {
    let invalid = |diagnostics| ConfigError::Invalid {
        path: path.to_path_buf(),
        diagnostics,
    };
    let (mut config, mut diagnostics, locate): (Config, Vec<Diagnostic>, Locate<'_>) =
        if format == Format::Keepalived {
            let imported = keepalived::import(path, text);
            let config = imported.config.clone();
            let mut diagnostics = early;
            diagnostics.extend(imported.diagnostics.iter().cloned());
            (
                config,
                diagnostics,
                Box::new(move |p: &FieldPath| imported.locate(p)),
            )
        } else {
            let (config, spans) = native::parse(text, path).map_err(invalid)?;
            (
                config,
                Vec::new(),
                Box::new(move |p: &FieldPath| spans.locate(p)),
            )
        };
    if let Some(file) = sidecar {
        let extra = read::read_bounded(file, limits::MAX_FILE_BYTES, read::Executable::Allow)
            .map_err(ReadError::into_io)
            .and_then(|bytes| {
                String::from_utf8(bytes).map_err(|e| {
                    std::io::Error::new(std::io::ErrorKind::InvalidData, e.utf8_error())
                })
            });
        match extra {
            Ok(extra) => diagnostics.extend(native::merge_sidecar(&mut config, &extra, file)),
            Err(e) => diagnostics.push(Diagnostic::whole_file(
                file,
                Severity::Error,
                format!("cannot read the sidecar file: {e}"),
            )),
        }
    }
    // Validation findings only make sense once the file parsed cleanly: a directive that failed
    // to convert would be reported again as a missing value.
    if !diagnostics.iter().any(Diagnostic::is_error)
        && let Err(errors) = config.validate()
    {
        for error in errors {
            let (file, line, column) = locate(&error.path);
            // In TOML the path names the key; in keepalived.conf the position names the
            // directive, and the native path (`instance[0]`) would only confuse.
            let message = if format == Format::Toml {
                format!("{}: {}", error.path, error.message)
            } else {
                error.message
            };
            diagnostics.push(Diagnostic::new(
                file,
                line,
                column,
                Severity::Error,
                message,
            ));
        }
    }
    if config.instances.is_empty() && !diagnostics.iter().any(Diagnostic::is_error) {
        let message = if config.global.allow_no_instances {
            "no VRRP instance is configured (allow_no_instances is set)"
        } else {
            "no VRRP instance is configured; a running agent refuses to reload to this file \
             unless [global] allow_no_instances = true"
        };
        diagnostics.push(Diagnostic::whole_file(path, Severity::Warning, message));
    }
    let mut capped = diagnostic::Cap::default();
    for d in diagnostics {
        capped.push(d);
    }
    let diagnostics = capped.finish();
    if diagnostics.iter().any(Diagnostic::is_error) {
        return Err(invalid(diagnostics));
    }
    Ok(Loaded {
        config,
        diagnostics,
        format,
        sidecar: sidecar.map(Path::to_path_buf),
    })
}
