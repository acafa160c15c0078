//! A load-balancer node's configuration end to end: two havip nodes with 255 instances x 16
//! VIPs (4,080 VIPs, VRIDs 1..=255, unicast peers) start, elect, and the master alone answers
//! every VIP; after its link is cut the other node alone answers every VIP. Generous bounds: the
//! numbers are the bench's business (`havip-bench scale`).

use std::time::Duration;

use havip_tests::{
    agents::Vrrp,
    failover::run::Implementation,
    require_root,
    scale::{Lab, Layout},
};

#[test]
fn two_nodes_with_255_instances_of_16_vips_elect_and_fail_over_every_vip() {
    if !require_root("two_nodes_with_255_instances_of_16_vips_elect_and_fail_over_every_vip") {
        return;
    }
    let layout = Layout {
        instances: 255,
        vips_per_instance: 16,
    };
    let vrrp = Vrrp::V2 { secs: 1 };
    // a starts alone as MASTER and must answer all 4,080 VIPs; then b joins as backup.
    let lab = Lab::start(Implementation::Havip, layout, vrrp, Duration::from_secs(20))
        .expect("a starts and answers every VIP");
    std::thread::sleep(vrrp.interval() * 2);
    let steady = lab.owners().expect("sweep");
    assert_eq!(
        (steady.a, steady.b, steady.both),
        (4080, 0, 0),
        "with both nodes up, a alone answers every VIP: {steady:?}"
    );
    lab.lan.cut(1).expect("cut a's link");
    let moved = lab
        .wait_owned_by(2, Duration::from_secs(20))
        .expect("sweep");
    assert!(
        moved.is_some(),
        "b did not answer every VIP alone within 20 s of the cut: {:?}",
        lab.owners()
    );
}
