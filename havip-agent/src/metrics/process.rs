//! The standard `process_*` metrics, read from `/proc/self` at scrape time: CPU time, memory,
//! file descriptors, threads, start time.

use std::time::Duration;

/// One reading of the process's resources. Fields the kernel did not provide are `None`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ProcessStats {
    /// User + system CPU time.
    pub cpu: Option<Duration>,
    /// Resident set size in bytes.
    pub resident_bytes: Option<u64>,
    /// Virtual memory size in bytes.
    pub virtual_bytes: Option<u64>,
    /// Threads.
    pub threads: Option<u64>,
    /// Start time in seconds since the Unix epoch.
    pub start_time_seconds: Option<f64>,
    /// Open file descriptors.
    pub open_fds: Option<u64>,
    /// Soft limit of open file descriptors.
    pub max_fds: Option<u64>,
}

/// Fields of `/proc/self/stat` (see proc(5)) after the command name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Stat {
    /// `utime + stime` in clock ticks.
    pub cpu_ticks: u64,
    /// `num_threads`.
    pub threads: u64,
    /// `starttime` in clock ticks since boot.
    pub start_ticks: u64,
    /// `vsize` in bytes.
    pub vsize: u64,
    /// `rss` in pages.
    pub rss_pages: u64,
}

/// Parses `/proc/self/stat`. The command name (field 2) may contain spaces and parentheses, so
/// the fields are counted from the last `)`.
pub(crate) fn parse_stat(text: &str) -> Option<Stat> {
    let (_, rest) = text.rsplit_once(')')?;
    // rest[0] is field 3 (state); field N is rest[N - 3].
    let f: Vec<&str> = rest.split_whitespace().collect();
    let num = |field: usize| -> Option<u64> { f.get(field.checked_sub(3)?)?.parse().ok() };
    Some(Stat {
        cpu_ticks: num(14)?.saturating_add(num(15)?),
        threads: num(20)?,
        start_ticks: num(22)?,
        vsize: num(23)?,
        rss_pages: num(24)?,
    })
}

/// `btime` of `/proc/stat`: boot time in seconds since the epoch.
pub(crate) fn parse_btime(text: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
}

fn sysconf(name: libc::c_int) -> Option<u64> {
    // SAFETY: sysconf has no preconditions.
    let v = unsafe { libc::sysconf(name) };
    u64::try_from(v).ok().filter(|&v| v > 0)
}

fn max_fds() -> Option<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid, writable rlimit.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &raw mut lim) };
    (rc == 0).then_some(lim.rlim_cur)
}

/// Reads the current values; what cannot be read is left `None`.
#[must_use]
pub fn read() -> ProcessStats {
    let ticks = sysconf(libc::_SC_CLK_TCK);
    let page = sysconf(libc::_SC_PAGESIZE);
    let stat = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|t| parse_stat(&t));
    let btime = std::fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|t| parse_btime(&t));
    let open_fds = std::fs::read_dir("/proc/self/fd")
        .ok()
        .map(|d| u64::try_from(d.count()).unwrap_or(u64::MAX));
    #[expect(
        clippy::cast_precision_loss,
        reason = "tick counts and epoch seconds are far below 2^52"
    )]
    let start_time_seconds = match (stat, ticks, btime) {
        (Some(s), Some(t), Some(b)) => Some(b as f64 + s.start_ticks as f64 / t as f64),
        _ => None,
    };
    ProcessStats {
        cpu: stat
            .zip(ticks)
            .map(|(s, t)| Duration::from_nanos(s.cpu_ticks.saturating_mul(1_000_000_000) / t)),
        resident_bytes: stat.zip(page).map(|(s, p)| s.rss_pages.saturating_mul(p)),
        virtual_bytes: stat.map(|s| s.vsize),
        threads: stat.map(|s| s.threads),
        start_time_seconds,
        open_fds,
        max_fds: max_fds(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_survives_a_hostile_command_name() {
        let text = "4242 (havip) (x) y) S 1 4242 4242 0 -1 4194560 1000 0 0 0 150 50 0 0 20 0 3 \
                    0 123456 104857600 2048 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 \
                    0 0 0 0\n";
        assert_eq!(
            parse_stat(text),
            Some(Stat {
                cpu_ticks: 200,
                threads: 3,
                start_ticks: 123_456,
                vsize: 104_857_600,
                rss_pages: 2048,
            })
        );
        assert_eq!(parse_stat("garbage"), None);
        assert_eq!(parse_stat("1 (x) S 1 2"), None, "truncated");
    }

    #[test]
    fn btime_is_found() {
        assert_eq!(
            parse_btime("cpu  1 2 3\nbtime 1785000000\nprocesses 9\n"),
            Some(1_785_000_000)
        );
        assert_eq!(parse_btime("cpu 1\n"), None);
    }

    #[test]
    fn this_process_reads() {
        let s = read();
        assert!(s.resident_bytes.is_some_and(|b| b > 0), "{s:?}");
        assert!(s.open_fds.is_some_and(|n| n >= 3), "{s:?}");
        assert!(s.threads.is_some_and(|n| n >= 1), "{s:?}");
        assert!(s.start_time_seconds.is_some_and(|t| t > 1e9), "{s:?}");
    }
}
