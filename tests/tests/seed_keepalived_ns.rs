//! The seed keepalived.conf (Tencent's HAVIP guide, `tests/fixtures/tencent-havip-keepalived.conf`)
//! on real agents, verbatim except for its addresses, mapped octet for octet into 192.0.2.0/24:
//! own 172.17.16.7 -> node a 192.0.2.7, peer 172.17.16.13 -> node b 192.0.2.13, VIP 172.17.16.3
//! -> 192.0.2.3. Each node's interface is `eth0` inside its namespace, so `interface eth0` and
//! `track_interface { eth0 }` stay as written; node b runs the same file with `unicast_src_ip`
//! and `unicast_peer` swapped. The file's `track_script { checkhaproxy }` names a script that is
//! defined nowhere: keepalived warns and runs, and havip must too.
//!
//! Both nodes have priority 80, `nopreempt`, start as BACKUP: the first started becomes master on
//! its timer, the second stays BACKUP. Cutting the master's link puts it in FAULT (its own eth0 is
//! tracked) and the other takes over; when the link returns the old master comes back as BACKUP
//! and does not take the VIP back. A client (192.0.2.1) probes the VIP with ARP throughout and
//! records every gratuitous ARP: each master's schedule after it took over (`garp_master_delay 1`,
//! `garp_master_refresh 5`) must match keepalived's, recorded in the same test.

use std::{
    net::Ipv4Addr,
    time::{Duration, Instant},
};

use havip_tests::{
    agents::{Keepalived, spawn_havip_file, transitions},
    garp::{ArpCapture, Round, rounds, schedule_mismatch},
    netns::{Node, wait_for},
    pair::{NODE_A, NODE_B, PairLab},
    proc::Proc,
    require_root,
};

/// The file as published.
const SEED: &str = include_str!("../fixtures/tencent-havip-keepalived.conf");
/// The file's addresses and what they become.
const SEED_OWN: &str = "172.17.16.7";
const SEED_PEER: &str = "172.17.16.13";
const SEED_VIP: &str = "172.17.16.3";
const A: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 7);
const B: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 13);
const VIP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 3);
/// `VRRPv2` at 1 s, priority 80: `Master_Down_Interval` is 3.69 s; twice that plus slack.
const LIMIT: Duration = Duration::from_secs(9);
/// How long the schedules are compared for: the two bursts (0 s, 1 s) and the refreshes that
/// fall before 14 s (keepalived refreshes at the first advert at least 5 s after the last one).
const GARP_WINDOW: Duration = Duration::from_secs(14);
/// ARPs closer than this belong to one burst (`garp_interval` is 0; bursts are 1 s apart).
const GARP_GAP: Duration = Duration::from_millis(300);
/// Generous: a refresh rides on an advert, up to one advert interval late, and two cores are
/// shared by everything else.
const GARP_TOLERANCE: Duration = Duration::from_millis(1500);
const WINDOW: Duration = Duration::from_millis(50);

/// The seed file for the node that owns `own` and talks to `peer`.
fn seed_for(own: Ipv4Addr, peer: Ipv4Addr) -> String {
    for needle in [SEED_OWN, SEED_PEER, SEED_VIP] {
        let n = SEED
            .split(|c: char| c.is_whitespace())
            .filter(|w| *w == needle)
            .count();
        assert_eq!(n, 1, "the seed names {needle} {n} times");
    }
    // Whole words only: 172.17.16.13 must not be read as 172.17.16.1 plus a 3.
    let text: String = SEED
        .split_inclusive(|c: char| c.is_whitespace())
        .map(|w| {
            let word = w.trim_end_matches(|c: char| c.is_whitespace());
            let tail = &w[word.len()..];
            match word {
                SEED_OWN => format!("{own}{tail}"),
                SEED_PEER => format!("{peer}{tail}"),
                SEED_VIP => format!("{VIP}{tail}"),
                _ => w.to_owned(),
            }
        })
        .collect();
    assert!(!text.contains("172.17."), "unmapped address:\n{text}");
    text
}

/// Which implementation runs on a node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Impl {
    Havip,
    Keepalived,
}

/// One node's running speaker.
enum Speaker {
    Havip(Proc),
    Keepalived(Keepalived),
}

impl Speaker {
    fn start(kind: Impl, node: &Node, lab: &PairLab, label: &str, conf: &str) -> Self {
        match kind {
            Impl::Havip => Self::Havip(
                spawn_havip_file(
                    node,
                    &lab.dir,
                    label,
                    &format!("{label}-keepalived.conf"),
                    conf,
                )
                .unwrap_or_else(|e| panic!("havip on {label}: {e:#}")),
            ),
            Impl::Keepalived => Self::Keepalived(
                Keepalived::spawn_conf(node, &lab.dir, label, conf)
                    .unwrap_or_else(|e| panic!("keepalived on {label}: {e:#}")),
            ),
        }
    }

    fn kind(&self) -> Impl {
        match self {
            Self::Havip(_) => Impl::Havip,
            Self::Keepalived(_) => Impl::Keepalived,
        }
    }

    fn log(&self) -> String {
        match self {
            Self::Havip(p) => p.log_text(),
            Self::Keepalived(k) => k.log_text(),
        }
    }

    /// How many times it entered `state` (`MASTER`, `BACKUP`, `FAULT`), its start included.
    fn entered(&self, state: &str) -> usize {
        match self {
            Self::Havip(p) => transitions(&p.log_text())
                .iter()
                .filter(|t| t.to == state)
                .count(),
            Self::Keepalived(k) => k.entered(state),
        }
    }

    fn wait_entered(&self, state: &str, count: usize) -> bool {
        wait_for(LIMIT, Duration::from_millis(10), || {
            (self.entered(state) >= count).then_some(())
        })
        .is_some()
    }

    /// The undefined `checkhaproxy` was reported (a warning, since the speaker runs).
    fn warned_about_checkhaproxy(&self) -> bool {
        self.log().lines().any(|l| {
            l.contains("checkhaproxy") && (self.kind() == Impl::Keepalived || l.contains("WARN"))
        })
    }

    fn stop(&mut self) {
        match self {
            Self::Havip(p) => {
                let status = p.stop(Duration::from_secs(5));
                assert!(status.is_some_and(|s| s.success()), "{}", p.log_text());
            }
            Self::Keepalived(k) => assert!(k.stop(Duration::from_secs(5)), "{}", k.log_text()),
        }
    }
}

/// One master episode: who, and the gratuitous ARPs it sent from when it took over.
struct Episode {
    kind: Impl,
    what: &'static str,
    rounds: Vec<Round>,
}

fn logs(speakers: &[&Speaker]) -> String {
    speakers
        .iter()
        .enumerate()
        .map(|(i, s)| format!("--- speaker {i} ({:?}):\n{}", s.kind(), s.log()))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The client's view for `total`: every probe answered by `mac` alone.
fn assert_only(lab: &PairLab, mac: [u8; 6], total: Duration, what: &str) {
    let samples = lab.prober.watch(VIP, WINDOW, total).expect("watch");
    let bad: Vec<_> = samples.iter().filter(|s| s.macs != [mac]).collect();
    assert!(
        samples.len() >= 5 && bad.is_empty(),
        "{what}: probes not answered by {} alone: {bad:?}",
        havip_agent::net::iface::format_mac(mac)
    );
}

/// Waits until `GARP_WINDOW` after `mac`'s first gratuitous ARP since `since`, then returns its
/// rounds in that window.
fn schedule(capture: &ArpCapture, mac: [u8; 6], since: Instant) -> Vec<Round> {
    let first = wait_for(LIMIT, Duration::from_millis(20), || {
        capture.gratuitous(mac, VIP, since).first().copied()
    })
    .unwrap_or_else(|| panic!("no gratuitous ARP from {mac:02x?} for {VIP}"));
    let end = first + GARP_WINDOW + Duration::from_millis(200);
    if let Some(left) = end.checked_duration_since(Instant::now()) {
        std::thread::sleep(left);
    }
    rounds(&capture.gratuitous(mac, VIP, since), GARP_GAP, GARP_WINDOW)
}

/// Every havip schedule must match every keepalived schedule of the run.
fn compare_schedules(episodes: &[Episode]) {
    for e in episodes {
        eprintln!("GARP schedule of {:?} ({}): {:?}", e.kind, e.what, e.rounds);
    }
    let reference: Vec<&Episode> = episodes
        .iter()
        .filter(|e| e.kind == Impl::Keepalived)
        .collect();
    assert!(!reference.is_empty(), "no keepalived schedule recorded");
    for k in &reference {
        // The settings must show: two bursts and at least one refresh, else the comparison
        // compares nothing.
        assert!(
            k.rounds.len() >= 3,
            "keepalived's schedule ({}) is not the file's: {:?}",
            k.what,
            k.rounds
        );
    }
    for h in episodes.iter().filter(|e| e.kind == Impl::Havip) {
        for k in &reference {
            if let Some(why) = schedule_mismatch(&h.rounds, &k.rounds, GARP_TOLERANCE) {
                panic!(
                    "havip's GARP schedule ({}) differs from keepalived's ({}): {why}\n\
                     havip: {:?}\nkeepalived: {:?}",
                    h.what, k.what, h.rounds, k.rounds
                );
            }
        }
    }
}

/// `first` on node a becomes master alone, `second` on node b joins as BACKUP; a's link is cut
/// and b takes over; a's link returns and a stays BACKUP (nopreempt). Returns the master
/// episodes with their GARP schedules.
fn run(first: Impl, second: Impl) -> (PairLab, ArpCapture, Vec<Episode>) {
    let lab = PairLab::with_hosts(("a", 7), ("b", 13)).expect("lab");
    let capture = ArpCapture::start(&lab.lan.nodes[0].ns, "eth0").expect("capture");
    let (a_mac, b_mac) = (lab.mac(NODE_A), lab.mac(NODE_B));
    let (a_node, b_node) = (&lab.lan.nodes[NODE_A], &lab.lan.nodes[NODE_B]);
    let mut episodes = Vec::new();

    // Election: a alone becomes master on its timer; b joins and, hearing a at its own
    // priority, stays BACKUP. One MAC answers the client.
    let a_since = Instant::now();
    let mut a = Speaker::start(first, a_node, &lab, "a", &seed_for(A, B));
    assert!(
        a.wait_entered("MASTER", 1),
        "a never became MASTER:\n{}",
        a.log()
    );
    let mut b = Speaker::start(second, b_node, &lab, "b", &seed_for(B, A));
    assert!(b.wait_entered("BACKUP", 1), "{}", logs(&[&a, &b]));
    assert!(
        lab.settles_on(VIP, a_mac, LIMIT),
        "a does not answer alone:\n{}",
        logs(&[&a, &b])
    );
    assert_only(&lab, a_mac, Duration::from_secs(2), "elected");
    for s in [&a, &b] {
        assert!(
            s.warned_about_checkhaproxy(),
            "no warning about the undefined checkhaproxy:\n{}",
            s.log()
        );
    }
    episodes.push(Episode {
        kind: first,
        what: "a, first master",
        rounds: schedule(&capture, a_mac, a_since),
    });
    assert_eq!(b.entered("MASTER"), 0, "{}", logs(&[&a, &b]));

    // Failover: a's link is cut; a tracks its own eth0 and goes to FAULT, b takes over.
    let cut_at = Instant::now();
    lab.lan.cut(NODE_A).expect("cut a");
    assert!(a.wait_entered("FAULT", 1), "{}", logs(&[&a, &b]));
    assert!(
        b.wait_entered("MASTER", 1),
        "b never took over:\n{}",
        logs(&[&a, &b])
    );
    assert!(
        lab.settles_on(VIP, b_mac, LIMIT),
        "b does not answer alone after the cut:\n{}",
        logs(&[&a, &b])
    );

    // nopreempt: a's link returns, a comes back as BACKUP and leaves the VIP with b, for longer
    // than its Master_Down_Interval.
    lab.lan.restore(NODE_A).expect("restore a");
    assert!(
        a.wait_entered("BACKUP", 2),
        "a did not come back as BACKUP:\n{}",
        logs(&[&a, &b])
    );
    assert_only(
        &lab,
        b_mac,
        Duration::from_secs(6),
        "nopreempt after restore",
    );
    assert_eq!(
        a.entered("MASTER"),
        1,
        "a took the VIP back:\n{}",
        logs(&[&a, &b])
    );
    assert_eq!(b.entered("MASTER"), 1, "b flapped:\n{}", logs(&[&a, &b]));
    assert_eq!(a.entered("FAULT"), 1, "{}", logs(&[&a, &b]));
    episodes.push(Episode {
        kind: second,
        what: "b, after taking over",
        rounds: schedule(&capture, b_mac, cut_at),
    });
    b.stop();
    a.stop();
    (lab, capture, episodes)
}

/// keepalived alone on node a with the seed file: it becomes master on its timer; its GARP
/// schedule is the reference for a run without keepalived.
fn keepalived_reference(lab: &PairLab, capture: &ArpCapture) -> Episode {
    let since = Instant::now();
    let mut k = Speaker::start(
        Impl::Keepalived,
        &lab.lan.nodes[NODE_A],
        lab,
        "ref",
        &seed_for(A, B),
    );
    assert!(k.wait_entered("MASTER", 1), "{}", k.log());
    let rounds = schedule(capture, lab.mac(NODE_A), since);
    k.stop();
    Episode {
        kind: Impl::Keepalived,
        what: "keepalived alone on a",
        rounds,
    }
}

#[test]
fn seed_conf_havip_master_keepalived_takes_over() {
    if !require_root("seed_conf_havip_master_keepalived_takes_over") {
        return;
    }
    let (_lab, _capture, episodes) = run(Impl::Havip, Impl::Keepalived);
    compare_schedules(&episodes);
}

#[test]
fn seed_conf_keepalived_master_havip_takes_over() {
    if !require_root("seed_conf_keepalived_master_havip_takes_over") {
        return;
    }
    let (_lab, _capture, episodes) = run(Impl::Keepalived, Impl::Havip);
    compare_schedules(&episodes);
}

#[test]
fn seed_conf_on_two_havip_nodes() {
    if !require_root("seed_conf_on_two_havip_nodes") {
        return;
    }
    let (lab, capture, mut episodes) = run(Impl::Havip, Impl::Havip);
    episodes.push(keepalived_reference(&lab, &capture));
    compare_schedules(&episodes);
}

#[test]
fn seed_mapping_is_whole_words() {
    let a = seed_for(A, B);
    let b = seed_for(B, A);
    assert!(a.contains("unicast_src_ip 192.0.2.7 "), "{a}");
    assert!(b.contains("unicast_src_ip 192.0.2.13 "), "{b}");
    assert!(a.contains("        192.0.2.13 "), "peer of a:\n{a}");
    assert!(a.contains("        192.0.2.3 "), "VIP:\n{a}");
    // Verbatim otherwise: the same lines, comments included.
    assert_eq!(a.lines().count(), SEED.lines().count());
    assert!(a.contains("track_script {") && a.contains("checkhaproxy"));
    assert!(a.contains("#Non-preemptive mode"));
}
