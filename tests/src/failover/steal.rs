//! CPU steal time during `--stress` (`/proc/stat`: the eighth value of each `cpuN` line, in
//! `USER_HZ` ticks): time a virtual CPU was ready to run but the hypervisor ran something else.
//! No scheduling priority inside the guest helps against it, so a window with tens of
//! milliseconds of steal explains a missed advert that `SCHED_FIFO` could not prevent.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    thread::{JoinHandle, sleep},
    time::Duration,
};

/// How often the watcher reads `/proc/stat`: about a third of the 10 ms adverts'
/// `Master_Down_Interval`, at the 10 ms resolution of the counters.
pub const WINDOW: Duration = Duration::from_millis(100);

/// Steal seen over a watch.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Steal {
    /// Total over all CPUs, ms.
    pub total_ms: f64,
    /// The most any one CPU lost in one [`WINDOW`], ms (0 when the kernel reports none).
    pub worst_window_ms: f64,
}

/// Per-CPU steal ticks from the text of `/proc/stat`; `None` if it has no `cpuN` line.
#[must_use]
pub fn parse(stat: &str) -> Option<Vec<u64>> {
    let v: Vec<u64> = stat
        .lines()
        .filter(|l| l.starts_with("cpu") && l.as_bytes().get(3).is_some_and(u8::is_ascii_digit))
        .map(|l| {
            l.split_ascii_whitespace()
                .nth(8)
                .and_then(|s| s.parse().ok())
                .unwrap_or(0)
        })
        .collect();
    (!v.is_empty()).then_some(v)
}

fn read() -> Option<Vec<u64>> {
    parse(&std::fs::read_to_string("/proc/stat").ok()?)
}

/// `USER_HZ` in ms per tick.
fn tick_ms() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    u32::try_from(hz)
        .ok()
        .filter(|&hz| hz > 0)
        .map_or(10.0, |hz| 1000.0 / f64::from(hz))
}

/// Folds successive samples into a [`Steal`].
#[must_use]
pub fn summarize(samples: &[Vec<u64>], tick_ms: f64) -> Steal {
    let mut s = Steal::default();
    for w in samples.windows(2) {
        for (a, b) in w[0].iter().zip(&w[1]) {
            // Ticks over one window fit in a u32 many times over.
            let ticks = u32::try_from(b.saturating_sub(*a)).unwrap_or(u32::MAX);
            let d = f64::from(ticks) * tick_ms;
            s.total_ms += d;
            s.worst_window_ms = s.worst_window_ms.max(d);
        }
    }
    s
}

/// A thread sampling steal every [`WINDOW`] until [`Watch::finish`].
#[derive(Debug)]
pub struct Watch {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<Vec<Vec<u64>>>,
}

impl Watch {
    /// Starts sampling.
    #[must_use]
    pub fn start() -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let mut samples = Vec::new();
            while !flag.load(Ordering::Relaxed) {
                samples.extend(read());
                sleep(WINDOW);
            }
            samples.extend(read());
            samples
        });
        Self { stop, thread }
    }

    /// Stops sampling (within one [`WINDOW`]) and sums up.
    #[must_use]
    pub fn finish(self) -> Steal {
        self.stop.store(true, Ordering::Relaxed);
        self.thread
            .join()
            .map(|s| summarize(&s, tick_ms()))
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::{parse, summarize};

    #[test]
    fn steal_is_the_eighth_value_of_each_cpu_line() {
        let stat = "cpu  10 0 5 100 0 0 0 9 0 0\ncpu0 5 0 2 50 0 0 0 4 0 0\n\
                    cpu1 5 0 3 50 0 0 0 5 0 0\nintr 1 2\n";
        assert_eq!(parse(stat), Some(vec![4, 5]));
        assert_eq!(parse("intr 1\n"), None);
    }

    #[test]
    fn the_worst_window_is_per_cpu() {
        let s = summarize(&[vec![0, 0], vec![1, 4], vec![1, 5]], 10.0);
        assert!((s.total_ms - 60.0).abs() < 1e-9, "{s:?}");
        assert!((s.worst_window_ms - 40.0).abs() < 1e-9, "{s:?}");
    }
}
