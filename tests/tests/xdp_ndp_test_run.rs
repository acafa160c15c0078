//! The XDP program's Neighbor Discovery path under `BPF_PROG_TEST_RUN`: Neighbor Solicitations for
//! an IPv6 VIP in, the exact verdict, the exact Neighbor Advertisement bytes out (checksum
//! verified independently, `havip_tests::frames6`), and the one counter each path increments.
//!
//! As in `xdp_test_run.rs`, the program runs as if received on loopback (ifindex 1) of the test's
//! network namespace; nothing is attached to any interface.

use std::{
    net::{Ipv4Addr, Ipv6Addr},
    time::Duration,
};

use havip_agent::dataplane::{Dataplane, VridConfig};
use havip_common::counter;
use havip_tests::{
    entry::{Entry, XDP_DROP, XDP_PASS, XDP_TX, run_entry},
    frames::{self, CLIENT_MAC},
    frames6::{
        self, CLIENT_IP6, NEXTHDR_ICMPV6, dad_probe, icmpv6_checksum, neighbor_solicitation,
    },
    require_root,
};

const LO: u32 = 1;
const VRID: u8 = 51;
const VIP6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x200);
const OTHER6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x99);
const VIP_MAC: [u8; 6] = [0x02, 0x00, 0x5e, 0x00, 0x02, 0x33];
/// The instance's IPv4 side: the kernel validates IPv4 adverts only, and the fence test needs one.
const VIP4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 200);
const OURS: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 12);
const PEER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 11);

struct Outcome {
    verdict: u32,
    bytes: Vec<u8>,
    counters: Vec<(usize, u64)>,
}

fn setup() -> Dataplane {
    let mut dp = Dataplane::load().expect("load the XDP object");
    dp.configure_vrid(
        LO,
        VRID,
        &VridConfig {
            primary_addr: OURS.into(),
            priority: 100,
            version: 3,
            unicast_peers: true,
            v3_checksum_as_v2: false,
            auth_pass: None,
            advert_interval: 100,
            vips: vec![VIP4.into()],
            auth_hmac: false,
        },
    )
    .expect("configure VRID");
    dp.allow_peer(LO, VRID, PEER).expect("allow peer");
    dp.set_vip6(LO, VIP6, VIP_MAC, VRID, LO).expect("set VIP6");
    dp
}

fn run(dp: &mut Dataplane, frame: &[u8]) -> Outcome {
    let before = dp.counters().expect("counters").0;
    // `HAVIP_TEST_ENTRY=tc`: the same expectations through the tc entry point.
    let (verdict, out) = run_entry(dp, Entry::from_env(), frame);
    let after = dp.counters().expect("counters").0;
    let counters = before
        .iter()
        .zip(after.iter())
        .enumerate()
        .filter(|(_, (b, a))| a != b)
        .map(|(i, (b, a))| (i, a - b))
        .collect();
    Outcome {
        verdict,
        bytes: out,
        counters,
    }
}

fn assert_untouched(o: &Outcome, frame: &[u8], verdict: u32, counter: u32, case: &str) {
    assert_eq!(o.verdict, verdict, "{case}: verdict");
    assert_eq!(o.bytes, frame, "{case}: frame must be unchanged");
    assert_eq!(
        o.counters,
        vec![(counter as usize, 1)],
        "{case}: expected exactly {} += 1",
        counter::NAMES[counter as usize]
    );
}

/// The advertisement RFC 4861 7.2.4 asks for, built here byte by byte: to the client, from the
/// VIP with the VIP's MAC, hop limit 255, Solicited and Override, one target link-layer option.
fn expected_na() -> Vec<u8> {
    let mut m = vec![136, 0, 0, 0, 0x60, 0, 0, 0];
    m.extend_from_slice(&VIP6.octets());
    m.extend_from_slice(&[2, 1]);
    m.extend_from_slice(&VIP_MAC);
    let c = icmpv6_checksum(VIP6, CLIENT_IP6, &m);
    m[2..4].copy_from_slice(&c.to_be_bytes());
    let mut f = frames6::ipv6(CLIENT_MAC, VIP6, CLIENT_IP6, NEXTHDR_ICMPV6, 255, &m);
    f[6..12].copy_from_slice(&VIP_MAC);
    f
}

#[test]
fn ns_for_owned_ipv6_vip_is_answered_with_a_solicited_na() {
    if !require_root("ns_for_owned_ipv6_vip_is_answered_with_a_solicited_na") {
        return;
    }
    let mut dp = setup();
    dp.grant(LO, VRID, Duration::from_secs(30)).expect("grant");
    // Without the source link-layer option the frame grows by 8 bytes; with it, it keeps its size;
    // with a further (nonce) option it shrinks.
    let nonce = [14, 1, 1, 2, 3, 4, 5, 6];
    let mut slla_nonce = frames6::source_lladdr_option();
    slla_nonce.extend_from_slice(&nonce);
    let group = frames6::solicited_node(VIP6);
    let long = frames6::ipv6(
        frames6::multicast_mac(group),
        CLIENT_IP6,
        group,
        NEXTHDR_ICMPV6,
        255,
        &frames6::ns_message(CLIENT_IP6, group, VIP6, &slla_nonce),
    );
    for (case, ns) in [
        ("no option", neighbor_solicitation(VIP6, false)),
        (
            "source link-layer option",
            neighbor_solicitation(VIP6, true),
        ),
        ("two options", long),
    ] {
        let o = run(&mut dp, &ns);
        assert_eq!(o.verdict, XDP_TX, "{case}");
        assert_eq!(
            o.counters,
            vec![(counter::NDP_REPLIED as usize, 1)],
            "{case}"
        );
        assert_eq!(o.bytes, expected_na(), "{case}: the exact advertisement");
        let r = &o.bytes;
        assert_eq!(r.len(), 86, "{case}");
        assert_eq!(r[21], 255, "{case}: hop limit 255");
        assert_eq!(r[58], 0x60, "{case}: S and O set, R clear");
        assert_eq!(
            icmpv6_checksum(VIP6, CLIENT_IP6, &r[54..]),
            0,
            "{case}: ICMPv6 checksum right (recomputed independently)"
        );
    }
    let per_vip = dp.vip6_counters(LO, VIP6).expect("read").expect("slot");
    assert_eq!(per_vip.replied, 3);
}

#[test]
fn ns_for_ipv6_vip_not_owned_expired_or_fenced_is_dropped() {
    if !require_root("ns_for_ipv6_vip_not_owned_expired_or_fenced_is_dropped") {
        return;
    }
    let mut dp = setup();
    let ns = neighbor_solicitation(VIP6, true);
    let o = run(&mut dp, &ns);
    assert_untouched(
        &o,
        &ns,
        XDP_DROP,
        counter::NDP_DROP_NOT_OWNED,
        "never granted",
    );

    dp.grant(LO, VRID, Duration::from_millis(1)).expect("grant");
    std::thread::sleep(Duration::from_millis(5));
    let o = run(&mut dp, &ns);
    assert_untouched(
        &o,
        &ns,
        XDP_DROP,
        counter::NDP_DROP_LEASE_EXPIRED,
        "lease expired",
    );

    dp.renew(LO, VRID, Duration::from_secs(30)).expect("renew");
    assert_eq!(
        run(&mut dp, &ns).verdict,
        XDP_TX,
        "renewed lease answers again"
    );

    // A stronger advert fences the grant in the kernel; the NS path obeys the fence.
    let m = frames::vrrp(3, VRID, 150, 100, &[VIP4], None, PEER, OURS);
    let o = run(&mut dp, &frames::ipv4(PEER, OURS, 112, 255, &m));
    assert!(o.counters.contains(&(counter::VRRP_FENCED as usize, 1)));
    let o = run(&mut dp, &ns);
    assert_untouched(&o, &ns, XDP_DROP, counter::NDP_DROP_FENCED, "fenced");

    dp.revoke(LO, VRID).expect("revoke");
    let o = run(&mut dp, &ns);
    assert_untouched(&o, &ns, XDP_DROP, counter::NDP_DROP_NOT_OWNED, "revoked");

    // A VIP whose VRID has no state at all is not owned either (fail-closed).
    dp.set_vip6(LO, OTHER6, VIP_MAC, 99, LO).expect("set VIP6");
    let ns2 = neighbor_solicitation(OTHER6, false);
    let o = run(&mut dp, &ns2);
    assert_untouched(
        &o,
        &ns2,
        XDP_DROP,
        counter::NDP_DROP_NOT_OWNED,
        "unknown VRID",
    );

    let per_vip = dp.vip6_counters(LO, VIP6).expect("read").expect("slot");
    assert_eq!(per_vip.dropped_not_owned, 2);
    assert_eq!(per_vip.dropped_lease_expired, 1);
    assert_eq!(per_vip.dropped_fenced, 1);
    assert_eq!(per_vip.replied, 1);
}

#[test]
fn invalid_ns_naming_a_vip_is_dropped_even_when_owned() {
    if !require_root("invalid_ns_naming_a_vip_is_dropped_even_when_owned") {
        return;
    }
    let mut dp = setup();
    dp.grant(LO, VRID, Duration::from_secs(30)).expect("grant");
    let good = neighbor_solicitation(VIP6, true);
    let mut hop64 = good.clone();
    hop64[21] = 64;
    let mut code1 = good.clone();
    code1[55] = 1;
    let mut short_len = good.clone();
    short_len[18..20].copy_from_slice(&20u16.to_be_bytes());
    for (case, f) in [
        ("hop limit 64", hop64),
        ("code 1", code1),
        ("ICMP length 20", short_len),
    ] {
        let o = run(&mut dp, &f);
        assert_untouched(&o, &f, XDP_DROP, counter::NDP_DROP_INVALID, case);
    }
    // The same faults on an NS for an address that is not a VIP are the stack's business.
    let mut other = neighbor_solicitation(OTHER6, true);
    other[21] = 64;
    let o = run(&mut dp, &other);
    assert_untouched(&o, &other, XDP_PASS, counter::NDP_PASS_NOT_VIP, "not a VIP");
}

#[test]
fn ipv6_frames_that_are_not_ours_pass_unchanged() {
    if !require_root("ipv6_frames_that_are_not_ours_pass_unchanged") {
        return;
    }
    let mut dp = setup();
    dp.grant(LO, VRID, Duration::from_secs(30)).expect("grant");

    let dad = dad_probe(VIP6);
    let o = run(&mut dp, &dad);
    assert_untouched(
        &o,
        &dad,
        XDP_PASS,
        counter::NDP_PASS_DAD,
        "DAD probe for the VIP",
    );
    dp.revoke(LO, VRID).expect("revoke");
    let o = run(&mut dp, &dad);
    assert_untouched(
        &o,
        &dad,
        XDP_PASS,
        counter::NDP_PASS_DAD,
        "DAD probe, not owned",
    );
    dp.grant(LO, VRID, Duration::from_secs(30)).expect("grant");

    let not_vip = neighbor_solicitation(OTHER6, false);
    let o = run(&mut dp, &not_vip);
    assert_untouched(
        &o,
        &not_vip,
        XDP_PASS,
        counter::NDP_PASS_NOT_VIP,
        "not a VIP",
    );

    // An unsolicited NA for the VIP (a new owner announcing it) and an echo request.
    let all_nodes = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
    let mut na = vec![136, 0, 0, 0, 0x20, 0, 0, 0];
    na.extend_from_slice(&VIP6.octets());
    let na = frames6::ipv6(
        frames6::multicast_mac(all_nodes),
        VIP6,
        all_nodes,
        NEXTHDR_ICMPV6,
        255,
        &na,
    );
    let o = run(&mut dp, &na);
    assert_untouched(&o, &na, XDP_PASS, counter::NDP_PASS_NOT_SOLICITATION, "NA");
    let echo = frames6::ipv6(
        CLIENT_MAC,
        CLIENT_IP6,
        VIP6,
        NEXTHDR_ICMPV6,
        64,
        &[128, 0, 0, 0, 0, 1, 0, 1],
    );
    let o = run(&mut dp, &echo);
    assert_untouched(
        &o,
        &echo,
        XDP_PASS,
        counter::NDP_PASS_NOT_SOLICITATION,
        "echo",
    );

    // UDP, and an NS behind a hop-by-hop options header (the stack parses extension chains).
    let udp = frames6::ipv6(
        CLIENT_MAC,
        CLIENT_IP6,
        VIP6,
        17,
        64,
        &[0, 1, 0, 2, 0, 8, 0, 0],
    );
    let o = run(&mut dp, &udp);
    assert_untouched(&o, &udp, XDP_PASS, counter::PASS_IPV6, "UDP");
    let ns = neighbor_solicitation(VIP6, false);
    let mut hbh = vec![NEXTHDR_ICMPV6, 0, 1, 4, 0, 0, 0, 0];
    hbh.extend_from_slice(&ns[54..]);
    let ext = frames6::ipv6(
        ns[..6].try_into().expect("mac"),
        CLIENT_IP6,
        frames6::solicited_node(VIP6),
        0,
        255,
        &hbh,
    );
    let o = run(&mut dp, &ext);
    assert_untouched(
        &o,
        &ext,
        XDP_PASS,
        counter::PASS_IPV6,
        "hop-by-hop before ICMPv6",
    );
}

#[test]
fn every_truncation_of_an_ns_for_an_owned_vip_passes_unchanged() {
    if !require_root("every_truncation_of_an_ns_for_an_owned_vip_passes_unchanged") {
        return;
    }
    let mut dp = setup();
    dp.grant(LO, VRID, Duration::from_secs(30)).expect("grant");
    let ns = neighbor_solicitation(VIP6, false);
    assert_eq!(ns.len(), 78);
    // Under 14 bytes the kernel refuses the test frame itself.
    for len in 14..ns.len() {
        let cut = &ns[..len];
        let counter = if len < 54 {
            counter::PASS_IPV6
        } else {
            counter::NDP_PASS_TRUNCATED
        };
        let o = run(&mut dp, cut);
        assert_untouched(&o, cut, XDP_PASS, counter, &format!("len {len}"));
    }
    assert_eq!(
        run(&mut dp, &ns).verdict,
        XDP_TX,
        "the whole NS is answered"
    );
}
