//! The data plane in network namespaces with the diagnostic `havip-agent dataplane` owner: a
//! client probes the VIP with ARP over a bridge and records which MACs answer.

use std::{net::Ipv4Addr, process::Command, time::Duration};

use havip_tests::{
    agent_bin,
    netns::{Lan, wait_for},
    prober::ArpProber,
    proc::Proc,
    require_root,
};

const VIP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 200);
const WINDOW: Duration = Duration::from_millis(100);

struct Lab {
    lan: Lan,
    prober: ArpProber,
}

/// client (192.0.2.1), node a (192.0.2.11), node b (192.0.2.12) on one bridge.
fn lab() -> Lab {
    let mut lan = Lan::new().expect("bridge");
    lan.add_node("c", 1).expect("client");
    lan.add_node("a", 11).expect("node a");
    lan.add_node("b", 12).expect("node b");
    let prober = ArpProber::open(&lan.nodes[0].ns, "eth0", lan.nodes[0].addr).expect("prober");
    Lab { lan, prober }
}

fn agent(lab: &Lab, node: usize, extra: &[&str]) -> Proc {
    let n = &lab.lan.nodes[node];
    let mut cmd: Command =
        n.ns.command(agent_bin().expect("agent binary").to_str().expect("utf-8"));
    cmd.args(["dataplane", "--iface", &n.ifname, "--print-every", "0s"]);
    cmd.args(extra);
    let mut p = Proc::spawn(&format!("{}-{node}", n.ns.name()), cmd).expect("spawn agent");
    let up = wait_for(Duration::from_secs(10), Duration::from_millis(50), || {
        p.log_text().contains("data plane up").then_some(())
    });
    assert!(up.is_some(), "agent did not come up: {}", p.log_text());
    assert!(p.alive(), "agent exited: {}", p.log_text());
    p
}

#[test]
fn owner_answers_and_a_non_owner_kernel_stays_silent() {
    if !require_root("owner_answers_and_a_non_owner_kernel_stays_silent") {
        return;
    }
    let lab = lab();
    let a_mac = lab.lan.nodes[1].mac;
    // Node b has the VIP configured on its interface, so its kernel would answer ARP for it,
    // but its data plane holds the VIP without ownership and drops the requests.
    lab.lan.nodes[2]
        .ns
        .ip(&["addr", "add", "192.0.2.200/32", "dev", "eth0"])
        .expect("add VIP on b");
    let sample = lab
        .prober
        .probe(VIP, Duration::from_millis(300))
        .expect("probe");
    assert_eq!(
        sample.macs,
        vec![lab.lan.nodes[2].mac],
        "control: b's kernel answers alone"
    );

    let _b = agent(&lab, 2, &["--vip", "192.0.2.200"]);
    let _a = agent(&lab, 1, &["--own", "192.0.2.200"]);
    let samples = lab
        .prober
        .watch(VIP, WINDOW, Duration::from_secs(1))
        .expect("watch");
    assert!(samples.len() >= 5);
    for s in &samples {
        assert_eq!(s.macs, vec![a_mac], "only the owner answers, at {:?}", s.at);
    }
}

#[test]
fn kill_9_of_the_owner_stops_answers_within_the_lease() {
    if !require_root("kill_9_of_the_owner_stops_answers_within_the_lease") {
        return;
    }
    let lab = lab();
    let a_mac = lab.lan.nodes[1].mac;
    // As `run` leaves it after a kill: the VIP address is configured on the dead owner, so its
    // kernel would answer if the program went with the process.
    lab.lan.nodes[1]
        .ns
        .ip(&["addr", "add", "192.0.2.200/32", "dev", "eth0"])
        .expect("add VIP on a");
    let mut a = agent(
        &lab,
        1,
        &[
            "--own",
            "192.0.2.200",
            "--lease",
            "500ms",
            "--renew",
            "100ms",
        ],
    );
    let before = lab.prober.probe(VIP, WINDOW).expect("probe");
    assert_eq!(before.macs, vec![a_mac]);

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
    // The program must outlive the process (it is attached through rtnetlink, not a bpf_link):
    // what stops the answers is the lease running out in the kernel, not a detach.
    let link = lab.lan.nodes[1]
        .ns
        .ip(&["-d", "link", "show", "eth0"])
        .expect("ip link");
    assert!(
        String::from_utf8_lossy(&link.stdout).contains("prog/xdp"),
        "kill -9 detached the XDP program: {}",
        String::from_utf8_lossy(&link.stdout)
    );
    let silent = wait_for(Duration::from_secs(3), Duration::from_millis(10), || {
        let s = lab.prober.probe(VIP, Duration::from_millis(50)).ok()?;
        s.macs.is_empty().then_some(s.at)
    })
    .expect("answers never stopped after kill -9");
    let after = silent.saturating_sub(killed_at);
    assert!(
        after <= Duration::from_millis(500) + WINDOW,
        "answers stopped {after:?} after kill -9, lease is 500 ms"
    );
    // And they stay stopped.
    for s in lab
        .prober
        .watch(VIP, WINDOW, Duration::from_millis(500))
        .expect("watch")
    {
        assert!(s.macs.is_empty(), "a dead owner answered at {:?}", s.at);
    }
}

#[test]
fn sigterm_revokes_and_detaches() {
    if !require_root("sigterm_revokes_and_detaches") {
        return;
    }
    let lab = lab();
    let mut a = agent(&lab, 1, &["--own", "192.0.2.200", "--lease", "30s"]);
    assert_eq!(
        lab.prober.probe(VIP, WINDOW).expect("probe").macs,
        vec![lab.lan.nodes[1].mac]
    );
    let status = a.stop(Duration::from_secs(5)).expect("exit");
    assert!(status.success(), "clean exit: {}", a.log_text());
    // Revoked at once, although the 30 s lease had not run out.
    let after = lab.prober.probe(VIP, WINDOW).expect("probe");
    assert_eq!(after.macs, Vec::<[u8; 6]>::new(), "answers after SIGTERM");
    let link = lab.lan.nodes[1]
        .ns
        .ip(&["-d", "link", "show", "eth0"])
        .expect("link");
    assert!(
        !String::from_utf8_lossy(&link.stdout).contains("prog/xdp"),
        "XDP program left attached"
    );
    assert!(a.log_text().contains("counters:"), "final counters printed");
}

#[test]
fn driver_mode_on_veth_with_a_program_on_the_peer() {
    if !require_root("driver_mode_on_veth_with_a_program_on_the_peer") {
        return;
    }
    let lab = lab();
    let a = &lab.lan.nodes[1];
    let port = a.bridge_port.clone();
    // Driver-mode XDP_TX on a veth is only delivered if the peer veth runs an XDP program too;
    // the peer is the bridge port, in the bridge namespace, so a second agent puts the
    // pass-through program there.
    let mut pass = lab
        .lan
        .bridge
        .command(agent_bin().expect("agent").to_str().expect("utf-8"));
    pass.args(["pass-through", "--iface", &port, "--mode", "driver"]);
    let mut pass = Proc::spawn(&format!("{}-pass", lab.lan.bridge.name()), pass).expect("spawn");
    let up = wait_for(Duration::from_secs(10), Duration::from_millis(50), || {
        pass.log_text().contains("attached").then_some(())
    });
    assert!(
        up.is_some() && pass.alive(),
        "pass-through did not start: {}",
        pass.log_text()
    );

    let a_mac = a.mac;
    let agent = agent(&lab, 1, &["--own", "192.0.2.200", "--mode", "driver"]);
    assert!(
        agent.log_text().contains("mode=driver"),
        "{}",
        agent.log_text()
    );
    let samples = lab
        .prober
        .watch(VIP, WINDOW, Duration::from_millis(600))
        .expect("watch");
    for s in &samples {
        assert_eq!(s.macs, vec![a_mac], "driver-mode reply at {:?}", s.at);
    }
}

/// The id of the XDP program attached to `eth0` of node `node`, from `ip -d link`.
fn xdp_prog_id(lab: &Lab, node: usize) -> Option<u32> {
    let out = lab.lan.nodes[node]
        .ns
        .ip(&["-d", "link", "show", "eth0"])
        .expect("ip link");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let after = text.split("prog/xdp id ").nth(1)?;
    after.split_whitespace().next()?.parse().ok()
}

#[test]
fn a_restarted_agent_replaces_the_program_a_killed_one_left() {
    if !require_root("a_restarted_agent_replaces_the_program_a_killed_one_left") {
        return;
    }
    let lab = lab();
    let a_mac = lab.lan.nodes[1].mac;
    let mut first = agent(&lab, 1, &["--own", "192.0.2.200", "--lease", "300ms"]);
    let old = xdp_prog_id(&lab, 1).expect("first agent attached a program");
    first.signal(libc::SIGKILL);
    assert!(
        first.wait(Duration::from_secs(5)).is_some(),
        "agent did not die"
    );
    assert_eq!(
        xdp_prog_id(&lab, 1),
        Some(old),
        "the program outlives the killed agent"
    );

    let mut second = agent(&lab, 1, &["--own", "192.0.2.200"]);
    let new = xdp_prog_id(&lab, 1).expect("second agent attached a program");
    assert_ne!(new, old, "the second agent's program replaced the first");
    assert!(
        second
            .log_text()
            .contains("replaced the XDP program of a previous agent"),
        "{}",
        second.log_text()
    );
    assert_eq!(
        lab.prober.probe(VIP, WINDOW).expect("probe").macs,
        vec![a_mac]
    );
    let status = second.stop(Duration::from_secs(5)).expect("exit");
    assert!(status.success(), "clean exit: {}", second.log_text());
    assert_eq!(xdp_prog_id(&lab, 1), None, "clean exit detaches");
}
