//! The data plane modes of issue #15 in network namespaces: havip beside another XDP program.
//!
//! Node a (192.0.2.11, priority 150) and node b (192.0.2.12, priority 100) each carry a foreign
//! plain XDP program on `eth0` (havip's pass-through program, attached by a separate
//! `havip-agent pass-through` process as an operator's program would be), so exclusive XDP is
//! impossible there. havip runs in `tc` mode (tcx on this kernel; the `cls_bpf` fallback in one
//! test) or `auto`: the election, ARP answers from the owner only, failover on a cut link, the
//! kill -9 lease, and the foreign program left as it was.

use std::{net::Ipv4Addr, process::Command, time::Duration};

use aya::programs::{SchedClassifier, tc::TcAttachType};
use havip_tests::{
    agent_bin,
    agents::{InstanceSpec, Vrrp, has_address, havip_status, spawn_havip_args, wait_havip_state},
    netns::{Node, wait_for},
    pair::{NODE_A, NODE_B, PairLab},
    proc::Proc,
    require_root,
};

const VIP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 200);
const A: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 11);
const B: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 12);
const V3_100MS: Vrrp = Vrrp::V3 { centis: 10 };
const SETTLE: Duration = Duration::from_secs(5);
const WINDOW: Duration = Duration::from_millis(50);
/// Generous bound on a failover (10 advert intervals is the target; CPU load on the test
/// machine stretches everything).
const FAILOVER: Duration = Duration::from_secs(3);

fn spec(node: usize, priority: u8) -> InstanceSpec {
    match node {
        NODE_A => InstanceSpec::new(V3_100MS, priority, A, &[B]),
        _ => InstanceSpec::new(V3_100MS, priority, B, &[A]),
    }
}

/// Attaches the pass-through XDP program to `eth0` of `node` (SKB mode) from its own process,
/// which keeps running (it detaches on SIGTERM; a kill leaves it attached).
fn foreign_xdp(node: &Node) -> Proc {
    let mut cmd: Command = node
        .ns
        .command(agent_bin().expect("agent binary").to_str().expect("utf-8"));
    cmd.args(["pass-through", "--iface", "eth0", "--mode", "skb"]);
    let mut p = Proc::spawn(&format!("{}-pass", node.ns.name()), cmd).expect("spawn");
    let up = wait_for(Duration::from_secs(10), Duration::from_millis(20), || {
        (p.log_text().contains("pass-through attached") || !p.alive()).then_some(())
    });
    assert!(up.is_some() && p.alive(), "pass-through: {}", p.log_text());
    p
}

/// The id of the XDP program on `eth0` of `node`, from `ip -d link`.
fn xdp_prog_id(node: &Node) -> Option<u32> {
    let out = node
        .ns
        .ip(&["-d", "link", "show", "eth0"])
        .expect("ip link");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let after = text.split("prog/xdp id ").nth(1)?;
    after.split_whitespace().next()?.parse().ok()
}

/// The names of the programs in `eth0`'s tcx ingress chain of `node`.
fn tcx_chain(node: &Node) -> Vec<String> {
    tcx_ids(node).into_iter().map(|(_, name)| name).collect()
}

/// The `(id, name)` of the programs in `eth0`'s tcx ingress chain of `node`.
fn tcx_ids(node: &Node) -> Vec<(u32, String)> {
    node.ns
        .enter(|| {
            let (_, progs) = SchedClassifier::query_tcx(c"eth0", TcAttachType::Ingress)?;
            Ok(progs
                .iter()
                .map(|p| (p.id(), p.name_as_str().unwrap_or_default().to_owned()))
                .collect())
        })
        .expect("query tcx")
}

/// `tc filter show dev eth0 ingress` in `node`.
fn cls_bpf_filters(node: &Node) -> String {
    let out = node
        .ns
        .exec("tc", &["filter", "show", "dev", "eth0", "ingress"])
        .expect("tc filter show");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// a (150) MASTER, then b (100) BACKUP, both with `args`.
fn start_pair(lab: &PairLab, args: &[&str]) -> (Proc, Proc) {
    let a = spawn_havip_args(
        &lab.lan.nodes[NODE_A],
        &lab.dir,
        "a",
        &spec(NODE_A, 150),
        args,
    )
    .expect("start a");
    assert!(
        wait_havip_state(&a, "MASTER", 0, SETTLE).is_some(),
        "a never became MASTER:\n{}",
        a.log_text()
    );
    let b = spawn_havip_args(
        &lab.lan.nodes[NODE_B],
        &lab.dir,
        "b",
        &spec(NODE_B, 100),
        args,
    )
    .expect("start b");
    assert!(
        wait_havip_state(&b, "BACKUP", 0, SETTLE).is_some(),
        "b never became BACKUP:\n{}",
        b.log_text()
    );
    (a, b)
}

/// Every probe for `total` answered by `mac` alone.
fn assert_only(lab: &PairLab, mac: [u8; 6], total: Duration) {
    let samples = lab.prober.watch(VIP, WINDOW, total).expect("watch");
    assert!(samples.len() >= 5, "too few samples");
    for s in &samples {
        assert_eq!(
            s.macs,
            vec![mac],
            "expected one answer from {mac:02x?} at {:?}",
            s.at
        );
    }
}

#[test]
fn tc_mode_beside_a_foreign_xdp_program_elects_answers_and_fails_over() {
    if !require_root("tc_mode_beside_a_foreign_xdp_program_elects_answers_and_fails_over") {
        return;
    }
    let lab = PairLab::new("a", "b").expect("lab");
    let _pass_a = foreign_xdp(&lab.lan.nodes[NODE_A]);
    let _pass_b = foreign_xdp(&lab.lan.nodes[NODE_B]);
    let foreign_a = xdp_prog_id(&lab.lan.nodes[NODE_A]).expect("foreign program on a");

    let foreign_b = xdp_prog_id(&lab.lan.nodes[NODE_B]).expect("foreign program on b");

    let (a, mut b) = start_pair(&lab, &["--dataplane", "tc"]);
    assert!(
        a.log_text().contains("tc program attached (tcx"),
        "{}",
        a.log_text()
    );
    assert_eq!(
        tcx_chain(&lab.lan.nodes[NODE_A]),
        vec!["havip_tc".to_owned()]
    );
    assert!(
        lab.settles_on(VIP, lab.mac(NODE_A), SETTLE),
        "a never answered alone"
    );
    assert_only(&lab, lab.mac(NODE_A), Duration::from_millis(800));
    assert!(has_address(&lab.lan.nodes[NODE_A].ns, "eth0", VIP).expect("ip"));
    let status = havip_status(&lab.dir, "a").expect("status");
    assert_eq!(status["dataplane"]["eth0"], "tc", "{status}");

    // Failover on a cut link: b answers alone.
    lab.lan.cut(NODE_A).expect("cut a");
    assert!(
        wait_havip_state(&b, "MASTER", 0, FAILOVER).is_some(),
        "b never took over:\n{}",
        b.log_text()
    );
    assert!(
        lab.settles_on(VIP, lab.mac(NODE_B), FAILOVER),
        "b never answered alone"
    );
    assert_only(&lab, lab.mac(NODE_B), Duration::from_millis(500));

    // The foreign programs were never touched.
    assert_eq!(xdp_prog_id(&lab.lan.nodes[NODE_A]), Some(foreign_a));
    assert_eq!(xdp_prog_id(&lab.lan.nodes[NODE_B]), Some(foreign_b));
    // A clean stop removes havip's program and leaves the foreign one.
    b.signal(libc::SIGTERM);
    assert!(b.wait(Duration::from_secs(10)).is_some(), "b did not stop");
    assert!(
        tcx_chain(&lab.lan.nodes[NODE_B]).is_empty(),
        "havip_tc left after a clean stop"
    );
    assert_eq!(xdp_prog_id(&lab.lan.nodes[NODE_B]), Some(foreign_b));
}

#[test]
fn tc_mode_kill_9_keeps_the_program_and_answers_stop_within_the_lease() {
    if !require_root("tc_mode_kill_9_keeps_the_program_and_answers_stop_within_the_lease") {
        return;
    }
    let lab = PairLab::new("a", "b").expect("lab");
    let _pass_a = foreign_xdp(&lab.lan.nodes[NODE_A]);
    let mut a = spawn_havip_args(
        &lab.lan.nodes[NODE_A],
        &lab.dir,
        "a",
        &spec(NODE_A, 150),
        &["--dataplane", "tc"],
    )
    .expect("start a");
    assert!(
        wait_havip_state(&a, "MASTER", 0, SETTLE).is_some(),
        "{}",
        a.log_text()
    );
    let a_mac = lab.mac(NODE_A);
    assert!(lab.settles_on(VIP, a_mac, SETTLE), "a never answered");

    let before = tcx_ids(&lab.lan.nodes[NODE_A]);
    a.signal(libc::SIGKILL);
    assert!(
        a.wait(Duration::from_secs(5)).is_some(),
        "agent did not die"
    );
    let killed_at = lab
        .prober
        .probe(VIP, Duration::from_millis(1))
        .expect("t0")
        .at;
    // The VIP address stays on the dead owner (its kernel would answer without the program),
    // and the program stays attached: BPF_PROG_ATTACH, not a link that died with the process.
    assert!(has_address(&lab.lan.nodes[NODE_A].ns, "eth0", VIP).expect("ip"));
    assert_eq!(
        tcx_chain(&lab.lan.nodes[NODE_A]),
        vec!["havip_tc".to_owned()],
        "kill -9 detached the tc program"
    );
    let silent = wait_for(Duration::from_secs(3), Duration::from_millis(10), || {
        let s = lab.prober.probe(VIP, WINDOW).ok()?;
        s.macs.is_empty().then_some(s.at)
    })
    .expect("answers never stopped after kill -9");
    // Lease: two advert intervals (200 ms); the bound is generous for a loaded machine.
    let after = silent.saturating_sub(killed_at);
    assert!(
        after <= Duration::from_secs(1),
        "answers stopped {after:?} after kill -9"
    );
    for s in lab
        .prober
        .watch(VIP, WINDOW, Duration::from_millis(500))
        .expect("watch")
    {
        assert!(s.macs.is_empty(), "a dead owner answered at {:?}", s.at);
    }

    // A restarted agent in tc mode adopts the program it finds in the tcx chain.
    let a2 = spawn_havip_args(
        &lab.lan.nodes[NODE_A],
        &lab.dir,
        "a2",
        &spec(NODE_A, 150),
        &["--dataplane", "tc"],
    )
    .expect("restart a");
    assert!(
        a2.log_text()
            .contains("adopted the running XDP program and its maps"),
        "{}",
        a2.log_text()
    );
    assert_eq!(
        tcx_ids(&lab.lan.nodes[NODE_A]),
        before,
        "the same program, adopted, not a new one"
    );
    assert!(
        lab.settles_on(VIP, a_mac, SETTLE),
        "the restarted agent never answered"
    );
}

#[test]
fn auto_mode_picks_tc_beside_a_foreign_program_and_xdp_on_a_free_interface() {
    if !require_root("auto_mode_picks_tc_beside_a_foreign_program_and_xdp_on_a_free_interface") {
        return;
    }
    let lab = PairLab::new("a", "b").expect("lab");
    let _pass_a = foreign_xdp(&lab.lan.nodes[NODE_A]);
    let foreign_a = xdp_prog_id(&lab.lan.nodes[NODE_A]).expect("foreign program on a");
    let (a, b) = start_pair(&lab, &["--dataplane", "auto"]);
    let a_log = a.log_text();
    assert!(
        a_log.contains("auto data plane") && a_log.contains("mode=tc"),
        "{a_log}"
    );
    assert_eq!(
        tcx_chain(&lab.lan.nodes[NODE_A]),
        vec!["havip_tc".to_owned()]
    );
    assert_eq!(xdp_prog_id(&lab.lan.nodes[NODE_A]), Some(foreign_a));
    // b's interface is free: exclusive XDP there.
    let b_log = b.log_text();
    assert!(b_log.contains("mode=xdp"), "{b_log}");
    assert_eq!(tcx_chain(&lab.lan.nodes[NODE_B]), Vec::<String>::new());
    assert!(xdp_prog_id(&lab.lan.nodes[NODE_B]).is_some());
    assert_eq!(
        havip_status(&lab.dir, "b").expect("status")["dataplane"]["eth0"],
        "xdp"
    );
    assert!(
        lab.settles_on(VIP, lab.mac(NODE_A), SETTLE),
        "a never answered alone"
    );
    assert_only(&lab, lab.mac(NODE_A), Duration::from_millis(500));
}

#[test]
fn tc_mode_cls_bpf_fallback_answers_and_survives_kill_9() {
    if !require_root("tc_mode_cls_bpf_fallback_answers_and_survives_kill_9") {
        return;
    }
    let lab = PairLab::new("a", "b").expect("lab");
    let _pass_a = foreign_xdp(&lab.lan.nodes[NODE_A]);
    let mut a = spawn_havip_args(
        &lab.lan.nodes[NODE_A],
        &lab.dir,
        "a",
        &spec(NODE_A, 150),
        &["--dataplane", "tc", "--tc-cls-bpf"],
    )
    .expect("start a");
    assert!(
        wait_havip_state(&a, "MASTER", 0, SETTLE).is_some(),
        "{}",
        a.log_text()
    );
    assert!(cls_bpf_filters(&lab.lan.nodes[NODE_A]).contains("havip_tc"));
    assert_eq!(tcx_chain(&lab.lan.nodes[NODE_A]), Vec::<String>::new());
    let a_mac = lab.mac(NODE_A);
    assert!(lab.settles_on(VIP, a_mac, SETTLE), "a never answered");
    a.signal(libc::SIGKILL);
    assert!(
        a.wait(Duration::from_secs(5)).is_some(),
        "agent did not die"
    );
    assert!(
        cls_bpf_filters(&lab.lan.nodes[NODE_A]).contains("havip_tc"),
        "kill -9 removed the cls_bpf filter"
    );
    let silent = wait_for(Duration::from_secs(3), Duration::from_millis(10), || {
        let s = lab.prober.probe(VIP, WINDOW).ok()?;
        s.macs.is_empty().then_some(())
    });
    assert!(silent.is_some(), "answers never stopped after kill -9");
}

#[test]
fn xdp_multiprog_is_refused_with_a_clear_error_and_leaves_the_interface_alone() {
    if !require_root("xdp_multiprog_is_refused_with_a_clear_error_and_leaves_the_interface_alone") {
        return;
    }
    let lab = PairLab::new("a", "b").expect("lab");
    let _pass_a = foreign_xdp(&lab.lan.nodes[NODE_A]);
    let foreign_a = xdp_prog_id(&lab.lan.nodes[NODE_A]).expect("foreign program on a");
    let refused = spawn_havip_args(
        &lab.lan.nodes[NODE_A],
        &lab.dir,
        "a",
        &spec(NODE_A, 150),
        &["--dataplane", "xdp-multiprog"],
    );
    let Err(e) = refused else {
        panic!("xdp-multiprog started");
    };
    let text = format!("{e:#}");
    assert!(
        text.contains("xdp-multiprog") && text.contains("not implemented"),
        "{text}"
    );
    assert_eq!(xdp_prog_id(&lab.lan.nodes[NODE_A]), Some(foreign_a));
    assert_eq!(tcx_chain(&lab.lan.nodes[NODE_A]), Vec::<String>::new());
}
