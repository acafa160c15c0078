//! One BFD session in asynchronous mode (RFC 5880 6.1, 6.8): its state variables, the
//! reception rules of 6.8.6 once the packet is demultiplexed, the transmission rules of 6.8.7,
//! the detection time of 6.8.4, and the Poll Sequence that changes timers (6.5, 6.8.3).
//!
//! Sans-IO: [`Session::handle`] takes `(now, Input)` and returns [`Output`]s (packets to send
//! at once, state changes); [`Session::poll_at`] says when to call it with [`Input::Timer`]
//! next. Jitter comes from a small generator seeded by the caller, so a scenario replays
//! exactly.
//!
//! Timers (RFC 5880 6.8.3): while the session is not Up it advertises `idle_tx` (keepalived's
//! name; the RFC asks for at least one second) as Desired Min TX; once Up it advertises
//! `min_tx` and starts a Poll Sequence. A change that makes this system send *slower* or
//! expect packets *faster* only takes effect when the remote's Final arrives; the opposite
//! changes are safe at once and apply at once.

use std::time::Duration;

use super::packet::{ControlRepr, Diag, State};
use crate::vrrp::Instant;

/// What a session needs; [`super::demux::Sessions`] picks the discriminator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionParams {
    /// `bfd.LocalDiscr`: non-zero, unique on this system (RFC 5880 6.8.1).
    pub local_discr: u32,
    /// `bfd.DesiredMinTxInterval` while Up (keepalived `min_tx`).
    pub min_tx: Duration,
    /// `bfd.RequiredMinRxInterval` (keepalived `min_rx`).
    pub min_rx: Duration,
    /// `bfd.DesiredMinTxInterval` while not Up (keepalived `idle_tx`).
    pub idle_tx: Duration,
    /// `bfd.DetectMult` (keepalived `multiplier`), 1..=255.
    pub detect_mult: u8,
    /// Passive role (RFC 5880 6.1): send nothing until the remote's discriminator is known.
    pub passive: bool,
    /// `Required Min Echo RX Interval` advertised (RFC 5880 4.1): 0 tells the remote not to
    /// send Echo packets (RFC 5880 6.4); nonzero, that this system loops them back (the XDP
    /// program does).
    pub min_echo_rx: Duration,
    /// Seed of the jitter generator (any value).
    pub seed: u32,
}

/// An input of [`Session::handle`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    /// A packet that passed [`ControlRepr::parse`] and was demultiplexed to this session.
    Received(ControlRepr),
    /// A deadline passed (spurious calls are harmless).
    Timer,
    /// Hold the session administratively down (RFC 5880 6.8.16), e.g. on shutdown.
    AdminDown,
    /// Leave `AdminDown` for Down.
    AdminUp,
    /// The kernel saw a valid Control packet of this session's remote at this time (its XDP
    /// receive timestamp), which the session has not processed yet: the packet waits in the
    /// socket of a thread that ran late. RFC 5880 6.8.4 counts the detection time from the
    /// packet's reception, so the deadline moves to that time plus the detection time; the
    /// packet itself still arrives as [`Input::Received`].
    Heard(Instant),
}

/// An output of [`Session::handle`], to be carried out in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    /// Send this packet now.
    Send(ControlRepr),
    /// `bfd.SessionState` changed; `diag` is `bfd.LocalDiag` after the change.
    Changed {
        /// Previous state.
        from: State,
        /// New state.
        to: State,
        /// Why.
        diag: Diag,
    },
}

/// One BFD session (RFC 5880 6.8.1 state variables).
#[derive(Clone, Debug)]
pub struct Session {
    params: SessionParams,
    state: State,
    remote_state: State,
    remote_discr: u32,
    diag: Diag,
    /// `bfd.RemoteMinRxInterval`: initialised to 1 us (6.8.1), 0 stops periodic transmission.
    remote_min_rx: Duration,
    /// The remote's last Desired Min TX Interval (for the detection time, 6.8.4).
    remote_min_tx: Duration,
    remote_mult: u8,
    /// Desired Min TX in force for our transmission rate (6.8.3).
    tx_in_force: Duration,
    /// Required Min RX in force for our detection time (6.8.3).
    rx_in_force: Duration,
    /// A Poll Sequence is in progress (6.5).
    polling: bool,
    next_tx: Option<Instant>,
    detect_at: Option<Instant>,
    rng: u32,
}

impl Session {
    /// A session in Down (RFC 5880 6.8.1 initial values); call [`Session::start`] to schedule
    /// its first packet.
    pub fn new(params: SessionParams) -> Self {
        Self {
            state: State::Down,
            remote_state: State::Down,
            remote_discr: 0,
            diag: Diag::None,
            remote_min_rx: Duration::from_micros(1),
            remote_min_tx: Duration::ZERO,
            remote_mult: 0,
            tx_in_force: params.idle_tx,
            rx_in_force: params.min_rx,
            polling: false,
            next_tx: None,
            detect_at: None,
            rng: params.seed | 1,
            params,
        }
    }

    /// Schedules the first packet (at once, unless passive).
    pub fn start(&mut self, now: Instant) {
        self.next_tx = Some(now);
    }

    /// The parameters.
    pub fn params(&self) -> &SessionParams {
        &self.params
    }
    /// `bfd.SessionState`.
    pub fn state(&self) -> State {
        self.state
    }
    /// `bfd.RemoteSessionState`.
    pub fn remote_state(&self) -> State {
        self.remote_state
    }
    /// `bfd.LocalDiag`.
    pub fn diag(&self) -> Diag {
        self.diag
    }
    /// `bfd.RemoteDiscr` (0 while unknown).
    pub fn remote_discr(&self) -> u32 {
        self.remote_discr
    }
    /// Whether a Poll Sequence is in progress.
    pub fn polling(&self) -> bool {
        self.polling
    }

    /// Desired Min TX this system advertises now.
    pub fn advertised_tx(&self) -> Duration {
        if self.state == State::Up {
            self.params.min_tx
        } else {
            self.params.idle_tx
        }
    }

    /// The agreed transmit interval before jitter (6.8.7): the larger of our Desired Min TX in
    /// force and the remote's Required Min RX.
    pub fn tx_interval(&self) -> Duration {
        self.tx_in_force.max(self.remote_min_rx)
    }

    /// The agreed receive interval (6.8.4): the larger of our Required Min RX in force and the
    /// remote's last Desired Min TX.
    pub fn rx_interval(&self) -> Duration {
        self.rx_in_force.max(self.remote_min_tx)
    }

    /// Detection time (6.8.4): the remote's Detect Mult times the agreed receive interval;
    /// `None` before the first packet.
    pub fn detection_time(&self) -> Option<Duration> {
        (self.remote_mult > 0).then(|| self.rx_interval() * u32::from(self.remote_mult))
    }

    /// When to call [`Session::handle`] with [`Input::Timer`] next.
    pub fn poll_at(&self) -> Option<Instant> {
        match (self.next_tx, self.detect_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Runs one input.
    pub fn handle(&mut self, now: Instant, input: Input) -> Vec<Output> {
        let mut out = Vec::new();
        match input {
            Input::Received(p) => self.on_packet(now, &p, &mut out),
            Input::Timer => self.on_timer(now, &mut out),
            Input::AdminDown => {
                if self.state != State::AdminDown {
                    // RFC 5880 6.8.16: AdminDown with diag 7, announced at once; the detection
                    // timer stops (6.8.4 does not apply to AdminDown).
                    self.set_state(State::AdminDown, Diag::AdminDown, &mut out);
                    self.detect_at = None;
                    out.push(Output::Send(self.packet(false)));
                    self.next_tx = Some(now.saturating_add(self.jittered()));
                }
            }
            Input::AdminUp => {
                if self.state == State::AdminDown {
                    self.set_state(State::Down, Diag::None, &mut out);
                    self.next_tx = Some(now);
                }
            }
            Input::Heard(at) => {
                // Only a running detection timer moves, and only later: a timestamp of a
                // packet already processed (or older) changes nothing.
                if let (Some(deadline), Some(d)) = (self.detect_at, self.detection_time()) {
                    self.detect_at = Some(deadline.max(at.saturating_add(d)));
                }
            }
        }
        out
    }

    /// Changes the timers and Detect Mult of a running session (a reload), keeping its
    /// discriminators and state. RFC 5880 6.8.3: while Up, the change is announced with a Poll
    /// Sequence (sent at once); sending faster or expecting packets slower applies now, the
    /// opposite changes when the Final comes (as when the session comes Up). The local
    /// discriminator, the role and the jitter seed of `params` are not taken; the Echo interval
    /// is, and goes out with the next packet.
    pub fn retune(&mut self, now: Instant, params: &SessionParams) -> Vec<Output> {
        self.params.min_tx = params.min_tx;
        self.params.min_rx = params.min_rx;
        self.params.idle_tx = params.idle_tx;
        self.params.detect_mult = params.detect_mult;
        self.params.min_echo_rx = params.min_echo_rx;
        let mut out = Vec::new();
        if self.state == State::Up {
            self.polling = true;
            self.tx_in_force = self.tx_in_force.min(self.params.min_tx);
            self.rx_in_force = self.rx_in_force.max(self.params.min_rx);
            if self.may_transmit() {
                out.push(Output::Send(self.packet(false)));
                self.next_tx = Some(now.saturating_add(self.jittered()));
            }
        } else {
            // Not Up: nothing is agreed yet, so the idle rate applies at once.
            self.tx_in_force = self.params.idle_tx;
            self.rx_in_force = self.params.min_rx;
        }
        out
    }

    /// When the detection timer expires (`None` while it does not run).
    pub fn detect_at(&self) -> Option<Instant> {
        self.detect_at
    }

    fn on_packet(&mut self, now: Instant, p: &ControlRepr, out: &mut Vec<Output>) {
        // RFC 5880 6.8.6, after demultiplexing: record the remote's variables.
        self.remote_discr = p.my_discr;
        self.remote_state = p.state;
        self.remote_min_rx = p.required_min_rx;
        self.remote_min_tx = p.desired_min_tx;
        self.remote_mult = p.detect_mult;
        if p.final_ && self.polling {
            // 6.5: the Final ends the Poll Sequence; the new timers now apply (6.8.3).
            self.polling = false;
            self.tx_in_force = self.advertised_tx();
            self.rx_in_force = self.params.min_rx;
        }
        // 6.8.4: every packet not discarded restarts the detection timer.
        self.detect_at = self.detection_time().map(|d| now.saturating_add(d));
        if self.state == State::AdminDown {
            return;
        }
        let before = self.state;
        if p.state == State::AdminDown {
            if self.state != State::Down {
                self.set_state(State::Down, Diag::NeighborDown, out);
            }
        } else {
            match (self.state, p.state) {
                (State::Down, State::Down) => self.set_state(State::Init, Diag::None, out),
                (State::Down | State::Init, State::Init | State::Up) => {
                    self.set_state(State::Up, Diag::None, out);
                }
                (State::Up, State::Down) => self.set_state(State::Down, Diag::NeighborDown, out),
                _ => {}
            }
        }
        if p.poll {
            // 6.8.7: answer a Poll with a Final at once, outside the periodic schedule; a
            // packet never carries both bits.
            let mut f = self.packet(true);
            f.poll = false;
            out.push(Output::Send(f));
        }
        if self.state != before {
            // A state change goes out at once rather than waiting out an idle interval, so a
            // session comes up in one round trip per step.
            out.push(Output::Send(self.packet(false)));
            self.next_tx = Some(now.saturating_add(self.jittered()));
        } else if let Some(at) = self.next_tx {
            // A remote that now accepts packets faster (its Required Min RX fell) gets them at
            // the new rate from now on, not after the old, longer interval.
            self.next_tx = Some(at.min(now.saturating_add(self.jittered())));
        } else if self.may_transmit() {
            // A passive session hears its remote for the first time.
            self.next_tx = Some(now);
        }
    }

    fn on_timer(&mut self, now: Instant, out: &mut Vec<Output>) {
        if let Some(at) = self.detect_at
            && at <= now
        {
            // 6.8.4 / 6.8.1: no packet for a detection time: Init or Up go Down with diag 1,
            // and the remote's discriminator is forgotten.
            self.detect_at = None;
            self.remote_discr = 0;
            self.remote_state = State::Down;
            self.remote_mult = 0;
            self.remote_min_tx = Duration::ZERO;
            if matches!(self.state, State::Init | State::Up) {
                self.set_state(State::Down, Diag::DetectionTimeExpired, out);
            }
        }
        if let Some(at) = self.next_tx
            && at <= now
        {
            if self.may_transmit() {
                out.push(Output::Send(self.packet(false)));
                self.next_tx = Some(now.saturating_add(self.jittered()));
            } else {
                // Passive with no remote, or the remote asked for no packets: wait for one.
                self.next_tx = None;
            }
        }
    }

    /// 6.8.7: nothing periodic while passive and the remote is unknown, or while the remote's
    /// Required Min RX is 0.
    fn may_transmit(&self) -> bool {
        (!self.params.passive || self.remote_discr != 0) && !self.remote_min_rx.is_zero()
    }

    fn set_state(&mut self, to: State, diag: Diag, out: &mut Vec<Output>) {
        let from = self.state;
        if from == to {
            return;
        }
        self.state = to;
        if diag != Diag::None || to != State::Up {
            self.diag = diag;
        }
        if to == State::Up {
            // 6.8.3: Up may use the faster `min_tx`; the change goes through a Poll Sequence.
            // Sending faster is safe at once; sending slower waits for the Final.
            self.polling = true;
            self.tx_in_force = self.tx_in_force.min(self.params.min_tx);
            self.rx_in_force = self.rx_in_force.max(self.params.min_rx);
        } else if from == State::Up {
            // Leaving Up: back to the idle rate at once (the remote is not Up either, or is
            // about to find out), and any Poll Sequence is void.
            self.polling = false;
            self.tx_in_force = self.params.idle_tx;
            self.rx_in_force = self.params.min_rx;
        }
        out.push(Output::Changed { from, to, diag });
    }

    fn packet(&self, final_: bool) -> ControlRepr {
        ControlRepr {
            diag: self.diag,
            state: self.state,
            poll: self.polling && !final_,
            final_,
            cpi: false,
            demand: false,
            detect_mult: self.params.detect_mult,
            my_discr: self.params.local_discr,
            your_discr: self.remote_discr,
            desired_min_tx: self.advertised_tx(),
            required_min_rx: self.params.min_rx,
            required_min_echo_rx: self.params.min_echo_rx,
            auth: None,
        }
    }

    /// The next periodic interval with 6.8.7's jitter: 75-100 % of the agreed interval, or
    /// 75-90 % when Detect Mult is 1.
    fn jittered(&mut self) -> Duration {
        // xorshift32: enough to decorrelate two systems, and replayable in tests.
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.rng = x;
        let span = if self.params.detect_mult == 1 { 16 } else { 26 };
        let percent = 75 + x % span;
        self.tx_interval() * percent / 100
    }
}

#[cfg(test)]
mod tests;
