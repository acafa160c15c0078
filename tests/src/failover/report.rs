//! The failover benchmark's results as markdown tables (printed and written) and as JSON: per
//! scenario, advert interval and implementation the median, p95 and max of each measure over the
//! runs, and the havip/keepalived ratio of the medians.

use std::fmt::Write as _;

use serde_json::{Value, json};

use super::{
    run::{Implementation, Measured, Plan, Scenario, label, ms},
    timeline::{Outcome, rank},
};
use crate::agents::Vrrp;

/// Median, p95 and max (nearest rank) of a measure over runs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stats {
    /// Median.
    pub median: i64,
    /// 95th percentile.
    pub p95: i64,
    /// Largest.
    pub max: i64,
    /// Number of runs that had the measure.
    pub n: usize,
}

impl Stats {
    /// Stats of the values present in `v`; `None` when there are none.
    #[must_use]
    pub fn of(v: impl IntoIterator<Item = Option<i64>>) -> Option<Self> {
        let mut v: Vec<i64> = v.into_iter().flatten().collect();
        v.sort_unstable();
        Some(Self {
            median: rank(&v, 50)?,
            p95: rank(&v, 95)?,
            max: *v.last()?,
            n: v.len(),
        })
    }

    fn json(self) -> Value {
        json!({"median_ns": self.median, "p95_ns": self.p95, "max_ns": self.max, "n": self.n})
    }
}

/// How to read one measure from an outcome.
type Read = fn(&Outcome) -> Option<i64>;

/// The measures summarised, with how to read each from an outcome.
const MEASURES: [(&str, Read); 10] = [
    ("overhead", |o| o.overhead_ns),
    ("answer_window", |o| o.answer_window_ns),
    ("failover", |o| o.failover_ns),
    ("longest_gap", |o| Some(o.longest_gap_ns)),
    ("split_brain", |o| Some(o.split_brain_ns)),
    ("resign", |o| o.resign_ns),
    ("advert_after_bound", |o| o.advert_after_bound_ns),
    ("garp_after_bound", |o| o.garp_after_bound_ns),
    ("phase", |o| o.phase_ns),
    ("answer_latency", |o| o.answer_latency_ns),
];

fn measure(name: &str) -> Read {
    MEASURES
        .iter()
        .find(|(n, _)| *n == name)
        .map_or(|_| None, |(_, f)| *f)
}

/// The runs of one cell.
fn cell(
    all: &[Measured],
    scenario: Scenario,
    vrrp: Vrrp,
    imp: Implementation,
) -> impl Iterator<Item = &Measured> {
    all.iter()
        .filter(move |m| m.scenario == scenario && m.vrrp == vrrp && m.implementation == imp)
}

fn stats(all: &[Measured], s: Scenario, v: Vrrp, imp: Implementation, name: &str) -> Option<Stats> {
    let f = measure(name);
    Stats::of(cell(all, s, v, imp).map(|m| f(&m.outcome)))
}

fn fmt3(s: Option<Stats>) -> String {
    s.map_or_else(
        || "-".to_owned(),
        |s| format!("{:.2} / {:.2} / {:.2}", ms(s.median), ms(s.p95), ms(s.max)),
    )
}

fn fmt1(s: Option<Stats>) -> String {
    s.map_or_else(|| "-".to_owned(), |s| format!("{:.2}", ms(s.median)))
}

/// havip's median over keepalived's, when both are positive.
fn ratio(k: Option<Stats>, h: Option<Stats>) -> String {
    match (k, h) {
        (Some(k), Some(h)) if k.median > 0 && h.median >= 0 => {
            format!("{:.2}", ms(h.median) / ms(k.median))
        }
        _ => "-".to_owned(),
    }
}

/// The markdown report.
#[must_use]
pub fn markdown(plan: &Plan, all: &[Measured], took: std::time::Duration) -> String {
    let rows: Vec<(Scenario, Vrrp)> = plan
        .scenarios
        .iter()
        .flat_map(|&s| plan.intervals.iter().map(move |&v| (s, v)))
        .collect();
    let mut t = String::new();
    let _ = writeln!(
        t,
        "Failover, keepalived and havip alternating in one run: {} run(s) per cell, client probe every {:?} over the steady state and every {:?} from the fault on, {:.0} s in all. Times in ms, median / p95 / max.\n",
        plan.runs,
        plan.probe_every,
        plan.fast_probe_every,
        took.as_secs_f64()
    );
    overhead_table(&mut t, all, &rows);
    fault_table(&mut t, all, &rows);
    stage_table(&mut t, all, &rows);
    footprint_table(&mut t, plan, all);
    footer(&mut t, plan, all);
    t
}

/// The overhead over the protocol bound, with the ratio.
fn overhead_table(t: &mut String, all: &[Measured], rows: &[(Scenario, Vrrp)]) {
    let (k, h) = (Implementation::Keepalived, Implementation::Havip);
    let _ = writeln!(
        t,
        "**Overhead over the protocol bound** (first answer of the new master minus last advert + Master_Down_Interval; SIGTERM: priority-0 advert + Skew_Time; preempt: link restore + the returning node's Master_Down_Interval; window: median gap between the probe first answered and the probe before it, within which the new master became able to answer)\n"
    );
    let _ = writeln!(
        t,
        "| scenario | adverts | keepalived | havip | havip/keepalived | window k / h |"
    );
    let _ = writeln!(t, "|---|---|---|---|---|---|");
    for &(s, v) in rows {
        let (ks, hs) = (
            stats(all, s, v, k, "overhead"),
            stats(all, s, v, h, "overhead"),
        );
        let _ = writeln!(
            t,
            "| {} | {} | {} | {} | {} | {} / {} |",
            s.name(),
            label(v),
            fmt3(ks),
            fmt3(hs),
            ratio(ks, hs),
            fmt1(stats(all, s, v, k, "answer_window")),
            fmt1(stats(all, s, v, h, "answer_window")),
        );
    }
}

/// Times from the fault: failover, longest gap, split brain, the resigning advert.
fn fault_table(t: &mut String, all: &[Measured], rows: &[(Scenario, Vrrp)]) {
    let (k, h) = (Implementation::Keepalived, Implementation::Havip);
    let _ = writeln!(
        t,
        "\n**From the fault** (medians; split brain: max, `+` when it outlasted the observation)\n"
    );
    let _ = writeln!(
        t,
        "| scenario | adverts | failover k / h | longest gap k / h | split brain k / h | priority-0 advert after SIGTERM k / h |"
    );
    let _ = writeln!(t, "|---|---|---|---|---|---|");
    for &(s, v) in rows {
        let split = |imp| {
            let st = stats(all, s, v, imp, "split_brain");
            let ongoing = cell(all, s, v, imp).any(|m| m.outcome.split_ongoing);
            st.map_or_else(
                || "-".to_owned(),
                |x| format!("{:.2}{}", ms(x.max), if ongoing { "+" } else { "" }),
            )
        };
        let _ = writeln!(
            t,
            "| {} | {} | {} / {} | {} / {} | {} / {} | {} / {} |",
            s.name(),
            label(v),
            fmt1(stats(all, s, v, k, "failover")),
            fmt1(stats(all, s, v, h, "failover")),
            fmt1(stats(all, s, v, k, "longest_gap")),
            fmt1(stats(all, s, v, h, "longest_gap")),
            split(k),
            split(h),
            fmt1(stats(all, s, v, k, "resign")),
            fmt1(stats(all, s, v, h, "resign")),
        );
    }
}

/// The new master's first advert, GARP and answer after the bound.
fn stage_table(t: &mut String, all: &[Measured], rows: &[(Scenario, Vrrp)]) {
    let (k, h) = (Implementation::Keepalived, Implementation::Havip);
    let _ = writeln!(
        t,
        "\n**Stages seen on the wire, after the protocol bound** (medians: the new master's first advert, first gratuitous ARP, first answer to the client; latency: probe to answer of the old master before the fault, which every first answer carries too)\n"
    );
    let _ = writeln!(
        t,
        "| scenario | adverts | keepalived advert / GARP / answer | havip advert / GARP / answer | answer latency k / h |"
    );
    let _ = writeln!(t, "|---|---|---|---|---|");
    for &(s, v) in rows {
        let stages = |imp| {
            ["advert_after_bound", "garp_after_bound", "overhead"]
                .map(|m| fmt1(stats(all, s, v, imp, m)))
                .join(" / ")
        };
        let _ = writeln!(
            t,
            "| {} | {} | {} | {} | {} / {} |",
            s.name(),
            label(v),
            stages(k),
            stages(h),
            fmt1(stats(all, s, v, k, "answer_latency")),
            fmt1(stats(all, s, v, h, "answer_latency")),
        );
    }
}

/// CPU and peak RSS of the master's daemon per advert interval.
fn footprint_table(t: &mut String, plan: &Plan, all: &[Measured]) {
    let (k, h) = (Implementation::Keepalived, Implementation::Havip);
    let _ = writeln!(
        t,
        "\n**Master's daemon** (CPU over the steady state before each fault, median % of a core; peak RSS of all its processes, max MiB)\n"
    );
    let _ = writeln!(
        t,
        "| adverts | CPU keepalived | CPU havip | RSS keepalived | RSS havip |"
    );
    let _ = writeln!(t, "|---|---|---|---|---|");
    for &v in &plan.intervals {
        let cpu = |imp| {
            let mut c: Vec<f64> = all
                .iter()
                .filter(|m| m.vrrp == v && m.implementation == imp)
                .filter_map(|m| m.cpu_percent)
                .collect();
            c.sort_by(f64::total_cmp);
            c.get(c.len().saturating_sub(1) / 2)
                .map_or_else(|| "-".to_owned(), |x| format!("{x:.2}"))
        };
        let rss = |imp| {
            all.iter()
                .filter(|m| m.vrrp == v && m.implementation == imp)
                .filter_map(|m| m.peak_rss_kib)
                .max()
                .map_or_else(
                    || "-".to_owned(),
                    |x| {
                        format!(
                            "{:.1}",
                            f64::from(u32::try_from(x).unwrap_or(u32::MAX)) / 1024.0
                        )
                    },
                )
        };
        let _ = writeln!(
            t,
            "| {} | {} | {} | {} | {} |",
            label(v),
            cpu(k),
            cpu(h),
            rss(k),
            rss(h)
        );
    }
}

/// Probe jitter, capture losses, fault phases.
fn footer(t: &mut String, plan: &Plan, all: &[Measured]) {
    let p99 = all.iter().filter_map(|m| m.jitter.map(|j| j.1)).max();
    let worst = all.iter().filter_map(|m| m.jitter.map(|j| j.2)).max();
    let p50 = Stats::of(all.iter().map(|m| m.jitter.map(|j| j.0)));
    let drops: u64 = all.iter().map(|m| u64::from(m.capture_drops)).sum();
    let fast_p50 = Stats::of(all.iter().map(|m| m.fast_jitter.map(|j| j.0)));
    let fast_p99 = all.iter().filter_map(|m| m.fast_jitter.map(|j| j.1)).max();
    let fast_worst = all.iter().filter_map(|m| m.fast_jitter.map(|j| j.2)).max();
    let opt = |v: Option<i64>| v.map_or_else(|| "-".to_owned(), |v| format!("{:.3}", ms(v)));
    // Per interval: a phase is only meaningful against its own interval.
    let phases: Vec<String> = plan
        .intervals
        .iter()
        .map(|&v| {
            let st = Stats::of(
                all.iter()
                    .filter(|m| m.vrrp == v)
                    .map(|m| m.outcome.phase_ns),
            );
            format!("{} ms at {}", fmt1(st), label(v))
        })
        .collect();
    let _ = writeln!(
        t,
        "\nClient probe send jitter (deviation of the gap between probes from {:?}): median {} ms, worst p99 {} ms, max {} ms; from the fault on (from {:?}): median {} ms, worst p99 {} ms, max {} ms. Frames lost by the capture: {drops}. Fault phase after the master's last advert (median over runs): {}.",
        plan.probe_every,
        opt(p50.map(|s| s.median)),
        opt(p99),
        opt(worst),
        plan.fast_probe_every,
        opt(fast_p50.map(|s| s.median)),
        opt(fast_p99),
        opt(fast_worst),
        phases.join(", "),
    );
}

/// Everything as JSON: the plan, every run, and the summary cells.
#[must_use]
pub fn json(plan: &Plan, all: &[Measured]) -> Value {
    let runs: Vec<Value> = all
        .iter()
        .map(|m| {
            let mut o = serde_json::Map::new();
            o.insert("implementation".into(), m.implementation.name().into());
            o.insert("adverts".into(), label(m.vrrp).into());
            let version = match m.vrrp {
                Vrrp::V2 { .. } => 2,
                Vrrp::V3 { .. } => 3,
            };
            o.insert("vrrp_version".into(), version.into());
            o.insert("scenario".into(), m.scenario.name().into());
            o.insert("run".into(), m.run.into());
            for (name, f) in MEASURES {
                o.insert(format!("{name}_ns"), f(&m.outcome).into());
            }
            o.insert("split_ongoing".into(), m.outcome.split_ongoing.into());
            o.insert("cpu_percent".into(), m.cpu_percent.into());
            o.insert("peak_rss_kib".into(), m.peak_rss_kib.into());
            o.insert(
                "probe_jitter_ns".into(),
                m.jitter
                    .map(|(a, b, c)| json!({"median": a, "p99": b, "max": c}))
                    .into(),
            );
            o.insert(
                "fast_probe_jitter_ns".into(),
                m.fast_jitter
                    .map(|(a, b, c)| json!({"median": a, "p99": b, "max": c}))
                    .into(),
            );
            o.insert("capture_drops".into(), m.capture_drops.into());
            Value::Object(o)
        })
        .collect();
    let mut summary = Vec::new();
    for &s in &plan.scenarios {
        for &v in &plan.intervals {
            for &imp in &plan.implementations {
                let mut o = serde_json::Map::new();
                o.insert("scenario".into(), s.name().into());
                o.insert("adverts".into(), label(v).into());
                o.insert("implementation".into(), imp.name().into());
                for (name, _) in MEASURES {
                    o.insert(
                        name.into(),
                        stats(all, s, v, imp, name).map(Stats::json).into(),
                    );
                }
                summary.push(Value::Object(o));
            }
        }
    }
    json!({
        "plan": {
            "runs": plan.runs,
            "adverts": plan.intervals.iter().map(|&v| label(v)).collect::<Vec<_>>(),
            "scenarios": plan.scenarios.iter().map(|s| s.name()).collect::<Vec<_>>(),
            "probe_every_ns": u64::try_from(plan.probe_every.as_nanos()).unwrap_or(u64::MAX),
            "fast_probe_every_ns": u64::try_from(plan.fast_probe_every.as_nanos()).unwrap_or(u64::MAX),
            "stop_for_ns": u64::try_from(plan.stop_for.as_nanos()).unwrap_or(u64::MAX),
        },
        "runs": runs,
        "summary": summary,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_are_nearest_rank_over_present_values() {
        let s = Stats::of([Some(5), None, Some(1), Some(3), Some(2), Some(4)]).expect("stats");
        assert_eq!((s.median, s.p95, s.max, s.n), (3, 5, 5, 5));
        assert_eq!(Stats::of([None, None]), None);
    }

    #[test]
    fn ratio_is_havip_over_keepalived() {
        let st = |m| Stats::of([Some(m)]);
        assert_eq!(ratio(st(2_000_000), st(1_000_000)), "0.50");
        assert_eq!(ratio(st(0), st(1_000_000)), "-");
        assert_eq!(ratio(None, st(1)), "-");
    }
}
