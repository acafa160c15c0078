//! `rt_priority` and `lock_memory` in `[global]`: native TOML, the sidecar, and keepalived's
//! `vrrp_rt_priority` / `vrrp_no_swap` in `global_defs`, with their defaults and bad values.

use std::path::Path;

use havip_agent::config::{self, ConfigError, Format, RtPriority, Severity, Sidecar};

const INSTANCE_TOML: &str = "[[instance]]\nname = \"a\"\ninterface = \"eth0\"\nvrid = 1\nvirtual_ipaddresses = [\"192.0.2.10\"]\n";

const INSTANCE_CONF: &str = "vrrp_instance VI_1 {\n    interface eth0\n    virtual_router_id 1\n    \
     priority 100\n    virtual_ipaddress {\n        192.0.2.10\n    }\n}\n";

fn toml(global: &str) -> Result<config::Loaded, ConfigError> {
    let text = format!("[global]\n{global}\n{INSTANCE_TOML}");
    config::load_str(&text, Path::new("havip.toml"), Format::Toml)
}

fn keepalived(global_defs: &str) -> config::Loaded {
    let text = format!("global_defs {{\n{global_defs}\n}}\n{INSTANCE_CONF}");
    match config::load_str(&text, Path::new("keepalived.conf"), Format::Keepalived) {
        Ok(loaded) => loaded,
        Err(e) => panic!("should import: {e}"),
    }
}

fn prio(n: u8) -> RtPriority {
    RtPriority::try_from(n).expect("in range")
}

#[test]
fn defaults_are_normal_scheduling_and_unlocked_memory() {
    let loaded = toml("").expect("loads");
    assert_eq!(loaded.config.global.rt_priority, None);
    assert!(!loaded.config.global.lock_memory);
    // Defaults are not written back, so an untouched config stays as short as before.
    let text = loaded.config.to_toml();
    assert!(
        !text.contains("rt_priority") && !text.contains("lock_memory"),
        "{text}"
    );
}

#[test]
fn native_toml_sets_both_and_round_trips() {
    let loaded = toml("rt_priority = 50\nlock_memory = true").expect("loads");
    assert_eq!(loaded.config.global.rt_priority, Some(prio(50)));
    assert!(loaded.config.global.lock_memory);
    let text = loaded.config.to_toml();
    let again = config::load_str(&text, Path::new("again.toml"), Format::Toml).expect("reloads");
    assert_eq!(again.config.global, loaded.config.global);
}

#[test]
fn native_toml_refuses_priorities_outside_1_to_99() {
    for bad in ["0", "100", "255", "-1", "\"high\""] {
        let Err(ConfigError::Invalid { diagnostics, .. }) = toml(&format!("rt_priority = {bad}"))
        else {
            panic!("rt_priority = {bad} must be refused");
        };
        assert_eq!(diagnostics.len(), 1, "{diagnostics:?}");
        assert_eq!(diagnostics[0].severity, Severity::Error);
        assert_eq!(
            diagnostics[0].line, 2,
            "points at the value: {}",
            diagnostics[0]
        );
    }
    for edge in [1u8, 99] {
        let loaded = toml(&format!("rt_priority = {edge}")).expect("edge loads");
        assert_eq!(loaded.config.global.rt_priority, Some(prio(edge)));
    }
}

#[test]
fn keepalived_vrrp_rt_priority_and_vrrp_no_swap_are_imported() {
    let loaded = keepalived("    vrrp_rt_priority 20\n    vrrp_no_swap");
    assert_eq!(loaded.config.global.rt_priority, Some(prio(20)));
    assert!(loaded.config.global.lock_memory);
    assert!(
        loaded
            .diagnostics
            .iter()
            .all(|d| d.severity != Severity::Warning),
        "no warning for supported keywords: {:?}",
        loaded.diagnostics
    );
}

#[test]
fn keepalived_priority_out_of_range_is_clamped_with_a_warning() {
    for (written, used) in [("150", 99u8), ("0", 1), ("-5", 1)] {
        let loaded = keepalived(&format!("    vrrp_rt_priority {written}"));
        assert_eq!(
            loaded.config.global.rt_priority,
            Some(prio(used)),
            "{written}"
        );
        let warnings: Vec<_> = loaded
            .diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Warning)
            .collect();
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert_eq!(
            (warnings[0].line, warnings[0].column),
            (2, 22),
            "{}",
            warnings[0]
        );
    }
    // Not a number: a warning, and the setting stays off.
    let loaded = keepalived("    vrrp_rt_priority high");
    assert_eq!(loaded.config.global.rt_priority, None);
    assert!(
        loaded
            .diagnostics
            .iter()
            .any(|d| d.severity == Severity::Warning)
    );
}

#[test]
fn the_sidecar_overrides_global_defs() {
    let dir = std::env::temp_dir().join(format!("havip-rt-sidecar-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let conf = dir.join("keepalived.conf");
    let side = dir.join("keepalived.conf.havip.toml");
    std::fs::write(
        &conf,
        format!("global_defs {{\n    vrrp_rt_priority 20\n    vrrp_no_swap\n}}\n{INSTANCE_CONF}"),
    )
    .expect("write conf");
    std::fs::write(&side, "[global]\nrt_priority = 5\nlock_memory = false\n").expect("write");
    let loaded = config::load_with(&conf, Format::Auto, &Sidecar::File(side.clone()));
    let _ = std::fs::remove_dir_all(&dir);
    let loaded = loaded.unwrap_or_else(|e| panic!("should load: {e}"));
    assert_eq!(loaded.config.global.rt_priority, Some(prio(5)));
    assert!(!loaded.config.global.lock_memory);
}
