//! The havip lab (run by `cargo xtask lab`): a bridge, two havip nodes and a client in network
//! namespaces. It shows the election and which MAC answers for the VIP, cuts the master's link
//! and measures the failover as the client sees it, restores the link (preemption back), shows
//! what each node's metrics endpoint says, prints each node's kernel counters, and removes
//! everything it made.

use std::{
    fmt::Write as _,
    net::Ipv4Addr,
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use anyhow::{Context as _, bail};
use havip_agent::net::iface::format_mac;
use havip_tests::{
    agent_bin,
    netns::{Lan, unique_tag, wait_for},
    prober::{ArpProber, Sample},
    proc::Proc,
    scrape::{Scrape, http_get},
};

const VIP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 200);
const PROBE_WINDOW: Duration = Duration::from_millis(10);

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[expect(
    clippy::too_many_lines,
    reason = "the lab script reads top to bottom, one step after another"
)]
fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let interval = args
        .iter()
        .position(|a| a == "--advert-interval")
        .and_then(|i| args.get(i + 1))
        .map_or("100ms", String::as_str);
    havip_agent::cli::parse_duration(interval)
        .map_err(|e| anyhow::anyhow!("--advert-interval: {e}"))?;
    let dir = TempDir(std::env::temp_dir().join(format!("havip-lab-{}", unique_tag())));
    std::fs::create_dir_all(&dir.0)?;

    println!("== havip lab: VRRPv3, advert interval {interval}, unicast peers ==");
    let mut lan = Lan::new()?;
    lan.add_node("c", 1)?;
    lan.add_node("a", 11)?;
    lan.add_node("b", 12)?;
    let (a_mac, b_mac) = (lan.nodes[1].mac, lan.nodes[2].mac);
    println!(
        "bridge {} | client 192.0.2.1 | node a 192.0.2.11 {} prio 150 | node b 192.0.2.12 {} prio 100 | VIP {VIP}",
        lan.bridge.name(),
        format_mac(a_mac),
        format_mac(b_mac)
    );
    let conf_a = write_conf(&dir.0, "a", 11, 12, 150, interval)?;
    let conf_b = write_conf(&dir.0, "b", 12, 11, 100, interval)?;
    let mut a = start(&lan, 1, &conf_a)?;
    let mut b = start(&lan, 2, &conf_b)?;
    let prober = ArpProber::open(&lan.nodes[0].ns, "eth0", lan.nodes[0].addr)?;
    let name = |m: &[u8; 6]| {
        if *m == a_mac {
            "a"
        } else if *m == b_mac {
            "b"
        } else {
            "?"
        }
    };

    // 1. Election.
    let elected = wait_for(Duration::from_secs(10), Duration::from_millis(20), || {
        let s = prober.probe(VIP, Duration::from_millis(50)).ok()?;
        (s.macs == vec![a_mac]).then_some(())
    });
    if elected.is_none() {
        bail!(
            "no election within 10 s\n--- a ---\n{}\n--- b ---\n{}",
            a.log_text(),
            b.log_text()
        );
    }
    println!("\n[1] election: node a is MASTER; the client's ARP for {VIP} is answered by:");
    for s in prober.watch(VIP, Duration::from_millis(100), Duration::from_millis(500))? {
        let who: Vec<String> = s
            .macs
            .iter()
            .map(|m| format!("{} ({})", format_mac(*m), name(m)))
            .collect();
        println!("    t={:>6.3}s  {}", s.at.as_secs_f64(), who.join(", "));
    }

    // 2. Failover: cut a's link.
    println!("\n[2] cutting node a's link ...");
    let cut_at = Instant::now();
    lan.cut(1)?;
    let (samples, first_b) = watch_until(&prober, b_mac, Duration::from_secs(10))?;
    let first_b = first_b.context("node b never answered after the cut")?;
    let failover = first_b.duration_since(cut_at);
    let gap = longest_gap(&samples);
    let double = samples.iter().filter(|s| s.macs.len() > 1).count();
    println!(
        "    failover (link cut -> first ARP answer from b): {:.0} ms",
        failover.as_secs_f64() * 1e3
    );
    println!(
        "    longest gap seen by the client: {:.0} ms; samples with two owners: {double}",
        gap.as_secs_f64() * 1e3
    );

    // 3. Restore: a preempts back.
    println!("\n[3] restoring node a's link (a has the higher priority and preempts) ...");
    let restore_at = Instant::now();
    lan.restore(1)?;
    let (samples, first_a) = watch_until(&prober, a_mac, Duration::from_secs(10))?;
    let first_a = first_a.context("node a never took the VIP back")?;
    let double = samples.iter().filter(|s| s.macs.len() > 1).count();
    println!(
        "    preemption back to a: {:.0} ms after the restore; longest gap {:.0} ms; samples with two owners: {double}",
        first_a.duration_since(restore_at).as_secs_f64() * 1e3,
        longest_gap(&samples).as_secs_f64() * 1e3
    );

    // 4. What an SRE sees: each node's metrics endpoint (127.0.0.1:9828 in its namespace).
    println!("\n[4] scraping each node's /metrics:");
    for (n, node) in [("a", 1), ("b", 2)] {
        print_metrics(&lan, n, node);
    }

    // 5. Stop, and show the counters each agent reports on exit.
    println!("\n[5] stopping the agents; kernel counters per node:");
    for (n, p) in [("a", &mut a), ("b", &mut b)] {
        p.stop(Duration::from_secs(5));
        let log = p.log_text();
        let counters = log
            .lines()
            .find(|l| l.contains("kernel counters"))
            .and_then(|l| l.split("counters=").nth(1))
            .unwrap_or("(not reported)");
        println!("    node {n}: {}", counters.trim_matches('"'));
        let transitions: Vec<String> = log
            .lines()
            .filter(|l| l.contains("state transition"))
            .map(summarize_transition)
            .collect();
        println!("      transitions: {}", transitions.join(" | "));
    }
    drop(lan);
    println!("\nlab finished; namespaces and processes removed.");
    Ok(())
}

/// The series an SRE alerts on, from one scrape of node `node`.
fn print_metrics(lan: &Lan, n: &str, node: usize) {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], 9828));
    let scrape =
        http_get(&lan.nodes[node].ns, addr, "/metrics", None).and_then(|r| Scrape::parse(&r.body));
    let s = match scrape {
        Ok(s) => s,
        Err(e) => {
            println!("    node {n}: scrape failed: {e:#}");
            return;
        }
    };
    let state = ["INIT", "BACKUP", "MASTER", "FAULT"]
        .into_iter()
        .find(|st| s.get("havip_instance_state", &[("state", st)]) > 0.5)
        .unwrap_or("?");
    println!(
        "    node {n}: state {state}, kernel owner {}, lease left {:.0} ms, heartbeat {:.0} ms ago",
        s.get("havip_instance_owned", &[]),
        s.get("havip_instance_lease_remaining_seconds", &[]) * 1e3,
        s.get("havip_event_loop_heartbeat_age_seconds", &[]) * 1e3
    );
    let nonzero = |name: &str, keys: &[&str]| -> Vec<String> {
        s.matching(name, &[])
            .filter(|x| x.value > 0.0)
            .map(|x| {
                let labels: Vec<&str> = keys
                    .iter()
                    .filter_map(|k| x.labels.iter().find(|(lk, _)| lk == k))
                    .map(|(_, v)| v.as_str())
                    .collect();
                format!("{} {}", labels.join(" "), x.value)
            })
            .collect()
    };
    println!(
        "      transitions: {}",
        nonzero("havip_state_transitions_total", &["from", "to", "reason"]).join(" | ")
    );
    for stage in ["granted", "announced"] {
        let count = s.sum("havip_takeover_duration_seconds_count", &[("stage", stage)]);
        let sum = s.sum("havip_takeover_duration_seconds_sum", &[("stage", stage)]);
        if count > 0.0 {
            println!(
                "      takeover trigger -> {stage}: {count} takeover(s), mean {:.3} ms",
                sum / count * 1e3
            );
        }
    }
    println!(
        "      ARP for the VIP: replied {}, dropped {}; adverts sent {}, received {}, kernel drops {}",
        s.sum("havip_vip_arp_replies_total", &[]),
        nonzero("havip_vip_arp_dropped_total", &["reason"]).join(", "),
        s.sum("havip_adverts_sent_total", &[]),
        s.sum("havip_adverts_received_total", &[]),
        s.sum("havip_xdp_adverts_dropped_total", &[])
    );
}

fn write_conf(
    dir: &Path,
    name: &str,
    host: u8,
    peer: u8,
    prio: u8,
    interval: &str,
) -> anyhow::Result<PathBuf> {
    let mut s = String::new();
    let _ = writeln!(s, "[[instance]]");
    let _ = writeln!(s, "name = \"VI_1\"");
    let _ = writeln!(s, "interface = \"eth0\"");
    let _ = writeln!(s, "vrid = 51");
    let _ = writeln!(s, "priority = {prio}");
    let _ = writeln!(s, "version = 3");
    let _ = writeln!(s, "advert_interval = \"{interval}\"");
    let _ = writeln!(s, "unicast_src_ip = \"192.0.2.{host}\"");
    let _ = writeln!(s, "unicast_peers = [\"192.0.2.{peer}\"]");
    let _ = writeln!(s, "virtual_ipaddresses = [\"192.0.2.200/24\"]");
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, s)?;
    Ok(path)
}

fn start(lan: &Lan, node: usize, conf: &Path) -> anyhow::Result<Proc> {
    let n = &lan.nodes[node];
    let bin = agent_bin()?;
    let mut cmd = n.ns.command(bin.to_str().context("agent path")?);
    cmd.arg("run")
        .arg("--config")
        .arg(conf)
        .arg("--control-socket")
        .arg(conf.with_extension("sock"));
    let p = Proc::spawn(n.ns.name(), cmd)?;
    let up = wait_for(Duration::from_secs(10), Duration::from_millis(20), || {
        p.log_text().contains("havip running").then_some(())
    });
    if up.is_none() {
        bail!("agent on {} did not start:\n{}", n.ns.name(), p.log_text());
    }
    Ok(p)
}

/// Probes continuously until `mac` answers alone, then 300 ms more; returns all samples and the
/// time of the first sample answered by `mac` alone.
fn watch_until(
    prober: &ArpProber,
    mac: [u8; 6],
    limit: Duration,
) -> anyhow::Result<(Vec<Sample>, Option<Instant>)> {
    let start = Instant::now();
    let mut samples = Vec::new();
    let mut first = None;
    while start.elapsed() < limit {
        let sent = Instant::now();
        let s = prober.probe(VIP, PROBE_WINDOW)?;
        if first.is_none() && s.macs == vec![mac] {
            first = Some(sent);
        }
        samples.push(s);
        if first.is_some_and(|f| f.elapsed() > Duration::from_millis(300)) {
            break;
        }
    }
    Ok((samples, first))
}

/// The longest run of unanswered probes, from the first unanswered to the next answered one.
fn longest_gap(samples: &[Sample]) -> Duration {
    let mut longest = Duration::ZERO;
    let mut gap_start = None;
    for s in samples {
        match (s.macs.is_empty(), gap_start) {
            (true, None) => gap_start = Some(s.at),
            (false, Some(g)) => {
                longest = longest.max(s.at.saturating_sub(g));
                gap_start = None;
            }
            _ => {}
        }
    }
    longest
}

fn summarize_transition(line: &str) -> String {
    let field = |k: &str| {
        line.split_whitespace()
            .find_map(|w| w.strip_prefix(k))
            .unwrap_or("?")
            .to_owned()
    };
    let reason = line
        .split("reason=")
        .nth(1)
        .and_then(|r| r.split(" priority=").next())
        .unwrap_or("?");
    format!("{}->{} ({reason})", field("from="), field("to="))
}
