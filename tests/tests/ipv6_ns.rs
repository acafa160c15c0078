//! IPv6 instances end to end (RFC 9568 over IPv6) in network namespaces: a client (`2001:db8::1`)
//! solicits the IPv6 VIP `2001:db8::200` with Neighbor Solicitations and records every MAC that
//! answers; node a (`fe80::11`) and node b (`fe80::12`) run havip or keepalived 2.2.7 with `VRRPv3` to
//! `ff02::12` at 100 ms. Each test asserts who answers (never two at once) through an election, a
//! link cut, a `kill -9`, a SIGTERM handover, against keepalived in both roles, and with a
//! dual-stack keepalived.conf (an IPv4 and an IPv6 instance in a sync group) read unchanged.

use std::time::{Duration, Instant};

use havip_tests::{
    agents::{
        Keepalived, keepalived_complaints, spawn_havip_file, spawn_havip_toml, wait_havip_state,
    },
    netns::wait_for,
    pair6::{NODE_A, NODE_B, Pair6Lab, VIP6, keepalived6, link_local, toml6},
    prober::Sample,
    proc::Proc,
    require_root,
};

/// 100 ms adverts.
const CENTIS: u16 = 10;
/// Generous bound for a takeover on a loaded machine (the protocol's is under 0.4 s).
const LIMIT: Duration = Duration::from_secs(5);
const WINDOW: Duration = Duration::from_millis(30);

fn lab() -> Pair6Lab {
    Pair6Lab::new("a", "b").expect("lab")
}

fn havip(lab: &Pair6Lab, node: usize, label: &str, priority: u8) -> Proc {
    let host = if node == NODE_A { 11 } else { 12 };
    spawn_havip_toml(
        &lab.lan.nodes[node],
        &lab.dir,
        label,
        &toml6(priority, CENTIS, link_local(host), &[]),
    )
    .expect("start havip")
}

fn keepalived(lab: &Pair6Lab, node: usize, label: &str, priority: u8) -> Keepalived {
    let conf = format!(
        "global_defs {{\n    router_id hv_{label}\n}}\n{}",
        keepalived6(priority, CENTIS, "BACKUP")
    );
    Keepalived::spawn_conf(&lab.lan.nodes[node], &lab.dir, label, &conf).expect("keepalived")
}

/// Probes until `mac` alone answers three times in a row; panics with `what` otherwise.
fn expect_only(lab: &Pair6Lab, mac: [u8; 6], what: &str) {
    assert!(
        lab.settles_on(mac, LIMIT),
        "{what}: the VIP did not settle on {mac:02x?}"
    );
}

/// Probes for `total` and returns the samples answered by more than one MAC.
fn doubles(samples: &[Sample]) -> Vec<&Sample> {
    samples.iter().filter(|s| s.macs.len() > 1).collect()
}

fn watch(lab: &Pair6Lab, total: Duration) -> Vec<Sample> {
    lab.prober.watch(VIP6, WINDOW, total).expect("watch")
}

/// a (150) MASTER, then b (100) BACKUP, and only a answers.
fn a_master_b_backup(lab: &Pair6Lab) -> (Proc, Proc) {
    let a = havip(lab, NODE_A, "a", 150);
    wait_havip_state(&a, "MASTER", 0, LIMIT)
        .unwrap_or_else(|| panic!("a never became MASTER:\n{}", a.log_text()));
    let b = havip(lab, NODE_B, "b", 100);
    wait_havip_state(&b, "BACKUP", 0, LIMIT)
        .unwrap_or_else(|| panic!("b never became BACKUP:\n{}", b.log_text()));
    expect_only(lab, lab.mac(NODE_A), "a is master");
    for s in watch(lab, Duration::from_millis(500)) {
        assert_eq!(
            s.macs,
            vec![lab.mac(NODE_A)],
            "only a answers, at {:?}",
            s.at
        );
    }
    // b heard a's IPv6 adverts and stayed backup: never MASTER.
    assert!(
        wait_havip_state(&b, "MASTER", 0, Duration::ZERO).is_none(),
        "{}",
        b.log_text()
    );
    (a, b)
}

#[test]
fn ipv6_pair_elects_and_fails_over_on_a_link_cut() {
    if !require_root("ipv6_pair_elects_and_fails_over_on_a_link_cut") {
        return;
    }
    let lab = lab();
    let (a, b) = a_master_b_backup(&lab);
    lab.lan.cut(NODE_A).expect("cut a");
    let t = wait_havip_state(&b, "MASTER", 0, LIMIT)
        .unwrap_or_else(|| panic!("b never took over:\n{}", b.log_text()));
    assert!(t.reason.contains("master down"), "{}", t.line);
    expect_only(&lab, lab.mac(NODE_B), "after the cut");
    let fault = wait_havip_state(&a, "FAULT", 0, LIMIT)
        .unwrap_or_else(|| panic!("a did not go to FAULT:\n{}", a.log_text()));
    assert_eq!(fault.from, "MASTER", "{}", fault.line);
    // Back: a preempts (priority 150), b yields; never two answers at once.
    lab.lan.restore(NODE_A).expect("restore a");
    let samples = watch(&lab, Duration::from_secs(2));
    let d = doubles(&samples);
    assert!(
        d.len() <= 1,
        "answered by both during the preemption: {d:?}"
    );
    wait_havip_state(&b, "BACKUP", 1, LIMIT)
        .unwrap_or_else(|| panic!("b did not yield:\n{}", b.log_text()));
    expect_only(&lab, lab.mac(NODE_A), "after the restore");
}

#[test]
fn ipv6_kill_9_stops_answers_within_the_lease_with_no_dual_answer() {
    if !require_root("ipv6_kill_9_stops_answers_within_the_lease_with_no_dual_answer") {
        return;
    }
    let lab = lab();
    let (mut a, b) = a_master_b_backup(&lab);
    let killed = Instant::now();
    a.signal(libc::SIGKILL);
    assert!(a.wait(Duration::from_secs(5)).is_some(), "a did not die");
    // The lease (2 intervals) runs out before b's Master_Down_Interval (about 3.6
    // intervals): a gap, never two owners.
    let samples = watch(&lab, Duration::from_secs(2));
    let d = doubles(&samples);
    assert!(d.is_empty(), "two owners after kill -9: {d:?}");
    let last_a = samples
        .iter()
        .filter(|s| s.macs.contains(&lab.mac(NODE_A)))
        .map(|s| s.at)
        .max();
    let first = samples.first().map_or(Duration::ZERO, |s| s.at);
    if let Some(last) = last_a {
        // Generous: the 200 ms lease plus the time the kill and the first probe took.
        assert!(
            last.saturating_sub(first) <= Duration::from_millis(200) + killed.elapsed() / 4,
            "a dead owner answered {:?} into the watch",
            last.saturating_sub(first)
        );
    }
    wait_havip_state(&b, "MASTER", 0, LIMIT)
        .unwrap_or_else(|| panic!("b never took over:\n{}", b.log_text()));
    expect_only(&lab, lab.mac(NODE_B), "after kill -9");
}

#[test]
fn ipv6_sigterm_hands_over() {
    if !require_root("ipv6_sigterm_hands_over") {
        return;
    }
    let lab = lab();
    let (mut a, b) = a_master_b_backup(&lab);
    let status = a.stop(Duration::from_secs(5));
    assert!(status.is_some_and(|s| s.success()), "{}", a.log_text());
    let t = wait_havip_state(&b, "MASTER", 0, LIMIT)
        .unwrap_or_else(|| panic!("b never took over:\n{}", b.log_text()));
    assert!(t.reason.contains("priority 0"), "{}", t.line);
    expect_only(&lab, lab.mac(NODE_B), "after SIGTERM");
    let gone = wait_for(Duration::from_secs(2), Duration::from_millis(20), || {
        let out = lab.lan.nodes[NODE_A]
            .ns
            .ip(&["-6", "addr", "show", "dev", "eth0"])
            .ok()?;
        (!String::from_utf8_lossy(&out.stdout).contains("2001:db8::200")).then_some(())
    });
    assert!(gone.is_some(), "a kept the IPv6 VIP after SIGTERM");
    let out = lab.lan.nodes[NODE_B]
        .ns
        .ip(&["-6", "addr", "show", "dev", "eth0"])
        .expect("ip");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(text.contains("2001:db8::200/64"), "b lacks the VIP: {text}");
    assert!(
        !text.contains("tentative"),
        "added without DAD (nodad): {text}"
    );
}

/// keepalived on `ka`, havip on `hv`; whoever has 150 is master first; the master leaves
/// (SIGTERM), the other takes over; a keepalived master comes back and preempts.
fn interop(keepalived_master: bool) {
    let lab = lab();
    let (ka_node, hv_node) = (NODE_A, NODE_B);
    let (ka_prio, hv_prio) = if keepalived_master {
        (150, 100)
    } else {
        (100, 150)
    };
    let (mut k, mut h);
    if keepalived_master {
        k = keepalived(&lab, ka_node, "k", ka_prio);
        assert!(k.wait_entered("MASTER", 1, LIMIT), "{}", k.log_text());
        h = spawn_havip_toml(
            &lab.lan.nodes[hv_node],
            &lab.dir,
            "h",
            &toml6(hv_prio, CENTIS, link_local(12), &[]),
        )
        .expect("havip");
        wait_havip_state(&h, "BACKUP", 0, LIMIT).expect("havip BACKUP");
        expect_only(&lab, lab.mac(ka_node), "keepalived master");
    } else {
        h = spawn_havip_toml(
            &lab.lan.nodes[hv_node],
            &lab.dir,
            "h",
            &toml6(hv_prio, CENTIS, link_local(12), &[]),
        )
        .expect("havip");
        wait_havip_state(&h, "MASTER", 0, LIMIT).expect("havip MASTER");
        k = keepalived(&lab, ka_node, "k", ka_prio);
        expect_only(&lab, lab.mac(hv_node), "havip master");
    }
    // The backup stays backup for a while: each accepts the other's IPv6 adverts.
    std::thread::sleep(Duration::from_secs(1));
    if keepalived_master {
        assert!(
            wait_havip_state(&h, "MASTER", 0, Duration::ZERO).is_none(),
            "{}",
            h.log_text()
        );
        assert!(k.stop(Duration::from_secs(5)), "keepalived stop");
        wait_havip_state(&h, "MASTER", 0, LIMIT)
            .unwrap_or_else(|| panic!("havip never took over:\n{}", h.log_text()));
        expect_only(&lab, lab.mac(hv_node), "havip took over");
        // keepalived back with 150: it preempts havip.
        let k2 = keepalived(&lab, ka_node, "k2", ka_prio);
        assert!(k2.wait_entered("MASTER", 1, LIMIT), "{}", k2.log_text());
        wait_havip_state(&h, "BACKUP", 1, LIMIT)
            .unwrap_or_else(|| panic!("havip did not yield:\n{}", h.log_text()));
        expect_only(&lab, lab.mac(ka_node), "keepalived preempted back");
        let complaints = keepalived_complaints(&k2.log_text());
        assert!(
            complaints.is_empty(),
            "keepalived complained: {complaints:?}"
        );
    } else {
        assert_eq!(k.entered("MASTER"), 0, "{}", k.log_text());
        assert!(h.stop(Duration::from_secs(5)).is_some_and(|s| s.success()));
        assert!(k.wait_entered("MASTER", 1, LIMIT), "{}", k.log_text());
        expect_only(&lab, lab.mac(ka_node), "keepalived took over");
        // havip back with 150: it preempts keepalived.
        h = spawn_havip_toml(
            &lab.lan.nodes[hv_node],
            &lab.dir,
            "h2",
            &toml6(hv_prio, CENTIS, link_local(12), &[]),
        )
        .expect("havip");
        wait_havip_state(&h, "MASTER", 0, LIMIT)
            .unwrap_or_else(|| panic!("havip did not preempt:\n{}", h.log_text()));
        assert!(k.wait_entered("BACKUP", 2, LIMIT), "{}", k.log_text());
        expect_only(&lab, lab.mac(hv_node), "havip preempted back");
    }
    let complaints = keepalived_complaints(&k.log_text());
    assert!(
        complaints.is_empty(),
        "keepalived complained: {complaints:?}"
    );
    let hlog = h.log_text();
    assert!(
        !hlog.contains("advert rejected"),
        "havip rejected adverts:\n{hlog}"
    );
    assert!(!hlog.contains("not decodable"), "{hlog}");
}

#[test]
fn ipv6_keepalived_master_havip_backup_and_back() {
    if !require_root("ipv6_keepalived_master_havip_backup_and_back") {
        return;
    }
    interop(true);
}

#[test]
fn ipv6_havip_master_keepalived_backup_and_back() {
    if !require_root("ipv6_havip_master_keepalived_backup_and_back") {
        return;
    }
    interop(false);
}

/// A dual-stack keepalived.conf: one IPv4 and one IPv6 instance (the same VRID, as keepalived
/// allows) in a sync group.
fn dual_stack_conf(router: &str, priority: u8) -> String {
    format!(
        "global_defs {{\n    router_id {router}\n}}\n\
         vrrp_sync_group G {{\n    group {{\n        V4\n        V6\n    }}\n}}\n\
         vrrp_instance V4 {{\n    state BACKUP\n    interface eth0\n    virtual_router_id 52\n    \
         priority {priority}\n    advert_int 0.1\n    version 3\n    virtual_ipaddress {{\n        \
         192.0.2.200/24\n    }}\n}}\n{}",
        keepalived6(priority, CENTIS, "BACKUP")
    )
}

#[test]
fn a_dual_stack_keepalived_conf_runs_unchanged() {
    if !require_root("a_dual_stack_keepalived_conf_runs_unchanged") {
        return;
    }
    let lab = lab();
    let h = spawn_havip_file(
        &lab.lan.nodes[NODE_A],
        &lab.dir,
        "h",
        "h.conf",
        &dual_stack_conf("hv_h", 150),
    )
    .expect("havip reads the keepalived.conf");
    let masters = wait_for(LIMIT, Duration::from_millis(20), || {
        let log = h.log_text();
        let n = havip_tests::agents::transitions(&log)
            .iter()
            .filter(|t| t.to == "MASTER")
            .count();
        (n >= 2).then_some(n)
    });
    assert!(
        masters.is_some(),
        "both instances MASTER:\n{}",
        h.log_text()
    );
    let k = Keepalived::spawn_conf(
        &lab.lan.nodes[NODE_B],
        &lab.dir,
        "k",
        &dual_stack_conf("hv_k", 100),
    )
    .expect("keepalived");
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(k.entered("MASTER"), 0, "{}", k.log_text());
    expect_only(&lab, lab.mac(NODE_A), "IPv6 VIP on havip");
    assert!(
        havip_tests::agents::has_address(
            &lab.lan.nodes[NODE_A].ns,
            "eth0",
            std::net::Ipv4Addr::new(192, 0, 2, 200)
        )
        .expect("ip"),
        "the IPv4 VIP is on havip's node"
    );
    let complaints = keepalived_complaints(&k.log_text());
    assert!(
        complaints.is_empty(),
        "keepalived complained: {complaints:?}"
    );
    let hlog = h.log_text();
    assert!(
        !hlog.contains("advert rejected"),
        "havip rejected adverts:\n{hlog}"
    );
}
