//! Tencent Cloud API v3 request signing, `TC3-HMAC-SHA256`, as Tencent documents it ("Signature
//! v3", worked example `DescribeInstances` on `cvm.tencentcloudapi.com`):
//!
//! ```text
//! CanonicalRequest = Method \n CanonicalURI \n CanonicalQueryString \n
//!                    CanonicalHeaders \n SignedHeaders \n hex(sha256(payload))
//!     CanonicalHeaders: lowercase(key) ":" lowercase(trim(value)) "\n" per header, keys sorted
//!     SignedHeaders:    the same keys joined by ";"
//! StringToSign     = "TC3-HMAC-SHA256" \n Timestamp \n Date/service/tc3_request \n
//!                    hex(sha256(CanonicalRequest))          (Date: UTC date of Timestamp)
//! SecretDate       = HMAC("TC3" + SecretKey, Date)
//! SecretService    = HMAC(SecretDate, service)
//! SecretSigning    = HMAC(SecretService, "tc3_request")
//! Signature        = hex(HMAC(SecretSigning, StringToSign))
//! Authorization    = "TC3-HMAC-SHA256 Credential=" SecretId "/" CredentialScope
//!                    ", SignedHeaders=" SignedHeaders ", Signature=" Signature
//! ```
//!
//! Pure functions: no clock, no I/O. The caller passes the timestamp it also sends as
//! `X-TC-Timestamp`.

use std::fmt::Write as _;

use hmac::{Hmac, Mac as _};
use sha2::{Digest as _, Sha256};

use super::secret::Secret;

/// The algorithm name, first word of the `Authorization` header.
pub const ALGORITHM: &str = "TC3-HMAC-SHA256";
/// Last element of the credential scope.
const TERMINATOR: &str = "tc3_request";

/// What is signed.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    /// `POST` or `GET`.
    pub method: &'a str,
    /// Always `/` for API 3.0.
    pub canonical_uri: &'a str,
    /// The URL-encoded query string (empty for POST).
    pub query: &'a str,
    /// The headers to sign, in any order and case; `content-type` and `host` at least.
    pub headers: &'a [(&'a str, &'a str)],
    /// The body as sent.
    pub payload: &'a [u8],
    /// The product (`vpc`, `cvm`), first label of its domain.
    pub service: &'a str,
    /// Unix time in seconds, as sent in `X-TC-Timestamp`.
    pub timestamp: u64,
}

/// Every intermediate of a signature, for tests and for a server that verifies one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signed {
    /// Step 1.
    pub canonical_request: String,
    /// `Date/service/tc3_request`.
    pub credential_scope: String,
    /// Step 2.
    pub string_to_sign: String,
    /// `content-type;host;...`.
    pub signed_headers: String,
    /// Step 3, lowercase hex.
    pub signature: String,
    /// Step 4: the `Authorization` header value.
    pub authorization: String,
}

/// Signs `req` with the key pair `secret_id` / `secret_key`.
#[must_use]
pub fn sign(secret_id: &str, secret_key: &Secret, req: &Request<'_>) -> Signed {
    let headers = canonical_headers(req.headers);
    let canonical_request = canonical_request(
        req.method,
        req.canonical_uri,
        req.query,
        &headers,
        req.payload,
    );
    let (_, signed_headers) = headers;
    let date = utc_date(req.timestamp);
    let credential_scope = format!("{date}/{}/{TERMINATOR}", req.service);
    let string_to_sign = format!(
        "{ALGORITHM}\n{}\n{credential_scope}\n{}",
        req.timestamp,
        sha256_hex(canonical_request.as_bytes())
    );
    let secret_date = hmac_sha256(
        format!("TC3{}", secret_key.expose()).as_bytes(),
        date.as_bytes(),
    );
    let secret_service = hmac_sha256(&secret_date, req.service.as_bytes());
    let secret_signing = hmac_sha256(&secret_service, TERMINATOR.as_bytes());
    let signature = hex::encode(hmac_sha256(&secret_signing, string_to_sign.as_bytes()));
    let authorization = format!(
        "{ALGORITHM} Credential={secret_id}/{credential_scope}, SignedHeaders={signed_headers}, \
         Signature={signature}"
    );
    Signed {
        canonical_request,
        credential_scope,
        string_to_sign,
        signed_headers,
        signature,
        authorization,
    }
}

/// `CanonicalHeaders` (each line ends with `\n`) and `SignedHeaders` of `headers`.
#[must_use]
pub fn canonical_headers(headers: &[(&str, &str)]) -> (String, String) {
    canonical_headers_with(headers, |v| v.trim().to_ascii_lowercase())
}

/// `CanonicalHeaders` (each line ends with `\n`) and `SignedHeaders` of `headers`, as TC3,
/// `SigV4` and ACS3 all build them: names trimmed and lowercased, lines sorted; each value
/// normalized by `value`, the one step in which the three clouds differ.
#[must_use]
pub fn canonical_headers_with(
    headers: &[(&str, &str)],
    value: impl Fn(&str) -> String,
) -> (String, String) {
    let mut lines: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), value(v)))
        .collect();
    lines.sort();
    let canonical = lines.iter().fold(String::new(), |mut acc, (k, v)| {
        let _ = writeln!(acc, "{k}:{v}");
        acc
    });
    let signed = lines
        .iter()
        .map(|(k, _)| k.as_str())
        .collect::<Vec<_>>()
        .join(";");
    (canonical, signed)
}

/// The canonical request of the three signatures: method, URI, encoded query, the
/// [`canonical_headers_with`] pair and the payload's hash, one per line.
#[must_use]
pub fn canonical_request(
    method: &str,
    canonical_uri: &str,
    query: &str,
    (canonical_headers, signed_headers): &(String, String),
    payload: &[u8],
) -> String {
    format!(
        "{method}\n{canonical_uri}\n{query}\n{canonical_headers}\n{signed_headers}\n{}",
        sha256_hex(payload)
    )
}

/// Lowercase hex SHA-256 of `data`.
#[must_use]
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// HMAC-SHA256 (RFC 2104) of `msg` under `key`.
#[must_use]
pub fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        // RFC 2104 2: HMAC accepts keys of any length, so the constructor cannot fail.
        return [0; 32];
    };
    mac.update(msg);
    mac.finalize().into_bytes().into()
}

/// The UTC date (`YYYY-MM-DD`) of a Unix timestamp: the `Date` of the credential scope. Tencent
/// warns that a local date fails around midnight; this never reads a time zone.
#[must_use]
pub fn utc_date(timestamp: u64) -> String {
    let (y, m, d) = civil_from_days(timestamp / 86_400);
    format!("{y:04}-{m:02}-{d:02}")
}

/// The UTC date `(year, month, day)` and time of day `(hour, minute, second)` of a Unix
/// timestamp.
pub(crate) fn utc_civil(timestamp: u64) -> ((u64, u64, u64), (u64, u64, u64)) {
    let secs = timestamp % 86_400;
    (
        civil_from_days(timestamp / 86_400),
        (secs / 3600, secs / 60 % 60, secs % 60),
    )
}

/// Proleptic Gregorian date of day `days` since 1970-01-01 (the usual era arithmetic: 400-year
/// eras of 146 097 days, years starting in March so the leap day is last).
pub(crate) fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests;
