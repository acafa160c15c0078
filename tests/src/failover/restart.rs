//! `--restart`: planned restarts of the master (issue #14), havip beside keepalived. Two nodes,
//! a (150) master and b (100) backup, one instance; a client probes the VIP with ARP every
//! probe interval while the master's daemon is restarted N times in a row:
//!
//! - keepalived: SIGTERM (it resigns with a priority-0 advert, b takes over), then a new
//!   keepalived, which preempts back: what `systemctl restart keepalived` does;
//! - havip `stop+start`: `havip-agent stop --keep-ownership`, then a new agent, which adopts
//!   the running data plane and resumes (what `systemctl restart havip` does);
//! - havip `takeover`: a new `havip-agent run --takeover`, which stops the running agent only
//!   once it is ready to adopt (the prepared start).
//!
//! Counted: state transitions of both nodes after the start (a resumed agent makes none), probes
//! answered by two MACs at once, and the client's gaps (runs of unanswered probes, as the time
//! from the last answer before to the first after), one per restart: p95 and max.

use std::{
    fmt::Write as _,
    net::Ipv4Addr,
    time::{Duration, Instant},
};

use anyhow::{Context as _, bail};

use crate::{
    agents::{
        InstanceSpec, Keepalived, START_LIMIT, Vrrp, spawn_havip_args, transitions,
        wait_havip_state,
    },
    pair::{NODE_A, NODE_B, PairLab},
    prober::Sample,
    proc::Proc,
    restart::{VIP, stop_cmd},
};

const A_IP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 11);
const B_IP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 12);

/// How the master's daemon is restarted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Way {
    /// keepalived: SIGTERM, then a new keepalived.
    Keepalived,
    /// havip: `stop --keep-ownership`, then a new agent.
    HavipStopStart,
    /// havip: a new `run --takeover`.
    HavipTakeover,
}

impl Way {
    /// Its name in the table.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Keepalived => "keepalived (stop+start)",
            Self::HavipStopStart => "havip (stop --keep-ownership + start)",
            Self::HavipTakeover => "havip (run --takeover)",
        }
    }
}

/// What `--restart` runs.
#[derive(Clone, Debug)]
pub struct RestartPlan {
    /// Advert intervals.
    pub intervals: Vec<Vrrp>,
    /// Restarts per way and interval.
    pub restarts: usize,
    /// The ways to restart.
    pub ways: Vec<Way>,
    /// The client's probe interval (one probe's answer window).
    pub probe_every: Duration,
}

/// One run's result.
#[derive(Clone, Debug)]
pub struct RestartResult {
    /// How.
    pub way: Way,
    /// Advert interval.
    pub interval: Duration,
    /// Restarts done.
    pub restarts: usize,
    /// Transitions of a's daemons after the first start.
    pub transitions_a: usize,
    /// Transitions of b after its start.
    pub transitions_b: usize,
    /// Probes answered by two MACs at once.
    pub dual: usize,
    /// Probes sent.
    pub probes: usize,
    /// Client gaps, one per restart (0 when a restart left none), ms, sorted.
    pub gaps_ms: Vec<f64>,
}

impl RestartResult {
    /// The `q` quantile of the gaps (nearest rank).
    #[must_use]
    pub fn gap_quantile(&self, q: f64) -> f64 {
        quantile(&self.gaps_ms, q)
    }

    /// One progress line.
    #[must_use]
    pub fn line(&self) -> String {
        format!(
            "{} at {:?}: {} restarts, transitions a {} b {}, dual answers {}, gap p95 {:.1} ms max {:.1} ms",
            self.way.name(),
            self.interval,
            self.restarts,
            self.transitions_a,
            self.transitions_b,
            self.dual,
            self.gap_quantile(0.95),
            self.gap_quantile(1.0)
        )
    }
}

/// Nearest-rank quantile of sorted `v` (0 when empty).
#[must_use]
pub fn quantile(v: &[f64], q: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss,
        reason = "a rank within a short vector"
    )]
    let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
    v[rank - 1]
}

/// The gaps in `samples`: for every run of unanswered probes, the time from the last answered
/// probe before it to the first answered after it (ms), longest first.
#[must_use]
pub fn gaps(samples: &[Sample]) -> Vec<f64> {
    let mut out = Vec::new();
    let mut last_answer: Option<Duration> = None;
    let mut in_gap = false;
    for s in samples {
        if s.macs.is_empty() {
            in_gap = true;
        } else {
            if in_gap && let Some(before) = last_answer {
                out.push(s.at.saturating_sub(before).as_secs_f64() * 1e3);
            }
            in_gap = false;
            last_answer = Some(s.at);
        }
    }
    out.sort_by(|a, b| b.total_cmp(a));
    out
}

impl RestartPlan {
    /// Runs every way at every interval; failed runs are reported through `progress`.
    pub fn run(&self, mut progress: impl FnMut(&str)) -> Vec<RestartResult> {
        let mut out = Vec::new();
        for &vrrp in &self.intervals {
            for &way in &self.ways {
                match self.run_once(way, vrrp) {
                    Ok(r) => {
                        progress(&r.line());
                        out.push(r);
                    }
                    Err(e) => progress(&format!(
                        "{} at {:?}: FAILED: {e:#}",
                        way.name(),
                        vrrp.interval()
                    )),
                }
            }
        }
        out
    }

    fn run_once(&self, way: Way, vrrp: Vrrp) -> anyhow::Result<RestartResult> {
        let lab = PairLab::new("a", "b")?;
        let mut spec_a = InstanceSpec::new(vrrp, 150, A_IP, &[B_IP]);
        spec_a.state = "MASTER";
        let spec_b = InstanceSpec::new(vrrp, 100, B_IP, &[A_IP]);
        let a_node = &lab.lan.nodes[NODE_A];
        let mut a = Node::start(way, &lab, a_node, "a0", &spec_a, &[])?;
        if !a.wait_state("MASTER") {
            bail!("a never became MASTER");
        }
        let b = Node::start(way, &lab, &lab.lan.nodes[NODE_B], "b0", &spec_b, &[])?;
        if !b.wait_state("BACKUP") {
            bail!("b never became BACKUP");
        }
        if !lab.settles_on(VIP, lab.mac(NODE_A), START_LIMIT) {
            bail!("a does not answer the VIP alone");
        }
        let b_before = b.transitions();
        let pause = (vrrp.interval() * 5).max(Duration::from_millis(300));
        let stop = std::sync::atomic::AtomicBool::new(false);
        let (samples, result) = std::thread::scope(|s| {
            let prober = s.spawn(|| {
                let mut out = Vec::new();
                let end = Instant::now() + Duration::from_secs(600);
                while !stop.load(std::sync::atomic::Ordering::Relaxed) && Instant::now() < end {
                    match lab.prober.probe(VIP, self.probe_every) {
                        Ok(sample) => out.push(sample),
                        Err(_) => break,
                    }
                }
                out
            });
            let result = (|| -> anyhow::Result<usize> {
                let mut a_transitions = 0;
                for i in 1..=self.restarts {
                    a = a.restart(way, &lab, &format!("a{i}"), &spec_a)?;
                    std::thread::sleep(pause);
                    a_transitions += a.transitions();
                }
                Ok(a_transitions)
            })();
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
            (prober.join().unwrap_or_default(), result)
        });
        let transitions_a = result?;
        let mut gaps_ms = gaps(&samples);
        gaps_ms.resize(self.restarts.max(gaps_ms.len()), 0.0);
        gaps_ms.truncate(self.restarts);
        gaps_ms.sort_by(f64::total_cmp);
        Ok(RestartResult {
            way,
            interval: vrrp.interval(),
            restarts: self.restarts,
            transitions_a,
            transitions_b: b.transitions().saturating_sub(b_before),
            dual: samples.iter().filter(|s| s.macs.len() > 1).count(),
            probes: samples.len(),
            gaps_ms,
        })
    }
}

/// The master's daemon.
enum Node {
    Havip(Proc, String),
    Keepalived(Keepalived),
}

impl Node {
    fn start(
        way: Way,
        lab: &PairLab,
        node: &crate::netns::Node,
        label: &str,
        spec: &InstanceSpec,
        args: &[&str],
    ) -> anyhow::Result<Self> {
        Ok(if way == Way::Keepalived {
            Self::Keepalived(Keepalived::spawn_conf(
                node,
                &lab.dir,
                label,
                &spec.to_keepalived(label),
            )?)
        } else {
            Self::Havip(
                spawn_havip_args(node, &lab.dir, label, spec, args)?,
                label.to_owned(),
            )
        })
    }

    fn wait_state(&self, state: &str) -> bool {
        match self {
            Self::Havip(p, _) => wait_havip_state(p, state, 0, START_LIMIT).is_some(),
            Self::Keepalived(k) => k.wait_entered(state, 1, START_LIMIT),
        }
    }

    fn transitions(&self) -> usize {
        match self {
            Self::Havip(p, _) => transitions(&p.log_text()).len(),
            Self::Keepalived(k) => ["MASTER", "BACKUP", "FAULT"]
                .iter()
                .map(|s| k.entered(s))
                .sum(),
        }
    }

    /// Restarts this daemon as `label`; returns the new one.
    fn restart(
        self,
        way: Way,
        lab: &PairLab,
        label: &str,
        spec: &InstanceSpec,
    ) -> anyhow::Result<Self> {
        let node = &lab.lan.nodes[NODE_A];
        match (self, way) {
            (Self::Keepalived(mut k), _) => {
                if !k.stop(Duration::from_secs(5)) {
                    bail!("keepalived did not stop");
                }
                Self::start(way, lab, node, label, spec, &[])
            }
            (Self::Havip(mut p, old), Way::HavipTakeover) => {
                let socket = crate::agents::control_socket(&lab.dir, &old);
                let socket = socket.to_str().context("socket path")?.to_owned();
                let new = Self::start(
                    way,
                    lab,
                    node,
                    label,
                    spec,
                    &["--takeover", "--takeover-socket", &socket],
                )?;
                if p.wait(Duration::from_secs(5)).is_none() {
                    bail!("the previous agent did not exit");
                }
                Ok(new)
            }
            (Self::Havip(mut p, old), _) => {
                let out = stop_cmd(lab, &old, true);
                if !out.status.success() {
                    bail!("stop: {}", String::from_utf8_lossy(&out.stderr));
                }
                if p.wait(Duration::from_secs(5)).is_none() {
                    bail!("the previous agent did not exit");
                }
                Self::start(way, lab, node, label, spec, &[])
            }
        }
    }
}

/// The results as JSON (`restart.json`).
#[must_use]
pub fn json(results: &[RestartResult]) -> serde_json::Value {
    serde_json::Value::Array(
        results
            .iter()
            .map(|r| {
                serde_json::json!({
                    "way": r.way.name(),
                    "advert_interval_ms": r.interval.as_secs_f64() * 1e3,
                    "restarts": r.restarts,
                    "transitions_a": r.transitions_a,
                    "transitions_b": r.transitions_b,
                    "dual_answers": r.dual,
                    "probes": r.probes,
                    "gap_p95_ms": r.gap_quantile(0.95),
                    "gap_max_ms": r.gap_quantile(1.0),
                })
            })
            .collect(),
    )
}

/// The results as a markdown table.
#[must_use]
pub fn markdown(results: &[RestartResult], probe_every: Duration) -> String {
    let mut t = format!(
        "### Planned restarts of the master (probe every {} µs)\n\n\
         | way | advert interval | restarts | transitions a (master) | transitions b (backup) \
         | dual answers | client gap p95 | client gap max |\n|---|---|---|---|---|---|---|---|\n",
        probe_every.as_micros()
    );
    for r in results {
        let _ = writeln!(
            t,
            "| {} | {:?} | {} | {} | {} | {} | {:.1} ms | {:.1} ms |",
            r.way.name(),
            r.interval,
            r.restarts,
            r.transitions_a,
            r.transitions_b,
            r.dual,
            r.gap_quantile(0.95),
            r.gap_quantile(1.0)
        );
    }
    t.push_str(
        "\nTarget (issue #14): 0 transitions and 0 dual answers in every havip row; client gap \
         p95 <= 2 ms.\n",
    );
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(ms: u64, answered: bool) -> Sample {
        Sample {
            at: Duration::from_millis(ms),
            macs: if answered {
                vec![[2, 0, 0, 0, 0, 1]]
            } else {
                vec![]
            },
        }
    }

    #[test]
    fn a_gap_runs_from_the_last_answer_before_to_the_first_after() {
        let s = [
            sample(0, true),
            sample(1, true),
            sample(2, false),
            sample(3, false),
            sample(4, true),
            sample(5, false),
            sample(6, true),
            sample(7, false),
        ];
        // The trailing run has no answer after it: not a gap (yet).
        assert_eq!(gaps(&s), vec![3.0, 2.0]);
    }

    #[test]
    fn quantiles_are_nearest_rank() {
        let v: Vec<f64> = (1..=20).map(f64::from).collect();
        assert!((quantile(&v, 0.95) - 19.0).abs() < f64::EPSILON);
        assert!((quantile(&v, 1.0) - 20.0).abs() < f64::EPSILON);
        assert!(quantile(&[], 0.95).abs() < f64::EPSILON);
    }
}
