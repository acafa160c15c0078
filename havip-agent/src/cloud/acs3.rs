//! Alibaba Cloud API signature V3, `ACS3-HMAC-SHA256`, as Alibaba documents it ("V3 request
//! structure and signature", worked example `RunInstances` on `ecs.cn-shanghai.aliyuncs.com`).
//!
//! ```text
//! CanonicalRequest = Method \n CanonicalURI \n CanonicalQuery \n CanonicalHeaders \n
//!                    SignedHeaders \n hex(sha256(payload))
//!     CanonicalQuery:   RFC 3986-encoded name=value pairs sorted by name, joined by &
//!     CanonicalHeaders: lowercase(name) ":" trim(value) "\n" for host, content-type and every
//!                       x-acs-* header, sorted
//! StringToSign     = "ACS3-HMAC-SHA256" \n hex(sha256(CanonicalRequest))
//! Signature        = hex(HMAC-SHA256(AccessKeySecret, StringToSign))
//! Authorization    = "ACS3-HMAC-SHA256 Credential=" AccessKeyId ",SignedHeaders=" ... ",Signature=" ...
//! ```
//!
//! Why V3 and not the RPC signature V1 (HMAC-SHA1 over the sorted query): Alibaba asks users of
//! V1/V2 to move to V3; V3 uses SHA-256 rather than SHA-1; the action, version, date, nonce,
//! body hash and STS token (`x-acs-security-token`) are signed headers, so the request as a
//! whole is covered; and it has the same shape as TC3 and `SigV4`, so one kind of code and test
//! serves all three clouds. Pure functions: no clock, no randomness, no I/O.

use super::{
    secret::Secret,
    sigv4::canonical_query,
    tc3::{canonical_headers_with, canonical_request, hmac_sha256, sha256_hex, utc_civil},
};

/// The algorithm name.
pub const ALGORITHM: &str = "ACS3-HMAC-SHA256";

/// What is signed.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    /// `POST` for the RPC-style VPC API.
    pub method: &'a str,
    /// `/` for RPC-style APIs.
    pub canonical_uri: &'a str,
    /// Query parameters, not encoded, any order.
    pub query: &'a [(&'a str, &'a str)],
    /// Headers to sign: `host`, `x-acs-action`, `x-acs-content-sha256`, `x-acs-date`,
    /// `x-acs-signature-nonce`, `x-acs-version` (and `x-acs-security-token`).
    pub headers: &'a [(&'a str, &'a str)],
    /// The body as sent (its hash is also the `x-acs-content-sha256` header).
    pub payload: &'a [u8],
}

/// Every intermediate of a signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signed {
    /// Step 1.
    pub canonical_request: String,
    /// Step 2.
    pub string_to_sign: String,
    /// `host;x-acs-action;...`.
    pub signed_headers: String,
    /// Lowercase hex.
    pub signature: String,
    /// The `Authorization` header value.
    pub authorization: String,
}

/// Signs `req` with `access_key_id` / `secret`.
#[must_use]
pub fn sign(access_key_id: &str, secret: &Secret, req: &Request<'_>) -> Signed {
    let headers = canonical_headers_with(req.headers, |v| v.trim().to_owned());
    let canonical_request = canonical_request(
        req.method,
        req.canonical_uri,
        &canonical_query(req.query),
        &headers,
        req.payload,
    );
    let (_, signed_headers) = headers;
    let string_to_sign = format!("{ALGORITHM}\n{}", sha256_hex(canonical_request.as_bytes()));
    let signature = hex::encode(hmac_sha256(
        secret.expose().as_bytes(),
        string_to_sign.as_bytes(),
    ));
    let authorization = format!(
        "{ALGORITHM} Credential={access_key_id},SignedHeaders={signed_headers},\
         Signature={signature}"
    );
    Signed {
        canonical_request,
        string_to_sign,
        signed_headers,
        signature,
        authorization,
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ` of a Unix time (`x-acs-date`).
#[must_use]
pub fn acs_date(timestamp: u64) -> String {
    let ((year, month, day), (hour, min, sec)) = utc_civil(timestamp);
    format!("{year:04}-{month:02}-{day:02}T{hour:02}:{min:02}:{sec:02}Z")
}

#[cfg(test)]
mod tests;
