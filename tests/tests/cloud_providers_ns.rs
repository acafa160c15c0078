//! Failover with the role-credential cloud providers against their fakes (`havip_tests::
//! fake_clouds`, on the lab bridge at 192.0.2.250:8081; the Tencent VPC fake at :8080): two havip
//! agents (a: 192.0.2.11, priority 150; b: 192.0.2.12, priority 100, `VRRPv3` at 100 ms).
//!
//! For each of Tencent (`credentials = "cam-role"`), `alibaba-havip` (RAM role) and
//! `aws-private-ip` (instance profile through `IMDSv2`): the cloud's view follows the master (the
//! fake's own state, not the agent's word); the role credentials live 4 s, so they expire
//! several times during a test and are refreshed ahead of expiry without one call refused for
//! an expired token; throttling and transient errors are retried; a permanent error is logged
//! with the provider's code; no key, token or metadata session token appears in any log.

use std::{
    net::{Ipv4Addr, SocketAddr},
    time::Duration,
};

use havip_tests::{
    agents::{InstanceSpec, Vrrp, Workdir, spawn_havip_config, wait_havip_state},
    fake_clouds::{FakeClouds, Node, Roles},
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
const CLOUDS: &str = "192.0.2.250:8081";
const TENCENT_API: &str = "192.0.2.250:8080";
const HAVIP: &str = "havip-lab00001";
const ROLE: &str = "havip-lab-role";
const ROLE_LIFETIME: Duration = Duration::from_secs(4);
const SETTLE: Duration = Duration::from_secs(3);
const CLOUD_LIMIT: Duration = Duration::from_secs(20);
/// Key pair of the Tencent fake (never used by the agents here: they use the CAM role).
const UNUSED_ID: &str = "AKIDlabUNUSEDsecretid0000000EXAMPLE";
const UNUSED_KEY: &str = "lab-unused-key";

/// Fields drop in order: the fakes first (their threads are in the bridge namespace), then the
/// LAN, then the directory.
struct Lab {
    tencent: Option<FakeVpc>,
    clouds: FakeClouds,
    roles: Roles,
    lan: Lan,
    dir: Workdir,
}

fn lab(with_tencent: bool) -> Lab {
    let mut lan = Lan::new().expect("bridge");
    lan.add_node("c", 1).expect("client");
    lan.add_node("a", 11).expect("node a");
    lan.add_node("b", 12).expect("node b");
    lan.bridge
        .ip(&["addr", "add", "192.0.2.250/24", "dev", "br0"])
        .expect("API address");
    let roles = Roles::new(ROLE_LIFETIME);
    let addr: SocketAddr = CLOUDS.parse().expect("addr");
    let mut clouds = FakeClouds::start(&lan.bridge, addr, roles.clone(), ROLE).expect("fakes");
    clouds.watch_garps(&lan.bridge, "br0").expect("sniffer");
    for (node, name, ip) in [(NODE_A, "a", A), (NODE_B, "b", B)] {
        clouds.add_node(Node {
            instance_id: format!("i-{name}"),
            eni_id: format!("eni-{name}"),
            mac: lan.nodes[node].mac,
            ip,
        });
    }
    let tencent = with_tencent.then(|| {
        let addr: SocketAddr = TENCENT_API.parse().expect("addr");
        let mut vpc =
            FakeVpc::start(&lan.bridge, addr, UNUSED_ID, UNUSED_KEY, "unused").expect("fake VPC");
        vpc.watch_garps(&lan.bridge, "br0").expect("sniffer");
        vpc.accept_roles(roles.clone());
        for (node, name) in [(NODE_A, "a"), (NODE_B, "b")] {
            vpc.add_node(CloudNode {
                instance_id: format!("ins-{name}"),
                eni_id: format!("eni-{name}"),
                mac: lan.nodes[node].mac,
            });
        }
        vpc.add_havip(HAVIP, VIP);
        vpc
    });
    Lab {
        tencent,
        clouds,
        roles,
        lan,
        dir: Workdir::new().expect("work dir"),
    }
}

fn name(node: usize) -> &'static str {
    if node == NODE_A { "a" } else { "b" }
}

fn start(lab: &Lab, node: usize, priority: u8, cloud: &str) -> Proc {
    let spec = match node {
        NODE_A => InstanceSpec::new(V3_100MS, priority, A, &[B]),
        _ => InstanceSpec::new(V3_100MS, priority, B, &[A]),
    };
    let text = format!("{}\n{cloud}", spec.to_toml());
    spawn_havip_config(&lab.lan.nodes[node], &lab.dir, name(node), &text, &[]).expect("start havip")
}

fn failover_limit() -> Duration {
    V3_100MS.interval() * 10 + Duration::from_secs(1)
}

fn wait_log(p: &Proc, words: &[&str]) -> bool {
    wait_for(CLOUD_LIMIT, Duration::from_millis(100), || {
        let log = p.log_text();
        words.iter().all(|w| log.contains(w)).then_some(())
    })
    .is_some()
}

fn wait_until(f: impl Fn() -> bool) -> bool {
    wait_for(CLOUD_LIMIT, Duration::from_millis(50), || f().then_some(())).is_some()
}

/// No issued key, token or id, and no metadata session token, in `p`'s log.
fn assert_no_credentials(lab: &Lab, p: &Proc) {
    let log = p.log_text();
    for set in lab.roles.issued() {
        for secret in [&set.key, &set.token, &set.id] {
            assert!(
                !log.contains(secret.as_str()),
                "{} logged a credential:\n{log}",
                p.name()
            );
        }
    }
    for t in lab.clouds.metadata_tokens() {
        assert!(
            !log.contains(&t),
            "{} logged a metadata token:\n{log}",
            p.name()
        );
    }
}

/// The role credentials were renewed while the test ran, and no call was refused for them.
fn assert_refreshed_without_failures(lab: &Lab, refused: &[&str], tencent_calls: usize) {
    let issued = lab.roles.issued().len();
    assert!(issued >= 4, "only {issued} credential sets were fetched");
    let calls = lab.clouds.calls();
    let bad: Vec<_> = calls
        .iter()
        .filter(|c| refused.contains(&c.outcome.as_str()))
        .collect();
    assert!(
        bad.is_empty(),
        "calls refused for their credentials: {bad:?}"
    );
    assert_eq!(tencent_calls, 0, "Tencent calls refused for their token");
}

/// b's Prometheus endpoint shows at least one successful report of `provider`.
fn assert_exported(lab: &Lab, provider: &str) {
    let addr: SocketAddr = "127.0.0.1:9828".parse().expect("addr");
    let resp = havip_tests::scrape::http_get(&lab.lan.nodes[NODE_B].ns, addr, "/metrics", None)
        .expect("scrape b");
    let scrape = havip_tests::scrape::Scrape::parse(&resp.body).expect("parse");
    let labels = [("provider", provider), ("outcome", "success")];
    assert!(
        scrape.sum("havip_cloud_reports_total", &labels) >= 1.0,
        "no successful {provider} report exported:\n{}",
        resp.body
    );
}

/// a master, then b after a is cut; `owner(x)` reads the fake's view.
fn failover(
    lab: &Lab,
    cloud: &dyn Fn(usize) -> String,
    owner: &dyn Fn(&str) -> bool,
) -> (Proc, Proc) {
    let a = start(lab, NODE_A, 150, &cloud(NODE_A));
    assert!(
        wait_havip_state(&a, "MASTER", 0, SETTLE).is_some(),
        "a never became MASTER:\n{}",
        a.log_text()
    );
    assert!(
        wait_until(|| owner("a")),
        "the cloud never followed a:\n{}",
        a.log_text()
    );
    assert!(
        wait_log(&a, &["cloud agrees"]),
        "a never saw the cloud agree:\n{}",
        a.log_text()
    );
    let b = start(lab, NODE_B, 100, &cloud(NODE_B));
    assert!(
        wait_havip_state(&b, "BACKUP", 0, SETTLE).is_some(),
        "b never became BACKUP:\n{}",
        b.log_text()
    );
    lab.lan.cut(NODE_A).expect("cut a");
    assert!(
        wait_havip_state(&b, "MASTER", 0, failover_limit() * 2).is_some(),
        "b never took over:\n{}",
        b.log_text()
    );
    assert!(
        wait_until(|| owner("b")),
        "the cloud never followed b:\n{}",
        b.log_text()
    );
    assert!(
        wait_log(&b, &["cloud agrees"]),
        "b never saw the cloud agree:\n{}",
        b.log_text()
    );
    (a, b)
}

#[test]
fn alibaba_havip_follows_the_master_with_ram_role_credentials() {
    if !require_root("alibaba_havip_follows_the_master_with_ram_role_credentials") {
        return;
    }
    let lab = lab(false);
    lab.clouds.add_havip(HAVIP, VIP);
    // The first calls are throttled, then fail transiently: both retried.
    lab.clouds.fail_next("Throttling.User", 1);
    lab.clouds.fail_next("ServiceUnavailable", 1);
    let cloud = |_node: usize| {
        format!(
            "[cloud.alibaba]\nregion = \"cn-hangzhou\"\nendpoint = \"http://{CLOUDS}\"\n\
             credentials = \"ram-role\"\nmetadata_url = \"http://{CLOUDS}/alibaba/latest/\"\n\
             request_timeout = \"1s\"\n\n[[cloud.alibaba_havip]]\ninstance = \"VI_1\"\n\
             havip_id = \"{HAVIP}\"\nexclusive = true\nconfirm_timeout = \"30s\"\n\
             recheck_interval = \"300ms\"\nreconcile_interval = \"1s\"\n"
        )
    };
    let owner = |who: &str| {
        lab.clouds.havip_master(HAVIP).as_deref() == Some(&format!("i-{who}"))
            && lab.clouds.havip_associated(HAVIP) == [format!("i-{who}")]
    };
    let (mut a, mut b) = failover(&lab, &cloud, &owner);
    let a_log = a.log_text();
    assert!(
        a_log.contains("Throttling.User")
            && (a_log.contains("outcome=\"throttled\"") || a_log.contains("outcome=throttled")),
        "no throttled retry:\n{a_log}"
    );
    assert!(
        a_log.contains("ServiceUnavailable"),
        "no transient retry:\n{a_log}"
    );
    assert!(lab.clouds.count("AssociateHaVip", "ok") >= 2);
    assert!(lab.clouds.count("UnassociateHaVip", "ok") >= 1);
    assert_exported(&lab, "alibaba-havip");

    // A permanent error is logged with the provider's code, and not retried.
    lab.clouds.fail_next("Forbidden.RAM", 1);
    assert!(
        wait_log(&b, &["Forbidden.RAM", "not retrying"]),
        "the permanent error was not logged:\n{}",
        b.log_text()
    );
    // Let the credentials expire at least once more while b reconciles.
    std::thread::sleep(ROLE_LIFETIME + Duration::from_secs(1));
    assert!(owner("b"));
    assert_refreshed_without_failures(
        &lab,
        &[
            "InvalidSecurityToken.Expired",
            "InvalidAccessKeyId.NotFound",
            "SignatureDoesNotMatch",
        ],
        0,
    );
    let _ = b.stop(Duration::from_secs(5));
    let _ = a.stop(Duration::from_secs(5));
    assert_no_credentials(&lab, &a);
    assert_no_credentials(&lab, &b);
}

#[test]
fn aws_private_ip_follows_the_master_with_instance_profile_credentials() {
    if !require_root("aws_private_ip_follows_the_master_with_instance_profile_credentials") {
        return;
    }
    let lab = lab(false);
    // b held the address before: a's takeover must reassign it.
    lab.clouds.assign_private_ip(VIP, "eni-b");
    lab.clouds.fail_next("RequestLimitExceeded", 1);
    lab.clouds.fail_next("InternalError", 1);
    let cloud = |_node: usize| {
        format!(
            "[cloud.aws]\nregion = \"eu-west-1\"\nendpoint = \"http://{CLOUDS}\"\n\
             credentials = \"instance-role\"\nmetadata_url = \"http://{CLOUDS}/aws/latest/\"\n\
             request_timeout = \"1s\"\n\n[[cloud.aws_private_ip]]\ninstance = \"VI_1\"\n\
             confirm_timeout = \"30s\"\nrecheck_interval = \"300ms\"\nreconcile_interval = \"1s\"\n"
        )
    };
    let owner =
        |who: &str| lab.clouds.private_ip_holder(VIP).as_deref() == Some(&format!("eni-{who}"));
    let (mut a, mut b) = failover(&lab, &cloud, &owner);
    let a_log = a.log_text();
    assert!(
        a_log.contains("RequestLimitExceeded"),
        "no throttled retry:\n{a_log}"
    );
    assert!(
        a_log.contains("InternalError"),
        "no transient retry:\n{a_log}"
    );
    assert!(
        a_log.contains("this node's ENI"),
        "a did not read its ENI:\n{a_log}"
    );
    assert!(lab.clouds.count("AssignPrivateIpAddresses", "ok") >= 2);
    assert_exported(&lab, "aws-private-ip");

    lab.clouds.fail_next("UnauthorizedOperation", 1);
    assert!(
        wait_log(&b, &["UnauthorizedOperation", "not retrying"]),
        "the permanent error was not logged:\n{}",
        b.log_text()
    );
    std::thread::sleep(ROLE_LIFETIME + Duration::from_secs(1));
    assert!(owner("b"));
    assert_refreshed_without_failures(
        &lab,
        &["ExpiredToken", "AuthFailure", "SignatureDoesNotMatch"],
        0,
    );
    assert!(
        !lab.clouds.metadata_tokens().is_empty(),
        "IMDSv2 tokens were never asked for"
    );
    let _ = b.stop(Duration::from_secs(5));
    let _ = a.stop(Duration::from_secs(5));
    assert_no_credentials(&lab, &a);
    assert_no_credentials(&lab, &b);
}

#[test]
fn tencent_cam_role_credentials_and_transient_errors() {
    if !require_root("tencent_cam_role_credentials_and_transient_errors") {
        return;
    }
    let lab = lab(true);
    let Some(vpc) = lab.tencent.as_ref() else {
        panic!("no Tencent fake");
    };
    let cloud = |node: usize| {
        format!(
            "[cloud.node]\ninstance_id = \"ins-{n}\"\nnetwork_interface_id = \"eni-{n}\"\n\n\
             [cloud.tencent]\nregion = \"ap-guangzhou\"\nendpoint = \"http://{TENCENT_API}\"\n\
             credentials = \"cam-role\"\nmetadata_url = \"http://{CLOUDS}/tencent/latest/meta-data/\"\n\
             request_timeout = \"1s\"\n\n[[cloud.tencent_havip]]\ninstance = \"VI_1\"\n\
             havip_id = \"{HAVIP}\"\nconfirm_timeout = \"30s\"\nrecheck_interval = \"300ms\"\n\
             reconcile_interval = \"1s\"\n",
            n = name(node)
        )
    };
    // The two codes Tencent documents as transient are retried until the API recovers.
    vpc.set_fault(Fault::Error("InternalServerError".into()));
    let owner = |who: &str| {
        if vpc.havip_owner(HAVIP).as_deref() == Some(&format!("ins-{who}")) {
            // Recover only once the first code has been seen and retried.
            return true;
        }
        if vpc.count("DescribeHaVips", "InternalServerError") >= 2 {
            vpc.set_fault(Fault::None);
        }
        false
    };
    let (mut a, mut b) = failover(&lab, &cloud, &owner);
    let a_log = a.log_text();
    assert!(
        a_log.contains("InternalServerError") && a_log.contains("retrying"),
        "InternalServerError was not retried:\n{a_log}"
    );

    vpc.set_fault(Fault::Error(
        "UnsupportedOperation.MutexOperationTaskRunning".into(),
    ));
    assert!(
        wait_log(&b, &["MutexOperationTaskRunning", "class=\"busy\""])
            || wait_log(&b, &["MutexOperationTaskRunning", "class=busy"]),
        "MutexOperationTaskRunning was not retried as busy:\n{}",
        b.log_text()
    );
    vpc.set_fault(Fault::Error("UnauthorizedOperation".into()));
    assert!(
        wait_log(&b, &["UnauthorizedOperation", "not retrying"]),
        "the permanent error was not logged:\n{}",
        b.log_text()
    );
    vpc.set_fault(Fault::None);
    std::thread::sleep(ROLE_LIFETIME + Duration::from_secs(1));
    assert_eq!(vpc.havip_owner(HAVIP).as_deref(), Some("ins-b"));
    let refused = vpc.count("DescribeHaVips", "AuthFailure.TokenFailure")
        + vpc.count("DescribeHaVips", "AuthFailure.SignatureFailure")
        + vpc.count("DescribeHaVips", "AuthFailure.SecretIdNotFound");
    assert_refreshed_without_failures(&lab, &[], refused);
    let _ = b.stop(Duration::from_secs(5));
    let _ = a.stop(Duration::from_secs(5));
    assert_no_credentials(&lab, &a);
    assert_no_credentials(&lab, &b);
}
