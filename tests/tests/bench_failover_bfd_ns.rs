//! The BFD rows of the failover bench, smallest configuration: one run of each setup. Functional
//! assertions only (the bench reports the times): every setup's backup answered after the cut,
//! nobody answered twice, and the table renders every setup.

use havip_tests::{
    failover::bfd::{self, BfdPlan, Setup},
    require_root,
};

#[test]
fn bfd_failover_bench_measures_every_setup() {
    if !require_root("bfd_failover_bench_measures_every_setup") {
        return;
    }
    let plan = BfdPlan {
        runs: 1,
        setups: Setup::ALL.to_vec(),
        probe_every: std::time::Duration::from_millis(1),
    };
    let mut lines = Vec::new();
    let results = plan.run(|l| lines.push(l.to_owned()));
    assert_eq!(results.len(), 3, "{lines:#?}");
    for m in &results {
        let f = m
            .outcome
            .failover_ns
            .unwrap_or_else(|| panic!("{}: b never answered: {lines:#?}", m.setup.name()));
        // Generous: VRRP's own 3.6 s plus slack bounds every setup.
        assert!(f > 0 && f < 6_000_000_000, "{}: {f} ns", m.setup.name());
        assert_eq!(
            m.outcome.split_brain_ns,
            0,
            "{}: a cut link cannot answer",
            m.setup.name()
        );
    }
    let md = bfd::markdown(&results);
    for s in Setup::ALL {
        assert!(md.contains(s.name()), "{md}");
    }
    eprintln!("{md}");
}
