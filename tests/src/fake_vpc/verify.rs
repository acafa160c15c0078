//! Server-side check of a TC3-HMAC-SHA256 `Authorization` header, written from Tencent's
//! description and independent of the agent's signer: the fake recomputes the signature from
//! the request as received and answers the real API's `AuthFailure.*` codes.

use hmac::{Hmac, Mac as _};
use sha2::{Digest as _, Sha256};

/// Largest clock difference the API accepts (its documented five minutes).
const MAX_SKEW_SECS: u64 = 300;

fn hmac(key: &[u8], msg: &str) -> Vec<u8> {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        return Vec::new();
    };
    mac.update(msg.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// `YYYY-MM-DD` (UTC) of a Unix time, by counting days from 1970.
fn date(ts: u64) -> String {
    let mut days = ts / 86_400;
    let mut year = 1970;
    loop {
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
        let len = if leap { 366 } else { 365 };
        if days < len {
            let months = [
                31,
                if leap { 29 } else { 28 },
                31,
                30,
                31,
                30,
                31,
                31,
                30,
                31,
                30,
                31,
            ];
            let mut month = 1;
            for m in months {
                if days < m {
                    break;
                }
                days -= m;
                month += 1;
            }
            return format!("{year:04}-{month:02}-{:02}", days + 1);
        }
        days -= len;
        year += 1;
    }
}

/// Checks the request; `Err(code)` with the API's error code when it must be refused.
pub fn check(
    headers: &hyper::HeaderMap,
    body: &[u8],
    secret_id: &str,
    secret_key: &str,
    now: u64,
) -> Result<(), &'static str> {
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let auth = get("authorization").ok_or("AuthFailure.InvalidAuthorization")?;
    let rest = auth
        .strip_prefix("TC3-HMAC-SHA256 ")
        .ok_or("AuthFailure.InvalidAuthorization")?;
    let mut credential = None;
    let mut signed_headers = None;
    let mut signature = None;
    for part in rest.split(", ") {
        match part.split_once('=') {
            Some(("Credential", v)) => credential = Some(v),
            Some(("SignedHeaders", v)) => signed_headers = Some(v),
            Some(("Signature", v)) => signature = Some(v),
            _ => return Err("AuthFailure.InvalidAuthorization"),
        }
    }
    let (Some(credential), Some(signed_headers), Some(signature)) =
        (credential, signed_headers, signature)
    else {
        return Err("AuthFailure.InvalidAuthorization");
    };
    let scope: Vec<&str> = credential.split('/').collect();
    let [id, scope_date, service, "tc3_request"] = scope[..] else {
        return Err("AuthFailure.InvalidAuthorization");
    };
    if id != secret_id {
        return Err("AuthFailure.SecretIdNotFound");
    }
    let ts: u64 = get("x-tc-timestamp")
        .and_then(|t| t.parse().ok())
        .ok_or("MissingParameter")?;
    if ts.abs_diff(now) > MAX_SKEW_SECS {
        return Err("AuthFailure.SignatureExpire");
    }
    let names: Vec<&str> = signed_headers.split(';').collect();
    if !names.contains(&"content-type") || !names.contains(&"host") {
        return Err("AuthFailure.InvalidAuthorization");
    }
    let mut canonical_headers = String::new();
    for name in &names {
        let value = get(name).ok_or("AuthFailure.SignatureFailure")?;
        canonical_headers.push_str(name);
        canonical_headers.push(':');
        canonical_headers.push_str(&value.trim().to_ascii_lowercase());
        canonical_headers.push('\n');
    }
    let canonical_request = format!(
        "POST\n/\n\n{canonical_headers}\n{signed_headers}\n{}",
        hex::encode(Sha256::digest(body))
    );
    let day = date(ts);
    if day != scope_date {
        return Err("AuthFailure.SignatureFailure");
    }
    let string_to_sign = format!(
        "TC3-HMAC-SHA256\n{ts}\n{day}/{service}/tc3_request\n{}",
        hex::encode(Sha256::digest(canonical_request.as_bytes()))
    );
    let k_date = hmac(format!("TC3{secret_key}").as_bytes(), &day);
    let k_service = hmac(&k_date, service);
    let k_signing = hmac(&k_service, "tc3_request");
    let expected = hex::encode(hmac(&k_signing, &string_to_sign));
    if expected == signature {
        Ok(())
    } else {
        Err("AuthFailure.SignatureFailure")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(date(0), "1970-01-01");
        assert_eq!(date(1_551_113_065), "2019-02-25");
        assert_eq!(date(1_709_164_800), "2024-02-29");
        assert_eq!(date(1_709_251_200), "2024-03-01");
    }

    /// Tencent's worked example, checked by this verifier (host and content type as published).
    #[test]
    fn documented_example_verifies() {
        let mut h = hyper::HeaderMap::new();
        let auth = "TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE/2019-02-25/cvm/tc3_request, SignedHeaders=content-type;host, Signature=72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168";
        h.insert("authorization", auth.parse().expect("header"));
        h.insert(
            "content-type",
            "application/json; charset=utf-8".parse().expect("header"),
        );
        h.insert("host", "cvm.tencentcloudapi.com".parse().expect("header"));
        h.insert("x-tc-timestamp", "1551113065".parse().expect("header"));
        let body = br#"{"Limit": 1, "Filters": [{"Values": ["\u672a\u547d\u540d"], "Name": "instance-name"}]}"#;
        let (id, key) = (
            "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE",
            "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE",
        );
        assert_eq!(check(&h, body, id, key, 1_551_113_065), Ok(()));
        assert_eq!(
            check(&h, b"{}", id, key, 1_551_113_065),
            Err("AuthFailure.SignatureFailure")
        );
        assert_eq!(
            check(&h, body, id, "wrong", 1_551_113_065),
            Err("AuthFailure.SignatureFailure")
        );
        assert_eq!(
            check(&h, body, "AKIDother", key, 1_551_113_065),
            Err("AuthFailure.SecretIdNotFound")
        );
        assert_eq!(
            check(&h, body, id, key, 1_551_113_065 + 301),
            Err("AuthFailure.SignatureExpire")
        );
    }
}
