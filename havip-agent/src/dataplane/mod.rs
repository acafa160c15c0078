//! The data plane: loading the program and attaching it (XDP, or tc: see `mode`), and a typed
//! API over its maps (VIP table, ownership grants with a lease, unicast peers, counters, advert
//! events).

pub mod adopt;
mod attach;
mod bfd_table;
mod control;
pub mod mode;
pub mod pins;
mod reader;
pub mod sizing;
mod tc_attach;
mod vrid;
mod xdp_netlink;

pub use attach::{AttachMode, Attached};
pub use bfd_table::{BfdNeighbor, BfdTable};
pub use control::{Counters, Dataplane, Inherited, Origin, VridConfig};
pub use mode::DataplaneMode;
pub use reader::{MapReader, Ownership};
pub use sizing::{MapSizes, Needs};
pub use vrid::Vrid;

/// The eBPF object built by build.rs, 8-byte aligned as aya requires. Empty in a build without
/// the `ebpf` feature, where [`Dataplane::load`] refuses with a message that says so.
#[cfg(feature = "ebpf")]
pub static EBPF_OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/havip"));
/// The eBPF object built by build.rs, 8-byte aligned as aya requires. Empty in a build without
/// the `ebpf` feature, where [`Dataplane::load`] refuses with a message that says so.
#[cfg(not(feature = "ebpf"))]
pub static EBPF_OBJECT: &[u8] = &[];

/// Errors of the data plane.
#[derive(Debug, thiserror::Error)]
pub enum DataplaneError {
    /// Loading the object or a program into the kernel failed.
    #[error("loading the XDP object failed: {source}")]
    Load {
        /// The cause.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The object lacks a map or program the ABI names.
    #[error("the XDP object has no {what} named {name}")]
    Missing {
        /// "map" or "program".
        what: &'static str,
        /// Its name.
        name: &'static str,
    },
    /// Attaching to an interface failed.
    #[error("attaching XDP to {ifname} in {mode} mode failed: {source}")]
    Attach {
        /// The interface.
        ifname: String,
        /// The mode tried.
        mode: AttachMode,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Another (non-havip) XDP program is attached to the interface; havip never displaces it.
    #[error(
        "{ifname} already has XDP program {name:?} (id {prog_id}) attached; havip does not \
         replace programs it did not attach (remove it with `ip link set dev {ifname} xdp off`)"
    )]
    Foreign {
        /// The interface.
        ifname: String,
        /// Kernel id of the program.
        prog_id: u32,
        /// Its name, if it could be read.
        name: String,
    },
    /// A map operation failed.
    #[error("map {map}: {op} failed: {source}")]
    Map {
        /// Map name.
        map: &'static str,
        /// Operation.
        op: &'static str,
        /// The cause.
        #[source]
        source: aya::maps::MapError,
    },
    /// The VIP table or its counter slots are full (the tables are sized from the configuration
    /// at load; see [`sizing`]).
    #[error("the VIP table is full ({capacity} entries, sized when the agent started)")]
    VipTableFull {
        /// Its capacity.
        capacity: u32,
    },
    /// An operation named an (interface, VRID) that was never configured.
    #[error("VRID {vrid} is not configured on interface index {ifindex}")]
    UnknownVrid {
        /// Interface index.
        ifindex: u32,
        /// VRID.
        vrid: u8,
    },
    /// A data plane mode or operation this build does not implement.
    #[error("{what}")]
    Unsupported {
        /// What, and what to use instead.
        what: &'static str,
    },
    /// An interface lookup failed.
    #[error(transparent)]
    Iface(#[from] crate::net::iface::IfaceError),
}

impl DataplaneError {
    pub(crate) fn map(map: &'static str, op: &'static str, source: aya::maps::MapError) -> Self {
        Self::Map { map, op, source }
    }
}
