//! keepalived 2.4's `auth_hmac` between havip agents in namespaces (issue #16): node a
//! (192.0.2.11, priority 150) and node b (192.0.2.12, priority 100), `VRRPv3` at 100 ms over
//! unicast (v2 at 1 s for the rollout from `auth_type PASS`), VIP 192.0.2.200; a client
//! (192.0.2.1) probes the VIP with ARP; an attacker (192.0.2.66) on the same bridge forges
//! adverts with a raw socket. Every check asserts generous functional bounds only.

use std::{
    net::{Ipv4Addr, SocketAddr},
    time::Duration,
};

use havip_tests::{
    agents::{
        FrameSender, InstanceSpec, Keepalived, Vrrp, spawn_havip_args, transitions,
        wait_havip_state,
    },
    auth_hmac::{AuthHmacSpec, KEY_ATTACKER, KEY1, KEY2, advert_frame, capture_advert, clock_seq},
    netns::wait_for,
    pair::{NODE_A, NODE_B, PairLab},
    proc::Proc,
    require_root,
    scrape::{Scrape, http_get},
};

const A: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 11);
const B: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 12);
const VIP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 200);
const V3_100MS: Vrrp = Vrrp::V3 { centis: 10 };
const V2_1S: Vrrp = Vrrp::V2 { secs: 1 };
/// Node index of the attacker on the lab's LAN.
const NODE_X: usize = 3;
const SETTLE: Duration = Duration::from_secs(5);
const STEP: Duration = Duration::from_millis(50);
/// The metrics endpoint of each node, on the namespace's own loopback.
const METRICS: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 9829);
/// Longest wait for a captured advert (tcpdump's start-up included; it stops at the first).
const CAPTURE: Duration = Duration::from_secs(10);
/// Frames of each forged kind sent by the attacker.
const FORGED: u32 = 5;

/// The agents first, so they stop before their namespaces go.
struct Lab {
    a: Proc,
    b: Proc,
    pair: PairLab,
}

fn spec(node: usize, vrrp: Vrrp, auth: Option<AuthHmacSpec>) -> InstanceSpec {
    let (src, peer, priority) = if node == NODE_A {
        (A, B, 150)
    } else {
        (B, A, 100)
    };
    let mut s = InstanceSpec::new(vrrp, priority, src, &[peer]);
    s.auth_hmac = auth;
    s
}

fn label(node: usize) -> &'static str {
    if node == NODE_A { "a" } else { "b" }
}

fn start(pair: &PairLab, node: usize, s: &InstanceSpec) -> Proc {
    let addr = METRICS.to_string();
    spawn_havip_args(
        &pair.lan.nodes[node],
        &pair.dir,
        label(node),
        s,
        &["--metrics-addr", &addr],
    )
    .expect("start havip")
}

impl Lab {
    /// a MASTER then b BACKUP, each with the configuration `spec_of` gives; with an attacker.
    fn new(spec_of: &dyn Fn(usize) -> InstanceSpec) -> Self {
        let mut pair = PairLab::new("a", "b").expect("lab");
        pair.lan.add_node("x", 66).expect("attacker");
        let a = start(&pair, NODE_A, &spec_of(NODE_A));
        assert!(
            wait_havip_state(&a, "MASTER", 0, SETTLE).is_some(),
            "{}",
            a.log_text()
        );
        let b = start(&pair, NODE_B, &spec_of(NODE_B));
        assert!(
            wait_havip_state(&b, "BACKUP", 0, SETTLE).is_some(),
            "{}",
            b.log_text()
        );
        Self { a, b, pair }
    }

    fn scrape(&self, node: usize) -> Scrape {
        let r = http_get(&self.pair.lan.nodes[node].ns, METRICS, "/metrics", None)
            .unwrap_or_else(|e| panic!("scraping node {node}: {e:#}"));
        assert_eq!(r.status, 200, "{}", r.body);
        Scrape::parse(&r.body).expect("a scrape parses")
    }

    /// `havip_auth_hmac_total{outcome}` of `node`.
    fn outcome(&self, node: usize, outcome: &str) -> f64 {
        self.scrape(node)
            .sum("havip_auth_hmac_total", &[("outcome", outcome)])
    }

    fn transitions(&self) -> (usize, usize) {
        (
            transitions(&self.a.log_text()).len(),
            transitions(&self.b.log_text()).len(),
        )
    }

    /// Probes for `span`; every probe must be answered by a's MAC alone.
    fn a_alone_answers(&self, span: Duration) {
        let a_mac = self.pair.mac(NODE_A);
        let samples = self
            .pair
            .prober
            .watch(VIP, Duration::from_millis(50), span)
            .expect("watch");
        assert!(samples.len() >= 5, "too few probes");
        for s in &samples {
            assert_eq!(s.macs, vec![a_mac], "answer at {:?}", s.at);
        }
    }

    /// Rewrites `node`'s configuration as `s` and sends it SIGHUP; waits for the reload.
    fn reload(&self, node: usize, s: &InstanceSpec) {
        let p = if node == NODE_A { &self.a } else { &self.b };
        let before = p.log_text().matches("configuration reloaded").count();
        self.pair
            .dir
            .write(&format!("{}.toml", label(node)), &s.to_toml())
            .expect("rewrite");
        p.signal(libc::SIGHUP);
        let done = wait_for(SETTLE, STEP, || {
            (p.log_text().matches("configuration reloaded").count() > before).then_some(())
        });
        assert!(done.is_some(), "no reload:\n{}", p.log_text());
        assert!(
            !p.log_text().contains("reload rejected"),
            "{}",
            p.log_text()
        );
    }

    /// Waits until `node`'s `outcome` count has grown by at least `by` over `from`.
    fn wait_outcome(&self, node: usize, outcome: &str, from: f64, by: f64) -> f64 {
        let got = wait_for(SETTLE, STEP, || {
            let n = self.outcome(node, outcome);
            (n >= from + by).then_some(n)
        });
        got.unwrap_or_else(|| {
            let p = if node == NODE_A { &self.a } else { &self.b };
            panic!(
                "node {node}: {outcome} stayed at {} (from {from}, wanted +{by}):\n{}",
                self.outcome(node, outcome),
                p.log_text()
            )
        })
    }
}

fn enforce(node: usize) -> InstanceSpec {
    spec(node, V3_100MS, Some(AuthHmacSpec::with_mode("enforce")))
}

#[test]
fn enforce_pair_elects_signs_and_fails_over_on_link_cut() {
    if !require_root("enforce_pair_elects_signs_and_fails_over_on_link_cut") {
        return;
    }
    let lab = Lab::new(&enforce);
    lab.a_alone_answers(Duration::from_millis(500));
    // b verifies a's signed adverts (10 per second), and refuses none.
    let ok = lab.wait_outcome(NODE_B, "ok", 0.0, 5.0);
    assert!(ok >= 5.0);
    for bad in ["missing", "invalid_hmac", "replay", "stale", "unknown_key"] {
        assert_eq!(lab.outcome(NODE_B, bad), 0.0, "{bad}");
    }
    // The wire carries the trailer: 8 + 4 bytes of VRRP, then 28.
    let frame = capture_advert(
        &lab.pair.lan.bridge,
        &lab.pair.lan.nodes[NODE_B].bridge_port,
        A,
        &lab.pair.dir,
        CAPTURE,
    )
    .expect("capture a's advert");
    assert_eq!(frame.len(), 14 + 20 + 12 + 28, "{frame:02x?}");
    assert_eq!(&frame[14 + 2..14 + 4], &[0, 60], "IPv4 total length");
    assert_eq!(frame[14 + 20 + 12], 1, "ext_type HMAC-SHA256-128");
    assert_eq!(frame[14 + 20 + 13], 1, "key id");

    lab.pair.lan.cut(NODE_A).expect("cut a");
    let t = wait_havip_state(&lab.b, "MASTER", 0, SETTLE);
    assert!(t.is_some(), "b never took over:\n{}", lab.b.log_text());
    assert!(
        lab.pair
            .settles_on(VIP, lab.pair.mac(NODE_B), Duration::from_secs(3)),
        "the VIP did not move to b"
    );
}

#[test]
#[expect(clippy::too_many_lines, reason = "a table of forged adverts")]
fn spoofed_and_replayed_adverts_change_nothing_and_are_counted() {
    if !require_root("spoofed_and_replayed_adverts_change_nothing_and_are_counted") {
        return;
    }
    let lab = Lab::new(&enforce);
    let (a_mac, b_mac) = (lab.pair.mac(NODE_A), lab.pair.mac(NODE_B));
    // A real signed advert of a, captured on its way to b, to replay later.
    let capture = capture_advert(
        &lab.pair.lan.bridge,
        &lab.pair.lan.nodes[NODE_B].bridge_port,
        A,
        &lab.pair.dir,
        CAPTURE,
    )
    .expect("capture a's advert");
    lab.wait_outcome(NODE_B, "ok", 0.0, 3.0);
    let before = lab.transitions();
    let x = &lab.pair.lan.nodes[NODE_X];
    let sender = FrameSender::open(&x.ns, "eth0").expect("attacker socket");
    let xm = sender.mac;
    // (what, node it targets, frame): priority 255 "from b" to the master demotes it without
    // auth; priority 0 "from a" to the backup makes it take over at once without auth.
    let rows: Vec<(&str, usize, Vec<u8>)> = vec![
        (
            "missing",
            NODE_A,
            advert_frame((xm, a_mac), B, A, 255, None, 0, 0, VIP),
        ),
        (
            "missing",
            NODE_B,
            advert_frame((xm, b_mac), A, B, 0, None, 0, 0, VIP),
        ),
        (
            "invalid_hmac",
            NODE_A,
            advert_frame(
                (xm, a_mac),
                B,
                A,
                255,
                Some(KEY_ATTACKER),
                1,
                clock_seq(),
                VIP,
            ),
        ),
        (
            "invalid_hmac",
            NODE_B,
            advert_frame(
                (xm, b_mac),
                A,
                B,
                0,
                Some(KEY_ATTACKER),
                1,
                clock_seq(),
                VIP,
            ),
        ),
        (
            "unknown_key",
            NODE_B,
            advert_frame(
                (xm, b_mac),
                A,
                B,
                0,
                Some(KEY_ATTACKER),
                9,
                clock_seq(),
                VIP,
            ),
        ),
        (
            "stale",
            NODE_B,
            advert_frame(
                (xm, b_mac),
                A,
                B,
                0,
                Some(KEY_ATTACKER),
                1,
                clock_seq() - (3600 << 32),
                VIP,
            ),
        ),
        ("replay", NODE_B, {
            let mut f = capture.clone();
            f[6..12].copy_from_slice(&xm);
            f
        }),
    ];
    for (outcome, node, frame) in &rows {
        let from = lab.outcome(*node, outcome);
        for _ in 0..FORGED {
            sender.send(frame).expect("send");
            std::thread::sleep(Duration::from_millis(20));
        }
        let sent = f64::from(FORGED);
        let got = lab.wait_outcome(*node, outcome, from, sent);
        assert_eq!(
            got - from,
            sent,
            "{outcome} on node {node}: one count per frame"
        );
    }
    // Nothing moved: same transitions, a alone answers, b still counts a's adverts as good.
    lab.a_alone_answers(Duration::from_millis(500));
    assert_eq!(
        before,
        lab.transitions(),
        "forged adverts caused transitions:\n{}\n{}",
        lab.a.log_text(),
        lab.b.log_text()
    );
    let ok = lab.outcome(NODE_B, "ok");
    lab.wait_outcome(NODE_B, "ok", ok, 3.0);
    // The logs tell a clock problem from a key problem.
    let log = lab.b.log_text();
    assert!(log.contains("cause=\"clock\""), "{log}");
    assert!(log.contains("cause=\"key\""), "{log}");
}

/// A rotation step: the node, its key lines, its active key.
type Step<'a> = (usize, &'a [(u8, &'a str)], u8);

#[test]
fn key_rotation_by_sighup_causes_no_transition() {
    if !require_root("key_rotation_by_sighup_causes_no_transition") {
        return;
    }
    let lab = Lab::new(&enforce);
    let before = lab.transitions();
    let with = |node: usize, keys: &[(u8, &str)], active: u8| {
        let auth = AuthHmacSpec {
            keys: keys.iter().map(|(i, k)| (*i, (*k).to_owned())).collect(),
            active_key: active,
            mode: "enforce",
        };
        spec(node, V3_100MS, Some(auth))
    };
    // 1. Both learn key 2; 2. a, then b, sign with it; 3. key 1 goes.
    let steps: [Step<'_>; 6] = [
        (NODE_B, &[(1, KEY1), (2, KEY2)], 1),
        (NODE_A, &[(1, KEY1), (2, KEY2)], 1),
        (NODE_A, &[(1, KEY1), (2, KEY2)], 2),
        (NODE_B, &[(1, KEY1), (2, KEY2)], 2),
        (NODE_B, &[(2, KEY2)], 2),
        (NODE_A, &[(2, KEY2)], 2),
    ];
    for (node, keys, active) in steps {
        lab.reload(node, &with(node, keys, active));
        let ok = lab.outcome(NODE_B, "ok");
        lab.wait_outcome(NODE_B, "ok", ok, 3.0);
    }
    lab.a_alone_answers(Duration::from_millis(500));
    assert_eq!(
        before,
        lab.transitions(),
        "{}\n{}",
        lab.a.log_text(),
        lab.b.log_text()
    );
    for node in [NODE_A, NODE_B] {
        for bad in ["invalid_hmac", "unknown_key", "missing", "replay"] {
            assert_eq!(lab.outcome(node, bad), 0.0, "node {node}: {bad}");
        }
    }
    assert!(
        lab.a
            .log_text()
            .contains("authentication reloaded in place")
    );
}

#[test]
fn rollout_from_pass_to_enforce_by_sighup_causes_no_transition() {
    if !require_root("rollout_from_pass_to_enforce_by_sighup_causes_no_transition") {
        return;
    }
    let pass = |node: usize| {
        let mut s = spec(node, V2_1S, None);
        s.auth_pass = Some("secret1".to_owned());
        s
    };
    let lab = Lab::new(&pass);
    let before = lab.transitions();
    let mode = |node: usize, m: &'static str| spec(node, V2_1S, Some(AuthHmacSpec::with_mode(m)));
    // Step 1, PASS -> receive-only: the v2 auth type changes (keepalived drops the legacy
    // authentication with auth_hmac), so both nodes take it within one Master_Down_Interval,
    // the backup first.
    lab.reload(NODE_B, &mode(NODE_B, "receive-only"));
    lab.reload(NODE_A, &mode(NODE_A, "receive-only"));
    let unsigned = lab.wait_outcome(NODE_B, "unsigned", 0.0, 2.0);
    // Steps 2 and 3, one node at a time in any order: permissive signs, enforce also refuses
    // unsigned adverts.
    for m in ["permissive", "enforce"] {
        lab.reload(NODE_A, &mode(NODE_A, m));
        lab.reload(NODE_B, &mode(NODE_B, m));
    }
    let ok = lab.wait_outcome(NODE_B, "ok", 0.0, 2.0);
    lab.a_alone_answers(Duration::from_millis(500));
    assert_eq!(
        before,
        lab.transitions(),
        "{}\n{}",
        lab.a.log_text(),
        lab.b.log_text()
    );
    // a now signs every advert: nothing more arrives unsigned.
    std::thread::sleep(Duration::from_secs(2));
    assert!(lab.outcome(NODE_B, "ok") >= ok + 1.0);
    assert!(lab.outcome(NODE_B, "unsigned") <= unsigned + 2.0);
    for bad in ["missing", "invalid_hmac", "replay"] {
        assert_eq!(lab.outcome(NODE_B, bad), 0.0, "{bad}");
    }
}

#[test]
fn keepalived_without_auth_hmac_drops_signed_adverts_as_too_long() {
    if !require_root("keepalived_without_auth_hmac_drops_signed_adverts_as_too_long") {
        return;
    }
    let pair = PairLab::new("a", "b").expect("lab");
    let a = start(&pair, NODE_A, &enforce(NODE_A));
    assert!(
        wait_havip_state(&a, "MASTER", 0, SETTLE).is_some(),
        "{}",
        a.log_text()
    );
    // keepalived 2.2.7 (Debian's) has no auth_hmac: the same instance without the block.
    let k = Keepalived::spawn(
        &pair.lan.nodes[NODE_B],
        &pair.dir,
        "b",
        &spec(NODE_B, V3_100MS, None),
    )
    .expect("keepalived");
    // It cannot hear a (every advert is 28 bytes longer than its address count says), so it
    // takes over after its Master_Down_Interval, as keepalived documents for a peer that
    // signs while it does not.
    assert!(
        k.wait_entered("MASTER", 1, SETTLE),
        "keepalived stayed backup:\n{}",
        k.log_text()
    );
    // keepalived 2.2.7's words, as seen on the wire here: the IPv4 datagram is 20 + 12 + 28.
    let log = k.log_text();
    assert!(
        log.contains("(VI_1) vrrp packet too long, length 60 and expect 32"),
        "keepalived does not say why:\n{log}"
    );
    // And the other way: havip in enforce refuses keepalived's unsigned adverts as `missing`.
    let missing = wait_for(SETTLE, STEP, || {
        let r = http_get(&pair.lan.nodes[NODE_A].ns, METRICS, "/metrics", None).ok()?;
        let n = Scrape::parse(&r.body)
            .ok()?
            .sum("havip_auth_hmac_total", &[("outcome", "missing")]);
        (n >= 3.0).then_some(n)
    });
    assert!(missing.is_some(), "{}", a.log_text());
    assert!(
        a.log_text().contains("cause=\"unsigned\""),
        "{}",
        a.log_text()
    );
}

#[test]
fn a_restarted_signer_continues_its_sequence() {
    if !require_root("a_restarted_signer_continues_its_sequence") {
        return;
    }
    let mut lab = Lab::new(&enforce);
    lab.wait_outcome(NODE_B, "ok", 0.0, 5.0);
    // kill -9: nothing is persisted, the new agent derives its sequence from the clock again.
    lab.a.signal(libc::SIGKILL);
    assert!(
        lab.a.wait(Duration::from_secs(2)).is_some(),
        "kill -9 failed"
    );
    let addr = METRICS.to_string();
    lab.a = spawn_havip_args(
        &lab.pair.lan.nodes[NODE_A],
        &lab.pair.dir,
        "a1",
        &enforce(NODE_A),
        &["--metrics-addr", &addr],
    )
    .expect("restart a");
    // b keeps accepting a's adverts: a sequence below the last one b accepted would be a
    // `replay`, and one from a wrong clock `stale`.
    let ok = lab.outcome(NODE_B, "ok");
    lab.wait_outcome(NODE_B, "ok", ok, 10.0);
    for bad in ["replay", "stale", "invalid_hmac"] {
        assert_eq!(
            lab.outcome(NODE_B, bad),
            0.0,
            "{bad}:\n{}",
            lab.b.log_text()
        );
    }
}
