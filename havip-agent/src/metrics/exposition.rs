//! The two exposition formats and the choice between them.
//!
//! prometheus-client writes `OpenMetrics` 1.0 text. The Prometheus text format 0.0.4 (what a scraper
//! gets unless it asks for `OpenMetrics`, and what `promtool check metrics` reads) differs in ways a
//! 0.0.4 parser does not forgive, so [`to_prometheus_text`] rewrites the `OpenMetrics` text:
//!
//! | OpenMetrics 1.0                          | Prometheus 0.0.4                             |
//! |------------------------------------------|----------------------------------------------|
//! | `# TYPE x counter`, samples `x_total`    | `# TYPE x_total counter` (family = sample name) |
//! | `# TYPE x info`, sample `x_info`         | `# TYPE x_info gauge` (no info type)         |
//! | `# TYPE x stateset` / `unknown`          | `gauge` / `untyped`                          |
//! | `# UNIT x seconds`                       | dropped (no UNIT line)                       |
//! | `# EOF` terminator                       | dropped                                      |
//! | `\"` escaped in HELP                     | only `\\` and `\n` are escapes in HELP       |
//! | exemplars after ` # ` on a sample line   | dropped                                      |

use std::fmt::Write as _;

/// An exposition format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Prometheus text format 0.0.4.
    Prometheus,
    /// `OpenMetrics` 1.0 text.
    OpenMetrics,
}

impl Format {
    /// The `Content-Type` of a response in this format.
    #[must_use]
    pub const fn content_type(self) -> &'static str {
        match self {
            Self::Prometheus => "text/plain; version=0.0.4; charset=utf-8",
            Self::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }

    /// The format a request's `Accept` header prefers: `OpenMetrics` when it names
    /// `application/openmetrics-text` (version 1.0.0 or unversioned) with a weight at least that
    /// of the plain text format; the Prometheus text format otherwise, also when the header is
    /// absent or names neither (scrapers that ask for nothing in particular get the classic
    /// format rather than a 406).
    #[must_use]
    pub fn negotiate(accept: Option<&str>) -> Self {
        let Some(accept) = accept else {
            return Self::Prometheus;
        };
        let mut open = None::<f32>;
        let mut text = None::<f32>;
        for entry in accept.split(',') {
            let mut parts = entry.split(';').map(str::trim);
            let media = parts.next().unwrap_or_default().to_ascii_lowercase();
            let mut q = 1.0f32;
            let mut version = None;
            for p in parts {
                let Some((k, v)) = p.split_once('=') else {
                    continue;
                };
                match k.trim().to_ascii_lowercase().as_str() {
                    "q" => q = v.trim().parse().unwrap_or(0.0),
                    "version" => version = Some(v.trim().trim_matches('"').to_owned()),
                    _ => {}
                }
            }
            if q <= 0.0 {
                continue;
            }
            let slot = match media.as_str() {
                "application/openmetrics-text"
                    if version.as_deref().is_none_or(|v| v == "1.0.0") =>
                {
                    &mut open
                }
                "text/plain" if version.as_deref().is_none_or(|v| v == "0.0.4") => &mut text,
                "*/*" | "text/*" => &mut text,
                _ => continue,
            };
            *slot = Some(slot.map_or(q, |old| old.max(q)));
        }
        match (open, text) {
            (Some(o), Some(t)) if o >= t => Self::OpenMetrics,
            (Some(_), None) => Self::OpenMetrics,
            _ => Self::Prometheus,
        }
    }
}

/// Rewrites prometheus-client's `OpenMetrics` text into the Prometheus text format 0.0.4 (see the
/// module doc for what changes).
#[must_use]
pub fn to_prometheus_text(openmetrics: &str) -> String {
    let mut out = String::with_capacity(openmetrics.len());
    // HELP comes before TYPE, and the TYPE decides the family's 0.0.4 name.
    let mut help: Option<(&str, String)> = None;
    for line in openmetrics.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            flush_help(&mut out, help.take());
            let (name, text) = rest.split_once(' ').unwrap_or((rest, ""));
            help = Some((name, text.replace("\\\"", "\"")));
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap_or((rest, "untyped"));
            let (family, kind) = match kind {
                "counter" => (format!("{name}_total"), "counter"),
                "info" => (format!("{name}_info"), "gauge"),
                "stateset" => (name.to_owned(), "gauge"),
                "gauge" | "histogram" | "summary" => (name.to_owned(), kind),
                _ => (name.to_owned(), "untyped"),
            };
            match help.take() {
                Some((h, text)) if h == name => {
                    let _ = writeln!(out, "# HELP {family} {text}");
                }
                other => flush_help(&mut out, other),
            }
            let _ = writeln!(out, "# TYPE {family} {kind}");
        } else if line.starts_with("# UNIT ") || line == "# EOF" {
        } else {
            flush_help(&mut out, help.take());
            out.push_str(strip_exemplar(line));
            out.push('\n');
        }
    }
    flush_help(&mut out, help);
    out
}

fn flush_help(out: &mut String, help: Option<(&str, String)>) {
    if let Some((name, text)) = help {
        let _ = writeln!(out, "# HELP {name} {text}");
    }
}

/// A sample line without its exemplar (` # {...} value [timestamp]`), which 0.0.4 lacks. Label
/// values are skipped quote-aware, so a `#` inside one is kept.
fn strip_exemplar(line: &str) -> &str {
    if line.starts_with('#') {
        return line;
    }
    let bytes = line.as_bytes();
    let mut i = 0;
    let mut in_labels = false;
    let mut in_quotes = false;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'\\' if in_quotes => i += 1,
            b'"' if in_labels => in_quotes = !in_quotes,
            b'{' if !in_quotes => in_labels = true,
            b'}' if !in_quotes => in_labels = false,
            b'#' if !in_labels && !in_quotes => return line[..i].trim_end(),
            _ => {}
        }
        i += 1;
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_headers() {
        use Format::{OpenMetrics, Prometheus};
        // Prometheus 2.x's default scrape Accept header.
        let prom = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;\
                    version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        let cases = [
            (None, Prometheus),
            (Some(prom), OpenMetrics),
            (Some("application/openmetrics-text"), OpenMetrics),
            (Some("text/plain"), Prometheus),
            (Some("*/*"), Prometheus),
            (
                Some("text/plain;version=0.0.4;q=1,application/openmetrics-text;q=0.5"),
                Prometheus,
            ),
            (Some("application/openmetrics-text;q=0"), Prometheus),
            (
                Some("application/openmetrics-text; version=2.0.0"),
                Prometheus,
            ),
            (Some("application/json"), Prometheus),
            (Some("garbage;;;=,"), Prometheus),
            (
                Some("APPLICATION/OpenMetrics-Text; Version=\"1.0.0\""),
                OpenMetrics,
            ),
        ];
        for (accept, want) in cases {
            assert_eq!(Format::negotiate(accept), want, "{accept:?}");
        }
    }

    #[test]
    fn openmetrics_becomes_prometheus_text() {
        let om = "# HELP havip_adverts_sent Adverts sent.\n\
                  # TYPE havip_adverts_sent counter\n\
                  havip_adverts_sent_total{vrrp_instance=\"VI_1\"} 3\n\
                  # HELP havip_build Build \\\"info\\\".\n\
                  # TYPE havip_build info\n\
                  havip_build_info{version=\"0.1.0\"} 1\n\
                  # HELP havip_takeover_duration_seconds Takeover.\n\
                  # TYPE havip_takeover_duration_seconds histogram\n\
                  # UNIT havip_takeover_duration_seconds seconds\n\
                  havip_takeover_duration_seconds_sum 0.5\n\
                  havip_takeover_duration_seconds_count 1\n\
                  havip_takeover_duration_seconds_bucket{le=\"+Inf\"} 1 # {trace=\"a\"} 0.5\n\
                  # HELP havip_odd Odd.\n\
                  # TYPE havip_odd unknown\n\
                  havip_odd{v=\"a # b\"} 1\n\
                  # EOF\n";
        let want = "# HELP havip_adverts_sent_total Adverts sent.\n\
                    # TYPE havip_adverts_sent_total counter\n\
                    havip_adverts_sent_total{vrrp_instance=\"VI_1\"} 3\n\
                    # HELP havip_build_info Build \"info\".\n\
                    # TYPE havip_build_info gauge\n\
                    havip_build_info{version=\"0.1.0\"} 1\n\
                    # HELP havip_takeover_duration_seconds Takeover.\n\
                    # TYPE havip_takeover_duration_seconds histogram\n\
                    havip_takeover_duration_seconds_sum 0.5\n\
                    havip_takeover_duration_seconds_count 1\n\
                    havip_takeover_duration_seconds_bucket{le=\"+Inf\"} 1\n\
                    # HELP havip_odd Odd.\n\
                    # TYPE havip_odd untyped\n\
                    havip_odd{v=\"a # b\"} 1\n";
        assert_eq!(to_prometheus_text(om), want);
    }

    #[test]
    fn content_types() {
        assert!(
            Format::Prometheus
                .content_type()
                .starts_with("text/plain; version=0.0.4")
        );
        assert!(
            Format::OpenMetrics
                .content_type()
                .starts_with("application/openmetrics-text; version=1.0.0")
        );
    }
}
