//! Failover with cloud reporting on: two havip agents (a: 192.0.2.11, priority 150; b:
//! 192.0.2.12, priority 100, `VRRPv3` at 100 ms) on a bridge, and the fake Tencent VPC API
//! (`havip_tests::fake_vpc`) on the bridge itself (192.0.2.250:8080), which binds the HAVIP to the
//! node whose gratuitous ARP it sees, after a switch delay of 1 s, as the VPC does.
//!
//! After a failover the cloud shows the new owner and the new master logs how long the cloud
//! took; with the API down or throttled the election is not slowed and the reporter catches up
//! once the API is back; the webhook gets signed, sequenced, retried events; a private IP
//! follows the master through `MigratePrivateIpAddress`. No log shows the credentials.

use std::{
    net::{Ipv4Addr, SocketAddr},
    time::{Duration, Instant},
};

use havip_tests::{
    agents::{InstanceSpec, Vrrp, Workdir, spawn_havip_config, wait_havip_state},
    fake_vpc::{CloudNode, FakeVpc, Fault},
    netns::{Lan, wait_for},
    proc::Proc,
    require_root,
};

const A: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 11);
const B: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 12);
const VIP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 200);
const V3_100MS: Vrrp = Vrrp::V3 { centis: 10 };
const NODE_A: usize = 1;
const NODE_B: usize = 2;
const API: &str = "192.0.2.250:8080";
const HAVIP: &str = "havip-lab00001";
const EIP: &str = "203.0.113.7";
const ID: &str = "AKIDlabTESTsecretid000000000EXAMPLE";
const KEY: &str = "lab-test-secret-key-do-not-log-9f3e";
const WEBHOOK_KEY: &str = "lab-webhook-key-do-not-log-77aa";
const SETTLE: Duration = Duration::from_secs(3);
/// The cloud's part may take its time: switch delay, rechecks, an outage.
const CLOUD_LIMIT: Duration = Duration::from_secs(20);

/// Fields drop in order: the API first (its threads are in the bridge namespace), then the LAN,
/// then the directory.
struct Lab {
    vpc: FakeVpc,
    lan: Lan,
    dir: Workdir,
}

fn lab() -> Lab {
    let mut lan = Lan::new().expect("bridge");
    lan.add_node("c", 1).expect("client");
    lan.add_node("a", 11).expect("node a");
    lan.add_node("b", 12).expect("node b");
    lan.bridge
        .ip(&["addr", "add", "192.0.2.250/24", "dev", "br0"])
        .expect("API address");
    let addr: SocketAddr = API.parse().expect("addr");
    let mut vpc = FakeVpc::start(&lan.bridge, addr, ID, KEY, WEBHOOK_KEY).expect("fake VPC");
    vpc.watch_garps(&lan.bridge, "br0").expect("sniffer");
    for (node, name) in [(NODE_A, "a"), (NODE_B, "b")] {
        vpc.add_node(CloudNode {
            instance_id: format!("ins-{name}"),
            eni_id: format!("eni-{name}"),
            mac: lan.nodes[node].mac,
        });
    }
    vpc.add_havip(HAVIP, VIP);
    Lab {
        vpc,
        lan,
        dir: Workdir::new().expect("work dir"),
    }
}

fn failover_limit() -> Duration {
    V3_100MS.interval() * 10 + Duration::from_secs(1)
}

fn spec(node: usize, priority: u8) -> InstanceSpec {
    match node {
        NODE_A => InstanceSpec::new(V3_100MS, priority, A, &[B]),
        _ => InstanceSpec::new(V3_100MS, priority, B, &[A]),
    }
}

/// How an agent gets its credentials: a file for a, the environment for b.
fn tencent_section(lab: &Lab, node: usize) -> (String, Vec<(&'static str, &'static str)>) {
    let mut text = format!(
        "\n[cloud.tencent]\nregion = \"ap-guangzhou\"\nendpoint = \"http://{API}\"\n\
         request_timeout = \"1s\"\n"
    );
    if node == NODE_A {
        let file = lab
            .dir
            .write(
                "tencent-credentials.toml",
                &format!("secret_id = \"{ID}\"\nsecret_key = \"{KEY}\"\n"),
            )
            .expect("credentials file");
        text = format!("{text}credentials_file = \"{}\"\n", file.display());
        (text, Vec::new())
    } else {
        (
            text,
            vec![
                ("TENCENTCLOUD_SECRET_ID", ID),
                ("TENCENTCLOUD_SECRET_KEY", KEY),
            ],
        )
    }
}

fn name(node: usize) -> &'static str {
    if node == NODE_A { "a" } else { "b" }
}

fn start(lab: &Lab, node: usize, priority: u8, cloud: &str, env: &[(&str, &str)]) -> Proc {
    let text = format!("{}\n{cloud}", spec(node, priority).to_toml());
    spawn_havip_config(&lab.lan.nodes[node], &lab.dir, name(node), &text, env).expect("start havip")
}

fn start_havip_agent(lab: &Lab, node: usize, priority: u8) -> Proc {
    let (tencent, env) = tencent_section(lab, node);
    let cloud = format!(
        "[cloud.node]\ninstance_id = \"ins-{n}\"\nnetwork_interface_id = \"eni-{n}\"\n{tencent}\n\
         [[cloud.tencent_havip]]\ninstance = \"VI_1\"\nhavip_id = \"{HAVIP}\"\n\
         eip = \"{EIP}\"\nconfirm_timeout = \"30s\"\nrecheck_interval = \"500ms\"\nreconcile_interval = \"1s\"\n",
        n = name(node)
    );
    start(lab, node, priority, &cloud, &env)
}

/// `took_ms` of the last "cloud agrees" line of `log`.
fn agreed_ms(log: &str) -> Option<u64> {
    let line = log.lines().rfind(|l| l.contains("cloud agrees"))?;
    let at = line.find("took_ms=")? + "took_ms=".len();
    line[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .ok()
}

fn wait_agreed(p: &Proc, after: usize) -> Option<u64> {
    wait_for(CLOUD_LIMIT, Duration::from_millis(50), || {
        let log = p.log_text();
        (log.matches("cloud agrees").count() > after)
            .then(|| agreed_ms(&log))
            .flatten()
    })
}

fn wait_owner(lab: &Lab, owner: &str) -> bool {
    wait_for(CLOUD_LIMIT, Duration::from_millis(50), || {
        (lab.vpc.havip_owner(HAVIP).as_deref() == Some(owner)).then_some(())
    })
    .is_some()
}

fn assert_no_credentials(p: &Proc) {
    let log = p.log_text();
    for secret in [KEY, ID, WEBHOOK_KEY] {
        assert!(
            !log.contains(secret),
            "{} logged a credential:\n{log}",
            p.name()
        );
    }
}

/// a is master with the HAVIP bound (and confirmed), b is backup.
fn a_owns_b_waits(lab: &Lab) -> (Proc, Proc) {
    let a = start_havip_agent(lab, NODE_A, 150);
    assert!(
        wait_havip_state(&a, "MASTER", 0, SETTLE).is_some(),
        "a never became MASTER:\n{}",
        a.log_text()
    );
    assert!(
        wait_owner(lab, "ins-a"),
        "the cloud never bound the HAVIP to a"
    );
    assert!(
        wait_agreed(&a, 0).is_some(),
        "a never saw the cloud agree:\n{}",
        a.log_text()
    );
    let eip = wait_for(CLOUD_LIMIT, Duration::from_millis(50), || {
        (lab.vpc.havip_eip(HAVIP).as_deref() == Some(EIP)).then_some(())
    });
    assert!(
        eip.is_some(),
        "the EIP was never associated:\n{}",
        a.log_text()
    );
    let b = start_havip_agent(lab, NODE_B, 100);
    assert!(
        wait_havip_state(&b, "BACKUP", 0, SETTLE).is_some(),
        "b never became BACKUP:\n{}",
        b.log_text()
    );
    (a, b)
}

#[test]
fn failover_moves_the_havip_and_records_the_time() {
    if !require_root("failover_moves_the_havip_and_records_the_time") {
        return;
    }
    let lab = lab();
    let (mut a, mut b) = a_owns_b_waits(&lab);
    let before = lab.vpc.garps();

    let cut = Instant::now();
    lab.lan.cut(NODE_A).expect("cut a");
    let t = wait_havip_state(&b, "MASTER", 0, failover_limit() * 2)
        .unwrap_or_else(|| panic!("b never took over:\n{}", b.log_text()));
    let took = cut.elapsed();
    assert!(
        took <= failover_limit(),
        "b took over {took:?} after the cut: {}",
        t.line
    );

    assert!(
        wait_owner(&lab, "ins-b"),
        "the cloud never moved the HAVIP to b"
    );
    let ms = wait_agreed(&b, 0)
        .unwrap_or_else(|| panic!("b never saw the cloud agree:\n{}", b.log_text()));
    // The fake VPC moves the HAVIP 1 s after the gratuitous ARP: less would be a false
    // agreement, much more a reporter that did not look.
    assert!(
        (900..=10_000).contains(&ms),
        "time until the cloud agreed: {ms} ms"
    );
    let b_log = b.log_text();
    assert!(
        b_log.contains("HAVIP not on this node yet; re-announcing"),
        "b never saw the old binding:\n{b_log}"
    );
    assert!(
        lab.vpc.garps() > before,
        "no gratuitous ARP after the takeover"
    );
    assert!(lab.vpc.count("DescribeHaVips", "ok") >= 3);
    assert_eq!(
        lab.vpc
            .count("DescribeHaVips", "AuthFailure.SignatureFailure"),
        0
    );
    // Associated once, by a; b found it associated already.
    assert_eq!(lab.vpc.count("HaVipAssociateAddressIp", "ok"), 1);

    // The same outcome and time on b's Prometheus endpoint (default address, b's loopback).
    let addr: SocketAddr = "127.0.0.1:9828".parse().expect("addr");
    let resp = havip_tests::scrape::http_get(&lab.lan.nodes[NODE_B].ns, addr, "/metrics", None)
        .expect("scrape b");
    let scrape = havip_tests::scrape::Scrape::parse(&resp.body).expect("parse");
    let labels = [("provider", "tencent-havip"), ("outcome", "success")];
    assert!(
        scrape.sum("havip_cloud_reports_total", &labels) >= 1.0,
        "no successful cloud report exported:\n{}",
        resp.body
    );
    let seconds = scrape.sum("havip_cloud_report_duration_seconds_sum", &labels[..1]);
    assert!(
        seconds >= 0.9,
        "exported time until the cloud agreed: {seconds} s"
    );

    assert!(b.stop(Duration::from_secs(5)).is_some_and(|s| s.success()));
    let _ = a.stop(Duration::from_secs(5));
    assert_no_credentials(&a);
    assert_no_credentials(&b);
}

#[test]
fn api_outage_leaves_failover_alone_and_the_reporter_catches_up() {
    if !require_root("api_outage_leaves_failover_alone_and_the_reporter_catches_up") {
        return;
    }
    let lab = lab();
    let (mut a, mut b) = a_owns_b_waits(&lab);

    // The API stops answering at all, then throttles, then comes back.
    lab.vpc.set_fault(Fault::Hang);
    let cut = Instant::now();
    lab.lan.cut(NODE_A).expect("cut a");
    let t = wait_havip_state(&b, "MASTER", 0, failover_limit() * 2)
        .unwrap_or_else(|| panic!("b never took over:\n{}", b.log_text()));
    let took = cut.elapsed();
    assert!(
        took <= failover_limit(),
        "with the API down b took over {took:?} after the cut: {}",
        t.line
    );
    std::thread::sleep(Duration::from_secs(2));
    lab.vpc
        .set_fault(Fault::Error("RequestLimitExceeded".into()));
    // Long enough for a try after the last hung one (1 s timeout + backoff) to be throttled.
    std::thread::sleep(Duration::from_secs(3));
    let outage = cut.elapsed();
    let during = b.log_text();
    assert!(
        !during.contains("cloud agrees"),
        "agreed while the API was down:\n{during}"
    );
    assert!(
        during.contains("request timed out"),
        "no timeout logged:\n{during}"
    );
    assert!(
        during.contains("outcome=\"throttled\"") || during.contains("outcome=throttled"),
        "no throttling logged:\n{during}"
    );
    assert!(lab.vpc.count("DescribeHaVips", "RequestLimitExceeded") >= 1);
    lab.vpc.set_fault(Fault::None);

    let ms = wait_agreed(&b, 0)
        .unwrap_or_else(|| panic!("b never caught up after the outage:\n{}", b.log_text()));
    assert!(
        u128::from(ms) >= outage.as_millis().saturating_sub(1000),
        "the recorded time ({ms} ms) must cover the outage ({outage:?})"
    );
    assert_eq!(lab.vpc.havip_owner(HAVIP).as_deref(), Some("ins-b"));

    assert!(b.stop(Duration::from_secs(5)).is_some_and(|s| s.success()));
    let _ = a.stop(Duration::from_secs(5));
    assert_no_credentials(&a);
    assert_no_credentials(&b);
}

#[test]
fn webhook_events_are_signed_sequenced_and_retried() {
    if !require_root("webhook_events_are_signed_sequenced_and_retried") {
        return;
    }
    let lab = lab();
    let key_file = lab
        .dir
        .write("webhook.key", &format!("{WEBHOOK_KEY}\n"))
        .expect("key");
    let hook = |node: usize| {
        let key = if node == NODE_A {
            format!("secret_file = \"{}\"", key_file.display())
        } else {
            format!("secret = \"{WEBHOOK_KEY}\"")
        };
        format!(
            "[cloud.node]\nname = \"node-{n}\"\n\n[[cloud.webhook]]\nurl = \"http://{API}/webhook\"\n\
             {key}\ntimeout = \"1s\"\n",
            n = name(node)
        )
    };
    let mut a = start(&lab, NODE_A, 150, &hook(NODE_A), &[]);
    assert!(
        wait_havip_state(&a, "MASTER", 0, SETTLE).is_some(),
        "{}",
        a.log_text()
    );
    let mut b = start(&lab, NODE_B, 100, &hook(NODE_B), &[]);
    assert!(
        wait_havip_state(&b, "BACKUP", 0, SETTLE).is_some(),
        "{}",
        b.log_text()
    );
    let delivered = |node: &str, state: &str| {
        lab.vpc
            .webhook_hits()
            .into_iter()
            .find(|h| h.status == 200 && h.body["node"]["name"] == node && h.body["state"] == state)
    };
    let first = wait_for(CLOUD_LIMIT, Duration::from_millis(50), || {
        delivered("node-b", "BACKUP")
    })
    .expect("b's BACKUP event");

    lab.vpc.fail_webhooks(2);
    lab.lan.cut(NODE_A).expect("cut a");
    assert!(
        wait_havip_state(&b, "MASTER", 0, failover_limit() * 2).is_some(),
        "{}",
        b.log_text()
    );
    let master = wait_for(CLOUD_LIMIT, Duration::from_millis(50), || {
        delivered("node-b", "MASTER")
    })
    .unwrap_or_else(|| panic!("b's MASTER event never arrived:\n{}", b.log_text()));

    let hits = lab.vpc.webhook_hits();
    assert!(
        hits.iter().all(|h| h.signature_ok),
        "a bad signature: {hits:?}"
    );
    let attempts: Vec<_> = hits
        .iter()
        .filter(|h| h.event_id == master.event_id)
        .collect();
    let statuses: Vec<u16> = attempts.iter().map(|h| h.status).collect();
    assert_eq!(statuses, [503, 503, 200], "retries of {}", master.event_id);
    assert!(
        attempts.iter().all(|h| h.body == master.body),
        "a retry changed the event"
    );
    let body = &master.body;
    assert_eq!(body["instance"], "VI_1");
    assert_eq!(body["vrid"], 51);
    assert_eq!(body["vips"], serde_json::json!(["192.0.2.200"]));
    assert_eq!(body["previous_state"], "BACKUP");
    assert_eq!(body["event_id"], master.event_id.as_str());
    assert!(
        body["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')),
        "{body}"
    );
    let seq = |b: &serde_json::Value| b["sequence"].as_u64().unwrap_or(0);
    assert!(
        seq(body) > seq(&first.body),
        "sequence must grow: {body} after {}",
        first.body
    );
    assert!(
        delivered("node-a", "MASTER").is_some(),
        "a's MASTER event (key from a file) never arrived"
    );

    let _ = b.stop(Duration::from_secs(5));
    let _ = a.stop(Duration::from_secs(5));
    assert_no_credentials(&a);
    assert_no_credentials(&b);
}

#[test]
fn private_ip_follows_the_master() {
    if !require_root("private_ip_follows_the_master") {
        return;
    }
    let lab = lab();
    // b held the address before: a's first takeover must move it.
    lab.vpc.assign_private_ip(VIP, "eni-b");
    let migrate = |node: usize| {
        let (tencent, env) = tencent_section(&lab, node);
        // No network_interface_id: the agent finds its ENI by the interface's MAC.
        let text = format!(
            "[cloud.node]\ninstance_id = \"ins-{n}\"\n{tencent}\n[[cloud.tencent_migrate_ip]]\n\
             instance = \"VI_1\"\nconfirm_timeout = \"30s\"\nrecheck_interval = \"300ms\"\n\
             reconcile_interval = \"1s\"\n",
            n = name(node)
        );
        (text, env)
    };
    let (text, env) = migrate(NODE_A);
    let mut a = start(&lab, NODE_A, 150, &text, &env);
    assert!(
        wait_havip_state(&a, "MASTER", 0, SETTLE).is_some(),
        "{}",
        a.log_text()
    );
    let holder = |eni: &str| {
        wait_for(CLOUD_LIMIT, Duration::from_millis(50), || {
            (lab.vpc.private_ip_holder(VIP).as_deref() == Some(eni)).then_some(())
        })
        .is_some()
    };
    assert!(
        holder("eni-a"),
        "the IP never moved to a:\n{}",
        a.log_text()
    );
    assert!(wait_agreed(&a, 0).is_some(), "{}", a.log_text());

    let (text, env) = migrate(NODE_B);
    let mut b = start(&lab, NODE_B, 100, &text, &env);
    assert!(
        wait_havip_state(&b, "BACKUP", 0, SETTLE).is_some(),
        "{}",
        b.log_text()
    );
    lab.lan.cut(NODE_A).expect("cut a");
    assert!(
        wait_havip_state(&b, "MASTER", 0, failover_limit() * 2).is_some(),
        "{}",
        b.log_text()
    );
    assert!(
        holder("eni-b"),
        "the IP never moved back to b:\n{}",
        b.log_text()
    );
    let ms = wait_agreed(&b, 0).unwrap_or_else(|| panic!("{}", b.log_text()));
    assert!(ms < 20_000, "{ms} ms");
    assert!(lab.vpc.count("MigratePrivateIpAddress", "ok") >= 2);
    assert!(lab.vpc.count("DescribeVpcTaskResult", "ok") >= 2);
    assert!(
        b.log_text().contains("this node's ENI"),
        "b did not look its ENI up:\n{}",
        b.log_text()
    );

    let _ = b.stop(Duration::from_secs(5));
    let _ = a.stop(Duration::from_secs(5));
    assert_no_credentials(&a);
    assert_no_credentials(&b);
}

/// Runs the agent with `cloud` and waits for it to exit; returns its log.
fn run_to_exit(lab: &Lab, label: &str, cloud: &str) -> (Option<std::process::ExitStatus>, String) {
    let node = &lab.lan.nodes[NODE_A];
    let conf = lab
        .dir
        .write(
            &format!("{label}.toml"),
            &format!("{}\n{cloud}", spec(NODE_A, 150).to_toml()),
        )
        .expect("config");
    let bin = havip_tests::agent_bin().expect("agent binary");
    let mut cmd = node.ns.command(bin.to_str().expect("UTF-8 path"));
    cmd.arg("run")
        .arg("--config")
        .arg(&conf)
        .env_remove("TENCENTCLOUD_SECRET_ID")
        .env_remove("TENCENTCLOUD_SECRET_KEY");
    let mut p = Proc::spawn(&format!("{}-{label}", node.ns.name()), cmd).expect("spawn");
    let status = p.wait(Duration::from_secs(10));
    (status, p.log_text())
}

#[test]
fn a_bad_cloud_section_stops_the_start_and_names_the_field() {
    if !require_root("a_bad_cloud_section_stops_the_start_and_names_the_field") {
        return;
    }
    let lab = lab();
    let endpoint =
        format!("[cloud.tencent]\nregion = \"ap-guangzhou\"\nendpoint = \"http://{API}\"\n");
    let cases = [
        (
            "missing",
            format!(
                "[cloud.node]\ninstance_id = \"ins-a\"\n{endpoint}\n[[cloud.tencent_havip]]\n\
                 instance = \"VI_1\"\n"
            ),
            ["cloud.tencent_havip[0]", "havip_id"],
        ),
        (
            "nocreds",
            format!(
                "[cloud.node]\ninstance_id = \"ins-a\"\n{endpoint}\n[[cloud.tencent_havip]]\n\
                 instance = \"VI_1\"\nhavip_id = \"{HAVIP}\"\n"
            ),
            ["cloud.tencent", "no credentials"],
        ),
    ];
    for (label, cloud, words) in cases {
        let (status, log) = run_to_exit(&lab, label, &cloud);
        let status = status.unwrap_or_else(|| panic!("{label}: the agent kept running:\n{log}"));
        assert!(!status.success(), "{label}: exit {status}:\n{log}");
        for w in words {
            assert!(log.contains(w), "{label}: `{w}` not in the error:\n{log}");
        }
        assert!(
            !log.contains("havip running"),
            "{label}: it started:\n{log}"
        );
        let link = lab.lan.nodes[NODE_A]
            .ns
            .ip(&["-d", "link", "show", "eth0"])
            .expect("link");
        assert!(
            !String::from_utf8_lossy(&link.stdout).contains("xdp"),
            "{label}: an XDP program was left attached"
        );
    }
}
