//! The instance metadata services of the three clouds, as havip reads them: plain `GET`s below
//! a base URL, with the session token some of them ask for first.
//!
//! - Tencent CVM: `http://metadata.tencentyun.com/latest/meta-data/`, no token.
//! - Alibaba ECS: `http://100.100.100.200/latest/`; in hardened mode a token from
//!   `PUT api/token` (`X-aliyun-ecs-metadata-token-ttl-seconds`) goes into
//!   `X-aliyun-ecs-metadata-token`. havip always asks for one, which also works in normal mode.
//! - AWS EC2 (`IMDSv2`): `http://169.254.169.254/latest/`; `PUT api/token` with
//!   `X-aws-ec2-metadata-token-ttl-seconds`, then `X-aws-ec2-metadata-token` on every `GET`.
//!
//! The base URL is configurable (tests serve a fake). No proxy (the address is link-local), no
//! redirects, short timeouts, bounded answers. Session tokens are [`Secret`]s.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use tokio::sync::Mutex;

use super::secret::Secret;

/// Timeout of one metadata request.
const TIMEOUT: Duration = Duration::from_secs(3);
/// Largest answer read (a credentials document is well under this).
const MAX_BODY: usize = 64 * 1024;
/// Lifetime asked for a session token.
const TOKEN_TTL: Duration = Duration::from_secs(21_600);

/// Which cloud's metadata service (and so which token protocol).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    /// Tencent CVM: no token.
    Tencent,
    /// Alibaba ECS: `X-aliyun-ecs-metadata-token`.
    Alibaba,
    /// AWS `IMDSv2`: `X-aws-ec2-metadata-token`.
    Aws,
}

impl Flavor {
    /// The (TTL request header, token header) pair, if the service uses session tokens.
    const fn token_headers(self) -> Option<(&'static str, &'static str)> {
        match self {
            Self::Tencent => None,
            Self::Alibaba => Some((
                "X-aliyun-ecs-metadata-token-ttl-seconds",
                "X-aliyun-ecs-metadata-token",
            )),
            Self::Aws => Some((
                "X-aws-ec2-metadata-token-ttl-seconds",
                "X-aws-ec2-metadata-token",
            )),
        }
    }
}

/// Why a metadata read failed (never contains a credential).
#[derive(Debug, thiserror::Error)]
#[error("instance metadata {url}: {what}")]
pub struct MetadataError {
    /// The URL asked.
    pub url: String,
    /// What went wrong.
    pub what: String,
}

/// A metadata service client (cheap to clone; the session token is shared).
#[derive(Clone, Debug)]
pub struct Metadata {
    http: reqwest::Client,
    base: String,
    flavor: Flavor,
    token: Arc<Mutex<Option<(Secret, Instant)>>>,
}

impl Metadata {
    /// A client of the service at `base` (a trailing `/` is added if missing).
    pub fn new(base: &str, flavor: Flavor) -> Result<Self, MetadataError> {
        let http = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .connect_timeout(TIMEOUT)
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| MetadataError {
                url: base.to_owned(),
                what: e.to_string(),
            })?;
        let base = if base.ends_with('/') {
            base.to_owned()
        } else {
            format!("{base}/")
        };
        Ok(Self {
            http,
            base,
            flavor,
            token: Arc::new(Mutex::new(None)),
        })
    }

    /// The base URL.
    #[must_use]
    pub fn base(&self) -> &str {
        &self.base
    }

    /// A valid session token, fetched (again) when missing or about to expire.
    async fn session_token(&self) -> Result<Option<(&'static str, Secret)>, MetadataError> {
        let Some((ttl_header, token_header)) = self.flavor.token_headers() else {
            return Ok(None);
        };
        let mut slot = self.token.lock().await;
        if let Some((token, until)) = slot.as_ref()
            && Instant::now() < *until
        {
            return Ok(Some((token_header, token.clone())));
        }
        let url = format!("{}api/token", self.base);
        let request = self
            .http
            .put(&url)
            .header(ttl_header, TOKEN_TTL.as_secs().to_string());
        let text = read(&url, request).await?;
        let token = Secret::new(text.trim());
        if token.is_blank() {
            return Err(MetadataError {
                url,
                what: "empty session token".to_owned(),
            });
        }
        // Renewed well before the service would refuse it.
        *slot = Some((token.clone(), Instant::now() + TOKEN_TTL / 2));
        Ok(Some((token_header, token)))
    }

    /// `GET base + path` as text.
    pub async fn get(&self, path: &str) -> Result<String, MetadataError> {
        let url = format!("{}{path}", self.base);
        let mut request = self.http.get(&url);
        if let Some((header, token)) = self.session_token().await? {
            request = request.header(header, token.expose());
        }
        let result = read(&url, request).await;
        if result.is_err() {
            // A restarted service forgets its tokens: start over next time.
            *self.token.lock().await = None;
        }
        result
    }

    /// `GET base + path` as one identifier (`i-...`, a role name, a MAC).
    pub async fn get_id(&self, path: &str) -> Result<String, MetadataError> {
        let text = self.get(path).await?;
        parse_id(&text).ok_or_else(|| MetadataError {
            url: format!("{}{path}", self.base),
            what: "not an identifier".to_owned(),
        })
    }
}

async fn read(url: &str, request: reqwest::RequestBuilder) -> Result<String, MetadataError> {
    let err = |what: String| MetadataError {
        url: url.to_owned(),
        what,
    };
    let mut response = request.send().await.map_err(|e| err(e.to_string()))?;
    if !response.status().is_success() {
        return Err(err(format!("HTTP {}", response.status().as_u16())));
    }
    let mut bytes = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| err(e.to_string()))? {
        if bytes.len() + chunk.len() > MAX_BODY {
            return Err(err(format!("answer larger than {MAX_BODY} bytes")));
        }
        bytes.extend_from_slice(&chunk);
    }
    String::from_utf8(bytes).map_err(|_| err("answer is not UTF-8".to_owned()))
}

/// The first line of `text` if it is one token of `[A-Za-z0-9_.:-]` (a listing such as the role
/// names gives one per line; havip uses the first).
#[must_use]
pub fn parse_id(text: &str) -> Option<String> {
    let id = text.lines().next()?.trim();
    (!id.is_empty()
        && id.len() <= 128
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':')))
    .then(|| id.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers() {
        assert_eq!(parse_id("havip-role\n").as_deref(), Some("havip-role"));
        assert_eq!(parse_id("role-a\nrole-b\n").as_deref(), Some("role-a"));
        assert_eq!(
            parse_id("0a:1b:2c:3d:4e:5f").as_deref(),
            Some("0a:1b:2c:3d:4e:5f")
        );
        assert_eq!(parse_id("<html>"), None);
        assert_eq!(parse_id(""), None);
    }

    #[test]
    fn base_gets_a_slash() {
        let m = Metadata::new("http://192.0.2.250:8080/latest", Flavor::Aws).expect("client");
        assert_eq!(m.base(), "http://192.0.2.250:8080/latest/");
    }
}
