//! Provider `webhook`: POSTs every state change of an instance as a JSON event, signed with
//! HMAC-SHA256, retried with backoff until the receiver takes it or a newer state replaces it.
//!
//! ```text
//! POST <url>
//! Content-Type: application/json
//! X-Havip-Event-Id: <node>/<instance>/<sequence>      (also Idempotency-Key)
//! X-Havip-Timestamp: <unix seconds of this attempt>
//! X-Havip-Signature: sha256=<hex HMAC-SHA256(key, timestamp + "." + body)>
//!
//! {"event_id":"lb-1/VI_1/1754000000123","sequence":1754000000123,
//!  "node":{"name":"lb-1","instance_id":"ins-a"},"instance":"VI_1","vrid":51,
//!  "vips":["192.0.2.200"],"state":"MASTER","previous_state":"BACKUP","reason":"master down",
//!  "timestamp":"2026-08-01T10:00:00.123Z"}
//! ```
//!
//! Idempotent for the receiver: every attempt of one event carries the same `event_id` and
//! body; `sequence` grows with every event of this agent, across restarts (it starts at the
//! Unix time in ms), so a receiver keeps the highest it has seen per instance and ignores older
//! ones. Coalesced states leave gaps in the sequence; that is expected.

use std::{
    path::Path,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use serde_json::json;
use tracing::{info, warn};

use super::{
    InstanceInfo, Ownership,
    config::WebhookConfig,
    identity::Identity,
    reporter::Reporter,
    retry::{Backoff, Disposition},
    secret::Secret,
    stats::CloudStats,
    tc3::{hmac_sha256, utc_date},
};

/// The provider's name.
pub const NAME: &str = "webhook";
/// First retry delay.
const RETRY_BASE: Duration = Duration::from_millis(500);
/// Longest retry delay.
const RETRY_MAX: Duration = Duration::from_secs(60);

/// The signing key of `cfg`: `secret`, else the content of `secret_file` (trailing newline
/// dropped).
pub fn key(cfg: &WebhookConfig) -> std::io::Result<Secret> {
    match (&cfg.secret, &cfg.secret_file) {
        (Some(s), _) => Ok(s.clone()),
        (None, Some(path)) => read_key(path),
        (None, None) => Err(std::io::Error::other("no key")),
    }
}

fn read_key(path: &Path) -> std::io::Result<Secret> {
    let text = std::fs::read_to_string(path)?;
    Ok(Secret::new(text.trim_end_matches(['\n', '\r'])))
}

/// Where the sequence of a new agent starts: the Unix time in milliseconds.
#[must_use]
pub fn initial_sequence() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// `X-Havip-Signature` of `body` sent at `timestamp`.
#[must_use]
pub fn signature(key: &Secret, timestamp: u64, body: &str) -> String {
    let mac = hmac_sha256(
        key.expose().as_bytes(),
        format!("{timestamp}.{body}").as_bytes(),
    );
    format!("sha256={}", hex::encode(mac))
}

/// RFC 3339 UTC time with milliseconds: `2026-08-01T10:00:00.123Z`.
#[must_use]
pub fn rfc3339(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let day = secs % 86_400;
    format!(
        "{}T{:02}:{:02}:{:02}.{:03}Z",
        utc_date(secs),
        day / 3600,
        day % 3600 / 60,
        day % 60,
        d.subsec_millis()
    )
}

/// Reports one instance to one webhook.
#[derive(Debug)]
pub struct WebhookReporter {
    url: String,
    key: Secret,
    http: Option<reqwest::Client>,
    info: InstanceInfo,
    node: String,
    identity: Identity,
    sequence: Arc<AtomicU64>,
    stats: CloudStats,
}

impl WebhookReporter {
    /// A reporter of `info` to `cfg`'s URL.
    #[must_use]
    pub fn new(
        cfg: &WebhookConfig,
        key: Secret,
        info: InstanceInfo,
        node: String,
        identity: Identity,
        sequence: Arc<AtomicU64>,
        stats: CloudStats,
    ) -> Self {
        let http = reqwest::Client::builder()
            .timeout(cfg.timeout)
            .connect_timeout(cfg.timeout)
            .user_agent(concat!("havip/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .inspect_err(|e| warn!(provider = NAME, error = %e, "webhook client unavailable"))
            .ok();
        Self {
            url: cfg.url.clone(),
            key,
            http,
            info,
            node,
            identity,
            sequence,
            stats,
        }
    }

    /// The event for `change` with `sequence`.
    async fn event(&self, change: &Ownership, sequence: u64) -> (String, String) {
        let event_id = format!("{}/{}/{sequence}", self.node, self.info.name);
        let instance_id = self.identity.instance_id().await.ok();
        let body = json!({
            "event_id": event_id,
            "sequence": sequence,
            "node": { "name": self.node, "instance_id": instance_id },
            "instance": self.info.name,
            "vrid": self.info.vrid,
            "vips": self.info.vips.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "state": change.state.as_str(),
            "previous_state": change.previous.as_str(),
            "reason": change.reason,
            "timestamp": rfc3339(change.wall),
        });
        (event_id, body.to_string())
    }

    /// One POST; `Ok` on 2xx.
    async fn post(&self, event_id: &str, body: &str) -> Result<(), (Disposition, String)> {
        let Some(http) = &self.http else {
            return Err((Disposition::GiveUp, "no HTTP client".to_owned()));
        };
        let timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let response = http
            .post(&self.url)
            .header("Content-Type", "application/json")
            .header("X-Havip-Event-Id", event_id)
            .header("Idempotency-Key", event_id)
            .header("X-Havip-Timestamp", timestamp.to_string())
            .header("X-Havip-Signature", signature(&self.key, timestamp, body))
            .body(body.to_owned())
            .send()
            .await
            .map_err(|e| (Disposition::Retry, e.to_string()))?;
        let status = response.status().as_u16();
        match status {
            200..=299 => Ok(()),
            429 => Err((Disposition::BackOff, format!("HTTP {status}"))),
            408 | 500..=599 => Err((Disposition::Retry, format!("HTTP {status}"))),
            _ => Err((Disposition::GiveUp, format!("HTTP {status}"))),
        }
    }
}

impl Reporter for WebhookReporter {
    fn provider(&self) -> &'static str {
        NAME
    }

    fn instance(&self) -> &str {
        &self.info.name
    }

    async fn apply(&mut self, change: &Ownership) {
        let sequence = self.sequence.fetch_add(1, Ordering::Relaxed);
        let (event_id, body) = self.event(change, sequence).await;
        let mut backoff = Backoff::new(RETRY_BASE, RETRY_MAX);
        loop {
            match self.post(&event_id, &body).await {
                Ok(()) => {
                    self.stats.call(NAME, "POST", "ok");
                    self.stats.report(NAME, &self.info.name, "delivered");
                    info!(provider = NAME, instance = %self.info.name, event_id = %event_id,
                        state = %change.state, attempts = backoff.attempts() + 1, "event delivered");
                    return;
                }
                Err((kind, what)) => {
                    self.stats.call(NAME, "POST", kind.as_str());
                    if kind == Disposition::GiveUp {
                        self.stats.report(NAME, &self.info.name, "failed");
                        warn!(provider = NAME, instance = %self.info.name, event_id = %event_id,
                            error = %what, "webhook refused the event; not retrying");
                        return;
                    }
                    let delay = backoff.next_delay(kind);
                    warn!(provider = NAME, instance = %self.info.name, event_id = %event_id,
                        error = %what, retry_in_ms = delay.as_millis(), "webhook failed; retrying");
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }

    fn reconcile_interval(&self, _change: &Ownership) -> Option<Duration> {
        None
    }

    async fn reconcile(&mut self, _change: &Ownership) {}

    fn superseded(&mut self, _change: &Ownership) {
        self.stats.report(NAME, &self.info.name, "superseded");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_hmac_of_timestamp_dot_body() {
        // Independent value: Python hmac.new(b"k", b"1700000000.{}", sha256).hexdigest().
        assert_eq!(
            signature(&Secret::new("k"), 1_700_000_000, "{}"),
            "sha256=c6ef4734033cee2367414a0939385eca0397754aa7a59716da7463a9298b5146"
        );
    }

    #[test]
    fn timestamps_are_rfc3339_utc() {
        let t = UNIX_EPOCH + Duration::from_millis(1_551_113_065_123);
        assert_eq!(rfc3339(t), "2019-02-25T16:44:25.123Z");
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
    }

    #[test]
    fn sequence_starts_at_the_clock() {
        let a = initial_sequence();
        assert!(a > 1_700_000_000_000, "{a}");
    }
}
