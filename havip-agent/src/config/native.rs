//! The native TOML format: reading with `file:line:column` errors, the `[global]` inheritance
//! of instance settings, writing ([`Config::to_toml`]), and the sidecar file merged into an
//! imported keepalived.conf.
//!
//! # Sidecar (`<keepalived.conf>.havip.toml`)
//!
//! havip-only settings live next to an unchanged keepalived.conf (keepalived on a peer node
//! keeps reading the same file), in a small TOML file:
//!
//! ```toml
//! [global]
//! metrics_addr = "0.0.0.0:9828"    # havip settings of [global]: metrics_addr, lease
//! lease = "3s"
//!
//! [instance.VI_1]                  # per vrrp_instance, by name
//! manage_addresses = false
//!
//! [cloud]                          # provider settings, see the cloud section
//! ```
//!
//! Only havip's own settings are accepted there: everything keepalived knows stays in
//! keepalived.conf, so the two files cannot disagree.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::de::{DeTable, DeValue};
use toml::Spanned;

use super::diagnostic::{Diagnostic, LineIndex, Severity};
use super::duration::serde_opt_duration;
use super::model::{Config, Inherited};
use super::validate::{FieldPath, PathSegment};

/// The spanned syntax tree of a TOML file, to turn [`FieldPath`]s into positions.
pub(crate) struct TomlSpans<'t> {
    file: PathBuf,
    index: LineIndex<'t>,
    root: Spanned<DeTable<'t>>,
}

impl TomlSpans<'_> {
    /// Position of the value at `path`, or of the closest enclosing value that exists.
    pub(crate) fn locate(&self, path: &FieldPath) -> (PathBuf, u32, u32) {
        let mut offset = self.root.span().start;
        let mut current: Option<&Spanned<DeValue<'_>>> = None;
        for (i, segment) in path.segments().iter().enumerate() {
            let next = match (segment, current) {
                (PathSegment::Key(k), None) if i == 0 => self.root.get_ref().get(k.as_str()),
                (PathSegment::Key(k), Some(v)) => v.get_ref().get(k.as_str()),
                (PathSegment::Index(n), Some(v)) => v.get_ref().get(*n),
                _ => None,
            };
            let Some(next) = next else { break };
            offset = next.span().start;
            current = Some(next);
        }
        let (line, column) = self.index.position(offset);
        (self.file.clone(), line, column)
    }

    fn has_key(&self, path: &FieldPath, key: &str) -> bool {
        let mut current: Option<&Spanned<DeValue<'_>>> = None;
        for (i, segment) in path.segments().iter().enumerate() {
            current = match (segment, current) {
                (PathSegment::Key(k), None) if i == 0 => self.root.get_ref().get(k.as_str()),
                (PathSegment::Key(k), Some(v)) => v.get_ref().get(k.as_str()),
                (PathSegment::Index(n), Some(v)) => v.get_ref().get(*n),
                _ => None,
            };
            if current.is_none() {
                return false;
            }
        }
        current.is_some_and(|v| v.get_ref().get(key).is_some())
    }
}

/// A TOML error as a diagnostic at its span.
fn toml_error(file: &Path, index: &LineIndex<'_>, error: &toml::de::Error) -> Diagnostic {
    let (line, column) = error.span().map_or((0, 0), |s| index.position(s.start));
    Diagnostic::new(
        file,
        line,
        column,
        Severity::Error,
        error.message().trim_end().to_owned(),
    )
}

/// Parses a native TOML configuration, applying `[global]` inheritance. On failure, the
/// diagnostics (syntax, types, unknown keys) point at `file:line:column`.
pub(crate) fn parse<'t>(
    text: &'t str,
    file: &Path,
) -> Result<(Config, TomlSpans<'t>), Vec<Diagnostic>> {
    let index = LineIndex::new(text);
    let root = DeTable::parse(text).map_err(|e| vec![toml_error(file, &index, &e)])?;
    let mut config: Config =
        toml::from_str(text).map_err(|e| vec![toml_error(file, &index, &e)])?;
    let spans = TomlSpans {
        file: file.to_path_buf(),
        index,
        root,
    };
    let global = config.global.clone();
    for (i, instance) in config.instances.iter_mut().enumerate() {
        let path = FieldPath::instance(i);
        for (setting, key) in Inherited::ALL {
            if !spans.has_key(&path, key) {
                instance.inherit(&global, setting);
            }
        }
    }
    Ok((config, spans))
}

/// Whether `text` is a native configuration: valid TOML with `[global]` or `[[instance]]`.
pub(crate) fn looks_like_toml(text: &str) -> bool {
    DeTable::parse(text).is_ok_and(|t| {
        let t = t.get_ref();
        t.get("global").is_some() || t.get("instance").is_some()
    })
}

impl Config {
    /// The configuration in the native TOML format (for `import-keepalived`). Every instance
    /// setting is written out, so the file means the same whatever the defaults of a later
    /// version; loading it gives back an equal [`Config`].
    pub fn to_toml(&self) -> String {
        toml::to_string(self).unwrap_or_else(|e| {
            // Unreachable for the model's types (string keys only, no bare `None` values);
            // still no panic: the output says what went wrong.
            format!("# havip: the configuration could not be written as TOML: {e}\n")
        })
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct Sidecar {
    global: SidecarGlobal,
    instance: BTreeMap<String, SidecarInstance>,
    cloud: Option<toml::Table>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct SidecarGlobal {
    metrics_addr: Option<SocketAddr>,
    #[serde(with = "serde_opt_duration")]
    lease: Option<Duration>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct SidecarInstance {
    manage_addresses: Option<bool>,
}

/// Merges the sidecar `text` (from `file`) into `config`; returns what went wrong, each at
/// its position (an unknown key, an instance that keepalived.conf does not define).
pub(crate) fn merge_sidecar(config: &mut Config, text: &str, file: &Path) -> Vec<Diagnostic> {
    let index = LineIndex::new(text);
    let root = match DeTable::parse(text) {
        Ok(root) => root,
        Err(e) => return vec![toml_error(file, &index, &e)],
    };
    let sidecar: Sidecar = match toml::from_str(text) {
        Ok(s) => s,
        Err(e) => return vec![toml_error(file, &index, &e)],
    };
    if let Some(addr) = sidecar.global.metrics_addr {
        config.global.metrics_addr = addr;
    }
    if let Some(lease) = sidecar.global.lease {
        config.global.lease = Some(lease);
    }
    if sidecar.cloud.is_some() {
        config.cloud = sidecar.cloud;
    }
    let mut diagnostics = Vec::new();
    for (name, settings) in sidecar.instance {
        match config.instances.iter_mut().find(|i| i.name == name) {
            Some(instance) => {
                if let Some(manage) = settings.manage_addresses {
                    instance.manage_addresses = manage;
                }
            }
            None => {
                let offset = root
                    .get_ref()
                    .get("instance")
                    .and_then(|t| t.get_ref().as_table())
                    .and_then(|t| t.get_key_value(name.as_str()))
                    .map_or(0, |(k, _)| k.span().start);
                let (line, column) = index.position(offset);
                diagnostics.push(Diagnostic::new(
                    file,
                    line,
                    column,
                    Severity::Error,
                    format!("[instance.{name}]: no vrrp_instance `{name}` in the keepalived configuration"),
                ));
            }
        }
    }
    diagnostics
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::model::Version;

    const FILE: &str = "/etc/havip/havip.toml";

    #[test]
    fn instance_inherits_unset_settings_from_global() {
        let text = "[global]\nvrrp_version = 3\ngarp_master_repeat = 2\n\n[[instance]]\nname = \"a\"\ninterface = \"eth0\"\nvrid = 1\n\n[[instance]]\nname = \"b\"\ninterface = \"eth0\"\nvrid = 2\nversion = 2\ngarp_master_repeat = 7\n";
        let (config, _) = parse(text, Path::new(FILE)).expect("valid TOML");
        assert_eq!(config.instances[0].version, Version::V3);
        assert_eq!(config.instances[0].garp_master_repeat, 2);
        assert_eq!(config.instances[1].version, Version::V2);
        assert_eq!(config.instances[1].garp_master_repeat, 7);
    }

    #[test]
    fn locate_finds_values_and_falls_back_to_parents() {
        let text = "[[instance]]\nname = \"a\"\ninterface = \"eth0\"\nvrid = 0\n";
        let (_, spans) = parse(text, Path::new(FILE)).expect("valid TOML");
        let (_, line, column) = spans.locate(&FieldPath::instance(0).key("vrid"));
        assert_eq!((line, column), (4, 8));
        let (_, line, _) = spans.locate(&FieldPath::instance(0).key("priority"));
        assert!(line >= 1 && line <= 2, "line {line}");
    }

    #[test]
    fn unknown_key_error_has_position() {
        let text = "[[instance]]\nname = \"a\"\ninterface = \"eth0\"\nvrid = 1\nprio = 3\n";
        let errors = parse(text, Path::new(FILE)).err().unwrap_or_default();
        assert_eq!(errors.len(), 1);
        assert_eq!((errors[0].line, errors[0].column), (5, 1));
        assert!(errors[0].message.contains("prio"), "{}", errors[0].message);
    }
}
