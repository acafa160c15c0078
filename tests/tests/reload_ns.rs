//! SIGHUP between two havip agents in namespaces (a 192.0.2.11 at 150, b 192.0.2.12 at 100,
//! `VRRPv3` at 100 ms, unicast, VIP 192.0.2.200): an unchanged instance goes through a reload
//! with no transition and no gap at the client; a broken file is rejected and the agent runs on;
//! an added instance starts.

use std::{net::Ipv4Addr, time::Duration};

use havip_tests::{
    agents::{InstanceSpec, Vrrp, spawn_havip_toml, transitions, wait_havip_state},
    netns::wait_for,
    pair::PairLab,
    proc::Proc,
    require_root,
};

const A: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 11);
const B: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 12);
const VIP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 200);
const VIP2: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 201);
const V3_100MS: Vrrp = Vrrp::V3 { centis: 10 };
const SETTLE: Duration = Duration::from_secs(3);

type Lab = PairLab;

fn a_spec() -> InstanceSpec {
    InstanceSpec::new(V3_100MS, 150, A, &[B])
}

/// client, a (MASTER), b (BACKUP), with a's MAC the only answer for the VIP.
fn lab() -> (Lab, Proc, Proc) {
    let lab = PairLab::new("a", "b").expect("lab");
    let a = spawn_havip_toml(&lab.lan.nodes[1], &lab.dir, "a", &a_spec().to_toml()).expect("a");
    assert!(
        wait_havip_state(&a, "MASTER", 0, SETTLE).is_some(),
        "{}",
        a.log_text()
    );
    let b_spec = InstanceSpec::new(V3_100MS, 100, B, &[A]);
    let b = spawn_havip_toml(&lab.lan.nodes[2], &lab.dir, "b", &b_spec.to_toml()).expect("b");
    assert!(
        wait_havip_state(&b, "BACKUP", 0, SETTLE).is_some(),
        "{}",
        b.log_text()
    );
    (lab, a, b)
}

/// Probes for `span` and asserts that every probe was answered by `mac` alone.
fn only_answers(lab: &Lab, addr: Ipv4Addr, mac: [u8; 6], span: Duration) {
    let samples = lab
        .prober
        .watch(addr, Duration::from_millis(50), span)
        .expect("watch");
    assert!(samples.len() >= 5, "too few probes");
    for s in &samples {
        assert_eq!(s.macs, vec![mac], "answer for {addr} at {:?}", s.at);
    }
}

fn wait_log(p: &Proc, needle: &str) -> bool {
    wait_for(SETTLE, Duration::from_millis(20), || {
        p.log_text().contains(needle).then_some(())
    })
    .is_some()
}

#[test]
fn sighup_with_an_unchanged_instance_changes_nothing_on_the_wire() {
    if !require_root("sighup_with_an_unchanged_instance_changes_nothing_on_the_wire") {
        return;
    }
    let (lab, a, b) = lab();
    let a_mac = lab.lan.nodes[1].mac;
    only_answers(&lab, VIP, a_mac, Duration::from_millis(500));
    let before = (
        transitions(&a.log_text()).len(),
        transitions(&b.log_text()).len(),
    );

    a.signal(libc::SIGHUP);
    b.signal(libc::SIGHUP);
    // Probe straight through both reloads.
    only_answers(&lab, VIP, a_mac, Duration::from_millis(1500));
    assert!(wait_log(&a, "configuration reloaded"), "{}", a.log_text());
    assert!(wait_log(&b, "configuration reloaded"), "{}", b.log_text());
    assert!(
        a.log_text().contains("kept=1 started=0"),
        "{}",
        a.log_text()
    );
    let after = (
        transitions(&a.log_text()).len(),
        transitions(&b.log_text()).len(),
    );
    assert_eq!(
        before,
        after,
        "a reload caused transitions:\n{}\n{}",
        a.log_text(),
        b.log_text()
    );
}

#[test]
fn sighup_with_a_broken_file_keeps_the_running_configuration() {
    if !require_root("sighup_with_a_broken_file_keeps_the_running_configuration") {
        return;
    }
    let (lab, mut a, _b) = lab();
    let a_mac = lab.lan.nodes[1].mac;
    lab.dir
        .write("a.toml", "[[instance]]\nname = \"VI_1\"\nvrid = 300\n")
        .expect("break the file");
    a.signal(libc::SIGHUP);
    assert!(wait_log(&a, "reload rejected"), "{}", a.log_text());
    assert!(a.alive(), "the agent exited on a broken reload");
    only_answers(&lab, VIP, a_mac, Duration::from_millis(800));
    assert_eq!(
        transitions(&a.log_text())
            .last()
            .map(|t| t.to.clone())
            .as_deref(),
        Some("MASTER"),
        "{}",
        a.log_text()
    );
}

#[test]
fn sighup_starts_an_added_instance_and_keeps_the_first() {
    if !require_root("sighup_starts_an_added_instance_and_keeps_the_first") {
        return;
    }
    let (lab, a, _b) = lab();
    let a_mac = lab.lan.nodes[1].mac;
    let mut second = a_spec();
    second.name = "VI_2".into();
    second.vrid = 52;
    second.vips = vec![format!("{VIP2}/32")];
    let toml = format!("{}\n{}", a_spec().to_toml(), second.to_toml());
    lab.dir.write("a.toml", &toml).expect("add an instance");
    a.signal(libc::SIGHUP);
    assert!(wait_log(&a, "kept=1 started=1"), "{}", a.log_text());
    // VI_2 runs alone (b does not have it): it becomes MASTER after its master-down interval.
    let log = wait_for(SETTLE, Duration::from_millis(20), || {
        let log = a.log_text();
        log.lines()
            .any(|l| l.contains("instance=\"VI_2\"") && l.contains("to=MASTER"))
            .then_some(log)
    });
    assert!(log.is_some(), "VI_2 never became MASTER:\n{}", a.log_text());
    only_answers(&lab, VIP2, a_mac, Duration::from_millis(500));
    only_answers(&lab, VIP, a_mac, Duration::from_millis(500));
}

#[test]
fn sighup_with_an_empty_file_is_refused_and_the_master_stays() {
    if !require_root("sighup_with_an_empty_file_is_refused_and_the_master_stays") {
        return;
    }
    let (lab, mut a, b) = lab();
    let a_mac = lab.lan.nodes[1].mac;
    lab.dir.write("a.toml", "").expect("empty the file");
    a.signal(libc::SIGHUP);
    assert!(wait_log(&a, "reload rejected"), "{}", a.log_text());
    assert!(
        a.log_text().contains("has no instance"),
        "the refusal does not say why:\n{}",
        a.log_text()
    );
    assert!(a.alive(), "the agent exited on an empty reload");
    only_answers(&lab, VIP, a_mac, Duration::from_millis(800));
    assert_eq!(
        transitions(&a.log_text())
            .last()
            .map(|t| t.to.clone())
            .as_deref(),
        Some("MASTER"),
        "{}",
        a.log_text()
    );
    assert!(
        !transitions(&b.log_text()).iter().any(|t| t.to == "MASTER"),
        "b took over:\n{}",
        b.log_text()
    );
}

#[test]
fn sighup_with_an_include_that_never_ends_does_not_stop_the_election() {
    if !require_root("sighup_with_an_include_that_never_ends_does_not_stop_the_election") {
        return;
    }
    // a runs from a keepalived.conf, so the reload can `include` a FIFO nobody writes to.
    let lab = PairLab::new("a", "b").expect("lab");
    let conf = a_spec().to_keepalived("a");
    let a =
        havip_tests::agents::spawn_havip_file(&lab.lan.nodes[1], &lab.dir, "a", "a.conf", &conf)
            .expect("a");
    assert!(
        wait_havip_state(&a, "MASTER", 0, SETTLE).is_some(),
        "{}",
        a.log_text()
    );
    let b_spec = InstanceSpec::new(V3_100MS, 100, B, &[A]);
    let b = spawn_havip_toml(&lab.lan.nodes[2], &lab.dir, "b", &b_spec.to_toml()).expect("b");
    assert!(
        wait_havip_state(&b, "BACKUP", 0, SETTLE).is_some(),
        "{}",
        b.log_text()
    );
    let a_mac = lab.lan.nodes[1].mac;
    let fifo = lab.dir.path().join("never.fifo");
    let made =
        havip_tests::netns::run("mkfifo", &[fifo.to_str().expect("UTF-8 path")]).expect("mkfifo");
    assert!(made.status.success(), "mkfifo failed");
    lab.dir
        .write("a.conf", &format!("include {}\n{conf}", fifo.display()))
        .expect("write the blocking file");
    a.signal(libc::SIGHUP);
    // Far longer than b's Master_Down_Interval (about 0.35 s): the election keeps running while
    // the reload waits on the FIFO, so a keeps advertising and b never takes over.
    only_answers(&lab, VIP, a_mac, Duration::from_millis(2500));
    assert!(
        !transitions(&b.log_text()).iter().any(|t| t.to == "MASTER"),
        "b took over while a's reload was blocked:\n{}",
        b.log_text()
    );
    // The reload ends one way or the other: abandoned at its deadline while the read still
    // blocks, or at once when the include is skipped as keepalived skips non-regular files.
    let reloaded = |log: &str| log.matches("configuration reloaded").count();
    let ended = wait_for(Duration::from_secs(10), Duration::from_millis(20), || {
        let log = a.log_text();
        (log.contains("reload rejected") || reloaded(&log) > 0).then_some(())
    });
    assert!(
        ended.is_some(),
        "the blocked reload never ended:\n{}",
        a.log_text()
    );
    let before = reloaded(&a.log_text());
    // A valid reload still works afterwards.
    lab.dir.write("a.conf", &conf).expect("restore the file");
    a.signal(libc::SIGHUP);
    let again = wait_for(Duration::from_secs(5), Duration::from_millis(20), || {
        (reloaded(&a.log_text()) > before).then_some(())
    });
    assert!(again.is_some(), "{}", a.log_text());
    assert!(
        a.log_text().contains("kept=1 started=0"),
        "{}",
        a.log_text()
    );
    only_answers(&lab, VIP, a_mac, Duration::from_millis(500));
    assert!(
        !transitions(&b.log_text()).iter().any(|t| t.to == "MASTER"),
        "{}",
        b.log_text()
    );
}
