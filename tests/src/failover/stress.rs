//! `--stress`: no false failovers under load. Two nodes run one instance at 10 ms adverts (VRRP
//! v3, from the same generated keepalived.conf as the failover bench); once the master and the
//! backup are settled, busy threads saturate every CPU for a bounded time. Any state transition
//! either node logs while loaded (or in the second after) is a false failover: nothing failed. Each implementation runs
//! with and without real-time settings (`vrrp_rt_priority` + `vrrp_no_swap` in `global_defs`,
//! which keepalived applies to its VRRP process and havip to its election thread).

use std::{
    fmt::Write as _,
    hint::black_box,
    net::Ipv4Addr,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    thread::sleep,
    time::{Duration, Instant},
};

use anyhow::bail;

use super::{
    run::{Daemon, Implementation},
    steal::{Steal, WINDOW, Watch},
};
use crate::{
    agents::{InstanceSpec, START_LIMIT, Vrrp, Workdir},
    netns::Lan,
};

const A_IP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 11);
const B_IP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 12);
/// 10 ms adverts: the backup's `Master_Down_Interval` is about 30 ms, the tightest setting.
const VRRP: Vrrp = Vrrp::V3 { centis: 1 };
/// The real-time priority both implementations get in the RT variant.
pub const RT_PRIORITY: u8 = 50;
/// Quiet time before and after the load, so a transition caused by the start or by the end of
/// the load is told apart from one during it.
const QUIET: Duration = Duration::from_secs(1);

/// What `--stress` runs.
#[derive(Clone, Debug)]
pub struct StressPlan {
    /// How long the CPUs are saturated in each run.
    pub load_for: Duration,
    /// Implementations; each runs without, then with, the real-time settings.
    pub implementations: Vec<Implementation>,
    /// Busy threads (default: two per CPU, so the daemons always compete for a CPU).
    pub workers: usize,
}

/// One run's result.
#[derive(Clone, Debug)]
pub struct StressResult {
    /// `keepalived` or `havip`.
    pub implementation: &'static str,
    /// Whether `vrrp_rt_priority` and `vrrp_no_swap` were set.
    pub realtime: bool,
    /// Seconds of saturation.
    pub load_secs: f64,
    /// Busy threads.
    pub workers: usize,
    /// Transitions node a (the master) logged during the load and the quiet second after.
    pub transitions_a: usize,
    /// Transitions node b (the backup) logged during the load and the quiet second after.
    pub transitions_b: usize,
    /// CPU time the hypervisor took from this machine during the load.
    pub steal: Steal,
}

impl StressResult {
    /// One progress line.
    #[must_use]
    pub fn line(&self) -> String {
        format!(
            "{:<10} {:<8} stress {:.0} s x {} busy threads: transitions a {} b {}, steal {:.0} ms \
             (worst {} ms window: {:.0} ms)",
            self.implementation,
            if self.realtime { "rt" } else { "normal" },
            self.load_secs,
            self.workers,
            self.transitions_a,
            self.transitions_b,
            self.steal.total_ms,
            WINDOW.as_millis(),
            self.steal.worst_window_ms
        )
    }
}

impl StressPlan {
    /// Busy threads for this machine: two per CPU.
    #[must_use]
    pub fn default_workers() -> usize {
        std::thread::available_parallelism().map_or(2, |n| n.get() * 2)
    }

    /// Runs every implementation without and with real-time settings; failed runs are
    /// reported through `progress` and left out.
    pub fn run(&self, mut progress: impl FnMut(&str)) -> Vec<StressResult> {
        let mut out = Vec::new();
        for realtime in [false, true] {
            for &imp in &self.implementations {
                match self.run_once(imp, realtime) {
                    Ok(r) => {
                        progress(&r.line());
                        out.push(r);
                    }
                    Err(e) => progress(&format!(
                        "{} {} stress: FAILED: {e:#}",
                        imp.name(),
                        if realtime { "rt" } else { "normal" }
                    )),
                }
            }
        }
        out
    }

    /// Wall-clock estimate (each run: start-up, quiet times, load).
    #[must_use]
    pub fn estimate(&self) -> Duration {
        let per_run = self.load_for + QUIET * 2 + Duration::from_secs(3);
        per_run * u32::try_from(self.implementations.len() * 2).unwrap_or(u32::MAX)
    }

    fn run_once(&self, imp: Implementation, realtime: bool) -> anyhow::Result<StressResult> {
        let mut lan = Lan::new()?;
        lan.add_node("a", 11)?;
        lan.add_node("b", 12)?;
        let dir = Workdir::new()?;
        let mut spec_a = InstanceSpec::new(VRRP, 150, A_IP, &[B_IP]);
        spec_a.state = "MASTER";
        let spec_b = InstanceSpec::new(VRRP, 100, B_IP, &[A_IP]);
        let conf = |spec: &InstanceSpec, id: &str| with_realtime(&spec.to_keepalived(id), realtime);
        let a = Daemon::start(imp, &lan, 0, &dir, "a", &conf(&spec_a, "hv_a"))?;
        if !a.wait_state("MASTER", START_LIMIT) {
            bail!("a never became MASTER");
        }
        let b = Daemon::start(imp, &lan, 1, &dir, "b", &conf(&spec_b, "hv_b"))?;
        if !b.wait_state("BACKUP", START_LIMIT) {
            bail!("b never became BACKUP");
        }
        sleep(QUIET);
        let before = (a.transitions(), b.transitions());
        let started = Instant::now();
        let watch = Watch::start();
        saturate(self.workers, self.load_for);
        let steal = watch.finish();
        let load_secs = started.elapsed().as_secs_f64();
        // A takeover the load started may end after it: the quiet time after counts too.
        sleep(QUIET);
        let after = (a.transitions(), b.transitions());
        Ok(StressResult {
            implementation: imp.name(),
            realtime,
            load_secs,
            workers: self.workers,
            transitions_a: after.0.saturating_sub(before.0),
            transitions_b: after.1.saturating_sub(before.1),
            steal,
        })
    }
}

/// `conf` (from [`InstanceSpec::to_keepalived`]) with keepalived's real-time keywords in its
/// `global_defs` when `realtime`.
#[must_use]
pub fn with_realtime(conf: &str, realtime: bool) -> String {
    if realtime {
        conf.replacen(
            "global_defs {\n",
            &format!("global_defs {{\n    vrrp_rt_priority {RT_PRIORITY}\n    vrrp_no_swap\n"),
            1,
        )
    } else {
        conf.to_owned()
    }
}

/// Spins `workers` threads for `load_for` (bounded: each checks the clock), then joins them.
pub(crate) fn saturate(workers: usize, load_for: Duration) {
    let stop = Arc::new(AtomicBool::new(false));
    let threads: Vec<_> = (0..workers)
        .map(|_| {
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                let end = Instant::now() + load_for;
                let mut x = 0u64;
                while !stop.load(Ordering::Relaxed) && Instant::now() < end {
                    for _ in 0..10_000 {
                        x = black_box(x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1));
                    }
                }
                x
            })
        })
        .collect();
    sleep(load_for);
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        let _ = t.join();
    }
}

/// The stress results as JSON (`stress.json`).
#[must_use]
pub fn json(results: &[StressResult]) -> serde_json::Value {
    serde_json::Value::Array(
        results
            .iter()
            .map(|r| {
                serde_json::json!({
                    "implementation": r.implementation,
                    "realtime": r.realtime,
                    "rt_priority": r.realtime.then_some(RT_PRIORITY),
                    "advert_interval_ms": 10,
                    "load_secs": r.load_secs,
                    "workers": r.workers,
                    "transitions_a": r.transitions_a,
                    "transitions_b": r.transitions_b,
                    "steal_ms": r.steal.total_ms,
                    "steal_worst_window_ms": r.steal.worst_window_ms,
                    "steal_window_ms": WINDOW.as_millis(),
                })
            })
            .collect(),
    )
}

/// The stress results as a markdown table.
#[must_use]
pub fn markdown(results: &[StressResult]) -> String {
    let mut t = String::from(
        "### No false failovers under load (10 ms adverts, every CPU saturated)\n\n\
         | implementation | scheduling | load | busy threads | transitions a (master) | \
         transitions b (backup) | CPU steal total / worst 100 ms window |\n\
         |---|---|---|---|---|---|---|\n",
    );
    for r in results {
        let _ = writeln!(
            t,
            "| {} | {} | {:.0} s | {} | {} | {} | {:.0} / {:.0} ms |",
            r.implementation,
            if r.realtime {
                format!("vrrp_rt_priority {RT_PRIORITY}, vrrp_no_swap")
            } else {
                "normal".to_owned()
            },
            r.load_secs,
            r.workers,
            r.transitions_a,
            r.transitions_b,
            r.steal.total_ms,
            r.steal.worst_window_ms
        );
    }
    t.push_str(
        "\nTarget: 0 transitions with the real-time settings. CPU steal is time the hypervisor \
         ran something else while this machine's CPUs were ready: no priority inside the \
         machine helps against it.\n",
    );
    t
}

#[cfg(test)]
mod tests {
    use super::{RT_PRIORITY, StressResult, markdown, with_realtime};

    #[test]
    fn realtime_keywords_go_into_global_defs_only_when_asked() {
        let conf = "global_defs {\n    router_id x\n}\nvrrp_instance VI {\n}\n";
        assert_eq!(with_realtime(conf, false), conf);
        let rt = with_realtime(conf, true);
        assert_eq!(
            rt,
            format!(
                "global_defs {{\n    vrrp_rt_priority {RT_PRIORITY}\n    vrrp_no_swap\n    \
                 router_id x\n}}\nvrrp_instance VI {{\n}}\n"
            )
        );
    }

    #[test]
    fn the_table_has_a_row_per_run() {
        let r = |realtime, a, b| StressResult {
            implementation: "havip",
            realtime,
            load_secs: 60.2,
            workers: 4,
            transitions_a: a,
            transitions_b: b,
            steal: super::Steal {
                total_ms: 120.0,
                worst_window_ms: 30.0,
            },
        };
        let t = markdown(&[r(false, 1, 2), r(true, 0, 0)]);
        assert!(
            t.contains("| havip | normal | 60 s | 4 | 1 | 2 | 120 / 30 ms |"),
            "{t}"
        );
        assert!(
            t.contains(
                "| havip | vrrp_rt_priority 50, vrrp_no_swap | 60 s | 4 | 0 | 0 | 120 / 30 ms |"
            ),
            "{t}"
        );
    }
}
