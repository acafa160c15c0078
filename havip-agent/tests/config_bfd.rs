//! BFD configuration: keepalived's `bfd_instance` / `track_bfd` and the TOML `[bfd.NAME]` /
//! `track_bfds` / `master_down_on_bfd` read into the same model, with keepalived's units,
//! defaults and handling of bad references.

use std::net::Ipv4Addr;
use std::path::Path;
use std::time::Duration;

use havip_agent::config::{self, BfdInstance, Format, TrackScript};

fn fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/config")
        .join(name)
}

#[test]
fn keepalived_bfd_instances_and_track_bfd_are_read_with_keepalived_units() {
    let loaded = match config::load(&fixture("bfd.conf"), Format::Auto) {
        Ok(l) => l,
        Err(e) => panic!("bfd.conf should load: {e:#}"),
    };
    let cfg = &loaded.config;
    let mut lb2 = BfdInstance::new(Ipv4Addr::new(192, 0, 2, 12));
    lb2.source_ip = Some(Ipv4Addr::new(192, 0, 2, 11));
    lb2.min_rx = Duration::from_millis(1);
    lb2.min_tx = Duration::from_micros(3312);
    lb2.idle_tx = Duration::from_millis(500);
    lb2.multiplier = 3;
    let mut gw = BfdInstance::new(Ipv4Addr::new(192, 0, 2, 1));
    gw.passive = true;
    gw.max_hops = 255;
    gw.weight = 30;
    assert_eq!(cfg.bfd.get("to_lb2"), Some(&lb2));
    assert_eq!(cfg.bfd.get("to_gw"), Some(&gw));
    assert!(!cfg.bfd.contains_key("lonely"), "no neighbor_ip: removed");
    assert_eq!(
        cfg.instances[0].track_bfds,
        vec![
            TrackScript {
                name: "to_lb2".into(),
                weight: None,
                reverse: None
            },
            TrackScript {
                name: "to_gw".into(),
                weight: Some(-20),
                reverse: Some(true)
            },
        ],
        "`nosuch` is dropped with a warning, as keepalived does"
    );
    let text: Vec<String> = loaded.diagnostics.iter().map(ToString::to_string).collect();
    assert!(
        text.iter()
            .any(|d| d.contains(":14:9:") && d.contains("track_bfd `nosuch` names no bfd_instance")),
        "{text:#?}"
    );
    assert!(
        text.iter()
            .any(|d| d.contains(":35:") && d.contains("bfd_instance `lonely` has no neighbor_ip")),
        "{text:#?}"
    );
    // The TOML form of the same configuration loads back equal.
    let toml = cfg.to_toml();
    assert!(toml.contains("[bfd.to_lb2]"), "{toml}");
    let again = config::load_str(&toml, Path::new("bfd.toml"), Format::Toml)
        .unwrap_or_else(|e| panic!("{e:#}\n{toml}"));
    assert_eq!(&again.config, cfg);
}

#[test]
fn toml_bfd_with_master_down_on_bfd_and_its_checks() {
    let text = r#"
[bfd.to_b]
neighbor_ip = "192.0.2.12"
min_tx = "1ms"
min_rx = "1ms"
multiplier = 3
echo_rx = "10ms"

[[instance]]
name = "VI_1"
interface = "eth0"
vrid = 51
virtual_ipaddresses = ["192.0.2.200/32"]
track_bfds = [{ name = "to_b", weight = -50 }]
master_down_on_bfd = true
"#;
    let loaded = config::load_str(text, Path::new("x.toml"), Format::Toml)
        .unwrap_or_else(|e| panic!("{e:#}"));
    let b = &loaded.config.bfd["to_b"];
    assert_eq!(
        (b.min_tx, b.min_rx, b.idle_tx, b.multiplier, b.ttl),
        (
            Duration::from_millis(1),
            Duration::from_millis(1),
            Duration::from_secs(1),
            3,
            255
        )
    );
    assert!(loaded.config.instances[0].master_down_on_bfd);
    assert_eq!(
        b.echo_rx,
        Duration::from_millis(10),
        "havip's Echo extension"
    );
    assert_eq!(
        BfdInstance::new(Ipv4Addr::new(192, 0, 2, 1)).echo_rx,
        Duration::ZERO,
        "no Echo unless asked for"
    );

    let bad = text
        .replace("name = \"to_b\", weight", "name = \"nope\", weight")
        .replace("multiplier = 3", "multiplier = 0\nmin_tx = \"0s\"")
        .replace("min_tx = \"1ms\"\n", "");
    let err = config::load_str(&bad, Path::new("x.toml"), Format::Toml).expect_err("invalid");
    let msg = format!("{err:#}");
    let msg = match &err {
        config::ConfigError::Invalid { diagnostics, .. } => diagnostics
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n"),
        config::ConfigError::Read { .. } => msg,
    };
    for expected in [
        "track_bfd `nope` names no bfd instance",
        "multiplier must be 1..=255",
        "min_tx must be 1us",
    ] {
        assert!(msg.contains(expected), "{expected}: {msg}");
    }
    let lonely = "[[instance]]\nname = \"VI_1\"\ninterface = \"eth0\"\nvrid = 51\n\
                  master_down_on_bfd = true\n";
    let err = config::load_str(lonely, Path::new("x.toml"), Format::Toml).expect_err("invalid");
    assert!(matches!(err, config::ConfigError::Invalid { .. }));
}

#[test]
fn track_bfd_in_a_sync_group_is_read_in_both_formats() {
    let text = "\
vrrp_sync_group G {
    group {
        VI_1
    }
    track_bfd {
        to_b
        nosuch
    }
}
vrrp_instance VI_1 {
    state BACKUP
    interface eth0
    virtual_router_id 51
    priority 100
    virtual_ipaddress {
        192.0.2.200
    }
}
bfd_instance to_b {
    neighbor_ip 192.0.2.12
}
";
    let loaded = config::load_str(text, Path::new("keepalived.conf"), Format::Keepalived)
        .unwrap_or_else(|e| panic!("{e:#}"));
    let cfg = &loaded.config;
    assert_eq!(
        cfg.sync_groups[0].track_bfds,
        vec![TrackScript {
            name: "to_b".into(),
            weight: None,
            reverse: None
        }],
        "`nosuch` is dropped with a warning, as for an instance"
    );
    let diags: Vec<String> = loaded.diagnostics.iter().map(ToString::to_string).collect();
    assert!(
        diags
            .iter()
            .any(|d| d.contains("track_bfd `nosuch` names no bfd_instance")),
        "{diags:#?}"
    );
    let toml = cfg.to_toml();
    let again = config::load_str(&toml, Path::new("g.toml"), Format::Toml)
        .unwrap_or_else(|e| panic!("{e:#}\n{toml}"));
    assert_eq!(&again.config, cfg);
    // In TOML, a name without a session is an error.
    let bad = toml.replace("track_bfds = [\"to_b\"]", "track_bfds = [\"nope\"]");
    assert!(bad != toml, "{toml}");
    let err = config::load_str(&bad, Path::new("g.toml"), Format::Toml).expect_err("invalid");
    let msg = match &err {
        config::ConfigError::Invalid { diagnostics, .. } => diagnostics
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n"),
        config::ConfigError::Read { .. } => format!("{err:#}"),
    };
    assert!(
        msg.contains("track_bfd `nope` names no bfd instance"),
        "{msg}"
    );
}
