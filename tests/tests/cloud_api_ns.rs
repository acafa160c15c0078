//! The agent's Tencent Cloud VPC client against the fake VPC API (`havip_tests::fake_vpc`), both
//! inside a network namespace this test creates (the server on the namespace's loopback): signed
//! requests accepted and answered, bad signatures refused with the API's codes, and each kind of
//! failure (throttling, internal errors, no answer, slow answers) handled as its kind asks.

use std::{
    net::{Ipv4Addr, SocketAddr},
    time::{Duration, Instant},
};

use havip_agent::cloud::{
    CloudStats,
    config::{NodeConfig, TencentConfig},
    credentials::Credentials,
    identity::Identity,
    retry::{Backoff, Disposition},
    secret::Secret,
    tencent::{
        Answer, ApiError, Client,
        api::{self, HaVips, TaskStatus},
    },
};
use havip_tests::{
    fake_vpc::{CloudNode, FakeVpc, Fault},
    netns::{NetNs, unique_tag},
    require_root,
};

const ID: &str = "AKIDhavipTESTkey0000000000000000EXAMPLE";
const KEY: &str = "havip-test-secret-key-0123456789ab";
const HAVIP: &str = "havip-test0001";

struct Lab {
    vpc: FakeVpc,
    ns: NetNs,
}

fn lab() -> Lab {
    let ns = NetNs::new(&unique_tag(), "api").expect("namespace");
    let addr: SocketAddr = "127.0.0.1:8080".parse().expect("addr");
    let vpc = FakeVpc::start(&ns, addr, ID, KEY, "unused").expect("fake VPC");
    vpc.add_node(CloudNode {
        instance_id: "ins-a".into(),
        eni_id: "eni-a".into(),
        mac: [2, 0, 0, 0, 0, 0xa],
    });
    vpc.add_node(CloudNode {
        instance_id: "ins-b".into(),
        eni_id: "eni-b".into(),
        mac: [2, 0, 0, 0, 0, 0xb],
    });
    vpc.add_havip(HAVIP, Ipv4Addr::new(192, 0, 2, 200));
    vpc.assign_private_ip(Ipv4Addr::new(192, 0, 2, 201), "eni-a");
    Lab { vpc, ns }
}

fn client(endpoint: &str, key: &str, timeout: Duration, stats: &CloudStats) -> Client {
    let cfg = TencentConfig {
        region: "ap-guangzhou".into(),
        endpoint: Some(endpoint.to_owned()),
        secret_id: None,
        secret_key: None,
        credentials_file: None,
        request_timeout: timeout,
        token: None,
        credentials: None,
        role_name: None,
        metadata_url: None,
    };
    let creds = Credentials {
        secret_id: ID.into(),
        secret_key: Secret::new(key),
        token: None,
    };
    Client::new(&cfg, creds, stats.clone()).expect("client")
}

/// Runs `f` on a tokio runtime in a thread inside `ns` (where the server's loopback is).
fn inside<T: Send + 'static>(
    ns: &NetNs,
    f: impl FnOnce() -> std::pin::Pin<Box<dyn Future<Output = T> + Send>> + Send + 'static,
) -> T {
    ns.enter(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        Ok(rt.block_on(f()))
    })
    .expect("in namespace")
}

#[test]
fn signed_requests_are_answered_and_bad_signatures_refused() {
    if !require_root("signed_requests_are_answered_and_bad_signatures_refused") {
        return;
    }
    let lab = lab();
    let endpoint = lab.vpc.endpoint();
    let (good, wrong_key, tampered) = inside(&lab.ns, move || {
        Box::pin(async move {
            let stats = CloudStats::default();
            let c = client(&endpoint, KEY, Duration::from_secs(2), &stats);
            let good: Result<Answer<HaVips>, ApiError> = c
                .call(api::DESCRIBE_HA_VIPS, &api::describe_ha_vip(HAVIP))
                .await;
            let bad = client(&endpoint, "not-the-key", Duration::from_secs(2), &stats);
            let wrong_key = bad
                .call::<HaVips>(api::DESCRIBE_HA_VIPS, &api::describe_ha_vip(HAVIP))
                .await
                .err()
                .map(|e| (e.code().map(str::to_owned), e.disposition()));
            // A valid signature over one body, sent with another: the payload hash is checked.
            let ts = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            let host = endpoint.trim_start_matches("http://").to_owned();
            let signed = havip_agent::cloud::tc3::sign(
                ID,
                &Secret::new(KEY),
                &havip_agent::cloud::tc3::Request {
                    method: "POST",
                    canonical_uri: "/",
                    query: "",
                    headers: &[
                        ("content-type", "application/json; charset=utf-8"),
                        ("host", &host),
                        ("x-tc-action", "DescribeHaVips"),
                    ],
                    payload: br#"{"HaVipIds":["havip-test0001"]}"#,
                    service: "vpc",
                    timestamp: ts,
                },
            );
            let tampered =
                reqwest_post(&endpoint, &signed.authorization, ts, r#"{"HaVipIds":[]}"#).await;
            (good.map(|a| a.body), wrong_key, tampered)
        })
    });
    let set = good.expect("signed call answered").ha_vip_set.expect("set");
    assert_eq!(set.len(), 1);
    assert_eq!(set[0].ha_vip_id.as_deref(), Some(HAVIP));
    assert_eq!(set[0].vip.as_deref(), Some("192.0.2.200"));
    assert_eq!(set[0].bound_instance(), None, "nothing announced it yet");
    assert_eq!(
        wrong_key,
        Some((
            Some("AuthFailure.SignatureFailure".to_owned()),
            Disposition::GiveUp
        ))
    );
    assert!(
        tampered.contains("AuthFailure.SignatureFailure"),
        "{tampered}"
    );
    assert_eq!(lab.vpc.count("DescribeHaVips", "ok"), 1);
    assert_eq!(
        lab.vpc
            .count("DescribeHaVips", "AuthFailure.SignatureFailure"),
        2
    );
}

/// A raw POST with the agent's headers but a body of our choosing; returns the answer's text.
async fn reqwest_post(endpoint: &str, authorization: &str, ts: u64, body: &str) -> String {
    let http = reqwest::Client::builder().no_proxy().build().expect("http");
    let r = http
        .post(endpoint)
        .header("Authorization", authorization)
        .header("Content-Type", "application/json; charset=utf-8")
        .header("X-TC-Action", "DescribeHaVips")
        .header("X-TC-Timestamp", ts.to_string())
        .header("X-TC-Version", "2017-03-12")
        .header("X-TC-Region", "ap-guangzhou")
        .body(body.to_owned())
        .send()
        .await;
    match r {
        Ok(r) => r.text().await.unwrap_or_default(),
        Err(e) => e.to_string(),
    }
}

/// One `DescribeHaVips` through `call_retrying` with the backoff `(base, max)` and `deadline`
/// from now: whether it succeeded, its error code, and how long it took.
fn retrying(
    lab: &Lab,
    stats: &CloudStats,
    backoff: (Duration, Duration),
    deadline: Duration,
) -> (bool, Option<String>, Duration) {
    let (endpoint, stats) = (lab.vpc.endpoint(), stats.clone());
    inside(&lab.ns, move || {
        Box::pin(async move {
            let api_client = client(&endpoint, KEY, Duration::from_secs(2), &stats);
            let mut policy = Backoff::new(backoff.0, backoff.1);
            let started = Instant::now();
            let result = api_client
                .call_retrying::<HaVips>(
                    "test",
                    api::DESCRIBE_HA_VIPS,
                    &api::describe_ha_vip(HAVIP),
                    &mut policy,
                    Some(Instant::now() + deadline),
                )
                .await;
            let code = result
                .as_ref()
                .err()
                .and_then(|e| e.code().map(str::to_owned));
            (result.is_ok(), code, started.elapsed())
        })
    })
}

fn calls(stats: &CloudStats, outcome: &str) -> u64 {
    let key = (
        "test".to_owned(),
        "DescribeHaVips".to_owned(),
        outcome.to_owned(),
    );
    stats.snapshot().calls.get(&key).copied().unwrap_or(0)
}

#[test]
fn throttling_backs_off_until_the_api_recovers() {
    if !require_root("throttling_backs_off_until_the_api_recovers") {
        return;
    }
    let lab = lab();
    let stats = CloudStats::default();
    lab.vpc
        .set_fault(Fault::Error("RequestLimitExceeded".into()));
    let (ok, _, took) = std::thread::scope(|scope| {
        let call = scope.spawn(|| {
            retrying(
                &lab,
                &stats,
                (Duration::from_millis(100), Duration::from_secs(2)),
                Duration::from_secs(15),
            )
        });
        std::thread::sleep(Duration::from_millis(1500));
        lab.vpc.set_fault(Fault::None);
        call.join().expect("thread")
    });
    assert!(ok, "the call never got through after throttling");
    assert!(took >= Duration::from_millis(1400), "{took:?}");
    assert_eq!(calls(&stats, "ok"), 1);
    assert!(calls(&stats, "throttled") >= 1);
    assert_eq!(
        lab.vpc.count("DescribeHaVips", "RequestLimitExceeded") as u64,
        calls(&stats, "throttled")
    );
}

#[test]
fn a_lasting_internal_error_is_retried_until_the_deadline() {
    if !require_root("a_lasting_internal_error_is_retried_until_the_deadline") {
        return;
    }
    let lab = lab();
    let stats = CloudStats::default();
    lab.vpc.set_fault(Fault::Error("InternalError".into()));
    let (ok, code, took) = retrying(
        &lab,
        &stats,
        (Duration::from_millis(100), Duration::from_millis(400)),
        Duration::from_millis(1500),
    );
    assert!(!ok);
    assert_eq!(code.as_deref(), Some("InternalError"));
    assert!(took <= Duration::from_secs(3), "{took:?}");
    assert!(lab.vpc.count("DescribeHaVips", "InternalError") >= 3);
    assert_eq!(
        usize::try_from(calls(&stats, "retry")).unwrap_or(usize::MAX),
        lab.vpc.count("DescribeHaVips", "InternalError")
    );
}

/// One `DescribeHaVips` with `timeout`: whether it succeeded, whether it timed out, how long.
fn once(lab: &Lab, timeout: Duration) -> (bool, Option<(bool, Disposition)>, Duration) {
    let endpoint = lab.vpc.endpoint();
    inside(&lab.ns, move || {
        Box::pin(async move {
            let api_client = client(&endpoint, KEY, timeout, &CloudStats::default());
            let started = Instant::now();
            let result = api_client
                .call::<HaVips>(api::DESCRIBE_HA_VIPS, &api::describe_ha_vip(HAVIP))
                .await;
            let failure = result.as_ref().err().map(|e| {
                (
                    matches!(e, ApiError::Transport { timeout: true, .. }),
                    e.disposition(),
                )
            });
            (result.is_ok(), failure, started.elapsed())
        })
    })
}

#[test]
fn no_answer_times_out_and_a_slow_one_is_waited_for() {
    if !require_root("no_answer_times_out_and_a_slow_one_is_waited_for") {
        return;
    }
    let lab = lab();
    lab.vpc.set_fault(Fault::Hang);
    let (ok, failure, took) = once(&lab, Duration::from_millis(500));
    assert!(!ok);
    assert_eq!(failure, Some((true, Disposition::Retry)));
    assert!(took < Duration::from_secs(3), "{took:?}");

    lab.vpc.set_fault(Fault::Slow(Duration::from_millis(300)));
    let (ok, failure, took) = once(&lab, Duration::from_secs(2));
    assert!(ok, "slow answer within the timeout refused: {failure:?}");
    assert!(took >= Duration::from_millis(300), "{took:?}");
}

#[test]
fn private_ip_migration_runs_as_an_asynchronous_task() {
    if !require_root("private_ip_migration_runs_as_an_asynchronous_task") {
        return;
    }
    let lab = lab();
    let endpoint = lab.vpc.endpoint();
    let ip = Ipv4Addr::new(192, 0, 2, 201);
    let (first, status) = inside(&lab.ns, move || {
        Box::pin(async move {
            let stats = CloudStats::default();
            let c = client(&endpoint, KEY, Duration::from_secs(2), &stats);
            let task: Answer<api::Empty> = c
                .call(
                    api::MIGRATE_PRIVATE_IP_ADDRESS,
                    &api::migrate_private_ip("eni-a", "eni-b", ip),
                )
                .await
                .expect("migrate accepted");
            let first: Answer<api::TaskResult> = c
                .call(
                    api::DESCRIBE_VPC_TASK_RESULT,
                    &api::task_result(&task.request_id),
                )
                .await
                .expect("task");
            let status = c
                .wait_task(
                    "test",
                    &task.request_id,
                    Duration::from_millis(100),
                    Instant::now() + Duration::from_secs(5),
                )
                .await
                .expect("task result");
            (first.body.status(), status)
        })
    });
    assert_eq!(first, TaskStatus::Running, "the move is asynchronous");
    assert_eq!(status, TaskStatus::Success);
    assert_eq!(lab.vpc.private_ip_holder(ip).as_deref(), Some("eni-b"));
}

#[test]
fn instance_id_from_the_metadata_service() {
    if !require_root("instance_id_from_the_metadata_service") {
        return;
    }
    let lab = lab();
    lab.vpc.set_metadata_instance_id("ins-3g445roi\n");
    let base = format!("{}/latest/meta-data/", lab.vpc.endpoint());
    let (first, cached) = inside(&lab.ns, move || {
        Box::pin(async move {
            let identity = Identity::new(NodeConfig {
                metadata_url: Some(base),
                ..NodeConfig::default()
            });
            let first = identity.instance_id().await.map_err(|e| e.to_string());
            let cached = identity.instance_id().await.map_err(|e| e.to_string());
            (first, cached)
        })
    });
    assert_eq!(first.as_deref(), Ok("ins-3g445roi"));
    assert_eq!(cached, first);

    lab.vpc.set_metadata_instance_id("<html>not an id</html>");
    let base = format!("{}/latest/meta-data/", lab.vpc.endpoint());
    let bad = inside(&lab.ns, move || {
        Box::pin(async move {
            Identity::new(NodeConfig {
                metadata_url: Some(base),
                ..NodeConfig::default()
            })
            .instance_id()
            .await
            .map_err(|e| e.to_string())
        })
    });
    assert!(bad.is_err_and(|e| e.contains("not an identifier")));
}
