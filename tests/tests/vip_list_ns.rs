//! A higher-priority peer whose adverts list a different VIP set than ours must not make us flap.
//!
//! Node a (192.0.2.11, havip, priority 100, VIP 192.0.2.200) and node b (192.0.2.12, priority
//! 150, another VIP list; havip or keepalived 2.2.7), `VRRPv3` at 100 ms over unicast. The
//! advert acceptance rule says b's adverts do not describe our virtual router (RFC 9568 7.1 lets
//! an implementation discard them, keepalived logs them and ignores them): a never hears a valid
//! master, takes over once on its timer, and stays MASTER. The defect: the kernel fenced a on
//! every such advert while the state machine ignored them, so a flapped once per
//! `Master_Down_Interval`. Over 30 advert intervals a may make at most one transition after its
//! start; the rejection is counted (`havip_xdp_adverts_dropped_total{reason="addresses"}`) and
//! logged as a warning naming the addresses.

use std::{
    net::{Ipv4Addr, SocketAddr},
    time::{Duration, Instant},
};

use havip_tests::{
    agents::{InstanceSpec, Keepalived, Vrrp, spawn_havip, spawn_havip_args, transitions},
    netns::wait_for,
    pair::{NODE_A, NODE_B, PairLab},
    proc::Proc,
    require_root,
    scrape::{Scrape, scrape_metrics},
};

const A: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 11);
const B: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 12);
const V3_100MS: Vrrp = Vrrp::V3 { centis: 10 };
/// a's metrics endpoint, on its namespace's loopback.
const METRICS: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 9828);
/// How long the lower-priority node is watched: 30 advert intervals (the issue asks for >= 20).
const OBSERVE: Duration = Duration::from_secs(3);
const START: Duration = Duration::from_secs(5);
/// The kernel counter of the rejection (ABI name `vrrp_drop_addresses`) as a metric series.
const DROPPED: &str = "havip_xdp_adverts_dropped_total";
const DROPPED_REASON: (&str, &str) = ("reason", "addresses");

/// Which implementation runs the higher-priority peer.
#[derive(Clone, Copy, Debug)]
enum Peer {
    Havip,
    Keepalived,
}

/// A running peer, kept alive for the test.
enum Running {
    Havip(Proc),
    Keepalived(Keepalived),
}

impl Running {
    fn log(&self) -> String {
        match self {
            Self::Havip(p) => p.log_text(),
            Self::Keepalived(k) => k.log_text(),
        }
    }
}

/// Transitions a has made after leaving INIT, from its metrics.
fn transitions_after_start(s: &Scrape) -> f64 {
    s.matching("havip_state_transitions_total", &[])
        .filter(|x| !x.labels.iter().any(|(k, v)| k == "from" && v == "INIT"))
        .map(|x| x.value)
        .sum()
}

fn run(peer: Peer, peer_vips: &[&str]) {
    let lab = PairLab::new("a", "b").expect("lab");
    let mut b_spec = InstanceSpec::new(V3_100MS, 150, B, &[A]);
    b_spec.vips = peer_vips.iter().map(|v| (*v).to_owned()).collect();
    let a_spec = InstanceSpec::new(V3_100MS, 100, A, &[B]);
    assert_ne!(a_spec.vips, b_spec.vips, "the case needs different lists");

    // b first, so it is master (sending adverts) before a starts listening.
    let b = match peer {
        Peer::Havip => {
            let p = spawn_havip(&lab.lan.nodes[NODE_B], &lab.dir, "b", &b_spec).expect("havip b");
            let up = wait_for(START, Duration::from_millis(10), || {
                transitions(&p.log_text())
                    .iter()
                    .any(|t| t.to == "MASTER")
                    .then_some(())
            });
            assert!(up.is_some(), "b never became MASTER:\n{}", p.log_text());
            Running::Havip(p)
        }
        Peer::Keepalived => {
            let k = Keepalived::spawn(&lab.lan.nodes[NODE_B], &lab.dir, "b", &b_spec)
                .expect("keepalived b");
            assert!(k.wait_entered("MASTER", 1, START), "{}", k.log_text());
            Running::Keepalived(k)
        }
    };
    let a = spawn_havip_args(
        &lab.lan.nodes[NODE_A],
        &lab.dir,
        "a",
        &a_spec,
        &["--metrics-addr", &METRICS.to_string()],
    )
    .expect("havip a");
    let ns = &lab.lan.nodes[NODE_A].ns;
    let scrape = || scrape_metrics(ns, METRICS).expect("scrape a");

    // Let a pass its first Master_Down_Interval (0.39 s), then watch.
    std::thread::sleep(V3_100MS.master_down(100) * 2);
    let before = scrape();
    let start = Instant::now();
    let mut worst = transitions_after_start(&before);
    while start.elapsed() < OBSERVE {
        std::thread::sleep(V3_100MS.interval());
        worst = worst.max(transitions_after_start(&scrape()));
    }
    let after = scrape();
    let context = || format!("--- a:\n{}\n--- b ({peer:?}):\n{}", a.log_text(), b.log());
    assert!(
        worst <= 1.0,
        "a flapped: {worst} transitions after its start, at most 1 allowed\n{}",
        context()
    );
    let log_transitions: Vec<String> = transitions(&a.log_text())
        .iter()
        .map(|t| format!("{}->{}", t.from, t.to))
        .collect();
    assert!(
        log_transitions.len() <= 2,
        "a's log shows {log_transitions:?}\n{}",
        context()
    );

    // b's adverts in the window were rejected for their addresses, and counted so. The bound is
    // a quarter of the intervals, not all of them: how many adverts a peer gets out in the
    // window depends on its own scheduling (keepalived's, under CI load, sent 14 in 30 once);
    // what must hold is that the rejections are counted as they keep coming.
    let dropped = after.get(DROPPED, &[DROPPED_REASON]) - before.get(DROPPED, &[DROPPED_REASON]);
    let intervals = OBSERVE.as_secs_f64() / V3_100MS.interval().as_secs_f64();
    assert!(
        dropped >= intervals / 4.0,
        "{DROPPED}{{reason=\"addresses\"}} grew by {dropped} over {intervals} intervals\n{}",
        after.text
    );
    let warned = a
        .log_text()
        .lines()
        .any(|l| l.contains("WARN") && l.to_ascii_lowercase().contains("address"));
    assert!(warned, "no warning about the address list:\n{}", context());
}

#[test]
fn higher_priority_havip_peer_with_an_extra_vip_causes_no_flap() {
    if !require_root("higher_priority_havip_peer_with_an_extra_vip_causes_no_flap") {
        return;
    }
    run(Peer::Havip, &["192.0.2.200/24", "192.0.2.201/24"]);
}

#[test]
fn higher_priority_havip_peer_with_another_vip_causes_no_flap() {
    if !require_root("higher_priority_havip_peer_with_another_vip_causes_no_flap") {
        return;
    }
    run(Peer::Havip, &["192.0.2.201/24"]);
}

#[test]
fn higher_priority_keepalived_peer_with_an_extra_vip_causes_no_flap() {
    if !require_root("higher_priority_keepalived_peer_with_an_extra_vip_causes_no_flap") {
        return;
    }
    run(Peer::Keepalived, &["192.0.2.200/24", "192.0.2.201/24"]);
}
