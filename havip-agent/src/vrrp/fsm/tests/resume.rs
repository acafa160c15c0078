//! Scenarios for an instance resumed by a restarted agent (issue #14): a master goes on without a
//! state change (advert and lease renewal at once, one gratuitous ARP, then its normal timers);
//! a backup's `Master_Down_Timer` runs from the master's last advert, not from the restart.

use super::*;

fn resume_backup(master: Option<(IpAddr, u8)>, last: Option<Instant>, learned_ms: u64) -> Event {
    Event::Resume(Resume::Backup {
        master,
        last_advert: last,
        learned_interval: Duration::from_millis(learned_ms),
    })
}

/// v3, 100 ms, priority 100: advert and renewal at once, one GARP, no transition; then the
/// usual `Adver_Timer` every 100 ms.
#[test]
fn a_live_grant_resumes_as_master_without_a_transition() {
    let p = params(Version::V3, 100, Duration::from_millis(100));
    let m = State::Master;
    run(
        p,
        vec![
            step(
                ms(5_000),
                Event::Resume(Resume::Master),
                vec![send(100), renew(), Action::SendGarp],
                m,
                Some(ms(5_100)),
            ),
            step(
                ms(5_100),
                Event::Timer,
                vec![send(100), renew()],
                m,
                Some(ms(5_200)),
            ),
        ],
    );
}

/// A resumed master that hears a higher priority leaves like any master (RFC 9568 6.4.3).
#[test]
fn a_resumed_master_yields_to_a_higher_priority() {
    let p = params(Version::V3, 100, Duration::from_millis(100));
    let mut inst = Instance::new(p.clone()).unwrap();
    inst.handle(ms(0), Event::Resume(Resume::Master));
    let got = inst.handle(ms(50), adv(&p, HIGH, 150));
    assert_eq!(
        got,
        vec![
            Action::ReleaseOwnership,
            sc(
                State::Master,
                State::Backup,
                Reason::HigherPriority {
                    src: HIGH,
                    priority: 150
                }
            ),
        ]
    );
}

/// v3, 100 ms, priority 100 (down 360.9375 ms): the master's last advert at 1000 ms, the
/// restart at 1200 ms: the timer fires at 1360.9375 ms, not 1560.9375 ms; nothing is reported.
#[test]
fn a_backup_resumes_with_its_timer_from_the_last_advert() {
    let p = params(Version::V3, 100, Duration::from_millis(100));
    let b = State::Backup;
    let inst = run(
        p.clone(),
        vec![
            step(
                ms(1_200),
                resume_backup(Some((HIGH, 150)), Some(ms(1_000)), 100),
                vec![],
                b,
                Some(ns(1_360_937_500)),
            ),
            // The master goes on advertising: the timer restarts from its advert.
            step(
                ms(1_300),
                adv(&p, HIGH, 150),
                vec![],
                b,
                Some(ns(1_660_937_500)),
            ),
        ],
    );
    assert_eq!(inst.master(), Some((HIGH, 150)));
}

/// The master went silent during the restart: the timer is already due and fires at the next
/// Timer event (a normal failover, reported as master-down).
#[test]
fn a_backup_whose_master_went_silent_takes_over_at_once() {
    let p = params(Version::V3, 100, Duration::from_millis(100));
    let mut inst = Instance::new(p).unwrap();
    let got = inst.handle(
        ms(2_000),
        resume_backup(Some((HIGH, 150)), Some(ms(1_000)), 100),
    );
    assert_eq!(got, vec![]);
    assert_eq!(inst.poll_at(), Some(ns(1_360_937_500)));
    let got = inst.handle(ms(2_000), Event::Timer);
    assert_eq!(got, becomes_master(State::Backup, Reason::MasterDown, 100));
}

/// No advert was ever recorded: a full `Master_Down_Interval` from the restart. A learned v3
/// interval (200 ms) counts: down = 3 x 200 ms + 156/256 x 200 ms = 721.875 ms.
#[test]
fn a_backup_without_a_recorded_advert_waits_a_full_interval_with_the_learned_interval() {
    let p = params(Version::V3, 100, Duration::from_millis(100));
    run(
        p,
        vec![step(
            ms(1_000),
            resume_backup(None, None, 200),
            vec![],
            State::Backup,
            Some(ns(1_721_875_000)),
        )],
    );
}

/// FAULT at resume (a tracked interface down): the normal start, into FAULT, reported.
#[test]
fn a_fault_at_resume_starts_as_usual() {
    let p = params(Version::V3, 100, Duration::from_millis(100));
    run(
        p,
        vec![
            step(ms(0), Event::Fault(true), vec![], State::Initialize, None),
            step(
                ms(1),
                Event::Resume(Resume::Master),
                vec![sc(State::Initialize, State::Fault, Reason::Fault)],
                State::Fault,
                None,
            ),
        ],
    );
}

/// Resume is for INIT only: a running instance ignores it.
#[test]
fn resume_is_ignored_once_running() {
    let p = params(Version::V3, 100, Duration::from_millis(100));
    let mut inst = Instance::new(p).unwrap();
    inst.handle(ms(0), Event::Startup);
    let before = inst.poll_at();
    assert_eq!(inst.handle(ms(10), Event::Resume(Resume::Master)), vec![]);
    assert_eq!(inst.state(), State::Backup);
    assert_eq!(inst.poll_at(), before);
}
