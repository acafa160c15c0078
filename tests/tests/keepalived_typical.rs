//! The issue's typical keepalived.conf (one node of a cloud VPC pair: nopreempt, PASS auth,
//! unicast, a `vrrp_script`, `track_interface`, notify scripts, garp settings), addresses mapped into
//! 192.0.2.0/24: havip runs it unchanged on node a (192.0.2.11, priority 100) and keepalived
//! 2.2.7 runs the same file on node b (192.0.2.12, priority 80). Cutting a's link puts a in
//! FAULT and keepalived takes over; with nopreempt, a stays BACKUP when its link returns.

use std::{net::Ipv4Addr, path::Path, time::Duration};

use havip_tests::{
    agents::{Keepalived, keepalived_complaints, spawn_havip_file, transitions, wait_havip_state},
    netns::wait_for,
    pair::PairLab,
    require_root,
};

const VIP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 200);
/// `VRRPv2` at 1 s: master down is 3 s plus skew.
const LIMIT: Duration = Duration::from_secs(8);

/// The typical file for one node; `notify` is the notify command prefix of that node.
fn typical(src: &str, peer: &str, priority: u8, check: &str, notify: &str) -> String {
    format!(
        r#"global_defs {{
    router_id lb-{src}
    script_user root
    enable_script_security
}}
vrrp_script checkhaproxy {{
    script "{check}"
    interval 1
    timeout 1
    weight -30
    fall 2
    rise 2
}}
vrrp_instance VI_1 {{
    state BACKUP             # this node starts as backup
    interface eth0
    virtual_router_id 51
    nopreempt                # no preemption
    # preempt_delay 10
    priority {priority}
    advert_int 1
    authentication {{
        auth_type PASS
        auth_pass 1111
    }}
    unicast_src_ip {src}
    unicast_peer {{
        {peer}
    }}
    virtual_ipaddress {{
        {VIP}
    }}
    garp_master_delay 1
    garp_master_refresh 5
    track_interface {{
        eth0
    }}
    track_script {{
        checkhaproxy
    }}
    notify_master "{notify} master"
    notify_backup "{notify} backup"
    notify_fault  "{notify} fault"
}}
"#
    )
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_typical_keepalived_conf_runs_unchanged_against_keepalived() {
    if !require_root("the_typical_keepalived_conf_runs_unchanged_against_keepalived") {
        return;
    }
    let lab = PairLab::new("a", "b").expect("lab");
    let (lan, prober, dir) = (&lab.lan, &lab.prober, &lab.dir);
    let notify_log = dir.path().join("notify.log");
    let a_notify = format!("/bin/sh -c 'echo $0 >> {}'", notify_log.display());
    let a_conf = typical("192.0.2.11", "192.0.2.12", 100, "/usr/bin/true", &a_notify);
    let b_conf = typical(
        "192.0.2.12",
        "192.0.2.11",
        80,
        "/usr/bin/true",
        "/usr/bin/true",
    );
    let (a_mac, b_mac) = (lan.nodes[1].mac, lan.nodes[2].mac);

    let a = spawn_havip_file(&lan.nodes[1], dir, "a", "a-keepalived.conf", &a_conf)
        .expect("havip on a");
    assert!(
        wait_havip_state(&a, "MASTER", 0, LIMIT).is_some(),
        "a never became MASTER alone:\n{}",
        a.log_text()
    );
    let b = Keepalived::spawn_conf(&lan.nodes[2], dir, "b", &b_conf).expect("keepalived on b");
    assert!(b.wait_entered("BACKUP", 1, LIMIT), "{}", b.log_text());
    let only = |mac: [u8; 6]| lab.settles_on(VIP, mac, LIMIT);
    assert!(only(a_mac), "a does not answer alone");

    // a's link is cut: a goes to FAULT (its own interface is tracked), keepalived takes over.
    lan.cut(1).expect("cut a");
    assert!(
        wait_havip_state(&a, "FAULT", 0, LIMIT).is_some(),
        "{}",
        a.log_text()
    );
    assert!(b.wait_entered("MASTER", 1, LIMIT), "{}", b.log_text());
    assert!(only(b_mac), "b does not answer alone after the cut");

    // The link returns: a leaves FAULT as BACKUP and, nopreempt, stays there although its
    // priority (100) is higher than keepalived's (80).
    lan.restore(1).expect("restore a");
    let back = wait_havip_state(&a, "BACKUP", 1, LIMIT)
        .unwrap_or_else(|| panic!("a did not leave FAULT:\n{}", a.log_text()));
    assert_eq!(back.from, "FAULT", "{}", back.line);
    let samples = prober
        .watch(VIP, Duration::from_millis(50), Duration::from_secs(4))
        .expect("watch");
    for s in &samples {
        assert_eq!(
            s.macs,
            vec![b_mac],
            "nopreempt: only b answers, at {:?}",
            s.at
        );
    }
    let states: Vec<String> = transitions(&a.log_text())
        .iter()
        .map(|t| t.to.clone())
        .collect();
    assert_eq!(
        states,
        ["BACKUP", "MASTER", "FAULT", "BACKUP"],
        "{}",
        a.log_text()
    );
    assert_eq!(
        b.entered("MASTER"),
        1,
        "keepalived flapped:\n{}",
        b.log_text()
    );

    // Each side accepted the other's adverts (PASS auth, v2 checksum): no complaints.
    let complaints = keepalived_complaints(&b.log_text());
    assert!(
        complaints.is_empty(),
        "keepalived complained: {complaints:?}"
    );
    assert!(
        !a.log_text().contains("not decodable"),
        "havip complained:\n{}",
        a.log_text()
    );
    // havip ran the notify scripts in order, with keepalived's arguments.
    let got = wait_for(Duration::from_secs(5), Duration::from_millis(50), || {
        let l = lines(&notify_log);
        (l.len() >= 4).then_some(l)
    })
    .unwrap_or_else(|| lines(&notify_log));
    assert_eq!(got, ["backup", "master", "fault", "backup"]);
}
