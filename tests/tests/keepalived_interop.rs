//! havip against keepalived 2.2.7 as the other node of the pair, over unicast: keepalived on node
//! a (192.0.2.11), havip on node b (192.0.2.12), a client (192.0.2.1) probing VIP 192.0.2.200
//! with ARP. Priorities decide who is master; the master then leaves (SIGTERM) or loses its link
//! (cut), and the other must take over. Both sides must accept each other's adverts: the backup
//! stays BACKUP while the master runs, keepalived logs no complaint about havip's packets, and
//! havip's kernel counters show adverts accepted and none dropped.

use std::{
    net::Ipv4Addr,
    time::{Duration, Instant},
};

use havip_tests::{
    agents::{
        InstanceSpec, Keepalived, Vrrp, has_address, havip_counter, havip_counters,
        keepalived_complaints, spawn_havip, transitions, wait_havip_state,
    },
    netns::wait_for,
    pair::PairLab,
    prober::Sample,
    proc::Proc,
    require_root,
};

const VIP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 200);
const A: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 11);
const B: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 12);
/// keepalived's node and havip's node on the LAN.
const KA: usize = 1;
const HV: usize = 2;
const V2_1S: Vrrp = Vrrp::V2 { secs: 1 };
const V3_100MS: Vrrp = Vrrp::V3 { centis: 10 };
/// Scheduling slack on top of protocol times.
const SLACK: Duration = Duration::from_secs(2);
const WINDOW: Duration = Duration::from_millis(50);

/// How the master goes away.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Failover {
    /// SIGTERM: a priority-0 advert, the backup takes over after `Skew_Time`.
    Sigterm,
    /// Its link is cut: the backup takes over after `Master_Down_Interval`; on restore the
    /// master (higher priority, preempt) takes the VIP back.
    Cut,
}

/// One interop scenario.
struct Case {
    vrrp: Vrrp,
    /// Whether havip has the higher priority (150 against 100) and so is master first.
    havip_master: bool,
    auth: Option<&'static str>,
    failover: Failover,
}

/// The shared lab, with this file's helpers.
struct Lab(PairLab);

impl std::ops::Deref for Lab {
    type Target = PairLab;

    fn deref(&self) -> &PairLab {
        &self.0
    }
}

fn lab() -> Lab {
    Lab(PairLab::new("k", "h").expect("lab"))
}

fn fmt_samples(samples: &[Sample]) -> String {
    samples
        .iter()
        .map(|s| {
            let macs: Vec<String> = s
                .macs
                .iter()
                .map(|m| havip_agent::net::iface::format_mac(*m))
                .collect();
            format!("{:.2}s:[{}]", s.at.as_secs_f64(), macs.join(","))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

impl Lab {
    /// Waits up to `limit` until a probe is answered by `node` alone.
    fn expect_only(&self, node: usize, limit: Duration, what: &str) {
        let mac = self.mac(node);
        let seen = wait_for(limit, Duration::ZERO, || {
            let s = self.prober.probe(VIP, WINDOW).expect("probe");
            (s.macs == [mac]).then_some(())
        });
        let last = self.prober.probe(VIP, WINDOW).expect("probe");
        assert!(
            seen.is_some(),
            "{what}: node {node} never answered alone within {limit:?}; last: {}",
            fmt_samples(&[last])
        );
    }

    /// Probes for `total`; every probe must be answered by `node` alone.
    fn assert_only(&self, node: usize, total: Duration, what: &str) {
        let mac = self.mac(node);
        let samples = self.prober.watch(VIP, WINDOW, total).expect("watch");
        assert!(
            samples.len() >= 5 && samples.iter().all(|s| s.macs == [mac]),
            "{what}: expected node {node} alone: {}",
            fmt_samples(&samples)
        );
    }
}

/// The two speakers of a case, with what each one's log says.
struct Pair {
    keepalived: Keepalived,
    havip: Proc,
}

impl Pair {
    fn logs(&self) -> String {
        format!(
            "--- keepalived:\n{}\n--- havip:\n{}",
            self.keepalived.log_text(),
            self.havip.log_text()
        )
    }

    fn havip_masters(&self) -> usize {
        transitions(&self.havip.log_text())
            .iter()
            .filter(|t| t.to == "MASTER")
            .count()
    }
}

/// Takeover bound by the backup's timer: 10 intervals covers `Master_Down_Interval` (3 intervals
/// and skew) with margin, plus scheduling slack.
fn takeover_limit(vrrp: Vrrp) -> Duration {
    vrrp.interval() * 10 + SLACK
}

fn run(case: &Case) {
    let lab = lab();
    let (hv_prio, ka_prio) = if case.havip_master {
        (150, 100)
    } else {
        (100, 150)
    };
    let mut ka_spec = InstanceSpec::new(case.vrrp, ka_prio, A, &[B]);
    let mut hv_spec = InstanceSpec::new(case.vrrp, hv_prio, B, &[A]);
    ka_spec.auth_pass = case.auth.map(str::to_owned);
    hv_spec.auth_pass = case.auth.map(str::to_owned);
    let (ka_node, hv_node) = (&lab.lan.nodes[KA], &lab.lan.nodes[HV]);
    let first = takeover_limit(case.vrrp);

    // The master-to-be starts first and takes the VIP alone; then the backup joins.
    let mut pair = if case.havip_master {
        let havip = spawn_havip(hv_node, &lab.dir, "h", &hv_spec).expect("havip");
        assert!(
            wait_havip_state(&havip, "MASTER", 0, first).is_some(),
            "havip never became MASTER:\n{}",
            havip.log_text()
        );
        let keepalived = Keepalived::spawn(ka_node, &lab.dir, "k", &ka_spec).expect("keepalived");
        Pair { keepalived, havip }
    } else {
        let keepalived = Keepalived::spawn(ka_node, &lab.dir, "k", &ka_spec).expect("keepalived");
        assert!(
            keepalived.wait_entered("MASTER", 1, first),
            "keepalived never became MASTER:\n{}",
            keepalived.log_text()
        );
        let havip = spawn_havip(hv_node, &lab.dir, "h", &hv_spec).expect("havip");
        Pair { keepalived, havip }
    };
    let (master, backup) = if case.havip_master {
        (HV, KA)
    } else {
        (KA, HV)
    };
    lab.expect_only(master, first, "first master");
    // The backup hears the master for longer than its Master_Down_Interval and stays BACKUP:
    // that is the proof that it accepts the other implementation's adverts.
    let listen = case.vrrp.master_down(100) + case.vrrp.interval() * 2;
    lab.assert_only(master, listen, "steady state");
    if case.havip_master {
        assert_eq!(pair.keepalived.entered("MASTER"), 0, "{}", pair.logs());
        assert_eq!(pair.keepalived.entered("BACKUP"), 1, "{}", pair.logs());
    } else {
        assert_eq!(pair.havip_masters(), 0, "{}", pair.logs());
    }

    match case.failover {
        Failover::Sigterm => sigterm_master(&lab, &mut pair, case, master, backup),
        Failover::Cut => cut_master(&lab, &pair, case, master, backup),
    }
    // havip must have heard keepalived's adverts when keepalived was master while havip ran;
    // when havip is master first, keepalived staying BACKUP is the proof in that direction.
    finish(pair, !case.havip_master);
}

/// The master leaves with SIGTERM: its priority-0 advert makes the backup take over after
/// `Skew_Time`, well before `Master_Down_Interval`.
fn sigterm_master(lab: &Lab, pair: &mut Pair, case: &Case, master: usize, backup: usize) {
    // The priority-0 path takes Skew_Time (61 ms at v3 100 ms, 609 ms at v2 1 s); the backup's
    // own timer would take Master_Down_Interval. Anything below the latter is that path.
    let timer_path = case.vrrp.master_down(100);
    let sent = Instant::now();
    if case.havip_master {
        pair.havip.signal(libc::SIGTERM);
        assert!(
            pair.keepalived
                .wait_entered("MASTER", 1, takeover_limit(case.vrrp)),
            "keepalived never took over:\n{}",
            pair.logs()
        );
        let took = sent.elapsed();
        assert!(
            pair.keepalived
                .log_text()
                .contains("Backup received priority 0 advertisement"),
            "keepalived did not see havip's priority 0:\n{}",
            pair.logs()
        );
        assert!(
            took < timer_path,
            "keepalived took over {took:?} after SIGTERM"
        );
        let status = pair.havip.wait(Duration::from_secs(5)).expect("havip exit");
        assert!(status.success(), "{}", pair.logs());
        assert!(
            !has_address(&lab.lan.nodes[master].ns, "eth0", VIP).expect("ip"),
            "havip left the VIP address behind"
        );
    } else {
        assert!(
            pair.keepalived.stop(Duration::from_secs(5)),
            "{}",
            pair.logs()
        );
        let t = wait_havip_state(&pair.havip, "MASTER", 0, takeover_limit(case.vrrp))
            .unwrap_or_else(|| panic!("havip never took over:\n{}", pair.logs()));
        let took = sent.elapsed();
        assert!(
            t.reason.contains("sent priority 0"),
            "havip did not see keepalived's priority 0: {}",
            t.line
        );
        assert!(took < timer_path, "havip took over {took:?} after SIGTERM");
    }
    lab.expect_only(backup, takeover_limit(case.vrrp), "after SIGTERM");
    lab.assert_only(backup, case.vrrp.interval() * 3, "after SIGTERM");
}

/// The master's link is cut: the backup takes over on its timer; on restore the master,
/// which has the higher priority and preempt, takes the VIP back.
fn cut_master(lab: &Lab, pair: &Pair, case: &Case, master: usize, backup: usize) {
    let limit = takeover_limit(case.vrrp);
    lab.lan.cut(master).expect("cut");
    if case.havip_master {
        assert!(
            pair.keepalived.wait_entered("MASTER", 1, limit),
            "keepalived never took over:\n{}",
            pair.logs()
        );
    } else {
        let t = wait_havip_state(&pair.havip, "MASTER", 0, limit)
            .unwrap_or_else(|| panic!("havip never took over:\n{}", pair.logs()));
        assert!(t.reason.contains("master down"), "{}", t.line);
    }
    lab.expect_only(backup, limit, "after the cut");
    lab.assert_only(backup, case.vrrp.interval() * 2, "after the cut");

    lab.lan.restore(master).expect("restore");
    if case.havip_master {
        assert!(
            pair.keepalived.wait_entered("BACKUP", 2, limit),
            "keepalived did not yield to havip:\n{}",
            pair.logs()
        );
    } else {
        let t = wait_havip_state(&pair.havip, "BACKUP", 1, limit + case.vrrp.master_down(150))
            .unwrap_or_else(|| panic!("havip did not yield to keepalived:\n{}", pair.logs()));
        assert!(t.line.contains("192.0.2.11"), "{}", t.line);
    }
    lab.expect_only(master, limit, "after the restore");
    lab.assert_only(master, case.vrrp.interval() * 2, "after the restore");
}

/// Stops both and checks that neither rejected the other's adverts.
fn finish(mut pair: Pair, havip_heard_keepalived: bool) {
    if pair.havip.alive() {
        let status = pair.havip.stop(Duration::from_secs(5));
        assert!(status.is_some_and(|s| s.success()), "{}", pair.logs());
    }
    if pair.keepalived.proc.alive() {
        assert!(
            pair.keepalived.stop(Duration::from_secs(5)),
            "{}",
            pair.logs()
        );
    }
    let (ka_log, hv_log) = (pair.keepalived.log_text(), pair.havip.log_text());
    let complaints = keepalived_complaints(&ka_log);
    assert!(
        complaints.is_empty(),
        "keepalived rejected havip's adverts: {complaints:#?}\n{}",
        pair.logs()
    );
    assert!(!hv_log.contains("not decodable"), "{}", pair.logs());
    let counters = havip_counters(&hv_log);
    assert!(
        !havip_heard_keepalived || havip_counter(&hv_log, "vrrp_accepted") > 0,
        "havip accepted no advert: {counters:?}\n{}",
        pair.logs()
    );
    let drops: Vec<_> = counters
        .iter()
        .filter(|(k, v)| k.starts_with("vrrp_drop") && *v > 0)
        .collect();
    assert!(
        drops.is_empty(),
        "havip dropped keepalived's adverts: {drops:?}\n{}",
        pair.logs()
    );
}

#[test]
fn v2_keepalived_master_havip_takes_over_on_sigterm() {
    if !require_root("v2_keepalived_master_havip_takes_over_on_sigterm") {
        return;
    }
    run(&Case {
        vrrp: V2_1S,
        havip_master: false,
        auth: None,
        failover: Failover::Sigterm,
    });
}

#[test]
fn v2_havip_master_keepalived_takes_over_on_cut() {
    if !require_root("v2_havip_master_keepalived_takes_over_on_cut") {
        return;
    }
    run(&Case {
        vrrp: V2_1S,
        havip_master: true,
        auth: None,
        failover: Failover::Cut,
    });
}

#[test]
fn v2_auth_pass_keepalived_master_havip_takes_over_on_cut() {
    if !require_root("v2_auth_pass_keepalived_master_havip_takes_over_on_cut") {
        return;
    }
    // The cut makes both sides hear the other with the password: havip listens to keepalived,
    // then keepalived (back from FAULT) hears havip as master and preempts it.
    run(&Case {
        vrrp: V2_1S,
        havip_master: false,
        auth: Some("1111"),
        failover: Failover::Cut,
    });
}

#[test]
fn v3_keepalived_master_havip_takes_over_on_cut() {
    if !require_root("v3_keepalived_master_havip_takes_over_on_cut") {
        return;
    }
    run(&Case {
        vrrp: V3_100MS,
        havip_master: false,
        auth: None,
        failover: Failover::Cut,
    });
}

#[test]
fn v3_havip_master_keepalived_takes_over_on_sigterm() {
    if !require_root("v3_havip_master_keepalived_takes_over_on_sigterm") {
        return;
    }
    run(&Case {
        vrrp: V3_100MS,
        havip_master: true,
        auth: None,
        failover: Failover::Sigterm,
    });
}

/// Control for the checks above: with different passwords each side must reject the other's
/// adverts (keepalived says so in its log, havip counts `vrrp_drop_auth`), so both become
/// MASTER. If this passed without complaints, the interop checks would prove nothing.
#[test]
fn v2_password_mismatch_is_rejected_by_both() {
    if !require_root("v2_password_mismatch_is_rejected_by_both") {
        return;
    }
    let lab = lab();
    let mut ka_spec = InstanceSpec::new(V2_1S, 150, A, &[B]);
    let mut hv_spec = InstanceSpec::new(V2_1S, 100, B, &[A]);
    ka_spec.auth_pass = Some("1111".to_owned());
    hv_spec.auth_pass = Some("2222".to_owned());
    let mut keepalived =
        Keepalived::spawn(&lab.lan.nodes[KA], &lab.dir, "k", &ka_spec).expect("keepalived");
    let mut havip = spawn_havip(&lab.lan.nodes[HV], &lab.dir, "h", &hv_spec).expect("havip");
    let limit = takeover_limit(V2_1S);
    assert!(keepalived.wait_entered("MASTER", 1, limit));
    assert!(wait_havip_state(&havip, "MASTER", 0, limit).is_some());
    // Both answer: the split a password mismatch causes, seen by the client.
    let both = wait_for(limit, Duration::ZERO, || {
        let s = lab.prober.probe(VIP, WINDOW).expect("probe");
        (s.macs.len() == 2).then_some(())
    });
    assert!(both.is_some(), "the client never saw both masters");
    let complained = wait_for(limit, Duration::from_millis(50), || {
        (!keepalived_complaints(&keepalived.log_text()).is_empty()).then_some(())
    });
    assert!(complained.is_some(), "{}", keepalived.log_text());
    assert!(
        keepalived.log_text().contains("received an invalid passwd"),
        "{}",
        keepalived.log_text()
    );
    assert!(keepalived.stop(Duration::from_secs(5)));
    assert!(
        havip
            .stop(Duration::from_secs(5))
            .is_some_and(|s| s.success())
    );
    let log = havip.log_text();
    assert!(havip_counter(&log, "vrrp_drop_auth") > 0, "{log}");
    assert_eq!(havip_counter(&log, "vrrp_accepted"), 0, "{log}");
}
