//! The event loop's one deadline timer: a `timerfd` on `CLOCK_MONOTONIC` armed with an absolute
//! deadline (`TFD_TIMER_ABSTIME`) and polled through tokio's reactor.
//!
//! Why not `tokio::time::sleep`: tokio's timer wheel has a resolution of one millisecond and rounds
//! every sleep *up* to the next whole tick, so a VRRP deadline fired up to a millisecond (plus the
//! reactor's own wake-up) after the protocol allows it. The kernel fires a timerfd with its
//! high-resolution timers, typically within tens of microseconds. An absolute deadline on the
//! clock the state machines use ([`crate::clock::monotonic_ns`]) also means no time is lost
//! between reading the clock and arming the timer, and a deadline already past fires at once.

use std::{
    io,
    os::fd::{AsFd as _, AsRawFd, RawFd},
    time::Duration,
};

use nix::{
    errno::Errno,
    sys::{
        time::TimeSpec,
        timerfd::{ClockId, Expiration, TimerFd, TimerFlags, TimerSetTimeFlags},
    },
};
use tokio::io::{Interest, unix::AsyncFd};

use crate::clock::monotonic_ns;

/// Why the timer cannot run.
#[derive(Debug, thiserror::Error)]
pub enum TimerError {
    /// `timerfd_create` failed.
    #[error("creating the deadline timerfd: {0}")]
    Create(#[source] Errno),
    /// Registering the timerfd with the reactor failed.
    #[error("polling the deadline timerfd: {0}")]
    Register(#[source] io::Error),
    /// `timerfd_settime` failed.
    #[error("arming the deadline timerfd for {at_ns} ns: {source}")]
    Arm {
        /// The absolute deadline (`CLOCK_MONOTONIC` nanoseconds).
        at_ns: u64,
        /// The cause.
        #[source]
        source: Errno,
    },
    /// Waiting on or reading the timerfd failed.
    #[error("reading the deadline timerfd: {0}")]
    Read(#[source] io::Error),
}

/// How long before a backup's `Master_Down_Timer` the loop wakes, to spin the rest of the way
/// (`precise_wait` in `daemon/mod.rs`). It covers this timer's wake-up plus the reactor's on an
/// idle or virtualised machine (typically 50 to 150 us); a wake-up later than this is simply
/// late. It costs at most this much busy CPU per takeover (or per master that went quiet), and
/// nothing in the steady state, where adverts keep moving the deadline.
pub(super) const PRECISE_LEAD: Duration = Duration::from_micros(250);

/// A timerfd as tokio's reactor takes it (nix's `TimerFd` offers `AsFd` only).
#[derive(Debug)]
struct Fd(TimerFd);

impl AsRawFd for Fd {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_fd().as_raw_fd()
    }
}

/// One re-armable absolute deadline on `CLOCK_MONOTONIC`.
#[derive(Debug)]
pub(super) struct Deadline {
    fd: AsyncFd<Fd>,
    /// The deadline currently armed (`CLOCK_MONOTONIC` nanoseconds), `None` when disarmed.
    armed: Option<u64>,
}

impl Deadline {
    /// A disarmed timer. Must be called inside a tokio runtime with I/O enabled.
    pub(super) fn new() -> Result<Self, TimerError> {
        let fd = TimerFd::new(
            ClockId::CLOCK_MONOTONIC,
            TimerFlags::TFD_NONBLOCK | TimerFlags::TFD_CLOEXEC,
        )
        .map_err(TimerError::Create)?;
        // SAFETY: `Fd` owns the descriptor (an `OwnedFd` inside `TimerFd`) for as long as the
        // AsyncFd owns `Fd`, and always returns that same descriptor.
        let registered = unsafe { AsyncFd::register_with_interest(Fd(fd), Interest::READABLE) };
        Ok(Self {
            fd: registered.map_err(|e| TimerError::Register(e.into()))?,
            armed: None,
        })
    }

    /// Arms the timer to fire at `at_ns` (`CLOCK_MONOTONIC` nanoseconds), replacing any earlier
    /// or later deadline; a deadline already past fires at once. Re-arming with the deadline
    /// already armed costs no system call (the loop re-arms on every iteration).
    pub(super) fn arm(&mut self, at_ns: u64) -> Result<(), TimerError> {
        if self.armed == Some(at_ns) {
            return Ok(());
        }
        // An all-zero it_value disarms a timerfd: the clock's origin is never a real deadline,
        // so it becomes the first nanosecond (long past: fires at once).
        let at = Duration::from_nanos(at_ns.max(1));
        self.fd
            .get_ref()
            .0
            .set(
                Expiration::OneShot(TimeSpec::from(at)),
                TimerSetTimeFlags::TFD_TIMER_ABSTIME,
            )
            .map_err(|source| TimerError::Arm { at_ns, source })?;
        // timerfd_settime resets the expiry count, so an expiry of the old deadline that was
        // not read yet is gone: `wait` then finds nothing to read and waits for the new one.
        self.armed = Some(at_ns);
        Ok(())
    }

    /// The deadline armed, if any.
    #[cfg(test)]
    fn armed(&self) -> Option<u64> {
        self.armed
    }

    /// Waits until the armed deadline passes; returns how late the wake-up was (clock read after
    /// the reactor woke us, minus the deadline). Cancel-safe: dropping the future loses nothing,
    /// the timer stays armed. Never returns while disarmed.
    pub(super) async fn wait(&mut self) -> Result<Duration, TimerError> {
        loop {
            let mut guard = self.fd.readable().await.map_err(TimerError::Read)?;
            let mut count = [0u8; 8];
            match guard.try_io(|fd| {
                nix::unistd::read(fd.get_ref().0.as_fd(), &mut count).map_err(io::Error::from)
            }) {
                // Read 8 bytes: the number of expiries since the last read (one for a one-shot).
                // A one-shot timerfd read is not readable again until it is re-armed and
                // expires, which the next epoll edge reports: clearing the readiness now spares
                // every later wait a read that could only fail with EAGAIN (one system call
                // per advert, seen in a profile of the master at 10 ms adverts).
                Ok(Ok(_)) => {
                    guard.clear_ready();
                    let now = monotonic_ns();
                    let at = self.armed.take().unwrap_or(now);
                    return Ok(Duration::from_nanos(now.saturating_sub(at)));
                }
                Ok(Err(e)) => return Err(TimerError::Read(e)),
                // EAGAIN: readiness was stale (re-armed after it fired); try_io cleared it.
                Err(_would_block) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::Deadline;
    use crate::clock::monotonic_ns;

    const MS: u64 = 1_000_000;

    /// Generous bound for "fires at once" on a loaded 2-core machine (functional, not timing).
    const SOON: Duration = Duration::from_millis(500);

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
    }

    #[test]
    fn fires_at_the_deadline_not_before() {
        rt().block_on(async {
            let mut t = Deadline::new().expect("timerfd");
            let at = monotonic_ns() + 20 * MS;
            t.arm(at).expect("timerfd");
            assert_eq!(t.armed(), Some(at));
            let late = tokio::time::timeout(Duration::from_secs(5), t.wait())
                .await
                .expect("a 20 ms deadline did not fire within 5 s")
                .expect("timerfd");
            assert!(monotonic_ns() >= at, "fired before its deadline");
            assert!(late < SOON, "late by {late:?}");
            assert_eq!(t.armed(), None, "a fired one-shot is disarmed");
        });
    }

    #[test]
    fn a_past_deadline_fires_at_once() {
        rt().block_on(async {
            let mut t = Deadline::new().expect("timerfd");
            let at = monotonic_ns().saturating_sub(50 * MS);
            t.arm(at).expect("timerfd");
            let late = tokio::time::timeout(SOON, t.wait())
                .await
                .expect("a past deadline did not fire")
                .expect("timerfd");
            assert!(
                late >= Duration::from_millis(50),
                "lateness counts from the deadline"
            );
            // The clock's origin (the value a timerfd reads as "disarm") fires too.
            t.arm(0).expect("timerfd");
            tokio::time::timeout(SOON, t.wait())
                .await
                .expect("deadline 0 did not fire")
                .expect("timerfd");
        });
    }

    #[test]
    fn re_arming_earlier_fires_at_the_earlier_deadline() {
        rt().block_on(async {
            let mut t = Deadline::new().expect("timerfd");
            t.arm(monotonic_ns() + 60_000 * MS).expect("timerfd");
            let early = monotonic_ns() + 10 * MS;
            t.arm(early).expect("timerfd");
            tokio::time::timeout(Duration::from_secs(5), t.wait())
                .await
                .expect("the earlier deadline did not replace the later")
                .expect("timerfd");
            assert!(monotonic_ns() >= early);
        });
    }

    #[test]
    fn re_arming_later_does_not_fire_at_the_earlier_deadline() {
        rt().block_on(async {
            let mut t = Deadline::new().expect("timerfd");
            t.arm(monotonic_ns() + 5 * MS).expect("timerfd");
            let later = monotonic_ns() + 300 * MS;
            t.arm(later).expect("timerfd");
            // Well past the first deadline, the timer has not fired.
            let r = tokio::time::timeout(Duration::from_millis(100), t.wait()).await;
            assert!(r.is_err(), "fired at the replaced, earlier deadline");
            tokio::time::timeout(Duration::from_secs(5), t.wait())
                .await
                .expect("the later deadline did not fire")
                .expect("timerfd");
            assert!(monotonic_ns() >= later, "fired before the later deadline");
        });
    }

    #[test]
    fn an_expiry_overwritten_by_re_arming_is_not_reported() {
        rt().block_on(async {
            let mut t = Deadline::new().expect("timerfd");
            // Fires while nobody waits, then is re-armed far out before it is read.
            t.arm(monotonic_ns()).expect("timerfd");
            std::thread::sleep(Duration::from_millis(5));
            t.arm(monotonic_ns() + 60_000 * MS).expect("timerfd");
            let r = tokio::time::timeout(Duration::from_millis(100), t.wait()).await;
            assert!(r.is_err(), "a stale expiry woke the waiter");
        });
    }
}
