//! The failover benchmark's smallest configuration end to end: one run of keepalived and one of
//! havip at 100 ms adverts (VRRP v3), link cut, measured on the wire. Functional assertions only
//! (the bench reports the times; a test on a shared machine must not judge them): each
//! implementation's backup took over and answered the client, within generous bounds of the
//! protocol's, the adverts that anchor the bound were seen, and the report renders both.

use std::time::Duration;

use havip_tests::{
    agents::Vrrp,
    failover::{
        report,
        run::{Implementation, Plan, Scenario},
    },
    require_root,
};

#[test]
fn smallest_failover_bench_measures_both_implementations() {
    if !require_root("smallest_failover_bench_measures_both_implementations") {
        return;
    }
    let plan = Plan {
        runs: 1,
        intervals: vec![Vrrp::V3 { centis: 10 }],
        scenarios: vec![Scenario::Cut],
        ..Plan::full()
    };
    let mut lines = Vec::new();
    let results = plan.run(|l| lines.push(l.to_owned()));
    assert_eq!(
        results.len(),
        2,
        "one result per implementation: {lines:#?}"
    );
    for imp in Implementation::ALL {
        let m = results
            .iter()
            .find(|m| m.implementation == imp)
            .unwrap_or_else(|| panic!("no result for {}: {lines:#?}", imp.name()));
        let o = &m.outcome;
        assert_eq!(m.scenario, Scenario::Cut);
        // Master_Down_Interval is 361 ms: the backup answered after the fault, within seconds.
        let failover = o
            .failover_ns
            .unwrap_or_else(|| panic!("{}: b never answered: {lines:#?}", imp.name()));
        assert!(
            failover > 0 && failover < 5_000_000_000,
            "{}: failover {failover} ns",
            imp.name()
        );
        assert!(
            o.bound_at.is_some(),
            "{}: no advert of a before the cut",
            imp.name()
        );
        let phase = o.phase_ns.unwrap_or_default();
        assert!(
            (0..=200_000_000).contains(&phase),
            "{}: the cut fell {phase} ns after a's last advert (interval 100 ms)",
            imp.name()
        );
        let overhead = o.overhead_ns.unwrap_or(i64::MAX);
        assert!(
            overhead.abs() < 2_000_000_000,
            "{}: overhead {overhead} ns",
            imp.name()
        );
        // The client saw an outage (a's link is down) that ended.
        assert!(o.longest_gap_ns > 0 && o.longest_gap_ns < 5_000_000_000);
        assert_eq!(
            o.split_brain_ns,
            0,
            "{}: a cut link cannot answer",
            imp.name()
        );
        assert!(
            m.peak_rss_kib.is_some_and(|k| k > 0),
            "{}: no RSS",
            imp.name()
        );
        assert!(m.jitter.is_some(), "{}: no probes captured", imp.name());
        // From the fault on the client probes every 0.1 ms: the first answer is placed
        // within a window of that order (generous: the machine may be busy).
        assert!(
            m.fast_jitter.is_some(),
            "{}: no fast probes captured",
            imp.name()
        );
        let window = o.answer_window_ns.unwrap_or(i64::MAX);
        assert!(
            (0..50_000_000).contains(&window),
            "{}: first answer window {window} ns",
            imp.name()
        );
    }
    let md = report::markdown(&plan, &results, Duration::from_secs(1));
    assert!(md.contains("| cut | 100ms |"), "{md}");
    let js = report::json(&plan, &results);
    assert_eq!(js["runs"].as_array().map(Vec::len), Some(2), "{js}");
}
