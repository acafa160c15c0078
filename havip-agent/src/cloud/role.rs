//! Temporary credentials of the instance's role, from the metadata service, cached and refreshed
//! ahead of expiry:
//!
//! | cloud | path below the base | answer |
//! |---|---|---|
//! | Tencent CAM role | `cam/security-credentials/<role>` | `TmpSecretId`, `TmpSecretKey`, `Token`, `ExpiredTime` (Unix s), `Code` |
//! | Alibaba RAM role | `meta-data/ram/security-credentials/<role>` | `AccessKeyId`, `AccessKeySecret`, `SecurityToken`, `Expiration` (RFC 3339), `Code` |
//! | AWS instance profile | `meta-data/iam/security-credentials/<role>` | `AccessKeyId`, `SecretAccessKey`, `Token`, `Expiration` (RFC 3339), `Code` |
//!
//! The role name is configured or read from the same path without the name. A set is renewed
//! when a random point of the last third of its lifetime (at most 5 minutes plus up to 1 minute
//! of jitter before expiry) is reached, so a fleet does not refresh in step and no call is ever
//! signed with a key about to expire. If the refresh fails while the old set is still valid, the
//! old set is used and the refresh retried shortly. A call the cloud refused for an expired
//! token drops the cache ([`KeySource::invalidate`]).

use std::{
    sync::Arc,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use serde::Deserialize;
use tokio::sync::Mutex;
use tracing::{info, warn};

use super::{
    credentials::Credentials,
    metadata::{Metadata, MetadataError},
    secret::Secret,
};

/// Longest lead of a refresh before expiry (plus jitter).
const MAX_LEAD: Duration = Duration::from_secs(300);
/// Largest jitter added to the lead.
const MAX_JITTER: Duration = Duration::from_secs(60);

/// Where a role's credentials come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RoleKind {
    /// Tencent CVM CAM role.
    TencentCam,
    /// Alibaba ECS RAM role.
    AlibabaRam,
    /// AWS EC2 instance profile.
    AwsInstanceProfile,
}

impl RoleKind {
    fn path(self) -> &'static str {
        match self {
            Self::TencentCam => "cam/security-credentials/",
            Self::AlibabaRam => "meta-data/ram/security-credentials/",
            Self::AwsInstanceProfile => "meta-data/iam/security-credentials/",
        }
    }
}

/// A set of temporary credentials and when it expires.
#[derive(Clone, Debug)]
pub struct Temporary {
    /// The key pair and its token.
    pub credentials: Credentials,
    /// Expiry (wall clock).
    pub expires: SystemTime,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TencentDoc {
    code: Option<String>,
    tmp_secret_id: Option<String>,
    tmp_secret_key: Option<Secret>,
    token: Option<Secret>,
    expired_time: Option<u64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AccessKeyDoc {
    code: Option<String>,
    access_key_id: Option<String>,
    access_key_secret: Option<Secret>,
    secret_access_key: Option<Secret>,
    security_token: Option<Secret>,
    token: Option<Secret>,
    expiration: Option<String>,
}

/// Reads a credentials document of `kind` (never quoting it: it holds the key).
pub fn parse(kind: RoleKind, text: &str) -> Result<Temporary, String> {
    let (code, id, key, token, expires) = match kind {
        RoleKind::TencentCam => {
            let d: TencentDoc = serde_json::from_str(text)
                .map_err(|_| "not the documented JSON credentials document".to_owned())?;
            let expires = d.expired_time.map(|s| UNIX_EPOCH + Duration::from_secs(s));
            (d.code, d.tmp_secret_id, d.tmp_secret_key, d.token, expires)
        }
        RoleKind::AlibabaRam | RoleKind::AwsInstanceProfile => {
            let d: AccessKeyDoc = serde_json::from_str(text)
                .map_err(|_| "not the documented JSON credentials document".to_owned())?;
            let expires = d.expiration.as_deref().and_then(parse_rfc3339);
            let (key, token) = if kind == RoleKind::AlibabaRam {
                (d.access_key_secret, d.security_token)
            } else {
                (d.secret_access_key, d.token)
            };
            (d.code, d.access_key_id, key, token, expires)
        }
    };
    if let Some(code) = code
        && code != "Success"
    {
        return Err(format!("Code is `{code}`, not `Success`"));
    }
    match (id, key, token, expires) {
        (Some(id), Some(key), Some(token), Some(expires))
            if !id.trim().is_empty() && !key.is_blank() && !token.is_blank() =>
        {
            Ok(Temporary {
                credentials: Credentials {
                    secret_id: id,
                    secret_key: key,
                    token: Some(token),
                },
                expires,
            })
        }
        _ => Err("a field (id, key, token or expiry) is missing or empty".to_owned()),
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ` (optionally with fractional seconds) as a time.
#[must_use]
pub fn parse_rfc3339(text: &str) -> Option<SystemTime> {
    let text = text.trim().strip_suffix('Z')?;
    let (date, time) = text.split_once('T')?;
    let time = time.split_once('.').map_or(time, |(t, _)| t);
    let mut ymd = date.splitn(3, '-').map(str::parse::<i64>);
    let (year, month, day) = (ymd.next()?.ok()?, ymd.next()?.ok()?, ymd.next()?.ok()?);
    let mut hms = time.splitn(3, ':').map(str::parse::<u64>);
    let (hour, minute, second) = (hms.next()?.ok()?, hms.next()?.ok()?, hms.next()?.ok()?);
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    // Days from 1970-01-01 (the usual era arithmetic, years starting in March).
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let march_month = (month + 9) % 12;
    let day_of_year = (153 * march_month + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    let days = u64::try_from(era * 146_097 + day_of_era - 719_468).ok()?;
    Some(UNIX_EPOCH + Duration::from_secs(days * 86_400 + hour * 3600 + minute * 60 + second))
}

/// When to renew a set fetched at `now` that expires at `expires`; `jitter` in `0.0..1.0`.
#[must_use]
pub fn refresh_at(now: SystemTime, expires: SystemTime, jitter: f64) -> SystemTime {
    let life = expires.duration_since(now).unwrap_or_default();
    let lead = (life / 3).min(MAX_LEAD);
    let extra = (life / 10).min(MAX_JITTER).mul_f64(jitter.clamp(0.0, 1.0));
    expires.checked_sub(lead + extra).unwrap_or(now).max(now)
}

struct Cached {
    set: Temporary,
    refresh_at: SystemTime,
}

/// A role's credentials, cached (cheap to clone; clones share the cache).
#[derive(Clone)]
pub struct RoleCache {
    kind: RoleKind,
    metadata: Metadata,
    role: Option<String>,
    slot: Arc<Mutex<Option<Cached>>>,
}

impl std::fmt::Debug for RoleCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoleCache")
            .field("kind", &self.kind)
            .field("metadata", &self.metadata.base())
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

impl RoleCache {
    /// The credentials of `role` (else the first role the service lists) of kind `kind`.
    #[must_use]
    pub fn new(kind: RoleKind, metadata: Metadata, role: Option<String>) -> Self {
        Self {
            kind,
            metadata,
            role,
            slot: Arc::new(Mutex::new(None)),
        }
    }

    async fn fetch(&self) -> Result<Temporary, MetadataError> {
        let role = match &self.role {
            Some(r) => r.clone(),
            None => self.metadata.get_id(self.kind.path()).await?,
        };
        let path = format!("{}{role}", self.kind.path());
        let text = self.metadata.get(&path).await?;
        parse(self.kind, &text).map_err(|what| MetadataError {
            url: format!("{}{path}", self.metadata.base()),
            what,
        })
    }

    /// Valid credentials: the cached set, or a fresh one when it is due.
    pub async fn current(&self) -> Result<Credentials, MetadataError> {
        let mut slot = self.slot.lock().await;
        let now = SystemTime::now();
        if let Some(c) = slot.as_ref()
            && now < c.refresh_at
        {
            return Ok(c.set.credentials.clone());
        }
        match self.fetch().await {
            Ok(set) => {
                let at = refresh_at(now, set.expires, rand::random::<f64>());
                info!(
                    key_id = %set.credentials.masked_id(),
                    valid_s = set.expires.duration_since(now).unwrap_or_default().as_secs(),
                    refresh_in_s = at.duration_since(now).unwrap_or_default().as_secs(),
                    "role credentials from the metadata service"
                );
                let creds = set.credentials.clone();
                *slot = Some(Cached {
                    set,
                    refresh_at: at,
                });
                Ok(creds)
            }
            Err(e) => match slot.as_mut() {
                Some(c) if now < c.set.expires => {
                    warn!(error = %e, "cannot refresh the role credentials; the current set is still valid");
                    let left = c.set.expires.duration_since(now).unwrap_or_default();
                    c.refresh_at = now + (left / 4).min(Duration::from_secs(10));
                    Ok(c.set.credentials.clone())
                }
                _ => Err(e),
            },
        }
    }

    /// Drops the cached set (the cloud said its token expired).
    pub async fn invalidate(&self) {
        *self.slot.lock().await = None;
    }
}

/// Where a client gets the credentials it signs with.
#[derive(Clone, Debug)]
pub enum KeySource {
    /// A fixed key pair (with an STS token if one was configured).
    Static(Credentials),
    /// The instance role's temporary credentials.
    Role(RoleCache),
}

impl KeySource {
    /// Credentials to sign the next request with.
    pub async fn current(&self) -> Result<Credentials, MetadataError> {
        match self {
            Self::Static(c) => Ok(c.clone()),
            Self::Role(r) => r.current().await,
        }
    }

    /// Forgets temporary credentials the cloud refused.
    pub async fn invalidate(&self) {
        if let Self::Role(r) = self {
            r.invalidate().await;
        }
    }

    /// What to show in logs: the masked key id, or the role.
    #[must_use]
    pub fn describe(&self) -> String {
        match self {
            Self::Static(c) => c.masked_id(),
            Self::Role(r) => format!(
                "role {} from {}",
                r.role
                    .as_deref()
                    .unwrap_or("(listed by the metadata service)"),
                r.metadata.base()
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_documents_parse() {
        let t = parse(
            RoleKind::TencentCam,
            r#"{"TmpSecretId":"AKIDtmp","TmpSecretKey":"tmp-key","ExpiredTime":1671330188,
                "Expiration":"2022-12-18T02:23:08Z","Token":"tok","Code":"Success"}"#,
        )
        .expect("tencent");
        assert_eq!(t.credentials.secret_id, "AKIDtmp");
        assert_eq!(t.expires, UNIX_EPOCH + Duration::from_secs(1_671_330_188));
        assert_eq!(
            t.credentials.token.as_ref().map(Secret::expose),
            Some("tok")
        );
        let a = parse(
            RoleKind::AlibabaRam,
            r#"{"AccessKeyId":"STS.a","AccessKeySecret":"s","Expiration":"2017-11-01T05:20:01Z",
                "SecurityToken":"t","LastUpdated":"2017-10-31T23:20:01Z","Code":"Success"}"#,
        )
        .expect("alibaba");
        assert_eq!(a.expires, UNIX_EPOCH + Duration::from_secs(1_509_513_601));
        let w = parse(
            RoleKind::AwsInstanceProfile,
            r#"{"Code":"Success","LastUpdated":"2020-11-04T19:38:27Z","Type":"AWS-HMAC",
                "AccessKeyId":"ASIA","SecretAccessKey":"k","Token":"t",
                "Expiration":"2020-11-05T02:02:26Z"}"#,
        )
        .expect("aws");
        assert_eq!(w.credentials.secret_key.expose(), "k");
    }

    #[test]
    fn bad_documents_are_errors_without_the_key() {
        let err = parse(
            RoleKind::AwsInstanceProfile,
            r#"{"Code":"AssumeRoleUnauthorizedAccess","SecretAccessKey":"do-not-show"}"#,
        )
        .expect_err("refused");
        assert!(err.contains("AssumeRoleUnauthorizedAccess") && !err.contains("do-not-show"));
        let err = parse(RoleKind::TencentCam, "TmpSecretKey=do-not-show").expect_err("not JSON");
        assert!(!err.contains("do-not-show"));
        assert!(
            parse(
                RoleKind::TencentCam,
                r#"{"TmpSecretId":"a","Code":"Success"}"#
            )
            .is_err()
        );
    }

    #[test]
    fn rfc3339() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(UNIX_EPOCH));
        assert_eq!(
            parse_rfc3339("2024-02-29T12:00:00.123Z"),
            Some(UNIX_EPOCH + Duration::from_hours(474_780))
        );
        assert_eq!(parse_rfc3339("2024-13-01T00:00:00Z"), None);
        assert_eq!(parse_rfc3339("2024-01-01 00:00:00"), None);
    }

    #[test]
    fn refreshed_in_the_last_third_with_jitter() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let hour = now + Duration::from_secs(3600);
        // Long-lived: 5 minutes (+ up to 1 minute of jitter) before expiry.
        assert_eq!(refresh_at(now, hour, 0.0), hour - Duration::from_secs(300));
        assert_eq!(refresh_at(now, hour, 1.0), hour - Duration::from_secs(360));
        // Short-lived (tests): a third of the lifetime, plus up to a tenth.
        let short = now + Duration::from_secs(6);
        assert_eq!(refresh_at(now, short, 0.0), now + Duration::from_secs(4));
        assert!(refresh_at(now, short, 1.0) >= now + Duration::from_millis(3400));
        // Already expired: now.
        assert_eq!(refresh_at(now, now - Duration::from_secs(1), 0.5), now);
    }
}
