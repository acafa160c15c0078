//! The metrics endpoint of two running havip agents, scraped over HTTP from inside each node's
//! namespace: node a (192.0.2.11, priority 150, endpoint on its LAN address) and node b
//! (192.0.2.12, priority 100, endpoint on the namespace's loopback), `VRRPv3` at 100 ms over
//! unicast, VIP 192.0.2.200, a client (192.0.2.1) that probes the VIP with ARP. The scrapes must
//! follow what the election and the kernel do; `promtool check metrics` must accept them.

use std::{
    io::Write as _,
    net::{Ipv4Addr, SocketAddr, TcpStream},
    time::{Duration, Instant},
};

use havip_tests::{
    agents::{FrameSender, InstanceSpec, Vrrp, spawn_havip_args, wait_havip_state},
    frames,
    netns::wait_for,
    pair::{CLIENT, PairLab},
    proc::Proc,
    require_root,
    scrape::{Scrape, http_get, promtool, promtool_available},
};

const VIP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 200);
const A: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 11);
const B: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 12);
const V3_100MS: Vrrp = Vrrp::V3 { centis: 10 };
const NODE_A: usize = 1;
const NODE_B: usize = 2;
/// a's endpoint on its LAN address: still reachable from inside a when its link is cut.
const A_METRICS: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(A), 9828);
/// b's endpoint on the namespace's own loopback.
const B_METRICS: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 9828);
/// How long a freshly started agent may take to reach its first steady state.
const SETTLE: Duration = Duration::from_secs(3);
/// Scrape poll step.
const STEP: Duration = Duration::from_millis(50);
/// The instance's labels, as every instance series carries them.
const INST: [(&str, &str); 3] = [
    ("vrrp_instance", "VI_1"),
    ("vrid", "51"),
    ("interface", "eth0"),
];

fn failover_limit() -> Duration {
    V3_100MS.interval() * 10 + Duration::from_secs(1)
}

/// `INST` plus `extra`.
fn inst<'a>(extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    INST.iter().chain(extra).copied().collect()
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
    Lab(PairLab::new("a", "b").expect("lab"))
}

fn endpoint(node: usize) -> SocketAddr {
    if node == NODE_A { A_METRICS } else { B_METRICS }
}

fn state(s: &Scrape, st: &str) -> f64 {
    s.get("havip_instance_state", &inst(&[("state", st)]))
}

/// Whether the instance's state series say `st` (its series is 1).
fn in_state(s: &Scrape, st: &str) -> bool {
    (state(s, st) - 1.0).abs() < f64::EPSILON
}

/// Whether the kernel's ownership of the instance is `owned`.
fn owned(s: &Scrape, owned: bool) -> bool {
    (s.get("havip_instance_owned", &INST) - f64::from(u8::from(owned))).abs() < f64::EPSILON
}

fn transitions(s: &Scrape, from: &str, to: &str, reason: &str) -> f64 {
    s.get(
        "havip_state_transitions_total",
        &inst(&[("from", from), ("to", to), ("reason", reason)]),
    )
}

impl Lab {
    fn start(&self, node: usize, label: &str, priority: u8) -> Proc {
        let (src, peer) = if node == NODE_A { (A, B) } else { (B, A) };
        let spec = InstanceSpec::new(V3_100MS, priority, src, &[peer]);
        let addr = endpoint(node).to_string();
        spawn_havip_args(
            &self.lan.nodes[node],
            &self.dir,
            label,
            &spec,
            &["--metrics-addr", &addr],
        )
        .expect("start havip")
    }

    /// Starts a (150) and waits for it to be MASTER, then b (100) and waits for BACKUP.
    fn a_master_b_backup(&self) -> (Proc, Proc) {
        let a = self.start(NODE_A, "a", 150);
        let t = wait_havip_state(&a, "MASTER", 0, SETTLE);
        assert!(t.is_some(), "a never became MASTER:\n{}", a.log_text());
        let b = self.start(NODE_B, "b", 100);
        let t = wait_havip_state(&b, "BACKUP", 0, SETTLE);
        assert!(t.is_some(), "b never became BACKUP:\n{}", b.log_text());
        (a, b)
    }

    /// One scrape of `node` in the Prometheus text format.
    fn scrape(&self, node: usize) -> Scrape {
        let r = http_get(&self.lan.nodes[node].ns, endpoint(node), "/metrics", None)
            .unwrap_or_else(|e| panic!("scraping node {node}: {e:#}"));
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(
            r.content_type.starts_with("text/plain; version=0.0.4"),
            "{}",
            r.content_type
        );
        Scrape::parse(&r.body).expect("a scrape parses")
    }

    /// Scrapes `node` until `ok` holds, for up to `limit`.
    fn wait_scrape(&self, node: usize, limit: Duration, ok: impl Fn(&Scrape) -> bool) -> Scrape {
        let mut last = Scrape::default();
        let found = wait_for(limit, STEP, || {
            last = self.scrape(node);
            ok(&last).then(|| last.clone())
        });
        found.unwrap_or_else(|| {
            panic!(
                "node {node}: condition not met in {limit:?}:\n{}",
                last.text
            )
        })
    }

    fn status(&self, node: usize, path: &str) -> u16 {
        http_get(&self.lan.nodes[node].ns, endpoint(node), path, None)
            .unwrap_or_else(|e| panic!("GET {path} on node {node}: {e:#}"))
            .status
    }
}

/// Every family a scrape exports is listed in the README's metrics section.
fn assert_documented(s: &Scrape) {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .expect("README.md");
    for f in &s.families {
        // Histograms are documented by their family name, counters with `_total`.
        assert!(
            readme.contains(&format!("`{f}`")),
            "metric {f} is not in the README's metrics section"
        );
    }
}

#[test]
fn scrapes_follow_the_election_and_failover() {
    if !require_root("scrapes_follow_the_election_and_failover") {
        return;
    }
    let lab = lab();
    let (_a, _b) = lab.a_master_b_backup();
    steady_state(&lab);
    arp_counters_follow_the_probes(&lab);
    failover_and_back(&lab);

    // The real scrapes pass promtool and are documented.
    for node in [NODE_A, NODE_B] {
        let s = lab.scrape(node);
        assert_documented(&s);
        if promtool_available("promtool check metrics on a real scrape") {
            promtool(&["check", "metrics"], &s.text)
                .unwrap_or_else(|e| panic!("node {node}: {e:#}"));
        }
    }

    // OpenMetrics when the scraper asks for it (Prometheus' own Accept header).
    let r = http_get(
        &lab.lan.nodes[NODE_B].ns,
        B_METRICS,
        "/metrics",
        Some(
            "application/openmetrics-text;version=1.0.0,application/openmetrics-text;\
             version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
        ),
    )
    .expect("OpenMetrics scrape");
    assert_eq!(r.status, 200);
    assert!(
        r.content_type
            .starts_with("application/openmetrics-text; version=1.0.0"),
        "{}",
        r.content_type
    );
    assert!(r.body.ends_with("# EOF\n"), "{}", r.body);
    assert!(r.body.contains("# TYPE havip_build info\n"), "{}", r.body);
}

/// a is MASTER with its grant live in the kernel after one master-down takeover; b is BACKUP,
/// knows a as master with a's interval, and measures the jitter of a's adverts.
fn steady_state(lab: &Lab) {
    let sa = lab.wait_scrape(NODE_A, SETTLE, |s| in_state(s, "MASTER"));
    for st in ["INIT", "BACKUP", "FAULT"] {
        assert_eq!(state(&sa, st), 0.0, "a: {st}\n{}", sa.text);
    }
    assert_eq!(
        transitions(&sa, "INIT", "BACKUP", "startup"),
        1.0,
        "{}",
        sa.text
    );
    assert_eq!(
        transitions(&sa, "BACKUP", "MASTER", "master_down"),
        1.0,
        "{}",
        sa.text
    );
    assert!(owned(&sa, true), "{}", sa.text);
    let lease = sa.get("havip_instance_lease_remaining_seconds", &INST);
    assert!(lease > 0.0 && lease <= 1.0, "lease {lease}\n{}", sa.text);
    for stage in ["granted", "announced"] {
        let n = sa.get(
            "havip_takeover_duration_seconds_count",
            &inst(&[("stage", stage), ("reason", "master_down")]),
        );
        assert_eq!(n, 1.0, "{stage}\n{}", sa.text);
    }
    assert!(sa.get("havip_adverts_sent_total", &INST) > 0.0);
    assert!(sa.get("havip_garps_sent_total", &INST) >= 1.0);
    assert_eq!(
        sa.get(
            "havip_instance_master_info",
            &inst(&[("master", "192.0.2.11")])
        ),
        1.0,
        "{}",
        sa.text
    );
    assert_eq!(sa.get("havip_ready", &[]), 1.0);

    let sb = lab.wait_scrape(NODE_B, SETTLE, |s| {
        in_state(s, "BACKUP")
            && s.get("havip_adverts_received_total", &INST) >= 3.0
            && s.get("havip_advert_jitter_seconds_count", &INST) >= 2.0
    });
    assert!(owned(&sb, false), "{}", sb.text);
    // a sends every 100 ms; on veth the receive gaps stay far closer to that than 50 ms.
    let jitter = sb.get("havip_advert_jitter_seconds_sum", &INST)
        / sb.get("havip_advert_jitter_seconds_count", &INST);
    assert!(jitter < 0.05, "mean advert jitter {jitter} s\n{}", sb.text);
    assert_eq!(
        sb.get(
            "havip_instance_master_info",
            &inst(&[("master", "192.0.2.11")])
        ),
        1.0,
        "{}",
        sb.text
    );
    assert_eq!(sb.get("havip_instance_master_priority", &INST), 150.0);
    assert_eq!(
        sb.get("havip_instance_master_advert_interval_seconds", &INST),
        0.1
    );
    // 3 x 100 ms + (256 - 100) / 256 x 100 ms
    let down = sb.get("havip_instance_master_down_interval_seconds", &INST);
    assert!((down - 0.360_937_5).abs() < 1e-9, "{down}");
    assert!(
        sb.get("havip_xdp_adverts_accepted_total", &[])
            >= sb.get("havip_adverts_received_total", &INST),
        "{}",
        sb.text
    );
    for node in [NODE_A, NODE_B] {
        assert_eq!(lab.status(node, "/healthz"), 200, "node {node}");
        assert_eq!(lab.status(node, "/readyz"), 200, "node {node}");
    }
    let age = sb.get("havip_event_loop_heartbeat_age_seconds", &[]);
    assert!(age < 2.0, "heartbeat age {age}");
}

/// a answers every probe and counts it; b drops every request as not owned and counts it.
fn arp_counters_follow_the_probes(lab: &Lab) {
    let a_mac = lab.lan.nodes[NODE_A].mac;
    let vip = [("vip", "192.0.2.200")];
    let replies = |s: &Scrape| s.get("havip_vip_arp_replies_total", &inst(&vip));
    let dropped = |s: &Scrape| {
        s.get(
            "havip_vip_arp_dropped_total",
            &inst(&[("vip", "192.0.2.200"), ("reason", "not_owned")]),
        )
    };
    let (a0, b0) = (lab.scrape(NODE_A), lab.scrape(NODE_B));
    let probes = 20;
    let mut answered = 0u32;
    for _ in 0..probes {
        let s = lab
            .prober
            .probe(VIP, Duration::from_millis(50))
            .expect("probe");
        if s.macs == [a_mac] {
            answered += 1;
        }
    }
    assert_eq!(answered, probes, "a did not answer every probe");
    let (a1, b1) = (lab.scrape(NODE_A), lab.scrape(NODE_B));
    let grew = replies(&a1) - replies(&a0);
    assert!(grew >= f64::from(probes), "a's replies grew by {grew}");
    let global =
        a1.get("havip_xdp_arp_replies_total", &[]) - a0.get("havip_xdp_arp_replies_total", &[]);
    assert!(
        global >= f64::from(probes),
        "a's kernel replies grew by {global}"
    );
    let grew = dropped(&b1) - dropped(&b0);
    assert!(
        grew >= f64::from(probes),
        "b's not-owned drops grew by {grew}"
    );
}

/// Cut a's link: b's series flip to MASTER (with its takeover timed); restore it: a outranks b
/// and takes the VIP back, b's series flip back.
fn failover_and_back(lab: &Lab) {
    let cut = Instant::now();
    lab.lan.cut(NODE_A).expect("cut a");
    let sb = lab.wait_scrape(NODE_B, failover_limit() * 2, |s| {
        in_state(s, "MASTER") && owned(s, true)
    });
    let took = cut.elapsed();
    assert!(
        took <= failover_limit() + Duration::from_millis(500),
        "b's scrape showed MASTER {took:?} after the cut"
    );
    assert_eq!(state(&sb, "BACKUP"), 0.0, "{}", sb.text);
    assert_eq!(
        transitions(&sb, "BACKUP", "MASTER", "master_down"),
        1.0,
        "{}",
        sb.text
    );
    let takeover = inst(&[("stage", "announced"), ("reason", "master_down")]);
    let count = sb.get("havip_takeover_duration_seconds_count", &takeover);
    let sum = sb.get("havip_takeover_duration_seconds_sum", &takeover);
    assert_eq!(count, 1.0, "{}", sb.text);
    // Timer expiry -> grant -> first GARP happen in one pass of the loop: far below a second.
    assert!(sum > 0.0 && sum < 1.0, "takeover took {sum} s");

    lab.lan.restore(NODE_A).expect("restore a");
    let sb = lab.wait_scrape(NODE_B, failover_limit() * 2, |s| {
        in_state(s, "BACKUP") && owned(s, false)
    });
    let back = sb.sum(
        "havip_state_transitions_total",
        &inst(&[("from", "MASTER"), ("to", "BACKUP")]),
    );
    assert_eq!(back, 1.0, "{}", sb.text);
}

/// Ethernet frame from the client to node a carrying `vrrp` in an IPv4 packet.
fn advert_frame(tx: &FrameSender, to: [u8; 6], src: Ipv4Addr, ttl: u8, vrrp: &[u8]) -> Vec<u8> {
    let mut f = frames::ipv4(src, A, 112, ttl, vrrp);
    f[..6].copy_from_slice(&to);
    f[6..12].copy_from_slice(&tx.mac);
    f
}

#[test]
fn spoofed_adverts_grow_the_drop_counters() {
    if !require_root("spoofed_adverts_grow_the_drop_counters") {
        return;
    }
    let lab = lab();
    let (_a, _b) = lab.a_master_b_backup();
    let a_mac = lab.lan.nodes[NODE_A].mac;
    let tx = FrameSender::open(&lab.lan.nodes[0].ns, "eth0").expect("frame sender");
    // Each claims priority 254 for VRID 51, which would beat a's 150 if it were accepted.
    let advert = |src| frames::vrrp(3, 51, 254, 10, &[VIP], None, src, A);
    let ttl_254 = advert_frame(&tx, a_mac, B, 254, &advert(B));
    let stranger = advert_frame(&tx, a_mac, CLIENT, 255, &advert(CLIENT));
    let mut corrupt = advert(B);
    corrupt[6] ^= 0x5a;
    let bad_checksum = advert_frame(&tx, a_mac, B, 255, &corrupt);

    let dropped =
        |s: &Scrape, reason| s.get("havip_xdp_adverts_dropped_total", &[("reason", reason)]);
    let reasons = ["ttl", "unknown_peer", "checksum"];
    let before = lab.wait_scrape(NODE_A, SETTLE, |s| in_state(s, "MASTER"));
    let rounds = 30u32;
    for _ in 0..rounds {
        for f in [&ttl_254, &stranger, &bad_checksum] {
            tx.send(f).expect("send spoof");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let after = lab.wait_scrape(NODE_A, Duration::from_secs(2), |s| {
        reasons
            .iter()
            .all(|r| dropped(s, r) >= dropped(&before, r) + f64::from(rounds))
    });
    for r in reasons {
        let grew = dropped(&after, r) - dropped(&before, r);
        // Nothing else on this LAN produces such adverts: exactly what was sent.
        assert_eq!(grew, f64::from(rounds), "{r}\n{}", after.text);
    }
    // They changed nothing.
    assert_eq!(state(&after, "MASTER"), 1.0, "{}", after.text);
    let left = after.sum(
        "havip_state_transitions_total",
        &inst(&[("from", "MASTER")]),
    );
    assert_eq!(left, 0.0, "a left MASTER\n{}", after.text);
    let sb = lab.scrape(NODE_B);
    assert_eq!(state(&sb, "BACKUP"), 1.0, "{}", sb.text);
}

/// Connections that sent half a request and then nothing, from inside `node`'s namespace.
fn stalled_scrapers(lab: &Lab, node: usize, n: usize) -> Vec<TcpStream> {
    let addr = endpoint(node);
    lab.lan.nodes[node]
        .ns
        .enter(move || {
            let mut conns = Vec::new();
            for _ in 0..n {
                let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
                s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")?;
                conns.push(s);
            }
            Ok(conns)
        })
        .expect("stalled connections")
}

#[test]
fn stalled_scrapers_do_not_stall_the_election() {
    if !require_root("stalled_scrapers_do_not_stall_the_election") {
        return;
    }
    let lab = lab();
    let (_a, b) = lab.a_master_b_backup();
    // More than the endpoint serves at once, each stuck in the middle of its headers.
    let stalled = stalled_scrapers(&lab, NODE_B, 40);

    let cut = Instant::now();
    lab.lan.cut(NODE_A).expect("cut a");
    let t = wait_havip_state(&b, "MASTER", 0, failover_limit() * 2);
    let took = cut.elapsed();
    assert!(t.is_some(), "b never took over:\n{}", b.log_text());
    assert!(
        took <= failover_limit(),
        "b took over {took:?} after the cut with stalled scrapers"
    );
    drop(stalled);

    // Once the stalled clients are gone, the endpoint answers again and shows the takeover.
    let healthy = wait_for(Duration::from_secs(10), Duration::from_millis(100), || {
        http_get(&lab.lan.nodes[NODE_B].ns, B_METRICS, "/healthz", None)
            .ok()
            .filter(|r| r.status == 200)
    });
    assert!(healthy.is_some(), "b's endpoint did not recover");
    let sb = lab.wait_scrape(NODE_B, SETTLE, |s| in_state(s, "MASTER"));
    let age = sb.get("havip_event_loop_heartbeat_age_seconds", &[]);
    assert!(age < 2.0, "heartbeat age {age}\n{}", sb.text);
}
