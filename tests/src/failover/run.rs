//! One benchmark run: a fresh lab (bridge, client, nodes a and b), the implementation under test
//! on both nodes from the same generated keepalived.conf, the capture and the client's probes
//! running, a fault injected at a random phase of the advert interval, and the failover measured
//! from the wire. A fresh lab per run means no run inherits another's addresses, XDP programs or
//! ARP state.

use std::{
    net::Ipv4Addr,
    thread::sleep,
    time::{Duration, Instant},
};

use anyhow::{Context as _, bail};
use rand::Rng as _;

use super::{
    timeline::{self, Bound, Fault, Outcome, Port, Seen, Stamp, master_down, skew_time},
    wire::{Capture, LinkSwitch, Pacer, now},
};
use crate::{
    agents::{
        InstanceSpec, Keepalived, START_LIMIT, Vrrp, Workdir, spawn_havip_file, transitions,
        wait_havip_state,
    },
    netns::{Lan, wait_for},
    proc::Proc,
};

/// The VIP both nodes serve.
pub const VIP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 200);
/// The client that probes it.
pub const CLIENT: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const A_IP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 11);
const B_IP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 12);
/// Priorities: a is the master and preempts back; b's priority sets `Skew_Time` and the
/// `Master_Down_Interval` of the takeover.
const A_PRIORITY: u8 = 150;
const B_PRIORITY: u8 = 100;

/// The VRRP speakers compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Implementation {
    /// Debian's keepalived (2.2.7), VRRP process only.
    Keepalived,
    /// `havip-agent run` reading the same keepalived.conf.
    Havip,
}

impl Implementation {
    /// Both, keepalived first (the reference).
    pub const ALL: [Self; 2] = [Self::Keepalived, Self::Havip];

    /// Its name in tables and JSON.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Keepalived => "keepalived",
            Self::Havip => "havip",
        }
    }
}

/// How the master goes away (or comes back).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scenario {
    /// The master's link is cut at the bridge.
    Cut,
    /// The master's daemon is killed with SIGKILL (keepalived: its VRRP process, then its
    /// parent, as `kill -9` of the service would).
    Kill,
    /// The master's daemon is stopped with SIGTERM: a planned handover with a priority-0
    /// advert.
    Term,
    /// The master's daemon is frozen with SIGSTOP for a while (a hung daemon), then resumed.
    Stop,
    /// After a cut and the backup's takeover, the link comes back and the higher-priority node
    /// takes the VIP back.
    Preempt,
}

impl Scenario {
    /// All, in table order.
    pub const ALL: [Self; 5] = [Self::Cut, Self::Kill, Self::Term, Self::Stop, Self::Preempt];

    /// Its name on the command line, in tables and JSON.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Cut => "cut",
            Self::Kill => "kill",
            Self::Term => "term",
            Self::Stop => "stop",
            Self::Preempt => "preempt",
        }
    }

    /// The scenario named `s`.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.name() == s)
    }
}

/// What to run.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Runs per implementation, setting and scenario.
    pub runs: usize,
    /// Advert intervals (with the VRRP version that carries them).
    pub intervals: Vec<Vrrp>,
    /// Scenarios.
    pub scenarios: Vec<Scenario>,
    /// Implementations, alternated run by run.
    pub implementations: Vec<Implementation>,
    /// The client's probe interval over the steady state.
    pub probe_every: Duration,
    /// The client's probe interval from the fault on: it sets how precisely the new master's
    /// first answer is placed (see `Outcome::answer_window_ns`).
    pub fast_probe_every: Duration,
    /// How long a stopped daemon stays stopped.
    pub stop_for: Duration,
}

impl Plan {
    /// The full default matrix: 5 runs of every scenario at 10 ms, 100 ms (v3) and 1 s (v2)
    /// adverts, 1 ms probes (0.1 ms from the fault on), 3 s hangs.
    #[must_use]
    pub fn full() -> Self {
        Self {
            runs: 5,
            intervals: vec![
                Vrrp::V3 { centis: 1 },
                Vrrp::V3 { centis: 10 },
                Vrrp::V2 { secs: 1 },
            ],
            scenarios: Scenario::ALL.to_vec(),
            implementations: Implementation::ALL.to_vec(),
            probe_every: Duration::from_millis(1),
            fast_probe_every: FAST_PROBE,
            stop_for: Duration::from_secs(3),
        }
    }

    /// The runs to do, one per lab: a cut and the preemption back share one lab.
    fn kinds(&self) -> Vec<Kind> {
        let has = |s| self.scenarios.contains(&s);
        let mut k = Vec::new();
        if has(Scenario::Cut) || has(Scenario::Preempt) {
            k.push(Kind::CutRestore);
        }
        for (s, kind) in [
            (Scenario::Kill, Kind::Kill),
            (Scenario::Term, Kind::Term),
            (Scenario::Stop, Kind::Stop),
        ] {
            if has(s) {
                k.push(kind);
            }
        }
        k
    }

    /// A rough wall-clock estimate of the whole plan (fixed costs measured on a quiet 2-core
    /// machine plus the protocol's waits).
    #[must_use]
    pub fn estimate(&self) -> Duration {
        // Building the lab and starting two daemons: about 1.5 s on a quiet 2-core machine.
        let per_lab = Duration::from_millis(1500);
        let mut total = Duration::ZERO;
        for &vrrp in &self.intervals {
            let i = vrrp.interval();
            for kind in self.kinds() {
                // Mirrors `run_once`: b joins, the steady state with a random phase (half an
                // interval on average), then the fault and its observation.
                let mut t = per_lab + settle(i) * 2 + i / 2;
                t += match kind {
                    Kind::CutRestore => {
                        master_down(i, B_PRIORITY)
                            + margin(i) * 2
                            + settle(i)
                            + master_down(i, A_PRIORITY)
                    }
                    Kind::Kill | Kind::Term => master_down(i, B_PRIORITY) + margin(i),
                    Kind::Stop => self.stop_for + margin(i),
                };
                total += t * u32::try_from(self.runs * self.implementations.len()).unwrap_or(1);
            }
        }
        total
    }

    /// Runs the plan, printing a line per run; failed runs are reported and skipped.
    pub fn run(&self, mut progress: impl FnMut(&str)) -> Vec<Measured> {
        let mut out = Vec::new();
        let mut rng = rand::rng();
        for &vrrp in &self.intervals {
            for kind in self.kinds() {
                for run in 0..self.runs {
                    // Alternate who goes first, so a drift of the machine's load over time
                    // does not favour one implementation.
                    let mut order = self.implementations.clone();
                    if run % 2 == 1 {
                        order.reverse();
                    }
                    for imp in order {
                        let phase = rng.random_range(0.0..1.0);
                        match self.run_once(imp, vrrp, kind, run, phase) {
                            Ok(m) => {
                                for x in &m {
                                    progress(&x.line());
                                }
                                out.extend(m);
                            }
                            Err(e) => progress(&format!(
                                "{} {} {:?} run {run}: FAILED: {e:#}",
                                imp.name(),
                                label(vrrp),
                                kind
                            )),
                        }
                    }
                }
            }
        }
        out
    }

    fn run_once(
        &self,
        imp: Implementation,
        vrrp: Vrrp,
        kind: Kind,
        run: usize,
        phase: f64,
    ) -> anyhow::Result<Vec<Measured>> {
        let i = vrrp.interval();
        let mut lan = Lan::new()?;
        lan.add_node("c", 1)?;
        lan.add_node("a", 11)?;
        lan.add_node("b", 12)?;
        let dir = Workdir::new()?;
        let ports = [Port::Client, Port::A, Port::B];
        let mut capture = Capture::start(
            &lan.bridge,
            [0, 1, 2].map(|n| (ports[n], lan.nodes[n].bridge_port.clone())),
            VIP,
            CLIENT,
        )?;
        let pacer = Pacer::start(&lan.nodes[0].ns, "eth0", CLIENT, VIP, self.probe_every)?;
        let links = LinkSwitch::open(&lan.bridge)?;

        let mut spec_a = InstanceSpec::new(vrrp, A_PRIORITY, A_IP, &[B_IP]);
        spec_a.state = "MASTER";
        let spec_b = InstanceSpec::new(vrrp, B_PRIORITY, B_IP, &[A_IP]);
        let started = now();
        let a = Daemon::start(imp, &lan, 1, &dir, "a", &spec_a.to_keepalived("hv_a"))?;
        if !wait_seen(&capture, Port::A, Seen::Answer, started, START_LIMIT) {
            bail!("a never answered for the VIP");
        }
        let b = Daemon::start(imp, &lan, 2, &dir, "b", &spec_b.to_keepalived("hv_b"))?;
        // b hears some adverts; the master's CPU is sampled over the steady state that follows,
        // which also puts the fault at a random phase of the advert interval.
        sleep(settle(i));
        let cpu_before = cpu_ns(&a.pids());
        let steady = Instant::now();
        sleep(settle(i) + i.mul_f64(phase));
        let cpu_percent = cpu_ns(&a.pids())
            .zip(cpu_before)
            .map(|(after, before)| percent(after.saturating_sub(before), steady.elapsed()));
        let peak_rss_kib = peak_rss_kib(&a.pids());

        let port_a = &lan.nodes[1].bridge_port;
        // From here on the client probes fast: the first answer is placed within one fast
        // probe interval.
        let fast_from = now();
        pacer.set_every(self.fast_probe_every);
        let faults = self.inject(kind, i, &a, &capture, &links, port_a)?;
        let end = now();
        drop(pacer);
        let frames = capture.take();
        let drops = capture.stop()?;
        drop((a, b));
        let jitter =
            timeline::probe_jitter_between(&frames, self.probe_every, Stamp::MIN, fast_from);
        // The first fast probe is one slow interval after the last slow one at most.
        let fast_jitter = timeline::probe_jitter_between(
            &frames,
            self.fast_probe_every,
            fast_from + timeline::nanos(self.probe_every),
            Stamp::MAX,
        );
        Ok(faults
            .into_iter()
            .filter(|(s, _)| self.scenarios.contains(s))
            .map(|(scenario, mut f)| {
                // Each fault is observed until the next one, the last until the run's end.
                f.end = f.end.min(end);
                Measured {
                    implementation: imp,
                    vrrp,
                    scenario,
                    run,
                    outcome: timeline::analyse(&frames, &f),
                    cpu_percent,
                    peak_rss_kib,
                    jitter,
                    fast_jitter,
                    capture_drops: drops,
                }
            })
            .collect())
    }

    /// Injects the fault of `kind` into a's daemon or link and observes it (and, after a cut,
    /// the link's return); returns each scenario with its fault, observation ends set where a
    /// later fault begins.
    fn inject(
        &self,
        kind: Kind,
        i: Duration,
        a: &Daemon,
        capture: &Capture,
        links: &LinkSwitch,
        port_a: &str,
    ) -> anyhow::Result<Vec<(Scenario, Fault)>> {
        let mdi_b = master_down(i, B_PRIORITY);
        let limit = mdi_b + Duration::from_secs(2);
        let mut faults = Vec::new();
        match kind {
            Kind::CutRestore => {
                let at = links.set(port_a, false)?;
                wait_seen(capture, Port::B, Seen::Answer, at, limit);
                sleep(margin(i));
                let mut cut = fault(at, Port::A, Port::B, Bound::MasterDown(mdi_b), i);
                // b serves alone for a while, then a comes back and preempts.
                sleep(settle(i));
                let back = links.set(port_a, true)?;
                cut.end = back;
                faults.push((Scenario::Cut, cut));
                let mdi_a = master_down(i, A_PRIORITY);
                wait_seen(
                    capture,
                    Port::A,
                    Seen::Answer,
                    back,
                    mdi_a + Duration::from_secs(2),
                );
                sleep(margin(i));
                faults.push((
                    Scenario::Preempt,
                    fault(back, Port::B, Port::A, Bound::Return(mdi_a), i),
                ));
            }
            Kind::Kill => {
                let at = now();
                a.signal_vrrp(libc::SIGKILL);
                wait_seen(capture, Port::B, Seen::Answer, at, limit);
                sleep(margin(i));
                faults.push((
                    Scenario::Kill,
                    fault(at, Port::A, Port::B, Bound::MasterDown(mdi_b), i),
                ));
            }
            Kind::Term => {
                let at = now();
                a.signal_main(libc::SIGTERM);
                wait_seen(capture, Port::B, Seen::Answer, at, limit);
                sleep(margin(i));
                let skew = skew_time(i, B_PRIORITY);
                faults.push((
                    Scenario::Term,
                    fault(at, Port::A, Port::B, Bound::Skew(skew), i),
                ));
            }
            Kind::Stop => {
                let at = now();
                a.signal_vrrp(libc::SIGSTOP);
                sleep(self.stop_for.saturating_sub(elapsed_since(at)));
                a.signal_vrrp(libc::SIGCONT);
                sleep(margin(i));
                faults.push((
                    Scenario::Stop,
                    fault(at, Port::A, Port::B, Bound::MasterDown(mdi_b), i),
                ));
            }
        }
        Ok(faults)
    }
}

fn fault(at: Stamp, old: Port, new: Port, bound: Bound, interval: Duration) -> Fault {
    Fault {
        at,
        old,
        new,
        bound,
        interval,
        end: Stamp::MAX,
    }
}

fn elapsed_since(at: Stamp) -> Duration {
    Duration::from_nanos(u64::try_from(now() - at).unwrap_or(0))
}

/// The runs a lab is built for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    CutRestore,
    Kill,
    Term,
    Stop,
}

/// The default probe interval from the fault on: 0.1 ms, the resolution the target (overhead
/// median <= 0.1 ms) needs, and about as fast as a userspace sender on a 2-core lab keeps to
/// (its jitter is reported beside the results).
pub const FAST_PROBE: Duration = Duration::from_micros(100);

/// A wait that lets b hear an advert at least: b joins, then listens this long before the
/// steady state (which lasts as long again plus the random phase) ends in the fault.
fn settle(i: Duration) -> Duration {
    i + Duration::from_millis(50)
}

/// Observation after the takeover (split brain and gaps that follow it are seen within it).
fn margin(i: Duration) -> Duration {
    (i * 3).clamp(Duration::from_millis(150), Duration::from_secs(1))
}

/// `10ms`, `100ms`, `1s`.
#[must_use]
pub fn label(vrrp: Vrrp) -> String {
    let ms = vrrp.interval().as_millis();
    if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

/// One scenario's result for one implementation, setting and run.
#[derive(Clone, Debug)]
pub struct Measured {
    /// Who ran.
    pub implementation: Implementation,
    /// Version and advert interval.
    pub vrrp: Vrrp,
    /// What happened.
    pub scenario: Scenario,
    /// Run number (0-based).
    pub run: usize,
    /// What the wire showed.
    pub outcome: Outcome,
    /// The master's daemon CPU over its steady state before the fault (percent of one core).
    pub cpu_percent: Option<f64>,
    /// The master's daemon peak RSS (all its processes together), KiB.
    pub peak_rss_kib: Option<u64>,
    /// The client's probe send jitter over the steady state (median, p99, max ns).
    pub jitter: Option<(i64, i64, i64)>,
    /// The same from the fault on, against the fast probe interval.
    pub fast_jitter: Option<(i64, i64, i64)>,
    /// Frames the capture lost (should be 0; otherwise the run is suspect).
    pub capture_drops: u32,
}

impl Measured {
    /// One progress line.
    #[must_use]
    pub fn line(&self) -> String {
        let ms = |v: Option<i64>| v.map_or_else(|| "-".to_owned(), |n| format!("{:.3}", ms(n)));
        format!(
            "{:<10} {:<5} {:<7} run {}: failover {} ms, overhead {} ms, gap {:.3} ms, split {:.3} ms{}",
            self.implementation.name(),
            label(self.vrrp),
            self.scenario.name(),
            self.run,
            ms(self.outcome.failover_ns),
            ms(self.outcome.overhead_ns),
            ms_f(self.outcome.longest_gap_ns),
            ms_f(self.outcome.split_brain_ns),
            if self.outcome.split_ongoing {
                " (ongoing)"
            } else {
                ""
            }
        )
    }
}

/// Nanoseconds as fractional milliseconds.
#[must_use]
#[expect(
    clippy::cast_precision_loss,
    reason = "display of times well below 2^52 ns"
)]
pub fn ms(ns: i64) -> f64 {
    ns as f64 / 1e6
}

fn ms_f(ns: i64) -> f64 {
    ms(ns)
}

#[expect(clippy::cast_precision_loss, reason = "a percentage for display")]
pub(crate) fn percent(cpu: u64, wall: Duration) -> f64 {
    cpu as f64 / wall.as_nanos().max(1) as f64 * 100.0
}

/// Waits up to `limit` until `port` sent `seen` after `after`.
fn wait_seen(capture: &Capture, port: Port, seen: Seen, after: Stamp, limit: Duration) -> bool {
    wait_for(limit, Duration::from_millis(1), || {
        capture.saw(port, seen, after).then_some(())
    })
    .is_some()
}

/// The daemon of one node.
pub(crate) enum Daemon {
    Havip(Proc),
    Keepalived(Keepalived),
}

impl Daemon {
    /// Starts `imp` on node `n` of `lan` with the keepalived.conf `conf`.
    pub(crate) fn start(
        imp: Implementation,
        lan: &Lan,
        n: usize,
        dir: &Workdir,
        label: &str,
        conf: &str,
    ) -> anyhow::Result<Self> {
        let node = &lan.nodes[n];
        Ok(match imp {
            Implementation::Havip => Self::Havip(spawn_havip_file(
                node,
                dir,
                label,
                &format!("{label}.conf"),
                conf,
            )?),
            Implementation::Keepalived => {
                Self::Keepalived(Keepalived::spawn_conf(node, dir, label, conf)?)
            }
        })
    }

    /// Its processes: havip's agent; keepalived's parent and VRRP process.
    /// Waits up to `limit` until the daemon logged entering `state`.
    pub(crate) fn wait_state(&self, state: &str, limit: Duration) -> bool {
        match self {
            Self::Havip(p) => wait_havip_state(p, state, 0, limit).is_some(),
            Self::Keepalived(k) => k.wait_entered(state, 1, limit),
        }
    }

    /// State transitions logged so far (keepalived: entries into MASTER, BACKUP or FAULT).
    pub(crate) fn transitions(&self) -> usize {
        match self {
            Self::Havip(p) => transitions(&p.log_text()).len(),
            Self::Keepalived(k) => ["MASTER", "BACKUP", "FAULT"]
                .iter()
                .map(|s| k.entered(s))
                .sum(),
        }
    }

    pub(crate) fn pids(&self) -> Vec<i32> {
        match self {
            Self::Havip(p) => vec![p.pid()],
            Self::Keepalived(k) => std::iter::once(k.proc.pid()).chain(k.vrrp_pid()).collect(),
        }
    }

    /// Signals the process that runs VRRP (for SIGKILL keepalived's parent too, after its VRRP
    /// process, so it cannot respawn it).
    fn signal_vrrp(&self, signal: i32) {
        match self {
            Self::Havip(p) => p.signal(signal),
            Self::Keepalived(k) => {
                if let Some(pid) = k.vrrp_pid() {
                    // SAFETY: kill(2) of a process of the keepalived we started.
                    unsafe { libc::kill(pid, signal) };
                }
                if signal == libc::SIGKILL {
                    k.proc.signal(signal);
                }
            }
        }
    }

    /// Signals the main process (how a service manager stops it).
    fn signal_main(&self, signal: i32) {
        match self {
            Self::Havip(p) => p.signal(signal),
            Self::Keepalived(k) => k.proc.signal(signal),
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // A frozen daemon would not act on the SIGTERM that stops it.
        self.signal_vrrp(libc::SIGCONT);
    }
}

/// CPU time of every thread of `pids` in nanoseconds (`/proc/PID/task/*/schedstat`, which counts
/// in nanoseconds where `stat` counts in clock ticks); `None` if one cannot be read.
pub(crate) fn cpu_ns(pids: &[i32]) -> Option<u64> {
    let mut total = 0;
    for pid in pids {
        let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
        for t in tasks.flatten() {
            let text = std::fs::read_to_string(t.path().join("schedstat")).unwrap_or_default();
            total += text
                .split_whitespace()
                .next()
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    Some(total)
}

/// Sum of `VmHWM` of `pids`, KiB.
pub(crate) fn peak_rss_kib(pids: &[i32]) -> Option<u64> {
    let mut total = 0;
    for pid in pids {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .with_context(|| format!("/proc/{pid}/status"))
            .ok()?;
        total += status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())?;
    }
    Some(total)
}
