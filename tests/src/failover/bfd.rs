//! `havip-bench failover --bfd`: the BFD rows. The same lab as [`super::run`] (client, a at
//! 150, b at 100, `VRRPv2` with `advert_int 1`, unicast), each node also running BFD to the
//! other; a's link is cut at a random phase of the advert interval and the failover is timed on
//! the wire, from the cut to b's first ARP answer for the VIP.
//!
//! Setups: havip with BFD at 1 ms x 3 and at 10 ms x 3, `master_down_on_bfd` on b (in the
//! sidecar file of the same keepalived.conf); keepalived with its BFD at its defaults
//! (10 ms x 5), which has no way to turn a BFD Down into a takeover, so its VRRP timer decides
//! (a `track_bfd` with weight 0 on b would even put b in FAULT). Targets (issue #12): median
//! <= 5 ms at 1 ms x 3, <= 35 ms at 10 ms x 3.

use std::{fmt::Write as _, thread::sleep, time::Duration};

use anyhow::bail;
use rand::Rng as _;
use serde_json::{Value, json};

use super::{
    report::Stats,
    run::{CLIENT, VIP, ms},
    timeline::{self, Bound, Fault, Outcome, Port, Seen, master_down},
    wire::{Capture, LinkSwitch, Pacer, now},
};
use crate::{
    agents::{InstanceSpec, START_LIMIT, Vrrp, Workdir, spawn_havip_file_env},
    netns::{Lan, Node, wait_for},
    proc::Proc,
};

const A_IP: std::net::Ipv4Addr = std::net::Ipv4Addr::new(192, 0, 2, 11);
const B_IP: std::net::Ipv4Addr = std::net::Ipv4Addr::new(192, 0, 2, 12);
const ADVERT: Vrrp = Vrrp::V2 { secs: 1 };

/// One BFD setup of the bench.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Setup {
    /// havip, BFD 1 ms x 3, `master_down_on_bfd`.
    Havip1ms,
    /// havip, BFD 10 ms x 3, `master_down_on_bfd`.
    Havip10ms,
    /// keepalived 2.2.7, its BFD at 10 ms x 5.
    Keepalived10ms,
}

impl Setup {
    /// Every setup, keepalived first (the reference).
    pub const ALL: [Self; 3] = [Self::Keepalived10ms, Self::Havip1ms, Self::Havip10ms];

    /// Its name in tables and JSON.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Havip1ms => "havip bfd 1ms x3",
            Self::Havip10ms => "havip bfd 10ms x3",
            Self::Keepalived10ms => "keepalived bfd 10ms x5",
        }
    }

    /// `(min_tx/min_rx in ms, multiplier)`.
    fn timers(self) -> (u32, u8) {
        match self {
            Self::Havip1ms => (1, 3),
            Self::Havip10ms => (10, 3),
            Self::Keepalived10ms => (10, 5),
        }
    }
}

/// The keepalived.conf of one node: its VRRP instance and a `bfd_instance` to the other node.
fn conf(
    setup: Setup,
    label: &str,
    priority: u8,
    src: std::net::Ipv4Addr,
    peer: std::net::Ipv4Addr,
) -> String {
    let mut spec = InstanceSpec::new(ADVERT, priority, src, &[peer]);
    if priority > 100 {
        spec.state = "MASTER";
    }
    let (ms, mult) = setup.timers();
    format!(
        "{}\nbfd_instance to_peer {{\n    neighbor_ip {peer}\n    source_ip {src}\n    min_rx {ms}\n    \
         min_tx {ms}\n    multiplier {mult}\n}}\n",
        spec.to_keepalived(&format!("hv_{label}"))
    )
}

/// A node's daemon (stopped with SIGTERM on drop: keepalived stops its children).
enum Daemon {
    Havip(Proc),
    Keepalived(Proc),
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let (Self::Havip(p) | Self::Keepalived(p)) = self;
        let _ = p.stop(Duration::from_secs(5));
    }
}

fn start(
    setup: Setup,
    node: &Node,
    dir: &Workdir,
    label: &str,
    text: &str,
) -> anyhow::Result<Daemon> {
    start_with(setup, node, dir, label, text, &[])
}

/// [`start`] with `env` added to havip's environment.
fn start_with(
    setup: Setup,
    node: &Node,
    dir: &Workdir,
    label: &str,
    text: &str,
    env: &[(&str, &str)],
) -> anyhow::Result<Daemon> {
    if setup == Setup::Keepalived10ms {
        let conf = dir.write(&format!("{label}.conf"), text)?;
        let pid = |kind: &str| dir.path().join(format!("{label}.{kind}.pid"));
        // Without `-P`: keepalived's BFD runs in a child process of its own.
        let mut cmd = node.ns.command("keepalived");
        cmd.args(["-n", "-l", "-D", "-G", "-f"])
            .arg(&conf)
            .arg("-p")
            .arg(pid("main"))
            .arg("-r")
            .arg(pid("vrrp"))
            .arg("-c")
            .arg(pid("check"))
            .arg("-b")
            .arg(pid("bfd"));
        let mut p = Proc::spawn(&format!("{}-{label}", node.ns.name()), cmd)?;
        let up = wait_for(START_LIMIT, Duration::from_millis(20), || {
            let t = p.log_text();
            (t.contains("Entering BACKUP STATE")
                || t.contains("Entering MASTER STATE")
                || !p.alive())
            .then_some(())
        });
        if up.is_none() || !p.alive() {
            bail!("keepalived {label} did not start:\n{}", p.log_text());
        }
        Ok(Daemon::Keepalived(p))
    } else {
        // havip reads the same keepalived.conf; its extension lives in the sidecar.
        dir.write(
            &format!("{label}.conf.havip.toml"),
            "[instance.VI_1]\nmaster_down_on_bfd = true\n",
        )?;
        Ok(Daemon::Havip(spawn_havip_file_env(
            node,
            dir,
            label,
            &format!("{label}.conf"),
            text,
            env,
        )?))
    }
}

/// What to run.
#[derive(Clone, Debug)]
pub struct BfdPlan {
    /// Runs per setup.
    pub runs: usize,
    /// Setups, alternated run by run.
    pub setups: Vec<Setup>,
    /// The client's probe interval.
    pub probe_every: Duration,
}

/// One run's numbers.
#[derive(Clone, Debug)]
pub struct BfdMeasured {
    /// The setup.
    pub setup: Setup,
    /// Run number.
    pub run: usize,
    /// What the capture shows (`failover_ns` is cut -> b's first answer).
    pub outcome: Outcome,
}

impl BfdPlan {
    /// Runs the plan, printing a line per run; failed runs are reported and skipped.
    pub fn run(&self, mut progress: impl FnMut(&str)) -> Vec<BfdMeasured> {
        let mut out = Vec::new();
        let mut rng = rand::rng();
        for run in 0..self.runs {
            let mut order = self.setups.clone();
            if run % 2 == 1 {
                order.reverse();
            }
            for setup in order {
                match self.run_once(setup, run, rng.random_range(0.0..1.0)) {
                    Ok(m) => {
                        progress(&format!(
                            "{} run {run}: failover {} ms, split brain {} ms",
                            setup.name(),
                            m.outcome
                                .failover_ns
                                .map_or_else(|| "-".to_owned(), |n| format!("{:.3}", ms(n))),
                            ms(m.outcome.split_brain_ns)
                        ));
                        out.push(m);
                    }
                    Err(e) => progress(&format!("{} run {run}: FAILED: {e:#}", setup.name())),
                }
            }
        }
        out
    }

    fn run_once(&self, setup: Setup, run: usize, phase: f64) -> anyhow::Result<BfdMeasured> {
        let i = ADVERT.interval();
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
        let started = now();
        let a = start(
            setup,
            &lan.nodes[1],
            &dir,
            "a",
            &conf(setup, "a", 150, A_IP, B_IP),
        )?;
        if wait_for(START_LIMIT, Duration::from_millis(5), || {
            capture.saw(Port::A, Seen::Answer, started).then_some(())
        })
        .is_none()
        {
            bail!("a never answered for the VIP");
        }
        let b = start(
            setup,
            &lan.nodes[2],
            &dir,
            "b",
            &conf(setup, "b", 100, B_IP, A_IP),
        )?;
        // The sessions come up within a few idle intervals (1 s); then a random phase.
        sleep(Duration::from_secs(4) + i.mul_f64(phase));
        let at = links.set(&lan.nodes[1].bridge_port, false)?;
        let limit = master_down(i, 100) + Duration::from_secs(2);
        let _ = wait_for(limit, Duration::from_millis(1), || {
            capture.saw(Port::B, Seen::Answer, at).then_some(())
        });
        sleep(Duration::from_millis(500));
        let end = now();
        drop(pacer);
        let frames = capture.take();
        let _ = capture.stop()?;
        drop((a, b));
        let fault = Fault {
            at,
            old: Port::A,
            new: Port::B,
            bound: Bound::MasterDown(master_down(i, 100)),
            interval: i,
            end,
        };
        Ok(BfdMeasured {
            setup,
            run,
            outcome: timeline::analyse(&frames, &fault),
        })
    }
}

/// The table: per setup, failover from the cut to b's first answer (median, p95, max) and the
/// longest outage and dual answering seen.
#[must_use]
pub fn markdown(results: &[BfdMeasured]) -> String {
    let mut t = String::new();
    let _ = writeln!(
        t,
        "| setup (advert_int 1, link cut) | runs | failover median ms | p95 ms | max ms | split brain ms |"
    );
    let _ = writeln!(t, "|---|---:|---:|---:|---:|---:|");
    for setup in Setup::ALL {
        let rows: Vec<&BfdMeasured> = results.iter().filter(|m| m.setup == setup).collect();
        if rows.is_empty() {
            continue;
        }
        let f = Stats::of(rows.iter().map(|m| m.outcome.failover_ns));
        let split: i64 = rows.iter().map(|m| m.outcome.split_brain_ns).sum();
        let cell = |v: Option<i64>| v.map_or_else(|| "-".to_owned(), |n| format!("{:.1}", ms(n)));
        let _ = writeln!(
            t,
            "| {} | {} | {} | {} | {} | {:.1} |",
            setup.name(),
            rows.len(),
            cell(f.as_ref().map(|s| s.median)),
            cell(f.as_ref().map(|s| s.p95)),
            cell(f.as_ref().map(|s| s.max)),
            ms(split)
        );
    }
    t
}

/// Every run as JSON.
#[must_use]
pub fn json(results: &[BfdMeasured]) -> Value {
    json!({
        "runs": results.iter().map(|m| json!({
            "setup": m.setup.name(),
            "run": m.run,
            "failover_ns": m.outcome.failover_ns,
            "split_brain_ns": m.outcome.split_brain_ns,
            "longest_gap_ns": m.outcome.longest_gap_ns,
        })).collect::<Vec<_>>()
    })
}

/// Who runs the BFD sessions in a stress run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StressSubject {
    /// havip at 10 ms x 3 with `master_down_on_bfd`; `kernel_rx`: the XDP program's receive
    /// timestamps are consulted before a session goes Down (off: `HAVIP_BFD_KERNEL_RX=0`).
    Havip {
        /// Kernel path on.
        kernel_rx: bool,
    },
    /// keepalived 2.2.7, its BFD at 10 ms x 5 (its defaults).
    Keepalived,
}

impl StressSubject {
    /// Its name in the table.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Havip { kernel_rx: true } => "havip bfd 10ms x3, kernel timestamps",
            Self::Havip { kernel_rx: false } => "havip bfd 10ms x3, socket only",
            Self::Keepalived => "keepalived bfd 10ms x5",
        }
    }
}

/// One `--bfd` stress run: false BFD downs under full CPU load.
#[derive(Clone, Debug)]
pub struct BfdStress {
    /// Who ran the sessions.
    pub subject: StressSubject,
    /// `SCHED_FIFO` (`vrrp_rt_priority` in `global_defs`, which havip also applies to its BFD
    /// thread) or normal scheduling.
    pub realtime: bool,
    /// Seconds the CPUs were saturated.
    pub load_secs: f64,
    /// Busy threads.
    pub workers: usize,
    /// Sessions that left Up on a and on b while loaded (and in the second after): false downs,
    /// since nothing failed.
    pub downs: (usize, usize),
    /// VRRP transitions on a and b meanwhile (`master_down_on_bfd` turns a false down on b
    /// into a takeover; keepalived has no such link).
    pub transitions: (usize, usize),
    /// Those transitions, `node: from -> to (reason)`.
    pub which: Vec<String>,
}

/// Lines that say a session left Up: havip's state-change log, keepalived's
/// `BFD_Instance(NAME) Entering Down state` (it logs that only when leaving Up).
fn false_downs(subject: StressSubject, log: &str) -> usize {
    log.lines()
        .filter(|l| match subject {
            StressSubject::Havip { .. } => {
                l.contains("BFD session state changed") && l.contains("from=up")
            }
            StressSubject::Keepalived => {
                l.contains("BFD_Instance(") && l.contains("Entering Down state")
            }
        })
        .count()
}

/// A pair at `advert_int 1` running BFD as `subject` says, settled, then every CPU saturated
/// by `workers` busy threads for `load_for` (issue #12 target: no false down in 60 s at
/// 10 ms x 3).
pub fn stress(
    subject: StressSubject,
    load_for: Duration,
    workers: usize,
    realtime: bool,
) -> anyhow::Result<BfdStress> {
    let mut lan = Lan::new()?;
    lan.add_node("a", 11)?;
    lan.add_node("b", 12)?;
    let dir = Workdir::new()?;
    let (setup, env): (Setup, &[(&str, &str)]) = match subject {
        StressSubject::Havip { kernel_rx: true } => (Setup::Havip10ms, &[]),
        StressSubject::Havip { kernel_rx: false } => {
            (Setup::Havip10ms, &[("HAVIP_BFD_KERNEL_RX", "0")])
        }
        StressSubject::Keepalived => (Setup::Keepalived10ms, &[]),
    };
    let conf = |label, priority, src, peer| {
        super::stress::with_realtime(&conf(setup, label, priority, src, peer), realtime)
    };
    let a = start_with(
        setup,
        &lan.nodes[0],
        &dir,
        "a",
        &conf("a", 150, A_IP, B_IP),
        env,
    )?;
    let b = start_with(
        setup,
        &lan.nodes[1],
        &dir,
        "b",
        &conf("b", 100, B_IP, A_IP),
        env,
    )?;
    let (Daemon::Havip(pa) | Daemon::Keepalived(pa)) = &a;
    let (Daemon::Havip(pb) | Daemon::Keepalived(pb)) = &b;
    let up = |p: &Proc| {
        let t = p.log_text();
        t.contains("to=up") || t.contains("Entering Up state")
    };
    if wait_for(Duration::from_secs(15), Duration::from_millis(50), || {
        (up(pa) && up(pb)).then_some(())
    })
    .is_none()
    {
        bail!("the BFD sessions did not come up");
    }
    let master = |p: &Proc| {
        if subject == StressSubject::Keepalived {
            wait_for(Duration::from_secs(10), Duration::from_millis(50), || {
                p.log_text().contains("Entering MASTER STATE").then_some(())
            })
        } else {
            crate::agents::wait_havip_state(p, "MASTER", 0, Duration::from_secs(10)).map(|_| ())
        }
    };
    if master(pa).is_none() {
        bail!("a never became MASTER");
    }
    sleep(Duration::from_secs(1));
    let downs = |p: &Proc| false_downs(subject, &p.log_text());
    let moves = |p: &Proc| {
        let t = p.log_text();
        if subject == StressSubject::Keepalived {
            t.lines()
                .filter(|l| l.contains("Entering ") && l.contains(" STATE"))
                .count()
        } else {
            crate::agents::transitions(&t).len()
        }
    };
    let before = ((downs(pa), downs(pb)), (moves(pa), moves(pb)));
    let started = std::time::Instant::now();
    super::stress::saturate(workers, load_for);
    let load_secs = started.elapsed().as_secs_f64();
    sleep(Duration::from_secs(1));
    let which = if subject == StressSubject::Keepalived {
        Vec::new()
    } else {
        [("a", pa, before.1.0), ("b", pb, before.1.1)]
            .into_iter()
            .flat_map(|(n, p, skip)| {
                crate::agents::transitions(&p.log_text())
                    .into_iter()
                    .skip(skip)
                    .map(move |t| format!("{n}: {} -> {} ({})", t.from, t.to, t.reason))
            })
            .collect()
    };
    Ok(BfdStress {
        subject,
        realtime,
        load_secs,
        workers,
        downs: (downs(pa) - before.0.0, downs(pb) - before.0.1),
        transitions: (moves(pa) - before.1.0, moves(pb) - before.1.1),
        which,
    })
}

/// The stress rows as a table.
#[must_use]
pub fn stress_markdown(results: &[BfdStress]) -> String {
    let mut t = String::new();
    let _ = writeln!(
        t,
        "| BFD under load (advert_int 1) | scheduling | load s | busy threads | false downs a / b | VRRP transitions a / b |"
    );
    let _ = writeln!(t, "|---|---|---:|---:|---:|---:|");
    for r in results {
        let _ = writeln!(
            t,
            "| {} | {} | {:.0} | {} | {} / {} | {} / {} |",
            r.subject.name(),
            if r.realtime { "SCHED_FIFO" } else { "normal" },
            r.load_secs,
            r.workers,
            r.downs.0,
            r.downs.1,
            r.transitions.0,
            r.transitions.1
        );
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn false_downs_are_read_from_either_log() {
        let havip = "x BFD session state changed bfd=to_peer from=up to=down
                     x BFD session state changed bfd=to_peer from=init to=up
";
        assert_eq!(
            false_downs(StressSubject::Havip { kernel_rx: true }, havip),
            1
        );
        let keepalived = "BFD_Instance(to_peer) Entering Up state
                          BFD_Instance(to_peer) Entering Down state (Local diagnostic -                           Control Detection Time Expired, Remote diagnostic - No Diagnostic)
";
        assert_eq!(false_downs(StressSubject::Keepalived, keepalived), 1);
        assert_eq!(false_downs(StressSubject::Keepalived, havip), 0);
    }
}
