//! A client of the Tencent Cloud VPC API (version 2017-03-12): JSON over HTTPS POST, signed with
//! TC3-HMAC-SHA256 ([`super::tc3`]), every answer in the envelope
//! `{"Response": {..., "RequestId": ".."}}` or `{"Response": {"Error": {"Code", "Message"},
//! "RequestId"}}`. Failures are sorted by what can be done about them ([`Disposition`]);
//! [`Client::call_retrying`] retries the ones worth retrying with backoff.
//!
//! Nothing an API answer contains can make this panic: the body is size-limited, parsed as
//! JSON, and read field by field.

pub mod api;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::de::DeserializeOwned;
use tracing::{debug, warn};

use super::{
    config::TencentConfig,
    credentials::Credentials,
    errors,
    metadata::MetadataError,
    retry::{Backoff, Disposition},
    role::KeySource,
    rpc,
    stats::CloudStats,
    tc3,
};

/// The product signed into the credential scope.
pub const SERVICE: &str = "vpc";
/// The API version of every VPC action used here.
pub const VERSION: &str = "2017-03-12";
const CONTENT_TYPE: &str = "application/json; charset=utf-8";

/// Why a client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The endpoint is not a usable URL.
    #[error("cloud.tencent.endpoint: `{endpoint}` is not an http(s) URL with a host")]
    Endpoint {
        /// The endpoint.
        endpoint: String,
    },
    /// The HTTP client could not be built (TLS setup).
    #[error("building the HTTP client: {source}")]
    Http {
        /// The cause.
        #[source]
        source: reqwest::Error,
    },
}

/// A failed API call.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No answer: connection refused, reset, or the request timed out.
    #[error("{action}: {}: {source}", if *timeout { "request timed out" } else { "transport error" })]
    Transport {
        /// The action.
        action: String,
        /// Whether the request timed out.
        timeout: bool,
        /// The cause.
        #[source]
        source: reqwest::Error,
    },
    /// An HTTP status without the API's JSON envelope.
    #[error("{action}: HTTP {status} without an API answer")]
    Http {
        /// The action.
        action: String,
        /// The status code.
        status: u16,
    },
    /// The API answered with an error.
    #[error("{action}: {code}: {message} (RequestId {request_id})")]
    Api {
        /// The action.
        action: String,
        /// `Error.Code`, e.g. `RequestLimitExceeded`.
        code: String,
        /// `Error.Message`.
        message: String,
        /// `RequestId`, for Tencent's support.
        request_id: String,
    },
    /// No credentials to sign with (the metadata service failed).
    #[error("{action}: no credentials: {source}")]
    Credentials {
        /// The action.
        action: String,
        /// The cause.
        #[source]
        source: MetadataError,
    },
    /// The answer is not what the API documents.
    #[error("{action}: malformed answer: {what}")]
    Decode {
        /// The action.
        action: String,
        /// What is wrong.
        what: String,
    },
}

impl ApiError {
    /// What to do about it.
    #[must_use]
    pub fn disposition(&self) -> Disposition {
        match self {
            Self::Transport { .. } | Self::Decode { .. } | Self::Credentials { .. } => {
                Disposition::Retry
            }
            Self::Http { status, .. } => Disposition::of_http_status(*status),
            Self::Api { code, .. } => classify(code),
        }
    }

    /// The class of the API's error code, if it answered with one.
    #[must_use]
    pub fn class(&self) -> Option<errors::Class> {
        self.code().map(|c| errors::classify(errors::TENCENT, c))
    }

    /// The API error code, if the API answered with one.
    #[must_use]
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Api { code, .. } => Some(code),
            _ => None,
        }
    }
}

/// What an API error code means for a retry: its class in Tencent's row of the error table
/// ([`super::errors::TENCENT`]).
#[must_use]
pub fn classify(code: &str) -> Disposition {
    errors::classify(errors::TENCENT, code).disposition()
}

/// A successful answer: the fields of `Response` and its `RequestId`.
#[derive(Debug)]
pub struct Answer<T> {
    /// The typed `Response`.
    pub body: T,
    /// `Response.RequestId` (the task id of asynchronous actions).
    pub request_id: String,
}

/// A VPC API client for one region and key pair.
#[derive(Clone, Debug)]
pub struct Client {
    http: reqwest::Client,
    url: reqwest::Url,
    host: String,
    region: String,
    keys: KeySource,
    stats: CloudStats,
}

impl Client {
    /// A client for `cfg` with the fixed `creds`, counting calls into `stats`.
    pub fn new(
        cfg: &TencentConfig,
        creds: Credentials,
        stats: CloudStats,
    ) -> Result<Self, ClientError> {
        Self::with_keys(cfg, KeySource::Static(creds), stats)
    }

    /// A client for `cfg` signing with what `keys` gives (fixed or role credentials).
    pub fn with_keys(
        cfg: &TencentConfig,
        keys: KeySource,
        stats: CloudStats,
    ) -> Result<Self, ClientError> {
        let (http, url, host) = rpc::http_client(cfg.endpoint(), cfg.request_timeout)?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(ClientError::Endpoint {
                endpoint: cfg.endpoint().to_owned(),
            });
        }
        Ok(Self {
            http,
            url,
            host,
            region: cfg.region.clone(),
            keys,
            stats,
        })
    }

    /// Calls `action` once with `payload`.
    pub async fn call<T: DeserializeOwned>(
        &self,
        action: &str,
        payload: &serde_json::Value,
    ) -> Result<Answer<T>, ApiError> {
        let body = payload.to_string();
        let timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let creds = self
            .keys
            .current()
            .await
            .map_err(|source| ApiError::Credentials {
                action: action.to_owned(),
                source,
            })?;
        let signed = tc3::sign(
            &creds.secret_id,
            &creds.secret_key,
            &tc3::Request {
                method: "POST",
                canonical_uri: "/",
                query: "",
                headers: &[
                    ("content-type", CONTENT_TYPE),
                    ("host", &self.host),
                    ("x-tc-action", action),
                ],
                payload: body.as_bytes(),
                service: SERVICE,
                timestamp,
            },
        );
        let transport = |source: reqwest::Error| ApiError::Transport {
            action: action.to_owned(),
            timeout: source.is_timeout(),
            source,
        };
        let mut request = self
            .http
            .post(self.url.clone())
            .header("Authorization", signed.authorization)
            .header("Content-Type", CONTENT_TYPE)
            .header("Host", &self.host)
            .header("X-TC-Action", action)
            .header("X-TC-Timestamp", timestamp.to_string())
            .header("X-TC-Version", VERSION)
            .header("X-TC-Region", &self.region);
        if let Some(token) = &creds.token {
            // Temporary credentials: the token travels beside the signature (not signed, as
            // Tencent's signing rules only cover the headers listed in SignedHeaders).
            request = request.header("X-TC-Token", token.expose());
        }
        let response = request.body(body).send().await.map_err(transport)?;
        let (status, bytes) = rpc::read_body_with(response, transport, |what| ApiError::Decode {
            action: action.to_owned(),
            what,
        })
        .await?;
        parse_answer(action, status, &bytes)
    }

    /// Calls `action` until it succeeds, a failure is not worth retrying, or retrying would
    /// pass `deadline`; waits per `backoff` between tries. Every try is counted under
    /// `provider` and logged (failures at WARN, without secrets).
    pub async fn call_retrying<T: DeserializeOwned>(
        &self,
        provider: &str,
        action: &str,
        payload: &serde_json::Value,
        backoff: &mut Backoff,
        deadline: Option<Instant>,
    ) -> Result<Answer<T>, ApiError> {
        loop {
            let started = Instant::now();
            match self.call::<T>(action, payload).await {
                Ok(answer) => {
                    self.stats.call(provider, action, "ok");
                    debug!(
                        provider,
                        action,
                        request_id = %answer.request_id,
                        elapsed_ms = started.elapsed().as_millis(),
                        "cloud API call"
                    );
                    backoff.reset();
                    return Ok(answer);
                }
                Err(e) => {
                    let kind = e.disposition();
                    self.stats.call(provider, action, kind.as_str());
                    if kind == Disposition::GiveUp {
                        warn!(provider, action, error = %e,
                            class = e.class().map_or("http", errors::Class::as_str),
                            "cloud API call failed; not retrying");
                        return Err(e);
                    }
                    let delay = backoff.next_delay(kind);
                    if deadline.is_some_and(|d| Instant::now() + delay > d) {
                        warn!(provider, action, error = %e, "cloud API call failed; deadline reached");
                        return Err(e);
                    }
                    if e.class() == Some(errors::Class::ExpiredToken) {
                        // The role's token was refused: fetch a new set before the next try.
                        self.keys.invalidate().await;
                    }
                    if e.code() == Some("AuthFailure.SignatureExpire") {
                        warn!(
                            provider,
                            action, "signature expired: is this node's clock right?"
                        );
                    }
                    warn!(
                        provider,
                        action,
                        error = %e,
                        outcome = kind.as_str(),
                        class = e.class().map_or("no-answer", errors::Class::as_str),
                        attempt = backoff.attempts(),
                        retry_in_ms = delay.as_millis(),
                        "cloud API call failed; retrying"
                    );
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }

    /// Polls `DescribeVpcTaskResult` for `task_id` (the `RequestId` of an asynchronous action)
    /// every `every` until it succeeds, fails, or `deadline` passes (then `Running`).
    pub async fn wait_task(
        &self,
        provider: &str,
        task_id: &str,
        every: Duration,
        deadline: Instant,
    ) -> Result<api::TaskStatus, ApiError> {
        let mut backoff = Backoff::new(every, every * 8);
        loop {
            let answer: Answer<api::TaskResult> = self
                .call_retrying(
                    provider,
                    api::DESCRIBE_VPC_TASK_RESULT,
                    &api::task_result(task_id),
                    &mut backoff,
                    Some(deadline),
                )
                .await?;
            let status = answer.body.status();
            if status != api::TaskStatus::Running || Instant::now() + every > deadline {
                if status == api::TaskStatus::Failed {
                    warn!(
                        provider,
                        task_id,
                        output = answer.body.output.as_deref().unwrap_or_default(),
                        "cloud task failed"
                    );
                }
                return Ok(status);
            }
            pause(every).await;
        }
    }

    /// The masked key id (or the role), for the startup log.
    #[must_use]
    pub fn masked_id(&self) -> String {
        self.keys.describe()
    }

    /// The endpoint.
    #[must_use]
    pub fn endpoint(&self) -> &str {
        self.url.as_str()
    }
}

/// Reads an answer: the envelope, an API error, or the typed fields of `Response`.
pub fn parse_answer<T: DeserializeOwned>(
    action: &str,
    status: u16,
    bytes: &[u8],
) -> Result<Answer<T>, ApiError> {
    let decode = |what: String| ApiError::Decode {
        action: action.to_owned(),
        what,
    };
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(bytes) else {
        return Err(if (200..300).contains(&status) {
            decode("not JSON".to_owned())
        } else {
            ApiError::Http {
                action: action.to_owned(),
                status,
            }
        });
    };
    let Some(response) = value.get("Response") else {
        return Err(if (200..300).contains(&status) {
            decode("no `Response` object".to_owned())
        } else {
            ApiError::Http {
                action: action.to_owned(),
                status,
            }
        });
    };
    let text = |v: Option<&serde_json::Value>| {
        v.and_then(serde_json::Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let request_id = text(response.get("RequestId"));
    if let Some(error) = response.get("Error") {
        let code = text(error.get("Code"));
        if code.is_empty() {
            return Err(decode("`Error` without a `Code`".to_owned()));
        }
        return Err(ApiError::Api {
            action: action.to_owned(),
            code,
            message: text(error.get("Message")),
            request_id,
        });
    }
    let body = T::deserialize(response).map_err(|e| decode(e.to_string()))?;
    Ok(Answer { body, request_id })
}

/// Waits `d`, or not at all when `d` is zero.
pub(crate) async fn pause(d: Duration) {
    if !d.is_zero() {
        tokio::time::sleep(d).await;
    }
}

#[cfg(test)]
mod tests;
