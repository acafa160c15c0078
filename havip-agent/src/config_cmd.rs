//! `havip-agent check-config` and `havip-agent import-keepalived`: the configuration commands an
//! operator runs before switching from keepalived.

use std::{fmt::Write as _, path::Path, process::ExitCode};

use crate::{
    config::{self, Config, ConfigError, Format, Severity},
    notify::Notifier,
    track::{Tracker, script::Check},
};

/// Problems found beyond parsing: scripts and notify commands that cannot run as configured
/// (unknown user, `enable_script_security`, a `track_script` naming no `vrrp_script`), and a
/// bad `[cloud]`, more VIPs, instances or peers than havip's kernel tables can hold.
/// `check-config` prints them; a reload refuses a file that has any.
#[must_use]
pub fn runtime_problems(cfg: &Config) -> Vec<String> {
    let mut problems = Vec::new();
    for inst in &cfg.instances {
        if let Err(e) = Tracker::new(inst, &cfg.scripts, &cfg.sync_groups) {
            problems.push(e.to_string());
        }
        if let Err(e) = Notifier::new(inst, &cfg.global) {
            problems.push(format!("instance {}: notify: {e}", inst.name));
        }
    }
    for (name, script) in &cfg.scripts {
        if let Err(e) = Check::new(name, script, &cfg.global) {
            problems.push(format!("vrrp_script {name}: {e}"));
        }
    }
    for g in &cfg.sync_groups {
        if let Err(e) = Notifier::for_group(g, &cfg.global) {
            problems.push(format!("vrrp_sync_group {}: notify: {e}", g.name));
        }
    }
    problems.extend(cloud_problems(cfg));
    problems.extend(crate::dataplane::sizing::limit_problems(cfg));
    problems
}

/// Errors in `[cloud]`, each naming its field (`cloud.tencent_havip[0].havip_id: ...`).
#[must_use]
fn cloud_problems(cfg: &Config) -> Vec<String> {
    let Some(table) = &cfg.cloud else {
        return Vec::new();
    };
    let names: Vec<&str> = cfg.instances.iter().map(|i| i.name.as_str()).collect();
    match crate::cloud::config::parse(table, &names) {
        Ok(_) => Vec::new(),
        Err(errors) => errors
            .iter()
            .map(|e| format!("{}: {}", e.path, e.message))
            .collect(),
    }
}

/// A summary of `cfg`, one line per instance.
#[must_use]
pub fn summary(cfg: &Config) -> String {
    let mut out = String::new();
    for i in &cfg.instances {
        let vips: Vec<String> = i
            .virtual_ipaddresses
            .iter()
            .map(|v| format!("{}/{}", v.address, v.prefix_len))
            .collect();
        let peers = if i.unicast_peers.is_empty() {
            "multicast 224.0.0.18".to_owned()
        } else {
            let p: Vec<String> = i.unicast_peers.iter().map(ToString::to_string).collect();
            format!("unicast to {}", p.join(","))
        };
        let _ = writeln!(
            out,
            "instance {}: {} vrid {} priority {} VRRPv{} every {:?}, {}{}, {}; VIPs {}; tracks {} interface(s), {} script(s)",
            i.name,
            i.interface,
            i.vrid,
            i.priority,
            match i.version {
                config::Version::V2 => 2,
                config::Version::V3 => 3,
            },
            i.advert_interval,
            match i.state {
                config::InitialState::Master => "starts MASTER",
                config::InitialState::Backup => "starts BACKUP",
            },
            if i.preempt { "" } else { " nopreempt" },
            peers,
            vips.join(" "),
            i.track_interfaces.len() + usize::from(!i.dont_track_primary),
            i.track_scripts.len(),
        );
    }
    out
}

fn print_diagnostics(diagnostics: &[config::Diagnostic]) {
    for d in diagnostics {
        eprintln!("{d}");
    }
}

/// `check-config` exit status when the configuration cannot run (errors printed).
pub const EXIT_CONFIG_ERROR: u8 = 1;
/// `check-config --strict` exit status when the configuration would run but has warnings:
/// keepalived 2.2.7's `KEEPALIVED_CHK_EXIT_CONFIG_TEST` (`lib/scheduler.h`), what `keepalived -t`
/// returns for a file whose findings are all of the "will still run" kind.
pub const EXIT_STRICT_WARNINGS: u8 = 5;

/// `check-config FILE [--strict]`: validates and prints a summary. Exit status 0 when the
/// configuration can run (its warnings printed), [`EXIT_CONFIG_ERROR`] when it cannot; with
/// `strict`, [`EXIT_STRICT_WARNINGS`] when it can run but has warnings.
#[must_use]
pub fn check(path: &Path, format: Format, strict: bool) -> ExitCode {
    match config::load(path, format) {
        Ok(loaded) => {
            print_diagnostics(&loaded.diagnostics);
            let problems = runtime_problems(&loaded.config);
            for p in &problems {
                eprintln!("{}: error: {p}", path.display());
            }
            print!("{}", summary(&loaded.config));
            if let Some(s) = &loaded.sidecar {
                println!("havip settings merged from {}", s.display());
            }
            if !problems.is_empty() {
                return ExitCode::from(EXIT_CONFIG_ERROR);
            }
            let warnings = loaded
                .diagnostics
                .iter()
                .filter(|d| d.severity == Severity::Warning)
                .count();
            println!(
                "{}: configuration OK ({:?}, {} instance(s), {warnings} warning(s))",
                path.display(),
                loaded.format,
                loaded.config.instances.len()
            );
            if strict && warnings > 0 {
                eprintln!(
                    "error: {}: {warnings} warning(s) and --strict given",
                    path.display()
                );
                ExitCode::from(EXIT_STRICT_WARNINGS)
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => {
            report(&e);
            ExitCode::from(EXIT_CONFIG_ERROR)
        }
    }
}

/// `import-keepalived FILE`: prints the equivalent havip TOML on stdout, diagnostics on stderr.
#[must_use]
pub fn import(path: &Path) -> ExitCode {
    match config::load(path, Format::Keepalived) {
        Ok(loaded) => {
            print_diagnostics(&loaded.diagnostics);
            print!("{}", loaded.config.to_toml());
            ExitCode::SUCCESS
        }
        Err(e) => {
            report(&e);
            ExitCode::FAILURE
        }
    }
}

fn report(e: &ConfigError) {
    match e {
        ConfigError::Invalid { diagnostics, .. } => print_diagnostics(diagnostics),
        ConfigError::Read { .. } => {}
    }
    eprintln!("error: {e}");
}
