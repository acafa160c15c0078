//! AWS Signature Version 4 (`AWS4-HMAC-SHA256`), as AWS documents it for the EC2 Query API:
//!
//! ```text
//! CanonicalRequest = Method \n CanonicalURI \n CanonicalQuery \n CanonicalHeaders \n
//!                    SignedHeaders \n hex(sha256(payload))
//!     CanonicalQuery:   URI-encoded name=value pairs sorted by name, then value, joined by &
//!     CanonicalHeaders: lowercase(name) ":" trim(value, inner runs of spaces as one) "\n", sorted
//! StringToSign     = "AWS4-HMAC-SHA256" \n AmzDate \n Date/region/service/aws4_request \n
//!                    hex(sha256(CanonicalRequest))
//! kSigning         = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, Date), region), service), "aws4_request")
//! Signature        = hex(HMAC(kSigning, StringToSign))
//! ```
//!
//! Temporary credentials add `X-Amz-Security-Token`, signed like any other header. Pure functions:
//! no clock, no I/O.

use std::fmt::Write as _;

use super::{
    secret::Secret,
    tc3::{canonical_headers_with, canonical_request, hmac_sha256, sha256_hex, utc_civil},
};

/// The algorithm name.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// What is signed.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    /// `POST`, `GET`.
    pub method: &'a str,
    /// The path, already URI-encoded (`/` for the EC2 API).
    pub canonical_uri: &'a str,
    /// Query parameters, not encoded, in any order.
    pub query: &'a [(&'a str, &'a str)],
    /// Headers to sign (any case, any order): `host` and `x-amz-date` at least.
    pub headers: &'a [(&'a str, &'a str)],
    /// The body as sent.
    pub payload: &'a [u8],
    /// `us-east-1`.
    pub region: &'a str,
    /// `ec2`.
    pub service: &'a str,
    /// `YYYYMMDDTHHMMSSZ`, as sent in `X-Amz-Date`.
    pub amz_date: &'a str,
}

/// Every intermediate of a signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signed {
    /// Task 1.
    pub canonical_request: String,
    /// Task 2.
    pub string_to_sign: String,
    /// `host;x-amz-date;...`.
    pub signed_headers: String,
    /// Task 3, lowercase hex.
    pub signature: String,
    /// The `Authorization` header value.
    pub authorization: String,
}

/// RFC 3986 percent-encoding of everything but the unreserved characters
/// (`A-Z a-z 0-9 - _ . ~`), hex digits in upper case, as both AWS and Alibaba Cloud sign.
#[must_use]
pub fn uri_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// `name=value` pairs, encoded, sorted by name then value, joined by `&`.
#[must_use]
pub fn canonical_query(params: &[(&str, &str)]) -> String {
    let mut pairs: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| (uri_encode(k), uri_encode(v)))
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// Signs `req` with `access_key_id` / `secret`.
#[must_use]
pub fn sign(access_key_id: &str, secret: &Secret, req: &Request<'_>) -> Signed {
    // Inner runs of spaces count as one.
    let headers = canonical_headers_with(req.headers, |v| {
        v.split_whitespace().collect::<Vec<_>>().join(" ")
    });
    let canonical_request = canonical_request(
        req.method,
        req.canonical_uri,
        &canonical_query(req.query),
        &headers,
        req.payload,
    );
    let (_, signed_headers) = headers;
    let date = req.amz_date.get(..8).unwrap_or_default();
    let scope = format!("{date}/{}/{}/aws4_request", req.region, req.service);
    let string_to_sign = format!(
        "{ALGORITHM}\n{}\n{scope}\n{}",
        req.amz_date,
        sha256_hex(canonical_request.as_bytes())
    );
    let k_date = hmac_sha256(
        format!("AWS4{}", secret.expose()).as_bytes(),
        date.as_bytes(),
    );
    let k_region = hmac_sha256(&k_date, req.region.as_bytes());
    let k_service = hmac_sha256(&k_region, req.service.as_bytes());
    let k_signing = hmac_sha256(&k_service, b"aws4_request");
    let signature = hex::encode(hmac_sha256(&k_signing, string_to_sign.as_bytes()));
    let authorization = format!(
        "{ALGORITHM} Credential={access_key_id}/{scope}, SignedHeaders={signed_headers}, \
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

/// `YYYYMMDDTHHMMSSZ` of a Unix time.
#[must_use]
pub fn amz_date(timestamp: u64) -> String {
    let ((year, month, day), (hour, min, sec)) = utc_civil(timestamp);
    format!("{year:04}{month:02}{day:02}T{hour:02}{min:02}{sec:02}Z")
}

#[cfg(test)]
mod tests;
