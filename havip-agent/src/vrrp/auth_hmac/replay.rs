//! Sequence numbers and anti-replay of `auth_hmac` (keepalived 2.4.3 `clock_seq`, `next_seq`,
//! `replay_ok`; `../shared/AUTH_HMAC.md` section 5). Time is an input: nothing here reads a clock.
//!
//! A sequence is `sec << 32 | subsec << 16 | ctr`, compared as RFC 1982 serial numbers on 64
//! bits, so wrap-around of `sec` (2106) keeps ordering.

use std::net::IpAddr;

/// Wall-clock time (`CLOCK_REALTIME`): the sequence is derived from it so that it keeps
/// growing across restarts without any stored state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WallClock {
    /// Seconds since the Unix epoch.
    pub secs: u64,
    /// Nanoseconds within the second (`< 1_000_000_000`).
    pub nanos: u32,
}

impl WallClock {
    /// The wall-clock time `t` (the daemon reads the clock; times before 1970 count as 0).
    pub fn from_system(t: std::time::SystemTime) -> Self {
        let since = t.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        Self {
            secs: since.as_secs(),
            nanos: since.subsec_nanos(),
        }
    }

    /// Seconds mod 2^32, as in the trailer.
    #[expect(
        clippy::cast_possible_truncation,
        reason = "the wire keeps seconds mod 2^32"
    )]
    const fn sec32(self) -> u32 {
        self.secs as u32
    }

    /// The sequence the clock gives with `ctr` 0: `sec << 32 | floor(ns * 65536 / 1e9) << 16`.
    pub fn seq(self) -> u64 {
        let subsec = u64::from(self.nanos.min(999_999_999)) * 65_536 / 1_000_000_000;
        u64::from(self.sec32()) << 32 | subsec << 16
    }
}

/// The seconds field of a sequence.
pub const fn seq_secs(seq: u64) -> u32 {
    (seq >> 32) as u32
}

/// RFC 1982 on 64 bits: whether `a` comes strictly after `b`.
#[expect(
    clippy::cast_possible_wrap,
    reason = "the serial-number difference is signed"
)]
pub const fn seq_after(a: u64, b: u64) -> bool {
    (a.wrapping_sub(b) as i64) > 0
}

/// Signed seconds from `sec` to `now_sec`, modulo 2^32 (keepalived's `(int32_t)` difference).
#[expect(
    clippy::cast_possible_wrap,
    reason = "the modular difference is signed"
)]
const fn secs_delta(now_sec: u32, sec: u32) -> i32 {
    now_sec.wrapping_sub(sec) as i32
}

/// How replays are refused (`anti_replay`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AntiReplay {
    /// `time`: the sequence's seconds must be within `window` s of the receiver's clock
    /// (inclusive), and strictly grow per sender.
    Time {
        /// Accepted skew in seconds, 1..=300.
        window: u32,
    },
    /// `monotonic`: only strict growth per sender; clocks need not agree.
    Monotonic,
}

impl AntiReplay {
    /// keepalived's default `time_window`: `max(3 * floor(advert_int in s), 5)`, at most 300.
    pub fn default_window(advert_int_cs: u32) -> u32 {
        (3 * (advert_int_cs / 100)).clamp(5, 300)
    }

    /// The window in seconds, in time mode.
    pub const fn window(self) -> Option<u32> {
        match self {
            Self::Time { window } => Some(window),
            Self::Monotonic => None,
        }
    }
}

/// The last sequence sent by this instance, and the rule for the next one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SendSequence {
    last: u64,
}

impl SendSequence {
    /// Continues after `last` (0 on a fresh start, as keepalived: nothing is persisted, and the
    /// clock-derived sequence is after anything sent before a restart unless the clock stepped
    /// back).
    pub const fn resume(last: u64) -> Self {
        Self { last }
    }

    /// The last sequence handed out.
    pub const fn last(&self) -> u64 {
        self.last
    }

    /// The sequence for the next advert: the clock if it is after the last one; else, in time
    /// mode, the clock again when the last one is more than the window ahead (the clock stepped
    /// back; staying ahead would make every receiver call us STALE); else last + 1, which carries
    /// into subsec and sec.
    pub fn next(&mut self, now: WallClock, mode: AntiReplay) -> u64 {
        let clk = now.seq();
        let ahead = i64::from(secs_delta(seq_secs(self.last), now.sec32()));
        let restart = mode.window().is_some_and(|w| ahead > i64::from(w));
        self.last = if seq_after(clk, self.last) || restart {
            clk
        } else {
            self.last.wrapping_add(1)
        };
        self.last
    }
}

/// A received trailer whose seconds are outside the window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stale {
    /// `now - sec` in seconds (positive: the advert is old or the sender's clock is behind).
    pub skew: i32,
}

/// The time check, run before the HMAC on unauthenticated data: STALE when `|now - sec|` is
/// over the window; else the mark is dropped when its own seconds are over the window from now
/// (a sender whose clock stepped back is then not refused for ever). Returns the skew.
pub fn check_time(
    mode: AntiReplay,
    seq: u64,
    now: WallClock,
    mark: &mut Option<u64>,
) -> Result<i32, Stale> {
    let skew = secs_delta(now.sec32(), seq_secs(seq));
    let Some(window) = mode.window() else {
        return Ok(skew);
    };
    if skew.unsigned_abs() > window {
        return Err(Stale { skew });
    }
    if let Some(m) = *mark
        && secs_delta(now.sec32(), seq_secs(m)).unsigned_abs() > window
    {
        *mark = None;
    }
    Ok(skew)
}

/// The replay check (after a good HMAC): `seq` must be strictly after the mark, if any.
pub const fn fresh(seq: u64, mark: Option<u64>) -> bool {
    match mark {
        Some(m) => seq_after(seq, m),
        None => true,
    }
}

/// How many multicast senders keepalived remembers per instance (`VRRP_AUTH_HMAC_MCAST_SENDERS`).
pub const MCAST_SENDERS: usize = 4;

/// Where the marks of an instance live.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Marks {
    /// Unicast: one mark per configured peer; a signed advert from anyone else is dropped.
    Unicast(Vec<(IpAddr, Option<u64>)>),
    /// Multicast: the last [`MCAST_SENDERS`] senders with a good HMAC, least recently used
    /// evicted (its mark is lost). Each slot: source, mark, last-use tick.
    Multicast {
        /// The slots in use.
        slots: Vec<(IpAddr, u64, u64)>,
        /// Use counter for the LRU order.
        tick: u64,
    },
}

impl Marks {
    /// Marks for the unicast `peers`, all empty.
    pub fn unicast(peers: impl IntoIterator<Item = IpAddr>) -> Self {
        Self::Unicast(peers.into_iter().map(|p| (p, None)).collect())
    }

    /// Empty multicast slots.
    pub const fn multicast() -> Self {
        Self::Multicast {
            slots: Vec::new(),
            tick: 0,
        }
    }

    /// The mark of `src`: `Err(NotPeer)` when unicast and `src` is not a peer.
    pub fn get(&self, src: IpAddr) -> Result<Option<u64>, NotPeer> {
        match self {
            Self::Unicast(peers) => peers
                .iter()
                .find(|(p, _)| *p == src)
                .map(|(_, m)| *m)
                .ok_or(NotPeer),
            Self::Multicast { slots, .. } => {
                Ok(slots.iter().find(|(s, _, _)| *s == src).map(|(_, m, _)| *m))
            }
        }
    }

    /// Replaces the mark of `src` (`None` forgets it).
    pub fn set(&mut self, src: IpAddr, mark: Option<u64>) {
        match self {
            Self::Unicast(peers) => {
                if let Some(slot) = peers.iter_mut().find(|(p, _)| *p == src) {
                    slot.1 = mark;
                }
            }
            Self::Multicast { slots, tick } => {
                *tick += 1;
                let now = *tick;
                let at = slots.iter().position(|(s, _, _)| *s == src);
                match (at, mark) {
                    (Some(i), None) => {
                        slots.swap_remove(i);
                    }
                    (Some(i), Some(m)) => slots[i] = (src, m, now),
                    (None, None) => {}
                    (None, Some(m)) => {
                        if slots.len() >= MCAST_SENDERS
                            && let Some(lru) = slots
                                .iter()
                                .enumerate()
                                .min_by_key(|(_, (_, _, used))| *used)
                                .map(|(i, _)| i)
                        {
                            slots.swap_remove(lru);
                        }
                        slots.push((src, m, now));
                    }
                }
            }
        }
    }
}

/// A signed advert from a source that is not a configured unicast peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NotPeer;
