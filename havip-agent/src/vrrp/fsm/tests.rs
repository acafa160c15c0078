//! State machine scenarios: each is a table of `(time, event) -> exact actions`, with the state and
//! `poll_at` expected after every step. Times are exact nanoseconds: `Skew_Time` is fractional.
//!
//! Numbers used throughout (`Master_Down_Interval` = 3 * interval + `Skew_Time`):
//! - interval 1 s, priority 100: skew 156/256 s = 609.375 ms, down 3.609375 s (v2 and v3);
//! - interval 1 s, priority 150: skew 106/256 s = 414.0625 ms, down 3.4140625 s;
//! - v3 interval 100 ms, priority 100: skew 60.9375 ms, down 360.9375 ms;
//! - v3 interval 100 ms, priority 150: skew 41.40625 ms, down 341.40625 ms;
//! - v2 interval 1 s, priority 255: skew 1/256 s, down 3.00390625 s.

#![expect(
    clippy::unwrap_used,
    reason = "tests unwrap fixtures known to be valid"
)]

use std::net::Ipv4Addr;

use super::*;
use crate::vrrp::packet::{Auth, Centiseconds};

const ME: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 11));
/// A peer whose address is greater than ours (wins ties).
const HIGH: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 12));
/// A peer whose address is lower than ours (loses ties).
const LOW: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10));
const VIP: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 200));
/// Where multicast adverts go (RFC 9568 5.1.1.2); the test instances have no unicast peers.
const GROUP: IpAddr = IpAddr::V4(Ipv4Addr::new(224, 0, 0, 18));

const DOWN_100: u64 = 3_609_375_000;
const DOWN_150: u64 = 3_414_062_500;

fn params(version: Version, priority: u8, interval: Duration) -> InstanceParams {
    InstanceParams {
        name: "VI_1".to_owned(),
        vrid: 51,
        version,
        priority,
        advert_interval: interval,
        preempt: true,
        preempt_delay: Duration::ZERO,
        initial_state: InitialState::Backup,
        primary_addr: ME,
        vips: vec![VIP],
        unicast_peers: vec![],
        max_learned_interval: None,
        auth: Auth::None,
        checksum_mode: crate::vrrp::packet::ChecksumMode::PseudoHeader,
        garp: GarpParams::default(),
    }
}

fn v2(priority: u8) -> InstanceParams {
    params(Version::V2, priority, Duration::from_secs(1))
}

fn ms(ms: u64) -> Instant {
    Instant::from_millis(ms)
}

fn ns(ns: u64) -> Instant {
    Instant::from_nanos(ns)
}

/// `base` plus `ms` milliseconds.
fn after(base: Instant, ms: u64) -> Instant {
    base.saturating_add(Duration::from_millis(ms))
}

/// An advert as the peer `src` would send it for the same configuration.
fn adv(p: &InstanceParams, src: IpAddr, priority: u8) -> Event {
    let advert = Instance::new(p.clone()).unwrap().advert(priority);
    Event::Advert {
        src,
        dst: GROUP,
        ttl: 255,
        advert,
        fenced: false,
    }
}

fn fenced(p: &InstanceParams, src: IpAddr, priority: u8) -> Event {
    match adv(p, src, priority) {
        Event::Advert { src, advert, .. } => Event::Advert {
            src,
            dst: GROUP,
            ttl: 255,
            advert,
            fenced: true,
        },
        other => other,
    }
}

/// A v3 advert with its own interval in centiseconds.
fn adv_v3(src: IpAddr, priority: u8, cs: u16) -> Event {
    let advert = AdvertRepr {
        version: Version::V3,
        vrid: 51,
        priority,
        interval: AdvertInterval::Centiseconds(Centiseconds::new(cs).unwrap()),
        addresses: vec![VIP],
        auth: Auth::None,
    };
    Event::Advert {
        src,
        dst: GROUP,
        ttl: 255,
        advert,
        fenced: false,
    }
}

fn sc(from: State, to: State, reason: Reason) -> Action {
    Action::StateChanged { from, to, reason }
}

fn send(priority: u8) -> Action {
    Action::SendAdvert { priority }
}

/// The lease renewal that follows every advert of a master after its first.
fn renew() -> Action {
    Action::RenewLease
}

/// `head` followed by `n` rounds of gratuitous ARP.
fn with_garps(mut head: Vec<Action>, n: usize) -> Vec<Action> {
    head.extend(std::iter::repeat_n(Action::SendGarp, n));
    head
}

/// The actions of becoming master with keepalived's default GARP burst (5 rounds).
fn becomes_master(from: State, reason: Reason, priority: u8) -> Vec<Action> {
    with_garps(
        vec![
            sc(from, State::Master, reason),
            send(priority),
            Action::TakeOwnership,
        ],
        5,
    )
}

struct Step {
    at: Instant,
    event: Event,
    actions: Vec<Action>,
    state: State,
    poll_at: Option<Instant>,
}

fn step(
    at: Instant,
    event: Event,
    actions: Vec<Action>,
    state: State,
    poll: Option<Instant>,
) -> Step {
    Step {
        at,
        event,
        actions,
        state,
        poll_at: poll,
    }
}

fn run_on(inst: &mut Instance, steps: Vec<Step>) {
    for (i, s) in steps.into_iter().enumerate() {
        let got = inst.handle(s.at, s.event.clone());
        assert_eq!(got, s.actions, "step {i} at {}: {:?}", s.at, s.event);
        assert_eq!(inst.state(), s.state, "state after step {i} at {}", s.at);
        assert_eq!(
            inst.poll_at(),
            s.poll_at,
            "poll_at after step {i} at {}",
            s.at
        );
    }
}

fn run(p: InstanceParams, steps: Vec<Step>) -> Instance {
    let mut inst = Instance::new(p).unwrap();
    run_on(&mut inst, steps);
    inst
}

/// Starts `p` at 0 and lets it become master by timeout; returns it and the takeover time.
fn master_from_startup(p: InstanceParams) -> (Instance, Instant) {
    let mut inst = Instance::new(p).unwrap();
    inst.handle(Instant::ZERO, Event::Startup);
    let t = inst.poll_at().unwrap();
    inst.handle(t, Event::Timer);
    assert_eq!(inst.state(), State::Master);
    (inst, t)
}

#[test]
fn startup_backup_then_master_down_at_exact_time() {
    use Version::{V2, V3};
    let cases = [
        (V2, 100, 1000, DOWN_100),
        (V2, 150, 1000, DOWN_150),
        (V3, 100, 1000, DOWN_100),
        (V3, 150, 1000, DOWN_150),
        (V3, 100, 100, 360_937_500),
        (V3, 150, 100, 341_406_250),
    ];
    for (version, prio, interval_ms, down) in cases {
        let p = params(version, prio, Duration::from_millis(interval_ms));
        let (b, m) = (State::Backup, State::Master);
        let inst = run(
            p,
            vec![
                step(
                    ms(0),
                    Event::Startup,
                    vec![sc(State::Initialize, b, Reason::Startup)],
                    b,
                    Some(ns(down)),
                ),
                step(ns(down - 1), Event::Timer, vec![], b, Some(ns(down))),
                step(
                    ns(down),
                    Event::Timer,
                    becomes_master(b, Reason::MasterDown, prio),
                    m,
                    Some(after(ns(down), interval_ms)),
                ),
                step(
                    after(ns(down), interval_ms),
                    Event::Timer,
                    vec![send(prio), renew()],
                    m,
                    Some(after(ns(down), 2 * interval_ms)),
                ),
            ],
        );
        assert_eq!(inst.master(), Some((ME, prio)), "{version} {prio}");
        assert_eq!(
            inst.master_down_interval(),
            Duration::from_nanos(down),
            "{version} {prio}"
        );
    }
}

#[test]
fn address_owner_with_state_master_starts_as_master() {
    let p = InstanceParams {
        initial_state: InitialState::Master,
        ..v2(255)
    };
    let m = State::Master;
    run(
        p,
        vec![
            step(
                ms(0),
                Event::Startup,
                becomes_master(State::Initialize, Reason::AddressOwner, 255),
                m,
                Some(ms(1000)),
            ),
            step(
                ms(1000),
                Event::Timer,
                vec![send(255), renew()],
                m,
                Some(ms(2000)),
            ),
            // The owner keeps 255 whatever tracking says (keepalived).
            step(ms(1500), Event::SetPriority(100), vec![], m, Some(ms(2000))),
            step(
                ms(2000),
                Event::Timer,
                vec![send(255), renew()],
                m,
                Some(ms(3000)),
            ),
        ],
    );
    assert_eq!(InitialState::from_priority(255), InitialState::Master);
    assert_eq!(InitialState::from_priority(254), InitialState::Backup);
}

#[test]
fn address_owner_with_state_backup_waits_like_keepalived() {
    let b = State::Backup;
    run(
        v2(255),
        vec![
            step(
                ms(0),
                Event::Startup,
                vec![sc(State::Initialize, b, Reason::Startup)],
                b,
                Some(ns(3_003_906_250)),
            ),
            step(
                ns(3_003_906_250),
                Event::Timer,
                becomes_master(b, Reason::MasterDown, 255),
                State::Master,
                Some(ns(4_003_906_250)),
            ),
        ],
    );
}

#[test]
fn state_master_below_255_starts_as_backup_and_always_preempts() {
    // keepalived: `state MASTER` with priority 100 waits Master_Down_Interval, and its
    // `nopreempt` is cleared, so a lower-priority master is preempted.
    let p = InstanceParams {
        initial_state: InitialState::Master,
        preempt: false,
        ..v2(100)
    };
    let b = State::Backup;
    let reason = Reason::PreemptLowerPriority {
        src: LOW,
        priority: 50,
    };
    run(
        p.clone(),
        vec![
            step(
                ms(0),
                Event::Startup,
                vec![sc(State::Initialize, b, Reason::Startup)],
                b,
                Some(ns(DOWN_100)),
            ),
            step(ms(1000), adv(&p, LOW, 50), vec![], b, Some(ns(DOWN_100))),
            step(
                ns(DOWN_100),
                Event::Timer,
                becomes_master(b, reason, 100),
                State::Master,
                Some(ns(DOWN_100 + 1_000_000_000)),
            ),
        ],
    );
}

#[test]
fn master_equal_priority_tie_break_both_ways() {
    let p = v2(100);
    // The peer's address is greater: it wins (RFC 9568 6.4.3).
    let (mut inst, t) = master_from_startup(p.clone());
    let reason = Reason::EqualPriorityHigherAddress {
        src: HIGH,
        priority: 100,
    };
    let at = after(t, 500);
    run_on(
        &mut inst,
        vec![step(
            at,
            adv(&p, HIGH, 100),
            vec![
                Action::ReleaseOwnership,
                sc(State::Master, State::Backup, reason),
            ],
            State::Backup,
            Some(at.saturating_add(Duration::from_nanos(DOWN_100))),
        )],
    );
    assert_eq!(inst.master(), Some((HIGH, 100)));

    // The peer's address is lower: we stay, and re-assert like keepalived (advert + GARPs).
    let (mut inst, t) = master_from_startup(p.clone());
    run_on(
        &mut inst,
        vec![step(
            after(t, 500),
            adv(&p, LOW, 100),
            with_garps(vec![send(100), renew()], 5),
            State::Master,
            Some(after(t, 1500)),
        )],
    );
}

#[test]
fn backup_keeps_lower_priority_master_with_nopreempt() {
    let p = InstanceParams {
        preempt: false,
        ..v2(150)
    };
    let b = State::Backup;
    let mut steps = vec![step(
        ms(0),
        Event::Startup,
        vec![sc(State::Initialize, b, Reason::Startup)],
        b,
        Some(ns(DOWN_150)),
    )];
    for s in 1..=5 {
        let at = ms(s * 1000);
        steps.push(step(
            at,
            adv(&p, LOW, 100),
            vec![],
            b,
            Some(at.saturating_add(Duration::from_nanos(DOWN_150))),
        ));
    }
    steps.push(step(
        ns(DOWN_150),
        Event::Timer,
        vec![],
        b,
        Some(ns(5_000_000_000 + DOWN_150)),
    ));
    let inst = run(p, steps);
    assert_eq!(inst.master(), Some((LOW, 100)));
}

#[test]
fn backup_preempts_lower_priority_master() {
    let p = v2(150);
    let b = State::Backup;
    let reason = Reason::PreemptLowerPriority {
        src: LOW,
        priority: 100,
    };
    run(
        p.clone(),
        vec![
            step(
                ms(0),
                Event::Startup,
                vec![sc(State::Initialize, b, Reason::Startup)],
                b,
                Some(ns(DOWN_150)),
            ),
            step(ms(1000), adv(&p, LOW, 100), vec![], b, Some(ns(DOWN_150))),
            step(ms(2000), adv(&p, LOW, 100), vec![], b, Some(ns(DOWN_150))),
            step(ms(3000), adv(&p, LOW, 100), vec![], b, Some(ns(DOWN_150))),
            step(
                ns(DOWN_150),
                Event::Timer,
                becomes_master(b, reason, 150),
                State::Master,
                Some(ns(DOWN_150 + 1_000_000_000)),
            ),
            // The old master now hears us and must yield; if it still adverts, we re-assert.
            step(
                ms(3500),
                adv(&p, LOW, 100),
                with_garps(vec![send(150), renew()], 5),
                State::Master,
                Some(ms(4500)),
            ),
        ],
    );
}

#[test]
fn preempt_delay_holds_off_preemption_after_first_lower_advert() {
    // keepalived `vrrp_state_backup`: the first lower-priority advert starts preempt_delay (10 s);
    // until then such adverts reset the timer; after it they are discarded.
    let p = InstanceParams {
        preempt_delay: Duration::from_secs(10),
        ..v2(150)
    };
    let b = State::Backup;
    let mut steps = vec![step(
        ms(0),
        Event::Startup,
        vec![sc(State::Initialize, b, Reason::Startup)],
        b,
        Some(ns(DOWN_150)),
    )];
    for s in 1..=10 {
        let at = ms(s * 1000);
        steps.push(step(
            at,
            adv(&p, LOW, 100),
            vec![],
            b,
            Some(at.saturating_add(Duration::from_nanos(DOWN_150))),
        ));
    }
    let deadline = ns(10_000_000_000 + DOWN_150);
    for s in 11..=13 {
        steps.push(step(
            ms(s * 1000),
            adv(&p, LOW, 100),
            vec![],
            b,
            Some(deadline),
        ));
    }
    let reason = Reason::PreemptLowerPriority {
        src: LOW,
        priority: 100,
    };
    steps.push(step(
        deadline,
        Event::Timer,
        becomes_master(b, reason, 150),
        State::Master,
        Some(after(deadline, 1000)),
    ));
    run(p, steps);
}

#[test]
fn preempt_delay_is_reset_by_a_higher_master() {
    let p = InstanceParams {
        preempt_delay: Duration::from_secs(2),
        ..v2(150)
    };
    let b = State::Backup;
    let d = |at: Instant| Some(at.saturating_add(Duration::from_nanos(DOWN_150)));
    run(
        p.clone(),
        vec![
            step(
                ms(0),
                Event::Startup,
                vec![sc(State::Initialize, b, Reason::Startup)],
                b,
                Some(ns(DOWN_150)),
            ),
            step(ms(1000), adv(&p, LOW, 100), vec![], b, d(ms(1000))), // delay until 3 s
            step(ms(2000), adv(&p, HIGH, 200), vec![], b, d(ms(2000))), // delay cleared
            step(ms(3000), adv(&p, LOW, 100), vec![], b, d(ms(3000))), // restarted: until 5 s
            step(ms(4000), adv(&p, LOW, 100), vec![], b, d(ms(4000))),
            step(ms(5000), adv(&p, LOW, 100), vec![], b, d(ms(4000))), // discarded
        ],
    );
}

#[test]
fn priority_zero_makes_backup_take_over_after_skew_time() {
    let p = v2(100);
    let b = State::Backup;
    let skew_deadline = ns(1_500_000_000 + 609_375_000);
    let inst = run(
        p.clone(),
        vec![
            step(
                ms(0),
                Event::Startup,
                vec![sc(State::Initialize, b, Reason::Startup)],
                b,
                Some(ns(DOWN_100)),
            ),
            step(
                ms(1000),
                adv(&p, HIGH, 200),
                vec![],
                b,
                Some(ns(1_000_000_000 + DOWN_100)),
            ),
            step(ms(1500), adv(&p, HIGH, 0), vec![], b, Some(skew_deadline)),
            step(
                skew_deadline,
                Event::Timer,
                becomes_master(b, Reason::PriorityZero { src: HIGH }, 100),
                State::Master,
                Some(after(skew_deadline, 1000)),
            ),
        ],
    );
    assert_eq!(inst.master(), Some((ME, 100)));
}

#[test]
fn master_answers_priority_zero_with_an_advert() {
    let p = v2(100);
    let (mut inst, t) = master_from_startup(p.clone());
    run_on(
        &mut inst,
        vec![step(
            after(t, 200),
            adv(&p, HIGH, 0),
            vec![send(100), renew()],
            State::Master,
            Some(after(t, 1200)),
        )],
    );
}

#[test]
fn master_yields_to_higher_priority() {
    let p = v2(100);
    let (mut inst, t) = master_from_startup(p.clone());
    let at = after(t, 300);
    let reason = Reason::HigherPriority {
        src: LOW,
        priority: 200,
    };
    run_on(
        &mut inst,
        vec![
            step(
                at,
                adv(&p, LOW, 200),
                vec![
                    Action::ReleaseOwnership,
                    sc(State::Master, State::Backup, reason),
                ],
                State::Backup,
                Some(at.saturating_add(Duration::from_nanos(DOWN_100))),
            ),
            // The GARP schedule went with the master state: nothing fires at t + 5 s.
            step(
                after(t, 1300),
                adv(&p, LOW, 200),
                vec![],
                State::Backup,
                Some(after(t, 1300).saturating_add(Duration::from_nanos(DOWN_100))),
            ),
            step(
                after(t, 2300),
                adv(&p, LOW, 200),
                vec![],
                State::Backup,
                Some(after(t, 2300).saturating_add(Duration::from_nanos(DOWN_100))),
            ),
            step(
                after(t, 5000),
                Event::Timer,
                vec![],
                State::Backup,
                Some(after(t, 2300).saturating_add(Duration::from_nanos(DOWN_100))),
            ),
        ],
    );
    assert_eq!(inst.master(), Some((LOW, 200)));
}

#[test]
fn master_stays_on_lower_priority_and_sends_keepalived_garps() {
    let p = v2(100);
    let (mut inst, t) = master_from_startup(p.clone());
    let m = State::Master;
    run_on(
        &mut inst,
        vec![
            step(
                after(t, 300),
                adv(&p, HIGH, 50),
                with_garps(vec![send(100), renew()], 5),
                m,
                Some(after(t, 1300)),
            ),
            step(
                after(t, 1300),
                Event::Timer,
                vec![send(100), renew()],
                m,
                Some(after(t, 2300)),
            ),
            step(
                after(t, 2300),
                Event::Timer,
                vec![send(100), renew()],
                m,
                Some(after(t, 3300)),
            ),
            step(
                after(t, 3300),
                Event::Timer,
                vec![send(100), renew()],
                m,
                Some(after(t, 4300)),
            ),
            step(
                after(t, 4300),
                Event::Timer,
                vec![send(100), renew()],
                m,
                Some(after(t, 5000)),
            ),
            // garp_master_delay burst (5 s after becoming master).
            step(
                after(t, 5000),
                Event::Timer,
                with_garps(vec![], 5),
                m,
                Some(after(t, 5300)),
            ),
            // garp_lower_prio_delay burst (5 s after the lower advert), with the advert tick.
            step(
                after(t, 5300),
                Event::Timer,
                with_garps(vec![send(100), renew()], 5),
                m,
                Some(after(t, 6300)),
            ),
        ],
    );
}

#[test]
fn fenced_advert_demotes_master_whatever_it_says() {
    let p = v2(100);
    for (src, prio) in [(HIGH, 200), (LOW, 50)] {
        let (mut inst, t) = master_from_startup(p.clone());
        let at = after(t, 100);
        let reason = Reason::KernelFenced {
            src,
            priority: prio,
        };
        run_on(
            &mut inst,
            vec![step(
                at,
                fenced(&p, src, prio),
                vec![
                    Action::ReleaseOwnership,
                    sc(State::Master, State::Backup, reason),
                ],
                State::Backup,
                Some(at.saturating_add(Duration::from_nanos(DOWN_100))),
            )],
        );
    }
    // A fenced advert reaching a backup is an ordinary advert.
    let b = State::Backup;
    run(
        p.clone(),
        vec![
            step(
                ms(0),
                Event::Startup,
                vec![sc(State::Initialize, b, Reason::Startup)],
                b,
                Some(ns(DOWN_100)),
            ),
            step(
                ms(1000),
                fenced(&p, HIGH, 200),
                vec![],
                b,
                Some(ns(1_000_000_000 + DOWN_100)),
            ),
        ],
    );
}

#[test]
fn v3_backup_learns_master_interval() {
    // Backup configured 1 s; the master advertises 100 ms (10 cs).
    let p = params(Version::V3, 100, Duration::from_secs(1));
    let b = State::Backup;
    let deadline = ns(1_000_000_000 + 360_937_500);
    let mut inst = run(
        p,
        vec![
            step(
                ms(0),
                Event::Startup,
                vec![sc(State::Initialize, b, Reason::Startup)],
                b,
                Some(ns(DOWN_100)),
            ),
            step(ms(1000), adv_v3(HIGH, 200, 10), vec![], b, Some(deadline)),
        ],
    );
    assert_eq!(inst.learned_master_interval(), Duration::from_millis(100));
    assert_eq!(
        inst.master_down_interval(),
        Duration::from_nanos(360_937_500)
    );
    // Taking over, it advertises at its own interval again.
    run_on(
        &mut inst,
        vec![step(
            deadline,
            Event::Timer,
            becomes_master(b, Reason::MasterDown, 100),
            State::Master,
            Some(after(deadline, 1000)),
        )],
    );
    assert_eq!(inst.learned_master_interval(), Duration::from_secs(1));
    // A master that yields learns the winner's interval too (RFC 9568 6.4.3).
    let at = after(deadline, 10);
    let reason = Reason::HigherPriority {
        src: HIGH,
        priority: 200,
    };
    run_on(
        &mut inst,
        vec![step(
            at,
            adv_v3(HIGH, 200, 10),
            vec![Action::ReleaseOwnership, sc(State::Master, b, reason)],
            b,
            Some(at.saturating_add(Duration::from_nanos(360_937_500))),
        )],
    );
}

#[test]
fn v2_does_not_learn_and_drops_interval_mismatch() {
    let p = v2(100);
    let mut other = p.clone();
    other.advert_interval = Duration::from_secs(2);
    let mut inst = Instance::new(p).unwrap();
    inst.handle(ms(0), Event::Startup);
    let ev = adv(&other, HIGH, 200);
    let Event::Advert { advert, .. } = &ev else {
        unreachable!()
    };
    let rejected = AdvertRejected::IntervalMismatch {
        vrid: 51,
        src: HIGH,
        expected: Duration::from_secs(1),
        got: Duration::from_secs(2),
    };
    assert_eq!(inst.check_advert(HIGH, GROUP, 255, advert), Err(rejected));
    run_on(
        &mut inst,
        vec![step(
            ms(1000),
            ev,
            vec![Action::AdvertRejected(rejected)],
            State::Backup,
            Some(ns(DOWN_100)),
        )],
    );
    assert_eq!(inst.learned_master_interval(), Duration::from_secs(1));
}

#[test]
fn shutdown_from_master_and_backup() {
    let p = v2(100);
    let (mut inst, t) = master_from_startup(p.clone());
    run_on(
        &mut inst,
        vec![
            step(
                after(t, 10),
                Event::Shutdown,
                vec![
                    Action::ReleaseOwnership,
                    send(0),
                    sc(State::Master, State::Initialize, Reason::Shutdown),
                ],
                State::Initialize,
                None,
            ),
            step(
                after(t, 20),
                Event::Shutdown,
                vec![],
                State::Initialize,
                None,
            ),
            step(
                after(t, 30),
                adv(&p, HIGH, 200),
                vec![Action::AdvertRejected(AdvertRejected::NotListening {
                    vrid: 51,
                    src: HIGH,
                    state: State::Initialize,
                })],
                State::Initialize,
                None,
            ),
            step(after(t, 40), Event::Timer, vec![], State::Initialize, None),
        ],
    );
    assert_eq!(inst.master(), None);
    let b = State::Backup;
    run(
        p,
        vec![
            step(
                ms(0),
                Event::Startup,
                vec![sc(State::Initialize, b, Reason::Startup)],
                b,
                Some(ns(DOWN_100)),
            ),
            step(ms(100), Event::Startup, vec![], b, Some(ns(DOWN_100))),
            step(
                ms(200),
                Event::Shutdown,
                vec![sc(b, State::Initialize, Reason::Shutdown)],
                State::Initialize,
                None,
            ),
            // It can be started again.
            step(
                ms(300),
                Event::Startup,
                vec![sc(State::Initialize, b, Reason::Startup)],
                b,
                Some(ns(300_000_000 + DOWN_100)),
            ),
        ],
    );
}

#[test]
fn fault_enter_and_leave() {
    let p = v2(100);
    let (mut inst, t) = master_from_startup(p.clone());
    let f = State::Fault;
    let back_at = after(t, 3000);
    run_on(
        &mut inst,
        vec![
            // keepalived: a master going to FAULT sends priority 0.
            step(
                after(t, 100),
                Event::Fault(true),
                vec![
                    Action::ReleaseOwnership,
                    send(0),
                    sc(State::Master, f, Reason::Fault),
                ],
                f,
                None,
            ),
            step(after(t, 200), Event::Fault(true), vec![], f, None),
            step(
                after(t, 300),
                adv(&p, HIGH, 0),
                vec![Action::AdvertRejected(AdvertRejected::NotListening {
                    vrid: 51,
                    src: HIGH,
                    state: f,
                })],
                f,
                None,
            ),
            step(after(t, 1000), Event::Timer, vec![], f, None),
            step(after(t, 1500), Event::SetPriority(120), vec![], f, None),
            step(
                back_at,
                Event::Fault(false),
                vec![sc(f, State::Backup, Reason::FaultCleared)],
                State::Backup,
                // Priority 120 now: skew 136/256 s = 531.25 ms.
                Some(back_at.saturating_add(Duration::from_micros(3_531_250))),
            ),
            step(
                after(t, 3100),
                Event::Fault(false),
                vec![],
                State::Backup,
                Some(back_at.saturating_add(Duration::from_micros(3_531_250))),
            ),
            step(
                after(t, 3200),
                Event::Fault(true),
                vec![sc(State::Backup, f, Reason::Fault)],
                f,
                None,
            ),
            step(
                after(t, 3300),
                Event::Shutdown,
                vec![sc(f, State::Initialize, Reason::Shutdown)],
                State::Initialize,
                None,
            ),
        ],
    );
    // A fault before startup is remembered: startup enters FAULT.
    let i = State::Initialize;
    run(
        p,
        vec![
            step(ms(0), Event::Fault(true), vec![], i, None),
            step(
                ms(10),
                Event::Startup,
                vec![sc(i, f, Reason::Fault)],
                f,
                None,
            ),
            step(
                ms(20),
                Event::Fault(false),
                vec![sc(f, State::Backup, Reason::FaultCleared)],
                State::Backup,
                Some(ns(20_000_000 + DOWN_100)),
            ),
        ],
    );
}

#[test]
fn garp_schedule_keepalived_defaults() {
    // garp_master_repeat 5, garp_master_delay 5 s, no refresh, garp_interval 0.
    let p = InstanceParams {
        initial_state: InitialState::Master,
        ..v2(255)
    };
    let m = State::Master;
    let mut steps = vec![step(
        ms(0),
        Event::Startup,
        becomes_master(State::Initialize, Reason::AddressOwner, 255),
        m,
        Some(ms(1000)),
    )];
    for s in 1..=12 {
        let garps = if s == 5 { 5 } else { 0 };
        steps.push(step(
            ms(s * 1000),
            Event::Timer,
            with_garps(vec![send(255), renew()], garps),
            m,
            Some(ms(s * 1000 + 1000)),
        ));
    }
    run(p, steps);
}

#[test]
#[expect(clippy::too_many_lines, reason = "one scenario table")]
fn garp_schedule_custom_values() {
    // 2 rounds 100 ms apart, second burst after 2 s, 3-round refresh every 10 s.
    let garp = GarpParams {
        master_delay: Duration::from_secs(2),
        master_repeat: 2,
        master_refresh: Some(Duration::from_secs(10)),
        master_refresh_repeat: 3,
        interval: Duration::from_millis(100),
        lower_prio_delay: Duration::ZERO,
        lower_prio_repeat: 0,
        lower_prio_holdoff: Duration::ZERO,
    };
    let p = InstanceParams {
        initial_state: InitialState::Master,
        garp,
        ..v2(255)
    };
    let m = State::Master;
    let g = || Action::SendGarp;
    let mut steps = vec![
        step(
            ms(0),
            Event::Startup,
            vec![
                sc(State::Initialize, m, Reason::AddressOwner),
                send(255),
                Action::TakeOwnership,
                g(),
            ],
            m,
            Some(ms(100)),
        ),
        step(ms(100), Event::Timer, vec![g()], m, Some(ms(1000))),
        step(
            ms(1000),
            Event::Timer,
            vec![send(255), renew()],
            m,
            Some(ms(2000)),
        ),
        step(
            ms(2000),
            Event::Timer,
            vec![send(255), renew(), g()],
            m,
            Some(ms(2100)),
        ),
        step(ms(2100), Event::Timer, vec![g()], m, Some(ms(3000))),
    ];
    for s in 3..=9 {
        steps.push(step(
            ms(s * 1000),
            Event::Timer,
            vec![send(255), renew()],
            m,
            Some(ms(s * 1000 + 1000)),
        ));
    }
    for base in [10_000, 20_000] {
        steps.push(step(
            ms(base),
            Event::Timer,
            vec![send(255), renew(), g()],
            m,
            Some(ms(base + 100)),
        ));
        steps.push(step(
            ms(base + 100),
            Event::Timer,
            vec![g()],
            m,
            Some(ms(base + 200)),
        ));
        steps.push(step(
            ms(base + 200),
            Event::Timer,
            vec![g()],
            m,
            Some(ms(base + 1000)),
        ));
        for s in 1..=9 {
            steps.push(step(
                ms(base + s * 1000),
                Event::Timer,
                vec![send(255), renew()],
                m,
                Some(ms(base + s * 1000 + 1000)),
            ));
        }
    }
    steps.push(step(
        ms(30_000),
        Event::Timer,
        vec![send(255), renew(), g()],
        m,
        Some(ms(30_100)),
    ));
    steps.push(step(
        ms(30_100),
        Event::Timer,
        vec![g()],
        m,
        Some(ms(30_200)),
    ));
    steps.push(step(
        ms(30_200),
        Event::Timer,
        vec![g()],
        m,
        Some(ms(31_000)),
    ));
    // lower_prio_repeat 0: a lower advert only brings the keepalived re-assert advert, which
    // restarts the Adver_Timer.
    steps.push(step(
        ms(30_500),
        adv(&p, HIGH, 100),
        vec![send(255), renew()],
        m,
        Some(ms(31_500)),
    ));
    run(p, steps);
}

#[test]
fn set_priority_moves_the_backup_deadline_and_enables_preemption() {
    let p = v2(100);
    let b = State::Backup;
    let mut inst = run(
        p.clone(),
        vec![
            step(
                ms(0),
                Event::Startup,
                vec![sc(State::Initialize, b, Reason::Startup)],
                b,
                Some(ns(DOWN_100)),
            ),
            step(
                ms(1000),
                adv(&p, HIGH, 150),
                vec![],
                b,
                Some(ns(1_000_000_000 + DOWN_100)),
            ),
            // 200: skew 56/256 s = 218.75 ms, 390.625 ms less than at 100.
            step(
                ms(1500),
                Event::SetPriority(200),
                vec![],
                b,
                Some(ns(1_000_000_000 + DOWN_100 - 390_625_000)),
            ),
            // Now the 150 master is lower: its adverts are discarded, the timer path preempts.
            step(
                ms(2000),
                adv(&p, HIGH, 150),
                vec![],
                b,
                Some(ns(4_218_750_000)),
            ),
            step(
                ns(4_218_750_000),
                Event::Timer,
                becomes_master(
                    b,
                    Reason::PreemptLowerPriority {
                        src: HIGH,
                        priority: 150,
                    },
                    200,
                ),
                State::Master,
                Some(ns(5_218_750_000)),
            ),
        ],
    );
    // Clamped to 1..=254; a master just advertises the new value from its next advert.
    inst.handle(ns(5_000_000_000), Event::SetPriority(0));
    assert_eq!(inst.effective_priority(), 1);
    assert_eq!(
        inst.handle(ns(5_218_750_000), Event::Timer),
        vec![send(1), renew()]
    );
    inst.handle(ns(5_300_000_000), Event::SetPriority(255));
    assert_eq!(inst.effective_priority(), 254);
}

#[test]
#[expect(clippy::too_many_lines, reason = "one table of rejected adverts")]
fn adverts_failing_the_core_checks_are_dropped() {
    let mut p = v2(100);
    p.auth = Auth::simple(b"pw").unwrap();
    let mut inst = Instance::new(p.clone()).unwrap();
    let Event::Advert { advert: good, .. } = adv(&p, HIGH, 200) else {
        unreachable!()
    };
    assert!(matches!(
        inst.check_advert(HIGH, GROUP, 255, &good),
        Err(AdvertRejected::NotListening {
            state: State::Initialize,
            ..
        })
    ));
    inst.handle(ms(0), Event::Startup);
    assert_eq!(inst.check_advert(HIGH, GROUP, 255, &good), Ok(()));

    let other_vip = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 201));
    let cases = [
        (
            HIGH,
            AdvertRepr {
                vrid: 52,
                ..good.clone()
            },
            AdvertRejected::VridMismatch {
                expected: 51,
                got: 52,
                src: HIGH,
            },
        ),
        (
            HIGH,
            AdvertRepr {
                version: Version::V3,
                ..good.clone()
            },
            AdvertRejected::VersionMismatch {
                vrid: 51,
                expected: Version::V2,
                got: Version::V3,
                src: HIGH,
            },
        ),
        (
            ME,
            good.clone(),
            AdvertRejected::OwnAddress { vrid: 51, src: ME },
        ),
        (
            HIGH,
            AdvertRepr {
                auth: Auth::None,
                ..good.clone()
            },
            AdvertRejected::AuthMismatch {
                vrid: 51,
                src: HIGH,
            },
        ),
        (
            HIGH,
            AdvertRepr {
                auth: Auth::simple(b"pW").unwrap(),
                ..good.clone()
            },
            AdvertRejected::AuthMismatch {
                vrid: 51,
                src: HIGH,
            },
        ),
        (
            HIGH,
            AdvertRepr {
                addresses: vec![other_vip],
                ..good.clone()
            },
            AdvertRejected::AddressMismatch {
                vrid: 51,
                src: HIGH,
                got: 1,
                expected: 1,
            },
        ),
        (
            HIGH,
            AdvertRepr {
                addresses: vec![VIP, other_vip],
                ..good.clone()
            },
            AdvertRejected::AddressMismatch {
                vrid: 51,
                src: HIGH,
                got: 2,
                expected: 1,
            },
        ),
    ];
    for (src, advert, err) in cases {
        assert_eq!(inst.check_advert(src, GROUP, 255, &advert), Err(err));
        let ev = Event::Advert {
            src,
            dst: GROUP,
            ttl: 255,
            advert,
            fenced: false,
        };
        assert_eq!(
            inst.handle(ms(1000), ev),
            vec![Action::AdvertRejected(err)],
            "{err}"
        );
        assert_eq!(inst.poll_at(), Some(ns(DOWN_100)), "{err}");
        assert_eq!(inst.master(), None, "{err}");
    }
    // The address owner's advert is accepted with other addresses (RFC 3768 7.1).
    let owner = AdvertRepr {
        priority: 255,
        addresses: vec![other_vip],
        ..good
    };
    inst.handle(
        ms(1000),
        Event::Advert {
            src: HIGH,
            dst: GROUP,
            ttl: 255,
            advert: owner,
            fenced: false,
        },
    );
    assert_eq!(inst.master(), Some((HIGH, 255)));
}

#[test]
fn params_are_validated() {
    let ok = v2(100);
    let v3 = |ms| params(Version::V3, 100, Duration::from_millis(ms));
    let name = || "VI_1".to_owned();
    let bad_interval = |version, ms| ParamsError::BadInterval {
        name: name(),
        version,
        interval: Duration::from_millis(ms),
    };
    let cases = [
        (
            InstanceParams {
                vrid: 0,
                ..ok.clone()
            },
            ParamsError::ZeroVrid { name: name() },
        ),
        (
            InstanceParams {
                priority: 0,
                ..ok.clone()
            },
            ParamsError::ZeroPriority { name: name() },
        ),
        (
            InstanceParams {
                advert_interval: Duration::from_millis(1500),
                ..ok.clone()
            },
            bad_interval(2, 1500),
        ),
        (
            InstanceParams {
                advert_interval: Duration::ZERO,
                ..ok.clone()
            },
            bad_interval(2, 0),
        ),
        (
            InstanceParams {
                advert_interval: Duration::from_secs(256),
                ..ok.clone()
            },
            bad_interval(2, 256_000),
        ),
        (v3(5), bad_interval(3, 5)),
        (v3(41_000), bad_interval(3, 41_000)),
        (
            InstanceParams {
                vips: vec![],
                ..v3(1000)
            },
            ParamsError::NoVips { name: name() },
        ),
        (
            InstanceParams {
                auth: Auth::simple(b"x").unwrap(),
                ..v3(1000)
            },
            ParamsError::AuthWithV3 { name: name() },
        ),
        (
            InstanceParams {
                vips: vec![VIP; 256],
                ..ok.clone()
            },
            ParamsError::TooManyVips {
                name: name(),
                count: 256,
            },
        ),
        (
            InstanceParams {
                garp: GarpParams {
                    master_repeat: 256,
                    ..GarpParams::default()
                },
                ..ok.clone()
            },
            ParamsError::GarpRepeat {
                name: name(),
                field: "garp_master_repeat",
                value: 256,
            },
        ),
    ];
    for (p, err) in cases {
        assert_eq!(Instance::new(p).err(), Some(err));
    }
    assert!(Instance::new(v3(10)).is_ok());
    assert!(Instance::new(v3(40_950)).is_ok());
    assert!(Instance::new(InstanceParams { vips: vec![], ..ok }).is_ok());
}

#[test]
fn labels_and_display() {
    assert_eq!(State::Initialize.to_string(), "INIT");
    assert_eq!(State::Backup.to_string(), "BACKUP");
    assert_eq!(State::Master.to_string(), "MASTER");
    assert_eq!(State::Fault.to_string(), "FAULT");
    let r = Reason::HigherPriority {
        src: HIGH,
        priority: 200,
    };
    assert_eq!(r.as_label(), "higher_priority");
    assert_eq!(r.to_string(), "higher priority 200 advert from 192.0.2.12");
    assert_eq!(
        Reason::KernelFenced {
            src: HIGH,
            priority: 1
        }
        .as_label(),
        "kernel_fenced"
    );
}

/// xorshift64*, for a reproducible random walk without a crate.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Random event sequences: no panic, ownership actions alternate and match the state, INIT and
/// FAULT have no deadline while BACKUP and MASTER always have one.
#[test]
fn random_walk_keeps_invariants() {
    for seed in 1..=40u64 {
        let mut rng = XorShift(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let version = if seed % 2 == 0 {
            Version::V2
        } else {
            Version::V3
        };
        let mut p = params(
            version,
            [1, 100, 254, 255][usize::try_from(seed % 4).unwrap()],
            Duration::from_secs(1),
        );
        p.preempt = seed % 3 != 0;
        p.preempt_delay = Duration::from_secs(seed % 5);
        p.initial_state = if seed % 7 == 0 {
            InitialState::Master
        } else {
            InitialState::Backup
        };
        p.garp.interval = Duration::from_millis(seed % 3 * 50);
        p.garp.master_refresh = (seed % 2 == 0).then(|| Duration::from_secs(3));
        let mut inst = Instance::new(p.clone()).unwrap();
        let mut now = Instant::ZERO;
        let mut owner = false;
        for _ in 0..400 {
            let event = match rng.below(10) {
                0 => Event::Startup,
                1 => Event::Shutdown,
                2 => Event::Fault(rng.below(2) == 0),
                3 => Event::SetPriority(u8::try_from(rng.below(256)).unwrap()),
                4 | 5 => {
                    let src = [LOW, HIGH, ME][usize::try_from(rng.below(3)).unwrap()];
                    let prio = u8::try_from(rng.below(256)).unwrap();
                    match adv(&p, src, prio) {
                        Event::Advert {
                            src, mut advert, ..
                        } => {
                            if version == Version::V3 {
                                let cs = u16::try_from(rng.below(200)).unwrap() + 1;
                                advert.interval =
                                    AdvertInterval::Centiseconds(Centiseconds::new(cs).unwrap());
                            }
                            Event::Advert {
                                src,
                                dst: GROUP,
                                ttl: 255,
                                advert,
                                fenced: rng.below(4) == 0,
                            }
                        }
                        other => other,
                    }
                }
                _ => {
                    if let Some(t) = inst.poll_at().filter(|t| *t > now) {
                        now = t;
                    }
                    Event::Timer
                }
            };
            now = now.saturating_add(Duration::from_millis(rng.below(700)));
            let is_timer = event == Event::Timer;
            for action in inst.handle(now, event) {
                match action {
                    Action::TakeOwnership => {
                        assert!(!owner, "seed {seed}: TakeOwnership while owner");
                        owner = true;
                    }
                    Action::ReleaseOwnership => {
                        assert!(owner, "seed {seed}: ReleaseOwnership while not owner");
                        owner = false;
                    }
                    _ => {}
                }
            }
            assert_eq!(owner, inst.state() == State::Master, "seed {seed}");
            let has_deadline = matches!(inst.state(), State::Backup | State::Master);
            assert_eq!(inst.poll_at().is_some(), has_deadline, "seed {seed}");
            if let Some(t) = inst.poll_at().filter(|_| is_timer) {
                assert!(
                    t > now,
                    "seed {seed}: a deadline at or before now survived a Timer"
                );
            }
        }
    }
}

/// Sync group: a closed gate holds a backup whose timer fired; opening it takes over at once,
/// with the takeover reason the timer would have given.
#[test]
fn a_closed_gate_holds_the_takeover_until_it_opens() {
    let (b, m) = (State::Backup, State::Master);
    let down = ns(DOWN_100);
    let p = v2(100);
    run(
        p.clone(),
        vec![
            step(ms(0), Event::Gate(false), vec![], State::Initialize, None),
            step(
                ms(0),
                Event::Startup,
                vec![sc(State::Initialize, b, Reason::Startup)],
                b,
                Some(down),
            ),
            // The timer fires: held, nothing to poll until the gate opens.
            step(down, Event::Timer, vec![], b, None),
            step(
                after(down, 5),
                Event::Gate(true),
                becomes_master(b, Reason::MasterDown, 100),
                m,
                Some(after(down, 1005)),
            ),
        ],
    );
}

/// Sync group: a held backup that hears a master it accepts is no longer ready; the gate
/// opening later changes nothing.
#[test]
fn a_held_backup_that_hears_a_master_is_no_longer_ready() {
    let b = State::Backup;
    let down = ns(DOWN_100);
    let p = v2(100);
    let mut inst = Instance::new(p.clone()).unwrap();
    inst.handle(ms(0), Event::Gate(false));
    inst.handle(ms(0), Event::Startup);
    inst.handle(down, Event::Timer);
    assert!(inst.wants_master());
    let t = after(down, 10);
    assert_eq!(inst.handle(t, adv(&p, HIGH, 200)), vec![]);
    assert!(!inst.wants_master());
    assert_eq!(
        inst.poll_at(),
        Some(t.saturating_add(Duration::from_nanos(DOWN_100)))
    );
    assert_eq!(inst.handle(after(t, 1), Event::Gate(true)), vec![]);
    assert_eq!(inst.state(), b);
}

/// Sync group: a master told that another member left resigns like a shutdown (release, then
/// a priority-0 advert so the peer takes over after its skew time) and stays backup.
#[test]
fn group_resign_releases_with_a_priority_zero_advert() {
    let (mut inst, t) = master_from_startup(v2(100));
    let at = after(t, 100);
    assert_eq!(
        inst.handle(at, Event::GroupResign),
        vec![
            Action::ReleaseOwnership,
            send(0),
            sc(State::Master, State::Backup, Reason::SyncGroup),
        ]
    );
    assert_eq!(inst.state(), State::Backup);
    assert_eq!(
        inst.handle(after(at, 1), Event::GroupResign),
        vec![],
        "only a master resigns"
    );
}

mod bfd;
mod bounds;
mod resume;
