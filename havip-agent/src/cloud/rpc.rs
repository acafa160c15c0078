//! What the Alibaba Cloud and AWS clients share: their error type (classified with the cloud's
//! row of [`super::errors`]), a bounded body reader, and the retry loop (backoff by class,
//! new role credentials after an expired-token answer, every try counted and logged without
//! secrets); and, with the Tencent client, how the HTTP client of an endpoint is built.

use std::{
    future::Future,
    time::{Duration, Instant},
};

use tracing::{debug, warn};

use super::{
    errors::Class,
    metadata::MetadataError,
    retry::{Backoff, Disposition},
    role::KeySource,
    stats::CloudStats,
    tencent::ClientError,
};

/// The largest answer read.
pub const MAX_BODY: usize = 1 << 20;

/// A failed API call.
#[derive(Debug, thiserror::Error)]
pub enum RpcError {
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
    /// An HTTP status without the API's error document.
    #[error("{action}: HTTP {status} without an API answer")]
    Http {
        /// The action.
        action: String,
        /// The status code.
        status: u16,
    },
    /// The API answered with an error code.
    #[error("{action}: {code}: {message} (RequestId {request_id})")]
    Api {
        /// The action.
        action: String,
        /// The provider's error code.
        code: String,
        /// Its message.
        message: String,
        /// The request id, for the provider's support.
        request_id: String,
        /// Its class in the cloud's table.
        class: Class,
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

impl RpcError {
    /// What to do about it.
    #[must_use]
    pub fn disposition(&self) -> Disposition {
        match self {
            Self::Transport { .. } | Self::Decode { .. } | Self::Credentials { .. } => {
                Disposition::Retry
            }
            Self::Http { status, .. } => Disposition::of_http_status(*status),
            Self::Api { class, .. } => class.disposition(),
        }
    }

    /// The class of the API's error code, if it answered with one.
    #[must_use]
    pub fn class(&self) -> Option<Class> {
        match self {
            Self::Api { class, .. } => Some(*class),
            _ => None,
        }
    }

    /// The error code, if the API answered with one.
    #[must_use]
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Api { code, .. } => Some(code),
            _ => None,
        }
    }

    /// A transport error of `action`.
    #[must_use]
    pub fn transport(action: &str, source: reqwest::Error) -> Self {
        Self::Transport {
            action: action.to_owned(),
            timeout: source.is_timeout(),
            source,
        }
    }
}

/// The HTTP client, URL and `host` header of `endpoint`; requests and connections time out
/// after `timeout`.
pub fn http_client(
    endpoint: &str,
    timeout: Duration,
) -> Result<(reqwest::Client, reqwest::Url, String), ClientError> {
    let bad = || ClientError::Endpoint {
        endpoint: endpoint.to_owned(),
    };
    let url = reqwest::Url::parse(endpoint).map_err(|_| bad())?;
    let host = match (url.host_str(), url.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_owned(),
        (None, _) => return Err(bad()),
    };
    let http = reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .user_agent(concat!("havip/", env!("CARGO_PKG_VERSION")))
        // A signed request goes to the configured endpoint or nowhere.
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|source| ClientError::Http { source })?;
    Ok((http, url, host))
}

/// Status and body of `response`, at most [`MAX_BODY`] bytes.
pub async fn read_body(
    action: &str,
    response: reqwest::Response,
) -> Result<(u16, Vec<u8>), RpcError> {
    read_body_with(
        response,
        |e| RpcError::transport(action, e),
        |what| RpcError::Decode {
            action: action.to_owned(),
            what,
        },
    )
    .await
}

/// Status and body of `response`, at most [`MAX_BODY`] bytes, with the caller's errors: `transport`
/// when the body breaks off, `decode` (given what is wrong) when it is too large.
pub async fn read_body_with<E>(
    mut response: reqwest::Response,
    transport: impl Fn(reqwest::Error) -> E,
    decode: impl FnOnce(String) -> E,
) -> Result<(u16, Vec<u8>), E> {
    let status = response.status().as_u16();
    let mut bytes = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(&transport)? {
        if bytes.len() + chunk.len() > MAX_BODY {
            return Err(decode(format!("answer larger than {MAX_BODY} bytes")));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok((status, bytes))
}

/// Runs `call` until it succeeds, a failure is not worth retrying, or retrying would pass
/// `deadline`; waits per `backoff` between tries; drops role credentials the cloud refused.
/// Every try is counted under (`provider`, `action`) and logged.
pub async fn retrying<T, F, Fut>(
    stats: &CloudStats,
    keys: &KeySource,
    provider: &str,
    action: &str,
    backoff: &mut Backoff,
    deadline: Option<Instant>,
    mut call: F,
) -> Result<T, RpcError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, RpcError>>,
{
    loop {
        let started = Instant::now();
        match call().await {
            Ok(answer) => {
                stats.call(provider, action, "ok");
                debug!(
                    provider,
                    action,
                    elapsed_ms = started.elapsed().as_millis(),
                    "cloud API call"
                );
                backoff.reset();
                return Ok(answer);
            }
            Err(e) => {
                let kind = e.disposition();
                stats.call(provider, action, kind.as_str());
                let class = e.class().map_or("no-answer", Class::as_str);
                if kind == Disposition::GiveUp {
                    warn!(provider, action, error = %e, class, "cloud API call failed; not retrying");
                    return Err(e);
                }
                let delay = backoff.next_delay(kind);
                if deadline.is_some_and(|d| Instant::now() + delay > d) {
                    warn!(provider, action, error = %e, class, "cloud API call failed; deadline reached");
                    return Err(e);
                }
                match e.class() {
                    Some(Class::ExpiredToken) => keys.invalidate().await,
                    Some(Class::Clock) => {
                        warn!(
                            provider,
                            action, "request time refused: is this node's clock right?"
                        );
                    }
                    _ => {}
                }
                warn!(
                    provider,
                    action,
                    error = %e,
                    outcome = kind.as_str(),
                    class,
                    attempt = backoff.attempts(),
                    retry_in_ms = delay.as_millis(),
                    "cloud API call failed; retrying"
                );
                tokio::time::sleep(delay).await;
            }
        }
    }
}
