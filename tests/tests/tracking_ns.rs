//! Tracking between two havip agents in network namespaces (node a 192.0.2.11 at priority 150,
//! node b 192.0.2.12 at 100, `VRRPv3` at 100 ms, unicast, VIP 192.0.2.200): a failing
//! `vrrp_script` lowers a's priority below b's and b takes over; a tracked interface going down
//! puts a in FAULT and b takes over; both come back when the object recovers. Notify scripts are
//! called with keepalived's arguments, in order.

use std::{net::Ipv4Addr, path::Path, time::Duration};

use havip_tests::{
    agents::{InstanceSpec, Vrrp, havip_status, spawn_havip_toml, transitions, wait_havip_state},
    netns::wait_for,
    pair::{NODE_A, NODE_B, PairLab},
    proc::Proc,
    require_root,
};

const A: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 11);
const B: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 12);
const VIP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 200);
const VIP2: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 201);
const V3_100MS: Vrrp = Vrrp::V3 { centis: 10 };
const SETTLE: Duration = Duration::from_secs(3);
/// Generous: fall/rise of the script (2 x 100 ms) plus 10 advert intervals plus slack.
const LIMIT: Duration = Duration::from_secs(3);

/// The shared lab, with this file's ways to start the agents.
struct Lab(PairLab);

impl std::ops::Deref for Lab {
    type Target = PairLab;

    fn deref(&self) -> &PairLab {
        &self.0
    }
}

fn lab() -> Lab {
    Lab(PairLab::new("a", "b").expect("lab"))
}

impl Lab {
    /// Waits until only `node`'s MAC answers for the VIP, for three probes in a row.
    fn only(&self, node: usize) -> bool {
        self.settles_on(VIP, self.mac(node), LIMIT)
    }

    /// Starts the sync-group pair: `VI_1` (VRID 51, .200) and `VI_2` (VRID 52, .201) on a
    /// (150, grouped as `G`, `VI_1` tracking script `chk` on `flag` with `weight`,
    /// `group_extra` lines added to the group) and on b (100, no group).
    fn start_group(&self, flag: &Path, weight: i16, group_extra: &str) -> (Proc, Proc) {
        let second = |src: Ipv4Addr, peer: Ipv4Addr, priority: u8| {
            let mut s = InstanceSpec::new(V3_100MS, priority, src, &[peer]);
            s.name = "VI_2".into();
            s.vrid = 52;
            s.vips = vec![format!("{VIP2}/32")];
            s.to_toml()
        };
        let a_toml = format!(
            "{}track_scripts = [{{ name = \"chk\", weight = {weight} }}]\n{}\n\
             [scripts.chk]\nscript = \"/usr/bin/test -e {}\"\ninterval = \"100ms\"\n\n\
             [[sync_group]]\nname = \"G\"\ninstances = [\"VI_1\", \"VI_2\"]\n{group_extra}\n",
            InstanceSpec::new(V3_100MS, 150, A, &[B]).to_toml(),
            second(A, B, 150),
            flag.display(),
        );
        let a = spawn_havip_toml(&self.lan.nodes[NODE_A], &self.dir, "a", &a_toml).expect("a");
        let b_toml = format!(
            "{}\n{}",
            InstanceSpec::new(V3_100MS, 100, B, &[A]).to_toml(),
            second(B, A, 100)
        );
        let b = spawn_havip_toml(&self.lan.nodes[NODE_B], &self.dir, "b", &b_toml).expect("b");
        (a, b)
    }

    /// Starts a with `a_toml` (its full config), waits for MASTER, then b at 100 as BACKUP.
    fn start(&self, a_toml: &str) -> (Proc, Proc) {
        let a = spawn_havip_toml(&self.lan.nodes[NODE_A], &self.dir, "a", a_toml).expect("a");
        assert!(
            wait_havip_state(&a, "MASTER", 0, SETTLE).is_some(),
            "a never became MASTER:\n{}",
            a.log_text()
        );
        let b_spec = InstanceSpec::new(V3_100MS, 100, B, &[A]);
        let b = spawn_havip_toml(&self.lan.nodes[NODE_B], &self.dir, "b", &b_spec.to_toml())
            .expect("b");
        assert!(
            wait_havip_state(&b, "BACKUP", 0, SETTLE).is_some(),
            "b never became BACKUP:\n{}",
            b.log_text()
        );
        assert!(self.only(NODE_A), "a does not answer alone");
        (a, b)
    }
}

/// A second interface in `ns`, `uplink0`, whose carrier follows its veth peer `uplink1`:
/// setting `uplink1` down is pulling `uplink0`'s cable.
fn uplink(ns: &havip_tests::netns::NetNs) {
    ns.ip(&[
        "link", "add", "uplink0", "type", "veth", "peer", "name", "uplink1",
    ])
    .expect("veth");
    ns.ip(&["link", "set", "uplink0", "up"]).expect("up");
    ns.ip(&["link", "set", "uplink1", "up"]).expect("up");
}

/// Node a's instance (priority 150) followed by `instance_extra` lines, then `tail` (tables).
fn a_config(instance_extra: &str, tail: &str) -> String {
    let spec = InstanceSpec::new(V3_100MS, 150, A, &[B]);
    format!("{}{instance_extra}\n{tail}\n", spec.to_toml())
}

#[test]
fn a_failing_track_script_lowers_priority_and_the_peer_takes_over() {
    if !require_root("a_failing_track_script_lowers_priority_and_the_peer_takes_over") {
        return;
    }
    let lab = lab();
    let flag = lab.dir.path().join("healthy");
    std::fs::write(&flag, "").expect("flag");
    let toml = a_config(
        r#"track_scripts = [{ name = "chk", weight = -60 }]"#,
        &format!(
            "[scripts.chk]\nscript = \"/usr/bin/test -e {}\"\ninterval = \"100ms\"\nfall = 2\nrise = 2\n",
            flag.display()
        ),
    );
    let (a, b) = lab.start(&toml);

    // The check fails: 150 - 60 = 90 < 100, so b (preempt on) takes over.
    std::fs::remove_file(&flag).expect("unflag");
    let t = wait_havip_state(&b, "MASTER", 0, LIMIT)
        .unwrap_or_else(|| panic!("b never took over:\n{}\n{}", a.log_text(), b.log_text()));
    assert!(t.reason.contains("192.0.2.11"), "{}", t.line);
    assert!(lab.only(NODE_B), "b does not answer alone");
    let a_log = a.log_text();
    assert!(
        a_log.contains("track script is down") && a_log.contains("from=150 to=90"),
        "a's log does not show the script going down and the priority change:\n{a_log}"
    );

    // `havip-agent status` tells the same story.
    let status = havip_status(&lab.dir, "a").expect("status of a");
    let inst = &status["instances"][0];
    assert_eq!(inst["state"], "BACKUP", "{status}");
    assert_eq!(inst["priority"], 150, "{status}");
    assert_eq!(inst["effective_priority"], 90, "{status}");
    assert_eq!(inst["owned_in_kernel"], false, "{status}");
    assert_eq!(inst["master"][0], "192.0.2.12", "{status}");
    let chk = inst["tracked"]
        .as_array()
        .and_then(|t| t.iter().find(|o| o["object"] == "script chk"))
        .unwrap_or_else(|| panic!("script chk not tracked: {status}"));
    assert_eq!(chk["up"], false, "{status}");
    assert_eq!(chk["weight"], -60, "{status}");
    let b_status = havip_status(&lab.dir, "b").expect("status of b");
    assert_eq!(
        b_status["instances"][0]["owned_in_kernel"], true,
        "{b_status}"
    );
    assert!(
        b_status["kernel_counters"]["arp_replied"]
            .as_u64()
            .unwrap_or(0)
            > 0,
        "{b_status}"
    );

    // It recovers: a is back at 150 and preempts.
    std::fs::write(&flag, "").expect("flag");
    let back = wait_havip_state(&a, "MASTER", 1, LIMIT)
        .unwrap_or_else(|| panic!("a never came back:\n{}", a.log_text()));
    assert!(back.reason.contains("preempt"), "{}", back.line);
    assert!(lab.only(NODE_A), "a does not answer alone after recovery");
    assert!(
        !transitions(&a.log_text()).iter().any(|t| t.to == "FAULT"),
        "a weighted script never means FAULT"
    );
}

#[test]
fn a_tracked_interface_down_means_fault_and_the_peer_takes_over() {
    if !require_root("a_tracked_interface_down_means_fault_and_the_peer_takes_over") {
        return;
    }
    let lab = lab();
    let a_ns = &lab.lan.nodes[NODE_A].ns;
    uplink(a_ns);
    let (a, b) = lab.start(&a_config(r#"track_interfaces = ["uplink0"]"#, ""));

    a_ns.ip(&["link", "set", "uplink1", "down"])
        .expect("cable out");
    let fault = wait_havip_state(&a, "FAULT", 0, LIMIT)
        .unwrap_or_else(|| panic!("a did not go to FAULT:\n{}", a.log_text()));
    assert_eq!(fault.from, "MASTER", "{}", fault.line);
    // a's priority-0 advert on leaving MASTER lets b take over after its skew time.
    let t = wait_havip_state(&b, "MASTER", 0, LIMIT)
        .unwrap_or_else(|| panic!("b never took over:\n{}", b.log_text()));
    assert!(t.reason.contains("priority"), "{}", t.line);
    assert!(lab.only(NODE_B), "b does not answer alone");

    a_ns.ip(&["link", "set", "uplink1", "up"])
        .expect("cable in");
    let back = wait_havip_state(&a, "MASTER", 1, LIMIT)
        .unwrap_or_else(|| panic!("a never left FAULT for MASTER:\n{}", a.log_text()));
    assert_eq!(back.from, "BACKUP", "{}", back.line);
    let states: Vec<String> = transitions(&a.log_text())
        .iter()
        .map(|t| t.to.clone())
        .collect();
    assert_eq!(
        states,
        ["BACKUP", "MASTER", "FAULT", "BACKUP", "MASTER"],
        "a's path"
    );
    assert!(
        lab.only(NODE_A),
        "a does not answer alone after the fault cleared"
    );
}

/// A script `dir/<name>.sh` that appends its arguments, one call per line, to `dir/<name>.log`;
/// returns both paths.
fn recorder(dir: &Path, name: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let log = dir.join(format!("{name}.log"));
    let script = dir.join(format!("{name}.sh"));
    std::fs::write(
        &script,
        format!("#!/bin/sh\necho \"$*\" >> {}\n", log.display()),
    )
    .expect("script");
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    (script, log)
}

/// The calls a [`recorder`] logged, once there are `n` (or all there are after 5 s).
fn recorded(log: &Path, n: usize) -> Vec<String> {
    let lines = || -> Vec<String> {
        std::fs::read_to_string(log)
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    };
    wait_for(Duration::from_secs(5), Duration::from_millis(50), || {
        let l = lines();
        (l.len() >= n).then_some(l)
    })
    .unwrap_or_else(lines)
}

#[test]
fn notify_scripts_run_in_order_with_keepalived_arguments() {
    if !require_root("notify_scripts_run_in_order_with_keepalived_arguments") {
        return;
    }
    let lab = lab();
    let (script, log) = recorder(lab.dir.path(), "notify");
    let s = script.display();
    let a_ns = &lab.lan.nodes[NODE_A].ns;
    uplink(a_ns);
    let toml = a_config(
        &format!(
            "track_interfaces = [\"uplink0\"]\n\
             notify_master = \"{s} master\"\n\
             notify_backup = \"{s} backup\"\n\
             notify_fault = \"{s} fault\"\n\
             notify_stop = \"{s} stop\"\n\
             notify = \"{s} generic\""
        ),
        "",
    );
    let (mut a, _b) = lab.start(&toml);
    a_ns.ip(&["link", "set", "uplink1", "down"])
        .expect("cable out");
    assert!(
        wait_havip_state(&a, "FAULT", 0, LIMIT).is_some(),
        "{}",
        a.log_text()
    );
    a_ns.ip(&["link", "set", "uplink1", "up"])
        .expect("cable in");
    assert!(
        wait_havip_state(&a, "MASTER", 1, LIMIT).is_some(),
        "{}",
        a.log_text()
    );
    // Every run is counted on a's Prometheus endpoint (default address, a's own loopback).
    let addr: std::net::SocketAddr = "127.0.0.1:9828".parse().expect("addr");
    let counted = wait_for(Duration::from_secs(5), Duration::from_millis(100), || {
        let resp = havip_tests::scrape::http_get(a_ns, addr, "/metrics", None).ok()?;
        let scrape = havip_tests::scrape::Scrape::parse(&resp.body).ok()?;
        let runs = scrape.sum("havip_notify_runs_total", &[("outcome", "success")]);
        (runs >= 10.0).then_some(runs)
    });
    assert!(counted.is_some(), "notify runs not counted in the metrics");
    let status = a.stop(Duration::from_secs(5)).expect("exit");
    assert!(status.success(), "{}", a.log_text());

    // keepalived: the specific script with its own arguments, then `notify` with
    // INSTANCE name STATE priority; notify_stop when the instance stops.
    let expected = [
        "backup",
        "generic INSTANCE VI_1 BACKUP 150",
        "master",
        "generic INSTANCE VI_1 MASTER 150",
        "fault",
        "generic INSTANCE VI_1 FAULT 150",
        "backup",
        "generic INSTANCE VI_1 BACKUP 150",
        "master",
        "generic INSTANCE VI_1 MASTER 150",
        "stop",
        "generic INSTANCE VI_1 STOP 150",
    ];
    let got = recorded(&log, expected.len());
    assert_eq!(got, expected, "notify calls:\n{}", a.log_text());
}

#[test]
fn a_sync_group_fails_over_together() {
    if !require_root("a_sync_group_fails_over_together") {
        return;
    }
    let lab = lab();
    let flag = lab.dir.path().join("healthy");
    std::fs::write(&flag, "").expect("flag");
    // Two instances on a and on b, grouped on a. Only VI_1 tracks the script (weight 0: FAULT
    // when it fails); the group takes VI_2 along.
    let (script, log) = recorder(lab.dir.path(), "group");
    let (a, b) = lab.start_group(&flag, 0, &format!("notify = \"{}\"", script.display()));
    let masters = |p: &Proc, n: usize| {
        wait_for(LIMIT, Duration::from_millis(20), || {
            let count = transitions(&p.log_text())
                .iter()
                .filter(|t| t.to == "MASTER")
                .count();
            (count >= n).then_some(())
        })
        .is_some()
    };
    assert!(masters(&a, 2), "a is not master of both:\n{}", a.log_text());
    let (a_mac, b_mac) = (lab.lan.nodes[NODE_A].mac, lab.lan.nodes[NODE_B].mac);
    let only = |addr: Ipv4Addr, mac: [u8; 6]| lab.settles_on(addr, mac, LIMIT);
    let vip2 = VIP2;
    assert!(
        only(VIP, a_mac) && only(vip2, a_mac),
        "a does not answer for both"
    );

    std::fs::remove_file(&flag).expect("unflag");
    assert!(only(VIP, b_mac), "b did not take VI_1:\n{}", b.log_text());
    assert!(
        only(vip2, b_mac),
        "b did not take VI_2 with its group:\n{}",
        a.log_text()
    );
    let faults = transitions(&a.log_text())
        .iter()
        .filter(|t| t.to == "FAULT")
        .count();
    assert_eq!(faults, 2, "both members went to FAULT:\n{}", a.log_text());

    std::fs::write(&flag, "").expect("flag");
    assert!(
        masters(&a, 4),
        "a did not take both back:\n{}",
        a.log_text()
    );
    assert!(
        only(VIP, a_mac) && only(vip2, a_mac),
        "a does not answer for both again"
    );
    // The group's notify script saw the group's states (keepalived: GROUP name STATE).
    let expected = [
        "GROUP G BACKUP",
        "GROUP G MASTER",
        "GROUP G FAULT",
        "GROUP G BACKUP",
        "GROUP G MASTER",
    ];
    let got = recorded(&log, expected.len());
    assert_eq!(got, expected, "{}", a.log_text());
}

#[test]
fn a_sync_group_follows_a_member_that_lost_mastership() {
    if !require_root("a_sync_group_follows_a_member_that_lost_mastership") {
        return;
    }
    let lab = lab();
    let flag = lab.dir.path().join("healthy");
    std::fs::write(&flag, "").expect("flag");
    // VI_1 and VI_2 on a (150) and b (100). Only VI_1 tracks the script, with weight -60: when
    // it fails, VI_1 drops to 90 and b takes it; the group must hand VI_2 over as well.
    let (a, b) = lab.start_group(&flag, -60, "");
    let (a_mac, b_mac) = (lab.lan.nodes[NODE_A].mac, lab.lan.nodes[NODE_B].mac);
    let only = |addr: Ipv4Addr, mac: [u8; 6]| lab.settles_on(addr, mac, LIMIT);
    let vip2 = VIP2;
    assert!(
        only(VIP, a_mac) && only(vip2, a_mac),
        "a does not answer for both:\n{}",
        a.log_text()
    );

    std::fs::remove_file(&flag).expect("unflag");
    assert!(only(VIP, b_mac), "b did not take VI_1:\n{}", a.log_text());
    assert!(
        only(vip2, b_mac),
        "b did not take VI_2 with the group:\n{}",
        a.log_text()
    );
    // And it stays that way: a's VI_2 (150) hears b's 100 but waits for its group.
    let samples = lab
        .prober
        .watch(vip2, Duration::from_millis(50), Duration::from_millis(1500))
        .expect("watch");
    for s in &samples {
        assert_eq!(s.macs, vec![b_mac], "VI_2 answered by a at {:?}", s.at);
    }
    let a_log = a.log_text();
    assert!(
        a_log.contains("another member of the sync group left MASTER"),
        "{a_log}"
    );
    assert!(
        !transitions(&a_log).iter().any(|t| t.to == "FAULT"),
        "a weighted script is no FAULT:\n{a_log}"
    );

    // Healthy again: VI_1 is back at 150, and both take over together.
    std::fs::write(&flag, "").expect("flag");
    assert!(
        only(VIP, a_mac) && only(vip2, a_mac),
        "a did not take both back:\n{}",
        a.log_text()
    );
    let _ = b;
}
