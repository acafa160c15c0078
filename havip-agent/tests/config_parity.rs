//! keepalived parity on what it accepts: each file below makes keepalived 2.2.7 warn and run
//! (the message it logs is quoted above each case, from `vrrp_parser.c`, `vrrp_track.c`,
//! `vrrp.c` `vrrp_complete_instance` and `lib/parser.c`). havip must load it with a warning at
//! the directive's `file:line:column` and give it keepalived's meaning.

use std::path::Path;
use std::time::Duration;

use havip_agent::config::{self, Format, InitialState, Loaded, Severity};

fn load(text: &str) -> Loaded {
    match config::load_str(text, Path::new("k.conf"), Format::Keepalived) {
        Ok(loaded) => loaded,
        Err(e) => panic!("should load: {e:?}"),
    }
}

/// The warnings of `loaded`, as `LINE:COLUMN: MESSAGE`.
fn warnings(loaded: &Loaded) -> Vec<String> {
    loaded
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Warning)
        .map(|d| format!("{}:{}: {}", d.line, d.column, d.message))
        .collect()
}

/// Asserts exactly one warning per expected `LINE:COLUMN: MESSAGE-START`, in order.
fn assert_warnings(loaded: &Loaded, expected: &[&str]) {
    let got = warnings(loaded);
    assert_eq!(got.len(), expected.len(), "{got:#?}");
    for (g, e) in got.iter().zip(expected) {
        assert!(g.starts_with(e), "expected {e:?}, got {g:?}");
    }
}

/// An instance around `body` (interface `lo`, which exists everywhere).
fn instance(body: &str) -> String {
    format!("vrrp_instance VI_1 {{\n    interface lo\n    virtual_router_id 1\n{body}}}\n")
}

const SCRIPT: &str = "vrrp_script chk {\n    script /bin/true\n    weight -10\n}\n";

#[test]
fn undefined_track_script_is_ignored() {
    // "(VI_1) track script nope not found, ignoring..."
    let loaded = load(&instance("    track_script {\n        nope\n    }\n"));
    assert_warnings(
        &loaded,
        &["5:9: track script `nope` of `vrrp_instance VI_1` not found"],
    );
    assert_eq!(loaded.config.instances[0].track_scripts.len(), 0);
}

#[test]
fn track_script_defined_after_the_instance_is_not_found() {
    // keepalived resolves track_script while it parses: a later vrrp_script is not found.
    let text = format!(
        "{}{SCRIPT}",
        instance("    track_script {\n        chk\n    }\n")
    );
    let loaded = load(&text);
    assert_warnings(
        &loaded,
        &[
            "5:9: track script `chk` of `vrrp_instance VI_1` not found",
            "8:13: vrrp_script `chk` is not used",
        ],
    );
    assert_eq!(loaded.config.instances[0].track_scripts.len(), 0);
}

#[test]
fn nonexistent_tracked_interface_is_ignored_unless_dynamic_interfaces() {
    // "(VI_1) tracked interface nosuchif-hv0 doesn't exist"
    let body = "    track_interface {\n        nosuchif-hv0 weight -10\n    }\n";
    let loaded = load(&instance(body));
    assert_warnings(
        &loaded,
        &["5:9: tracked interface `nosuchif-hv0` of `vrrp_instance VI_1` does not exist"],
    );
    assert_eq!(loaded.config.instances[0].track_interfaces.len(), 0);
    let dynamic = format!(
        "global_defs {{\n    dynamic_interfaces\n}}\n{}",
        instance(body)
    );
    let loaded = load(&dynamic);
    assert_eq!(loaded.config.instances[0].track_interfaces.len(), 1);
}

#[test]
fn duplicate_tracked_objects_are_ignored() {
    // "(VI_1) duplicate track_script chk - ignoring", same for track_interface.
    let body = "    track_script {\n        chk\n        chk weight 5\n    }\n";
    let loaded = load(&format!("{SCRIPT}{}", instance(body)));
    assert_warnings(&loaded, &["10:9: duplicate track_script `chk` ignored"]);
    let tracks = &loaded.config.instances[0].track_scripts;
    assert_eq!((tracks.len(), tracks[0].weight), (1, None));
}

#[test]
fn bad_track_options_follow_keepalived() {
    // "unknown track script option x - ignoring" drops the entry; "weight without value"
    // too; "weight for chk cannot be +/-254. Setting to +/-253"; an out-of-range weight keeps
    // the script's (or 0 for an interface).
    let body = "    track_script {\n        chk bogus\n    }\n    track_script {\n        chk \
                weight 254\n    }\n    track_interface {\n        if1 weight\n    }\n    \
                track_interface {\n        if1 weight 999\n    }\n";
    // dynamic_interfaces: `if1` need not exist on this host.
    let text = format!(
        "global_defs {{\n    dynamic_interfaces\n}}\n{SCRIPT}{}",
        instance(body)
    );
    let loaded = load(&text);
    let got = warnings(&loaded);
    let expected = [
        "12:13: unknown track_script option `bogus`",
        "15:20: weight 254 for `chk` read as 253",
        "18:13: `weight` without a value",
        "21:20: weight `999` for `if1` is not in -253..=253; weight 0",
    ];
    assert_eq!(got.len(), expected.len(), "{got:#?}");
    for (g, e) in got.iter().zip(expected) {
        assert!(g.starts_with(e), "expected {e:?}, got {g:?}");
    }
    let i = &loaded.config.instances[0];
    assert_eq!(i.track_scripts[0].weight, Some(253));
    assert_eq!(i.track_interfaces.len(), 1);
    assert_eq!(i.track_interfaces[0].weight, 0);
}

#[test]
fn unknown_keywords_are_ignored_everywhere() {
    // lib/parser.c: "Unknown keyword 'x'".
    let text = "\
bogus_top {
    x 1
}
vrrp_script chk {
    script /bin/true
    bogus_script 1
}
vrrp_instance VI_1 {
    interface lo
    virtual_router_id 1
    bogus_instance 1
    authentication {
        auth_type PASS
        auth_pass 1111
        bogus_auth 1
    }
    track_script {
        chk
    }
}
vrrp_sync_group G {
    group {
        VI_1
    }
    bogus_group 1
}
";
    let loaded = load(text);
    assert_warnings(
        &loaded,
        &[
            "1:1: unknown top-level keyword `bogus_top`",
            "6:5: unknown keyword `bogus_script` in vrrp_script",
            "11:5: unknown keyword `bogus_instance` in vrrp_instance",
            "15:9: unknown keyword `bogus_auth` in authentication",
            "25:5: unknown keyword `bogus_group` in vrrp_sync_group",
        ],
    );
    assert!(loaded.config.instances[0].auth.is_some());
}

#[test]
fn bad_state_means_backup_and_backup_after_master_is_ignored() {
    // "(VI_1) unknown state 'LEADER', defaulting to BACKUP";
    // "(VI_1) state previously set as MASTER - ignoring BACKUP".
    let loaded = load(&instance("    state LEADER\n    priority 50\n"));
    assert_warnings(&loaded, &["4:11: `state` must be MASTER or BACKUP"]);
    assert_eq!(loaded.config.instances[0].state, InitialState::Backup);
    let loaded = load(&instance(
        "    state MASTER\n    state BACKUP\n    priority 50\n",
    ));
    assert_warnings(
        &loaded,
        &["5:5: `state BACKUP` after `state MASTER` on line 4 ignored"],
    );
    assert_eq!(loaded.config.instances[0].state, InitialState::Master);
}

#[test]
fn bad_priority_means_the_default() {
    // "(VI_1) Priority not valid! must be between 1 & 255. Using default 100"
    for bad in ["0", "256", "high"] {
        let loaded = load(&instance(&format!("    priority {bad}\n")));
        assert_warnings(&loaded, &["4:14: `priority` must be an integer in 1..=255"]);
        assert_eq!(loaded.config.instances[0].priority, 100);
    }
}

#[test]
fn state_master_without_priority_is_the_address_owner() {
    // vrrp_complete_instance: no priority and state MASTER means VRRP_PRIO_OWNER.
    let loaded = load(&instance("    state MASTER\n"));
    assert_eq!(loaded.config.instances[0].priority, 255);
}

#[test]
fn bad_advert_int_is_ignored_and_odd_ones_are_rounded() {
    // "(VI_1) Advert interval (0) not valid! Must be > 0 - ignoring"
    for bad in ["0", "300", "x"] {
        let loaded = load(&instance(&format!("    advert_int {bad}\n")));
        assert_warnings(
            &loaded,
            &[&format!("4:16: `advert_int {bad}` is not 0.01..=255")],
        );
        assert_eq!(
            loaded.config.instances[0].advert_interval,
            Duration::from_secs(1)
        );
    }
    // "(VI_1) VRRPv2 advertisement interval 1.500000s must be an integer. rounding"
    let loaded = load(&instance("    advert_int 1.5\n"));
    assert_warnings(
        &loaded,
        &["4:16: vrrp_instance `VI_1`: advert_int 1500ms cannot be sent"],
    );
    assert_eq!(
        loaded.config.instances[0].advert_interval,
        Duration::from_secs(2)
    );
    // "(VI_1) VRRPv3 advertisement interval 100.00s is out of range ... Setting to 40.95s"
    let loaded = load(&instance("    version 3\n    advert_int 100\n"));
    assert_eq!(
        loaded.config.instances[0].advert_interval,
        Duration::from_millis(40_950)
    );
    // "... must be in units of 10ms - rounding"
    let loaded = load(&instance("    version 3\n    advert_int 0.015\n"));
    assert_eq!(
        loaded.config.instances[0].advert_interval,
        Duration::from_millis(20)
    );
    assert_eq!(warnings(&loaded).len(), 1);
}

#[test]
fn bad_version_is_ignored() {
    // "(VI_1): Version must be either 2 or 3"
    let loaded = load(&instance("    version 4\n"));
    assert_warnings(&loaded, &["4:13: `version` must be an integer in 2..=3"]);
}

#[test]
fn bad_preempt_delay_is_zero() {
    // "(VI_1) Preempt_delay not valid! must be between 0-1000"
    let loaded = load(&instance("    preempt_delay 2000\n"));
    assert_warnings(
        &loaded,
        &["4:19: `preempt_delay 2000` is not 0..=1000 seconds"],
    );
    assert_eq!(loaded.config.instances[0].preempt_delay, Duration::ZERO);
}

#[test]
fn a_second_notify_script_is_ignored() {
    // "(VI_1) notify_master script already specified - ignoring /bin/b"
    let loaded = load(&instance(
        "    notify_master /bin/a\n    notify_master /bin/b\n",
    ));
    assert_warnings(
        &loaded,
        &["5:5: `notify_master` repeated; this one is ignored"],
    );
    let command = loaded.config.instances[0]
        .notify_master
        .as_ref()
        .map(|c| c.command.as_str());
    assert_eq!(command, Some("/bin/a"));
}

#[test]
fn zero_garp_repeats_are_one() {
    // "(VI_1): garp_master_repeat must be greater than 0, setting to 1"
    let loaded = load(&instance(
        "    garp_master_repeat 0\n    garp_master_refresh_repeat 0\n",
    ));
    assert_warnings(
        &loaded,
        &[
            "4:24: `garp_master_repeat` must be greater than 0",
            "5:32: `garp_master_refresh_repeat` must be greater than 0",
        ],
    );
    let i = &loaded.config.instances[0];
    assert_eq!((i.garp_master_repeat, i.garp_master_refresh_repeat), (1, 1));
}

#[test]
fn authentication_keepalived_cannot_use_is_dropped() {
    // "(VI_1) unknown authentication type 'MD5'", "Authentication specified but no password
    // given. Ignoring", "VRRP version 3 does not support authentication. Ignoring."
    let cases = [
        (
            "    authentication {\n        auth_type MD5\n        auth_pass x\n    }\n",
            "5:19: unknown `auth_type` `MD5`",
        ),
        (
            "    authentication {\n        auth_type PASS\n    }\n",
            "4:5: `authentication` has no `auth_pass`",
        ),
        (
            "    version 3\n    authentication {\n        auth_type PASS\n        auth_pass x\n    }\n",
            "5:5: vrrp_instance `VI_1`: VRRP version 3 has no authentication",
        ),
    ];
    for (body, warning) in cases {
        let loaded = load(&instance(body));
        assert_warnings(&loaded, &[warning]);
        assert_eq!(loaded.config.instances[0].auth, None);
    }
}

#[test]
fn nopreempt_and_preempt_delay_where_they_cannot_work_are_cleared() {
    // "nopreempt is incompatible with priority 255. resetting nopreempt", "Warning - nopreempt
    // will not work with initial state MASTER - clearing", "preempt_delay is incompatible with
    // nopreempt mode - resetting".
    let loaded = load(&instance("    priority 255\n    nopreempt\n"));
    assert_warnings(
        &loaded,
        &["1:1: vrrp_instance `VI_1`: `nopreempt` does not work"],
    );
    assert!(loaded.config.instances[0].preempt);
    let loaded = load(&instance(
        "    state MASTER\n    priority 100\n    nopreempt\n",
    ));
    assert!(loaded.config.instances[0].preempt);
    let loaded = load(&instance("    nopreempt\n    preempt_delay 10\n"));
    assert_warnings(
        &loaded,
        &["1:1: vrrp_instance `VI_1`: `preempt_delay` does not work"],
    );
    assert_eq!(loaded.config.instances[0].preempt_delay, Duration::ZERO);
}

#[test]
fn vrrp_script_problems_follow_keepalived() {
    // "No script set for vrrp_script x - removing"; "(chk): vrrp script interval must be
    // greater than 0, setting to 1"; "vrrp script rise value '0' invalid, defaulting to 1";
    // "vrrp_script chk weight 999 must be in [-253, 253]"; a second definition is never found.
    let text = "\
vrrp_script empty {
    interval 2
}
vrrp_script chk {
    script /bin/true
    interval 0
    rise 0
    weight 999
}
vrrp_script chk {
    script /bin/false
}
vrrp_instance VI_1 {
    interface lo
    virtual_router_id 1
    track_script {
        chk
        empty
    }
}
";
    let loaded = load(text);
    assert_warnings(
        &loaded,
        &[
            "1:1: vrrp_script `empty` has no `script` line; removed",
            "6:14: `interval` must be greater than 0; 1 s is used",
            "7:10: `rise` must be an integer in 1..=2147483647",
            "8:12: vrrp_script weight `999` is not in -253..=253",
            "10:13: vrrp_script `chk` is defined twice; this one is ignored",
            "18:9: track script `empty` of `vrrp_instance VI_1` not found",
        ],
    );
    let chk = &loaded.config.scripts["chk"];
    assert_eq!(chk.script, "/bin/true");
    assert_eq!(
        (chk.interval, chk.rise, chk.weight),
        (Duration::from_secs(1), 1, 0)
    );
}

#[test]
fn instances_without_a_name_or_defined_twice_are_skipped() {
    // "vrrp_instance must have a name", "vrrp instance VI_1 already defined" (block skipped).
    let text = format!(
        "vrrp_instance {{\n    interface lo\n    virtual_router_id 9\n}}\n{}{}",
        instance("    priority 10\n"),
        instance("    priority 20\n")
    );
    let loaded = load(&text);
    assert_warnings(
        &loaded,
        &[
            "1:1: `vrrp_instance` without a name is skipped",
            "10:15: vrrp_instance `VI_1` is already defined; this one is skipped",
        ],
    );
    assert_eq!(loaded.config.instances.len(), 1);
    assert_eq!(loaded.config.instances[0].priority, 10);
}

#[test]
fn global_defs_values_keepalived_ignores_or_clamps() {
    // "VRRP Error: Version must be either 2 or 3", "vrrp_garp_master_repeat must be greater
    // than 0, setting to 1", "vrrp_garp_master_delay 'x' invalid - ignoring".
    let text = format!(
        "global_defs {{\n    vrrp_version 4\n    vrrp_garp_master_repeat 0\n    \
         vrrp_garp_master_delay x\n}}\n{}",
        instance("    garp_master_refresh -1\n")
    );
    let loaded = load(&text);
    assert_warnings(
        &loaded,
        &[
            "2:18: `vrrp_version` must be an integer in 2..=3",
            "3:29: `vrrp_garp_master_repeat` must be greater than 0; 1 is used",
            "4:28: `vrrp_garp_master_delay` must be an integer",
            "9:25: `garp_master_refresh` must be an integer",
        ],
    );
    let i = &loaded.config.instances[0];
    assert_eq!(i.garp_master_repeat, 1);
    assert_eq!(i.garp_master_delay, Duration::from_secs(5));
    assert_eq!(i.garp_master_refresh, Duration::ZERO);
}
