//! Planned restarts through `havip-agent stop --keep-ownership` (issue #14), 10 in a row, at
//! 1 s, 100 ms and 10 ms adverts, of the master and of the backup, between two havip agents in
//! network namespaces: node a (192.0.2.11, priority 150) and node b (192.0.2.12, priority 100),
//! unicast, VIP 192.0.2.200; a client (192.0.2.1) probes the VIP with ARP throughout.
//!
//! What must hold (functional bounds, the machine may be loaded): no transition on either node,
//! no probe answered by another MAC (or by two), and no run of unanswered probes longer than 3
//! probe windows. What a restart took (the old agent's hand-over to the new one's first advert,
//! from their logs) is printed, not asserted: timing belongs to `cargo xtask bench failover`.
//!
//! Also: `stop` without an agent exits with status 3, and plain `stop` resigns cleanly.

use std::{process::Command, time::Duration};

use havip_tests::{
    agent_bin,
    agents::{
        Vrrp, control_socket, line_with, log_elapsed, log_time, spawn_havip, spawn_havip_args,
        transitions, wait_havip_state,
    },
    pair::{NODE_A, NODE_B, PairLab},
    prober::Sample,
    proc::Proc,
    require_root,
    restart::{SETTLE, a_master_b_backup, longest_gap, probing, spec, stop_cmd},
};

/// Restarts per run.
const RESTARTS: usize = 10;
/// What the agent logs when it resumed an instance instead of starting it.
const RESUMED: &str = "resumed where the previous agent left it";

/// From the old agent's hand-over to the new agent's resume, as their logs time them.
fn restart_time(old: &str, new: &str) -> Option<Duration> {
    let from = line_with(old, "stopped for a restart").and_then(log_time)?;
    let to = line_with(new, RESUMED).and_then(log_time)?;
    Some(log_elapsed(from, to))
}

/// How a restart is done.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum How {
    /// `stop --keep-ownership`, then a new `run` (what `systemctl restart` does).
    StopStart,
    /// A new `run --takeover` that stops the running agent once it is ready.
    Takeover,
}

/// Restarts the agent of `node` `RESTARTS` times (`how`); returns every agent's log, first to
/// last, and the last agent.
fn restarts(
    lab: &PairLab,
    node: usize,
    first: Proc,
    (vrrp, priority): (Vrrp, u8),
    how: How,
) -> (Vec<String>, Proc) {
    let name = if node == NODE_A { "a" } else { "b" };
    let mut logs = Vec::new();
    let mut cur = first;
    for i in 1..=RESTARTS {
        let old = format!("{name}{}", i - 1);
        let old_socket = control_socket(&lab.dir, &old);
        let mut args: Vec<&str> = Vec::new();
        if how == How::StopStart {
            let out = stop_cmd(lab, &old, true);
            assert!(
                out.status.success(),
                "stop --keep-ownership of {old} failed ({:?}): {}\n{}",
                out.status.code(),
                String::from_utf8_lossy(&out.stderr),
                cur.log_text()
            );
        } else {
            args.extend(["--takeover", "--takeover-socket"]);
            args.push(old_socket.to_str().expect("UTF-8 path"));
        }
        let next = spawn_havip_args(
            &lab.lan.nodes[node],
            &lab.dir,
            &format!("{name}{i}"),
            &spec(node, vrrp, priority),
            &args,
        )
        .expect("restart");
        assert!(
            cur.wait(Duration::from_secs(5)).is_some(),
            "{old} still runs after the restart:\n{}",
            cur.log_text()
        );
        logs.push(cur.log_text());
        cur = next;
        // Several advert intervals between restarts, and at least a few probes.
        std::thread::sleep((vrrp.interval() * 5).max(Duration::from_millis(300)));
    }
    logs.push(cur.log_text());
    (logs, cur)
}

/// Checks one run: the restarted node resumed every time without a transition, the other node
/// did not move, the client saw only a's MAC and no gap over 3 probe windows.
fn check(
    what: &str,
    logs: &[String],
    other_log: &str,
    other_transitions: usize,
    samples: &[Sample],
    a_mac: [u8; 6],
) {
    let mut times = Vec::new();
    for (i, log) in logs.iter().enumerate() {
        if i > 0 {
            assert!(
                log.contains(RESUMED),
                "{what}: restart {i} did not resume:\n{log}"
            );
            assert!(
                transitions(log).is_empty(),
                "{what}: restart {i} made a transition:\n{log}"
            );
            if let Some(t) = restart_time(&logs[i - 1], log) {
                times.push(t);
            }
            // The new agent's own account: config + adoption, then its first advert.
            if i == 1
                && let Some(line) = line_with(log, "resumed before the rest")
            {
                eprintln!("{what}: {line}");
            }
        }
        if i + 1 < logs.len() {
            assert!(
                log.contains("stopped for a restart"),
                "{what}: agent {i} did not stop for a restart:\n{log}"
            );
        }
    }
    assert_eq!(
        transitions(other_log).len(),
        other_transitions,
        "{what}: the other node moved:\n{other_log}"
    );
    let foreign = samples
        .iter()
        .filter(|s| s.macs != [a_mac] && !s.macs.is_empty())
        .count();
    assert_eq!(
        foreign, 0,
        "{what}: probes answered by another MAC or by two"
    );
    let answered = samples.iter().filter(|s| s.macs == [a_mac]).count();
    assert!(answered > 20, "{what}: too few answered probes: {answered}");
    let gap = longest_gap(samples);
    times.sort();
    eprintln!(
        "{what}: {answered} probes answered by a, longest gap {gap} probes; hand-over to resume: {times:?}"
    );
    assert!(gap <= 3, "{what}: {gap} probes in a row unanswered");
}

fn master_restarts(centis: u16, how: How) {
    let lab = PairLab::new("a", "b").expect("lab");
    let vrrp = Vrrp::V3 { centis };
    let (a0, b) = a_master_b_backup(&lab, vrrp);
    let a_mac = lab.mac(NODE_A);
    let (samples, (logs, _a)) = probing(&lab, || restarts(&lab, NODE_A, a0, (vrrp, 150), how));
    // b's only transition is its start to BACKUP.
    check(
        &format!("master restarts ({how:?}) at {centis} cs"),
        &logs,
        &b.log_text(),
        1,
        &samples,
        a_mac,
    );
}

fn backup_restarts(centis: u16, how: How) {
    let lab = PairLab::new("a", "b").expect("lab");
    let vrrp = Vrrp::V3 { centis };
    let (a, b0) = a_master_b_backup(&lab, vrrp);
    let a_mac = lab.mac(NODE_A);
    let (samples, (logs, _b)) = probing(&lab, || restarts(&lab, NODE_B, b0, (vrrp, 100), how));
    // a's transitions: its start (INIT -> BACKUP -> MASTER).
    check(
        &format!("backup restarts ({how:?}) at {centis} cs"),
        &logs,
        &a.log_text(),
        2,
        &samples,
        a_mac,
    );
}

#[test]
fn planned_restarts_of_the_master_at_1s() {
    if require_root("planned_restarts_of_the_master_at_1s") {
        master_restarts(100, How::StopStart);
    }
}

#[test]
fn planned_restarts_of_the_master_at_100ms() {
    if require_root("planned_restarts_of_the_master_at_100ms") {
        master_restarts(10, How::StopStart);
    }
}

#[test]
fn prepared_restarts_of_the_master_at_10ms() {
    if require_root("prepared_restarts_of_the_master_at_10ms") {
        master_restarts(1, How::Takeover);
    }
}

#[test]
fn planned_restarts_of_the_backup_at_1s() {
    if require_root("planned_restarts_of_the_backup_at_1s") {
        backup_restarts(100, How::StopStart);
    }
}

#[test]
fn planned_restarts_of_the_backup_at_100ms() {
    if require_root("planned_restarts_of_the_backup_at_100ms") {
        backup_restarts(10, How::StopStart);
    }
}

#[test]
fn prepared_restarts_of_the_backup_at_10ms() {
    if require_root("prepared_restarts_of_the_backup_at_10ms") {
        backup_restarts(1, How::Takeover);
    }
}

/// `stop --keep-ownership` and a new start at 10 ms adverts: the restart usually takes longer
/// than the 30 ms lease (process start, configuration, adoption), so b may take over; whatever
/// happens, never two answers at once, and one owner at the end.
#[test]
fn a_slow_planned_restart_at_10ms_is_never_two_owners() {
    if !require_root("a_slow_planned_restart_at_10ms_is_never_two_owners") {
        return;
    }
    let lab = PairLab::new("a", "b").expect("lab");
    let vrrp = Vrrp::V3 { centis: 1 };
    let (mut a0, b) = a_master_b_backup(&lab, vrrp);
    let (samples, a1) = probing(&lab, || {
        let out = stop_cmd(&lab, "a0", true);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(a0.wait(Duration::from_secs(5)).is_some(), "a0 still runs");
        let a1 = spawn_havip(
            &lab.lan.nodes[NODE_A],
            &lab.dir,
            "a1",
            &spec(NODE_A, vrrp, 150),
        )
        .expect("restart a");
        std::thread::sleep(Duration::from_secs(1));
        a1
    });
    let dual = samples.iter().filter(|s| s.macs.len() > 1).count();
    assert_eq!(dual, 0, "probes answered by a and b at once");
    let tail = &samples[samples.len().saturating_sub(10)..];
    assert!(
        tail.iter().all(|s| s.macs == [lab.mac(NODE_A)]),
        "a (150, preempting) does not answer alone at the end:\na:\n{}\nb:\n{}",
        a1.log_text(),
        b.log_text()
    );
    eprintln!(
        "stop+start at 10 ms: b made {} transitions; {} probes unanswered",
        transitions(&b.log_text()).len(),
        samples.iter().filter(|s| s.macs.is_empty()).count()
    );
}

/// Plain `stop` resigns: b takes over, a's log shows the clean shutdown, the CLI exits 0 once
/// a is gone; a second `stop` finds no agent and exits 3.
#[test]
fn plain_stop_resigns_and_a_second_stop_finds_no_agent() {
    if !require_root("plain_stop_resigns_and_a_second_stop_finds_no_agent") {
        return;
    }
    let lab = PairLab::new("a", "b").expect("lab");
    let vrrp = Vrrp::V3 { centis: 10 };
    let (mut a, b) = a_master_b_backup(&lab, vrrp);
    let out = stop_cmd(&lab, "a0", false);
    assert!(
        out.status.success(),
        "stop failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!a.alive(), "stop returned before the agent exited");
    let log = a.log_text();
    assert!(log.contains("shutting down"), "no clean shutdown:\n{log}");
    assert!(!log.contains("stopped for a restart"), "{log}");
    assert!(
        wait_havip_state(&b, "MASTER", 0, SETTLE).is_some(),
        "b did not take over:\n{}",
        b.log_text()
    );
    let again = stop_cmd(&lab, "a0", false);
    assert_eq!(
        again.status.code(),
        Some(3),
        "a second stop must find no agent"
    );
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("no agent is running"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
}

/// No root needed: with nothing listening on the socket, `stop` says so and exits 3.
#[test]
fn stop_without_an_agent_exits_3() {
    let dir = std::env::temp_dir().join(format!("havip-stop-none-{}", std::process::id()));
    let out = Command::new(agent_bin().expect("agent binary"))
        .args(["stop", "--keep-ownership", "--control-socket"])
        .arg(dir.join("missing.sock"))
        .output()
        .expect("run havip-agent stop");
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("error: no agent is running"), "{err}");
}
