//! Alibaba's worked V3 example (`RunInstances`, every input fixed: `YourAccessKeyId` /
//! `YourAccessKeySecret`, 2023-10-26T10:22:32Z, nonce `3156853299f313e23d1673dc12e1703d`),
//! reproduced byte for byte, then a request with an STS token as havip sends it.

use super::*;

const EMPTY_SHA: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

fn example(extra: &[(&'static str, &'static str)]) -> Signed {
    let mut headers = vec![
        ("host", "ecs.cn-shanghai.aliyuncs.com"),
        ("x-acs-action", "RunInstances"),
        ("x-acs-version", "2014-05-26"),
        ("x-acs-date", "2023-10-26T10:22:32Z"),
        ("x-acs-signature-nonce", "3156853299f313e23d1673dc12e1703d"),
        ("x-acs-content-sha256", EMPTY_SHA),
    ];
    headers.extend_from_slice(extra);
    sign(
        "YourAccessKeyId",
        &Secret::new("YourAccessKeySecret"),
        &Request {
            method: "POST",
            canonical_uri: "/",
            query: &[
                ("RegionId", "cn-shanghai"),
                (
                    "ImageId",
                    "win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd",
                ),
            ],
            headers: &headers,
            payload: b"",
        },
    )
}

#[test]
fn documented_example() {
    let s = example(&[]);
    assert_eq!(
        s.canonical_request,
        format!(
            "POST\n/\nImageId=win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd&RegionId=cn-shanghai\n\
             host:ecs.cn-shanghai.aliyuncs.com\nx-acs-action:RunInstances\n\
             x-acs-content-sha256:{EMPTY_SHA}\nx-acs-date:2023-10-26T10:22:32Z\n\
             x-acs-signature-nonce:3156853299f313e23d1673dc12e1703d\nx-acs-version:2014-05-26\n\n\
             host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version\n\
             {EMPTY_SHA}"
        )
    );
    assert_eq!(
        s.string_to_sign,
        "ACS3-HMAC-SHA256\n7ea06492da5221eba5297e897ce16e55f964061054b7695beedaac1145b1e259"
    );
    assert_eq!(
        s.authorization,
        "ACS3-HMAC-SHA256 Credential=YourAccessKeyId,SignedHeaders=host;x-acs-action;\
         x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version,\
         Signature=06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0"
    );
    assert_eq!(acs_date(1_698_315_752), "2023-10-26T10:22:32Z");
}

#[test]
fn the_sts_token_is_a_signed_header() {
    let plain = example(&[]);
    let with_token = example(&[("x-acs-security-token", "sts-token")]);
    assert!(
        with_token
            .signed_headers
            .ends_with(";x-acs-security-token;x-acs-signature-nonce;x-acs-version")
    );
    assert_ne!(plain.signature, with_token.signature);
    // Computed with an independent implementation (Python hashlib/hmac).
    assert_eq!(
        with_token.signature,
        "7831b6bdcfcbbf6f4eb7f9b902ab68a9e917ff5e3f5f255e7897804710b35149"
    );
}
