//! The monitoring files shipped in `contrib/`: the Prometheus alert rules pass `promtool check
//! rules` and their unit tests (`promtool test rules`), the Grafana dashboard is valid JSON whose
//! every query is valid `PromQL`, and both use only metrics the README documents.

use std::{
    fmt::Write as _,
    path::{Path, PathBuf},
};

use havip_tests::scrape::{promtool, promtool_available};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

fn read(rel: &str) -> String {
    let p = root().join(rel);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Metric names (`havip_*`, `process_*`) in `text`.
fn metric_names(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (i, _) in text.match_indices(['h', 'p']) {
        let rest = &text[i..];
        if !(rest.starts_with("havip_") || rest.starts_with("process_")) {
            continue;
        }
        let before = text[..i].chars().next_back();
        if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
            continue;
        }
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
            .collect();
        if !out.contains(&name) {
            out.push(name);
        }
    }
    out
}

/// Every metric `text` uses is listed (in backticks) in the README; histogram series by family.
fn assert_documented(what: &str, text: &str) {
    let readme = read("README.md");
    let documented = |n: &str| readme.contains(&format!("`{n}`"));
    let names = metric_names(text);
    assert!(!names.is_empty(), "{what} uses no havip metric");
    for n in names {
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| n.strip_suffix(s))
            .unwrap_or(&n);
        assert!(
            documented(&n) || documented(family),
            "{what} uses {n}, which the README does not document"
        );
    }
}

#[test]
fn alert_rules_pass_promtool_and_their_unit_tests() {
    let rules = root().join("contrib/prometheus/havip-alerts.yml");
    assert_documented(
        "havip-alerts.yml",
        &read("contrib/prometheus/havip-alerts.yml"),
    );
    for alert in [
        "HavipNoMaster",
        "HavipTwoMasters",
        "HavipFlapping",
        "HavipLeaseExpired",
        "HavipCloudReportFailures",
        "HavipAuthHmacFailures",
    ] {
        assert!(
            read("contrib/prometheus/havip-alerts.yml").contains(&format!("alert: {alert}\n")),
            "no {alert} rule"
        );
        assert!(
            read("README.md").contains(alert),
            "{alert} is not documented"
        );
    }
    if !promtool_available("alert rules") {
        return;
    }
    let path = rules.to_str().expect("UTF-8 path");
    let out = promtool(&["check", "rules", path], "").expect("promtool check rules");
    assert!(out.contains("SUCCESS"), "{out}");
    let tests = root().join("contrib/prometheus/havip-alerts.test.yml");
    let out = promtool(&["test", "rules", tests.to_str().expect("UTF-8 path")], "")
        .expect("promtool test rules");
    assert!(out.contains("SUCCESS"), "{out}");
}

#[test]
fn dashboard_parses_and_its_queries_are_promql() {
    let text = read("contrib/grafana/havip.json");
    let dash: serde_json::Value = serde_json::from_str(&text).expect("the dashboard is JSON");
    assert_eq!(dash["title"], "havip");
    let panels = dash["panels"].as_array().expect("panels");
    let titles: Vec<&str> = panels.iter().filter_map(|p| p["title"].as_str()).collect();
    for want in [
        "Instance state",
        "State transitions",
        "ARP answers per VIP",
        "Dropped adverts by reason",
        "Takeover duration",
    ] {
        assert!(
            titles.iter().any(|t| t.starts_with(want)),
            "no {want:?} panel in {titles:?}"
        );
    }
    let timeline = panels
        .iter()
        .find(|p| p["title"] == "Instance state")
        .expect("state panel");
    assert_eq!(timeline["type"], "state-timeline");
    let exprs: Vec<String> = panels
        .iter()
        .flat_map(|p| p["targets"].as_array().cloned().unwrap_or_default())
        .filter_map(|t| t["expr"].as_str().map(str::to_owned))
        .collect();
    assert!(exprs.len() >= 15, "{exprs:?}");
    assert_documented("havip.json", &exprs.join("\n"));

    if !promtool_available("dashboard queries") {
        return;
    }
    // Every query as a recording rule, with Grafana's variables given values, so that
    // `promtool check rules` parses it as PromQL.
    let mut rules = String::from("groups:\n  - name: dashboard\n    rules:\n");
    for (i, e) in exprs.iter().enumerate() {
        let e = e
            .replace("$__rate_interval", "1m")
            .replace("$__range", "1h")
            .replace("$job", ".*")
            .replace("$vrid", ".*");
        let quoted = serde_json::to_string(&e).expect("quote");
        let _ = write!(
            rules,
            "      - record: havip:dashboard:query{i}\n        expr: {quoted}\n"
        );
    }
    let file = std::env::temp_dir().join(format!("havip-dashboard-{}.yml", std::process::id()));
    std::fs::write(&file, &rules).expect("write rules");
    let out = promtool(&["check", "rules", file.to_str().expect("UTF-8 path")], "");
    let _ = std::fs::remove_file(&file);
    let out = out.unwrap_or_else(|e| panic!("{e:#}\n{rules}"));
    assert!(out.contains("SUCCESS"), "{out}");
}
