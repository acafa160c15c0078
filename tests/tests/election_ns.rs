//! The election between two havip agents in network namespaces: node a (192.0.2.11, priority
//! 150) and node b (192.0.2.12, priority 100), `VRRPv3` at 100 ms over unicast, VIP 192.0.2.200.
//! A client (192.0.2.1) probes the VIP with ARP and records every MAC that answers; the agents'
//! logs say which state each one went through and why.

use std::{
    net::Ipv4Addr,
    time::{Duration, Instant},
};

use havip_tests::{
    agents::{
        FrameSender, InstanceSpec, Transition, Vrrp, has_address, havip_counter, line_with,
        log_elapsed, log_time, spawn_havip, transitions, wait_havip_state,
    },
    frames,
    netns::wait_for,
    pair::{CLIENT, PairLab},
    prober::Sample,
    proc::Proc,
    require_root,
};

const VIP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 200);
const A: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 11);
const B: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 12);
const V3_100MS: Vrrp = Vrrp::V3 { centis: 10 };
/// Node indices on the LAN.
const NODE_A: usize = 1;
const NODE_B: usize = 2;
/// How long a freshly started agent may take to reach its first steady state.
const SETTLE: Duration = Duration::from_secs(3);
/// A failover must finish within 10 advert intervals plus this much scheduling slack.
const SLACK: Duration = Duration::from_secs(1);
/// Probe window: long enough for a veth round trip, short enough to sample finely.
const WINDOW: Duration = Duration::from_millis(50);

/// The shared lab, with this file's helpers.
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

fn failover_limit() -> Duration {
    V3_100MS.interval() * 10 + SLACK
}

/// The instance of node a (`priority`, unicast to b) or of node b (unicast to a).
fn spec(node: usize, priority: u8) -> InstanceSpec {
    match node {
        NODE_A => InstanceSpec::new(V3_100MS, priority, A, &[B]),
        _ => InstanceSpec::new(V3_100MS, priority, B, &[A]),
    }
}

/// Samples as runs of identical answers: `0.47s..1.03s [b2:..:35] x30; ...`.
fn fmt_samples(samples: &[Sample]) -> String {
    let name = |s: &Sample| {
        let macs: Vec<String> = s
            .macs
            .iter()
            .map(|m| havip_agent::net::iface::format_mac(*m))
            .collect();
        format!("[{}]", macs.join(","))
    };
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < samples.len() {
        let run = samples[i..]
            .iter()
            .take_while(|s| s.macs == samples[i].macs)
            .count();
        let last = &samples[i + run - 1];
        out.push(format!(
            "{:.2}s..{:.2}s {} x{run}",
            samples[i].at.as_secs_f64(),
            last.at.as_secs_f64(),
            name(&samples[i])
        ));
        i += run;
    }
    out.join("; ")
}

impl Lab {
    fn start(&self, node: usize, label: &str, spec: &InstanceSpec) -> Proc {
        spawn_havip(&self.lan.nodes[node], &self.dir, label, spec).expect("start havip")
    }

    /// Starts a (150) and waits for it to be MASTER, then b (100) and waits for BACKUP.
    fn a_master_b_backup(&self) -> (Proc, Proc) {
        let a = self.start(NODE_A, "a", &spec(NODE_A, 150));
        let t = wait_havip_state(&a, "MASTER", 0, SETTLE);
        assert!(t.is_some(), "a never became MASTER:\n{}", a.log_text());
        let b = self.start(NODE_B, "b", &spec(NODE_B, 100));
        let t = wait_havip_state(&b, "BACKUP", 0, SETTLE);
        assert!(t.is_some(), "b never became BACKUP:\n{}", b.log_text());
        self.expect_only(NODE_A, SETTLE);
        (a, b)
    }

    /// Waits up to `limit` until a probe is answered by `node` alone; returns when.
    fn expect_only(&self, node: usize, limit: Duration) -> Duration {
        let mac = self.mac(node);
        let start = Instant::now();
        let seen = wait_for(limit, Duration::ZERO, || {
            let s = self.prober.probe(VIP, WINDOW).expect("probe");
            (s.macs == [mac]).then_some(())
        });
        assert!(
            seen.is_some(),
            "node {node} never answered alone within {limit:?}; last: {}",
            fmt_samples(&[self.prober.probe(VIP, WINDOW).expect("probe")])
        );
        start.elapsed()
    }

    /// Probes for `total`; every probe must be answered by `node` and by nobody else.
    fn assert_only(&self, node: usize, total: Duration) {
        let mac = self.mac(node);
        let samples = self.prober.watch(VIP, WINDOW, total).expect("watch");
        assert!(
            samples.len() >= 5,
            "too few samples: {}",
            fmt_samples(&samples)
        );
        assert!(
            samples.iter().all(|s| s.macs == [mac]),
            "expected node {node} alone: {}",
            fmt_samples(&samples)
        );
    }
}

fn masters(log: &str) -> Vec<Transition> {
    transitions(log)
        .into_iter()
        .filter(|t| t.to == "MASTER")
        .collect()
}

#[test]
fn higher_priority_is_the_only_master() {
    if !require_root("higher_priority_is_the_only_master") {
        return;
    }
    let lab = lab();
    let (a, b) = lab.a_master_b_backup();
    // Longer than b's Master_Down_Interval (361 ms) several times over: b hears a and waits.
    lab.assert_only(NODE_A, Duration::from_millis(1200));
    let (a_log, b_log) = (a.log_text(), b.log_text());
    assert!(masters(&b_log).is_empty(), "b became MASTER:\n{b_log}");
    assert_eq!(masters(&a_log).len(), 1, "a flapped:\n{a_log}");
    assert!(
        !transitions(&a_log).iter().any(|t| t.from == "MASTER"),
        "a left MASTER:\n{a_log}"
    );
    assert!(has_address(&lab.lan.nodes[NODE_A].ns, "eth0", VIP).expect("ip"));
    assert!(!has_address(&lab.lan.nodes[NODE_B].ns, "eth0", VIP).expect("ip"));
    assert!(
        !a_log.contains("not decodable") && !b_log.contains("not decodable"),
        "undecodable adverts:\n{a_log}\n{b_log}"
    );
}

#[test]
fn cut_link_fails_over_and_restore_preempts_back() {
    if !require_root("cut_link_fails_over_and_restore_preempts_back") {
        return;
    }
    let lab = lab();
    let (a, b) = lab.a_master_b_backup();

    let cut = Instant::now();
    lab.lan.cut(NODE_A).expect("cut a");
    let t = wait_havip_state(&b, "MASTER", 0, failover_limit() * 2);
    let took = cut.elapsed();
    let t = t.unwrap_or_else(|| panic!("b never took over:\n{}", b.log_text()));
    assert!(
        took <= failover_limit(),
        "b took over {took:?} after the cut: {}",
        t.line
    );
    assert!(t.reason.contains("master down"), "{}", t.line);
    lab.expect_only(NODE_B, failover_limit());
    lab.assert_only(NODE_B, Duration::from_millis(500));

    // a saw its own link go down (tracked by default, as keepalived does): FAULT, ownership
    // released, so it cannot answer for the VIP the moment its link returns.
    let fault = wait_havip_state(&a, "FAULT", 0, failover_limit()).unwrap_or_else(|| {
        panic!(
            "a did not go to FAULT on its cut link:
{}",
            a.log_text()
        )
    });
    assert_eq!(fault.from, "MASTER", "{}", fault.line);

    // Once back, a leaves FAULT as BACKUP, hears b's lower priority and preempts (preempt is
    // on): b yields to a.
    lab.lan.restore(NODE_A).expect("restore a");
    // Probe through the whole handover: a sends its first advert before taking ownership and
    // reaches b without waiting for ARP, so b's kernel is fenced before a answers. At most one
    // probe may straddle the microseconds between the two (a generous functional bound).
    let (a_mac, b_mac) = (lab.mac(NODE_A), lab.mac(NODE_B));
    let start = Instant::now();
    let mut samples = Vec::new();
    while start.elapsed() < failover_limit() {
        let s = lab
            .prober
            .probe(VIP, Duration::from_millis(20))
            .expect("probe");
        let done = s.macs == [a_mac];
        samples.push(s);
        if done
            && samples.len() > 3
            && samples[samples.len() - 3..]
                .iter()
                .all(|s| s.macs == [a_mac])
        {
            break;
        }
    }
    let doubles = samples.iter().filter(|s| s.macs.len() > 1).count();
    assert!(
        doubles <= 1,
        "{doubles} probes answered by both a and b during the preemption: {}",
        fmt_samples(&samples)
    );
    assert!(
        samples.iter().any(|s| s.macs == [b_mac]),
        "b answered alone at the start of the handover"
    );
    let back = wait_havip_state(&b, "BACKUP", 1, failover_limit())
        .unwrap_or_else(|| panic!("b did not yield to a:\n{}", b.log_text()));
    assert!(back.line.contains("192.0.2.11"), "{}", back.line);
    lab.expect_only(NODE_A, failover_limit());
    lab.assert_only(NODE_A, Duration::from_millis(500));
    let a_log = a.log_text();
    assert_eq!(
        transitions(&a_log).last().map(|t| t.to.clone()).as_deref(),
        Some("MASTER"),
        "a is not MASTER at the end:\n{a_log}"
    );
    assert!(has_address(&lab.lan.nodes[NODE_A].ns, "eth0", VIP).expect("ip"));
    let gone = wait_for(Duration::from_secs(2), Duration::from_millis(20), || {
        (!has_address(&lab.lan.nodes[NODE_B].ns, "eth0", VIP).expect("ip")).then_some(())
    });
    assert!(gone.is_some(), "b kept the VIP address after yielding");
}

/// The client's kernel ARP entry for the VIP (`ip neigh`), as a MAC.
fn client_neighbor(lab: &Lab) -> Option<[u8; 6]> {
    let out = lab.lan.nodes[0]
        .ns
        .ip(&["neigh", "show", "192.0.2.200", "dev", "eth0"])
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mac = text
        .split_whitespace()
        .skip_while(|w| *w != "lladdr")
        .nth(1)?;
    havip_agent::net::iface::parse_mac(mac)
}

/// A real client does not broadcast an ARP request per packet: it keeps the MAC it learned and
/// relies on the new master's gratuitous ARPs. After a cut and restore, a (which outranks b)
/// is the master again, so it must announce the VIP, or the client keeps sending to b, which
/// no longer holds it.
#[test]
fn link_restore_reannounces_the_vip_to_clients() {
    if !require_root("link_restore_reannounces_the_vip_to_clients") {
        return;
    }
    let lab = lab();
    let (a, b) = lab.a_master_b_backup();
    let a_master = wait_havip_state(&a, "MASTER", 0, Duration::ZERO).expect("a is MASTER");
    // Let a's scheduled gratuitous ARPs (the burst at MASTER and the second one after
    // garp_master_delay, 5 s) pass, so only an announcement caused by the restore counts.
    let since = log_time(&a_master.line).expect("timestamp");
    let wait = Duration::from_secs(6).saturating_sub(log_elapsed(since, log_now()));
    std::thread::sleep(wait);

    lab.lan.cut(NODE_A).expect("cut a");
    assert!(
        wait_havip_state(&b, "MASTER", 0, failover_limit()).is_some(),
        "b never took over:\n{}",
        b.log_text()
    );
    lab.expect_only(NODE_B, failover_limit());
    let client = &lab.lan.nodes[0].ns;
    client
        .exec("ping", &["-c", "1", "-W", "1", "192.0.2.200"])
        .expect("the client reaches the VIP on b");
    assert_eq!(
        client_neighbor(&lab),
        Some(lab.mac(NODE_B)),
        "client learned b"
    );

    lab.lan.restore(NODE_A).expect("restore a");
    assert!(
        wait_havip_state(&b, "BACKUP", 1, failover_limit()).is_some(),
        "b did not yield:\n{}",
        b.log_text()
    );
    lab.expect_only(NODE_A, failover_limit());
    let updated = wait_for(Duration::from_secs(3), Duration::from_millis(50), || {
        (client_neighbor(&lab) == Some(lab.mac(NODE_A))).then_some(())
    });
    assert!(
        updated.is_some(),
        "after the restore the client still sends the VIP's traffic to b (neighbor {:?}); a \
         is MASTER but never re-announced the VIP. a's transitions: {:?}",
        client_neighbor(&lab).map(havip_agent::net::iface::format_mac),
        transitions(&a.log_text())
            .iter()
            .map(|t| format!("{}->{} ({})", t.from, t.to, t.reason))
            .collect::<Vec<_>>()
    );
}

/// The wall-clock time of day, comparable with [`log_time`].
fn log_now() -> Duration {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    Duration::new(now.as_secs() % 86_400, now.subsec_nanos())
}

#[test]
fn sigterm_hands_over_after_skew_time() {
    if !require_root("sigterm_hands_over_after_skew_time") {
        return;
    }
    let lab = lab();
    let (mut a, b) = lab.a_master_b_backup();
    let a_ns = &lab.lan.nodes[NODE_A].ns;
    let added = wait_for(Duration::from_secs(2), Duration::from_millis(20), || {
        has_address(a_ns, "eth0", VIP).expect("ip").then_some(())
    });
    assert!(added.is_some(), "the master never added the VIP address");

    let sent = Instant::now();
    a.signal(libc::SIGTERM);
    let t = wait_havip_state(&b, "MASTER", 0, failover_limit())
        .unwrap_or_else(|| panic!("b never took over:\n{}", b.log_text()));
    let polled = sent.elapsed();
    let status = a.wait(Duration::from_secs(5)).expect("a did not exit");
    assert!(
        status.success(),
        "a exited with {status}:\n{}",
        a.log_text()
    );
    let a_log = a.log_text();

    // RFC 9568 6.4.2: priority 0 sets b's Master_Down_Timer to Skew_Time, (256-100)/256 x
    // 100 ms = 61 ms, instead of Master_Down_Interval (361 ms).
    assert!(
        t.reason.contains("priority 0"),
        "not the priority-0 path: {}",
        t.line
    );
    let down = line_with(&a_log, "shutting down").and_then(log_time);
    let up = log_time(&t.line);
    let (Some(down), Some(up)) = (down, up) else {
        panic!("no timestamps in the logs:\n{a_log}\n{}", t.line);
    };
    let handover = log_elapsed(down, up);
    eprintln!("handover after SIGTERM: {handover:?} by the logs, {polled:?} polled");
    assert!(
        handover < Duration::from_millis(300),
        "b took over {handover:?} after a started shutting down (polled: {polled:?})"
    );
    assert!(
        !has_address(a_ns, "eth0", VIP).expect("ip"),
        "a left the VIP address behind"
    );
    let link = a_ns.ip(&["-d", "link", "show", "eth0"]).expect("link");
    assert!(
        !String::from_utf8_lossy(&link.stdout).contains("xdp"),
        "a left its XDP program attached"
    );
    lab.expect_only(NODE_B, failover_limit());
    lab.assert_only(NODE_B, Duration::from_millis(500));
}

#[test]
fn kill_9_never_shows_two_owners() {
    if !require_root("kill_9_never_shows_two_owners") {
        return;
    }
    let lab = lab();
    let (mut a, b) = lab.a_master_b_backup();
    let (a_mac, b_mac) = (lab.mac(NODE_A), lab.mac(NODE_B));
    let added = wait_for(Duration::from_secs(2), Duration::from_millis(20), || {
        has_address(&lab.lan.nodes[NODE_A].ns, "eth0", VIP)
            .expect("ip")
            .then_some(())
    });
    assert!(added.is_some(), "the master never added the VIP address");

    // One probe every ~20 ms, from 300 ms before the kill to well after b's takeover.
    let window = Duration::from_millis(20);
    let start = Instant::now();
    let kill_at = Duration::from_millis(300);
    let total = kill_at + failover_limit() + Duration::from_millis(500);
    let mut killed = None;
    let mut samples = Vec::new();
    while start.elapsed() < total {
        if killed.is_none() && start.elapsed() >= kill_at {
            a.signal(libc::SIGKILL);
            killed = Some(samples.len());
        }
        samples.push(lab.prober.probe(VIP, window).expect("probe"));
    }
    assert!(
        a.wait(Duration::from_secs(5)).is_some(),
        "a survived SIGKILL"
    );
    let killed = killed.expect("kill sent");
    let all = fmt_samples(&samples);
    if samples.iter().any(|s| s.macs.len() > 1) {
        // Say why: the lease only protects while the XDP program stays attached; if it went
        // with the process, a's kernel answers for the address the agent left configured.
        let a_ns = &lab.lan.nodes[NODE_A].ns;
        let link = a_ns.ip(&["-d", "link", "show", "eth0"]).expect("link");
        let xdp = String::from_utf8_lossy(&link.stdout).contains("prog/xdp");
        let addr = has_address(a_ns, "eth0", VIP).expect("ip");
        panic!(
            "two owners answered after kill -9 of a (a={}, b={}): {all}\n\
             on a after the kill: XDP program attached: {xdp}, VIP address configured: {addr}",
            havip_agent::net::iface::format_mac(a_mac),
            havip_agent::net::iface::format_mac(b_mac),
        );
    }
    assert!(
        samples[..killed].iter().all(|s| s.macs == [a_mac]),
        "before the kill only a answers: {all}"
    );
    let first_b = samples
        .iter()
        .position(|s| s.macs == [b_mac])
        .unwrap_or_else(|| panic!("b never answered: {all}\n{}", b.log_text()));
    assert!(
        samples[first_b..].iter().all(|s| s.macs == [b_mac]),
        "after b's first answer, b alone answers: {all}"
    );
    let t = wait_havip_state(&b, "MASTER", 0, Duration::from_secs(1))
        .unwrap_or_else(|| panic!("b never became MASTER:\n{}", b.log_text()));
    assert!(t.reason.contains("master down"), "{}", t.line);
    lab.assert_only(NODE_B, Duration::from_millis(500));
}

#[test]
fn nopreempt_keeps_the_running_master() {
    if !require_root("nopreempt_keeps_the_running_master") {
        return;
    }
    let lab = lab();
    let mut sb = spec(NODE_B, 100);
    sb.preempt = false;
    let b = lab.start(NODE_B, "b", &sb);
    let t = wait_havip_state(&b, "MASTER", 0, SETTLE);
    assert!(t.is_some(), "b never became MASTER:\n{}", b.log_text());
    lab.expect_only(NODE_B, SETTLE);

    let mut sa = spec(NODE_A, 150);
    sa.preempt = false;
    let a = lab.start(NODE_A, "a", &sa);
    let t = wait_havip_state(&a, "BACKUP", 0, SETTLE);
    assert!(t.is_some(), "a never became BACKUP:\n{}", a.log_text());
    // Several of a's Master_Down_Intervals (341 ms): a hears b's lower priority and waits.
    lab.assert_only(NODE_B, Duration::from_millis(1500));
    let (a_log, b_log) = (a.log_text(), b.log_text());
    assert!(masters(&a_log).is_empty(), "a preempted:\n{a_log}");
    assert_eq!(
        transitions(&b_log).last().map(|t| t.to.clone()).as_deref(),
        Some("MASTER"),
        "b left MASTER:\n{b_log}"
    );
    assert_eq!(masters(&b_log).len(), 1, "b flapped:\n{b_log}");
}

#[test]
fn equal_priorities_the_higher_address_wins() {
    if !require_root("equal_priorities_the_higher_address_wins") {
        return;
    }
    let lab = lab();
    // Start both unable to hear each other (links up, so no FAULT), so both become MASTER;
    // joining them is the contest.
    lab.lan.isolate(NODE_A, true).expect("isolate a");
    lab.lan.isolate(NODE_B, true).expect("isolate b");
    let a = lab.start(NODE_A, "a", &spec(NODE_A, 100));
    let b = lab.start(NODE_B, "b", &spec(NODE_B, 100));
    assert!(
        wait_havip_state(&a, "MASTER", 0, SETTLE).is_some(),
        "a (alone) never became MASTER:\n{}",
        a.log_text()
    );
    assert!(
        wait_havip_state(&b, "MASTER", 0, SETTLE).is_some(),
        "b (alone) never became MASTER:\n{}",
        b.log_text()
    );
    lab.lan.isolate(NODE_A, false).expect("join a");
    lab.lan.isolate(NODE_B, false).expect("join b");
    // RFC 9568 6.4.3: equal priority and a greater primary address wins; a (.11) yields to b.
    let t = wait_havip_state(&a, "BACKUP", 1, failover_limit())
        .unwrap_or_else(|| panic!("a never yielded:\n{}", a.log_text()));
    assert!(
        t.line.contains("192.0.2.12") && t.line.contains("priority 100"),
        "{}",
        t.line
    );
    lab.expect_only(NODE_B, failover_limit());
    lab.assert_only(NODE_B, Duration::from_millis(1000));
    let (a_log, b_log) = (a.log_text(), b.log_text());
    assert_eq!(masters(&b_log).len(), 1, "b flapped:\n{b_log}");
    assert!(
        !transitions(&b_log).iter().any(|t| t.from == "MASTER"),
        "b left MASTER:\n{b_log}"
    );
    assert_eq!(masters(&a_log).len(), 1, "a came back:\n{a_log}");
}

/// Ethernet frame from the client to node a carrying `vrrp` in an IPv4 packet.
fn advert_frame(tx: &FrameSender, to: [u8; 6], src: Ipv4Addr, ttl: u8, vrrp: &[u8]) -> Vec<u8> {
    let mut f = frames::ipv4(src, A, 112, ttl, vrrp);
    f[..6].copy_from_slice(&to);
    f[6..12].copy_from_slice(&tx.mac);
    f
}

#[test]
fn spoofed_adverts_change_nothing() {
    if !require_root("spoofed_adverts_change_nothing") {
        return;
    }
    let lab = lab();
    let (mut a, b) = lab.a_master_b_backup();
    let a_mac = lab.mac(NODE_A);
    let tx = FrameSender::open(&lab.lan.nodes[0].ns, "eth0").expect("frame sender");
    // Each claims priority 254 for VRID 51, which would beat a's 150 if it were accepted.
    let advert = |src| frames::vrrp(3, 51, 254, 10, &[VIP], None, src, A);
    let ttl_254 = advert_frame(&tx, a_mac, B, 254, &advert(B));
    let stranger = advert_frame(&tx, a_mac, CLIENT, 255, &advert(CLIENT));
    let mut corrupt = advert(B);
    corrupt[6] ^= 0x5a;
    let bad_checksum = advert_frame(&tx, a_mac, B, 255, &corrupt);

    let mut sent = 0u64;
    let mut samples = Vec::new();
    let start = Instant::now();
    while start.elapsed() < Duration::from_millis(1500) {
        for f in [&ttl_254, &stranger, &bad_checksum] {
            tx.send(f).expect("send spoof");
        }
        sent += 1;
        samples.push(
            lab.prober
                .probe(VIP, Duration::from_millis(20))
                .expect("probe"),
        );
    }
    assert!(
        samples.iter().all(|s| s.macs == [a_mac]),
        "a spoofed advert moved the VIP: {}",
        fmt_samples(&samples)
    );
    let (a_log, b_log) = (a.log_text(), b.log_text());
    assert!(
        !transitions(&a_log).iter().any(|t| t.from == "MASTER"),
        "a left MASTER:\n{a_log}"
    );
    assert!(masters(&b_log).is_empty(), "b became MASTER:\n{b_log}");

    // Control: the same advert, valid and from a configured peer, does reach a and wins.
    let valid = advert_frame(&tx, a_mac, B, 255, &advert(B));
    tx.send(&valid).expect("send valid");
    let t = wait_havip_state(&a, "BACKUP", 1, Duration::from_secs(2)).unwrap_or_else(|| {
        panic!(
            "the valid control advert did not reach a:\n{}",
            a.log_text()
        )
    });
    assert!(
        t.line.contains("254") && t.line.contains("192.0.2.12"),
        "{}",
        t.line
    );

    let status = a.stop(Duration::from_secs(5)).expect("a exit");
    assert!(status.success(), "{}", a.log_text());
    let a_log = a.log_text();
    for counter in [
        "vrrp_drop_ttl",
        "vrrp_drop_unknown_peer",
        "vrrp_drop_checksum",
    ] {
        let n = havip_counter(&a_log, counter);
        assert!(
            n >= sent,
            "{counter} = {n}, {sent} such adverts were sent:\n{a_log}"
        );
    }
}
