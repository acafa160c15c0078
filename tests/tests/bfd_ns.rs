//! BFD (RFC 5880/5881) between real agents in network namespaces: node a 192.0.2.11 (havip,
//! priority 150) and node b 192.0.2.12, `VRRPv2` with `advert_int 1`, unicast, VIP 192.0.2.200.
//!
//! - havip <-> havip at 1 ms x 3 with `master_down_on_bfd` on b: a cut of a's link makes b
//!   answer for the VIP far sooner than the 3.6 s VRRP needs, with no dual answering.
//! - Spoofed and malformed BFD packets (TTL 254, unknown discriminator, bad length) change no
//!   session and are counted by outcome.
//! - Interop with FRR's bfdd (active and passive roles) and with keepalived's BFD, each peer
//!   started by the test inside its namespace with its own files.
//!
//! Bounds are functional and generous (the machine is shared); timing targets belong in
//! `cargo xtask bench`.

use std::{
    net::{Ipv4Addr, SocketAddr, UdpSocket},
    time::{Duration, Instant},
};

use havip_tests::{
    agents::{InstanceSpec, Vrrp, havip_status, spawn_havip_file, spawn_havip_toml, transitions},
    netns::{Node, wait_for},
    pair::{NODE_A, NODE_B, PairLab},
    proc::Proc,
    require_root,
    scrape::scrape_metrics,
};

const A: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 11);
const B: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 12);
const C: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const VIP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 200);
const V2_1S: Vrrp = Vrrp::V2 { secs: 1 };
/// Sessions come up within a few idle intervals (1 s each) once both ends run.
const UP_LIMIT: Duration = Duration::from_secs(15);
/// What VRRP alone would need here: b's `Master_Down_Interval`, 3 x 1 s + skew.
const VRRP_DETECTION: Duration = Duration::from_millis(3609);
/// A generous functional bound on a BFD-driven takeover (detection is 3 ms here).
const BFD_TAKEOVER_LIMIT: Duration = Duration::from_millis(1500);

/// `[bfd.NAME]` in TOML.
fn bfd_toml(name: &str, neighbor: Ipv4Addr, ms: u32, mult: u8, extra: &str) -> String {
    format!(
        "\n[bfd.{name}]\nneighbor_ip = \"{neighbor}\"\nmin_tx = \"{ms}ms\"\nmin_rx = \"{ms}ms\"\n\
         multiplier = {mult}\n{extra}"
    )
}

/// The `bfd` entries of `status --json`.
fn sessions(lab: &PairLab, label: &str) -> Vec<serde_json::Value> {
    havip_status(&lab.dir, label)
        .ok()
        .and_then(|s| s.get("bfd").and_then(|b| b.as_array().cloned()))
        .unwrap_or_default()
}

/// The session `name` of agent `label`, once `pred` holds for it.
fn wait_session(
    lab: &PairLab,
    label: &str,
    name: &str,
    limit: Duration,
    pred: impl Fn(&serde_json::Value) -> bool,
) -> Option<serde_json::Value> {
    wait_for(limit, Duration::from_millis(50), || {
        sessions(lab, label)
            .into_iter()
            .find(|s| s["name"] == name && pred(s))
    })
}

fn is_up(s: &serde_json::Value) -> bool {
    s["state"] == "up"
}

/// a's configuration: priority 150, BFD to b at `ms` x 3, metrics on 192.0.2.11:9828.
fn a_toml(ms: u32) -> String {
    format!(
        "[global]\nmetrics_addr = \"{A}:9828\"\n\n{}track_bfds = [{{ name = \"to_b\", weight = -1 }}]\n{}",
        InstanceSpec::new(V2_1S, 150, A, &[B]).to_toml(),
        bfd_toml("to_b", B, ms, 3, ""),
    )
}

/// Starts the havip pair with BFD at `ms` x 3; b has `master_down_on_bfd`. a exports metrics.
fn havip_pair(lab: &PairLab, ms: u32) -> (Proc, Proc) {
    let b_toml = format!(
        "{}master_down_on_bfd = true\n{}",
        InstanceSpec::new(V2_1S, 100, B, &[A]).to_toml(),
        bfd_toml("to_a", A, ms, 3, ""),
    );
    let a = spawn_havip_toml(&lab.lan.nodes[NODE_A], &lab.dir, "a", &a_toml(ms)).expect("a");
    let b = spawn_havip_toml(&lab.lan.nodes[NODE_B], &lab.dir, "b", &b_toml).expect("b");
    assert!(
        lab.settles_on(VIP, lab.mac(NODE_A), Duration::from_secs(10)),
        "a (150) owns the VIP:\n{}",
        a.log_text()
    );
    let up = wait_session(lab, "b", "to_a", UP_LIMIT, is_up);
    assert!(up.is_some(), "b's session to a comes up:\n{}", b.log_text());
    assert!(wait_session(lab, "a", "to_b", UP_LIMIT, is_up).is_some());
    (a, b)
}

#[test]
fn bfd_admin_down_of_a_restarting_master_moves_nothing() {
    if !require_root("bfd_admin_down_of_a_restarting_master_moves_nothing") {
        return;
    }
    let lab = PairLab::new("a", "b").expect("lab");
    let (mut a, b) = havip_pair(&lab, 10);
    // A planned restart: the old agent says AdminDown (RFC 5880 6.8.16), which b's
    // master_down_on_bfd must not read as a failed path (RFC 5882 3.2).
    a.signal(libc::SIGUSR2);
    assert!(
        a.wait(Duration::from_secs(5)).is_some(),
        "a did not stop:\n{}",
        a.log_text()
    );
    let down = wait_session(&lab, "b", "to_a", Duration::from_secs(2), |s| {
        s["state"] == "down" && s["diag"] == "neighbor_signaled_session_down"
    });
    assert!(
        down.is_some(),
        "b saw a's AdminDown: {:?}",
        sessions(&lab, "b")
    );
    let a1 = spawn_havip_toml(&lab.lan.nodes[NODE_A], &lab.dir, "a1", &a_toml(10)).expect("a1");
    assert!(
        wait_session(&lab, "b", "to_a", UP_LIMIT, is_up).is_some(),
        "the session comes back with the new agent:\n{}",
        a1.log_text()
    );
    let b_log = b.log_text();
    assert_eq!(
        transitions(&b_log).len(),
        1,
        "b moved (only its start to BACKUP expected):\n{b_log}"
    );
    assert!(lab.settles_on(VIP, lab.mac(NODE_A), Duration::from_secs(2)));
}

#[test]
fn bfd_havip_pair_takes_over_far_below_vrrp_detection_on_a_link_cut() {
    if !require_root("bfd_havip_pair_takes_over_far_below_vrrp_detection_on_a_link_cut") {
        return;
    }
    let lab = PairLab::new("a", "b").expect("lab");
    let (a, b) = havip_pair(&lab, 1);
    let s = wait_session(&lab, "b", "to_a", UP_LIMIT, |s| {
        s["tx_interval_us"] == 1000 && s["detection_time_us"] == 3000
    });
    assert!(
        s.is_some(),
        "1 ms x 3 negotiated after the poll sequence: {:?}",
        sessions(&lab, "b")
    );
    cut_a_and_expect_a_bfd_takeover_by_b(&lab, &b);
    drop(a);
}

/// Cuts a's link, probes the VIP until b answers (never both), and asserts that b answered
/// well within VRRP's own detection time, because its BFD session to a went down.
fn cut_a_and_expect_a_bfd_takeover_by_b(lab: &PairLab, b: &Proc) {
    let (mac_a, mac_b) = (lab.mac(NODE_A), lab.mac(NODE_B));
    lab.lan.cut(NODE_A).expect("cut");
    let cut = Instant::now();
    let mut took = None;
    while cut.elapsed() < VRRP_DETECTION {
        let sample = lab
            .prober
            .probe(VIP, Duration::from_millis(20))
            .expect("probe");
        assert!(
            !(sample.macs.contains(&mac_a) && sample.macs.contains(&mac_b)),
            "two owners answered: {sample:?}"
        );
        if sample.macs == [mac_b] {
            took = Some(cut.elapsed());
            break;
        }
    }
    let took = took.unwrap_or_else(|| {
        panic!(
            "b never answered within VRRP's own detection time:\n{}",
            b.log_text()
        )
    });
    eprintln!("BFD-driven takeover answered after {took:?} (VRRP alone: {VRRP_DETECTION:?})");
    assert!(
        took < BFD_TAKEOVER_LIMIT,
        "took {took:?}:\n{}",
        b.log_text()
    );
    assert!(
        b.log_text()
            .contains("BFD session to master 192.0.2.11 went down"),
        "the takeover is BFD's, not the timer's:\n{}",
        b.log_text()
    );
}

/// Sends `payload` from node `from` to a's BFD port with IPv4 TTL `ttl`.
fn send_from(node: &Node, ttl: u32, payload: Vec<u8>) {
    node.ns
        .enter(move || {
            let s = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0))?;
            s.set_ttl(ttl)?;
            s.send_to(&payload, (A, 3784))?;
            Ok(())
        })
        .expect("send");
}

/// A Control packet: Sta `state`, My Discriminator 0x5eed, Your `your`, 1 s / 1 s.
fn packet(state: u8, your: u32) -> Vec<u8> {
    let mut p = vec![0x20, state << 6, 3, 24];
    p.extend_from_slice(&0x5eed_u32.to_be_bytes());
    p.extend_from_slice(&your.to_be_bytes());
    p.extend_from_slice(&1_000_000_u32.to_be_bytes());
    p.extend_from_slice(&1_000_000_u32.to_be_bytes());
    p.extend_from_slice(&0_u32.to_be_bytes());
    p
}

#[test]
fn bfd_spoofed_and_malformed_packets_change_nothing_and_are_counted() {
    if !require_root("bfd_spoofed_and_malformed_packets_change_nothing_and_are_counted") {
        return;
    }
    let lab = PairLab::new("a", "b").expect("lab");
    // 10 ms x 3: this test is about discards, and a shared machine can starve 1 ms sessions.
    let (a, b) = havip_pair(&lab, 10);
    let before = wait_session(&lab, "a", "to_b", UP_LIMIT, is_up).expect("up");
    let addr = SocketAddr::from((A, 9828));
    let downs = || {
        scrape_metrics(&lab.lan.nodes[NODE_A].ns, addr)
            .expect("scrape")
            .sum("havip_bfd_state_changes_total", &[("state", "down")])
    };
    let downs_before = downs();
    let b_log = b.log_text();
    let node_b = &lab.lan.nodes[NODE_B];
    // From b's own address: a Down packet with TTL 254 (RFC 5881 5 wants 255), one for a
    // discriminator a never gave out, one cut short; from the client, one from a stranger.
    send_from(node_b, 254, packet(1, 0));
    send_from(node_b, 255, packet(3, 0xdead_beef));
    send_from(node_b, 255, packet(1, 0)[..20].to_vec());
    send_from(&lab.lan.nodes[0], 255, packet(1, 0));
    let counted = wait_for(Duration::from_secs(5), Duration::from_millis(100), || {
        let m = scrape_metrics(&lab.lan.nodes[NODE_A].ns, addr).ok()?;
        let n = |o: &str| m.get("havip_bfd_packets_received_total", &[("outcome", o)]);
        // The XDP program drops what it can tell from the packet alone (counted by reason in
        // `havip_xdp_bfd_dropped_total`) before the agent's socket sees it; what reaches the
        // socket is counted there.
        let kernel = |r: &str| m.get("havip_xdp_bfd_dropped_total", &[("reason", r)]);
        (n("ttl") + kernel("ttl") >= 1.0
            && n("unknown_discriminator") + kernel("discriminator") >= 1.0
            && n("malformed") + kernel("length") >= 1.0
            && n("unknown_peer") >= 1.0)
            .then_some(n("accepted"))
    });
    assert!(
        counted.is_some_and(|accepted| accepted > 0.0),
        "every discard is counted by reason:\n{}",
        a.log_text()
    );
    let after = wait_session(&lab, "a", "to_b", Duration::from_secs(1), is_up).expect("still up");
    assert_eq!(
        after["discriminators"], before["discriminators"],
        "the session kept its remote"
    );
    assert!(
        (downs() - downs_before).abs() < f64::EPSILON,
        "no session went down: {:?}",
        sessions(&lab, "a")
    );
    let tail = b.log_text();
    assert!(
        !tail[b_log.len()..].contains("state transition"),
        "b did not move: {}",
        &tail[b_log.len()..]
    );
}

/// FRR's bfdd in `node`'s namespace with its own configuration, sockets and pid file, run as
/// the `frr` user (it refuses root without the `frrvty` group); never a host service.
fn spawn_bfdd(lab: &PairLab, node: usize, label: &str, conf: &str) -> Proc {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = lab.dir.path().join(format!("frr-{label}"));
    std::fs::create_dir_all(&dir).expect("frr dir");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    let file = dir.join("bfdd.conf");
    std::fs::write(&file, conf).expect("bfdd.conf");
    let path = |name: &str| dir.join(name).to_string_lossy().into_owned();
    let mut cmd = lab.lan.nodes[node].ns.command("/usr/lib/frr/bfdd");
    cmd.args(["-f", &path("bfdd.conf"), "-i", &path("bfdd.pid")])
        .args(["--vty_socket", &path(""), "--bfdctl", &path("bfdd.sock")])
        .args([
            "-z",
            &path("zserv.api"),
            "-P",
            "0",
            "-u",
            "frr",
            "-g",
            "frr",
        ])
        .args(["--log", "stdout", "--log-level", "debug"]);
    let mut p = Proc::spawn(&format!("bfdd-{label}"), cmd).expect("bfdd");
    let up = wait_for(Duration::from_secs(10), Duration::from_millis(20), || {
        (p.log_text().contains("starting") || !p.alive()).then_some(())
    });
    assert!(up.is_some() && p.alive(), "bfdd {label}:\n{}", p.log_text());
    p
}

/// An FRR `bfd peer` at 10 ms x 3.
fn frr_peer(peer: Ipv4Addr, local: Ipv4Addr, passive: bool) -> String {
    format!(
        "bfd\n peer {peer} local-address {local}\n  receive-interval 10\n  transmit-interval 10\n  \
         detect-multiplier 3\n{}  no shutdown\n !\n!\n",
        if passive { "  passive-mode\n" } else { "" }
    )
}

#[test]
fn bfd_interop_with_frr_bfdd_in_both_roles() {
    if !require_root("bfd_interop_with_frr_bfdd_in_both_roles") {
        return;
    }
    let lab = PairLab::new("a", "b").expect("lab");
    // b's bfdd is active and havip's session to it passive; c's bfdd is passive and havip's
    // session to it active.
    let _frr_b = spawn_bfdd(&lab, NODE_B, "b", &frr_peer(A, B, false));
    let _frr_c = spawn_bfdd(&lab, 0, "c", &frr_peer(A, C, true));
    let a_toml = format!(
        "{}{}{}",
        InstanceSpec::new(V2_1S, 150, A, &[B]).to_toml(),
        bfd_toml("to_b", B, 10, 3, "passive = true\n"),
        bfd_toml("to_c", C, 10, 3, ""),
    );
    let a = spawn_havip_toml(&lab.lan.nodes[NODE_A], &lab.dir, "a", &a_toml).expect("a");
    for name in ["to_b", "to_c"] {
        // FRR's and havip's 10 ms x 3 agreed after the poll sequence: 30 ms detection.
        let s = wait_session(&lab, "a", name, UP_LIMIT, |s| {
            is_up(s) && s["tx_interval_us"] == 10_000 && s["detection_time_us"] == 30_000
        });
        assert!(
            s.is_some(),
            "{name} up at 10 ms x 3: {:?}\n{}",
            sessions(&lab, "a"),
            a.log_text()
        );
    }
    lab.lan.cut(NODE_B).expect("cut");
    let down = wait_session(&lab, "a", "to_b", Duration::from_secs(3), |s| {
        s["state"] == "down" && s["diag"] == "control_detection_time_expired"
    });
    assert!(
        down.is_some(),
        "to_b down on the cut: {:?}",
        sessions(&lab, "a")
    );
    assert!(
        wait_session(&lab, "a", "to_c", Duration::from_millis(100), is_up).is_some(),
        "to_c unaffected"
    );
    lab.lan.restore(NODE_B).expect("restore");
    assert!(
        wait_session(&lab, "a", "to_b", UP_LIMIT, is_up).is_some(),
        "to_b back up: {:?}",
        sessions(&lab, "a")
    );
}

/// A keepalived.conf with a `bfd_instance` to `peer` at 10 ms x 3 tracked with weight 0 by
/// `VI_1` (priority `priority`, unicast from `src` to `peer`): the same file works on havip.
fn keepalived_conf(src: Ipv4Addr, peer: Ipv4Addr, priority: u8) -> String {
    let vrrp = InstanceSpec::new(V2_1S, priority, src, &[peer]).to_keepalived("bfd");
    let vrrp = vrrp.replacen(
        "    virtual_ipaddress {",
        "    track_bfd {\n        to_peer\n    }\n    virtual_ipaddress {",
        1,
    );
    format!(
        "{vrrp}\nbfd_instance to_peer {{\n    neighbor_ip {peer}\n    source_ip {src}\n    \
         min_rx 10\n    min_tx 10\n    multiplier 3\n}}\n"
    )
}

#[test]
fn bfd_interop_with_keepalived_and_its_track_bfd_conf_runs_unchanged() {
    if !require_root("bfd_interop_with_keepalived_and_its_track_bfd_conf_runs_unchanged") {
        return;
    }
    let lab = PairLab::new("a", "b").expect("lab");
    let conf_b = lab
        .dir
        .write("b.conf", &keepalived_conf(B, A, 100))
        .expect("b.conf");
    let pid = |kind: &str| lab.dir.path().join(format!("b.{kind}.pid"));
    // Without `-P`: keepalived's BFD runs in its own child process.
    let mut cmd = lab.lan.nodes[NODE_B].ns.command("keepalived");
    cmd.args(["-n", "-l", "-D", "-G", "-f"])
        .arg(&conf_b)
        .arg("-p")
        .arg(pid("main"))
        .arg("-r")
        .arg(pid("vrrp"))
        .arg("-c")
        .arg(pid("check"))
        .arg("-b")
        .arg(pid("bfd"));
    let mut keepalived = Proc::spawn("keepalived-b", cmd).expect("keepalived");
    let a = spawn_havip_file(
        &lab.lan.nodes[NODE_A],
        &lab.dir,
        "a",
        "a.conf",
        &keepalived_conf(A, B, 150),
    )
    .expect("havip reads the keepalived.conf with bfd_instance and track_bfd");
    assert!(
        wait_session(&lab, "a", "to_peer", UP_LIMIT, |s| is_up(s)
            && s["detection_time_us"] == 30_000)
        .is_some(),
        "havip <-> keepalived session up at 10 ms x 3: {:?}\n{}\n{}",
        sessions(&lab, "a"),
        a.log_text(),
        keepalived.log_text()
    );
    // weight 0: FAULT until the session is Up, then the election; a (150) wins.
    assert!(
        lab.settles_on(VIP, lab.mac(NODE_A), Duration::from_secs(15)),
        "a owns the VIP once BFD is up:\n{}\n{}",
        a.log_text(),
        keepalived.log_text()
    );
    assert!(
        a.log_text().contains("FAULT"),
        "a started in FAULT:\n{}",
        a.log_text()
    );
    // keepalived stops: its session goes Down, and weight 0 puts havip's instance in FAULT.
    let _ = keepalived.stop(Duration::from_secs(5));
    let down = wait_session(&lab, "a", "to_peer", Duration::from_secs(3), |s| {
        s["state"] == "down"
    });
    assert!(down.is_some(), "session down: {:?}", sessions(&lab, "a"));
    let fault = wait_for(Duration::from_secs(3), Duration::from_millis(50), || {
        let s = havip_status(&lab.dir, "a").ok()?;
        (s["instances"][0]["state"] == "FAULT").then_some(())
    });
    assert!(
        fault.is_some(),
        "track_bfd weight 0 -> FAULT:\n{}",
        a.log_text()
    );
}

#[test]
fn bfd_backup_takes_over_when_its_session_to_frr_on_the_master_goes_down() {
    if !require_root("bfd_backup_takes_over_when_its_session_to_frr_on_the_master_goes_down") {
        return;
    }
    let lab = PairLab::new("a", "b").expect("lab");
    // The master's BFD is FRR's bfdd (the routers' usual setup); havip on a runs VRRP only, so
    // bfdd has UDP 3784 in a's namespace to itself.
    let _frr_a = spawn_bfdd(&lab, NODE_A, "a", &frr_peer(B, A, false));
    let a_toml = InstanceSpec::new(V2_1S, 150, A, &[B]).to_toml();
    let a = spawn_havip_toml(&lab.lan.nodes[NODE_A], &lab.dir, "a", &a_toml).expect("a");
    let b_toml = format!(
        "{}master_down_on_bfd = true\n{}",
        InstanceSpec::new(V2_1S, 100, B, &[A]).to_toml(),
        bfd_toml("to_a", A, 10, 3, ""),
    );
    let b = spawn_havip_toml(&lab.lan.nodes[NODE_B], &lab.dir, "b", &b_toml).expect("b");
    assert!(
        lab.settles_on(VIP, lab.mac(NODE_A), Duration::from_secs(10)),
        "a (150) owns the VIP:\n{}",
        a.log_text()
    );
    let s = wait_session(&lab, "b", "to_a", UP_LIMIT, |s| {
        is_up(s) && s["detection_time_us"] == 30_000
    });
    assert!(
        s.is_some(),
        "b's session to FRR up at 10 ms x 3: {:?}\n{}",
        sessions(&lab, "b"),
        b.log_text()
    );
    cut_a_and_expect_a_bfd_takeover_by_b(&lab, &b);
    drop(a);
}

#[test]
fn bfd_reload_adds_removes_and_retunes_sessions_in_place() {
    if !require_root("bfd_reload_adds_removes_and_retunes_sessions_in_place") {
        return;
    }
    let lab = PairLab::new("a", "b").expect("lab");
    let (mut a, b) = havip_pair(&lab, 10);
    let _frr_c = spawn_bfdd(&lab, 0, "c", &frr_peer(A, C, true));
    let before = wait_session(&lab, "a", "to_b", UP_LIMIT, is_up).expect("to_b up");
    let changes = |p: &Proc, name: &str| {
        p.log_text()
            .lines()
            .filter(|l| l.contains("BFD session state changed") && l.contains(name))
            .count()
    };
    let (a_changes, b_changes) = (changes(&a, "to_b"), changes(&b, "to_a"));
    let a_moves = transitions(&a.log_text()).len();
    // SIGHUP with to_b retuned (10 -> 20 ms) and a new session to_c (FRR, passive on c).
    let retuned = a_toml(10).replace(
        &bfd_toml("to_b", B, 10, 3, ""),
        &format!(
            "{}{}",
            bfd_toml("to_b", B, 20, 3, ""),
            bfd_toml("to_c", C, 10, 3, "")
        ),
    );
    assert_ne!(retuned, a_toml(10));
    lab.dir.write("a.toml", &retuned).expect("write");
    a.signal(libc::SIGHUP);
    let s = wait_session(&lab, "a", "to_b", UP_LIMIT, |s| {
        is_up(s) && s["tx_interval_us"] == 20_000
    });
    assert!(
        s.is_some(),
        "to_b retuned by a poll sequence: {:?}\n{}",
        sessions(&lab, "a"),
        a.log_text()
    );
    assert_eq!(
        s.map(|s| s["discriminators"][0].clone()),
        Some(before["discriminators"][0].clone()),
        "the same session, not a new one"
    );
    assert!(
        wait_session(&lab, "a", "to_c", UP_LIMIT, is_up).is_some(),
        "to_c added and up: {:?}\n{}",
        sessions(&lab, "a"),
        a.log_text()
    );
    assert_eq!(
        (changes(&a, "to_b"), changes(&b, "to_a")),
        (a_changes, b_changes),
        "to_b never left Up on either side:\n{}",
        a.log_text()
    );
    // SIGHUP back to the first file: to_c is removed, to_b retuned back, the agent runs on.
    lab.dir.write("a.toml", &a_toml(10)).expect("write");
    a.signal(libc::SIGHUP);
    let gone = wait_for(Duration::from_secs(5), Duration::from_millis(50), || {
        let s = sessions(&lab, "a");
        (s.len() == 1 && s[0]["name"] == "to_b").then_some(())
    });
    assert!(gone.is_some(), "to_c removed: {:?}", sessions(&lab, "a"));
    assert!(
        wait_session(&lab, "a", "to_b", UP_LIMIT, |s| {
            is_up(s) && s["tx_interval_us"] == 10_000
        })
        .is_some()
    );
    assert_eq!(changes(&a, "to_b"), a_changes, "{}", a.log_text());
    assert!(a.alive());
    assert_eq!(
        transitions(&a.log_text()).len(),
        a_moves,
        "a did not move through the reloads:\n{}",
        a.log_text()
    );
}
