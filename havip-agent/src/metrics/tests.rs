//! The exposition of a registered instance, in both formats, and the endpoint's answers (without
//! a socket: `respond` is called with built requests). The namespace test in `tests/` scrapes a
//! running agent over HTTP.

use std::{
    collections::HashSet,
    io::Write as _,
    net::Ipv4Addr,
    process::{Command, Stdio},
    time::Duration,
};

use hyper::{Method, Request, StatusCode, header};

use super::*;
use crate::vrrp::{Reason, State};

fn info() -> InstanceInfo {
    InstanceInfo {
        id: 4,
        mac: [2, 0, 0, 0, 0, 1],
        name: "VI_1".to_owned(),
        vrid: 51,
        ipv6: false,
        interface: "eth0".to_owned(),
        ifindex: 2,
        vips: vec![(Ipv4Addr::new(192, 0, 2, 200).into(), 2)],
        priority: 100,
        advert_interval: Duration::from_millis(100),
    }
}

const LABELS: &str = "vrrp_instance=\"VI_1\",vrid=\"51\",interface=\"eth0\"";

/// Checks the Prometheus 0.0.4 rules a parser enforces: one TYPE per family, before its
/// samples, and every sample named after the family it follows (histograms: `_bucket`, `_sum`,
/// `_count`).
fn check_prometheus_text(text: &str) {
    let mut typed = HashSet::new();
    let mut family: Option<(String, String)> = None;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("TYPE has a kind");
            assert!(typed.insert(name.to_owned()), "{name} typed twice");
            assert!(
                ["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind),
                "{line}"
            );
            if kind == "counter" {
                assert!(name.ends_with("_total"), "{line}");
            }
            family = Some((name.to_owned(), kind.to_owned()));
        } else if line.starts_with('#') {
            assert!(line.starts_with("# HELP "), "unexpected comment {line}");
        } else {
            let name = line.split(['{', ' ']).next().expect("a sample has a name");
            let (fam, kind) = family.as_ref().expect("a sample before any TYPE");
            let ok = name == fam
                || (kind == "histogram"
                    && ["_bucket", "_sum", "_count"]
                        .iter()
                        .any(|s| name == format!("{fam}{s}")));
            assert!(ok, "sample {name} under family {fam} ({kind})");
        }
    }
}

/// `promtool check metrics` on `text`: required under `CI=true`, skipped loudly otherwise when
/// promtool is not installed.
fn promtool(text: &str) {
    let child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
            assert!(!ci, "promtool is required under CI=true: {e}");
            eprintln!("SKIP promtool check: {e} (install Debian's prometheus package)");
            return;
        }
    };
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write to promtool");
    let out = child.wait_with_output().expect("promtool");
    assert!(
        out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
        "promtool check metrics: {}\n{}{}\n{text}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn value_of(text: &str, series: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ').map(str::to_owned))
}

#[test]
fn a_backup_that_took_over_reads_as_such() {
    let m = Metrics::new();
    let mut im = m.register_instance(info());
    let t = crate::vrrp::Instant::from_millis(10_000);
    im.transition(t, State::Initialize, State::Backup, Reason::Startup);
    im.transition(t, State::Backup, State::Master, Reason::MasterDown);
    im.granted_at(t.as_nanos() + 1_000_000);
    im.garps_sent_at(1, t.as_nanos() + 2_000_000);
    im.advert_sent();
    let text = m.render(Format::Prometheus).expect("render");
    check_prometheus_text(&text);
    for (series, want) in [
        (
            format!("havip_instance_state{{{LABELS},state=\"MASTER\"}}"),
            "1",
        ),
        (
            format!("havip_instance_state{{{LABELS},state=\"BACKUP\"}}"),
            "0",
        ),
        (
            format!("havip_instance_state{{{LABELS},state=\"INIT\"}}"),
            "0",
        ),
        (
            format!(
                "havip_state_transitions_total{{{LABELS},from=\"BACKUP\",to=\"MASTER\",\
                 reason=\"master_down\"}}"
            ),
            "1",
        ),
        // Known but not (yet) taken transitions are there at zero, for increase().
        (
            format!(
                "havip_state_transitions_total{{{LABELS},from=\"BACKUP\",to=\"MASTER\",\
                 reason=\"priority_zero\"}}"
            ),
            "0",
        ),
        (format!("havip_adverts_sent_total{{{LABELS}}}"), "1"),
        (format!("havip_garps_sent_total{{{LABELS}}}"), "1"),
        (format!("havip_instance_priority{{{LABELS}}}"), "100"),
        (
            format!(
                "havip_takeover_duration_seconds_count{{{LABELS},stage=\"announced\",\
                 reason=\"master_down\"}}"
            ),
            "1",
        ),
        (
            format!(
                "havip_takeover_duration_seconds_bucket{{le=\"0.0025\",{LABELS},\
                 stage=\"announced\",reason=\"master_down\"}}"
            ),
            "1",
        ),
        (
            format!(
                "havip_takeover_duration_seconds_bucket{{le=\"0.001\",{LABELS},\
                 stage=\"announced\",reason=\"master_down\"}}"
            ),
            "0",
        ),
        ("havip_ready".to_owned(), "0"),
    ] {
        assert_eq!(
            value_of(&text, &series).as_deref(),
            Some(want),
            "{series}\n{text}"
        );
    }
    assert!(
        text.contains("havip_build_info{version=\"")
            && text.contains("# TYPE havip_build_info gauge"),
        "{text}"
    );
    assert!(
        text.contains("# TYPE process_cpu_seconds_total counter"),
        "{text}"
    );
    assert!(
        !text.contains("# EOF") && !text.contains("# UNIT"),
        "{text}"
    );
    // Without a data plane, nothing kernel-side is invented.
    assert!(!text.contains("havip_xdp_") && !text.contains("havip_instance_owned"));
    // Nor for hooks nobody called.
    assert!(!text.contains("havip_cloud_") && !text.contains("havip_track_"));
    promtool(&text);
}

#[test]
fn openmetrics_is_prometheus_clients_own() {
    let m = Metrics::new();
    let _im = m.register_instance(info());
    let text = m.render(Format::OpenMetrics).expect("render");
    assert!(text.ends_with("# EOF\n"), "{text}");
    assert!(text.contains("# TYPE havip_build info\n"), "{text}");
    assert!(
        text.contains("# TYPE havip_state_transitions counter\n"),
        "{text}"
    );
    assert!(
        text.contains("# UNIT havip_instance_master_down_interval_seconds seconds\n"),
        "{text}"
    );
}

#[test]
fn hooks_export_only_what_was_recorded() {
    let m = Metrics::new();
    m.track_script_status("chk_haproxy", false);
    m.track_script_run("chk_haproxy", Outcome::Timeout);
    m.track_interface_status("eth1", true);
    m.notify_run("/etc/havip/notify.sh", Outcome::Failure);
    m.cloud_report(
        "tencent",
        "VI_1",
        Outcome::Success,
        Duration::from_millis(80),
    );
    m.cloud_report("tencent", "VI_1", Outcome::Failure, Duration::from_secs(3));
    let text = m.render(Format::Prometheus).expect("render");
    check_prometheus_text(&text);
    for (series, want) in [
        ("havip_track_script_up{script=\"chk_haproxy\"}", "0"),
        (
            "havip_track_script_runs_total{script=\"chk_haproxy\",outcome=\"timeout\"}",
            "1",
        ),
        ("havip_track_interface_up{interface=\"eth1\"}", "1"),
        (
            "havip_notify_runs_total{script=\"/etc/havip/notify.sh\",outcome=\"failure\"}",
            "1",
        ),
        (
            "havip_cloud_reports_total{provider=\"tencent\",vrrp_instance=\"VI_1\",outcome=\"failure\"}",
            "1",
        ),
        (
            "havip_cloud_report_duration_seconds_count{provider=\"tencent\"}",
            "2",
        ),
        (
            "havip_cloud_report_duration_seconds_bucket{le=\"0.1\",provider=\"tencent\"}",
            "1",
        ),
    ] {
        assert_eq!(
            value_of(&text, series).as_deref(),
            Some(want),
            "{series}\n{text}"
        );
    }
    promtool(&text);
}

fn request(method: Method, path: &str, accept: Option<&str>) -> Request<()> {
    let mut b = Request::builder().method(method).uri(path);
    if let Some(a) = accept {
        b = b.header(header::ACCEPT, a);
    }
    b.body(()).expect("request")
}

fn content_type(r: &hyper::Response<http_body_util::Full<bytes::Bytes>>) -> &str {
    r.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

#[test]
fn endpoint_answers() {
    let m = Metrics::new();
    let mut im = m.register_instance(info());
    let respond = |method, path, accept| server::respond(&m, &request(method, path, accept));

    let r = respond(Method::GET, "/metrics", None);
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(content_type(&r), Format::Prometheus.content_type());
    let r = respond(
        Method::GET,
        "/metrics",
        Some("application/openmetrics-text;version=1.0.0"),
    );
    assert_eq!(content_type(&r), Format::OpenMetrics.content_type());

    assert_eq!(
        respond(Method::GET, "/healthz", None).status(),
        StatusCode::SERVICE_UNAVAILABLE,
        "before the first heartbeat"
    );
    m.heartbeat();
    assert_eq!(
        respond(Method::GET, "/healthz", None).status(),
        StatusCode::OK
    );

    assert_eq!(
        respond(Method::GET, "/readyz", None).status(),
        StatusCode::SERVICE_UNAVAILABLE
    );
    m.set_dataplane_attached(true);
    assert_eq!(
        respond(Method::GET, "/readyz", None).status(),
        StatusCode::SERVICE_UNAVAILABLE,
        "the instance is still in INIT"
    );
    im.transition(
        crate::vrrp::Instant::from_millis(1),
        State::Initialize,
        State::Backup,
        Reason::Startup,
    );
    assert_eq!(
        respond(Method::GET, "/readyz", None).status(),
        StatusCode::OK
    );
    assert_eq!(
        respond(Method::GET, "/nope", None).status(),
        StatusCode::NOT_FOUND
    );
    let r = respond(Method::POST, "/metrics", None);
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert!(r.headers().contains_key(header::ALLOW));
}

/// The published events an instance's life produces, recorded by the metrics subscriber.
mod recorded {
    use std::sync::{Arc, atomic::AtomicU64};

    use super::*;
    use crate::events::{Event, InstanceView};

    fn added(m: &Metrics) -> Recorder {
        let mut r = Recorder::new(m.clone());
        r.apply(&Event::InstanceAdded(Arc::new(info())));
        r
    }

    fn series(text: &str, name: &str, extra: &str) -> Option<String> {
        value_of(text, &format!("{name}{{{LABELS}{extra}}}"))
    }

    #[test]
    fn rejected_adverts_are_counted_by_reason() {
        let m = Metrics::new();
        let mut r = added(&m);
        for reason in ["address_mismatch", "address_mismatch", "auth_mismatch"] {
            r.apply(&Event::AdvertRejected { id: 4, reason });
        }
        // Another instance's events do not count here.
        r.apply(&Event::AdvertRejected {
            id: 5,
            reason: "own_address",
        });
        let text = m.render(Format::Prometheus).expect("render");
        check_prometheus_text(&text);
        let rejected = |reason: &str| {
            series(
                &text,
                "havip_adverts_rejected_total",
                &format!(",reason=\"{reason}\""),
            )
        };
        assert_eq!(rejected("address_mismatch").as_deref(), Some("2"), "{text}");
        assert_eq!(rejected("auth_mismatch").as_deref(), Some("1"), "{text}");
        assert_eq!(rejected("own_address"), None, "{text}");
    }

    #[test]
    fn clamped_intervals_and_suppressed_garps_are_counted() {
        let m = Metrics::new();
        let mut r = added(&m);
        let text = m.render(Format::Prometheus).expect("render");
        // Exported at zero from the start, so increase() sees the first one.
        assert_eq!(
            series(&text, "havip_learned_interval_clamped_total", "").as_deref(),
            Some("0"),
            "{text}"
        );
        r.apply(&Event::IntervalClamped {
            id: 4,
            src: Ipv4Addr::new(192, 0, 2, 12).into(),
            advertised: Duration::from_secs(40),
            learned: Duration::from_millis(400),
        });
        for _ in 0..3 {
            r.apply(&Event::GarpSuppressed { id: 4 });
        }
        let text = m.render(Format::Prometheus).expect("render");
        check_prometheus_text(&text);
        assert_eq!(
            series(&text, "havip_learned_interval_clamped_total", "").as_deref(),
            Some("1"),
            "{text}"
        );
        assert_eq!(
            series(&text, "havip_garps_suppressed_total", "").as_deref(),
            Some("3"),
            "{text}"
        );
    }

    #[test]
    fn every_garp_round_counts_including_re_announces() {
        let m = Metrics::new();
        let mut r = added(&m);
        let t = crate::vrrp::Instant::from_millis(1_000);
        r.apply(&Event::StateChanged {
            id: 4,
            at_ns: t.as_nanos(),
            from: State::Backup,
            to: State::Master,
            reason: Reason::MasterDown,
            priority: 100,
            master: None,
        });
        r.apply(&Event::Granted {
            id: 4,
            at_ns: t.as_nanos() + 1_000_000,
        });
        // The takeover's GARP, then a re-announce the cloud reporter asked for: the daemon
        // publishes both the same way, as `status` counts both.
        for k in 2..4 {
            r.apply(&Event::GarpSent {
                id: 4,
                frames: 1,
                at_ns: t.as_nanos() + k * 1_000_000,
            });
        }
        r.apply(&Event::Updated {
            id: 4,
            view: InstanceView {
                state: State::Master,
                effective_priority: 100,
                master: Some((Ipv4Addr::new(192, 0, 2, 11).into(), 100)),
                learned_interval: Duration::from_millis(100),
                master_down_interval: Duration::from_millis(360),
            },
        });
        let text = m.render(Format::Prometheus).expect("render");
        assert_eq!(
            series(&text, "havip_garps_sent_total", "").as_deref(),
            Some("2"),
            "{text}"
        );
        // Only the first GARP after the grant completes the takeover.
        assert_eq!(
            series(
                &text,
                "havip_takeover_duration_seconds_count",
                ",stage=\"announced\",reason=\"master_down\""
            )
            .as_deref(),
            Some("1"),
            "{text}"
        );
        assert_eq!(
            series(&text, "havip_instance_state", ",state=\"MASTER\"").as_deref(),
            Some("1"),
            "{text}"
        );
    }

    #[test]
    fn a_removed_instance_is_no_longer_exported_and_drops_are() {
        let m = Metrics::new();
        let mut r = added(&m);
        let dropped = Arc::new(AtomicU64::new(7));
        m.export_event_drops("metrics", dropped);
        r.apply(&Event::InstanceRemoved { id: 4 });
        let text = m.render(Format::Prometheus).expect("render");
        check_prometheus_text(&text);
        assert!(!text.contains("vrrp_instance=\"VI_1\""), "{text}");
        assert_eq!(
            value_of(&text, "havip_events_dropped_total{subscriber=\"metrics\"}").as_deref(),
            Some("7"),
            "{text}"
        );
    }
}

#[test]
fn timer_lateness_is_a_histogram_of_the_loops_wake_ups() {
    let m = Metrics::new();
    m.timer_lateness(Duration::from_micros(20));
    m.timer_lateness(Duration::from_micros(700));
    let text = m.render(Format::Prometheus).expect("render");
    check_prometheus_text(&text);
    assert!(
        text.contains("# TYPE havip_timer_lateness_seconds histogram"),
        "{text}"
    );
    assert!(
        text.contains("havip_timer_lateness_seconds_count{} 2"),
        "{text}"
    );
    // 20 µs is at most 25 µs; 700 µs is not within 500 µs, but within 1 ms.
    assert!(
        text.contains("havip_timer_lateness_seconds_bucket{le=\"0.000025\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("havip_timer_lateness_seconds_bucket{le=\"0.0005\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("havip_timer_lateness_seconds_bucket{le=\"0.001\"} 2"),
        "{text}"
    );
}
