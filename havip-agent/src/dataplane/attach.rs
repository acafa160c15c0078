//! Attaching the XDP program: driver mode with an explicit, logged fallback to SKB mode.

use std::fmt;

use aya::programs::{Xdp, XdpMode, xdp::XdpLinkId};
use tracing::{info, warn};

use super::DataplaneError;
use crate::net::iface;

/// How to attach.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum AttachMode {
    /// Driver (native) mode, falling back to SKB mode if the driver refuses. On veth, SKB mode
    /// directly: native `XDP_TX` on veth needs an XDP program on the peer, which we do not own.
    #[default]
    Auto,
    /// Native mode only; fail if the driver refuses.
    Driver,
    /// Generic (SKB) mode only.
    Skb,
}

impl fmt::Display for AttachMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Auto => "auto",
            Self::Driver => "driver",
            Self::Skb => "skb",
        })
    }
}

/// A program attached to one interface.
#[derive(Debug)]
pub struct Attached {
    /// Interface name.
    pub ifname: String,
    /// Interface index.
    pub ifindex: u32,
    /// The mode actually in use (`Driver` or `Skb`).
    pub mode: AttachMode,
    pub(crate) link: XdpLinkId,
    pub(crate) program: &'static str,
}

/// Attaches `prog` to `ifname` following `mode`.
pub(crate) fn attach(
    prog: &mut Xdp,
    program: &'static str,
    ifname: &str,
    mode: AttachMode,
) -> Result<Attached, DataplaneError> {
    let ifindex = iface::if_index(ifname)?;
    let driver = iface::driver_of(ifname).unwrap_or_default();
    let try_mode = |prog: &mut Xdp, m: AttachMode| {
        let xm = if m == AttachMode::Driver {
            XdpMode::Driver
        } else {
            XdpMode::Skb
        };
        prog.attach(ifindex, xm)
            .map_err(|source| DataplaneError::Attach {
                ifname: ifname.to_owned(),
                mode: m,
                source,
            })
    };
    let (link, used) = match mode {
        AttachMode::Skb => (try_mode(prog, AttachMode::Skb)?, AttachMode::Skb),
        AttachMode::Driver => {
            if driver == "veth" {
                warn!(
                    ifname,
                    "driver mode on veth: XDP_TX replies are only delivered if the peer veth \
                     also has an XDP program attached"
                );
            }
            (try_mode(prog, AttachMode::Driver)?, AttachMode::Driver)
        }
        AttachMode::Auto if driver == "veth" => {
            info!(
                ifname,
                "veth: using SKB mode (driver-mode XDP_TX needs an XDP program on the peer veth)"
            );
            (try_mode(prog, AttachMode::Skb)?, AttachMode::Skb)
        }
        AttachMode::Auto => match try_mode(prog, AttachMode::Driver) {
            Ok(link) => (link, AttachMode::Driver),
            Err(err) => {
                warn!(ifname, driver, error = %err, "driver mode refused, falling back to SKB mode");
                (try_mode(prog, AttachMode::Skb)?, AttachMode::Skb)
            }
        },
    };
    info!(ifname, ifindex, mode = %used, driver, "XDP program attached");
    Ok(Attached {
        ifname: ifname.to_owned(),
        ifindex,
        mode: used,
        link,
        program,
    })
}
