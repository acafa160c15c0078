//! Which kernel hook carries havip's program (`--dataplane`, `dataplane = ".."` in TOML), and how
//! `auto` chooses one per interface.

use std::fmt;

use havip_common::{PASS_PROGRAM, TC_PROGRAM, XDP_PROGRAM};

/// The data plane mode: the hook the same ARP/NDP/VRRP logic runs on.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    clap::ValueEnum,
    serde::Deserialize,
    serde::Serialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum DataplaneMode {
    /// Exclusive XDP through rtnetlink (the fastest; refuses an interface that carries another
    /// XDP program).
    #[default]
    Xdp,
    /// A tc classifier on ingress (tcx, or `clsact` + `cls_bpf` before Linux 6.6): shares the
    /// interface with any XDP program, at the cost of an skb per frame.
    Tc,
    /// Joining a libxdp dispatcher: not implemented; refused with an error that says so.
    XdpMultiprog,
    /// Per interface: exclusive XDP when no XDP program is attached (or havip's own), tc when
    /// another one is (a libxdp dispatcher included, as multi-program mode is not implemented).
    Auto,
}

impl fmt::Display for DataplaneMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Xdp => "xdp",
            Self::Tc => "tc",
            Self::XdpMultiprog => "xdp-multiprog",
            Self::Auto => "auto",
        })
    }
}

impl DataplaneMode {
    /// Whether this is the default, exclusive XDP (left out when a configuration is written).
    #[must_use]
    pub fn is_xdp(&self) -> bool {
        *self == Self::Xdp
    }
}

/// The name libxdp gives its dispatcher program (`xdp_dispatcher` in xdp-tools'
/// `lib/libxdp/xdp-dispatcher.c`, cut to the kernel's 15 bytes).
pub const LIBXDP_DISPATCHER: &str = "xdp_dispatcher";

/// What `auto` picks on an interface whose XDP slot holds the program named `xdp_program`
/// (`None`: free), with the reason to log.
#[must_use]
pub fn auto_choice(xdp_program: Option<&str>) -> (DataplaneMode, &'static str) {
    match xdp_program {
        None => (DataplaneMode::Xdp, "no XDP program attached"),
        Some(XDP_PROGRAM) => (DataplaneMode::Xdp, "havip's own XDP program"),
        // The pass-through program goes on veth peers, never under havip's data plane: on the
        // VIP's interface it stands for an operator's program (and tests use it so).
        Some(PASS_PROGRAM) => (
            DataplaneMode::Tc,
            "havip's pass-through XDP program is attached",
        ),
        Some(TC_PROGRAM) => (DataplaneMode::Tc, "havip's own tc program"),
        Some(LIBXDP_DISPATCHER) => (
            DataplaneMode::Tc,
            "a libxdp dispatcher is attached and multi-program mode is not implemented",
        ),
        Some(_) => (DataplaneMode::Tc, "another XDP program is attached"),
    }
}

/// The `mode` label of `havip_dataplane_mode` and `status` for an attachment.
#[must_use]
pub fn label(attach: super::AttachMode) -> &'static str {
    match attach {
        super::AttachMode::Tcx | super::AttachMode::ClsBpf => "tc",
        _ => "xdp",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_keeps_xdp_on_a_free_or_own_interface_and_picks_tc_beside_another_program() {
        assert_eq!(auto_choice(None).0, DataplaneMode::Xdp);
        assert_eq!(auto_choice(Some("havip_xdp")).0, DataplaneMode::Xdp);
        assert_eq!(auto_choice(Some("havip_pass")).0, DataplaneMode::Tc);
        assert_eq!(auto_choice(Some("xdp_dispatcher")).0, DataplaneMode::Tc);
        assert_eq!(auto_choice(Some("xdpfilt_alw_all")).0, DataplaneMode::Tc);
    }

    #[test]
    fn modes_parse_from_toml_values() {
        #[derive(serde::Deserialize)]
        struct T {
            m: DataplaneMode,
        }
        for (s, m) in [
            ("xdp", DataplaneMode::Xdp),
            ("tc", DataplaneMode::Tc),
            ("xdp-multiprog", DataplaneMode::XdpMultiprog),
            ("auto", DataplaneMode::Auto),
        ] {
            let t: T = toml::from_str(&format!("m = \"{s}\"")).expect("parses");
            assert_eq!(t.m, m);
            assert_eq!(m.to_string(), s);
        }
        assert!(toml::from_str::<T>("m = \"tcx\"").is_err());
    }
}
