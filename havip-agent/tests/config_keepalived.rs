//! keepalived.conf import: fixtures in `tests/fixtures/config/` go in, the exact `Config` or the
//! exact diagnostics (file, line, column, severity) must come out.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use havip_agent::config::{
    self, Auth, AuthType, Command, Config, ConfigError, Diagnostic, Format, Global, InitialState,
    Instance, Loaded, Script, Sidecar, TrackScript, Version, VirtualAddress,
};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/config")
        .join(name)
}

fn load_ok(name: &str) -> Loaded {
    match config::load(&fixture(name), Format::Auto) {
        Ok(loaded) => loaded,
        Err(e) => panic!("{name} should load: {e}\n{}", dump(&e)),
    }
}

fn load_err(name: &str) -> Vec<Diagnostic> {
    load_err_with(&fixture(name), &Sidecar::Default)
}

fn load_err_with(path: &Path, sidecar: &Sidecar) -> Vec<Diagnostic> {
    match config::load_with(path, Format::Auto, sidecar) {
        Ok(loaded) => panic!("{} should fail, got {:#?}", path.display(), loaded.config),
        Err(ConfigError::Invalid { diagnostics, .. }) => diagnostics,
        Err(e) => panic!("{} should be invalid, not: {e}", path.display()),
    }
}

fn dump(e: &ConfigError) -> String {
    match e {
        ConfigError::Invalid { diagnostics, .. } => diagnostics
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n"),
        other @ ConfigError::Read { .. } => other.to_string(),
    }
}

/// Asserts diagnostics one by one, each written `FILE:LINE:COLUMN: SEVERITY: MESSAGE-START`
/// (FILE being the end of the path).
fn assert_diagnostics(actual: &[Diagnostic], expected: &[&str]) {
    let shown = actual
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n");
    assert_eq!(actual.len(), expected.len(), "diagnostics:\n{shown}");
    for (d, expected) in actual.iter().zip(expected) {
        assert!(
            d.to_string().contains(expected),
            "expected {expected:?}, got {d}\nall:\n{shown}"
        );
    }
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// The spec's example, as keepalived reads it.
fn spec_config() -> Config {
    let mut instance = Instance::new("VI_1", "eth0", 51);
    instance.state = InitialState::Backup;
    instance.preempt = false;
    instance.priority = 80;
    instance.auth = Some(Auth {
        kind: AuthType::Pass,
        pass: "1111".into(),
    });
    instance.unicast_src_ip = Some(Ipv4Addr::new(172, 17, 16, 7).into());
    instance.unicast_peers = vec![Ipv4Addr::new(172, 17, 16, 13).into()];
    instance.virtual_ipaddresses = vec![VirtualAddress::new(Ipv4Addr::new(172, 17, 16, 3), 32)];
    instance.garp_master_delay = secs(1);
    instance.garp_master_refresh = secs(5);
    instance.track_scripts = vec![TrackScript {
        name: "checkhaproxy".into(),
        weight: None,
        reverse: None,
    }];
    instance.notify_master = Some(Command::new("/etc/havip/notify.sh master"));
    instance.notify_backup = Some(Command::new("/etc/havip/notify.sh backup"));
    instance.notify_fault = Some(Command::new("/etc/havip/notify.sh fault"));
    let mut script = Script::new("/usr/bin/pgrep -x haproxy");
    script.interval = secs(2);
    script.timeout = Some(secs(1));
    script.weight = -30;
    script.fall = 2;
    script.rise = 2;
    Config {
        global: Global {
            router_id: Some("lb-1".into()),
            script_user: Some("root".into()),
            enable_script_security: true,
            ..Global::default()
        },
        scripts: [("checkhaproxy".to_owned(), script)].into(),
        instances: vec![instance],
        ..Config::default()
    }
}

#[test]
fn spec_example_imports_with_keepalived_defaults() {
    let loaded = load_ok("spec.conf");
    assert_eq!(loaded.format, Format::Keepalived);
    // keepalived says the same: "(VI_1) Ignoring track_interface eth0 since own interface".
    assert_diagnostics(
        &loaded.diagnostics,
        &["spec.conf:36:9: note: track_interface `eth0` ignored"],
    );
    assert_eq!(loaded.config, spec_config());
    let instance = &loaded.config.instances[0];
    // keepalived defaults for what the file leaves out.
    assert_eq!(instance.version, Version::V2);
    assert_eq!(instance.advert_interval, secs(1));
    assert_eq!(instance.garp_master_repeat, 5);
    assert_eq!(instance.garp_master_refresh_repeat, 1);
    assert_eq!(instance.garp_interval, Duration::ZERO);
    assert_eq!(instance.preempt_delay, Duration::ZERO);
    assert!(instance.manage_addresses);
}

#[test]
fn spec_example_equals_its_hand_written_toml() {
    let toml = load_ok("spec.toml");
    assert_eq!(toml.format, Format::Toml);
    assert_eq!(toml.config, load_ok("spec.conf").config);
}

#[test]
fn every_importable_fixture_round_trips_through_toml() {
    for name in [
        "spec.conf",
        "includes/keepalived.conf",
        "comments_quoting.conf",
        "v3.conf",
        "sync_group.conf",
        "sidecar/keepalived.conf",
    ] {
        let loaded = load_ok(name);
        let text = loaded.config.to_toml();
        let again = config::load_str(&text, Path::new("imported.toml"), Format::Toml)
            .unwrap_or_else(|e| panic!("{name}: TOML does not load back: {}\n{text}", dump(&e)));
        assert_eq!(again.config, loaded.config, "{name}:\n{text}");
    }
}

#[test]
fn includes_with_globs_braces_and_nesting() {
    let loaded = load_ok("includes/keepalived.conf");
    assert_eq!(loaded.diagnostics, []);
    let config = &loaded.config;
    let names: Vec<&str> = config.instances.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, ["VI_1", "VI_2"]);
    let scripts: Vec<&str> = config.scripts.keys().map(String::as_str).collect();
    assert_eq!(scripts, ["check_a", "check_b"]);
    assert_eq!(config.scripts["check_b"].script, "/usr/local/bin/check b");
    assert_eq!(config.scripts["check_b"].weight, 10);
    assert!(config.scripts["check_b"].reverse);
    // `include` inside global_defs contributes to global_defs, and instances inherit it.
    assert_eq!(config.global.router_id.as_deref(), Some("lb-2"));
    assert_eq!(config.global.garp_master_repeat, 3);
    assert!(config.instances.iter().all(|i| i.garp_master_repeat == 3));
    assert_eq!(config.instances[1].track_scripts[0].weight, Some(-5));
}

#[test]
fn include_cycle_is_an_error_at_the_include() {
    let diagnostics = load_err("cycle/a.conf");
    assert_diagnostics(
        &diagnostics,
        &[
            "cycle/b.conf:1:13: warning: vrrp_script `b` is not used",
            "cycle/b.conf:4:9: error: include cycle",
        ],
    );
}

#[test]
fn comments_quotes_and_brace_styles() {
    let loaded = load_ok("comments_quoting.conf");
    let config = &loaded.config;
    assert_eq!(config.global.router_id.as_deref(), Some("lb 3"));
    let chk = &config.scripts["chk"];
    assert_eq!(chk.script, "/bin/sh -c 'test -e /run/ok # not a comment'");
    assert_eq!(chk.interval, secs(2));
    let instance = &config.instances[0];
    assert_eq!(instance.interface, "eth0");
    assert_eq!(instance.vrid, 7);
    assert_eq!(
        instance.auth.as_ref().map(|a| a.pass.as_str()),
        Some("p#ss!1")
    );
    assert_eq!(
        instance.virtual_ipaddresses,
        [VirtualAddress {
            address: Ipv4Addr::new(192, 0, 2, 7).into(),
            prefix_len: 32,
            dev: Some("eth0".into()),
            label: Some("eth0:vip".into()),
        }]
    );
    let notify = instance.notify.as_ref().expect("notify");
    assert_eq!(notify.command, "/etc/havip/notify.sh");
    assert_eq!(notify.user.as_deref(), Some("havip"));
    assert_eq!(notify.group.as_deref(), Some("havip"));
    assert_diagnostics(
        &loaded.diagnostics,
        &[
            // keepalived: "Warning - script chk is not used" (vrrp_complete_init).
            "comments_quoting.conf:6:13: warning: vrrp_script `chk` is not used",
            "comments_quoting.conf:20:35: note: `notify` runs as user `havip`",
            "comments_quoting.conf:20:41: warning: `notify`: `:` (set supplementary groups) ignored",
        ],
    );
}

#[test]
fn v3_fractional_interval_and_global_inheritance() {
    let loaded = load_ok("v3.conf");
    assert_eq!(loaded.diagnostics, []);
    let fast = loaded.config.instance("VI_FAST").expect("VI_FAST");
    assert_eq!(fast.version, Version::V3);
    assert_eq!(fast.state, InitialState::Master);
    assert_eq!(fast.priority, 255);
    assert_eq!(fast.advert_interval, Duration::from_millis(100));
    assert_eq!(fast.garp_master_delay, secs(2));
    assert_eq!(fast.garp_interval, Duration::from_millis(1));
    assert_eq!(
        fast.virtual_ipaddresses,
        [
            VirtualAddress::new(Ipv4Addr::new(10, 0, 0, 10), 24),
            VirtualAddress::new(Ipv4Addr::new(10, 0, 0, 11), 32),
        ]
    );
    let v2 = loaded.config.instance("VI_V2").expect("VI_V2");
    assert_eq!(v2.version, Version::V2);
    assert_eq!(v2.advert_interval, secs(3));
    assert_eq!(v2.garp_master_delay, Duration::ZERO);
}

#[test]
fn sync_group_with_tracking_and_notify() {
    let loaded = load_ok("sync_group.conf");
    assert_diagnostics(
        &loaded.diagnostics,
        &["sync_group.conf:16:5: note: `smtp_alert` ignored"],
    );
    let config = &loaded.config;
    assert!(config.scripts["chk_db"].init_fail);
    let group = &config.sync_groups[0];
    assert_eq!(group.name, "G1");
    assert_eq!(group.instances, ["VI_1", "VI_2"]);
    assert_eq!(group.track_scripts[0].name, "chk_db");
    assert_eq!(
        group.notify_master,
        Some(Command::new("/etc/havip/group.sh master"))
    );
    assert_eq!(group.notify, Some(Command::new("/etc/havip/group.sh")));
}

#[test]
fn every_unsupported_directive_is_reported_with_its_line() {
    assert_diagnostics(
        &load_err("unsupported.conf"),
        &[
            "unsupported.conf:2:5: note: `notification_email` ignored: havip sends no email",
            "unsupported.conf:5:5: note: `smtp_server` ignored",
            "unsupported.conf:6:5: warning: `vrrp_strict` ignored",
            "unsupported.conf:7:5: warning: `vrrp_skip_check_adv_addr` ignored",
            "unsupported.conf:8:5: warning: `lvs_flush` in global_defs ignored",
            "unsupported.conf:9:23: error: `vrrp_mcast_group4`",
            "unsupported.conf:14:5: error: `use_vmac` is not supported",
            "unsupported.conf:16:5: error: `track_file` is not supported",
            "unsupported.conf:19:5: error: `virtual_routes` is not supported",
            "unsupported.conf:25:5: warning: `accept` ignored",
            "unsupported.conf:26:5: warning: `unicast_ttl` ignored",
            "unsupported.conf:27:5: note: `smtp_alert` ignored",
            "unsupported.conf:28:5: warning: `debug` ignored",
            // `native_ipv6` (line 15) makes the instance IPv6, so its IPv4 address is ignored
            // with keepalived's warning, and the IPv6 one is the first.
            "unsupported.conf:30:9: warning: virtual address `192.0.2.3/24` ignored, as keepalived does: the address family must match",
            "unsupported.conf:30:22: warning: `brd 192.0.2.255` ignored",
            "unsupported.conf:30:38: warning: `scope global` ignored",
            "unsupported.conf:30:51: warning: `no_track` ignored",
            "unsupported.conf:31:9: warning: the first IPv6 virtual address 2001:db8::3 should be link-local",
            "unsupported.conf:34:20: warning: `min_ttl` ignored",
            "unsupported.conf:37:19: error: `auth_type AH`",
            "unsupported.conf:40:5: warning: unknown keyword `bogus_keyword` in vrrp_instance",
            "unsupported.conf:42:1: warning: `virtual_server` ignored",
        ],
    );
}

#[test]
fn notes_and_repeats_are_reported_without_failing() {
    let f = "check_unicast.conf";
    // keepalived warns about an unknown keyword ("Unknown keyword") and runs; so does havip.
    assert_diagnostics(
        &load_ok(f).diagnostics,
        &[
            "check_unicast.conf:2:5: note: `vrrp_check_unicast_src`: havip always drops",
            "check_unicast.conf:7:5: note: `check_unicast_src`: havip always drops",
            "check_unicast.conf:8:5: note: `mcast_src_ip` sets the advert source address",
            "check_unicast.conf:10:5: warning: `priority` repeated; this one overrides line 9",
            "check_unicast.conf:11:5: warning: unknown keyword `auth_pass_outside_block`",
        ],
    );
    let text = std::fs::read_to_string(fixture(f)).expect("fixture");
    let fixed = text.replace("    auth_pass_outside_block\n", "");
    let loaded =
        config::load_str(&fixed, &fixture(f), Format::Keepalived).expect("loads without it");
    let instance = &loaded.config.instances[0];
    assert_eq!(instance.priority, 90);
    assert_eq!(
        instance.unicast_src_ip,
        Some(Ipv4Addr::new(192, 0, 2, 7).into())
    );
    assert_eq!(loaded.diagnostics.len(), 4);
}

#[test]
fn syntax_errors_name_file_line_and_column() {
    // keepalived warns about these three and runs the file (CONFIG_MISSING_EOB,
    // CONFIG_UNEXPECTED_EOB, CONFIG_UNMATCHED_QUOTE), with the meaning checked below.
    let unclosed = load_ok("syntax/unclosed.conf");
    assert_diagnostics(
        &unclosed.diagnostics,
        &["unclosed.conf:1:20: warning: this `{` is never closed"],
    );
    assert_eq!(
        unclosed.config.instances[0].virtual_ipaddresses[0].address,
        Ipv4Addr::new(192, 0, 2, 1)
    );
    let extra = load_ok("syntax/extra_close.conf");
    assert_diagnostics(
        &extra.diagnostics,
        &["extra_close.conf:5:1: warning: extra `}` ignored"],
    );
    assert_eq!(extra.config.instances[0].vrid, 1);
    let quote = load_ok("syntax/unterminated_quote.conf");
    assert_diagnostics(
        &quote.diagnostics,
        &["unterminated_quote.conf:4:19: warning: unterminated quoted string"],
    );
    assert_eq!(
        quote.config.instances[0]
            .notify_master
            .as_ref()
            .map(|c| c.command.as_str()),
        Some("/etc/havip/notify.sh master")
    );
    assert_diagnostics(
        &load_err("syntax/missing_argument.conf"),
        &[
            "missing_argument.conf:1:1: error: vrrp_instance `VI_1` has no `virtual_router_id`",
            "missing_argument.conf:3:5: error: `virtual_router_id` needs a value",
            "missing_argument.conf:4:5: error: `priority` needs a value",
        ],
    );
}

#[test]
fn validation_errors_point_at_the_directive() {
    let text = "\
vrrp_script chk {
    script /bin/true
}
vrrp_instance A {
    interface eth0
    virtual_router_id 5
    advert_int 0.5
    track_script {
        chk
        nope
    }
}
vrrp_instance B {
    interface eth0
    virtual_router_id 5
}
";
    let origin = Path::new("/etc/keepalived/keepalived.conf");
    let diagnostics = match config::load_str(text, origin, Format::Keepalived) {
        Err(ConfigError::Invalid { diagnostics, .. }) => diagnostics,
        other => panic!("should be invalid: {other:?}"),
    };
    assert_diagnostics(
        &diagnostics,
        &[
            // keepalived rounds a VRRPv2 interval and ignores an undefined track script, with a
            // warning each; a duplicate VRID stays an error.
            "keepalived.conf:7:16: warning: vrrp_instance `A`: advert_int 500ms cannot be sent",
            "keepalived.conf:10:9: warning: track script `nope` of `vrrp_instance A` not found",
            "keepalived.conf:15:23: error: vrid 5 is already used on interface eth0",
        ],
    );
}

#[test]
fn sidecar_adds_havip_settings_without_touching_keepalived_conf() {
    let path = fixture("sidecar/keepalived.conf");
    let loaded = load_ok("sidecar/keepalived.conf");
    assert_eq!(loaded.sidecar, Some(config::sidecar_path(&path)));
    assert_eq!(
        loaded.config.global.metrics_addr,
        "0.0.0.0:9900".parse().expect("addr")
    );
    assert_eq!(
        loaded.config.global.lease,
        Some(Duration::from_millis(2500))
    );
    assert!(!loaded.config.instances[0].manage_addresses);
    let cloud = loaded.config.cloud.as_ref().expect("cloud table");
    assert_eq!(
        cloud.get("provider").and_then(|v| v.as_str()),
        Some("webhook")
    );

    let plain = config::load_with(&path, Format::Auto, &Sidecar::Disabled).expect("loads");
    assert_eq!(plain.sidecar, None);
    assert_eq!(
        plain.config.global.metrics_addr,
        config::DEFAULT_METRICS_ADDR
    );
    assert!(plain.config.instances[0].manage_addresses);
    assert_eq!(plain.config.cloud, None);
}

#[test]
fn sidecar_errors_point_into_the_sidecar() {
    let path = fixture("sidecar/keepalived.conf");
    assert_diagnostics(
        &load_err_with(&path, &Sidecar::File(fixture("sidecar/bad.havip.toml"))),
        &["bad.havip.toml:3:1: error: unknown field `router_id`"],
    );
    assert_diagnostics(
        &load_err_with(
            &path,
            &Sidecar::File(fixture("sidecar/unknown_instance.havip.toml")),
        ),
        &["unknown_instance.havip.toml:1:11: error: [instance.VI_9]: no vrrp_instance `VI_9`"],
    );
}

#[test]
fn format_is_detected_from_extension_then_content() {
    assert_eq!(load_ok("spec.conf").format, Format::Keepalived);
    assert_eq!(load_ok("spec.toml").format, Format::Toml);
    let toml = std::fs::read_to_string(fixture("spec.toml")).expect("fixture");
    let loaded = config::load_str(&toml, Path::new("/etc/havip/havip.conf"), Format::Auto)
        .expect("TOML content in a .conf file");
    assert_eq!(loaded.format, Format::Toml);
}

#[test]
fn arbitrary_input_never_panics() {
    // Deterministic xorshift: the same inputs on every run.
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let alphabet: Vec<char> = "{}\"#!\\\n\t ab_019./:-é".chars().collect();
    let words = [
        "vrrp_instance ",
        "global_defs ",
        "vrrp_script ",
        "vrrp_sync_group ",
        "group ",
        "virtual_ipaddress ",
        "authentication ",
        "track_script ",
        "include ",
        "advert_int 0.",
        "192.0.2.1/33 ",
        "weight -",
    ];
    for _ in 0..3000 {
        let len = usize::try_from(next() % 160).unwrap_or(0);
        let mut text = String::new();
        for _ in 0..len {
            let r = next();
            if r % 5 == 0 {
                text.push_str(words[usize::try_from(r / 5 % 12).unwrap_or(0)]);
            } else {
                let i = usize::try_from(r % alphabet.len() as u64).unwrap_or(0);
                text.push(alphabet[i]);
            }
        }
        let origin = Path::new("/nonexistent/fuzz.conf");
        let _ = config::load_str(&text, origin, Format::Keepalived);
        let _ = config::load_str(&text, origin, Format::Toml);
    }
}

#[test]
fn v3_checksum_as_v2_global_default_and_instance_override() {
    // Newer keepalived (not 2.2.7) accepts it in global_defs and per instance.
    let text = "\
global_defs {
    v3_checksum_as_v2
}
vrrp_instance A {
    interface eth0
    virtual_router_id 1
    version 3
}
vrrp_instance B {
    interface eth0
    virtual_router_id 2
    version 3
    v3_checksum_as_v2 off
}
";
    let loaded = config::load_str(text, Path::new("k.conf"), Format::Keepalived).expect("loads");
    assert!(loaded.config.global.v3_checksum_as_v2);
    assert!(loaded.config.instances[0].v3_checksum_as_v2);
    assert!(!loaded.config.instances[1].v3_checksum_as_v2);
}

#[test]
fn tracking_the_own_interface_with_a_weight_is_dropped_like_keepalived() {
    let text = "\
vrrp_instance A {
    track_interface {
        eth0 weight -20
        lo weight -10
    }
    interface eth0
    virtual_router_id 1
}
";
    let loaded = config::load_str(text, Path::new("k.conf"), Format::Keepalived).expect("loads");
    let tracks = &loaded.config.instances[0].track_interfaces;
    assert_eq!(tracks.len(), 1);
    // `lo`: a second tracked interface that exists on every host (keepalived drops one that
    // does not exist).
    assert_eq!((tracks[0].name.as_str(), tracks[0].weight), ("lo", -10));
    assert_diagnostics(
        &loaded.diagnostics,
        &["k.conf:3:9: note: track_interface `eth0` ignored"],
    );
}
