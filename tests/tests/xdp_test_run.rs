//! The XDP program under `BPF_PROG_TEST_RUN`: each case a crafted frame in, the exact verdict, the
//! exact bytes out, and the counter that path must increment.
//!
//! Without a context argument the kernel runs the program as if received on the loopback device
//! of the calling thread's network namespace, so the maps are keyed by ifindex 1. Nothing is
//! attached to any interface.

use std::{net::Ipv4Addr, time::Duration};

use aya::programs::{TestRun as _, TestRunOptions};
use havip_agent::dataplane::{Dataplane, VridConfig};
use havip_common::{AdvertEvent, counter, event_flags};
use havip_tests::{
    frames::{self, CLIENT_IP, CLIENT_MAC},
    require_root,
};

const LO: u32 = 1;
const VRID: u8 = 51;
const VIP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 200);
const VIP_MAC: [u8; 6] = [0x02, 0x00, 0x5e, 0x00, 0x01, 0x33];
const OURS: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 12);
const PEER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 11);

const XDP_DROP: u32 = 1;
const XDP_PASS: u32 = 2;
const XDP_TX: u32 = 3;

struct Outcome {
    verdict: u32,
    bytes: Vec<u8>,
    counters: Vec<(usize, u64)>,
}

fn setup(version: u8, auth: Option<[u8; 8]>) -> Dataplane {
    let mut dp = Dataplane::load().expect("load the XDP object");
    dp.configure_vrid(
        LO,
        VRID,
        &VridConfig {
            primary_addr: OURS,
            priority: 100,
            version,
            unicast_peers: true,
            v3_checksum_as_v2: false,
            auth_pass: auth,
        },
    )
    .expect("configure VRID");
    dp.allow_peer(LO, VRID, PEER).expect("allow peer");
    dp.set_vip(LO, VIP, VIP_MAC, VRID, LO).expect("set VIP");
    dp
}

fn run(dp: &mut Dataplane, frame: &[u8]) -> Outcome {
    let before = dp.counters().expect("counters").0;
    let mut out = vec![0u8; frame.len() + 64];
    let result = dp
        .xdp_program()
        .expect("program")
        .test_run(TestRunOptions {
            data_in: Some(frame),
            data_out: Some(&mut out),
            ..TestRunOptions::default()
        })
        .expect("BPF_PROG_TEST_RUN");
    out.truncate(result.data_size_out as usize);
    let after = dp.counters().expect("counters").0;
    let counters = before
        .iter()
        .zip(after.iter())
        .enumerate()
        .filter(|(_, (b, a))| a != b)
        .map(|(i, (b, a))| (i, a - b))
        .collect();
    Outcome {
        verdict: result.return_value,
        bytes: out,
        counters,
    }
}

/// Asserts `verdict`, the frame unchanged, and exactly one increment of `counter`.
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

#[test]
fn arp_request_for_owned_vip_is_answered_in_place() {
    if !require_root("arp_request_for_owned_vip_is_answered_in_place") {
        return;
    }
    let mut dp = setup(3, None);
    dp.grant(LO, VRID, Duration::from_secs(30)).expect("grant");
    let req = frames::arp_request(VIP);
    let o = run(&mut dp, &req);
    assert_eq!(o.verdict, XDP_TX);
    assert_eq!(o.counters, vec![(counter::ARP_REPLIED as usize, 1)]);
    let r = &o.bytes;
    assert_eq!(r.len(), 42);
    assert_eq!(r[0..6], CLIENT_MAC, "eth dst = requester");
    assert_eq!(r[6..12], VIP_MAC, "eth src = VIP MAC");
    assert_eq!(r[12..14], [0x08, 0x06], "ethertype ARP");
    assert_eq!(r[14..16], [0, 1], "htype Ethernet");
    assert_eq!(r[16..18], [0x08, 0x00], "ptype IPv4");
    assert_eq!(r[18..20], [6, 4], "hlen, plen");
    assert_eq!(r[20..22], [0, 2], "op reply");
    assert_eq!(r[22..28], VIP_MAC, "sha = VIP MAC");
    assert_eq!(r[28..32], VIP.octets(), "spa = VIP");
    assert_eq!(r[32..38], CLIENT_MAC, "tha = requester MAC");
    assert_eq!(r[38..42], CLIENT_IP.octets(), "tpa = requester IP");
    let per_vip = dp.vip_counters(LO, VIP).expect("read").expect("slot");
    assert_eq!(per_vip.replied, 1);
    assert!(dp.owned_now(LO, VRID).expect("owned"));
}

#[test]
fn arp_for_vip_not_owned_or_expired_is_dropped() {
    if !require_root("arp_for_vip_not_owned_or_expired_is_dropped") {
        return;
    }
    let mut dp = setup(3, None);
    let req = frames::arp_request(VIP);
    let o = run(&mut dp, &req);
    assert_untouched(
        &o,
        &req,
        XDP_DROP,
        counter::ARP_DROP_NOT_OWNED,
        "never granted",
    );

    dp.grant(LO, VRID, Duration::from_millis(1)).expect("grant");
    std::thread::sleep(Duration::from_millis(5));
    let o = run(&mut dp, &req);
    assert_untouched(
        &o,
        &req,
        XDP_DROP,
        counter::ARP_DROP_LEASE_EXPIRED,
        "lease expired",
    );

    dp.renew(LO, VRID, Duration::from_secs(30)).expect("renew");
    assert_eq!(
        run(&mut dp, &req).verdict,
        XDP_TX,
        "renewed lease answers again"
    );

    dp.revoke(LO, VRID).expect("revoke");
    let o = run(&mut dp, &req);
    assert_untouched(&o, &req, XDP_DROP, counter::ARP_DROP_NOT_OWNED, "revoked");

    // A VIP whose VRID has no state at all is not owned either (fail-closed).
    dp.set_vip(LO, Ipv4Addr::new(192, 0, 2, 201), VIP_MAC, 99, LO)
        .expect("set VIP");
    let req2 = frames::arp_request(Ipv4Addr::new(192, 0, 2, 201));
    let o = run(&mut dp, &req2);
    assert_untouched(
        &o,
        &req2,
        XDP_DROP,
        counter::ARP_DROP_NOT_OWNED,
        "unknown VRID",
    );
    let per_vip = dp.vip_counters(LO, VIP).expect("read").expect("slot");
    assert_eq!(per_vip.dropped_not_owned, 2);
    assert_eq!(per_vip.dropped_lease_expired, 1);
}

#[test]
fn frames_that_are_not_ours_pass_unchanged() {
    if !require_root("frames_that_are_not_ours_pass_unchanged") {
        return;
    }
    let mut dp = setup(3, None);
    dp.grant(LO, VRID, Duration::from_secs(30)).expect("grant");

    let non_vip = frames::arp_request(Ipv4Addr::new(192, 0, 2, 99));
    let o = run(&mut dp, &non_vip);
    assert_untouched(&o, &non_vip, XDP_PASS, counter::ARP_PASS_NOT_VIP, "non-VIP");

    let garp = frames::arp(1, [2, 0, 0, 0, 0, 7], VIP, [0; 6], VIP);
    let o = run(&mut dp, &garp);
    assert_untouched(
        &o,
        &garp,
        XDP_PASS,
        counter::ARP_PASS_GRATUITOUS,
        "gratuitous",
    );

    let reply = frames::arp(2, [2, 0, 0, 0, 0, 7], VIP, CLIENT_MAC, CLIENT_IP);
    let o = run(&mut dp, &reply);
    assert_untouched(&o, &reply, XDP_PASS, counter::ARP_PASS_NOT_REQUEST, "reply");

    let mut unsupported = frames::arp_request(VIP);
    unsupported[18] = 8; // hlen 8: not Ethernet/IPv4 ARP
    let o = run(&mut dp, &unsupported);
    assert_untouched(
        &o,
        &unsupported,
        XDP_PASS,
        counter::ARP_PASS_UNSUPPORTED,
        "hlen",
    );

    let mut vlan = Vec::new();
    let req = frames::arp_request(VIP);
    vlan.extend_from_slice(&req[..12]);
    vlan.extend_from_slice(&[0x81, 0x00, 0x00, 0x64]);
    vlan.extend_from_slice(&req[12..]);
    let o = run(&mut dp, &vlan);
    assert_untouched(&o, &vlan, XDP_PASS, counter::PASS_VLAN, "VLAN-tagged ARP");

    let mut v6 = vec![0x33, 0x33, 0, 0, 0, 1];
    v6.extend_from_slice(&CLIENT_MAC);
    v6.extend_from_slice(&[0x86, 0xdd]);
    v6.extend_from_slice(&[0x60, 0, 0, 0, 0, 0, 59, 64]);
    v6.extend_from_slice(&[0u8; 32]);
    let o = run(&mut dp, &v6);
    assert_untouched(&o, &v6, XDP_PASS, counter::PASS_IPV6, "IPv6");

    let udp = frames::ipv4(CLIENT_IP, VIP, 17, 64, &[0, 53, 0, 53, 0, 8, 0, 0]);
    let o = run(&mut dp, &udp);
    assert_untouched(&o, &udp, XDP_PASS, counter::PASS_IPV4, "IPv4 UDP");

    let mut other = frames::arp_request(VIP);
    other[12..14].copy_from_slice(&[0x88, 0xcc]); // LLDP
    let o = run(&mut dp, &other);
    assert_untouched(&o, &other, XDP_PASS, counter::PASS_OTHER, "LLDP");
}

#[test]
fn every_truncation_of_an_arp_request_passes_unchanged() {
    if !require_root("every_truncation_of_an_arp_request_passes_unchanged") {
        return;
    }
    let mut dp = setup(3, None);
    dp.grant(LO, VRID, Duration::from_secs(30)).expect("grant");
    let req = frames::arp_request(VIP);
    // The kernel itself refuses test frames shorter than an Ethernet header (EINVAL), so the
    // program can only ever see 14 bytes or more.
    for len in 14..req.len() {
        let cut = &req[..len];
        let o = run(&mut dp, cut);
        assert_untouched(
            &o,
            cut,
            XDP_PASS,
            counter::ARP_PASS_TRUNCATED,
            &format!("len {len}"),
        );
    }
    let mut out = vec![0u8; 64];
    let short = dp.xdp_program().expect("program").test_run(TestRunOptions {
        data_in: Some(&req[..13]),
        data_out: Some(&mut out),
        ..TestRunOptions::default()
    });
    assert!(short.is_err(), "the kernel rejects frames under 14 bytes");
}

fn read_event(
    dp: &mut Dataplane,
    rb: &mut aya::maps::RingBuf<aya::maps::MapData>,
) -> Option<AdvertEvent> {
    let _ = dp;
    let item = rb.next()?;
    assert!(item.len() >= size_of::<AdvertEvent>());
    // SAFETY: the kernel wrote a whole AdvertEvent (length checked); read unaligned.
    Some(unsafe { std::ptr::read_unaligned(item.as_ptr().cast::<AdvertEvent>()) })
}

#[test]
fn valid_adverts_are_consumed_recorded_and_delivered() {
    if !require_root("valid_adverts_are_consumed_recorded_and_delivered") {
        return;
    }
    let mut dp = setup(3, None);
    let mut rb = dp.take_events().expect("ring buffer");
    let msg = frames::vrrp(3, VRID, 90, 100, &[VIP], None, PEER, OURS);
    let f = frames::ipv4(PEER, OURS, 112, 255, &msg);
    let o = run(&mut dp, &f);
    assert_eq!(
        o.verdict, XDP_DROP,
        "consumed: no ICMP protocol-unreachable from the stack"
    );
    assert_eq!(o.counters, vec![(counter::VRRP_ACCEPTED as usize, 1)]);
    let ev = read_event(&mut dp, &mut rb).expect("event delivered");
    assert_eq!(ev.ifindex, LO);
    assert_eq!(ev.src, PEER.octets());
    assert_eq!(ev.dst, OURS.octets());
    assert_eq!(ev.ttl, 255);
    assert_eq!(ev.flags, 0);
    assert_eq!(&ev.vrrp[..usize::from(ev.vrrp_len)], &msg[..]);
    let peers = dp.peers();
    assert_eq!(peers.len(), 1);
    assert_eq!(peers[0].1.priority, 90);
    assert_eq!(peers[0].1.adver_int, 100);
    assert_eq!(peers[0].1.version, 3);
}

#[test]
#[expect(clippy::too_many_lines, reason = "a table of cases")]
fn invalid_adverts_are_dropped_by_reason() {
    if !require_root("invalid_adverts_are_dropped_by_reason") {
        return;
    }
    let mut dp = setup(3, None);
    let mut rb = dp.take_events().expect("ring buffer");
    let good = frames::vrrp(3, VRID, 90, 100, &[VIP], None, PEER, OURS);
    let cases: Vec<(&str, Vec<u8>, u32)> = vec![
        (
            "TTL 254",
            frames::ipv4(PEER, OURS, 112, 254, &good),
            counter::VRRP_DROP_TTL,
        ),
        (
            "unknown peer",
            frames::ipv4(
                Ipv4Addr::new(192, 0, 2, 66),
                OURS,
                112,
                255,
                &frames::vrrp(
                    3,
                    VRID,
                    90,
                    100,
                    &[VIP],
                    None,
                    Ipv4Addr::new(192, 0, 2, 66),
                    OURS,
                ),
            ),
            counter::VRRP_DROP_UNKNOWN_PEER,
        ),
        (
            "bad checksum",
            {
                let mut m = good.clone();
                m[7] ^= 0x55;
                frames::ipv4(PEER, OURS, 112, 255, &m)
            },
            counter::VRRP_DROP_CHECKSUM,
        ),
        (
            "v3 checksum computed as v2 (no pseudo-header)",
            {
                let mut m = good.clone();
                m[6..8].copy_from_slice(&[0, 0]);
                let c = frames::inet_checksum(&m);
                m[6..8].copy_from_slice(&c.to_be_bytes());
                frames::ipv4(PEER, OURS, 112, 255, &m)
            },
            counter::VRRP_DROP_CHECKSUM,
        ),
        (
            "version 2 on a v3 instance",
            frames::ipv4(
                PEER,
                OURS,
                112,
                255,
                &frames::vrrp(2, VRID, 90, 1, &[VIP], None, PEER, OURS),
            ),
            counter::VRRP_DROP_VERSION,
        ),
        (
            "type 2",
            {
                let mut m = good.clone();
                m[0] = 0x32;
                frames::ipv4(PEER, OURS, 112, 255, &m)
            },
            counter::VRRP_DROP_TYPE,
        ),
        (
            "address count too large",
            {
                let mut m = good.clone();
                m[3] = 2;
                frames::ipv4(PEER, OURS, 112, 255, &m)
            },
            counter::VRRP_DROP_LENGTH,
        ),
        (
            "truncated VRRP header",
            frames::ipv4(PEER, OURS, 112, 255, &good[..6]),
            counter::VRRP_DROP_TRUNCATED,
        ),
        (
            "our own advert",
            frames::ipv4(
                OURS,
                OURS,
                112,
                255,
                &frames::vrrp(3, VRID, 90, 100, &[VIP], None, OURS, OURS),
            ),
            counter::VRRP_DROP_OWN,
        ),
        (
            "fragment",
            {
                let mut f = frames::ipv4(PEER, OURS, 112, 255, &good);
                f[14 + 6] = 0x20; // MF
                f
            },
            counter::VRRP_DROP_IP_HEADER,
        ),
    ];
    for (case, frame, reason) in cases {
        let o = run(&mut dp, &frame);
        assert_untouched(&o, &frame, XDP_DROP, reason, case);
    }
    assert!(
        read_event(&mut dp, &mut rb).is_none(),
        "no event for any invalid advert"
    );
    assert!(dp.peers().is_empty(), "no peer recorded");

    let other = frames::vrrp(3, 7, 90, 100, &[VIP], None, PEER, OURS);
    let f = frames::ipv4(PEER, OURS, 112, 255, &other);
    let o = run(&mut dp, &f);
    assert_untouched(
        &o,
        &f,
        XDP_PASS,
        counter::VRRP_PASS_UNKNOWN_VRID,
        "another VRID",
    );
}

#[test]
fn keepalived_v2_advert_and_simple_password() {
    if !require_root("keepalived_v2_advert_and_simple_password") {
        return;
    }
    let mut dp = setup(2, None);
    let f = frames::keepalived_frame();
    let o = run(&mut dp, &f);
    assert_eq!(o.verdict, XDP_DROP);
    assert_eq!(
        o.counters,
        vec![(counter::VRRP_ACCEPTED as usize, 1)],
        "keepalived's bytes"
    );

    let pass = *b"1111\0\0\0\0";
    let mut dp = setup(2, Some(pass));
    let good = frames::vrrp(2, VRID, 90, 1, &[VIP], Some(pass), PEER, OURS);
    let o = run(&mut dp, &frames::ipv4(PEER, OURS, 112, 255, &good));
    assert_eq!(
        o.counters,
        vec![(counter::VRRP_ACCEPTED as usize, 1)],
        "right password"
    );
    let bad = frames::vrrp(2, VRID, 90, 1, &[VIP], Some(*b"2222\0\0\0\0"), PEER, OURS);
    let f = frames::ipv4(PEER, OURS, 112, 255, &bad);
    let o = run(&mut dp, &f);
    assert_untouched(&o, &f, XDP_DROP, counter::VRRP_DROP_AUTH, "wrong password");
    let o = run(&mut dp, &frames::keepalived_frame());
    assert_eq!(
        o.counters,
        vec![(counter::VRRP_DROP_AUTH as usize, 1)],
        "no auth where PASS is set"
    );
}

#[test]
fn stronger_advert_fences_ownership_in_the_same_packet() {
    if !require_root("stronger_advert_fences_ownership_in_the_same_packet") {
        return;
    }
    let mut dp = setup(3, None);
    let mut rb = dp.take_events().expect("ring buffer");
    dp.grant(LO, VRID, Duration::from_secs(30)).expect("grant");
    let req = frames::arp_request(VIP);

    // Lower priority, and equal priority from a lower address: no fence.
    for (prio, src) in [(90, PEER), (100, PEER)] {
        let m = frames::vrrp(3, VRID, prio, 100, &[VIP], None, src, OURS);
        let o = run(&mut dp, &frames::ipv4(src, OURS, 112, 255, &m));
        assert_eq!(o.counters, vec![(counter::VRRP_ACCEPTED as usize, 1)]);
        assert_eq!(read_event(&mut dp, &mut rb).expect("event").flags, 0);
        assert_eq!(
            run(&mut dp, &req).verdict,
            XDP_TX,
            "still owner after prio {prio}"
        );
    }
    // Priority 0 (master shutting down) does not fence either.
    let m = frames::vrrp(3, VRID, 0, 100, &[VIP], None, PEER, OURS);
    run(&mut dp, &frames::ipv4(PEER, OURS, 112, 255, &m));
    assert_eq!(read_event(&mut dp, &mut rb).expect("event").flags, 0);

    // Higher priority: fenced in the same invocation.
    let m = frames::vrrp(3, VRID, 150, 100, &[VIP], None, PEER, OURS);
    let o = run(&mut dp, &frames::ipv4(PEER, OURS, 112, 255, &m));
    let mut expect = vec![
        (counter::VRRP_ACCEPTED as usize, 1),
        (counter::VRRP_FENCED as usize, 1),
    ];
    expect.sort_unstable();
    assert_eq!(o.counters, expect);
    let ev = read_event(&mut dp, &mut rb).expect("event");
    assert_eq!(ev.flags & event_flags::FENCED, event_flags::FENCED);
    let o = run(&mut dp, &req);
    assert_untouched(&o, &req, XDP_DROP, counter::ARP_DROP_FENCED, "fenced");
    assert!(!dp.owned_now(LO, VRID).expect("owned"));
    let fence = dp.fence(LO, VRID).expect("fence");
    assert_eq!(fence.by_addr, PEER.octets());
    assert_eq!(fence.by_priority, 150);

    // Renewing the fenced grant cannot bring ownership back; a new grant can.
    dp.renew(LO, VRID, Duration::from_secs(30)).expect("renew");
    assert_eq!(
        run(&mut dp, &req).verdict,
        XDP_DROP,
        "renewal keeps the fence"
    );
    dp.grant(LO, VRID, Duration::from_secs(30)).expect("grant");
    assert_eq!(run(&mut dp, &req).verdict, XDP_TX, "a new grant owns again");

    // Equal priority from a higher address also wins (RFC 9568 6.4.3).
    let hi = Ipv4Addr::new(192, 0, 2, 99);
    dp.allow_peer(LO, VRID, hi).expect("allow");
    let m = frames::vrrp(3, VRID, 100, 100, &[VIP], None, hi, OURS);
    run(&mut dp, &frames::ipv4(hi, OURS, 112, 255, &m));
    assert_eq!(
        run(&mut dp, &req).verdict,
        XDP_DROP,
        "tie lost to a higher address"
    );
}
