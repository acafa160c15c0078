//! The XDP program under `BPF_PROG_TEST_RUN`: each case a crafted frame in, the exact verdict, the
//! exact bytes out, and the counter that path must increment.
//!
//! Without a context argument the kernel runs the program as if received on the loopback device
//! of the calling thread's network namespace, so the maps are keyed by ifindex 1. Nothing is
//! attached to any interface.

use std::{net::Ipv4Addr, time::Duration};

use aya::programs::{TestRun as _, TestRunOptions};
use havip_agent::{
    dataplane::{Dataplane, VridConfig},
    vrrp::{
        Action, AdvertInterval, AdvertRepr, Auth, Centiseconds, ChecksumMode, Event, GarpParams,
        InitialState, Instance, InstanceParams, Instant, Seconds, State, Version,
    },
};
use havip_common::{AdvertEvent, counter, event_flags};
use havip_tests::{
    entry::{Entry, XDP_DROP, XDP_PASS, XDP_TX, run_entry},
    frames::{self, CLIENT_IP, CLIENT_MAC},
    require_root,
};

const LO: u32 = 1;
const VRID: u8 = 51;
const VIP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 200);
const VIP_MAC: [u8; 6] = [0x02, 0x00, 0x5e, 0x00, 0x01, 0x33];
const OURS: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 12);
const PEER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 11);

struct Outcome {
    verdict: u32,
    bytes: Vec<u8>,
    counters: Vec<(usize, u64)>,
}

fn setup(version: u8, auth: Option<[u8; 8]>) -> Dataplane {
    setup_with(version, auth, false)
}

/// [`setup`], and `auth_hmac` sets `vrid_flags::AUTH_HMAC`.
fn setup_with(version: u8, auth: Option<[u8; 8]>, auth_hmac: bool) -> Dataplane {
    let mut dp = Dataplane::load().expect("load the XDP object");
    dp.configure_vrid(
        LO,
        VRID,
        &VridConfig {
            primary_addr: OURS.into(),
            priority: 100,
            version,
            unicast_peers: true,
            v3_checksum_as_v2: false,
            auth_pass: auth,
            advert_interval: if version == 2 { 1 } else { 100 },
            vips: vec![VIP.into()],
            auth_hmac,
        },
    )
    .expect("configure VRID");
    dp.allow_peer(LO, VRID, PEER).expect("allow peer");
    dp.set_vip(LO, VIP, VIP_MAC, VRID, LO).expect("set VIP");
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

    // Odd layouts and tags pass as long as they name no VIP (the VIP cases are in
    // `arp_frames_naming_a_vip_fail_closed` and `vlan_tagged_arp_for_a_vip_is_dropped`).
    let mut unsupported = frames::arp_request(Ipv4Addr::new(192, 0, 2, 99));
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
    let req = frames::arp_request(Ipv4Addr::new(192, 0, 2, 99));
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
    assert_eq!(ev.src, havip_common::v4_mapped(PEER.octets()));
    assert_eq!(ev.dst, havip_common::v4_mapped(OURS.octets()));
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
    assert_eq!(fence.by_addr, havip_common::v4_mapped(PEER.octets()));
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

/// keepalived `auth_hmac` (`vrid_flags::AUTH_HMAC`): the 28-byte trailer is taken and handed
/// to the agent, every other check still applies, and an advert never fences in the kernel;
/// the same instance without the flag fences on priority 255 and drops the trailer as `length`.
#[test]
fn auth_hmac_adverts_reach_the_agent_and_never_fence() {
    if !require_root("auth_hmac_adverts_reach_the_agent_and_never_fence") {
        return;
    }
    let req = frames::arp_request(VIP);
    let plain = frames::vrrp(3, VRID, 255, 100, &[VIP], None, PEER, OURS);
    // The kernel cannot check the HMAC: any trailer bytes do here.
    let mut signed = plain.clone();
    signed.extend_from_slice(&[1, 1, 0, 0]);
    signed.extend_from_slice(&[0x5a; 24]);

    let mut dp = setup_with(3, None, true);
    let mut rb = dp.take_events().expect("ring buffer");
    dp.grant(LO, VRID, Duration::from_secs(30)).expect("grant");
    for (case, msg) in [("signed", &signed), ("unsigned", &plain)] {
        let o = run(&mut dp, &frames::ipv4(PEER, OURS, 112, 255, msg));
        assert_eq!(o.verdict, XDP_DROP, "{case}: consumed");
        assert_eq!(
            o.counters,
            vec![(counter::VRRP_ACCEPTED as usize, 1)],
            "{case}"
        );
        let ev = read_event(&mut dp, &mut rb).expect("event");
        assert_eq!(ev.flags, 0, "{case}: not fenced");
        assert_eq!(
            &ev.vrrp[..usize::from(ev.vrrp_len)],
            &msg[..],
            "{case}: whole advert"
        );
        assert_eq!(run(&mut dp, &req).verdict, XDP_TX, "{case}: still owner");
    }
    // Everything else is still checked: TTL, peer, checksum (over the PDU only), length.
    assert_dropped(
        &mut dp,
        &frames::ipv4(PEER, OURS, 112, 254, &signed),
        counter::VRRP_DROP_TTL,
        "signed, TTL 254",
    );
    let stranger = Ipv4Addr::new(192, 0, 2, 77);
    let mut foreign = frames::vrrp(3, VRID, 255, 100, &[VIP], None, stranger, OURS);
    foreign.extend_from_slice(&signed[plain.len()..]);
    assert_dropped(
        &mut dp,
        &frames::ipv4(stranger, OURS, 112, 255, &foreign),
        counter::VRRP_DROP_UNKNOWN_PEER,
        "signed, not a peer",
    );
    let mut bad = signed.clone();
    bad[6] ^= 0xff;
    assert_dropped(
        &mut dp,
        &frames::ipv4(PEER, OURS, 112, 255, &bad),
        counter::VRRP_DROP_CHECKSUM,
        "signed, bad checksum",
    );
    let mut long = signed.clone();
    long.extend_from_slice(&[0; 4]);
    assert_dropped(
        &mut dp,
        &frames::ipv4(PEER, OURS, 112, 255, &long),
        counter::VRRP_DROP_LENGTH,
        "trailer + 4",
    );
    assert!(dp.owned_now(LO, VRID).expect("owned"));

    // The same instance without the flag: a signed advert is too long (as in keepalived
    // without auth_hmac), and the unsigned priority-255 advert fences at once.
    let mut dp = setup_with(3, None, false);
    let mut rb = dp.take_events().expect("ring buffer");
    dp.grant(LO, VRID, Duration::from_secs(30)).expect("grant");
    assert_dropped(
        &mut dp,
        &frames::ipv4(PEER, OURS, 112, 255, &signed),
        counter::VRRP_DROP_LENGTH,
        "signed without auth_hmac",
    );
    let o = run(&mut dp, &frames::ipv4(PEER, OURS, 112, 255, &plain));
    assert!(o.counters.contains(&(counter::VRRP_FENCED as usize, 1)));
    let ev = read_event(&mut dp, &mut rb).expect("event");
    assert_eq!(ev.flags & event_flags::FENCED, event_flags::FENCED);
    assert_eq!(run(&mut dp, &req).verdict, XDP_DROP, "fenced");
}

/// Asserts a drop with the frame unchanged and exactly one increment of `counter`.
fn assert_dropped(dp: &mut Dataplane, frame: &[u8], counter: u32, case: &str) {
    let o = run(dp, frame);
    assert_untouched(&o, frame, XDP_DROP, counter, case);
}

#[test]
fn arp_frames_naming_a_vip_fail_closed() {
    if !require_root("arp_frames_naming_a_vip_fail_closed") {
        return;
    }
    let mut dp = setup(3, None);
    let req = frames::arp_request(VIP);
    // (case, byte offset, new value): each makes the request a layout the program does not
    // answer; the target at the Ethernet/IPv4 position stays the VIP.
    let variants: [(&str, usize, u8); 5] = [
        ("htype 6 (IEEE 802, accepted by Linux on Ethernet)", 15, 6),
        ("htype 0x0100", 14, 1),
        ("ptype 0x0806", 17, 0x06),
        ("hlen 8", 18, 8),
        ("plen 16", 19, 16),
    ];
    for owned in [false, true] {
        if owned {
            dp.grant(LO, VRID, Duration::from_secs(30)).expect("grant");
        }
        for (case, off, value) in variants {
            let mut f = req.clone();
            f[off] = value;
            let case = format!("{case}, owned {owned}");
            assert_dropped(&mut dp, &f, counter::ARP_DROP_UNSUPPORTED, &case);
        }
        // hlen 4 moves the target to where its own lengths put it (8 + 2 * 4 + 4 = 20).
        let mut f = req[..14 + 8].to_vec();
        f[18] = 4;
        f.extend_from_slice(&[2, 0, 0, 1]); // sha
        f.extend_from_slice(&CLIENT_IP.octets()); // spa
        f.extend_from_slice(&[0; 4]); // tha
        f.extend_from_slice(&VIP.octets()); // tpa
        f.resize(60, 0);
        assert_dropped(&mut dp, &f, counter::ARP_DROP_UNSUPPORTED, "hlen 4");
    }
    // A VIP is never passed on the opcode either: a reply or RARP op for a VIP not owned is
    // dropped by the ownership rule; a reply to the owned VIP passes (it answers the owner).
    dp.revoke(LO, VRID).expect("revoke");
    for op in [2u16, 3, 4, 0x100] {
        let f = frames::arp(op, [2, 0, 0, 0, 0, 7], CLIENT_IP, VIP_MAC, VIP);
        assert_dropped(
            &mut dp,
            &f,
            counter::ARP_DROP_NOT_OWNED,
            &format!("op {op}"),
        );
    }
    dp.grant(LO, VRID, Duration::from_secs(30)).expect("grant");
    let reply = frames::arp(2, [2, 0, 0, 0, 0, 7], CLIENT_IP, VIP_MAC, VIP);
    let o = run(&mut dp, &reply);
    assert_untouched(
        &o,
        &reply,
        XDP_PASS,
        counter::ARP_PASS_NOT_REQUEST,
        "reply to the owned VIP",
    );
    let per_vip = dp.vip_counters(LO, VIP).expect("read").expect("slot");
    assert_eq!(per_vip.dropped_not_owned, 4);
    assert_eq!(per_vip.replied, 0, "no odd layout was ever answered");
}

#[test]
fn vlan_tagged_arp_for_a_vip_is_dropped() {
    if !require_root("vlan_tagged_arp_for_a_vip_is_dropped") {
        return;
    }
    let mut dp = setup(3, None);
    dp.grant(LO, VRID, Duration::from_secs(30)).expect("grant");
    let req = frames::arp_request(VIP);
    let tags: [(&str, &[(u16, u16)]); 4] = [
        ("802.1Q", &[(0x8100, 100)]),
        ("802.1ad", &[(0x88a8, 100)]),
        ("QinQ 802.1ad + 802.1Q", &[(0x88a8, 100), (0x8100, 200)]),
        ("802.1Q + 802.1Q", &[(0x8100, 100), (0x8100, 200)]),
    ];
    for (case, t) in tags {
        let f = frames::vlan_tagged(&req, t);
        // Owned, yet not answered on a tagged network: the VIP lives on the untagged one.
        assert_dropped(&mut dp, &f, counter::VLAN_DROP_VIP, case);
        let mut odd = f.clone();
        odd[f.len() - 28 + 1] = 6; // htype 6 inside the tag(s)
        assert_dropped(
            &mut dp,
            &odd,
            counter::VLAN_DROP_VIP,
            &format!("{case}, htype 6"),
        );
        let other = frames::vlan_tagged(&frames::arp_request(Ipv4Addr::new(192, 0, 2, 99)), t);
        let o = run(&mut dp, &other);
        assert_untouched(
            &o,
            &other,
            XDP_PASS,
            counter::PASS_VLAN,
            &format!("{case}, not a VIP"),
        );
        let udp = frames::vlan_tagged(
            &frames::ipv4(CLIENT_IP, VIP, 17, 64, &[0, 53, 0, 53, 0, 8, 0, 0]),
            t,
        );
        let o = run(&mut dp, &udp);
        assert_untouched(
            &o,
            &udp,
            XDP_PASS,
            counter::PASS_VLAN,
            &format!("{case}, IPv4"),
        );
    }
    // A tag cut short names nothing.
    let cut = &frames::vlan_tagged(&req, &[(0x8100, 100)])[..16];
    let o = run(&mut dp, cut);
    assert_untouched(&o, cut, XDP_PASS, counter::PASS_VLAN, "truncated tag");
    assert_eq!(
        dp.vip_counters(LO, VIP)
            .expect("read")
            .expect("slot")
            .replied,
        0
    );
}

#[test]
fn vip_on_another_dev_is_owned_by_the_instance_interface() {
    // The instance runs on interface 77; its VIP with `dev lo` is answered on lo (ifindex 1).
    const INSTANCE_IF: u32 = 77;
    if !require_root("vip_on_another_dev_is_owned_by_the_instance_interface") {
        return;
    }
    let other_vip = Ipv4Addr::new(192, 0, 2, 210);
    let mut dp = setup(3, None);
    dp.configure_vrid(
        INSTANCE_IF,
        VRID,
        &VridConfig {
            primary_addr: OURS.into(),
            priority: 100,
            version: 3,
            unicast_peers: true,
            v3_checksum_as_v2: false,
            auth_pass: None,
            advert_interval: 100,
            vips: vec![other_vip.into()],
            auth_hmac: false,
        },
    )
    .expect("configure");
    dp.set_vip(LO, other_vip, VIP_MAC, VRID, INSTANCE_IF)
        .expect("set VIP");
    let req = frames::arp_request(other_vip);
    // A grant of the same VRID on lo itself does not own it.
    dp.grant(LO, VRID, Duration::from_secs(30))
        .expect("grant lo");
    assert_dropped(&mut dp, &req, counter::ARP_DROP_NOT_OWNED, "lo granted");
    dp.grant(INSTANCE_IF, VRID, Duration::from_secs(30))
        .expect("grant");
    let o = run(&mut dp, &req);
    assert_eq!(o.verdict, XDP_TX);
    assert_eq!(o.counters, vec![(counter::ARP_REPLIED as usize, 1)]);
    let mut want = req.clone();
    want[0..6].copy_from_slice(&CLIENT_MAC);
    want[6..12].copy_from_slice(&VIP_MAC);
    want[20..22].copy_from_slice(&[0, 2]);
    want[22..28].copy_from_slice(&VIP_MAC);
    want[28..32].copy_from_slice(&other_vip.octets());
    want[32..38].copy_from_slice(&CLIENT_MAC);
    want[38..42].copy_from_slice(&CLIENT_IP.octets());
    assert_eq!(o.bytes, want, "exact reply bytes");
    dp.revoke(INSTANCE_IF, VRID).expect("revoke");
    assert_dropped(
        &mut dp,
        &req,
        counter::ARP_DROP_NOT_OWNED,
        "instance revoked",
    );
}

#[test]
#[expect(clippy::too_many_lines, reason = "a sequence of cases")]
fn adverts_keepalived_drops_are_dropped() {
    if !require_root("adverts_keepalived_drops_are_dropped") {
        return;
    }
    let mut dp = setup(3, None);
    let good = frames::vrrp(3, VRID, 90, 100, &[VIP], None, PEER, OURS);
    let mut bad_ip_sum = frames::ipv4(PEER, OURS, 112, 255, &good);
    bad_ip_sum[24] ^= 0x01;
    assert_dropped(
        &mut dp,
        &bad_ip_sum,
        counter::VRRP_DROP_IP_CHECKSUM,
        "IP checksum",
    );
    let other = Ipv4Addr::new(192, 0, 2, 99);
    let to_other = frames::ipv4(
        PEER,
        other,
        112,
        255,
        &frames::vrrp(3, VRID, 90, 100, &[VIP], None, PEER, other),
    );
    assert_dropped(
        &mut dp,
        &to_other,
        counter::VRRP_DROP_DESTINATION,
        "not to us",
    );
    let group = Ipv4Addr::new(224, 0, 0, 18);
    let mcast = frames::ipv4(
        PEER,
        group,
        112,
        255,
        &frames::vrrp(3, VRID, 90, 100, &[VIP], None, PEER, group),
    );
    assert_dropped(
        &mut dp,
        &mcast,
        counter::VRRP_DROP_MULTICAST_ON_UNICAST,
        "multicast on a unicast instance",
    );
    // What the agent's codec cannot decode must not fence: a zero interval, and a v3 advert
    // without addresses (even from the owner, whose list is otherwise free).
    dp.grant(LO, VRID, Duration::from_secs(30)).expect("grant");
    let zero = frames::ipv4(
        PEER,
        OURS,
        112,
        255,
        &frames::vrrp(3, VRID, 150, 0, &[VIP], None, PEER, OURS),
    );
    assert_dropped(&mut dp, &zero, counter::VRRP_DROP_INTERVAL, "zero interval");
    let none = frames::ipv4(
        PEER,
        OURS,
        112,
        255,
        &frames::vrrp(3, VRID, 255, 100, &[], None, PEER, OURS),
    );
    assert_dropped(
        &mut dp,
        &none,
        counter::VRRP_DROP_ADDRESSES,
        "owner, no addresses",
    );
    assert!(dp.owned_now(LO, VRID).expect("owned"), "no fence");
    // IPv4 options (IHL 6) with a right header checksum: the advert after them is accepted.
    let mut opts = frames::ipv4(PEER, OURS, 112, 255, &good);
    opts.splice(34..34, [1u8, 1, 1, 0]); // NOP NOP NOP EOL
    opts[14] = 0x46;
    let tot = u16::try_from(opts.len() - 14).expect("short");
    opts[16..18].copy_from_slice(&tot.to_be_bytes());
    frames::fix_ip_checksum(&mut opts);
    let o = run(&mut dp, &opts);
    assert_eq!(
        o.counters,
        vec![(counter::VRRP_ACCEPTED as usize, 1)],
        "IP options"
    );

    // A multicast instance takes the group and nothing else.
    let mut dp = Dataplane::load().expect("load");
    dp.configure_vrid(
        LO,
        VRID,
        &VridConfig {
            primary_addr: OURS.into(),
            priority: 100,
            version: 3,
            unicast_peers: false,
            v3_checksum_as_v2: false,
            auth_pass: None,
            advert_interval: 100,
            vips: vec![VIP.into()],
            auth_hmac: false,
        },
    )
    .expect("configure");
    let o = run(&mut dp, &mcast);
    assert_eq!(
        o.counters,
        vec![(counter::VRRP_ACCEPTED as usize, 1)],
        "to the group"
    );
    let unicast = frames::ipv4(PEER, OURS, 112, 255, &good);
    assert_dropped(
        &mut dp,
        &unicast,
        counter::VRRP_DROP_DESTINATION,
        "unicast on multicast",
    );
}

#[test]
fn a_full_ring_buffer_counts_lost_adverts_once() {
    if !require_root("a_full_ring_buffer_counts_lost_adverts_once") {
        return;
    }
    let mut dp = setup(3, None);
    let _rb = dp.take_events().expect("ring buffer"); // never drained
    let f = frames::ipv4(
        PEER,
        OURS,
        112,
        255,
        &frames::vrrp(3, VRID, 90, 100, &[VIP], None, PEER, OURS),
    );
    // 256 KiB of 168-byte records (event + ring header): full after about 1560.
    let slots = havip_common::capacity::EVENTS_BYTES as usize / size_of::<AdvertEvent>();
    let mut lost = 0;
    for _ in 0..slots + 100 {
        let o = run(&mut dp, &f);
        assert_eq!(o.verdict, XDP_DROP);
        assert_eq!(o.counters.len(), 1, "exactly one counter per advert");
        if o.counters == vec![(counter::VRRP_RINGBUF_FULL as usize, 1)] {
            lost += 1;
        } else {
            assert_eq!(o.counters, vec![(counter::VRRP_ACCEPTED as usize, 1)]);
        }
    }
    assert!(lost >= 100, "the ring filled: {lost} lost");
}

/// One (local instance, remote advert) case of the agreement table.
struct RuleCase {
    name: &'static str,
    /// Local: VRRP version and priority (VIP list `[VIP]`, peers `[PEER, HIGH_PEER]`).
    version: Version,
    priority: u8,
    auth: Auth,
    /// Remote: IP source, destination, TTL and the advert.
    src: Ipv4Addr,
    dst: Ipv4Addr,
    ttl: u8,
    advert: AdvertRepr,
    /// Expected: the drop label (`None`: accepted) and whether it ends our mastership.
    drop: Option<&'static str>,
    fence: bool,
}

const HIGH_PEER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 99);

fn advert(version: Version, priority: u8, addresses: &[Ipv4Addr], auth: Auth) -> AdvertRepr {
    AdvertRepr {
        version,
        vrid: VRID,
        priority,
        interval: match version {
            Version::V2 => AdvertInterval::Seconds(Seconds(1)),
            Version::V3 => AdvertInterval::Centiseconds(Centiseconds::new(100).expect("cs")),
        },
        addresses: addresses
            .iter()
            .copied()
            .map(std::net::IpAddr::V4)
            .collect(),
        auth,
    }
}

#[expect(clippy::too_many_lines, reason = "the table is data")]
fn rule_cases() -> Vec<RuleCase> {
    let other = Ipv4Addr::new(192, 0, 2, 201);
    let pass = Auth::simple(b"secret").expect("pass");
    let v3 = |name, priority, src, advert, drop, fence| RuleCase {
        name,
        version: Version::V3,
        priority: 100,
        auth: Auth::None,
        src,
        dst: OURS,
        ttl: 255,
        advert: AdvertRepr { priority, ..advert },
        drop,
        fence,
    };
    let same = advert(Version::V3, 0, &[VIP], Auth::None);
    let differ = advert(Version::V3, 0, &[other], Auth::None);
    let more = advert(Version::V3, 0, &[VIP, other], Auth::None);
    vec![
        v3("lower priority", 90, PEER, same.clone(), None, false),
        v3("higher priority", 150, PEER, same.clone(), None, true),
        v3("priority 0", 0, PEER, same.clone(), None, false),
        v3("equal, lower address", 100, PEER, same.clone(), None, false),
        v3(
            "equal, higher address",
            100,
            HIGH_PEER,
            same.clone(),
            None,
            true,
        ),
        v3(
            "higher, other VIPs",
            150,
            PEER,
            differ.clone(),
            Some("addresses"),
            false,
        ),
        v3(
            "higher, more VIPs",
            150,
            PEER,
            more,
            Some("addresses"),
            false,
        ),
        v3("owner, other VIPs", 255, PEER, differ, None, true),
        v3(
            "higher, v3 interval differs",
            150,
            PEER,
            AdvertRepr {
                interval: AdvertInterval::Centiseconds(Centiseconds::new(300).expect("cs")),
                ..same.clone()
            },
            None,
            true,
        ),
        v3(
            "higher, unknown peer",
            150,
            Ipv4Addr::new(192, 0, 2, 66),
            same.clone(),
            Some("unknown_peer"),
            false,
        ),
        v3(
            "higher, own address",
            150,
            OURS,
            same.clone(),
            Some("own"),
            false,
        ),
        v3(
            "higher, v2 on v3",
            150,
            PEER,
            advert(Version::V2, 0, &[VIP], Auth::None),
            Some("version"),
            false,
        ),
        RuleCase {
            ttl: 254,
            ..v3(
                "higher, TTL 254",
                150,
                PEER,
                same.clone(),
                Some("ttl"),
                false,
            )
        },
        RuleCase {
            dst: HIGH_PEER,
            ..v3(
                "higher, to another node",
                150,
                PEER,
                same.clone(),
                Some("destination"),
                false,
            )
        },
        RuleCase {
            dst: Ipv4Addr::new(224, 0, 0, 18),
            ..v3(
                "higher, multicast",
                150,
                PEER,
                same.clone(),
                Some("multicast_on_unicast"),
                false,
            )
        },
        RuleCase {
            name: "v2 higher",
            version: Version::V2,
            auth: pass,
            advert: advert(Version::V2, 150, &[VIP], pass),
            ..v3("", 0, PEER, same.clone(), None, true)
        },
        RuleCase {
            name: "v2 higher, interval 2 s",
            version: Version::V2,
            auth: pass,
            advert: AdvertRepr {
                interval: AdvertInterval::Seconds(Seconds(2)),
                ..advert(Version::V2, 150, &[VIP], pass)
            },
            ..v3("", 0, PEER, same.clone(), Some("interval"), false)
        },
        RuleCase {
            name: "v2 higher, wrong password",
            version: Version::V2,
            auth: pass,
            advert: advert(
                Version::V2,
                150,
                &[VIP],
                Auth::simple(b"secreT").expect("pass"),
            ),
            ..v3("", 0, PEER, same.clone(), Some("auth"), false)
        },
        RuleCase {
            name: "v2 higher, other VIPs",
            version: Version::V2,
            auth: pass,
            advert: advert(Version::V2, 150, &[other], pass),
            ..v3("", 0, PEER, same, Some("addresses"), false)
        },
    ]
}

fn rule_params(c: &RuleCase) -> InstanceParams {
    InstanceParams {
        name: "VI_1".to_owned(),
        vrid: VRID,
        version: c.version,
        priority: c.priority,
        advert_interval: Duration::from_secs(1),
        preempt: true,
        preempt_delay: Duration::ZERO,
        initial_state: InitialState::Backup,
        primary_addr: OURS.into(),
        vips: vec![VIP.into()],
        unicast_peers: vec![PEER.into(), HIGH_PEER.into()],
        max_learned_interval: None,
        auth: c.auth,
        checksum_mode: ChecksumMode::PseudoHeader,
        garp: GarpParams::default(),
    }
}

/// The kernel (through `BPF_PROG_TEST_RUN`) and the state machine, given the same instance and
/// the same advert, drop the same adverts under the same label, and the kernel fences exactly
/// when the state machine leaves MASTER.
#[test]
fn kernel_and_state_machine_apply_one_rule() {
    if !require_root("kernel_and_state_machine_apply_one_rule") {
        return;
    }
    let mut dp = Dataplane::load().expect("load the XDP object");
    for c in rule_cases() {
        let params = rule_params(&c);
        // Kernel: the instance as the daemon configures it, granted.
        dp.configure_vrid(LO, VRID, &VridConfig::from_params(&params, c.priority))
            .expect("configure");
        for p in &params.unicast_peers {
            dp.allow_peer(LO, VRID, *p).expect("allow");
        }
        dp.grant(LO, VRID, Duration::from_secs(30)).expect("grant");
        let msg = c
            .advert
            .to_bytes(c.src, c.dst, ChecksumMode::PseudoHeader)
            .expect("emit");
        let o = run(&mut dp, &frames::ipv4(c.src, c.dst, 112, c.ttl, &msg));
        assert_eq!(o.verdict, XDP_DROP, "{}: consumed or dropped", c.name);
        let kernel_fenced = o.counters.contains(&(counter::VRRP_FENCED as usize, 1));
        let kernel_drop = if o.counters.contains(&(counter::VRRP_ACCEPTED as usize, 1)) {
            None
        } else {
            assert_eq!(o.counters.len(), 1, "{}: one drop counter", c.name);
            Some(counter::SERIES[o.counters[0].0].label)
        };

        // State machine: the same parameters, as master.
        let mut fsm = Instance::new(params).expect("params");
        fsm.handle(Instant::ZERO, Event::Startup);
        let at = fsm.poll_at().expect("backup timer");
        fsm.handle(at, Event::Timer);
        assert_eq!(fsm.state(), State::Master, "{}", c.name);
        let fsm_drop = fsm
            .check_advert(c.src.into(), c.dst.into(), c.ttl, &c.advert)
            .err()
            .map(|r| r.as_label());
        let out = fsm.handle(
            at,
            Event::Advert {
                src: c.src.into(),
                dst: c.dst.into(),
                ttl: c.ttl,
                advert: c.advert.clone(),
                fenced: false,
            },
        );
        let fsm_left = out.iter().any(|a| {
            matches!(
                a,
                Action::StateChanged {
                    from: State::Master,
                    ..
                }
            )
        });

        assert_eq!(kernel_drop, c.drop, "{}: kernel", c.name);
        assert_eq!(fsm_drop, c.drop, "{}: state machine", c.name);
        assert_eq!(kernel_fenced, c.fence, "{}: kernel fence", c.name);
        assert_eq!(fsm_left, c.fence, "{}: state machine leaves MASTER", c.name);
    }
}

/// Counter increments between two reads.
fn delta(before: &[u64], after: &[u64]) -> Vec<(usize, u64)> {
    before
        .iter()
        .zip(after)
        .enumerate()
        .filter(|(_, (b, a))| a != b)
        .map(|(i, (b, a))| (i, a - b))
        .collect()
}

/// Issue #15, one logic for two entry points: two data planes with the same tables, each frame
/// run once through `havip_xdp` of one and once through `havip_tc` of the other, must give the
/// same verdict (tc's mapped: `TC_ACT_UNSPEC` = pass, `TC_ACT_SHOT` = drop, a redirect to the
/// interface = `XDP_TX`), the same bytes out and the same counter increments, on every path:
/// ARP answered, dropped, passed; VLAN; adverts accepted, rejected, fencing; NDP answered
/// (resized) and dropped; plain traffic.
#[test]
#[expect(clippy::too_many_lines, reason = "a table of cases")]
fn tc_and_xdp_entry_points_agree() {
    if !require_root("tc_and_xdp_entry_points_agree") {
        return;
    }
    let vip6: std::net::Ipv6Addr = "2001:db8::200".parse().expect("address");
    let vip6_not_owned: std::net::Ipv6Addr = "2001:db8::201".parse().expect("address");
    let mut planes: Vec<Dataplane> = (0..2).map(|_| setup(3, None)).collect();
    for dp in &mut planes {
        dp.grant(LO, VRID, Duration::from_secs(60)).expect("grant");
        dp.set_vip6(LO, vip6, VIP_MAC, VRID, LO).expect("VIP6");
        dp.set_vip6(LO, vip6_not_owned, VIP_MAC, 99, LO)
            .expect("VIP6 of another VRID");
        dp.set_vip(LO, Ipv4Addr::new(192, 0, 2, 201), VIP_MAC, 99, LO)
            .expect("VIP of another VRID");
    }
    let good = frames::vrrp(3, VRID, 90, 100, &[VIP], None, PEER, OURS);
    let mut bad_ttl = frames::ipv4(PEER, OURS, 112, 254, &good);
    frames::fix_ip_checksum(&mut bad_ttl);
    let stronger = frames::vrrp(3, VRID, 200, 100, &[VIP], None, PEER, OURS);
    let mut ns_padded = havip_tests::frames6::neighbor_solicitation(vip6, false);
    ns_padded.extend_from_slice(&[0; 10]);
    let cases: Vec<(&str, Vec<u8>, u32)> = vec![
        ("ARP request, owned VIP", frames::arp_request(VIP), XDP_TX),
        (
            "ARP request, VIP not owned",
            frames::arp_request(Ipv4Addr::new(192, 0, 2, 201)),
            XDP_DROP,
        ),
        (
            "ARP request, not a VIP",
            frames::arp_request(Ipv4Addr::new(192, 0, 2, 99)),
            XDP_PASS,
        ),
        (
            "gratuitous ARP",
            frames::arp(1, [2, 0, 0, 0, 0, 7], VIP, [0; 6], VIP),
            XDP_PASS,
        ),
        (
            "ARP request, padded to 60 bytes",
            {
                let mut f = frames::arp_request(VIP);
                f.resize(60, 0);
                f
            },
            XDP_TX,
        ),
        (
            "VLAN-tagged ARP for a VIP",
            frames::vlan_tagged(&frames::arp_request(VIP), &[(0x8100, 7)]),
            XDP_DROP,
        ),
        (
            "QinQ ARP, not a VIP",
            frames::vlan_tagged(
                &frames::arp_request(Ipv4Addr::new(192, 0, 2, 99)),
                &[(0x88a8, 1), (0x8100, 2)],
            ),
            XDP_PASS,
        ),
        (
            "valid advert",
            frames::ipv4(PEER, OURS, 112, 255, &good),
            XDP_DROP,
        ),
        ("advert with TTL 254", bad_ttl, XDP_DROP),
        (
            "stronger advert (fences)",
            frames::ipv4(PEER, OURS, 112, 255, &stronger),
            XDP_DROP,
        ),
        (
            "ARP request after the fence",
            frames::arp_request(VIP),
            XDP_DROP,
        ),
        (
            "plain UDP",
            frames::ipv4(PEER, OURS, 17, 64, &[0; 16]),
            XDP_PASS,
        ),
        (
            "NS for an IPv6 VIP not owned",
            havip_tests::frames6::neighbor_solicitation(vip6_not_owned, true),
            XDP_DROP,
        ),
    ];
    // The NS cases need an owned grant again (the fence above ended it): regrant, then run.
    let ns_cases: Vec<(&str, Vec<u8>, u32)> = vec![
        (
            "NS for an owned IPv6 VIP",
            havip_tests::frames6::neighbor_solicitation(vip6, true),
            XDP_TX,
        ),
        (
            "NS without option, padded (resized answer)",
            ns_padded,
            XDP_TX,
        ),
    ];
    let check = |planes: &mut Vec<Dataplane>, name: &str, frame: &[u8], want: u32| {
        let mut results = Vec::new();
        for (dp, entry) in planes.iter_mut().zip([Entry::Xdp, Entry::Tc]) {
            let before = dp.counters().expect("counters").0;
            let (verdict, bytes) = run_entry(dp, entry, frame);
            let after = dp.counters().expect("counters").0;
            results.push((verdict, bytes, delta(&before, &after)));
        }
        assert_eq!(results[0].0, want, "{name}: XDP verdict");
        assert_eq!(results[1].0, want, "{name}: tc verdict");
        assert_eq!(results[0].1, results[1].1, "{name}: bytes out");
        assert_eq!(results[0].2, results[1].2, "{name}: counters");
        assert_eq!(
            results[0].2.len(),
            if want == XDP_DROP && name.contains("stronger") {
                2
            } else {
                1
            },
            "{name}: one counter per path (and the fence)"
        );
    };
    for (name, frame, want) in &cases {
        check(&mut planes, name, frame, *want);
    }
    for dp in &mut planes {
        dp.grant(LO, VRID, Duration::from_secs(60))
            .expect("regrant");
    }
    for (name, frame, want) in &ns_cases {
        check(&mut planes, name, frame, *want);
    }
    let a = planes[0].vip_counters(LO, VIP).expect("read");
    let b = planes[1].vip_counters(LO, VIP).expect("read");
    assert_eq!(a, b, "per-VIP counters");
}

/// The BFD session the kernel is told about in the BFD cases: [`PEER`] with discriminator
/// [`BFD_DISCR`], RFC 5881's TTL 255, echo on.
const BFD_DISCR: u32 = 7;

fn bfd_setup() -> (Dataplane, havip_agent::dataplane::BfdTable) {
    let dp = setup(3, None);
    let mut table = dp.bfd_table().expect("BFD table");
    table
        .set_all(&[havip_agent::dataplane::BfdNeighbor {
            addr: PEER,
            local_discr: BFD_DISCR,
            max_hops: 0,
            echo: true,
        }])
        .expect("write the BFD neighbor");
    (dp, table)
}

/// A BFD Control packet (RFC 5880 4.1), written out byte by byte: version 1, state `state`
/// (0..=3), Detect Mult 3, My Discriminator 99, `your` Your Discriminator, 10 ms timers.
fn bfd_control(state: u8, your: u32) -> Vec<u8> {
    let mut p = vec![0x20, state << 6, 3, 24];
    p.extend_from_slice(&99u32.to_be_bytes());
    p.extend_from_slice(&your.to_be_bytes());
    for _ in 0..2 {
        p.extend_from_slice(&10_000u32.to_be_bytes());
    }
    p.extend_from_slice(&0u32.to_be_bytes());
    p
}

/// Ethernet + IPv4 + UDP (source port 49152, checksum 0) around `payload`.
fn udp_frame(src: Ipv4Addr, dst: Ipv4Addr, ttl: u8, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut udp = Vec::new();
    udp.extend_from_slice(&49_152u16.to_be_bytes());
    udp.extend_from_slice(&dport.to_be_bytes());
    let len = u16::try_from(8 + payload.len()).expect("short");
    udp.extend_from_slice(&len.to_be_bytes());
    udp.extend_from_slice(&[0, 0]);
    udp.extend_from_slice(payload);
    frames::ipv4(src, dst, 17, ttl, &udp)
}

/// BFD Control frames from the neighbor that RFC 5880 6.8.6 / RFC 5881 5 discard, each with
/// the counter of its drop.
fn invalid_bfd_frames() -> Vec<(&'static str, Vec<u8>, u32)> {
    let with = |f: &dyn Fn(&mut Vec<u8>)| {
        let mut p = bfd_control(3, BFD_DISCR);
        f(&mut p);
        p
    };
    vec![
        (
            "TTL 254",
            udp_frame(PEER, OURS, 254, 3784, &bfd_control(3, BFD_DISCR)),
            counter::BFD_DROP_TTL,
        ),
        (
            "version 2",
            udp_frame(PEER, OURS, 255, 3784, &with(&|p| p[0] = 0x40)),
            counter::BFD_DROP_VERSION,
        ),
        (
            "short: 20 bytes",
            udp_frame(PEER, OURS, 255, 3784, &bfd_control(3, BFD_DISCR)[..20]),
            counter::BFD_DROP_LENGTH,
        ),
        (
            "Length field below 24",
            udp_frame(PEER, OURS, 255, 3784, &with(&|p| p[3] = 23)),
            counter::BFD_DROP_LENGTH,
        ),
        (
            "Length field past the payload",
            udp_frame(PEER, OURS, 255, 3784, &with(&|p| p[3] = 28)),
            counter::BFD_DROP_LENGTH,
        ),
        (
            "Detect Mult 0",
            udp_frame(PEER, OURS, 255, 3784, &with(&|p| p[2] = 0)),
            counter::BFD_DROP_FIELDS,
        ),
        (
            "M bit",
            udp_frame(PEER, OURS, 255, 3784, &with(&|p| p[1] |= 0x01)),
            counter::BFD_DROP_FIELDS,
        ),
        (
            "My Discriminator 0",
            udp_frame(PEER, OURS, 255, 3784, &with(&|p| p[4..8].fill(0))),
            counter::BFD_DROP_FIELDS,
        ),
        (
            "another session's discriminator",
            udp_frame(PEER, OURS, 255, 3784, &bfd_control(3, 1234)),
            counter::BFD_DROP_DISCRIMINATOR,
        ),
        (
            "Up without Your Discriminator",
            udp_frame(PEER, OURS, 255, 3784, &bfd_control(3, 0)),
            counter::BFD_DROP_DISCRIMINATOR,
        ),
        (
            "A bit",
            udp_frame(
                PEER,
                OURS,
                255,
                3784,
                &with(&|p| {
                    p[1] |= 0x04;
                    p[3] = 26;
                    p.extend_from_slice(&[1, 2]);
                }),
            ),
            counter::BFD_DROP_AUTH,
        ),
        (
            "first fragment",
            {
                let mut f = udp_frame(PEER, OURS, 255, 3784, &bfd_control(3, BFD_DISCR));
                f[20] = 0x20;
                frames::fix_ip_checksum(&mut f);
                f
            },
            counter::BFD_DROP_IP_HEADER,
        ),
    ]
}

#[test]
fn bfd_control_packets_of_a_neighbor_are_timestamped_or_dropped_by_reason() {
    if !require_root("bfd_control_packets_of_a_neighbor_are_timestamped_or_dropped_by_reason") {
        return;
    }
    let (mut dp, table) = bfd_setup();
    assert_eq!(
        table.received(PEER),
        None,
        "no record before the first packet"
    );

    // Valid: passed untouched to the socket, counted, and its arrival recorded.
    let t0 = havip_agent::clock::monotonic_ns();
    for (state, your, case) in [(3, BFD_DISCR, "up"), (1, 0, "down, discriminator unknown")] {
        let valid = udp_frame(PEER, OURS, 255, 3784, &bfd_control(state, your));
        let o = run(&mut dp, &valid);
        assert_untouched(&o, &valid, XDP_PASS, counter::BFD_ACCEPTED, case);
    }
    let rx = table.received(PEER).expect("recorded");
    assert_eq!(rx.packets, 2);
    assert!(
        rx.last_rx_ns >= t0 && rx.last_rx_ns <= havip_agent::clock::monotonic_ns(),
        "the kernel's time is the agent's CLOCK_MONOTONIC"
    );

    // Invalid ones from the neighbor: dropped, counted by reason, and not recorded.
    let cases = invalid_bfd_frames();
    for (case, frame, reason) in cases {
        let o = run(&mut dp, &frame);
        assert_untouched(&o, &frame, XDP_DROP, reason, case);
    }
    assert_eq!(table.received(PEER).map(|r| r.packets), Some(2));

    // Not a neighbor: passed untouched, whatever it holds.
    let stranger = Ipv4Addr::new(192, 0, 2, 99);
    for ttl in [255, 1] {
        let f = udp_frame(stranger, OURS, ttl, 3784, &bfd_control(3, 1234));
        let o = run(&mut dp, &f);
        assert_untouched(&o, &f, XDP_PASS, counter::BFD_PASS_UNKNOWN_PEER, "stranger");
    }
    assert_eq!(table.received(stranger), None);
    // Other UDP of the neighbor is no BFD business.
    let dns = udp_frame(PEER, OURS, 64, 53, &[0; 12]);
    let o = run(&mut dp, &dns);
    assert_untouched(&o, &dns, XDP_PASS, counter::PASS_IPV4, "UDP 53");
}

#[test]
fn bfd_neighbors_removed_from_the_table_pass_again() {
    if !require_root("bfd_neighbors_removed_from_the_table_pass_again") {
        return;
    }
    let (mut dp, mut table) = bfd_setup();
    table.set_all(&[]).expect("clear");
    let f = udp_frame(PEER, OURS, 254, 3784, &bfd_control(3, BFD_DISCR));
    let o = run(&mut dp, &f);
    assert_untouched(&o, &f, XDP_PASS, counter::BFD_PASS_UNKNOWN_PEER, "removed");
}

#[test]
fn bfd_echo_of_a_neighbor_is_reflected_with_only_the_macs_swapped() {
    if !require_root("bfd_echo_of_a_neighbor_is_reflected_with_only_the_macs_swapped") {
        return;
    }
    let (mut dp, table) = bfd_setup();
    // RFC 5881 4: the neighbor sends its Echo to itself, through us; the payload is its own.
    let payload = [0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 1];
    let mut echo = udp_frame(PEER, PEER, 255, 3785, &payload);
    echo[0..6].copy_from_slice(&VIP_MAC);
    let o = run(&mut dp, &echo);
    assert_eq!(o.verdict, XDP_TX);
    assert_eq!(o.counters, vec![(counter::BFD_ECHO_REFLECTED as usize, 1)]);
    let mut expected = echo.clone();
    expected[0..6].copy_from_slice(&CLIENT_MAC);
    expected[6..12].copy_from_slice(&VIP_MAC);
    assert_eq!(o.bytes, expected, "MACs swapped, every other byte as sent");

    // Not ours to reflect: passed untouched.
    let stranger = Ipv4Addr::new(192, 0, 2, 99);
    for (case, f) in [
        (
            "stranger",
            udp_frame(stranger, stranger, 255, 3785, &payload),
        ),
        (
            "to us, not to itself",
            udp_frame(PEER, OURS, 255, 3785, &payload),
        ),
    ] {
        let o = run(&mut dp, &f);
        assert_untouched(&o, &f, XDP_PASS, counter::BFD_PASS_ECHO_NOT_OURS, case);
    }
    // Echo off for the neighbor: passed.
    let mut table = table;
    table
        .set_all(&[havip_agent::dataplane::BfdNeighbor {
            addr: PEER,
            local_discr: BFD_DISCR,
            max_hops: 0,
            echo: false,
        }])
        .expect("echo off");
    let o = run(&mut dp, &echo);
    assert_untouched(
        &o,
        &echo,
        XDP_PASS,
        counter::BFD_PASS_ECHO_NOT_OURS,
        "echo off",
    );
}
