//! Scraping an agent's metrics endpoint from inside its namespace, reading the Prometheus text
//! format, and `promtool`.

use std::{
    fmt::Write as _,
    io::{Read as _, Write as _},
    net::{SocketAddr, TcpStream},
    process::{Command, Stdio},
    time::Duration,
};

use anyhow::{Context as _, bail};

use crate::{in_ci, netns::NetNs};

/// Bound of one request (connect, send, read to the end).
const HTTP_LIMIT: Duration = Duration::from_secs(5);

/// An HTTP response.
#[derive(Clone, Debug)]
pub struct HttpResponse {
    /// Status code.
    pub status: u16,
    /// `Content-Type`, empty when absent.
    pub content_type: String,
    /// Body.
    pub body: String,
}

/// `GET path` from `addr`, connecting from a thread inside `ns` (so the endpoint may listen on
/// the namespace's loopback or on one of its addresses). `Connection: close`, bounded in time.
pub fn http_get(
    ns: &NetNs,
    addr: SocketAddr,
    path: &str,
    accept: Option<&str>,
) -> anyhow::Result<HttpResponse> {
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(a) = accept {
        let _ = write!(request, "Accept: {a}\r\n");
    }
    request.push_str("\r\n");
    let raw = ns.enter(move || {
        let mut s = TcpStream::connect_timeout(&addr, HTTP_LIMIT)
            .with_context(|| format!("connecting to {addr}"))?;
        s.set_read_timeout(Some(HTTP_LIMIT))?;
        s.set_write_timeout(Some(HTTP_LIMIT))?;
        s.write_all(request.as_bytes())?;
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).context("reading the response")?;
        Ok(buf)
    })?;
    parse_response(&raw)
}

/// `GET /metrics` from the agent endpoint `addr` inside `ns`, parsed; an error unless it answers
/// 200.
pub fn scrape_metrics(ns: &NetNs, addr: SocketAddr) -> anyhow::Result<Scrape> {
    let r = http_get(ns, addr, "/metrics", None)?;
    if r.status != 200 {
        bail!("GET /metrics from {addr}: status {}: {}", r.status, r.body);
    }
    Scrape::parse(&r.body)
}

fn parse_response(raw: &[u8]) -> anyhow::Result<HttpResponse> {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .context("no end of headers in the response")?;
    let mut lines = head.lines();
    let status_line = lines.next().unwrap_or_default();
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("bad status line {status_line:?}"))?;
    let mut content_type = String::new();
    let mut chunked = false;
    for l in lines {
        let Some((k, v)) = l.split_once(':') else {
            continue;
        };
        match k.trim().to_ascii_lowercase().as_str() {
            "content-type" => v.trim().clone_into(&mut content_type),
            "transfer-encoding" => chunked = v.to_ascii_lowercase().contains("chunked"),
            _ => {}
        }
    }
    let body = if chunked {
        dechunk(body)?
    } else {
        body.to_owned()
    };
    Ok(HttpResponse {
        status,
        content_type,
        body,
    })
}

fn dechunk(mut body: &str) -> anyhow::Result<String> {
    let mut out = String::new();
    loop {
        let (size, rest) = body.split_once("\r\n").context("truncated chunk")?;
        let size = usize::from_str_radix(size.trim(), 16).context("bad chunk size")?;
        if size == 0 {
            return Ok(out);
        }
        out.push_str(rest.get(..size).context("short chunk")?);
        body = rest.get(size + 2..).context("short chunk")?;
    }
}

/// One sample of the Prometheus text format.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    /// Metric name.
    pub name: String,
    /// Labels in order.
    pub labels: Vec<(String, String)>,
    /// Value.
    pub value: f64,
}

/// A parsed scrape.
#[derive(Clone, Debug, Default)]
pub struct Scrape {
    /// Every sample.
    pub samples: Vec<Sample>,
    /// Family names from `# TYPE` lines.
    pub families: Vec<String>,
    /// The text.
    pub text: String,
}

impl Scrape {
    /// Parses Prometheus text format 0.0.4 (labels unescaped).
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let mut out = Self {
            text: text.to_owned(),
            ..Self::default()
        };
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let name = rest.split_whitespace().next().unwrap_or_default();
                out.families.push(name.to_owned());
                continue;
            }
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            out.samples
                .push(parse_sample(line).with_context(|| format!("sample line {line:?}"))?);
        }
        Ok(out)
    }

    /// The value of the one sample named `name` whose labels include all of `labels`.
    /// `None` when there is none; an error when several match.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> anyhow::Result<Option<f64>> {
        let found: Vec<&Sample> = self.matching(name, labels).collect();
        match found.as_slice() {
            [] => Ok(None),
            [one] => Ok(Some(one.value)),
            _ => bail!("{} samples of {name} match {labels:?}", found.len()),
        }
    }

    /// Like [`Scrape::value`], 0 when absent.
    pub fn get(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.value(name, labels).ok().flatten().unwrap_or(0.0)
    }

    /// The sum of every sample named `name` whose labels include `labels`.
    #[must_use]
    pub fn sum(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.matching(name, labels).map(|s| s.value).sum()
    }

    /// Samples named `name` whose labels include all of `labels`.
    pub fn matching<'a>(
        &'a self,
        name: &'a str,
        labels: &'a [(&str, &str)],
    ) -> impl Iterator<Item = &'a Sample> + 'a {
        self.samples.iter().filter(move |s| {
            s.name == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.iter().any(|(sk, sv)| sk == k && sv == v))
        })
    }
}

fn parse_sample(line: &str) -> anyhow::Result<Sample> {
    let (name, rest) = match line.find('{') {
        Some(i) => (&line[..i], &line[i..]),
        None => line.split_once(' ').context("no value")?,
    };
    let (labels, rest) = match rest.strip_prefix('{') {
        Some(body) => parse_labels(body)?,
        None => (Vec::new(), rest),
    };
    let value_text = rest.split_whitespace().next().context("no value")?;
    let value = match value_text {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v.parse().with_context(|| format!("bad value {v:?}"))?,
    };
    Ok(Sample {
        name: name.trim().to_owned(),
        labels,
        value,
    })
}

/// Labels after the `{` up to the matching `}` (values unescaped), and what follows the `}`.
fn parse_labels(body: &str) -> anyhow::Result<(Vec<(String, String)>, &str)> {
    let mut labels = Vec::new();
    let mut chars = body.char_indices().peekable();
    loop {
        let start = match chars.peek() {
            Some(&(i, '}')) => return Ok((labels, &body[i + 1..])),
            Some(&(i, _)) => i,
            None => bail!("unterminated labels"),
        };
        let eq = chars
            .by_ref()
            .find(|&(_, c)| c == '=')
            .map(|(i, _)| i)
            .context("label without =")?;
        let key = body[start..eq].trim_start_matches(',').to_owned();
        if chars.next().map(|(_, c)| c) != Some('"') {
            bail!("label value not quoted");
        }
        let mut value = String::new();
        loop {
            match chars.next() {
                Some((_, '\\')) => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, c)) => value.push(c),
                    None => bail!("dangling escape"),
                },
                Some((_, '"')) => break,
                Some((_, c)) => value.push(c),
                None => bail!("unterminated label value"),
            }
        }
        labels.push((key, value));
        if let Some(&(_, ',')) = chars.peek() {
            chars.next();
        }
    }
}

/// Whether `promtool` can run. Without it: an error under `CI=true`, a loud SKIP line otherwise.
/// # Panics
/// Without promtool when `CI=true`.
pub fn promtool_available(what: &str) -> bool {
    let ok = Command::new("promtool")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            !in_ci(),
            "{what}: promtool (Debian's prometheus package) is required under CI=true"
        );
        eprintln!("SKIP {what}: promtool not installed (apt-get install prometheus)");
    }
    ok
}

/// Runs `promtool args...` with `stdin`, bounded by `timeout`; fails with its output unless it
/// exits 0.
pub fn promtool(args: &[&str], stdin: &str) -> anyhow::Result<String> {
    let mut child = Command::new("timeout")
        .arg("60")
        .arg("promtool")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("spawning promtool")?;
    if let Some(mut i) = child.stdin.take() {
        i.write_all(stdin.as_bytes())?;
    }
    let out = child.wait_with_output()?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if !out.status.success() {
        bail!(
            "promtool {} failed ({}):\n{text}",
            args.join(" "),
            out.status
        );
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_parse() {
        let text = "# HELP x_total X.\n# TYPE x_total counter\n\
                    x_total{a=\"1\",b=\"q\\\"uo,te}\"} 3\n\
                    y 2.5\n\
                    h_bucket{le=\"+Inf\",a=\"1\"} 4\n";
        let s = Scrape::parse(text).expect("parse");
        assert_eq!(s.families, vec!["x_total".to_owned()]);
        assert_eq!(
            s.value("x_total", &[("b", "q\"uo,te}")]).ok().flatten(),
            Some(3.0)
        );
        assert_eq!(s.get("y", &[]), 2.5);
        assert_eq!(s.get("h_bucket", &[("le", "+Inf")]), 4.0);
        assert_eq!(s.get("missing", &[]), 0.0);
    }

    #[test]
    fn responses_parse() {
        let raw =
            b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ntransfer-encoding: chunked\r\n\r\n\
                    5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
        let r = parse_response(raw).expect("parse");
        assert_eq!((r.status, r.content_type.as_str()), (200, "text/plain"));
        assert_eq!(r.body, "hello world");
    }
}
