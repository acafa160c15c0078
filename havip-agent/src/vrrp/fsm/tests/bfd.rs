//! `master_down_on_bfd` (havip extension): [`Event::PeerDown`] brings a backup's takeover
//! forward when the BFD session to *its master* goes Down, and does nothing otherwise.

use super::*;

#[test]
fn a_backup_takes_over_at_once_when_its_master_goes_down() {
    let p = v2(100);
    let mut inst = Instance::new(p.clone()).unwrap();
    inst.handle(ms(0), Event::Startup);
    inst.handle(ms(100), adv(&p, HIGH, 150));
    assert_eq!(inst.master(), Some((HIGH, 150)));
    // Another peer's session going down changes nothing.
    assert_eq!(inst.handle(ms(200), Event::PeerDown(LOW)), vec![]);
    assert_eq!(inst.state(), State::Backup);
    let got = inst.handle(ms(300), Event::PeerDown(HIGH));
    assert_eq!(
        got,
        becomes_master(State::Backup, Reason::BfdDown { src: HIGH }, 100),
        "long before Master_Down_Interval (3.6 s)"
    );
    // A master ignores it.
    assert_eq!(inst.handle(ms(400), Event::PeerDown(HIGH)), vec![]);
    assert_eq!(inst.state(), State::Master);
}

#[test]
fn a_backup_without_a_known_master_keeps_its_timer() {
    let p = v2(100);
    let mut inst = Instance::new(p).unwrap();
    inst.handle(ms(0), Event::Startup);
    let before = inst.poll_at();
    assert_eq!(inst.handle(ms(10), Event::PeerDown(HIGH)), vec![]);
    assert_eq!(inst.state(), State::Backup);
    assert_eq!(inst.poll_at(), before);
}

#[test]
fn a_closed_sync_group_gate_holds_the_takeover() {
    let p = v2(100);
    let mut inst = Instance::new(p.clone()).unwrap();
    inst.handle(ms(0), Event::Startup);
    inst.handle(ms(0), Event::Gate(false));
    inst.handle(ms(100), adv(&p, HIGH, 150));
    assert_eq!(inst.handle(ms(200), Event::PeerDown(HIGH)), vec![]);
    assert!(inst.wants_master());
    assert_eq!(
        inst.handle(ms(250), Event::Gate(true)),
        becomes_master(State::Backup, Reason::BfdDown { src: HIGH }, 100)
    );
}
