//! Cases of AWS's published `SigV4` test suite (`aws-sig-v4-test-suite`: `AKIDEXAMPLE`, region
//! `us-east-1`, service `service`, 2015-08-30T12:36:00Z), reproduced byte for byte: canonical
//! request, string to sign and signature as published.

use super::*;

const ID: &str = "AKIDEXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const DATE: &str = "20150830T123600Z";
/// The suite's session token (`post-sts-token`).
const TOKEN: &str = "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA==";
const EMPTY_SHA: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

fn suite(method: &str, query: &[(&str, &str)], headers: &[(&str, &str)], payload: &[u8]) -> Signed {
    sign(
        ID,
        &Secret::new(SECRET),
        &Request {
            method,
            canonical_uri: "/",
            query,
            headers,
            payload,
            region: "us-east-1",
            service: "service",
            amz_date: DATE,
        },
    )
}

#[test]
fn post_sts_header_before() {
    let s = suite(
        "POST",
        &[],
        &[
            ("Host", "example.amazonaws.com"),
            ("X-Amz-Date", DATE),
            ("X-Amz-Security-Token", TOKEN),
        ],
        b"",
    );
    assert_eq!(
        s.canonical_request,
        format!(
            "POST\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\
             x-amz-security-token:{TOKEN}\n\nhost;x-amz-date;x-amz-security-token\n{EMPTY_SHA}"
        )
    );
    assert_eq!(
        s.string_to_sign,
        "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n\
         c237e1b440d4c63c32ca95b5b99481081cb7b13c7e40434868e71567c1a882f6"
    );
    assert_eq!(
        s.authorization,
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
         SignedHeaders=host;x-amz-date;x-amz-security-token, \
         Signature=85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead"
    );
}

#[test]
fn post_x_www_form_urlencoded() {
    let body = b"Param1=value1";
    let s = suite(
        "POST",
        &[],
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Host", "example.amazonaws.com"),
            ("Content-Length", "13"),
            (
                "X-Amz-Content-Sha256",
                "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e",
            ),
            ("X-Amz-Date", DATE),
        ],
        body,
    );
    assert_eq!(
        s.string_to_sign,
        "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n\
         b1edd1d03544c25390e32085d55b57acc9a3961bb59415ff86c45c3d89d16cfb"
    );
    assert_eq!(
        s.signature,
        "d3875051da38690788ef43de4db0d8f280229d82040bfac253562e56c3f20e0b"
    );
    assert_eq!(
        s.signed_headers,
        "content-length;content-type;host;x-amz-content-sha256;x-amz-date"
    );
}

#[test]
fn get_vanilla_query_order_key_case() {
    let s = suite(
        "GET",
        &[("Param2", "value2"), ("Param1", "value1")],
        &[("Host", "example.amazonaws.com"), ("X-Amz-Date", DATE)],
        b"",
    );
    assert_eq!(
        s.canonical_request,
        format!(
            "GET\n/\nParam1=value1&Param2=value2\nhost:example.amazonaws.com\n\
             x-amz-date:20150830T123600Z\n\nhost;x-amz-date\n{EMPTY_SHA}"
        )
    );
    assert_eq!(
        s.signature,
        "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"
    );
}

#[test]
fn post_vanilla_query() {
    let s = suite(
        "POST",
        &[("Param1", "value1")],
        &[("Host", "example.amazonaws.com"), ("X-Amz-Date", DATE)],
        b"",
    );
    assert_eq!(
        s.signature,
        "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11"
    );
}

#[test]
fn encoding_and_dates() {
    assert_eq!(uri_encode("a b*c~d/é+="), "a%20b%2Ac~d%2F%C3%A9%2B%3D");
    assert_eq!(
        canonical_query(&[("b", "2"), ("a", "x y"), ("Filter.1.Name", "k")]),
        "Filter.1.Name=k&a=x%20y&b=2"
    );
    assert_eq!(amz_date(1_440_938_160), DATE);
    assert_eq!(amz_date(0), "19700101T000000Z");
}
