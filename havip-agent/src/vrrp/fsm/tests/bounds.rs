//! Scenarios for what a neighbour's adverts cannot make the state machine do (issues #9, #10):
//! stretch `Master_Down_Interval` with a huge Max Adver Int, turn a flood of lower-priority adverts
//! into a flood of gratuitous ARPs, or make two nodes with different VIP lists flap.

use super::*;

/// v3, 100 ms, priority 100: the learned interval is bounded by 4 x 100 ms.
#[test]
fn a_huge_advertised_interval_is_clamped() {
    let p = params(Version::V3, 100, Duration::from_millis(100));
    assert_eq!(p.learned_interval_bound(), Duration::from_millis(400));
    let b = State::Backup;
    // 3 x 400 ms + (256 - 100) / 256 x 400 ms = 1443.75 ms after the advert.
    let down_400 = Duration::from_micros(1_443_750);
    let inst = run(
        p.clone(),
        vec![
            step(
                ms(0),
                Event::Startup,
                vec![sc(State::Initialize, b, Reason::Startup)],
                b,
                Some(ns(360_937_500)),
            ),
            // A spoofed Max Adver Int of 4095 cs (40.95 s) from the master's address.
            step(
                ms(100),
                adv_v3(HIGH, 150, 4095),
                vec![Action::IntervalClamped {
                    src: HIGH,
                    advertised: Duration::from_millis(40_950),
                    learned: Duration::from_millis(400),
                }],
                b,
                Some(ms(100).saturating_add(down_400)),
            ),
            // Within the bound: learned as is, nothing reported.
            step(
                ms(200),
                adv_v3(HIGH, 150, 30),
                vec![],
                b,
                Some(ms(200).saturating_add(Duration::from_nanos(1_082_812_500))),
            ),
        ],
    );
    assert_eq!(inst.learned_master_interval(), Duration::from_millis(300));

    // A configured bound wins over the default multiple, but never goes below our interval.
    let wide = InstanceParams {
        max_learned_interval: Some(Duration::from_secs(2)),
        ..p.clone()
    };
    let mut inst = Instance::new(wide).unwrap();
    inst.handle(ms(0), Event::Startup);
    assert_eq!(
        inst.handle(ms(100), adv_v3(HIGH, 150, 4095)),
        vec![Action::IntervalClamped {
            src: HIGH,
            advertised: Duration::from_millis(40_950),
            learned: Duration::from_secs(2),
        }]
    );
    assert_eq!(inst.learned_master_interval(), Duration::from_secs(2));
    let narrow = InstanceParams {
        max_learned_interval: Some(Duration::from_millis(10)),
        ..p
    };
    assert_eq!(
        narrow.learned_interval_bound(),
        Duration::from_millis(100),
        "never below the configured interval"
    );
}

/// A master flooded with 100 lower-priority adverts in half a second sends one burst of 5
/// gratuitous ARPs, not 500; each held-back burst is reported; after the holdoff the next
/// lower-priority advert gets its burst again.
#[test]
fn lower_priority_garp_bursts_are_rate_limited() {
    let p = v2(100);
    assert_eq!(p.garp.lower_prio_holdoff, Duration::from_secs(1));
    let (mut inst, t) = master_from_startup(p.clone());
    let mut garps = 0;
    let mut suppressed = 0;
    for i in 0..100 {
        let out = inst.handle(after(t, 300 + 5 * i), adv(&p, HIGH, 50));
        let expected = if i == 0 {
            with_garps(vec![send(100), renew()], 5)
        } else {
            vec![send(100), renew(), Action::GarpSuppressed]
        };
        assert_eq!(out, expected, "advert {i}");
        garps += out.iter().filter(|a| **a == Action::SendGarp).count();
        suppressed += out.iter().filter(|a| **a == Action::GarpSuppressed).count();
    }
    assert_eq!((garps, suppressed), (5, 99));
    // One holdoff after the first burst: answered with a burst again.
    assert_eq!(
        inst.handle(after(t, 1300), adv(&p, HIGH, 50)),
        with_garps(vec![send(100), renew()], 5)
    );
    // Zero holdoff is keepalived's behaviour: every lower-priority advert gets its burst.
    let unlimited = InstanceParams {
        garp: GarpParams {
            lower_prio_holdoff: Duration::ZERO,
            ..GarpParams::default()
        },
        ..p
    };
    let (mut inst, t) = master_from_startup(unlimited.clone());
    for i in 0..3 {
        assert_eq!(
            inst.handle(after(t, 300 + i), adv(&unlimited, HIGH, 50)),
            with_garps(vec![send(100), renew()], 5)
        );
    }
}

/// Issue #9: a higher-priority peer with a different VIP list. The kernel decides its fence with
/// the shared rule (modelled here with the very function the XDP program calls, on the state the
/// FSM says the kernel holds); the FSM rejects the same adverts. Over 20 intervals the master
/// neither leaves MASTER nor comes back: no transition at all after it became master.
#[test]
fn a_higher_priority_peer_with_other_vips_does_not_make_us_flap() {
    let p = params(Version::V3, 100, Duration::from_millis(100));
    let (mut inst, t) = master_from_startup(p.clone());
    let other = AdvertRepr {
        version: Version::V3,
        vrid: 51,
        priority: 150,
        interval: AdvertInterval::Centiseconds(Centiseconds::new(10).unwrap()),
        addresses: vec![Ipv4Addr::new(192, 0, 2, 201).into()],
        auth: Auth::None,
    };
    let mut transitions = 0;
    let mut rejected = 0;
    let mut now = t;
    for i in 0..20u64 {
        let advert_at = after(t, 100 * i + 50);
        // Timers due before the advert (our own adverts, GARP schedule).
        while let Some(due) = inst.poll_at().filter(|d| *d <= advert_at) {
            now = due.max(now);
            for a in inst.handle(now, Event::Timer) {
                transitions += usize::from(matches!(a, Action::StateChanged { .. }));
            }
        }
        let mut kernel = inst.rule_state();
        kernel.grant_epoch = u64::from(inst.state() == State::Master);
        kernel.lease_until_ns = u64::MAX;
        let rx = rule::received(HIGH, GROUP, 255, &other, &[]);
        let fenced = havip_common::rule::fences(&kernel, &rx);
        assert!(
            !fenced,
            "interval {i}: the kernel must not fence on a rejected advert"
        );
        let out = inst.handle(
            advert_at,
            Event::Advert {
                src: HIGH,
                dst: GROUP,
                ttl: 255,
                advert: other.clone(),
                fenced,
            },
        );
        now = advert_at;
        for a in &out {
            transitions += usize::from(matches!(a, Action::StateChanged { .. }));
            rejected += usize::from(matches!(
                a,
                Action::AdvertRejected(AdvertRejected::AddressMismatch { .. })
            ));
        }
    }
    assert_eq!(inst.state(), State::Master);
    assert_eq!(transitions, 0, "no flap");
    assert_eq!(rejected, 20, "every advert rejected and reported");
    // The same peer with our VIP list does preempt, through the same rule.
    let same = AdvertRepr {
        addresses: vec![VIP],
        ..other
    };
    let mut kernel = inst.rule_state();
    kernel.grant_epoch = 1;
    let rx = rule::received(HIGH, GROUP, 255, &same, &[]);
    assert!(havip_common::rule::fences(&kernel, &rx));
    let out = inst.handle(
        after(now, 1),
        Event::Advert {
            src: HIGH,
            dst: GROUP,
            ttl: 255,
            advert: same,
            fenced: true,
        },
    );
    assert!(out.contains(&Action::ReleaseOwnership));
    assert_eq!(inst.state(), State::Backup);
}
