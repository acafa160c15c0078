//! The XDP program's IPv6 VRRP path under `BPF_PROG_TEST_RUN` (RFC 9568 5.1.2): adverts over
//! IPv6 in, the exact verdict and the one counter each path increments, the event delivered to
//! the agent, and the fast switch: an IPv6 advert that must end this node's ownership fences its
//! grant in the same invocation, so the Neighbor Solicitation right after it is dropped.
//!
//! The adverts are built byte by byte (`havip_tests::frames6::vrrp6`, checksum over the IPv6
//! pseudo-header computed there), not with the agent's codec. As in `xdp_test_run.rs`, the
//! program runs as if received on loopback (ifindex 1) of the test's network namespace.

use std::{net::Ipv6Addr, time::Duration};

use aya::programs::{TestRun as _, TestRunOptions};
use havip_agent::dataplane::{Dataplane, Vrid, VridConfig};
use havip_common::{AdvertEvent, addr_family, counter, event_flags};
use havip_tests::{
    frames6::{self, VRRP_GROUP6, neighbor_solicitation, vrrp6},
    require_root,
};

const LO: u32 = 1;
const VRID: u8 = 52;
const VIP6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x200);
const OURS: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0x12);
const PEER: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0x11);
/// Wins ties against [`OURS`].
const HIGH: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0x13);
const VIP_MAC: [u8; 6] = [0x00, 0x00, 0x5e, 0x00, 0x02, VRID];
/// The Ethernet destination of frames to `ff02::12` (RFC 2464 7).
const GROUP_MAC: [u8; 6] = [0x33, 0x33, 0, 0, 0, 0x12];

const XDP_DROP: u32 = 1;
const XDP_PASS: u32 = 2;
const XDP_TX: u32 = 3;

fn setup(unicast: bool) -> Dataplane {
    let mut dp = Dataplane::load().expect("load the XDP object");
    dp.configure_vrid(
        LO,
        Vrid::v6(VRID),
        &VridConfig {
            primary_addr: OURS.into(),
            priority: 100,
            version: 3,
            unicast_peers: unicast,
            v3_checksum_as_v2: false,
            auth_pass: None,
            advert_interval: 100,
            vips: vec![VIP6.into()],
            auth_hmac: false,
        },
    )
    .expect("configure VRID");
    if unicast {
        dp.allow_peer(LO, VRID, PEER).expect("allow peer");
        dp.allow_peer(LO, VRID, HIGH).expect("allow peer");
    }
    dp.set_vip6(LO, VIP6, VIP_MAC, Vrid::v6(VRID), LO)
        .expect("set VIP6");
    dp
}

/// Verdict and the counters that moved.
fn run(dp: &mut Dataplane, frame: &[u8]) -> (u32, Vec<(usize, u64)>) {
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
    let after = dp.counters().expect("counters").0;
    let moved = before
        .iter()
        .zip(after.iter())
        .enumerate()
        .filter(|(_, (b, a))| a != b)
        .map(|(i, (b, a))| (i, a - b))
        .collect();
    (result.return_value, moved)
}

fn advert_frame(src: Ipv6Addr, dst: Ipv6Addr, hop: u8, msg: &[u8]) -> Vec<u8> {
    let eth = if dst == VRRP_GROUP6 {
        GROUP_MAC
    } else {
        havip_tests::frames::CLIENT_MAC
    };
    frames6::ipv6(eth, src, dst, 112, hop, msg)
}

fn read_event(rb: &mut aya::maps::RingBuf<aya::maps::MapData>) -> Option<AdvertEvent> {
    let item = rb.next()?;
    assert!(item.len() >= size_of::<AdvertEvent>());
    // SAFETY: the kernel wrote a whole AdvertEvent (length checked); read unaligned.
    Some(unsafe { std::ptr::read_unaligned(item.as_ptr().cast::<AdvertEvent>()) })
}

fn one(c: u32) -> Vec<(usize, u64)> {
    vec![(c as usize, 1)]
}

#[test]
fn valid_ipv6_adverts_are_consumed_and_delivered() {
    if !require_root("valid_ipv6_adverts_are_consumed_and_delivered") {
        return;
    }
    let mut dp = setup(false);
    let mut rb = dp.take_events().expect("ring buffer");
    let msg = vrrp6(VRID, 90, 100, &[VIP6], PEER, VRRP_GROUP6);
    let (verdict, moved) = run(&mut dp, &advert_frame(PEER, VRRP_GROUP6, 255, &msg));
    assert_eq!(verdict, XDP_DROP, "consumed after delivery");
    assert_eq!(moved, one(counter::VRRP_ACCEPTED));
    let ev = read_event(&mut rb).expect("event delivered");
    assert_eq!(ev.family, addr_family::IPV6);
    assert_eq!(ev.src, PEER.octets());
    assert_eq!(ev.dst, VRRP_GROUP6.octets());
    assert_eq!(ev.ttl, 255);
    assert_eq!(ev.flags, 0);
    assert_eq!(&ev.vrrp[..usize::from(ev.vrrp_len)], &msg[..]);
    // The agent's codec decodes what the kernel accepted (same checksum rule).
    let advert = havip_agent::vrrp::AdvertRepr::parse(
        &ev.vrrp[..usize::from(ev.vrrp_len)],
        PEER,
        VRRP_GROUP6,
        havip_agent::vrrp::ChecksumMode::PseudoHeader,
    )
    .expect("decodes");
    assert_eq!(advert.addresses, vec![std::net::IpAddr::V6(VIP6)]);
    let peers = dp.peers();
    assert_eq!(peers.len(), 1);
    assert_eq!(peers[0].0.addr, PEER.octets());
}

#[test]
fn invalid_ipv6_adverts_are_dropped_by_reason() {
    if !require_root("invalid_ipv6_adverts_are_dropped_by_reason") {
        return;
    }
    let mut dp = setup(true);
    let good = vrrp6(VRID, 90, 100, &[VIP6], PEER, OURS);
    let mut bad_sum = good.clone();
    bad_sum[7] ^= 1;
    let mut v2 = good.clone();
    v2[0] = 0x21;
    let mut kind = good.clone();
    kind[0] = 0x32;
    let mut wrong_count = good.clone();
    wrong_count[3] = 2;
    let other = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x201);
    let stranger = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0x99);
    let cases: Vec<(&str, Vec<u8>, u32)> = vec![
        (
            "hop limit 254 (RFC 9568 5.1.2.3)",
            advert_frame(PEER, OURS, 254, &good),
            counter::VRRP_DROP_TTL,
        ),
        (
            "checksum",
            advert_frame(PEER, OURS, 255, &bad_sum),
            counter::VRRP_DROP_CHECKSUM,
        ),
        (
            "version 2 over IPv6",
            advert_frame(PEER, OURS, 255, &v2),
            counter::VRRP_DROP_VERSION,
        ),
        (
            "type 2",
            advert_frame(PEER, OURS, 255, &kind),
            counter::VRRP_DROP_TYPE,
        ),
        (
            "count 2 with one 16-byte address",
            advert_frame(PEER, OURS, 255, &wrong_count),
            counter::VRRP_DROP_LENGTH,
        ),
        (
            "from our own address",
            advert_frame(OURS, OURS, 255, &vrrp6(VRID, 90, 100, &[VIP6], OURS, OURS)),
            counter::VRRP_DROP_OWN,
        ),
        (
            "source not a unicast peer",
            advert_frame(
                stranger,
                OURS,
                255,
                &vrrp6(VRID, 90, 100, &[VIP6], stranger, OURS),
            ),
            counter::VRRP_DROP_UNKNOWN_PEER,
        ),
        (
            "multicast to a unicast instance",
            advert_frame(
                PEER,
                VRRP_GROUP6,
                255,
                &vrrp6(VRID, 90, 100, &[VIP6], PEER, VRRP_GROUP6),
            ),
            counter::VRRP_DROP_MULTICAST_ON_UNICAST,
        ),
        (
            "another address list",
            advert_frame(PEER, OURS, 255, &vrrp6(VRID, 90, 100, &[other], PEER, OURS)),
            counter::VRRP_DROP_ADDRESSES,
        ),
    ];
    for (case, frame, want) in &cases {
        let (verdict, moved) = run(&mut dp, frame);
        assert_eq!(verdict, XDP_DROP, "{case}");
        assert_eq!(&moved, &one(*want), "{case}");
    }
    // The payload length says more than the frame holds: truncated.
    let mut short = advert_frame(PEER, OURS, 255, &good);
    short.truncate(short.len() - 4);
    let (verdict, moved) = run(&mut dp, &short);
    assert_eq!(
        (verdict, moved),
        (XDP_DROP, one(counter::VRRP_DROP_TRUNCATED))
    );
}

#[test]
fn families_do_not_share_a_vrid() {
    if !require_root("families_do_not_share_a_vrid") {
        return;
    }
    // An IPv4 instance with the same VRID on the interface: an IPv6 advert is not its business
    // (RFC 9568 5.2.3: the VRID spaces of the two families are separate), nor is an IPv6
    // advert for a VRID with no IPv6 instance.
    let mut dp = Dataplane::load().expect("load");
    dp.configure_vrid(
        LO,
        VRID,
        &VridConfig {
            primary_addr: std::net::Ipv4Addr::new(192, 0, 2, 12).into(),
            priority: 100,
            version: 3,
            unicast_peers: false,
            v3_checksum_as_v2: false,
            auth_pass: None,
            advert_interval: 100,
            vips: vec![std::net::Ipv4Addr::new(192, 0, 2, 200).into()],
            auth_hmac: false,
        },
    )
    .expect("configure the IPv4 instance");
    let msg = vrrp6(VRID, 90, 100, &[VIP6], PEER, VRRP_GROUP6);
    let (verdict, moved) = run(&mut dp, &advert_frame(PEER, VRRP_GROUP6, 255, &msg));
    assert_eq!(
        (verdict, moved),
        (XDP_PASS, one(counter::VRRP_PASS_UNKNOWN_VRID))
    );
}

#[test]
fn a_better_ipv6_advert_fences_the_grant_in_the_same_packet() {
    if !require_root("a_better_ipv6_advert_fences_the_grant_in_the_same_packet") {
        return;
    }
    let mut dp = setup(true);
    let mut rb = dp.take_events().expect("ring buffer");
    dp.grant(LO, Vrid::v6(VRID), Duration::from_secs(30))
        .expect("grant");
    let ns = neighbor_solicitation(VIP6, true);
    let (verdict, _) = run(&mut dp, &ns);
    assert_eq!(verdict, XDP_TX, "owned: answered");

    // A lower priority does not fence; equal priority from a lower address neither.
    for (src, prio) in [(PEER, 90), (PEER, 100)] {
        let msg = vrrp6(VRID, prio, 100, &[VIP6], src, OURS);
        let (verdict, moved) = run(&mut dp, &advert_frame(src, OURS, 255, &msg));
        assert_eq!((verdict, moved), (XDP_DROP, one(counter::VRRP_ACCEPTED)));
        assert_eq!(read_event(&mut rb).map(|e| e.flags), Some(0));
    }
    assert!(dp.owned_now(LO, Vrid::v6(VRID)).expect("owned"));

    // Equal priority from a higher address (RFC 9568 6.4.3): fenced in the same invocation.
    let msg = vrrp6(VRID, 100, 100, &[VIP6], HIGH, OURS);
    let (verdict, mut moved) = run(&mut dp, &advert_frame(HIGH, OURS, 255, &msg));
    moved.sort_unstable();
    let mut want = vec![
        (counter::VRRP_ACCEPTED as usize, 1),
        (counter::VRRP_FENCED as usize, 1),
    ];
    want.sort_unstable();
    assert_eq!((verdict, moved), (XDP_DROP, want));
    let ev = read_event(&mut rb).expect("event");
    assert_eq!(ev.flags & event_flags::FENCED, event_flags::FENCED);
    let fence = dp.fence(LO, Vrid::v6(VRID)).expect("fence");
    assert_eq!(fence.by_addr, HIGH.octets());
    assert_eq!(fence.by_priority, 100);
    assert!(!dp.owned_now(LO, Vrid::v6(VRID)).expect("owned"));
    let (verdict, moved) = run(&mut dp, &ns);
    assert_eq!(
        (verdict, moved),
        (XDP_DROP, one(counter::NDP_DROP_FENCED)),
        "no Neighbor Advertisement once fenced"
    );
    // The IPv4 instance of the same VRID (none here) is untouched: the fence is per family.
    assert!(dp.fence(LO, VRID).is_none());
}
