//! Answers as the API documents them, error codes by kind, and malformed answers (no panic).

use std::net::Ipv4Addr;

use super::{api::*, *};

#[test]
fn describe_ha_vips_answer_parses() {
    let body = br#"{"Response":{"HaVipSet":[{"HaVipId":"havip-2kce8v4q","HaVipName":"t",
        "Vip":"10.3.3.15","VpcId":"vpc-1","SubnetId":"subnet-1","NetworkInterfaceId":"eni-7tqc2xgl",
        "InstanceId":"ins-1kb08tq6","AddressIp":"","State":"AVAILABLE","Business":"",
        "CreatedTime":"2020-04-03 20:00:05"}],"TotalCount":1,
        "RequestId":"5a1b-..."}}"#;
    let a: Answer<HaVips> = parse_answer(DESCRIBE_HA_VIPS, 200, body).expect("parses");
    assert_eq!(a.request_id, "5a1b-...");
    let set = a.body.ha_vip_set.expect("set");
    assert_eq!(set[0].bound_instance(), Some("ins-1kb08tq6"));
    assert_eq!(set[0].bound_eni(), Some("eni-7tqc2xgl"));
    assert_eq!(set[0].eip(), None, "empty string means none");
}

#[test]
fn unbound_and_null_fields_read_as_none() {
    let body = br#"{"Response":{"HaVipSet":[{"HaVipId":"h","NetworkInterfaceId":null,
        "InstanceId":"","State":"UNBOUND"}],"RequestId":"r"}}"#;
    let a: Answer<HaVips> = parse_answer(DESCRIBE_HA_VIPS, 200, body).expect("parses");
    let set = a.body.ha_vip_set.expect("set");
    assert_eq!((set[0].bound_instance(), set[0].bound_eni()), (None, None));
    let a: Answer<HaVips> = parse_answer(
        DESCRIBE_HA_VIPS,
        200,
        br#"{"Response":{"HaVipSet":null,"RequestId":"r"}}"#,
    )
    .expect("parses");
    assert!(a.body.ha_vip_set.is_none());
}

#[test]
fn error_envelope_becomes_an_api_error_with_its_kind() {
    let body = br#"{"Response":{"Error":{"Code":"RequestLimitExceeded","Message":"slow down"},
        "RequestId":"ed93"}}"#;
    let e = parse_answer::<HaVips>(DESCRIBE_HA_VIPS, 200, body).expect_err("error");
    assert_eq!(e.code(), Some("RequestLimitExceeded"));
    assert_eq!(e.disposition(), Disposition::BackOff);
    assert_eq!(
        e.to_string(),
        "DescribeHaVips: RequestLimitExceeded: slow down (RequestId ed93)"
    );
}

#[test]
fn error_codes_by_kind() {
    for (code, kind) in [
        ("RequestLimitExceeded", Disposition::BackOff),
        (
            "RequestLimitExceeded.UinLimitExceeded",
            Disposition::BackOff,
        ),
        ("InternalError", Disposition::Retry),
        ("InternalError.ModuleError", Disposition::Retry),
        ("ServiceUnavailable", Disposition::Retry),
        ("ResourceUnavailable", Disposition::Retry),
        ("FailedOperation.TaskFailed", Disposition::Retry),
        ("ResourceInUse", Disposition::Retry),
        ("AuthFailure.SignatureExpire", Disposition::Retry),
        ("AuthFailure.SignatureFailure", Disposition::GiveUp),
        ("AuthFailure.SecretIdNotFound", Disposition::GiveUp),
        ("AuthFailure.UnauthorizedOperation", Disposition::GiveUp),
        ("UnauthorizedOperation", Disposition::GiveUp),
        ("InvalidParameterValue.Malformed", Disposition::GiveUp),
        ("ResourceNotFound", Disposition::GiveUp),
        ("MissingParameter", Disposition::GiveUp),
        ("UnsupportedRegion", Disposition::GiveUp),
        ("LimitExceeded", Disposition::GiveUp),
        ("SomethingNew", Disposition::GiveUp),
        ("InternalServerError", Disposition::Retry),
        (
            "UnsupportedOperation.MutexOperationTaskRunning",
            Disposition::Retry,
        ),
        ("AuthFailure.TokenFailure", Disposition::Retry),
        ("UnsupportedOperation.PrimaryIp", Disposition::GiveUp),
    ] {
        assert_eq!(classify(code), kind, "{code}");
    }
}

#[test]
fn http_statuses_without_envelope() {
    let e = parse_answer::<Empty>("X", 502, b"<html>bad gateway</html>").expect_err("502");
    assert_eq!(e.disposition(), Disposition::Retry);
    let e = parse_answer::<Empty>("X", 429, b"").expect_err("429");
    assert_eq!(e.disposition(), Disposition::BackOff);
    let e = parse_answer::<Empty>("X", 403, b"{}").expect_err("403");
    assert_eq!(e.disposition(), Disposition::GiveUp);
}

#[test]
fn malformed_answers_are_errors_not_panics() {
    let cases: [&[u8]; 9] = [
        b"",
        b"not json",
        b"[]",
        b"{}",
        br#"{"Response":null}"#,
        br#"{"Response":{"Error":{}}}"#,
        br#"{"Response":{"Error":"x"}}"#,
        br#"{"Response":{"HaVipSet":"oops"}}"#,
        br#"{"Response":{"HaVipSet":[{"InstanceId":7}]}}"#,
    ];
    for body in cases {
        let r = parse_answer::<HaVips>(DESCRIBE_HA_VIPS, 200, body);
        assert!(r.is_err(), "{:?} accepted", String::from_utf8_lossy(body));
    }
    // Truncations of a valid answer never panic either.
    let full = br#"{"Response":{"HaVipSet":[{"HaVipId":"h","InstanceId":"i"}],"RequestId":"r"}}"#;
    for n in 0..full.len() {
        let _ = parse_answer::<HaVips>(DESCRIBE_HA_VIPS, 200, &full[..n]);
    }
}

#[test]
fn task_status_and_interfaces() {
    let a: Answer<TaskResult> = parse_answer(
        DESCRIBE_VPC_TASK_RESULT,
        200,
        br#"{"Response":{"Status":"SUCCESS","Output":"SUCCESS","Result":[],"RequestId":"r"}}"#,
    )
    .expect("parses");
    assert_eq!(a.body.status(), TaskStatus::Success);
    assert_eq!(TaskResult::default().status(), TaskStatus::Running);
    let a: Answer<NetworkInterfaces> = parse_answer(
        DESCRIBE_NETWORK_INTERFACES,
        200,
        br#"{"Response":{"NetworkInterfaceSet":[{"NetworkInterfaceId":"eni-1",
            "MacAddress":"20:90:6F:AA:BB:0C","PrivateIpAddressSet":[
            {"PrivateIpAddress":"10.0.0.5","Primary":true},
            {"PrivateIpAddress":"10.0.0.6","Primary":false}],
            "Attachment":{"InstanceId":"ins-1"}}],"TotalCount":1,"RequestId":"r"}}"#,
    )
    .expect("parses");
    let eni = &a.body.network_interface_set.expect("set")[0];
    assert!(eni.holds(Ipv4Addr::new(10, 0, 0, 6)));
    assert!(!eni.holds(Ipv4Addr::new(10, 0, 0, 60)));
    assert!(eni.has_mac([0x20, 0x90, 0x6f, 0xaa, 0xbb, 0x0c]));
}

#[test]
fn payloads_use_the_documented_names() {
    assert_eq!(
        migrate_private_ip("eni-a", "eni-b", Ipv4Addr::new(10, 0, 0, 6)).to_string(),
        r#"{"DestinationNetworkInterfaceId":"eni-b","PrivateIpAddress":"10.0.0.6","SourceNetworkInterfaceId":"eni-a"}"#
    );
    assert_eq!(
        describe_ha_vip("havip-1").to_string(),
        r#"{"HaVipIds":["havip-1"]}"#
    );
    assert_eq!(task_result("r-1").to_string(), r#"{"TaskId":"r-1"}"#);
}
