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

#[test]
fn bfd_stress_row_counts_downs_and_transitions() {
    if !require_root("bfd_stress_row_counts_downs_and_transitions") {
        return;
    }
    let havip = bfd::StressSubject::Havip { kernel_rx: true };
    let r = bfd::stress(havip, std::time::Duration::from_secs(3), 4, false).expect("stress run");
    assert!(r.load_secs >= 2.5, "{r:?}");
    // Not a timing target (the machine is shared): the row renders what was counted.
    let md = bfd::stress_markdown(std::slice::from_ref(&r));
    assert!(
        md.contains("| havip bfd 10ms x3, kernel timestamps | normal | 3 | 4 |"),
        "{md}"
    );
    eprintln!("{md}{:#?}", r.which);
    assert_eq!(r.which.len(), r.transitions.0 + r.transitions.1);
    // The same with SCHED_FIFO (`vrrp_rt_priority`), which havip gives its BFD thread too.
    let rt = bfd::stress(havip, std::time::Duration::from_secs(3), 4, true).expect("stress run");
    let md = bfd::stress_markdown(std::slice::from_ref(&rt));
    assert!(md.contains("| SCHED_FIFO |"), "{md}");
    eprintln!("{md}{:#?}", rt.which);
    // Socket only, and keepalived: the rows the bench sets beside it.
    for subject in [
        bfd::StressSubject::Havip { kernel_rx: false },
        bfd::StressSubject::Keepalived,
    ] {
        let r =
            bfd::stress(subject, std::time::Duration::from_secs(3), 4, false).expect("stress run");
        let md = bfd::stress_markdown(std::slice::from_ref(&r));
        assert!(md.contains(subject.name()), "{md}");
        eprintln!("{md}");
    }
}
