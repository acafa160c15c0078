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
fn the_realtime_drop_in_verifies_with_the_unit() {
    let contrib = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../contrib/systemd");
    let unit_text = std::fs::read_to_string(contrib.join("havip.service")).expect("unit file");
    let drop_in = std::fs::read_to_string(contrib.join("havip.service.d/realtime.conf"))
        .expect("drop-in file");
    // What systemd makes of the two: the drop-in's [Service] lines after the unit's.
    let (_, service) = drop_in
        .split_once("[Service]")
        .expect("a [Service] section");
    assert!(
        service.contains("RestrictRealtime=no") && service.contains("LimitRTPRIO="),
        "{service}"
    );
    let merged = unit_text.replacen("[Install]", &format!("{service}\n[Install]"), 1);
    let bin = agent_bin().expect("agent binary");
    let dir = Workdir::new().expect("dir");
    let local = dir
        .write(
            "havip.service",
            &merged.replace("/usr/local/sbin/havip-agent", bin.to_str().expect("utf-8")),
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

/// Tencent's HAVIP guide's keepalived.conf, verbatim (see `tests/fixtures/`).
fn seed() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/tencent-havip-keepalived.conf")
}

#[test]
fn the_seed_file_runs_with_a_warning_and_fails_only_when_strict() {
    let seed = seed();
    let seed = seed.to_str().expect("utf-8");
    let out = agent(&["check-config", seed]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    // keepalived 2.2.7: "(VI_1) track script checkhaproxy not found, ignoring..."
    assert!(
        stderr.contains(
            "tencent-havip-keepalived.conf:32:9: warning: track script `checkhaproxy` of \
             `vrrp_instance VI_1` not found, ignoring"
        ),
        "{stderr}"
    );
    assert!(
        stdout.contains("instance VI_1: eth0 vrid 51 priority 80")
            && stdout.contains("0 script(s)")
            && stdout.contains("1 warning(s)"),
        "{stdout}"
    );

    // keepalived -t exits 5 (KEEPALIVED_CHK_EXIT_CONFIG_TEST) on this file.
    let out = agent(&["check-config", "--strict", seed]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(5), "{stdout}\n{stderr}");
}

#[test]
fn import_of_the_seed_writes_a_toml_that_loads() {
    let seed = seed();
    let out = agent(&["import-keepalived", seed.to_str().expect("utf-8")]);
    let (toml, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("warning: track script `checkhaproxy`"),
        "{stderr}"
    );
    assert!(!toml.contains("checkhaproxy"), "{toml}");
    let dir = Workdir::new().expect("dir");
    let converted = dir.write("havip.toml", &toml).expect("write");
    let out = agent(&[
        "check-config",
        "--strict",
        converted.to_str().expect("utf-8"),
    ]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("instance VI_1: eth0 vrid 51 priority 80"),
        "{stdout}"
    );
}

/// Runs the agent with `RUST_BACKTRACE=1` (as this machine's environment has it).
fn agent_with_backtrace(args: &[&str]) -> Output {
    Command::new(agent_bin().expect("agent binary"))
        .args(args)
        .env("RUST_BACKTRACE", "1")
        .output()
        .expect("run agent")
}

#[test]
fn an_error_is_exactly_one_line_even_with_rust_backtrace_set() {
    let dir = Workdir::new().expect("dir");
    let missing = dir.path().join("missing.conf");
    let missing = missing.to_str().expect("utf-8");
    for args in [
        vec!["check-config", missing],
        vec!["import-keepalived", missing],
        vec!["run", "--config", missing],
    ] {
        let out = agent_with_backtrace(&args);
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stdout}\n{stderr}");
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{args:?}: {stderr}");
        assert!(
            lines[0].starts_with("error: ") && lines[0].contains("missing.conf"),
            "{args:?}: {stderr}"
        );
        assert!(!stderr.contains("Caused by") && !stderr.contains("backtrace"));
    }
}

/// What a bounded run of `check-config` did: exit code, peak resident memory, wall time,
/// stderr.
struct Bounded {
    code: Option<i32>,
    max_rss_kib: i64,
    elapsed: std::time::Duration,
    stderr: String,
}

/// Upper bounds for one hostile input: generous functional limits, not timing targets.
const HOSTILE_DEADLINE: std::time::Duration = std::time::Duration::from_secs(60);
const HOSTILE_MAX_RSS_KIB: i64 = 128 * 1024;
const HOSTILE_MAX_STDERR_LINES: usize = 100;

/// Runs `check-config FILE` as a child, killed after [`HOSTILE_DEADLINE`]; its peak RSS comes
/// from `wait4`'s rusage.
#[expect(
    clippy::zombie_processes,
    reason = "the child is reaped by wait4, which also gives its rusage"
)]
fn check_bounded(file: &std::path::Path) -> Bounded {
    let dir = Workdir::new().expect("dir");
    let err_path = dir.path().join("stderr");
    let err = std::fs::File::create(&err_path).expect("stderr file");
    let start = std::time::Instant::now();
    let child = Command::new(agent_bin().expect("agent binary"))
        .arg("check-config")
        .arg(file)
        .stdout(std::process::Stdio::null())
        .stderr(err)
        .spawn()
        .expect("spawn");
    let pid = libc::pid_t::try_from(child.id()).expect("pid");
    let mut status = 0;
    // SAFETY: rusage is plain data; all-zero is a valid value for wait4 to overwrite.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: pid is our own child, status and usage are valid for writes.
        let r = unsafe { libc::wait4(pid, &raw mut status, libc::WNOHANG, &raw mut usage) };
        assert!(r >= 0, "wait4: {}", std::io::Error::last_os_error());
        if r == pid {
            break;
        }
        if start.elapsed() > HOSTILE_DEADLINE {
            // SAFETY: kill(2) of our own child, which has not been reaped yet.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            panic!(
                "check-config {} still running after {HOSTILE_DEADLINE:?}",
                file.display()
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
    Bounded {
        code,
        max_rss_kib: usage.ru_maxrss,
        elapsed: start.elapsed(),
        stderr: std::fs::read_to_string(&err_path).unwrap_or_default(),
    }
}

/// Asserts the run ended by itself with `code`, within the memory bound and with a bounded
/// number of diagnostic lines, one of them containing `needle`.
fn assert_clean(what: &str, run: &Bounded, code: i32, needle: &str) {
    let head: String = run.stderr.lines().take(20).collect::<Vec<_>>().join("\n");
    assert_eq!(run.code, Some(code), "{what}: exit {:?}\n{head}", run.code);
    assert!(
        run.max_rss_kib < HOSTILE_MAX_RSS_KIB,
        "{what}: peak RSS {} KiB",
        run.max_rss_kib
    );
    let lines = run.stderr.lines().count();
    assert!(
        lines <= HOSTILE_MAX_STDERR_LINES,
        "{what}: {lines} lines\n{head}"
    );
    assert!(
        run.stderr.contains(needle),
        "{what}: no {needle:?} in\n{head}"
    );
    eprintln!(
        "{what}: exit {code}, {} KiB peak, {:?}, {lines} lines",
        run.max_rss_kib, run.elapsed
    );
}

#[test]
fn hostile_files_end_cleanly_in_bounded_time_and_memory() {
    let dir = Workdir::new().expect("dir");

    // ~7000 nested bare `{` used to overflow the stack (SIGABRT): keepalived ignores a bare `{`.
    let bare = dir
        .write(
            "bare.conf",
            &format!("{}{}", "{\n".repeat(7000), "}\n".repeat(7000)),
        )
        .expect("write");
    assert_clean(
        "7000 bare {",
        &check_bounded(&bare),
        0,
        "`{` without a keyword",
    );

    // The same depth behind keywords in a block that is read is over the nesting limit: an
    // error at its line. (An unknown top-level block is skipped unread, however deep.)
    let nested = dir
        .write(
            "nested.conf",
            &format!(
                "vrrp_instance VI_1 {{\n{}{}}}\n",
                "a {\n".repeat(7000),
                "}\n".repeat(7000)
            ),
        )
        .expect("write");
    assert_clean(
        "7000 nested a {",
        &check_bounded(&nested),
        1,
        "nest more than 32 deep",
    );

    // A 10 MB file is over the size limit: refused before it is parsed.
    let big = dir
        .write(
            "big.conf",
            &"# padding padding padding padding\n".repeat(300_000),
        )
        .expect("write");
    assert_clean("10 MB", &check_bounded(&big), 1, "larger than the limit");
    let big_toml = dir
        .write(
            "big.toml",
            &"# padding padding padding padding\n".repeat(300_000),
        )
        .expect("write");
    assert_clean(
        "10 MB TOML",
        &check_bounded(&big_toml),
        1,
        "larger than the limit",
    );

    // 4 MB of unknown blocks: warnings capped to a few lines.
    let unknown = dir
        .write(
            "unknown.conf",
            &"unknown_block_keyword_x {\n    inner_unknown 1\n}\n".repeat(90_000),
        )
        .expect("write");
    // ... and inside a block that is read: capped too.
    let inner = dir
        .write(
            "inner.conf",
            &format!(
                "global_defs {{\n{}}}\n",
                "    unknown_global_setting_with_a_long_name value\n".repeat(90_000)
            ),
        )
        .expect("write");
    assert_clean(
        "4 MB unknown settings",
        &check_bounded(&inner),
        0,
        "more warning(s) not shown",
    );
    assert_clean(
        "4 MB unknown blocks",
        &check_bounded(&unknown),
        0,
        "more warning(s) not shown",
    );
    // ... and denser, past the directive limit: an error.
    let dense = dir
        .write("dense.conf", &"a{}\n".repeat(1_000_000))
        .expect("write");
    assert_clean("4 MB a{}", &check_bounded(&dense), 1, "directives");
    // Braces only, past the token limit: an error.
    let braces = dir
        .write("braces.conf", &"{}{}\n".repeat(600_000))
        .expect("write");
    assert_clean("3 MB {}{}", &check_bounded(&braces), 1, "words and braces");
}

#[test]
fn includes_that_are_not_regular_files_are_skipped_without_blocking() {
    let dir = Workdir::new().expect("dir");
    // A FIFO without a writer, /dev/zero and a directory are skipped, as keepalived does.
    let fifo = dir.path().join("fifo.conf");
    let c_path = std::ffi::CString::new(fifo.to_str().expect("utf-8")).expect("path");
    // SAFETY: mkfifo with a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
    for (name, target) in [
        ("fifo", fifo.to_str().expect("utf-8").to_owned()),
        ("zero", "/dev/zero".to_owned()),
        ("dir", dir.path().to_str().expect("utf-8").to_owned()),
    ] {
        let conf = dir
            .write(
                &format!("include-{name}.conf"),
                &format!("include {target}\n"),
            )
            .expect("write");
        assert_clean(
            &format!("include {name}"),
            &check_bounded(&conf),
            0,
            "skipped: not a regular file",
        );
    }
}

#[test]
fn check_config_accepts_255_instances_of_16_vips_and_refuses_an_advert_too_long() {
    use havip_tests::{agents::Vrrp, scale::Layout};
    let dir = Workdir::new().expect("dir");
    let layout = Layout {
        instances: 255,
        vips_per_instance: 16,
    };
    let conf_text = layout.keepalived_conf(
        "lb",
        Vrrp::V2 { secs: 1 },
        150,
        "MASTER",
        "192.0.2.11".parse().expect("ip"),
        "192.0.2.12".parse().expect("ip"),
    );
    let conf = dir.write("lb.conf", &conf_text).expect("write");
    let out = agent(&["check-config", conf.to_str().expect("utf-8")]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("255 instance(s)"), "{stdout}");

    // 29 addresses in one VRRPv2 instance: an advert the kernel path would drop.
    let long = Layout {
        instances: 1,
        vips_per_instance: 29,
    };
    let conf_text = long.keepalived_conf(
        "lb",
        Vrrp::V2 { secs: 1 },
        150,
        "MASTER",
        "192.0.2.11".parse().expect("ip"),
        "192.0.2.12".parse().expect("ip"),
    );
    let conf = dir.write("long.conf", &conf_text).expect("write");
    let out = agent(&["check-config", conf.to_str().expect("utf-8")]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("29 virtual addresses") && stderr.contains("at most 28"),
        "{stderr}"
    );
}
