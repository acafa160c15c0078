//! keepalived's rules for IPv6 instances, as the importer applies them: the family from the
//! first virtual address (or `native_ipv6`), addresses of the other family ignored with
//! keepalived's warning, version 3 forced, the link-local first address, IPv6 unicast settings,
//! and `virtual_ipaddress_excluded` of either family. Each case: the file in, the model and the
//! exact diagnostics out.

#![expect(
    clippy::unwrap_used,
    reason = "tests unwrap fixtures known to be valid"
)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;

use super::import;
use crate::config::Family;
use crate::config::values::{Version, VirtualAddress};

fn fixture() -> (String, std::path::PathBuf) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/config/dual_stack.conf");
    (std::fs::read_to_string(&path).unwrap(), path)
}

fn messages(imported: &super::Imported) -> Vec<String> {
    imported
        .diagnostics
        .iter()
        .map(|d| {
            // Drop the directory: `dual_stack.conf:LINE:COL: SEVERITY: MESSAGE`.
            let dir = imported.root.parent().unwrap().display().to_string();
            let s = d.to_string();
            s.strip_prefix(&format!("{dir}/")).unwrap_or(&s).to_owned()
        })
        .collect()
}

fn v6(s: &str) -> IpAddr {
    s.parse::<Ipv6Addr>().unwrap().into()
}

#[test]
fn dual_stack_file_imports_with_keepalived_s_rules() {
    let (text, path) = fixture();
    let imported = import(&path, &text);
    let cfg = &imported.config;
    assert_eq!(cfg.instances.len(), 2);
    let (v4, v6i) = (&cfg.instances[0], &cfg.instances[1]);

    assert_eq!(v4.family(), Family::Ipv4);
    assert_eq!(v4.version, Version::V2, "global default for IPv4");
    assert_eq!(
        v4.virtual_ipaddresses,
        vec![VirtualAddress::new(Ipv4Addr::new(192, 0, 2, 200), 24)]
    );

    assert_eq!(v6i.family(), Family::Ipv6);
    assert_eq!(
        v6i.version,
        Version::V3,
        "`version 2` overridden: v2 is IPv4 only"
    );
    assert_eq!(v6i.unicast_src_ip, Some(v6("2001:db8::11")));
    assert_eq!(v6i.unicast_peers, vec![v6("2001:db8::12")]);
    assert_eq!(
        v6i.virtual_ipaddresses,
        vec![
            VirtualAddress::new(v6("fe80::5:200"), 64),
            VirtualAddress::new(v6("2001:db8::200"), 64),
        ],
        "the IPv4 address of the IPv6 instance is ignored"
    );
    assert_eq!(
        v6i.virtual_ipaddress_excluded,
        vec![
            VirtualAddress::new(Ipv4Addr::new(192, 0, 2, 202), 24),
            // keepalived adds an IPv6 address written without a prefix as /128.
            VirtualAddress::new(v6("2001:db8::202"), 128),
        ]
    );
    assert_eq!(cfg.sync_groups.len(), 1);
    assert_eq!(
        messages(&imported),
        vec![
            "dual_stack.conf:27:13: note: VRRP version 2 is IPv4 only: this IPv6 instance runs \
             version 3, as keepalived's does"
                .to_owned(),
            "dual_stack.conf:35:9: warning: virtual address `192.0.2.201/24` ignored, as \
             keepalived does: the address family must match the instance's (IPv6); list it in \
             virtual_ipaddress_excluded or in another instance"
                .to_owned(),
        ],
        "the first address is link-local, so no warning about it"
    );
}

#[test]
fn native_ipv6_and_a_global_first_address() {
    let text = "vrrp_instance N {\n    interface eth0\n    virtual_router_id 9\n    native_ipv6\n    \
                virtual_ipaddress {\n        192.0.2.9\n        2001:db8::9\n    }\n}\n";
    let imported = import(Path::new("/x/native.conf"), text);
    let i = &imported.config.instances[0];
    assert!(i.native_ipv6);
    assert_eq!(i.family(), Family::Ipv6);
    assert_eq!(
        i.version,
        Version::V3,
        "inherited default v2 becomes v3 for IPv6"
    );
    assert_eq!(
        i.virtual_ipaddresses,
        vec![VirtualAddress::new(v6("2001:db8::9"), 128)]
    );
    let m = messages(&imported);
    assert_eq!(m.len(), 2, "{m:?}");
    assert!(
        m[0].starts_with("native.conf:6:9: warning: virtual address `192.0.2.9` ignored"),
        "{m:?}"
    );
    assert!(
        m[1].starts_with(
            "native.conf:7:9: warning: the first IPv6 virtual address 2001:db8::9 should be link-local"
        ),
        "{m:?}"
    );
}

#[test]
fn ipv4_instance_ignores_a_later_ipv6_address() {
    let text = "vrrp_instance F {\n    interface eth0\n    virtual_router_id 9\n    \
                virtual_ipaddress {\n        192.0.2.9/24\n        2001:db8::9/64\n    }\n}\n";
    let imported = import(Path::new("/x/f.conf"), text);
    let i = &imported.config.instances[0];
    assert_eq!(i.family(), Family::Ipv4);
    assert_eq!(i.version, Version::V2);
    assert_eq!(
        i.virtual_ipaddresses,
        vec![VirtualAddress::new(Ipv4Addr::new(192, 0, 2, 9), 24)]
    );
    let m = messages(&imported);
    assert_eq!(m.len(), 1, "{m:?}");
    assert!(
        m[0].contains("`2001:db8::9/64` ignored, as keepalived does"),
        "{m:?}"
    );
}
