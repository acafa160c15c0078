//! The `vrrp_instance` directives havip does not implement, with the severity of each and why.

use crate::config::diagnostic::Severity;

/// Instance directives havip does not implement: severity and why.
///
/// Errors change who owns the VIP or how it is reached, so ignoring them would make this node
/// behave differently from a keepalived peer reading the same file. Warnings are tuning or
/// side features whose absence does not change the election.
pub(super) const UNSUPPORTED: &[(&str, Severity, &str)] = &[
    (
        "use_vmac",
        Severity::Error,
        "virtual MAC (macvlan) interfaces are not supported",
    ),
    (
        "use_vmac_addr",
        Severity::Error,
        "virtual MAC (macvlan) interfaces are not supported",
    ),
    (
        "vmac_xmit_base",
        Severity::Error,
        "virtual MAC (macvlan) interfaces are not supported",
    ),
    (
        "use_ipvlan",
        Severity::Error,
        "ipvlan interfaces are not supported",
    ),
    ("vrf", Severity::Error, "VRFs are not supported"),
    (
        "mcast_dst_ip",
        Severity::Error,
        "havip sends multicast adverts to 224.0.0.18 only",
    ),
    (
        "track_file",
        Severity::Error,
        "only interfaces and scripts can be tracked (a vrrp_script can check a file)",
    ),
    (
        "track_process",
        Severity::Error,
        "only interfaces and scripts can be tracked (a vrrp_script can check a process)",
    ),
    (
        "virtual_routes",
        Severity::Error,
        "havip moves addresses, not routes",
    ),
    (
        "virtual_rules",
        Severity::Error,
        "havip moves addresses, not routing rules",
    ),
    (
        "down_timer_adverts",
        Severity::Error,
        "havip uses the RFC master-down timer (3 advert intervals plus skew)",
    ),
    (
        "owner_ignore_adverts",
        Severity::Error,
        "an address owner always processes adverts in havip",
    ),
    (
        "accept",
        Severity::Warning,
        "havip never filters traffic to the VIP (accept mode is always on)",
    ),
    (
        "no_accept",
        Severity::Warning,
        "havip never filters traffic to the VIP (accept mode is always on)",
    ),
    (
        "skip_check_adv_addr",
        Severity::Warning,
        "havip does not compare the address list of adverts",
    ),
    (
        "strict_mode",
        Severity::Warning,
        "havip does not add firewall rules",
    ),
    ("lower_prio_no_advert", Severity::Warning, "not supported"),
    (
        "higher_prio_send_advert",
        Severity::Warning,
        "not supported",
    ),
    ("garp_lower_prio_delay", Severity::Warning, "not supported"),
    ("garp_lower_prio_repeat", Severity::Warning, "not supported"),
    ("garp_extra_if", Severity::Warning, "not supported"),
    (
        "vmac_garp_intvl",
        Severity::Warning,
        "virtual MAC interfaces are not supported",
    ),
    (
        "unicast_ttl",
        Severity::Warning,
        "havip always sends adverts with TTL 255 (RFC 3768 5.1.1.3)",
    ),
    ("track_src_ip", Severity::Warning, "not supported"),
    (
        "promote_secondaries",
        Severity::Warning,
        "havip does not change interface flags",
    ),
    (
        "linkbeat_use_polling",
        Severity::Warning,
        "havip follows link state through netlink",
    ),
    ("kernel_rx_buf_size", Severity::Warning, "not supported"),
    (
        "notify_priority_changes",
        Severity::Warning,
        "notify FIFOs are not supported",
    ),
    ("notify_deleted", Severity::Warning, "not supported"),
    (
        "notify_master_rx_lower_pri",
        Severity::Warning,
        "not supported; the cloud reporter reconciles ownership instead",
    ),
    ("timer_expired_backup", Severity::Warning, "not supported"),
    ("thread_timer_expired", Severity::Warning, "not supported"),
    ("unicast_fault_no_peer", Severity::Warning, "not supported"),
    ("old_unicast_checksum", Severity::Warning, "not supported"),
    (
        "lvs_sync_daemon_interface",
        Severity::Warning,
        "LVS is outside havip's scope",
    ),
    (
        "debug",
        Severity::Warning,
        "use RUST_LOG for havip's log level",
    ),
    (
        "global_tracking",
        Severity::Warning,
        "deprecated in keepalived; track on the vrrp_sync_group",
    ),
    ("smtp_alert", Severity::Note, "havip sends no email"),
    (
        "no_virtual_ipaddress",
        Severity::Note,
        "havip allows instances without addresses",
    ),
];
