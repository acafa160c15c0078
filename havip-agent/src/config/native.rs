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
//! metrics_addr = "0.0.0.0:9828"    # havip settings of [global]: metrics_addr, lease,
//! lease = "1.5s"                   #   allow_no_instances, max_learned_interval,
//!                                  #   garp_lower_prio_holdoff, rt_priority, lock_memory
//!                                  #   (the last two also from global_defs)
//! allow_no_instances = false
//! dataplane = "tc"                 # xdp (default), tc, auto, xdp-multiprog
//!
//! [instance.VI_1]                  # per vrrp_instance, by name
//! manage_addresses = false
//! master_down_on_bfd = true        # take over when the BFD session to the master goes Down
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
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::diagnostic::{Diagnostic, LineIndex, Severity};
use super::duration::serde_opt_duration;
use super::model::{Config, Inherited, RtPriority};
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
    // A cheap look first: parsing a large keepalived.conf as TOML only to fail would cost
    // the TOML lexer's memory for the whole file.
    let has_table = text.lines().any(|l| {
        let l = l.trim_start();
        l.starts_with("[global]") || l.starts_with("[[instance]]")
    });
    has_table
        && DeTable::parse(text).is_ok_and(|t| {
            let t = t.get_ref();
            t.get("global").is_some() || t.get("instance").is_some()
        })
}

impl Config {
    /// The configuration in the native TOML format (for `import-keepalived`). Every setting is
    /// written out, so the file means the same whatever the defaults of a later version;
    /// loading it gives back an equal [`Config`]. Nested values (`auth`, notify commands with a
    /// user, tracked objects with a weight) are inline tables, so each `[[instance]]` reads as
    /// one block in field order.
    pub fn to_toml(&self) -> String {
        self.try_to_toml().unwrap_or_else(|e| {
            // Unreachable for the model's types (string keys, no bare `None`); still no panic:
            // the output says what went wrong.
            format!("# havip: the configuration could not be written as TOML: {e}\n")
        })
    }

    fn try_to_toml(&self) -> Result<String, toml::ser::Error> {
        let mut out = String::new();
        write_section(&mut out, "[global]", &self.global)?;
        for (name, script) in &self.scripts {
            write_section(&mut out, &format!("[scripts.{}]", toml_key(name)), script)?;
        }
        for (name, bfd) in &self.bfd {
            write_section(&mut out, &format!("[bfd.{}]", toml_key(name)), bfd)?;
        }
        for instance in &self.instances {
            write_section(&mut out, "[[instance]]", instance)?;
        }
        for group in &self.sync_groups {
            write_section(&mut out, "[[sync_group]]", group)?;
        }
        if let Some(cloud) = &self.cloud {
            #[derive(serde::Serialize)]
            struct Cloud<'a> {
                cloud: &'a toml::Table,
            }
            out.push('\n');
            out.push_str(&toml::to_string(&Cloud { cloud })?);
        }
        Ok(out)
    }
}

/// Writes `header` and one `key = value` line per field of `value`, in field order, nested
/// values inline.
fn write_section<T: serde::Serialize>(
    out: &mut String,
    header: &str,
    value: &T,
) -> Result<(), toml::ser::Error> {
    // The value serializer writes the struct as one inline table, in field order; reading it
    // back with spans splits it into its entries without re-rendering any value.
    let mut inline = String::new();
    value.serialize(toml::ser::ValueSerializer::new(&mut inline))?;
    let doc = format!("x = {inline}\n");
    let parsed = DeTable::parse(&doc)
        .map_err(|e| <toml::ser::Error as serde::ser::Error>::custom(e.message()))?;
    let Some(DeValue::Table(table)) = parsed.get_ref().get("x").map(Spanned::get_ref) else {
        return Err(serde::ser::Error::custom("a section is not a table"));
    };
    let mut entries: Vec<_> = table.iter().collect();
    entries.sort_by_key(|(k, _)| k.span().start);
    if !out.is_empty() {
        out.push('\n');
    }
    out.push_str(header);
    out.push('\n');
    for (key, value) in entries {
        let text = |span: std::ops::Range<usize>| doc.get(span).unwrap_or_default();
        out.push_str(text(key.span()));
        out.push_str(" = ");
        out.push_str(text(value.span()));
        out.push('\n');
    }
    Ok(())
}

/// `name` as a TOML key: bare when it can be, quoted otherwise.
fn toml_key(name: &str) -> String {
    if !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        name.to_owned()
    } else {
        toml::Value::String(name.to_owned()).to_string()
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
    dataplane: Option<crate::dataplane::DataplaneMode>,
    #[serde(with = "serde_opt_duration")]
    lease: Option<Duration>,
    allow_no_instances: Option<bool>,
    #[serde(with = "serde_opt_duration")]
    max_learned_interval: Option<Duration>,
    #[serde(with = "serde_opt_duration")]
    garp_lower_prio_holdoff: Option<Duration>,
    rt_priority: Option<RtPriority>,
    lock_memory: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct SidecarInstance {
    manage_addresses: Option<bool>,
    master_down_on_bfd: Option<bool>,
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
    if let Some(mode) = sidecar.global.dataplane {
        config.global.dataplane = mode;
    }
    if let Some(lease) = sidecar.global.lease {
        config.global.lease = Some(lease);
    }
    if let Some(allow) = sidecar.global.allow_no_instances {
        config.global.allow_no_instances = allow;
    }
    if let Some(bound) = sidecar.global.max_learned_interval {
        config.global.max_learned_interval = Some(bound);
    }
    if let Some(holdoff) = sidecar.global.garp_lower_prio_holdoff {
        config.global.garp_lower_prio_holdoff = Some(holdoff);
    }
    // Override keepalived.conf's `vrrp_rt_priority` / `vrrp_no_swap` (havip-only nodes).
    if let Some(priority) = sidecar.global.rt_priority {
        config.global.rt_priority = Some(priority);
    }
    if let Some(lock) = sidecar.global.lock_memory {
        config.global.lock_memory = lock;
    }
    if sidecar.cloud.is_some() {
        config.cloud = sidecar.cloud;
    }
    let mut diagnostics = Vec::new();
    for (name, settings) in sidecar.instance {
        if let Some(instance) = config.instances.iter_mut().find(|i| i.name == name) {
            if let Some(manage) = settings.manage_addresses {
                instance.manage_addresses = manage;
            }
            if let Some(on) = settings.master_down_on_bfd {
                instance.master_down_on_bfd = on;
            }
        } else {
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
                format!(
                    "[instance.{name}]: no vrrp_instance `{name}` in the keepalived configuration"
                ),
            ));
        }
    }
    diagnostics
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::values::Version;

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
        assert!((1..=2).contains(&line), "line {line}");
    }

    #[test]
    fn to_toml_quotes_odd_script_names_and_round_trips() {
        let mut config = Config::default();
        config.scripts.insert(
            "chk db.\"x\"".into(),
            crate::config::model::Script::new("/bin/true"),
        );
        config
            .instances
            .push(crate::config::model::Instance::new("VI 1", "eth0", 1));
        let text = config.to_toml();
        assert!(text.contains(r#"[scripts.'chk db."x"']"#), "{text}");
        let (again, _) = parse(&text, Path::new(FILE)).expect("loads back");
        assert_eq!(again, config);
    }

    #[test]
    fn dataplane_mode_in_global_and_in_a_sidecar() {
        use crate::dataplane::DataplaneMode;
        let (config, _) = parse("[global]\ndataplane = \"tc\"\n", Path::new(FILE)).expect("valid");
        assert_eq!(config.global.dataplane, DataplaneMode::Tc);
        // Written back only when it is not the default, and read back the same.
        let (again, _) = parse(&config.to_toml(), Path::new(FILE)).expect("loads back");
        assert_eq!(again.global.dataplane, DataplaneMode::Tc);
        assert!(!Config::default().to_toml().contains("dataplane"));
        let errors = parse("[global]\ndataplane = \"tcx\"\n", Path::new(FILE))
            .err()
            .unwrap_or_default();
        assert_eq!(errors.len(), 1, "an unknown mode is an error");
        let mut imported = Config::default();
        let diags = merge_sidecar(
            &mut imported,
            "[global]\ndataplane = \"auto\"\n",
            Path::new("/etc/keepalived/keepalived.conf.havip.toml"),
        );
        assert!(diags.is_empty(), "{diags:?}");
        assert_eq!(imported.global.dataplane, DataplaneMode::Auto);
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
