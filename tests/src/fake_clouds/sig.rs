//! Server-side checks of `SigV4` and ACS3-HMAC-SHA256 `Authorization` headers, written from the
//! providers' descriptions and independent of the agent's signers: the fakes recompute the
//! signature from the request as received.

use std::fmt::Write as _;

use hmac::{Hmac, Mac as _};
use sha2::{Digest as _, Sha256};

fn mac(key: &[u8], msg: &[u8]) -> Vec<u8> {
    let Ok(mut m) = Hmac::<Sha256>::new_from_slice(key) else {
        return Vec::new();
    };
    m.update(msg);
    m.finalize().into_bytes().to_vec()
}

fn sha_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// Percent-decodes `s` (`+` is kept: both APIs encode a space as `%20`).
fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(h) = s.get(i + 1..i + 3)
            && let Ok(v) = u8::from_str_radix(h, 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// RFC 3986 encoding: unreserved characters stay, everything else `%XX`.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The decoded `name=value` pairs of a query string or form body.
#[must_use]
pub fn pairs(text: &str) -> Vec<(String, String)> {
    text.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn canonical_query(text: &str) -> String {
    let mut p: Vec<(String, String)> = pairs(text)
        .iter()
        .map(|(k, v)| (encode(k), encode(v)))
        .collect();
    p.sort();
    p.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

fn header<'a>(headers: &'a hyper::HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// A parsed `Authorization`: key id, signed header names, signature, and (`SigV4`) scope.
#[derive(Debug)]
pub struct Auth {
    /// The key id.
    pub id: String,
    /// `a;b;c`.
    pub signed: String,
    /// Hex signature.
    pub signature: String,
    /// `date/region/service/aws4_request` (`SigV4` only).
    pub scope: String,
}

/// Parses a `SigV4` `Authorization` header.
#[must_use]
pub fn parse_sigv4(headers: &hyper::HeaderMap) -> Option<Auth> {
    let rest = header(headers, "authorization")?.strip_prefix("AWS4-HMAC-SHA256 ")?;
    let mut auth = Auth {
        id: String::new(),
        signed: String::new(),
        signature: String::new(),
        scope: String::new(),
    };
    for part in rest.split(", ") {
        match part.split_once('=')? {
            ("Credential", v) => {
                let (id, scope) = v.split_once('/')?;
                id.clone_into(&mut auth.id);
                scope.clone_into(&mut auth.scope);
            }
            ("SignedHeaders", v) => v.clone_into(&mut auth.signed),
            ("Signature", v) => v.clone_into(&mut auth.signature),
            _ => return None,
        }
    }
    Some(auth)
}

/// Whether a `SigV4` request's signature is right under `key`.
#[must_use]
pub fn sigv4_ok(
    auth: &Auth,
    headers: &hyper::HeaderMap,
    query: &str,
    body: &[u8],
    key: &str,
) -> bool {
    let mut canonical_headers = String::new();
    for name in auth.signed.split(';') {
        let Some(v) = header(headers, name) else {
            return false;
        };
        let v = v.split_whitespace().collect::<Vec<_>>().join(" ");
        let _ = writeln!(canonical_headers, "{name}:{v}");
    }
    let request = format!(
        "POST\n/\n{}\n{canonical_headers}\n{}\n{}",
        canonical_query(query),
        auth.signed,
        sha_hex(body)
    );
    let Some(amz_date) = header(headers, "x-amz-date") else {
        return false;
    };
    let parts: Vec<&str> = auth.scope.split('/').collect();
    let [date, region, service, "aws4_request"] = parts[..] else {
        return false;
    };
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{}\n{}",
        auth.scope,
        sha_hex(request.as_bytes())
    );
    let k = mac(format!("AWS4{key}").as_bytes(), date.as_bytes());
    let k = mac(&k, region.as_bytes());
    let k = mac(&k, service.as_bytes());
    let k = mac(&k, b"aws4_request");
    hex::encode(mac(&k, to_sign.as_bytes())) == auth.signature
}

/// Parses an ACS3 `Authorization` header.
#[must_use]
pub fn parse_acs3(headers: &hyper::HeaderMap) -> Option<Auth> {
    let rest = header(headers, "authorization")?.strip_prefix("ACS3-HMAC-SHA256 ")?;
    let mut auth = Auth {
        id: String::new(),
        signed: String::new(),
        signature: String::new(),
        scope: String::new(),
    };
    for part in rest.split(',') {
        match part.trim().split_once('=')? {
            ("Credential", v) => v.clone_into(&mut auth.id),
            ("SignedHeaders", v) => v.clone_into(&mut auth.signed),
            ("Signature", v) => v.clone_into(&mut auth.signature),
            _ => return None,
        }
    }
    Some(auth)
}

/// Whether an ACS3 request's signature is right under `key` (and its body hash header true).
#[must_use]
pub fn acs3_ok(
    auth: &Auth,
    headers: &hyper::HeaderMap,
    query: &str,
    body: &[u8],
    key: &str,
) -> bool {
    if header(headers, "x-acs-content-sha256") != Some(sha_hex(body).as_str()) {
        return false;
    }
    let mut canonical_headers = String::new();
    for name in auth.signed.split(';') {
        let Some(v) = header(headers, name) else {
            return false;
        };
        let _ = writeln!(canonical_headers, "{name}:{}", v.trim());
    }
    let request = format!(
        "POST\n/\n{}\n{canonical_headers}\n{}\n{}",
        canonical_query(query),
        auth.signed,
        sha_hex(body)
    );
    let to_sign = format!("ACS3-HMAC-SHA256\n{}", sha_hex(request.as_bytes()));
    hex::encode(mac(key.as_bytes(), to_sign.as_bytes())) == auth.signature
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Alibaba's worked V3 example, checked by this verifier.
    #[test]
    fn acs3_documented_example_verifies() {
        let mut h = hyper::HeaderMap::new();
        let empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        for (k, v) in [
            ("host", "ecs.cn-shanghai.aliyuncs.com"),
            ("x-acs-action", "RunInstances"),
            ("x-acs-version", "2014-05-26"),
            ("x-acs-date", "2023-10-26T10:22:32Z"),
            ("x-acs-signature-nonce", "3156853299f313e23d1673dc12e1703d"),
            ("x-acs-content-sha256", empty),
            (
                "authorization",
                "ACS3-HMAC-SHA256 Credential=YourAccessKeyId,SignedHeaders=host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version,Signature=06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0",
            ),
        ] {
            h.insert(k, v.parse().expect("header"));
        }
        let q = "RegionId=cn-shanghai&ImageId=win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd";
        let auth = parse_acs3(&h).expect("parses");
        assert_eq!(auth.id, "YourAccessKeyId");
        assert!(acs3_ok(&auth, &h, q, b"", "YourAccessKeySecret"));
        assert!(!acs3_ok(&auth, &h, q, b"", "wrong"));
        assert!(!acs3_ok(
            &auth,
            &h,
            "RegionId=cn-hangzhou",
            b"",
            "YourAccessKeySecret"
        ));
    }

    /// AWS's `post-vanilla-query` suite case, checked by this verifier.
    #[test]
    fn sigv4_suite_case_verifies() {
        let mut h = hyper::HeaderMap::new();
        h.insert("host", "example.amazonaws.com".parse().expect("header"));
        h.insert("x-amz-date", "20150830T123600Z".parse().expect("header"));
        h.insert("authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11".parse().expect("header"));
        let auth = parse_sigv4(&h).expect("parses");
        let key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
        assert!(sigv4_ok(&auth, &h, "Param1=value1", b"", key));
        assert!(!sigv4_ok(&auth, &h, "Param1=value2", b"", key));
        assert!(!sigv4_ok(&auth, &h, "Param1=value1", b"x", key));
    }
}
