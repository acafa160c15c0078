//! The IPv6 data plane in network namespaces with the diagnostic `havip-agent dataplane` owner:
//! a client solicits the IPv6 VIP over a bridge (the NDP prober) and records which MACs answer.
//! Both nodes have the VIP configured, so both kernels would answer; only the owner's program
//! may, and only under its lease.

use std::{net::Ipv6Addr, process::Command, time::Duration};

use havip_tests::{
    agent_bin,
    ndp_prober::NdpProber,
    netns::{Lan, wait_for},
    proc::Proc,
    require_root,
};

const VIP6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x200);
const CLIENT6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
const WINDOW: Duration = Duration::from_millis(100);

struct Lab {
    lan: Lan,
    prober: NdpProber,
}

/// client, node a, node b on one bridge; the VIP configured (without DAD) on a and b.
fn lab() -> Lab {
    let mut lan = Lan::new().expect("bridge");
    lan.add_node("c", 1).expect("client");
    lan.add_node("a", 11).expect("node a");
    lan.add_node("b", 12).expect("node b");
    lan.nodes[0]
        .ns
        .ip(&[
            "-6",
            "addr",
            "add",
            "2001:db8::1/64",
            "dev",
            "eth0",
            "nodad",
        ])
        .expect("client address");
    for n in &lan.nodes[1..] {
        n.ns.ip(&[
            "-6",
            "addr",
            "add",
            "2001:db8::200/64",
            "dev",
            "eth0",
            "nodad",
        ])
        .expect("VIP on node");
    }
    let prober =
        NdpProber::open(&lan.nodes[0].ns, "eth0", lan.nodes[0].mac, CLIENT6).expect("prober");
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
fn only_the_ipv6_owner_answers_and_a_kill_9_stops_it_within_the_lease() {
    if !require_root("only_the_ipv6_owner_answers_and_a_kill_9_stops_it_within_the_lease") {
        return;
    }
    let lab = lab();
    let (a_mac, b_mac) = (lab.lan.nodes[1].mac, lab.lan.nodes[2].mac);
    // Control: without havip both kernels answer (what the data plane must prevent).
    let control = wait_for(Duration::from_secs(3), Duration::from_millis(50), || {
        let s = lab.prober.probe(VIP6, Duration::from_millis(300)).ok()?;
        (s.macs.len() == 2).then_some(s)
    })
    .expect("control: both kernels answer the solicitation");
    assert!(control.macs.contains(&a_mac) && control.macs.contains(&b_mac));

    let _b = agent(&lab, 2, &["--vip", "2001:db8::200"]);
    let mut a = agent(
        &lab,
        1,
        &[
            "--own",
            "2001:db8::200",
            "--lease",
            "500ms",
            "--renew",
            "100ms",
        ],
    );
    let samples = lab
        .prober
        .watch(VIP6, WINDOW, Duration::from_secs(1))
        .expect("watch");
    assert!(samples.len() >= 5);
    for s in &samples {
        assert_eq!(s.macs, vec![a_mac], "only the owner answers, at {:?}", s.at);
    }

    a.signal(libc::SIGKILL);
    assert!(
        a.wait(Duration::from_secs(5)).is_some(),
        "agent did not die"
    );
    let killed_at = lab
        .prober
        .probe(VIP6, Duration::from_millis(1))
        .expect("t0")
        .at;
    let silent = wait_for(Duration::from_secs(3), Duration::from_millis(10), || {
        let s = lab.prober.probe(VIP6, Duration::from_millis(50)).ok()?;
        s.macs.is_empty().then_some(s.at)
    })
    .expect("answers never stopped after kill -9");
    let after = silent.saturating_sub(killed_at);
    assert!(
        after <= Duration::from_millis(500) + WINDOW,
        "answers stopped {after:?} after kill -9, lease is 500 ms"
    );
    for s in lab
        .prober
        .watch(VIP6, WINDOW, Duration::from_millis(500))
        .expect("watch")
    {
        assert!(s.macs.is_empty(), "a dead owner answered at {:?}", s.at);
    }
}

#[test]
fn an_unsolicited_advertisement_moves_a_neighbour_s_cache_entry() {
    if !require_root("an_unsolicited_advertisement_moves_a_neighbour_s_cache_entry") {
        return;
    }
    let lab = lab();
    let client = &lab.lan.nodes[0].ns;
    let a = &lab.lan.nodes[1];
    // The client knows the VIP at some other MAC (the previous owner's).
    client
        .ip(&[
            "-6",
            "neigh",
            "replace",
            "2001:db8::200",
            "lladdr",
            "02:00:00:00:00:99",
            "dev",
            "eth0",
            "nud",
            "stale",
        ])
        .expect("stale neighbour entry");
    // The MAC comes from the lab: a thread in the namespace still sees the host's sysfs.
    let (ifname, mac) = (a.ifname.clone(), a.mac);
    let sent =
        a.ns.enter(move || {
            let index = havip_agent::net::iface::if_index(&ifname)?;
            let vips = [std::net::IpAddr::V6(VIP6)];
            let sender = havip_agent::net::garp::GarpSender::new(index, mac, &vips)?;
            Ok(sender.announce(&vips)?)
        })
        .expect("announce");
    assert_eq!(sent, 1);
    let want = havip_agent::net::iface::format_mac(a.mac);
    let moved = wait_for(Duration::from_secs(3), Duration::from_millis(50), || {
        let out = client.ip(&["-6", "neigh", "show", "2001:db8::200"]).ok()?;
        let text = String::from_utf8_lossy(&out.stdout).to_lowercase();
        text.contains(&want).then_some(text)
    });
    assert!(
        moved.is_some(),
        "the override advertisement did not move the entry to {want}: {}",
        client
            .ip(&["-6", "neigh", "show"])
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    );
}
