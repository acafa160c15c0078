//! `havip-agent check-config` and `import-keepalived` on the issue's typical keepalived.conf
//! (addresses mapped into 192.0.2.0/24): exit statuses, the summary, diagnostics with positions,
//! and a TOML that loads back to the same instance.

use std::process::{Command, Output};

use havip_tests::{agent_bin, agents::Workdir};

const TYPICAL: &str = r#"global_defs {
    router_id lb-1
    script_user root
    enable_script_security
}
vrrp_script checkhaproxy {
    script "/bin/true"
    interval 2
    timeout 1
    weight -30
    fall 2
    rise 2
}
vrrp_instance VI_1 {
    state BACKUP             # this node starts as backup
    interface eth0
    virtual_router_id 51
    nopreempt                # no preemption
    # preempt_delay 10
    priority 80
    advert_int 1
    authentication {
        auth_type PASS
        auth_pass 1111
    }
    unicast_src_ip 192.0.2.7
    unicast_peer {
        192.0.2.13
    }
    virtual_ipaddress {
        192.0.2.3
    }
    garp_master_delay 1
    garp_master_refresh 5
    track_interface {
        eth0
    }
    track_script {
        checkhaproxy
    }
    notify_master "/bin/true master"
    notify_backup "/bin/true backup"
    notify_fault  "/bin/true fault"
}
"#;

fn agent(args: &[&str]) -> Output {
    Command::new(agent_bin().expect("agent binary"))
        .args(args)
        .output()
        .expect("run agent")
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn check_config_accepts_the_typical_file_and_summarises_it() {
    let dir = Workdir::new().expect("dir");
    let conf = dir.write("keepalived.conf", TYPICAL).expect("write");
    let out = agent(&["check-config", conf.to_str().expect("utf-8")]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("instance VI_1: eth0 vrid 51 priority 80 VRRPv2")
            && stdout.contains("nopreempt")
            && stdout.contains("unicast to 192.0.2.13")
            && stdout.contains("configuration OK"),
        "{stdout}"
    );
    // The own-interface track_interface is a note with its position, not silently dropped.
    assert!(
        stderr.contains("keepalived.conf:36:9: note: track_interface `eth0`"),
        "{stderr}"
    );
}

#[test]
fn check_config_fails_with_a_position_on_a_syntax_error_and_on_an_unknown_user() {
    let dir = Workdir::new().expect("dir");
    let broken = dir
        .write("broken.conf", "vrrp_instance VI_1 {\n    interface eth0\n")
        .expect("write");
    let out = agent(&["check-config", broken.to_str().expect("utf-8")]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stderr.contains("broken.conf:"), "{stderr}");

    let bad_user = TYPICAL.replace("script_user root", "script_user no-such-user-havip");
    let conf = dir.write("bad-user.conf", &bad_user).expect("write");
    let out = agent(&["check-config", conf.to_str().expect("utf-8")]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stderr.contains("no-such-user-havip"), "{stderr}");
}

#[test]
fn import_keepalived_prints_toml_that_checks_clean() {
    let dir = Workdir::new().expect("dir");
    let conf = dir.write("keepalived.conf", TYPICAL).expect("write");
    let out = agent(&["import-keepalived", conf.to_str().expect("utf-8")]);
    let (toml, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    for needle in [
        "vrid = 51",
        "priority = 80",
        "preempt = false",
        "unicast_peers = [\"192.0.2.13\"]",
        "auth = { type = \"PASS\", pass = \"1111\" }",
        "track_scripts = [\"checkhaproxy\"]",
        "[scripts.checkhaproxy]",
        "weight = -30",
    ] {
        assert!(toml.contains(needle), "missing {needle:?} in:\n{toml}");
    }
    let converted = dir.write("havip.toml", &toml).expect("write");
    let out = agent(&["check-config", converted.to_str().expect("utf-8")]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("instance VI_1: eth0 vrid 51 priority 80"),
        "{stdout}"
    );
}

#[test]
fn the_systemd_unit_verifies() {
    let unit =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../contrib/systemd/havip.service");
    let unit_text = std::fs::read_to_string(&unit).expect("unit file");
    let bin = agent_bin().expect("agent binary");
    let dir = Workdir::new().expect("dir");
    // Point it at the built binary; systemd-analyze checks that the commands exist.
    let local = dir
        .write(
            "havip.service",
            &unit_text.replace("/usr/local/sbin/havip-agent", bin.to_str().expect("utf-8")),
        )
        .expect("write");
    let out = Command::new("timeout")
        .args(["30", "systemd-analyze", "verify"])
        .arg(&local)
        .output()
        .expect("systemd-analyze (Debian's systemd package)");
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let complaints: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("havip.service"))
        .collect();
    assert!(complaints.is_empty(), "{stderr}");
}

#[test]
fn check_config_names_the_field_of_a_bad_cloud_section() {
    let dir = Workdir::new().expect("dir");
    let conf = dir.write("keepalived.conf", TYPICAL).expect("write");
    // havip-only settings for a keepalived.conf live in the sidecar next to it.
    dir.write(
        "keepalived.conf.havip.toml",
        "[cloud]\n[[cloud.tencent_havip]]\ninstance = \"VI_1\"\n",
    )
    .expect("sidecar");
    let out = agent(&["check-config", conf.to_str().expect("utf-8")]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stderr.contains("cloud.tencent_havip[0]"), "{stderr}");
}
