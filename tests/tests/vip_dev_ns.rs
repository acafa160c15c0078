//! A VIP whose `dev` is another interface than the instance's (issue #9): the instance runs on
//! node a's `eth0` (the pair lab's bridge), the VIP lives on a's `eth1`, a veth to a second
//! client namespace (198.51.100.0/24). The XDP program must guard `eth1` too: while a is master
//! the VIP is answered there with `eth1`'s MAC, and after `kill -9` of the agent the answers stop
//! once the lease runs out, although the address stays configured on `eth1` (without the program
//! on `eth1`, a's kernel would keep answering: the split brain havip promises to prevent).

use std::{net::Ipv4Addr, time::Duration};

use havip_tests::{
    agents::{InstanceSpec, Vrrp, spawn_havip_toml, wait_havip_state},
    netns::{NetNs, unique_tag, wait_for},
    pair::PairLab,
    prober::ArpProber,
    require_root,
};

const A: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 11);
const B: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 12);
const A_ETH1: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 11);
const CLIENT2: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
const VIP: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 200);
const WINDOW: Duration = Duration::from_millis(100);

#[test]
fn a_vip_on_another_interface_is_guarded_there_and_stops_after_kill_9() {
    if !require_root("a_vip_on_another_interface_is_guarded_there_and_stops_after_kill_9") {
        return;
    }
    let lab = PairLab::new("a", "b").expect("lab");
    let a_ns = &lab.lan.nodes[1].ns;
    // Second segment: a's eth1 <-> eth0 of client2.
    let client2 = NetNs::new(&unique_tag(), "c2").expect("client2");
    a_ns.ip(&[
        "link",
        "add",
        "eth1",
        "type",
        "veth",
        "peer",
        "name",
        "eth0",
        "netns",
        client2.name(),
    ])
    .expect("veth");
    a_ns.ip(&["addr", "add", &format!("{A_ETH1}/24"), "dev", "eth1"])
        .expect("a eth1 address");
    a_ns.ip(&["link", "set", "eth1", "up"]).expect("a eth1 up");
    client2
        .ip(&["addr", "add", &format!("{CLIENT2}/24"), "dev", "eth0"])
        .expect("client2 address");
    client2
        .ip(&["link", "set", "eth0", "up"])
        .expect("client2 up");
    let eth1_mac = {
        let out = a_ns
            .exec("cat", &["/sys/class/net/eth1/address"])
            .expect("eth1 MAC");
        havip_agent::net::iface::parse_mac(String::from_utf8_lossy(&out.stdout).trim())
            .expect("MAC")
    };
    let prober = ArpProber::open(&client2, "eth0", CLIENT2).expect("prober");

    let mut spec = InstanceSpec::new(Vrrp::V3 { centis: 10 }, 150, A, &[B]);
    spec.vips = vec![format!("{VIP}/32 dev eth1")];
    let mut toml = spec.to_toml();
    toml = toml.replace(
        &format!("virtual_ipaddresses = [\"{VIP}/32 dev eth1\"]"),
        &format!("virtual_ipaddresses = [{{ address = \"{VIP}/32\", dev = \"eth1\" }}]"),
    );
    let mut a = spawn_havip_toml(&lab.lan.nodes[1], &lab.dir, "a", &toml).expect("a");
    assert!(
        wait_havip_state(&a, "MASTER", 0, Duration::from_secs(3)).is_some(),
        "{}",
        a.log_text()
    );
    // The program is attached to eth1 too, and answers there with eth1's MAC.
    let link = a_ns.ip(&["-d", "link", "show", "eth1"]).expect("ip link");
    assert!(
        String::from_utf8_lossy(&link.stdout).contains("prog/xdp"),
        "no XDP program on eth1: {}\n{}",
        String::from_utf8_lossy(&link.stdout),
        a.log_text()
    );
    let answered = wait_for(Duration::from_secs(3), Duration::from_millis(10), || {
        let s = prober.probe(VIP, WINDOW).ok()?;
        (s.macs == [eth1_mac]).then_some(())
    });
    assert!(
        answered.is_some(),
        "the VIP on eth1 is not answered by a's eth1 while a is master:\n{}",
        a.log_text()
    );
    let has_vip = a_ns
        .ip(&["-4", "addr", "show", "dev", "eth1"])
        .expect("ip addr");
    assert!(
        String::from_utf8_lossy(&has_vip.stdout).contains(&VIP.to_string()),
        "the VIP address is not on eth1"
    );

    a.signal(libc::SIGKILL);
    assert!(
        a.wait(Duration::from_secs(5)).is_some(),
        "agent did not die"
    );
    // The address stays on eth1 after kill -9; the lease (2 intervals, 200 ms) must silence it.
    let silent = wait_for(Duration::from_secs(3), Duration::from_millis(10), || {
        let s = prober.probe(VIP, Duration::from_millis(50)).ok()?;
        s.macs.is_empty().then_some(())
    });
    assert!(
        silent.is_some(),
        "a's kernel still answers for the VIP on eth1 after kill -9 (split brain)"
    );
    for s in prober
        .watch(VIP, WINDOW, Duration::from_millis(600))
        .expect("watch")
    {
        assert!(s.macs.is_empty(), "a dead owner answered at {:?}", s.at);
    }
}
