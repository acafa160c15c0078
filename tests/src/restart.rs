//! What the restart and upgrade tests share (issue #14): node a (192.0.2.11, priority 150) and
//! node b (192.0.2.12, priority 100) of a [`PairLab`], unicast, VIP 192.0.2.200, and a client
//! that probes the VIP with ARP while a restart runs.

use std::{
    net::Ipv4Addr,
    process::Command,
    time::{Duration, Instant},
};

use crate::{
    agent_bin,
    agents::{InstanceSpec, Vrrp, control_socket, spawn_havip, wait_havip_state},
    pair::{NODE_A, NODE_B, PairLab},
    prober::Sample,
    proc::Proc,
};

/// The VIP.
pub const VIP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 200);
/// Node a's address.
pub const A: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 11);
/// Node b's address.
pub const B: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 12);
/// How long a started agent may take to settle, beyond the protocol's own times.
pub const SETTLE: Duration = Duration::from_secs(3);
/// Probe window: one probe interval.
pub const WINDOW: Duration = Duration::from_millis(20);

/// The instance of `node` (a or b) at `priority`, unicast to the other node.
#[must_use]
pub fn spec(node: usize, vrrp: Vrrp, priority: u8) -> InstanceSpec {
    if node == NODE_A {
        InstanceSpec::new(vrrp, priority, A, &[B])
    } else {
        InstanceSpec::new(vrrp, priority, B, &[A])
    }
}

/// `havip-agent stop [--keep-ownership]` against the agent started as `label`.
///
/// # Panics
/// If the command cannot run.
#[must_use]
pub fn stop_cmd(lab: &PairLab, label: &str, keep: bool) -> std::process::Output {
    let mut cmd = Command::new("timeout");
    cmd.arg("30")
        .arg(agent_bin().expect("agent binary"))
        .arg("stop")
        .arg("--control-socket")
        .arg(control_socket(&lab.dir, label));
    if keep {
        cmd.arg("--keep-ownership");
    }
    cmd.output().expect("run havip-agent stop")
}

/// Starts a (150, label `a0`) and waits for MASTER, then b (100, `b0`) and waits for BACKUP
/// and for a to answer the VIP alone.
///
/// # Panics
/// If that does not happen.
#[must_use]
pub fn a_master_b_backup(lab: &PairLab, vrrp: Vrrp) -> (Proc, Proc) {
    let a = spawn_havip(
        &lab.lan.nodes[NODE_A],
        &lab.dir,
        "a0",
        &spec(NODE_A, vrrp, 150),
    )
    .expect("start a");
    let settle = vrrp.master_down(150) + SETTLE;
    assert!(
        wait_havip_state(&a, "MASTER", 0, settle).is_some(),
        "a never became MASTER:\n{}",
        a.log_text()
    );
    let b = spawn_havip(
        &lab.lan.nodes[NODE_B],
        &lab.dir,
        "b0",
        &spec(NODE_B, vrrp, 100),
    )
    .expect("start b");
    assert!(
        wait_havip_state(&b, "BACKUP", 0, SETTLE).is_some(),
        "b never became BACKUP:\n{}",
        b.log_text()
    );
    assert!(
        lab.settles_on(VIP, lab.mac(NODE_A), settle),
        "a does not answer for the VIP alone"
    );
    (a, b)
}

/// Probes the VIP on its own thread while `work` runs (at most 180 s).
///
/// # Panics
/// If a probe fails to send.
pub fn probing<T>(lab: &PairLab, work: impl FnOnce() -> T) -> (Vec<Sample>, T) {
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        let prober = s.spawn(|| {
            let mut out = Vec::new();
            let end = Instant::now() + Duration::from_secs(180);
            while !stop.load(std::sync::atomic::Ordering::Relaxed) && Instant::now() < end {
                out.push(lab.prober.probe(VIP, WINDOW).expect("probe"));
            }
            out
        });
        let r = work();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        (prober.join().expect("prober thread"), r)
    })
}

/// The longest run of unanswered probes.
#[must_use]
pub fn longest_gap(samples: &[Sample]) -> usize {
    let mut longest = 0;
    let mut run = 0;
    for s in samples {
        if s.macs.is_empty() {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    longest
}

/// The kernel's account of the XDP program on `ifname` in `ns`: `(id, tag)` from `ip -d link`.
#[must_use]
pub fn attached_program(ns: &crate::netns::NetNs, ifname: &str) -> Option<(u32, String)> {
    let out = ns.ip(&["-d", "link", "show", ifname]).ok()?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut words = text.split_whitespace();
    let mut id = None;
    let mut tag = None;
    while let Some(w) = words.next() {
        match w {
            "id" if id.is_none() => id = words.next().and_then(|v| v.parse().ok()),
            "tag" if tag.is_none() => tag = words.next().map(str::to_owned),
            _ => {}
        }
    }
    Some((id?, tag?))
}
