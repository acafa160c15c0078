//! Native TOML configuration: every accepted form, `[global]` inheritance, the round trip
//! through `to_toml`, and errors at `file:line:column` (syntax, types, unknown keys,
//! validation).

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use havip_agent::config::{
    self, Command, ConfigError, Diagnostic, Format, InitialState, Loaded, Severity, TrackInterface,
    TrackScript, Version, VirtualAddress,
};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/config/toml")
        .join(name)
}

fn load_ok(name: &str) -> Loaded {
    match config::load(&fixture(name), Format::Auto) {
        Ok(loaded) => loaded,
        Err(e) => panic!("{name} should load: {e:?}"),
    }
}

fn errors(name: &str) -> Vec<Diagnostic> {
    match config::load(&fixture(name), Format::Auto) {
        Err(ConfigError::Invalid { diagnostics, .. }) => diagnostics,
        other => panic!("{name} should be invalid: {other:?}"),
    }
}

/// Asserts diagnostics one by one: line, column, message part (all errors in `name`).
fn assert_errors(name: &str, expected: &[(u32, u32, &str)]) {
    let actual = errors(name);
    let shown = actual
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n");
    assert_eq!(actual.len(), expected.len(), "{name}:\n{shown}");
    for (d, &(line, column, part)) in actual.iter().zip(expected) {
        assert!(
            d.file.ends_with(name)
                && d.severity == Severity::Error
                && (d.line, d.column) == (line, column)
                && d.message.contains(part),
            "expected {name}:{line}:{column} containing {part:?}, got {d}\nall:\n{shown}"
        );
    }
}

#[test]
fn native_file_with_every_form() {
    let loaded = load_ok("native.toml");
    assert_eq!(loaded.format, Format::Toml);
    assert_eq!(loaded.diagnostics, []);
    let config = &loaded.config;
    assert_eq!(
        config.global.metrics_addr,
        "[::1]:9828".parse().expect("addr")
    );
    assert_eq!(config.global.lease, Some(Duration::from_millis(250)));
    assert_eq!(
        config.global.max_learned_interval,
        Some(Duration::from_secs(1))
    );
    assert_eq!(config.global.garp_lower_prio_holdoff, Some(Duration::ZERO));
    let chk = &config.scripts["chk"];
    assert_eq!(chk.interval, Duration::from_millis(500));
    assert_eq!(chk.effective_timeout(), Duration::from_millis(500));
    assert!(chk.reverse);

    let vi1 = &config.instances[0];
    assert_eq!(vi1.state, InitialState::Master);
    // Inherited from [global]: vrrp_version and garp_master_repeat.
    assert_eq!(vi1.version, Version::V3);
    assert_eq!(vi1.garp_master_repeat, 2);
    assert_eq!(vi1.advert_interval, Duration::from_millis(100));
    assert_eq!(vi1.preempt_delay, Duration::from_millis(1500));
    assert!(!vi1.manage_addresses);
    assert_eq!(
        vi1.virtual_ipaddresses,
        [
            VirtualAddress::new(Ipv4Addr::new(192, 0, 2, 3), 24),
            VirtualAddress {
                address: Ipv4Addr::new(192, 0, 2, 4).into(),
                prefix_len: 32,
                dev: Some("eth1".into()),
                label: Some("eth1:vip".into()),
            },
        ]
    );
    assert_eq!(
        vi1.track_interfaces,
        [
            TrackInterface {
                name: "eth2".into(),
                weight: 0,
                reverse: false
            },
            TrackInterface {
                name: "eth1".into(),
                weight: -10,
                reverse: true
            },
        ]
    );
    assert_eq!(
        vi1.track_scripts,
        [TrackScript {
            name: "chk".into(),
            weight: Some(5),
            reverse: None
        }]
    );
    assert_eq!(
        vi1.notify_master,
        Some(Command {
            command: "/etc/havip/notify.sh master".into(),
            user: Some("havip".into()),
            group: None,
        })
    );

    let vi2 = &config.instances[1];
    assert_eq!(vi2.version, Version::V2);
    assert_eq!(vi2.garp_master_repeat, 9);
    assert_eq!(vi2.priority, config::DEFAULT_PRIORITY);
    assert_eq!(config.sync_groups[0].instances, ["VI_1", "VI_2"]);
    assert!(config.cloud.is_some());
}

#[test]
fn native_file_round_trips() {
    let loaded = load_ok("native.toml");
    let text = loaded.config.to_toml();
    let again = config::load_str(&text, Path::new("again.toml"), Format::Toml)
        .unwrap_or_else(|e| panic!("written TOML does not load: {e:?}\n{text}"));
    assert_eq!(again.config, loaded.config, "{text}");
}

#[test]
fn syntax_error_has_line_and_column() {
    assert_errors("bad_syntax.toml", &[(6, 13, "")]);
}

#[test]
fn type_error_has_line_and_column() {
    assert_errors("bad_type.toml", &[(4, 8, "u8")]);
}

#[test]
fn unknown_key_is_an_error() {
    assert_errors("unknown_key.toml", &[(8, 1, "advert_int")]);
}

#[test]
fn duration_without_unit_is_an_error() {
    assert_errors("bad_duration.toml", &[(5, 19, "no unit")]);
}

#[test]
fn address_of_the_other_family_is_an_error() {
    assert_errors(
        "bad_address.toml",
        &[(5, 40, "2001:db8::1 is not of the instance's family (IPv4")],
    );
}

#[test]
fn ipv6_instances_follow_keepalived_rules() {
    // Version 3 is inherited (v2 is IPv4 only); the unicast settings must be IPv6. The valid
    // IPv6 instance (V6) and the IPv4 one with an excluded IPv6 address (V4) are accepted.
    assert_errors(
        "ipv6.toml",
        &[
            (13, 18, "192.0.2.12 is not of the instance's family (IPv6)"),
            (12, 11, "VRRP version 2 is IPv4 only"),
        ],
    );
}

#[test]
fn validation_errors_have_positions() {
    assert_errors(
        "invalid.toml",
        &[
            (
                3,
                10,
                "scripts.chk.weight: weight 300 is outside -253..=253",
            ),
            (8, 8, "instance[0].vrid: vrid must be 1..=255"),
            (
                9,
                19,
                "instance[0].advert_interval: VRRPv2 advert_interval must be whole seconds",
            ),
            (10, 32, "instance[0].auth.pass: password is 15 bytes"),
            (
                11,
                25,
                "instance[0].track_scripts[1]: script `missing` is not defined",
            ),
            (
                18,
                19,
                "instance[1].advert_interval: VRRPv3 advert_interval must be a multiple of 10ms",
            ),
            (
                19,
                8,
                "instance[1].auth: authentication exists only in VRRPv2",
            ),
            (
                22,
                8,
                "instance[2].name: instance name `VI_2` is already used",
            ),
            (
                24,
                8,
                "instance[2].vrid: vrid 7 is already used on interface eth0",
            ),
            (
                28,
                22,
                "sync_group[0].instances[1]: instance `VI_3` is not defined",
            ),
        ],
    );
}

#[test]
fn max_learned_interval_below_an_instance_interval_is_an_error() {
    let dir = std::env::temp_dir().join(format!("havip-mli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("mli.toml");
    std::fs::write(
        &file,
        "[global]\nmax_learned_interval = \"50ms\"\n\n[[instance]]\nname = \"VI_1\"\n\
         interface = \"eth0\"\nvrid = 51\nversion = 3\nadvert_interval = \"100ms\"\n\
         virtual_ipaddresses = [\"192.0.2.200/24\"]\n",
    )
    .expect("write");
    let err = config::load(&file, Format::Toml)
        .expect_err("a bound below the interval must not load")
        .to_string();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        err.contains("max_learned_interval 50ms is shorter than advert_interval"),
        "{err}"
    );
}
