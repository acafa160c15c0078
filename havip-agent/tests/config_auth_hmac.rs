//! `auth_hmac` in keepalived.conf (as keepalived 2.4.3 reads it) and in TOML: the same model out
//! of both, keepalived's error handling (bad keys dropped, undefined `active_key` disables it,
//! legacy `authentication` dropped), and key files.

use std::path::PathBuf;
use std::time::Duration;

use havip_agent::config::{
    self, ConfigError, Format,
    auth_hmac::{AntiReplayKind, AuthHmacConfig, ModeConfig},
};
use havip_agent::vrrp::auth_hmac::{AntiReplay, Mode};

const KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

struct Dir(PathBuf);

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn dir(tag: &str) -> Dir {
    let d = std::env::temp_dir().join(format!("havip-cfg-hmac-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&d).expect("temp dir");
    Dir(d)
}

fn keepalived(body: &str) -> String {
    format!(
        "vrrp_instance VI_1 {{\n    interface eth0\n    virtual_router_id 51\n    priority 100\n    \
         advert_int 2\n    virtual_ipaddress {{\n        192.0.2.100\n    }}\n{body}}}\n"
    )
}

fn load(path: &std::path::Path) -> Result<config::Loaded, Vec<String>> {
    match config::load(path, Format::Auto) {
        Ok(l) => Ok(l),
        Err(ConfigError::Invalid { diagnostics, .. }) => {
            Err(diagnostics.iter().map(ToString::to_string).collect())
        }
        Err(e) => Err(vec![e.to_string()]),
    }
}

fn hmac_of(loaded: &config::Loaded) -> Option<AuthHmacConfig> {
    loaded.config.instances[0].auth_hmac.clone()
}

#[test]
fn keepalived_block_and_toml_give_the_same_model() {
    let d = dir("same");
    let key_file = d.0.join("vrrp.key");
    std::fs::write(&key_file, format!("hex:{KEY}\n")).expect("key file");
    std::fs::set_permissions(
        &key_file,
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .expect("chmod");
    let conf = d.0.join("keepalived.conf");
    let body = format!(
        "    auth_hmac {{\n        key 1 file:{}\n        key 2 hex:{KEY}\n        \
         active_key 2\n        anti_replay monotonic\n        mode permissive\n    }}\n    \
         auth_hmac {{\n        key 3 0123456789abcdef0123456789abcdef\n        time_window 7\n    }}\n",
        key_file.display()
    );
    std::fs::write(&conf, keepalived(&body)).expect("conf");
    let loaded = load(&conf).expect("loads");
    let hmac = hmac_of(&loaded).expect("auth_hmac kept");
    assert_eq!(
        hmac.keys.iter().map(|k| k.id).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    assert_eq!(hmac.active_key, 2);
    assert_eq!(hmac.anti_replay, AntiReplayKind::Monotonic);
    assert_eq!(hmac.time_window, Some(7));
    assert_eq!(hmac.mode, ModeConfig::Permissive);
    assert!(
        !format!("{hmac:?}").contains(KEY),
        "keys must not be printed"
    );
    let state = hmac.build(Duration::from_secs(2), &[]).expect("keys load");
    assert_eq!(state.mode(), Mode::Permissive);

    let toml = d.0.join("havip.toml");
    let text = format!(
        "[[instance]]\nname = \"VI_1\"\ninterface = \"eth0\"\nvrid = 51\nvirtual_ipaddresses = \
         [\"192.0.2.100\"]\n\n[instance.auth_hmac]\nkeys = [{{ id = 1, key = \"file:{}\" }}, \
         {{ id = 2, key = \"hex:{KEY}\" }}, {{ id = 3, key = \"0123456789abcdef0123456789abcdef\" \
         }}]\nactive_key = 2\nanti_replay = \"monotonic\"\ntime_window = 7\nmode = \"permissive\"\n",
        key_file.display()
    );
    std::fs::write(&toml, text).expect("toml");
    let from_toml = load(&toml).expect("toml loads");
    assert_eq!(hmac_of(&from_toml), Some(hmac));
}

#[test]
fn keepalived_drops_bad_keys_and_disables_on_undefined_active_key() {
    let d = dir("bad");
    let conf = d.0.join("keepalived.conf");
    let body = "    auth_hmac {\n        key 1 tooshort\n        key 2 hex:zz\n        active_key 1\n    }\n";
    std::fs::write(&conf, keepalived(body)).expect("conf");
    let errors = load(&conf).expect_err("bad keys are errors");
    let all = errors.join("\n");
    assert!(all.contains("key 1 is dropped"), "{all}");
    assert!(all.contains("key 2 is dropped"), "{all}");
    assert!(all.contains("auth_hmac is disabled"), "{all}");
    assert!(
        !all.contains("tooshort"),
        "key text must not be shown: {all}"
    );
}

#[test]
fn legacy_authentication_is_dropped_with_auth_hmac() {
    let d = dir("legacy");
    let conf = d.0.join("keepalived.conf");
    let body = format!(
        "    authentication {{\n        auth_type PASS\n        auth_pass secret\n    }}\n    \
         auth_hmac {{\n        key 1 hex:{KEY}\n        active_key 1\n    }}\n"
    );
    std::fs::write(&conf, keepalived(&body)).expect("conf");
    let errors = load(&conf).expect_err("both is an error");
    assert!(
        errors
            .iter()
            .any(|e| e.contains("legacy authentication is dropped")),
        "{errors:?}"
    );
}

#[test]
fn toml_validation_reports_bad_keys_window_and_active_key() {
    let d = dir("toml");
    let cases = [
        (
            format!("keys = [{{ id = 1, key = \"hex:{KEY}\" }}]\nactive_key = 2\n"),
            "active_key 2",
        ),
        (
            "keys = [{ id = 1, key = \"short\" }]\nactive_key = 1\n".to_owned(),
            "key 1: auth_hmac key is 5 bytes",
        ),
        (
            format!(
                "keys = [{{ id = 1, key = \"hex:{KEY}\" }}]\nactive_key = 1\ntime_window = 301\n"
            ),
            "time_window",
        ),
        (
            format!(
                "keys = [{{ id = 1, key = \"hex:{KEY}\" }}]\nactive_key = 1\nmode = \"receive_only\"\n"
            ),
            "receive_only",
        ),
    ];
    for (i, (hmac, want)) in cases.iter().enumerate() {
        let path = d.0.join(format!("case{i}.toml"));
        let text = format!(
            "[[instance]]\nname = \"VI_1\"\ninterface = \"eth0\"\nvrid = 51\n\
             virtual_ipaddresses = [\"192.0.2.100\"]\n\n[instance.auth_hmac]\n{hmac}"
        );
        std::fs::write(&path, text).expect("toml");
        let errors = load(&path).expect_err("invalid");
        assert!(
            errors.iter().any(|e| e.contains(want)),
            "case {i}: want {want:?} in {errors:?}"
        );
    }
}

#[test]
fn default_window_follows_advert_int() {
    let cfg = AuthHmacConfig {
        keys: Vec::new(),
        active_key: 1,
        anti_replay: AntiReplayKind::Time,
        time_window: None,
        mode: ModeConfig::Enforce,
    };
    assert_eq!(
        cfg.anti_replay(Duration::from_secs(1)),
        AntiReplay::Time { window: 5 }
    );
    assert_eq!(
        cfg.anti_replay(Duration::from_secs(4)),
        AntiReplay::Time { window: 12 }
    );
}
