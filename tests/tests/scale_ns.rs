//! A load-balancer node's configuration end to end: two havip nodes with 255 instances x 16
//! VIPs (4,080 VIPs, VRIDs 1..=255, unicast peers) start, elect, and the master alone answers
//! every VIP; after its link is cut the other node alone answers every VIP. And a reload that
//! needs more than the tables sized at start is refused, the running configuration kept.
//! Generous bounds: the numbers are the bench's business (`havip-bench scale`).

use std::time::Duration;

use havip_tests::{
    agents::{Vrrp, Workdir, spawn_havip_file},
    failover::run::Implementation,
    netns::{Lan, wait_for},
    prober::ArpProber,
    require_root,
    scale::{CLIENT, Lab, Layout},
};

#[test]
fn two_nodes_with_255_instances_of_16_vips_elect_and_fail_over_every_vip() {
    if !require_root("two_nodes_with_255_instances_of_16_vips_elect_and_fail_over_every_vip") {
        return;
    }
    let layout = Layout {
        instances: 255,
        vips_per_instance: 16,
    };
    let vrrp = Vrrp::V2 { secs: 1 };
    // a starts alone as MASTER and must answer all 4,080 VIPs; then b joins as backup.
    let lab = Lab::start(Implementation::Havip, layout, vrrp, Duration::from_secs(20))
        .expect("a starts and answers every VIP");
    std::thread::sleep(vrrp.interval() * 2);
    let steady = lab.owners().expect("sweep");
    assert_eq!(
        (steady.a, steady.b, steady.both),
        (4080, 0, 0),
        "with both nodes up, a alone answers every VIP: {steady:?}"
    );
    lab.lan.cut(1).expect("cut a's link");
    let moved = lab
        .wait_owned_by(2, Duration::from_secs(20))
        .expect("sweep");
    assert!(
        moved.is_some(),
        "b did not answer every VIP alone within 20 s of the cut: {:?}",
        lab.owners()
    );
}

#[test]
fn a_reload_beyond_the_tables_sized_at_start_is_refused_and_the_running_config_stays() {
    if !require_root(
        "a_reload_beyond_the_tables_sized_at_start_is_refused_and_the_running_config_stays",
    ) {
        return;
    }
    let mut lan = Lan::new().expect("lan");
    lan.add_node("c", 1).expect("client");
    lan.add_node("a", 11).expect("a");
    let dir = Workdir::new().expect("dir");
    let conf = |instances| {
        Layout {
            instances,
            vips_per_instance: 16,
        }
        .keepalived_conf(
            "a",
            Vrrp::V2 { secs: 1 },
            150,
            "MASTER",
            "192.0.2.11".parse().expect("ip"),
            "192.0.2.12".parse().expect("ip"),
        )
    };
    // One instance: the tables get their declared sizes (1,024 VIPs).
    let mut a = spawn_havip_file(&lan.nodes[1], &dir, "a", "a.conf", &conf(1)).expect("start");
    let first = Layout {
        instances: 1,
        vips_per_instance: 16,
    }
    .vips();
    let prober = ArpProber::open(&lan.nodes[0].ns, "eth0", CLIENT).expect("prober");
    let answered = |vips: &[std::net::Ipv4Addr]| {
        let seen = prober
            .sweep(vips, 64, Duration::from_millis(5))
            .expect("sweep");
        vips.iter()
            .filter(|v| seen.get(v).is_some_and(|m| m == &[lan.nodes[1].mac]))
            .count()
    };
    assert!(
        wait_for(Duration::from_secs(10), Duration::from_millis(100), || {
            (answered(&first) == first.len()).then_some(())
        })
        .is_some(),
        "a never answered its 16 VIPs:\n{}",
        a.log_text()
    );
    // 255 x 16 = 4,080 VIPs: more than the 1,024 loaded.
    dir.write("a.conf", &conf(255)).expect("rewrite");
    a.signal(libc::SIGHUP);
    let refused = wait_for(Duration::from_secs(10), Duration::from_millis(50), || {
        let log = a.log_text();
        log.contains("reload rejected").then_some(log)
    });
    let log = refused.unwrap_or_else(|| a.log_text());
    assert!(
        log.contains("reload rejected") && log.contains("needs 4080") && log.contains("restart"),
        "{log}"
    );
    assert!(a.alive(), "the agent exited on a refused reload");
    assert_eq!(answered(&first), first.len(), "the running VIPs were lost");
    let added = Layout::vip(2, 0);
    assert_eq!(
        answered(&[added]),
        0,
        "a VIP of the refused file is answered"
    );
}
