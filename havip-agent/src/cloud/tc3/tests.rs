//! The worked example of Tencent's "Signature v3" page, step by step, then cases the example does
//! not cover. The extra expected values were computed with an independent implementation
//! (Python's `hashlib`/`hmac`), not with this module.

use super::*;

/// The example's credentials, as published (they are placeholders, not a real key).
const DOC_SECRET_ID: &str = "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE";
const DOC_SECRET_KEY: &str = "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE";
const DOC_PAYLOAD: &str =
    r#"{"Limit": 1, "Filters": [{"Values": ["\u672a\u547d\u540d"], "Name": "instance-name"}]}"#;
const DOC_TIMESTAMP: u64 = 1_551_113_065;

fn doc_request(headers: &[(&str, &str)]) -> Signed {
    sign(
        DOC_SECRET_ID,
        &Secret::new(DOC_SECRET_KEY),
        &Request {
            method: "POST",
            canonical_uri: "/",
            query: "",
            headers,
            payload: DOC_PAYLOAD.as_bytes(),
            service: "cvm",
            timestamp: DOC_TIMESTAMP,
        },
    )
}

const DOC_HEADERS: [(&str, &str); 2] = [
    ("Content-Type", "application/json; charset=utf-8"),
    ("Host", "cvm.tencentcloudapi.com"),
];

#[test]
fn documented_example_payload_hash() {
    assert_eq!(
        sha256_hex(DOC_PAYLOAD.as_bytes()),
        "35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064"
    );
}

#[test]
fn documented_example_canonical_request() {
    let s = doc_request(&DOC_HEADERS);
    assert_eq!(
        s.canonical_request,
        "POST\n\
         /\n\
         \n\
         content-type:application/json; charset=utf-8\n\
         host:cvm.tencentcloudapi.com\n\
         \n\
         content-type;host\n\
         35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064"
    );
    assert_eq!(s.signed_headers, "content-type;host");
    assert_eq!(
        sha256_hex(s.canonical_request.as_bytes()),
        "5ffe6a04c0664d6b969fab9a13bdab201d63ee709638e2749d62a09ca18d7031"
    );
}

#[test]
fn documented_example_string_to_sign() {
    let s = doc_request(&DOC_HEADERS);
    assert_eq!(s.credential_scope, "2019-02-25/cvm/tc3_request");
    assert_eq!(
        s.string_to_sign,
        "TC3-HMAC-SHA256\n\
         1551113065\n\
         2019-02-25/cvm/tc3_request\n\
         5ffe6a04c0664d6b969fab9a13bdab201d63ee709638e2749d62a09ca18d7031"
    );
}

#[test]
fn documented_example_signature_and_authorization() {
    let s = doc_request(&DOC_HEADERS);
    assert_eq!(
        s.signature,
        "72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168"
    );
    assert_eq!(
        s.authorization,
        "TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE/2019-02-25/cvm/\
         tc3_request, SignedHeaders=content-type;host, \
         Signature=72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168"
    );
}

#[test]
fn header_order_case_and_spaces_do_not_matter() {
    let reordered = [
        ("  HOST ", "  cvm.tencentcloudapi.com "),
        ("content-type", "Application/JSON; charset=utf-8"),
    ];
    assert_eq!(doc_request(&reordered), doc_request(&DOC_HEADERS));
}

#[test]
fn a_changed_byte_changes_the_signature() {
    let base = doc_request(&DOC_HEADERS).signature;
    let other_host = doc_request(&[
        ("content-type", "application/json; charset=utf-8"),
        ("host", "vpc.tencentcloudapi.com"),
    ]);
    assert_ne!(other_host.signature, base);
    let other_key = sign(
        DOC_SECRET_ID,
        &Secret::new("Gu5t9xGARNpq86cd98joQYCN3EXAMPLF"),
        &Request {
            method: "POST",
            canonical_uri: "/",
            query: "",
            headers: &DOC_HEADERS,
            payload: DOC_PAYLOAD.as_bytes(),
            service: "cvm",
            timestamp: DOC_TIMESTAMP,
        },
    );
    assert_ne!(other_key.signature, base);
}

/// GET with a query string and an empty payload (the GET form of the same call).
#[test]
fn get_with_query_string_and_empty_payload() {
    let s = sign(
        DOC_SECRET_ID,
        &Secret::new(DOC_SECRET_KEY),
        &Request {
            method: "GET",
            canonical_uri: "/",
            query: "Limit=10&Offset=0",
            headers: &[
                ("host", "cvm.tencentcloudapi.com"),
                ("content-type", "application/x-www-form-urlencoded"),
            ],
            payload: b"",
            service: "cvm",
            timestamp: DOC_TIMESTAMP,
        },
    );
    assert_eq!(
        s.canonical_request,
        "GET\n/\nLimit=10&Offset=0\ncontent-type:application/x-www-form-urlencoded\n\
         host:cvm.tencentcloudapi.com\n\ncontent-type;host\n\
         e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    assert_eq!(
        s.string_to_sign,
        "TC3-HMAC-SHA256\n1551113065\n2019-02-25/cvm/tc3_request\n\
         91c9c192c14460df6c1ffc69e34e6c5e90708de2a6d282cccf957dbf1aa7f3a7"
    );
    assert_eq!(
        s.signature,
        "9867b291561db17491c01f0d7f06be3ccd45e91ecd3ce5434330e00ece036f64"
    );
}

/// The request this agent sends: a VPC action with `x-tc-action` signed too, on a leap day.
#[test]
fn vpc_call_with_action_header_signed() {
    let s = sign(
        DOC_SECRET_ID,
        &Secret::new(DOC_SECRET_KEY),
        &Request {
            method: "POST",
            canonical_uri: "/",
            query: "",
            headers: &[
                ("X-TC-Action", "DescribeHaVips"),
                ("Host", "vpc.tencentcloudapi.com"),
                ("Content-Type", "application/json; charset=utf-8"),
            ],
            payload: br#"{"HaVipIds":["havip-9o233uri"]}"#,
            service: "vpc",
            timestamp: 1_709_164_800,
        },
    );
    assert_eq!(s.signed_headers, "content-type;host;x-tc-action");
    assert!(
        s.canonical_request
            .contains("\nx-tc-action:describehavips\n\n"),
        "{}",
        s.canonical_request
    );
    assert_eq!(s.credential_scope, "2024-02-29/vpc/tc3_request");
    assert_eq!(
        s.string_to_sign,
        "TC3-HMAC-SHA256\n1709164800\n2024-02-29/vpc/tc3_request\n\
         837d38e552d4ec3d65edc22dd75253cde75f4c260b53c9e94b1a2713dd006a3f"
    );
    assert_eq!(
        s.signature,
        "c70a34444fd7aa3892469de82dbd776218107b935ab007e3b60bef74975fe422"
    );
}

#[test]
fn utc_dates_around_midnight_and_leap_days() {
    assert_eq!(utc_date(0), "1970-01-01");
    // Tencent's note: 1551113065 is 2019-02-26 00:44:25 at UTC+8, but the scope uses UTC.
    assert_eq!(utc_date(1_551_113_065), "2019-02-25");
    assert_eq!(utc_date(1_551_139_199), "2019-02-25");
    assert_eq!(utc_date(1_551_139_200), "2019-02-26");
    assert_eq!(utc_date(951_782_400), "2000-02-29");
    assert_eq!(utc_date(1_709_251_199), "2024-02-29");
    assert_eq!(utc_date(1_709_251_200), "2024-03-01");
    assert_eq!(utc_date(4_102_444_800), "2100-01-01");
}
