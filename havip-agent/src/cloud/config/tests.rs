//! `[cloud]` parsing: a full example, defaults, the keepalived sidecar, and errors that name
//! their field.
use super::*;

fn table(text: &str) -> toml::Table {
    let mut doc: toml::Table = toml::from_str(text).expect("valid TOML");
    match doc.remove("cloud") {
        Some(toml::Value::Table(t)) => t,
        _ => panic!("no [cloud] table"),
    }
}

const FULL: &str = r#"
[cloud.node]
instance_id = "ins-a"
network_interface_id = "eni-a"

[cloud.tencent]
region = "ap-guangzhou"
endpoint = "http://192.0.2.250:8080"
secret_id = "AKIDEXAMPLE"
secret_key = "not-a-real-key"
request_timeout = "2s"

[[cloud.tencent_havip]]
instance = "VI_1"
havip_id = "havip-1"
eip = "203.0.113.7"
confirm_timeout = "20s"
recheck_interval = "500ms"

[[cloud.tencent_migrate_ip]]
instance = "VI_2"

[[cloud.webhook]]
url = "https://hooks.example.com/x"
secret = "k"
instances = ["VI_1"]
"#;

#[test]
fn full_example_parses_with_defaults() {
    let s = parse(&table(FULL), &["VI_1", "VI_2"]).expect("valid");
    let t = s.tencent.as_ref().expect("tencent");
    assert_eq!(t.endpoint(), "http://192.0.2.250:8080");
    assert_eq!(t.request_timeout, Duration::from_secs(2));
    assert_eq!(s.tencent_havip[0].eip, Some(Ipv4Addr::new(203, 0, 113, 7)));
    assert_eq!(
        s.tencent_havip[0].recheck_interval,
        Duration::from_millis(500)
    );
    assert_eq!(
        s.tencent_havip[0].reconcile_interval,
        DEFAULT_RECONCILE_INTERVAL
    );
    assert_eq!(
        s.tencent_migrate_ip[0].confirm_timeout,
        DEFAULT_CONFIRM_TIMEOUT
    );
    assert_eq!(s.webhook[0].timeout, DEFAULT_REQUEST_TIMEOUT);
    assert_eq!(s.node.instance_id.as_deref(), Some("ins-a"));
    assert!(
        !format!("{s:?}").contains("not-a-real-key"),
        "secret in Debug"
    );
}

fn errors(text: &str) -> Vec<String> {
    parse(&table(text), &["VI_1"])
        .err()
        .unwrap_or_default()
        .iter()
        .map(ToString::to_string)
        .collect()
}

/// keepalived.conf users put `[cloud]` in the sidecar `<keepalived.conf>.havip.toml`.
#[test]
fn cloud_settings_from_a_keepalived_sidecar() {
    let dir = std::env::temp_dir().join(format!("havip-sidecar-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let conf = dir.join("keepalived.conf");
    std::fs::write(
        &conf,
        "vrrp_instance VI_1 {\n    state BACKUP\n    interface eth0\n    virtual_router_id 51\n    \
         priority 100\n    advert_int 1\n    virtual_ipaddress {\n        192.0.2.200/24\n    }\n}\n",
    )
    .expect("write conf");
    std::fs::write(
        crate::config::sidecar_path(&conf),
        "[cloud.node]\ninstance_id = \"ins-a\"\n\n[cloud.tencent]\nregion = \"ap-guangzhou\"\n\n\
         [[cloud.tencent_havip]]\n\
         instance = \"VI_1\"\nhavip_id = \"havip-1\"\n",
    )
    .expect("write sidecar");
    let loaded = crate::config::load(&conf, crate::config::Format::Keepalived);
    let _ = std::fs::remove_dir_all(&dir);
    let loaded = loaded.expect("loads");
    let table = loaded.config.cloud.expect("[cloud] from the sidecar");
    let names: Vec<&str> = loaded
        .config
        .instances
        .iter()
        .map(|i| i.name.as_str())
        .collect();
    let s = parse(&table, &names).expect("valid");
    assert_eq!(s.tencent_havip[0].havip_id, "havip-1");
    assert_eq!(s.tencent_havip[0].instance, "VI_1");
}

#[test]
fn errors_name_the_field() {
    let e = errors(
        "[cloud.tencent]\nregion = \"x\"\n[[cloud.tencent_havip]]\ninstance = \"VI_1\"\nhavip_id = \"h\"\n",
    );
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(e[0].starts_with("cloud.node: set instance_id"), "{e:?}");

    let e =
        errors("[cloud.tencent]\nregion = \"x\"\n\n[[cloud.tencent_havip]]\ninstance = \"VI_1\"\n");
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(e[0].starts_with("cloud.tencent_havip[0]: "), "{e:?}");
    assert!(e[0].contains("havip_id"), "{e:?}");

    let e = errors("[cloud.tencent]\nregion = \"x\"\nregoin = \"y\"\n");
    assert!(
        e[0].starts_with("cloud.tencent: ") && e[0].contains("regoin"),
        "{e:?}"
    );

    let e = errors("[cloud.tencnet]\nregion = \"x\"\n");
    assert!(e[0].starts_with("cloud.tencnet: unknown key"), "{e:?}");

    let e = errors("[[cloud.tencent_havip]]\ninstance = \"VI_9\"\nhavip_id = \"h\"\n");
    assert!(e.iter().any(|m| m.starts_with("cloud.tencent: ")), "{e:?}");

    let e = errors(
        "[cloud.tencent]\nregion = \"x\"\n[[cloud.tencent_havip]]\ninstance = \"VI_9\"\nhavip_id = \"h\"\nrecheck_interval = \"0s\"\n",
    );
    assert!(
        e.iter().any(
            |m| m.starts_with("cloud.tencent_havip[0].instance: no VRRP instance named `VI_9`")
        ),
        "{e:?}"
    );
    assert!(
        e.iter()
            .any(|m| m.starts_with("cloud.tencent_havip[0].recheck_interval: ")),
        "{e:?}"
    );

    let e = errors("[cloud.tencent]\nregion = \"x\"\nrequest_timeout = \"5\"\n");
    assert!(
        e[0].starts_with("cloud.tencent: ") && e[0].contains("no unit"),
        "{e:?}"
    );

    let e = errors("[cloud.tencent]\nregion = \"x\"\nendpoint = \"ftp://h\"\n");
    assert!(e[0].starts_with("cloud.tencent.endpoint: "), "{e:?}");

    let e = errors("[[cloud.webhook]]\nurl = \"https://h/x\"\n");
    assert!(
        e[0].starts_with("cloud.webhook[0]: set exactly one of secret"),
        "{e:?}"
    );

    let e = errors("[cloud.tencent]\nregion = \"x\"\nsecret_id = \"a\"\n");
    assert!(e[0].contains("both secret_id and secret_key"), "{e:?}");
}

#[test]
fn alibaba_aws_and_role_credentials() {
    let text = r#"
[cloud.tencent]
region = "ap-guangzhou"
credentials = "cam-role"
role_name = "havip"
metadata_url = "http://192.0.2.250:8080/latest/meta-data/"

[cloud.alibaba]
region = "cn-hangzhou"
credentials = "ram-role"

[[cloud.alibaba_havip]]
instance = "VI_1"
havip_id = "havip-bp1"
exclusive = true

[cloud.aws]
region = "eu-west-1"
credentials = "instance-role"
metadata_url = "http://192.0.2.250:8080/latest/"

[[cloud.aws_private_ip]]
instance = "VI_2"
private_ip = "192.0.2.201"
"#;
    let s = parse(&table(text), &["VI_1", "VI_2"]).expect("valid");
    let tencent = s.tencent.as_ref().expect("tencent");
    assert_eq!(tencent.credentials.as_deref(), Some(CAM_ROLE));
    assert_eq!(
        tencent.metadata_url(),
        "http://192.0.2.250:8080/latest/meta-data/"
    );
    let alibaba = s.alibaba.as_ref().expect("alibaba");
    assert_eq!(alibaba.endpoint(), "https://vpc.cn-hangzhou.aliyuncs.com");
    assert_eq!(alibaba.metadata_url(), providers::DEFAULT_ALIBABA_METADATA);
    assert!(s.alibaba_havip[0].exclusive);
    let aws = s.aws.as_ref().expect("aws");
    assert_eq!(aws.endpoint(), "https://ec2.eu-west-1.amazonaws.com");
    assert_eq!(
        s.aws_private_ip[0].private_ip,
        Some(Ipv4Addr::new(192, 0, 2, 201))
    );
    assert!(!s.is_empty());

    let errors = |text: &str| -> Vec<String> {
        parse(&table(text), &["VI_1"])
            .expect_err("invalid")
            .iter()
            .map(ToString::to_string)
            .collect()
    };
    let e = errors("[[cloud.alibaba_havip]]\ninstance = \"VI_1\"\nhavip_id = \"h\"\n");
    assert!(e.iter().any(|m| m.starts_with("cloud.alibaba: ")), "{e:?}");
    let e = errors("[cloud.aws]\nregion = \"r\"\ncredentials = \"magic\"\n");
    assert!(
        e.iter().any(|m| m.starts_with("cloud.aws.credentials: ")),
        "{e:?}"
    );
    let e = errors(
        "[cloud.tencent]\nregion = \"r\"\ncredentials = \"cam-role\"\nsecret_id = \"a\"\n\
         secret_key = \"b\"\n",
    );
    assert!(
        e.iter()
            .any(|m| m.starts_with("cloud.tencent.credentials: ")),
        "{e:?}"
    );
    let e = errors("[[cloud.aws_private_ip]]\ninstance = \"VI_9\"\n[cloud.aws]\nregion = \"r\"\n");
    assert!(
        e.iter()
            .any(|m| m.starts_with("cloud.aws_private_ip[0].instance")),
        "{e:?}"
    );
}
