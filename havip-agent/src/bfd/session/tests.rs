//! Session scenarios: each step is `(time, input) -> exact outputs`, with the state expected
//! after it. Packets are written out field by field, so a table says what goes on the wire.

use super::*;

const A: u32 = 0x0a;
const B: u32 = 0x0b;

fn ms(n: u64) -> Instant {
    Instant::from_millis(n)
}

fn d(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn params(discr: u32) -> SessionParams {
    SessionParams {
        local_discr: discr,
        min_tx: d(10),
        min_rx: d(10),
        idle_tx: d(1000),
        detect_mult: 3,
        passive: false,
        min_echo_rx: Duration::ZERO,
        seed: discr,
    }
}

/// A packet as a session with [`params`] sends it.
fn pkt(my: u32, your: u32, state: State, diag: Diag, tx: u64) -> ControlRepr {
    ControlRepr {
        diag,
        state,
        poll: false,
        final_: false,
        cpi: false,
        demand: false,
        detect_mult: 3,
        my_discr: my,
        your_discr: your,
        desired_min_tx: d(tx),
        required_min_rx: d(10),
        required_min_echo_rx: Duration::ZERO,
        auth: None,
    }
}

fn poll(mut p: ControlRepr) -> ControlRepr {
    p.poll = true;
    p
}

fn fin(mut p: ControlRepr) -> ControlRepr {
    p.final_ = true;
    p
}

fn changed(from: State, to: State, diag: Diag) -> Output {
    Output::Changed { from, to, diag }
}

type Step = (Instant, Input, Vec<Output>, State);

fn run(s: &mut Session, steps: Vec<Step>) {
    for (i, (now, input, expected, state)) in steps.into_iter().enumerate() {
        let got = s.handle(now, input.clone());
        assert_eq!(got, expected, "step {i}: {input:?}");
        assert_eq!(s.state(), state, "step {i}: state");
    }
}

#[test]
fn three_way_handshake_then_poll_final_to_fast_timers() {
    let mut a = Session::new(params(A));
    a.start(ms(0));
    assert_eq!(a.poll_at(), Some(ms(0)));
    run(
        &mut a,
        vec![
            // Down, remote unknown: a Down packet at the idle rate.
            (
                ms(0),
                Input::Timer,
                vec![Output::Send(pkt(A, 0, State::Down, Diag::None, 1000))],
                State::Down,
            ),
            // RFC 5880 6.8.6: Down hears Down -> Init, announced at once.
            (
                ms(5),
                Input::Received(pkt(B, 0, State::Down, Diag::None, 1000)),
                vec![
                    changed(State::Down, State::Init, Diag::None),
                    Output::Send(pkt(A, B, State::Init, Diag::None, 1000)),
                ],
                State::Init,
            ),
            // Init hears Up -> Up; Up advertises min_tx with a Poll (6.8.3).
            (
                ms(6),
                Input::Received(pkt(B, A, State::Up, Diag::None, 1000)),
                vec![
                    changed(State::Init, State::Up, Diag::None),
                    Output::Send(poll(pkt(A, B, State::Up, Diag::None, 10))),
                ],
                State::Up,
            ),
        ],
    );
    assert!(a.polling());
    // Sending faster is safe at once: the remote still asks for 1 s, which rules (6.8.7).
    assert_eq!(a.tx_interval(), d(10));
    // The remote answers with a Final, advertising its own fast timers.
    let mut f = fin(pkt(B, A, State::Up, Diag::None, 10));
    f.required_min_rx = d(10);
    assert_eq!(a.handle(ms(7), Input::Received(f)), vec![]);
    assert!(!a.polling());
    assert_eq!(a.tx_interval(), d(10));
    assert_eq!(a.detection_time(), Some(d(30)), "3 x max(10 ms, 10 ms)");
    // Periodic packets are jittered to 75-100 % of 10 ms and carry no Poll any more.
    let at = a.poll_at().expect("scheduled");
    assert!(at >= ms(7) && at <= ms(17), "{at}");
    let next = a.poll_at().expect("tx");
    let out = a.handle(next, Input::Timer);
    assert_eq!(
        out,
        vec![Output::Send(pkt(A, B, State::Up, Diag::None, 10))]
    );
}

#[test]
fn down_hears_init_goes_straight_up_and_answers_a_poll_with_a_final() {
    let mut b = Session::new(params(B));
    b.start(ms(0));
    run(
        &mut b,
        vec![(
            ms(1),
            Input::Received(poll(pkt(A, 0, State::Init, Diag::None, 1000))),
            vec![
                changed(State::Down, State::Up, Diag::None),
                // 6.8.7: the Final goes out first, without P (never both bits).
                Output::Send(fin(pkt(B, A, State::Up, Diag::None, 10))),
                Output::Send(poll(pkt(B, A, State::Up, Diag::None, 10))),
            ],
            State::Up,
        )],
    );
}

#[test]
fn slower_timers_wait_for_the_final() {
    // idle 100 ms, Up 300 ms: going Up *raises* Desired Min TX, which must not apply before
    // the remote's Final (RFC 5880 6.8.3).
    let mut p = params(A);
    p.idle_tx = d(100);
    p.min_tx = d(300);
    let mut a = Session::new(p);
    a.start(ms(0));
    let mut up = pkt(B, A, State::Up, Diag::None, 10);
    up.required_min_rx = d(10);
    a.handle(
        ms(1),
        Input::Received(pkt(B, 0, State::Down, Diag::None, 10)),
    );
    a.handle(ms(2), Input::Received(up.clone()));
    assert_eq!(a.state(), State::Up);
    assert_eq!(a.advertised_tx(), d(300));
    assert_eq!(a.tx_interval(), d(100), "the old rate until the Final");
    // A packet without F changes nothing; with F the new rate applies.
    a.handle(ms(3), Input::Received(up.clone()));
    assert_eq!(a.tx_interval(), d(100));
    a.handle(ms(4), Input::Received(fin(up)));
    assert_eq!(a.tx_interval(), d(300));
}

#[test]
fn detection_time_expiry_goes_down_with_diag_1_and_forgets_the_remote() {
    let mut a = Session::new(params(A));
    a.start(ms(0));
    a.handle(
        ms(0),
        Input::Received(pkt(B, 0, State::Down, Diag::None, 10)),
    );
    a.handle(
        ms(1),
        Input::Received(fin(pkt(B, A, State::Up, Diag::None, 10))),
    );
    assert_eq!(a.state(), State::Up);
    // Detection time: remote mult 3 x max(our 10 ms, its 10 ms) = 30 ms from the last packet.
    assert_eq!(a.detection_time(), Some(d(30)));
    let mut now = ms(1);
    let mut changes = Vec::new();
    while let Some(at) = a.poll_at() {
        if at > ms(100) {
            break;
        }
        now = at;
        for o in a.handle(at, Input::Timer) {
            if let Output::Changed { .. } = o {
                changes.push((at, o));
            }
        }
        if a.state() == State::Down {
            break;
        }
    }
    assert_eq!(
        changes,
        vec![(
            ms(31),
            changed(State::Up, State::Down, Diag::DetectionTimeExpired)
        )]
    );
    assert_eq!(now, ms(31));
    assert_eq!(a.remote_discr(), 0);
    assert_eq!(a.detection_time(), None);
    assert_eq!(a.tx_interval(), d(1000), "back to the idle rate");
    // The next packet says so, with the diagnostic.
    let at = a.poll_at().expect("still transmitting");
    assert_eq!(
        a.handle(at, Input::Timer),
        vec![Output::Send(pkt(
            A,
            0,
            State::Down,
            Diag::DetectionTimeExpired,
            1000
        ))]
    );
}

#[test]
fn the_neighbor_signals_down_or_admin_down() {
    for remote in [State::Down, State::AdminDown] {
        let mut a = Session::new(params(A));
        a.start(ms(0));
        a.handle(ms(0), Input::Received(pkt(B, A, State::Up, Diag::None, 10)));
        assert_eq!(a.state(), State::Up);
        let out = a.handle(
            ms(2),
            Input::Received(pkt(B, A, remote, Diag::AdminDown, 1000)),
        );
        assert_eq!(
            out,
            vec![
                changed(State::Up, State::Down, Diag::NeighborDown),
                Output::Send(pkt(A, B, State::Down, Diag::NeighborDown, 1000)),
            ],
            "remote {remote}"
        );
    }
}

#[test]
fn admin_down_is_announced_and_ignores_packets_until_admin_up() {
    let mut a = Session::new(params(A));
    a.start(ms(0));
    a.handle(ms(0), Input::Received(pkt(B, A, State::Up, Diag::None, 10)));
    let out = a.handle(ms(1), Input::AdminDown);
    assert_eq!(
        out,
        vec![
            changed(State::Up, State::AdminDown, Diag::AdminDown),
            Output::Send(pkt(A, B, State::AdminDown, Diag::AdminDown, 1000)),
        ]
    );
    assert_eq!(
        a.handle(ms(2), Input::Received(pkt(B, A, State::Up, Diag::None, 10))),
        vec![]
    );
    assert_eq!(a.state(), State::AdminDown);
    assert_eq!(
        a.handle(ms(3), Input::AdminUp),
        vec![changed(State::AdminDown, State::Down, Diag::None)]
    );
}

#[test]
fn passive_waits_for_the_remote_and_a_zero_min_rx_stops_transmission() {
    let mut p = params(A);
    p.passive = true;
    let mut a = Session::new(p);
    a.start(ms(0));
    // RFC 5880 6.8.7: passive and RemoteDiscr 0: nothing is sent.
    assert_eq!(a.handle(ms(0), Input::Timer), vec![]);
    assert_eq!(a.poll_at(), None);
    let out = a.handle(
        ms(5),
        Input::Received(pkt(B, 0, State::Down, Diag::None, 1000)),
    );
    assert_eq!(
        out,
        vec![
            changed(State::Down, State::Init, Diag::None),
            Output::Send(pkt(A, B, State::Init, Diag::None, 1000)),
        ]
    );
    // A remote that asks for no packets (Required Min RX 0) gets none.
    let mut quiet = pkt(B, A, State::Init, Diag::None, 1000);
    quiet.required_min_rx = Duration::ZERO;
    a.handle(ms(6), Input::Received(quiet));
    let at = a.poll_at().expect("detection or tx");
    let out = a.handle(at.max(ms(2000)), Input::Timer);
    assert!(out.iter().all(|o| !matches!(o, Output::Send(_))), "{out:?}");
}

#[test]
fn jitter_stays_within_75_to_100_percent_or_90_with_multiplier_1() {
    for (mult, hi) in [(3u8, 100u64), (1, 90)] {
        let mut p = params(A);
        p.detect_mult = mult;
        p.idle_tx = d(1000);
        let mut a = Session::new(p);
        a.start(ms(0));
        let mut now = ms(0);
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..400 {
            a.handle(now, Input::Timer);
            let next = a.poll_at().expect("tx");
            let gap = next.saturating_duration_since(now).as_millis();
            assert!(
                (750..=u128::from(hi) * 10).contains(&gap),
                "mult {mult}: {gap} ms"
            );
            seen.insert(gap);
            now = next;
        }
        assert!(seen.len() > 10, "jitter varies: {seen:?}");
    }
}

#[test]
fn a_kernel_timestamp_moves_the_deadline_from_the_packets_arrival() {
    let mut a = Session::new(params(A));
    a.start(ms(0));
    a.handle(
        ms(0),
        Input::Received(pkt(B, 0, State::Down, Diag::None, 10)),
    );
    a.handle(
        ms(1),
        Input::Received(fin(pkt(B, A, State::Up, Diag::None, 10))),
    );
    assert_eq!(a.detect_at(), Some(ms(31)));
    // The thread wakes at 40 ms, late; the kernel saw a packet at 25 ms that waits in the
    // socket: the deadline becomes 25 + 30 ms, and the timer at 40 ms changes nothing.
    assert_eq!(a.handle(ms(40), Input::Heard(ms(25))), vec![]);
    assert_eq!(a.detect_at(), Some(ms(55)));
    assert!(
        a.handle(ms(40), Input::Timer)
            .iter()
            .all(|o| matches!(o, Output::Send(_)))
    );
    assert_eq!(a.state(), State::Up);
    // An older timestamp (a packet already processed) never pulls the deadline back.
    a.handle(ms(41), Input::Heard(ms(2)));
    assert_eq!(a.detect_at(), Some(ms(55)));
    // Without a later packet the session still goes Down at the moved deadline.
    let out = a.handle(ms(55), Input::Timer);
    assert!(out.contains(&changed(State::Up, State::Down, Diag::DetectionTimeExpired)));
    // Once Down, with the detection timer stopped, a timestamp does not restart it.
    a.handle(ms(56), Input::Heard(ms(56)));
    assert_eq!(a.detect_at(), None);
}

#[test]
fn retuning_an_up_session_polls_and_slower_timers_wait_for_the_final() {
    let mut a = Session::new(params(A));
    a.start(ms(0));
    a.handle(
        ms(0),
        Input::Received(pkt(B, 0, State::Down, Diag::None, 10)),
    );
    a.handle(ms(1), Input::Received(pkt(B, A, State::Up, Diag::None, 10)));
    // Up starts a Poll Sequence (idle_tx -> min_tx); the remote's Final ends it.
    a.handle(
        ms(2),
        Input::Received(fin(pkt(B, A, State::Up, Diag::None, 10))),
    );
    assert_eq!((a.state(), a.polling()), (State::Up, false));
    let mut slower = params(0xff);
    slower.min_tx = d(50);
    slower.min_rx = d(50);
    slower.detect_mult = 5;
    let out = a.retune(ms(3), &slower);
    // One packet at once, with Poll and the new values; the old rates stay until the Final.
    let mut expected = poll(pkt(A, B, State::Up, Diag::None, 50));
    expected.required_min_rx = d(50);
    expected.detect_mult = 5;
    assert_eq!(out, vec![Output::Send(expected)]);
    assert_eq!(a.params().local_discr, A, "the discriminator is kept");
    assert_eq!(a.tx_interval(), d(10));
    assert_eq!(
        a.rx_interval(),
        d(50),
        "expecting packets slower applies at once"
    );
    a.handle(
        ms(4),
        Input::Received(fin(pkt(B, A, State::Up, Diag::None, 10))),
    );
    assert!(!a.polling());
    assert_eq!(a.tx_interval(), d(50), "sending slower after the Final");
    assert_eq!(a.state(), State::Up);
}
