//! What one failover looked like on the wire, computed from frames captured at the bridge ports
//! (kernel receive timestamps, one clock): when the old master last spoke, the protocol's bound
//! for the takeover, when the new master answered, the longest silence and the time both nodes
//! answered. Pure functions over a frame list, so every number has a unit test.

use std::time::Duration;

/// An instant on `CLOCK_REALTIME` in nanoseconds: the clock of `SO_TIMESTAMPNS`, which is how
/// the capture and the fault injection share one time base.
pub type Stamp = i64;

/// Which bridge port a frame came in on, i.e. who sent it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Port {
    /// The client that probes the VIP.
    Client,
    /// Node a (the first master).
    A,
    /// Node b (the first backup).
    B,
}

/// What a captured frame is to the benchmark.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Seen {
    /// A VRRP advert (RFC 9568 5.1) with its priority; 0 is a master resigning (RFC 9568 6.4.3).
    Advert {
        /// The advertised priority.
        priority: u8,
    },
    /// A gratuitous ARP for the VIP (sender and target address both the VIP).
    Garp,
    /// An ARP reply for the VIP to the client: the VIP answered.
    Answer,
    /// The client's ARP request for the VIP.
    Probe,
}

/// One classified frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame {
    /// Kernel receive time at the bridge port.
    pub at: Stamp,
    /// The port, i.e. the sender.
    pub port: Port,
    /// What it is.
    pub seen: Seen,
}

/// The protocol's own lower bound for the takeover, by the way the master went away.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bound {
    /// The old master fell silent: a backup waits `Master_Down_Interval` after the last advert it
    /// heard (RFC 9568 6.4.2, "If the `Master_Down_Timer` fires").
    MasterDown(Duration),
    /// The old master resigned: a backup waits `Skew_Time` after its priority-0 advert
    /// (RFC 9568 6.4.2, "If the Priority in the ADVERTISEMENT is zero").
    Skew(Duration),
    /// A higher-priority node came back: it starts as backup and waits its own
    /// `Master_Down_Interval` from its start (RFC 9568 6.4.1) before preempting.
    Return(Duration),
}

/// RFC 9568 6.1 `Skew_Time` of a backup with `priority` at advert `interval`, computed without
/// rounding to centiseconds (keepalived and havip both time it in finer units; truncating it
/// would make the skew at 10 ms adverts zero).
#[must_use]
pub fn skew_time(interval: Duration, priority: u8) -> Duration {
    interval * (256 - u32::from(priority)) / 256
}

/// RFC 9568 6.1 `Master_Down_Interval`: three intervals plus `Skew_Time`.
#[must_use]
pub fn master_down(interval: Duration, priority: u8) -> Duration {
    interval * 3 + skew_time(interval, priority)
}

/// One fault and what to measure around it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fault {
    /// When it was injected (taken just before the system call that injects it).
    pub at: Stamp,
    /// The master before the fault.
    pub old: Port,
    /// The node expected to answer after it.
    pub new: Port,
    /// The protocol bound that applies.
    pub bound: Bound,
    /// The advert interval (to tell a last advert from one sent after the fault).
    pub interval: Duration,
    /// End of the observation.
    pub end: Stamp,
}

/// The numbers of one failover. Times are nanoseconds, signed where they are differences that
/// can come out negative (an implementation may act before the bound).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Fault minus the old master's last advert: where in the interval the fault fell.
    pub phase_ns: Option<i64>,
    /// The old master's priority-0 advert minus the fault (planned handover only).
    pub resign_ns: Option<i64>,
    /// The protocol bound as an instant, if its anchor (an advert) was seen.
    pub bound_at: Option<Stamp>,
    /// First answer of the new master minus the fault.
    pub failover_ns: Option<i64>,
    /// First answer of the new master minus the bound: the implementation's own delay. An
    /// upper bound of it: the new master could answer at any time after the probe before the
    /// one it answered (see [`Self::answer_window_ns`]).
    pub overhead_ns: Option<i64>,
    /// The probe the new master first answered minus the probe before it: how precisely the
    /// first answer is placed (the client's probe interval at that moment, plus its jitter).
    pub answer_window_ns: Option<i64>,
    /// The new master's first advert minus the bound.
    pub advert_after_bound_ns: Option<i64>,
    /// The new master's first gratuitous ARP minus the bound.
    pub garp_after_bound_ns: Option<i64>,
    /// Median time from a probe to the old master's answer to it, over the answers before the
    /// fault: how long the master's answer path itself takes on the wire (`XDP_TX` for havip, the
    /// kernel's ARP for keepalived), which every first answer after a takeover also carries.
    pub answer_latency_ns: Option<i64>,
    /// Longest time without any answer at the client, from the last answer before the fault to
    /// the end of the observation.
    pub longest_gap_ns: i64,
    /// Total time of probe slots that both nodes answered after the fault.
    pub split_brain_ns: i64,
    /// Both nodes still answered in the last probe slot (the split brain outlasted the
    /// observation, so `split_brain_ns` is a lower bound).
    pub split_ongoing: bool,
}

/// Half-width of the window after the fault in which an advert still counts as sent before it:
/// the fault is stamped just before its system call, so a frame already on its way can land
/// microseconds later, while the next regular advert is a whole interval away.
fn slack(interval: Duration) -> i64 {
    nanos(interval / 4).min(1_000_000)
}

/// `d` in nanoseconds, saturating.
#[must_use]
pub fn nanos(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

/// Measures the failover `fault` in `frames` (in capture order, i.e. by time).
#[must_use]
pub fn analyse(frames: &[Frame], fault: &Fault) -> Outcome {
    let from = |port: Port, after: Stamp, pick: fn(Seen) -> bool| {
        frames
            .iter()
            .find(|f| f.port == port && f.at > after && f.at <= fault.end && pick(f.seen))
            .map(|f| f.at)
    };
    let is_live_advert = |s: Seen| matches!(s, Seen::Advert { priority } if priority > 0);
    let last_advert = frames
        .iter()
        .filter(|f| {
            f.port == fault.old
                && f.at <= fault.at + slack(fault.interval)
                && is_live_advert(f.seen)
        })
        .map(|f| f.at)
        .next_back();
    let resign = from(fault.old, fault.at, |s| s == Seen::Advert { priority: 0 });
    let bound_at = match fault.bound {
        Bound::MasterDown(d) => last_advert.map(|t| t + nanos(d)),
        Bound::Skew(d) => resign.map(|t| t + nanos(d)),
        Bound::Return(d) => Some(fault.at + nanos(d)),
    };
    let answer = from(fault.new, fault.at, |s| s == Seen::Answer);
    let answer_window_ns = answer.and_then(|t| answer_window(frames, t));
    let advert = from(fault.new, fault.at, is_live_advert);
    let garp = from(fault.new, fault.at, |s| s == Seen::Garp);
    let minus = |a: Option<Stamp>, b: Option<Stamp>| Some(a? - b?);
    let (longest_gap_ns, (split_brain_ns, split_ongoing)) =
        (gap(frames, fault), split(frames, fault));
    Outcome {
        phase_ns: last_advert.map(|t| fault.at - t),
        resign_ns: resign.map(|t| t - fault.at),
        bound_at,
        failover_ns: answer.map(|t| t - fault.at),
        overhead_ns: minus(answer, bound_at),
        answer_window_ns,
        answer_latency_ns: answer_latency(frames, fault.old, fault.at),
        advert_after_bound_ns: minus(advert, bound_at),
        garp_after_bound_ns: minus(garp, bound_at),
        longest_gap_ns,
        split_brain_ns,
        split_ongoing,
    }
}

/// The gap between the client's probe that `answer` (at its time) replied to, i.e. the last
/// probe sent before it, and the probe before that one: the window in which the node became able
/// to answer.
fn answer_window(frames: &[Frame], answer: Stamp) -> Option<i64> {
    let mut probes = frames
        .iter()
        .filter(|f| f.seen == Seen::Probe && f.at <= answer)
        .map(|f| f.at)
        .rev();
    let (answered, before) = (probes.next()?, probes.next()?);
    Some(answered - before)
}

/// Median of (answer - the last probe sent before it) over the answers `port` sent before
/// `until`.
fn answer_latency(frames: &[Frame], port: Port, until: Stamp) -> Option<i64> {
    let mut last_probe = None;
    let mut v = Vec::new();
    for f in frames.iter().take_while(|f| f.at < until) {
        match (f.seen, f.port) {
            (Seen::Probe, _) => last_probe = Some(f.at),
            (Seen::Answer, p) if p == port => {
                if let Some(t) = last_probe.take() {
                    v.push(f.at - t);
                }
            }
            _ => {}
        }
    }
    v.sort_unstable();
    rank(&v, 50)
}

/// Longest interval between two answers (from any node) at the client, starting at the last
/// answer before the fault and closing with the end of the observation.
fn gap(frames: &[Frame], fault: &Fault) -> i64 {
    let answers: Vec<Stamp> = frames
        .iter()
        .filter(|f| f.seen == Seen::Answer && f.at <= fault.end)
        .map(|f| f.at)
        .collect();
    let first = answers
        .iter()
        .rposition(|&t| t <= fault.at)
        .unwrap_or_default();
    let mut longest = 0;
    let mut prev = answers.get(first).copied().unwrap_or(fault.at);
    for &t in answers.iter().skip(first + 1) {
        longest = longest.max(t - prev);
        prev = t;
    }
    longest.max(fault.end - prev)
}

/// Time both a and b answered: each probe opens a slot that lasts until the next probe; a slot
/// that both nodes answered counts whole. Returns the total and whether the last slot was one.
fn split(frames: &[Frame], fault: &Fault) -> (i64, bool) {
    let mut total = 0;
    let mut slot: Option<(Stamp, bool, bool)> = None;
    let mut last_both = false;
    let mut close = |slot: Option<(Stamp, bool, bool)>, until: Stamp| {
        if let Some((start, a, b)) = slot {
            last_both = a && b;
            if last_both {
                total += until - start;
            }
        }
    };
    for f in frames
        .iter()
        .filter(|f| f.at >= fault.at && f.at <= fault.end)
    {
        match (f.seen, f.port) {
            (Seen::Probe, _) => {
                close(slot, f.at);
                slot = Some((f.at, false, false));
            }
            (Seen::Answer, Port::A) => {
                if let Some(s) = slot.as_mut() {
                    s.1 = true;
                }
            }
            (Seen::Answer, Port::B) => {
                if let Some(s) = slot.as_mut() {
                    s.2 = true;
                }
            }
            _ => {}
        }
    }
    // The last slot is closed by the end of the observation only if it was answered: a probe
    // still in flight at the end says nothing yet.
    if let Some((start, a, b)) = slot
        && a
        && b
    {
        total += fault.end - start;
        last_both = true;
    }
    (total, last_both)
}

/// How regularly the client probed: deviations of the gaps between its probes from `every`,
/// as (median, 99th percentile, max) in nanoseconds.
#[must_use]
pub fn probe_jitter(frames: &[Frame], every: Duration) -> Option<(i64, i64, i64)> {
    probe_jitter_between(frames, every, Stamp::MIN, Stamp::MAX)
}

/// [`probe_jitter`] of the probes sent in `from..to` only (the client probes at different
/// intervals before and after the fault).
#[must_use]
pub fn probe_jitter_between(
    frames: &[Frame],
    every: Duration,
    from: Stamp,
    to: Stamp,
) -> Option<(i64, i64, i64)> {
    let sends: Vec<Stamp> = frames
        .iter()
        .filter(|f| f.seen == Seen::Probe && f.at >= from && f.at < to)
        .map(|f| f.at)
        .collect();
    let mut dev: Vec<i64> = sends
        .windows(2)
        .map(|w| (w[1] - w[0] - nanos(every)).abs())
        .collect();
    dev.sort_unstable();
    Some((rank(&dev, 50)?, rank(&dev, 99)?, dev.last().copied()?))
}

/// Nearest-rank percentile `p` of sorted `v`.
#[must_use]
pub fn rank(v: &[i64], p: usize) -> Option<i64> {
    if v.is_empty() {
        return None;
    }
    let i = (v.len() * p).div_ceil(100).clamp(1, v.len()) - 1;
    v.get(i).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: i64 = 1_000_000;

    fn f(at_ms: f64, port: Port, seen: Seen) -> Frame {
        #[expect(clippy::cast_possible_truncation, reason = "test times are small")]
        Frame {
            at: (at_ms * 1e6).round() as i64,
            port,
            seen,
        }
    }

    fn adv(at_ms: f64, port: Port, priority: u8) -> Frame {
        f(at_ms, port, Seen::Advert { priority })
    }

    /// Probes every millisecond from `from` to `to`, each answered by `who`.
    fn probes(from: i64, to: i64, who: &[Port]) -> Vec<Frame> {
        let mut v = Vec::new();
        for ms in from..to {
            #[expect(clippy::cast_precision_loss, reason = "test times are small")]
            let t = ms as f64;
            v.push(f(t, Port::Client, Seen::Probe));
            for &p in who {
                v.push(f(t + 0.05, p, Seen::Answer));
            }
        }
        v
    }

    fn sorted(mut v: Vec<Frame>) -> Vec<Frame> {
        v.sort_by_key(|f| f.at);
        v
    }

    #[test]
    fn protocol_timers_follow_rfc_9568() {
        let i = Duration::from_millis(100);
        // Skew_Time = (256 - 100) * 100 ms / 256 = 60.9375 ms; MDI = 300 ms + that.
        assert_eq!(
            skew_time(i, 100),
            Duration::from_micros(60_937) + Duration::from_nanos(500)
        );
        assert_eq!(
            master_down(i, 100),
            Duration::from_micros(360_937) + Duration::from_nanos(500)
        );
        // Not rounded to centiseconds at 10 ms adverts.
        assert_eq!(
            skew_time(Duration::from_millis(10), 100),
            Duration::from_nanos(6_093_750)
        );
        assert_eq!(
            master_down(Duration::from_secs(1), 255),
            Duration::from_nanos(3_003_906_250)
        );
    }

    #[test]
    fn overhead_is_measured_from_the_last_advert_plus_master_down() {
        // Adverts of a every 100 ms up to 1000 ms; the fault at 1030 ms (phase 30 ms); b sends
        // its first advert at 1361, a GARP at 1361.5 and answers from 1362.05 on.
        let mut v: Vec<Frame> = (0..=10)
            .map(|k| adv(f64::from(k) * 100.0, Port::A, 150))
            .collect();
        v.extend(probes(900, 1031, &[Port::A]));
        v.extend(probes(1031, 1362, &[]));
        v.extend(probes(1362, 1500, &[Port::B]));
        v.push(adv(1361.0, Port::B, 100));
        v.push(f(1361.5, Port::B, Seen::Garp));
        let frames = sorted(v);
        let mdi = master_down(Duration::from_millis(100), 100);
        let fault = Fault {
            at: 1030 * MS,
            old: Port::A,
            new: Port::B,
            bound: Bound::MasterDown(mdi),
            interval: Duration::from_millis(100),
            end: 1500 * MS,
        };
        let o = analyse(&frames, &fault);
        assert_eq!(o.phase_ns, Some(30 * MS));
        let bound = 1000 * MS + nanos(mdi);
        assert_eq!(o.bound_at, Some(bound));
        assert_eq!(o.failover_ns, Some(1362 * MS + MS / 20 - 1030 * MS));
        assert_eq!(o.overhead_ns, Some(1362 * MS + MS / 20 - bound));
        assert_eq!(o.answer_window_ns, Some(MS), "probes every millisecond");
        // a answered each probe 0.05 ms after it until the fault.
        assert_eq!(o.answer_latency_ns, Some(MS / 20));
        assert_eq!(o.advert_after_bound_ns, Some(1361 * MS - bound));
        assert_eq!(o.garp_after_bound_ns, Some(1361 * MS + MS / 2 - bound));
        // Last answer of a at 1030.05, first of b at 1362.05.
        assert_eq!(o.longest_gap_ns, 332 * MS);
        assert_eq!((o.split_brain_ns, o.split_ongoing), (0, false));
        assert_eq!(o.resign_ns, None);
    }

    #[test]
    fn an_advert_already_on_its_way_at_the_fault_is_the_last_one() {
        // The fault is stamped 0.1 ms before an advert lands: that advert still anchors the
        // bound; the next one (100 ms later, after a restart) does not.
        let frames = sorted(vec![
            adv(900.0, Port::A, 150),
            adv(1000.1, Port::A, 150),
            adv(1100.0, Port::A, 150),
        ]);
        let fault = Fault {
            at: 1000 * MS,
            old: Port::A,
            new: Port::B,
            bound: Bound::MasterDown(Duration::from_millis(300)),
            interval: Duration::from_millis(100),
            end: 2000 * MS,
        };
        let o = analyse(&frames, &fault);
        assert_eq!(o.bound_at, Some(1300 * MS + MS / 10));
        assert_eq!(o.failover_ns, None, "b never answered");
        assert_eq!(o.overhead_ns, None);
        assert_eq!(
            o.longest_gap_ns,
            1000 * MS,
            "no answer at all: the whole window"
        );
    }

    #[test]
    fn a_planned_handover_is_bounded_by_the_priority_zero_advert_plus_skew() {
        let mut v = vec![adv(1000.0, Port::A, 150), adv(1000.8, Port::A, 0)];
        v.extend(probes(1000, 1062, &[Port::A]));
        v.extend(probes(1062, 1100, &[Port::B]));
        let frames = sorted(v);
        let skew = skew_time(Duration::from_millis(100), 100);
        let fault = Fault {
            at: 1000 * MS + MS / 2,
            old: Port::A,
            new: Port::B,
            bound: Bound::Skew(skew),
            interval: Duration::from_millis(100),
            end: 1100 * MS,
        };
        let o = analyse(&frames, &fault);
        assert_eq!(o.resign_ns, Some(3 * MS / 10));
        let bound = 1000 * MS + 8 * MS / 10 + nanos(skew);
        assert_eq!(o.overhead_ns, Some(1062 * MS + MS / 20 - bound));
        assert_eq!(o.longest_gap_ns, MS, "answers every probe");
    }

    #[test]
    fn split_brain_counts_slots_both_nodes_answered() {
        // From 1010 both answer until 1020, then b alone: 10 slots of 1 ms.
        let mut v = probes(1000, 1010, &[Port::A]);
        v.extend(probes(1010, 1020, &[Port::A, Port::B]));
        v.extend(probes(1020, 1030, &[Port::B]));
        let frames = sorted(v);
        let mut fault = Fault {
            at: 1000 * MS,
            old: Port::A,
            new: Port::B,
            bound: Bound::Return(Duration::ZERO),
            interval: Duration::from_millis(10),
            end: 1030 * MS,
        };
        let o = analyse(&frames, &fault);
        assert_eq!((o.split_brain_ns, o.split_ongoing), (10 * MS, false));
        assert_eq!(
            o.bound_at,
            Some(1000 * MS),
            "a return is bounded from the fault"
        );
        assert_eq!(o.overhead_ns, Some(10 * MS + MS / 20));
        // Observation ending inside the split: ongoing, counted to the end.
        fault.end = 1015 * MS + MS / 2;
        let o = analyse(&frames, &fault);
        assert_eq!((o.split_brain_ns, o.split_ongoing), (5 * MS + MS / 2, true));
    }

    #[test]
    fn fast_probes_after_the_fault_place_the_first_answer_precisely() {
        // Probes every ms until the fault at 1000 ms, every 0.1 ms after it; b becomes able
        // to answer at 1300.23 and answers the probe of 1300.3 at 1300.31. Overhead over a
        // bound at 1300: 0.31 ms, within a window of 0.1 ms (the probe of 1300.2 went
        // unanswered).
        let mut v: Vec<Frame> = (900..1000)
            .map(|ms| f(f64::from(ms), Port::Client, Seen::Probe))
            .collect();
        for k in 0..5000 {
            let t = 1000.0 + f64::from(k) * 0.1;
            v.push(f(t, Port::Client, Seen::Probe));
            if t > 1300.23 {
                v.push(f(t + 0.01, Port::B, Seen::Answer));
            }
        }
        v.push(adv(999.0, Port::A, 150));
        let frames = sorted(v);
        let fault = Fault {
            at: 1000 * MS,
            old: Port::A,
            new: Port::B,
            bound: Bound::MasterDown(Duration::from_millis(301)),
            interval: Duration::from_millis(100),
            end: 1500 * MS,
        };
        let o = analyse(&frames, &fault);
        let overhead = o.overhead_ns.expect("answered");
        assert!((overhead - 310_000).abs() < 1_000, "{overhead}");
        let window = o.answer_window_ns.expect("window");
        assert!((window - 100_000).abs() < 1_000, "{window}");
        // Jitter of each phase against its own interval: none in this synthetic run.
        let (slow, _, _) =
            probe_jitter_between(&frames, Duration::from_millis(1), Stamp::MIN, fault.at)
                .expect("slow");
        let (fast, _, max) =
            probe_jitter_between(&frames, Duration::from_micros(100), fault.at, Stamp::MAX)
                .expect("fast");
        assert!(
            slow < 1_000 && fast < 1_000 && max < 1_000,
            "{slow} {fast} {max}"
        );
        // Against the wrong interval the deviation is the difference of the intervals.
        let (wrong, _, _) =
            probe_jitter_between(&frames, Duration::from_millis(1), fault.at, Stamp::MAX)
                .expect("fast vs 1 ms");
        assert!((wrong - 900_000).abs() < 1_000, "{wrong}");
    }

    #[test]
    fn probe_jitter_and_ranks() {
        let frames = vec![
            f(0.0, Port::Client, Seen::Probe),
            f(1.0, Port::Client, Seen::Probe),
            f(2.2, Port::Client, Seen::Probe),
            f(3.0, Port::Client, Seen::Probe),
            f(4.0, Port::A, Seen::Answer),
        ];
        let (p50, p99, max) = probe_jitter(&frames, Duration::from_millis(1)).expect("jitter");
        assert_eq!((p50, p99, max), (MS / 5, MS / 5, MS / 5));
        assert_eq!(probe_jitter(&frames[..1], Duration::from_millis(1)), None);
        assert_eq!(rank(&[1, 2, 3, 4, 5], 50), Some(3));
        assert_eq!(rank(&[1, 2, 3, 4, 5], 95), Some(5));
        assert_eq!(rank(&[7], 0), Some(7));
        assert_eq!(rank(&[], 50), None);
    }
}
