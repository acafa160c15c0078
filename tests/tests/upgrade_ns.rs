//! Upgrades (issue #14) between two havip agents in network namespaces (see
//! `havip_tests::restart`): node a (150) is master, b (100) backup, 100 ms adverts, a client
//! probes the VIP throughout.
//!
//! - a new binary whose XDP program differs (built with the test-only `upgrade-test` feature as
//!   `target/debug/havip-agent-upgrade-test` by `cargo xtask test`) takes over from a with
//!   `run --takeover`: it loads its program onto the running maps and swaps it in; the kernel
//!   reports another program (id and tag) on a's interface, a stays master without a
//!   transition, b never moves, only a's MAC answers; and back to the normal binary;
//! - a running program whose maps carry another ABI version: the new agent does not take it
//!   over, says why, replaces it with a fresh program and hands over with a priority-0 advert;
//!   b takes over, then a (preempting) takes the VIP back; never two answers at once.

use std::{path::PathBuf, time::Duration};

use aya::maps::{HashMap, Map, MapData, MapInfo};
use havip_common::{ABI_VERSION, AGENT_HEADER_KEY, AgentRecord, VridKey};
use havip_tests::{
    agent_bin,
    agents::{Vrrp, control_socket, spawn_havip, spawn_havip_bin, transitions, wait_havip_state},
    pair::{NODE_A, NODE_B, PairLab},
    require_root,
    restart::{SETTLE, a_master_b_backup, attached_program, longest_gap, probing, spec, stop_cmd},
};

const RESUMED: &str = "resumed where the previous agent left it";
const UPGRADED: &str = "replaced the XDP program with this binary's";

/// The upgrade tests' new binary, beside the normal one.
fn upgrade_bin() -> PathBuf {
    let bin = agent_bin()
        .expect("agent binary")
        .with_file_name("havip-agent-upgrade-test");
    assert!(
        bin.is_file(),
        "{} is missing: `cargo xtask test` builds it (cargo build -p havip-agent --features \
         upgrade-test, copied under that name)",
        bin.display()
    );
    bin
}

#[test]
fn an_upgrade_with_a_changed_program_keeps_ownership() {
    if !require_root("an_upgrade_with_a_changed_program_keeps_ownership") {
        return;
    }
    let new_bin = upgrade_bin();
    let lab = PairLab::new("a", "b").expect("lab");
    let vrrp = Vrrp::V3 { centis: 10 };
    let (a0, b) = a_master_b_backup(&lab, vrrp);
    let a_ns = &lab.lan.nodes[NODE_A].ns;
    let before = attached_program(a_ns, "eth0").expect("a program on a's eth0");
    let a_mac = lab.mac(NODE_A);
    let takeover = |from: &str| {
        let socket = control_socket(&lab.dir, from);
        vec![
            "--takeover".to_owned(),
            "--takeover-socket".to_owned(),
            socket.to_string_lossy().into_owned(),
        ]
    };
    let (samples, (a1_log, a2_log, during)) = probing(&lab, || {
        let args = takeover("a0");
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut a0 = a0;
        let a1 = spawn_havip_bin(
            &new_bin,
            &lab.lan.nodes[NODE_A],
            &lab.dir,
            "a1",
            &spec(NODE_A, vrrp, 150),
            &args,
        )
        .expect("start the new binary");
        assert!(a0.wait(Duration::from_secs(5)).is_some(), "a0 still runs");
        std::thread::sleep(Duration::from_millis(500));
        let during = attached_program(a_ns, "eth0");
        // And back to the normal binary, which differs from the running program too.
        let args = takeover("a1");
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut a1 = a1;
        let a2 = havip_tests::agents::spawn_havip_args(
            &lab.lan.nodes[NODE_A],
            &lab.dir,
            "a2",
            &spec(NODE_A, vrrp, 150),
            &args,
        )
        .expect("start the normal binary again");
        assert!(a1.wait(Duration::from_secs(5)).is_some(), "a1 still runs");
        std::thread::sleep(Duration::from_millis(500));
        (a1.log_text(), a2.log_text(), during)
    });
    let during = during.expect("a program on a's eth0 after the upgrade");
    let after = attached_program(a_ns, "eth0").expect("a program on a's eth0 at the end");
    assert_ne!(
        before.0, during.0,
        "the upgrade did not replace the program"
    );
    assert_ne!(
        before.1, during.1,
        "the new binary's program has the old tag: it does not differ"
    );
    assert_eq!(after.1, before.1, "the normal program is not back");
    for (name, log) in [("upgrade", &a1_log), ("downgrade", &a2_log)] {
        assert!(
            log.contains(UPGRADED),
            "{name}: program not replaced:\n{log}"
        );
        assert!(log.contains(RESUMED), "{name}: not resumed:\n{log}");
        assert!(transitions(log).is_empty(), "{name}: a moved:\n{log}");
    }
    let b_log = b.log_text();
    assert_eq!(transitions(&b_log).len(), 1, "b moved:\n{b_log}");
    let foreign = samples
        .iter()
        .filter(|s| !s.macs.is_empty() && s.macs != [a_mac])
        .count();
    assert_eq!(foreign, 0, "probes answered by another MAC or by two");
    let gap = longest_gap(&samples);
    assert!(gap <= 3, "{gap} probes in a row unanswered");
}

/// Writes another ABI version into the header of the agent records of the program running on
/// `ns`'s `eth0`, as an agent of another ABI would have.
fn mark_other_abi(ns: &havip_tests::netns::NetNs) {
    let (prog_id, _) = attached_program(ns, "eth0").expect("a program on eth0");
    let info = aya::programs::loaded_programs()
        .filter_map(Result::ok)
        .find(|p| p.id() == prog_id)
        .expect("the attached program is loaded");
    let map_ids = info.map_ids().expect("map ids").expect("map ids reported");
    let id = map_ids
        .into_iter()
        .find(|id| {
            MapInfo::from_id(*id)
                .ok()
                .and_then(|m| m.name_as_str().map(|n| n == "HAVIP_AGENT"))
                .unwrap_or(false)
        })
        .expect("the program has the agent map");
    let map = Map::from_map_data(MapData::from_id(id).expect("open the agent map")).expect("a map");
    let mut agent: HashMap<MapData, VridKey, AgentRecord> =
        HashMap::try_from(map).expect("a hash map");
    let mut header = agent.get(&AGENT_HEADER_KEY, 0).expect("a header");
    header.abi_version = ABI_VERSION + 1000;
    agent
        .insert(&AGENT_HEADER_KEY, &header, 0)
        .expect("write the header");
}

#[test]
fn an_incompatible_program_is_handed_over_cleanly() {
    if !require_root("an_incompatible_program_is_handed_over_cleanly") {
        return;
    }
    let lab = PairLab::new("a", "b").expect("lab");
    let vrrp = Vrrp::V3 { centis: 10 };
    let (mut a0, b) = a_master_b_backup(&lab, vrrp);
    let (a_mac, b_mac) = (lab.mac(NODE_A), lab.mac(NODE_B));
    mark_other_abi(&lab.lan.nodes[NODE_A].ns);
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
        assert!(
            wait_havip_state(&b, "MASTER", 0, SETTLE).is_some(),
            "b did not take over:\n{}\na:\n{}",
            b.log_text(),
            a1.log_text()
        );
        assert!(
            wait_havip_state(&a1, "MASTER", 0, SETTLE).is_some(),
            "a did not take the VIP back:\n{}",
            a1.log_text()
        );
        std::thread::sleep(Duration::from_millis(500));
        a1
    });
    let log = a1.log_text();
    assert!(
        log.contains("cannot be taken over") && log.contains("speaks ABI"),
        "no log line saying why:\n{log}"
    );
    assert!(
        log.contains("sent a priority-0 advert"),
        "no priority-0 handover:\n{log}"
    );
    assert!(!log.contains(RESUMED), "a resumed a foreign state:\n{log}");
    let dual = samples.iter().filter(|s| s.macs.len() > 1).count();
    assert_eq!(dual, 0, "probes answered by a and b at once");
    assert!(
        samples.iter().any(|s| s.macs == [b_mac]),
        "b never answered"
    );
    let tail = &samples[samples.len().saturating_sub(10)..];
    assert!(
        tail.iter().all(|s| s.macs == [a_mac]),
        "a does not answer alone at the end"
    );
}
