//! Attaching the XDP program: driver mode with an explicit, logged fallback to SKB mode.

use std::fmt;

use std::os::fd::{AsFd as _, BorrowedFd};

use aya::programs::Xdp;
use tracing::{info, warn};

use super::{
    DataplaneError,
    xdp_netlink::{self, Replace},
};
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
    /// Not an XDP mode: the tc program, attached through tcx (the `tc` data plane; reported,
    /// never chosen on the command line).
    #[value(skip)]
    Tcx,
    /// Not an XDP mode: the tc program, attached as a `cls_bpf` filter on `clsact` (the `tc`
    /// data plane on a kernel without tcx).
    #[value(skip)]
    ClsBpf,
}

impl fmt::Display for AttachMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Auto => "auto",
            Self::Driver => "driver",
            Self::Skb => "skb",
            Self::Tcx => "tcx",
            Self::ClsBpf => "cls_bpf",
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
    pub(crate) program: &'static str,
}

/// Names of the programs havip attaches; anything else on an interface is left alone.
const OURS: [&str; 2] = [havip_common::XDP_PROGRAM, havip_common::PASS_PROGRAM];

/// The name of loaded program `id`, if it can be read.
pub(crate) fn program_name(id: u32) -> Option<String> {
    aya::programs::loaded_programs()
        .filter_map(Result::ok)
        .find(|p| p.id() == id)
        .and_then(|p| p.name_as_str().map(str::to_owned))
}

/// Attaches `prog` to `ifname` following `mode`, through rtnetlink (see [`xdp_netlink`]) so that
/// the program stays attached if the agent dies. A havip program left by a previous agent is
/// replaced atomically; any other program is an error.
pub(crate) fn attach(
    prog: &Xdp,
    program: &'static str,
    ifname: &str,
    mode: AttachMode,
) -> Result<Attached, DataplaneError> {
    let fd = prog.fd().map_err(|e| DataplaneError::Load {
        source: Box::new(e),
    })?;
    attach_fd(fd.as_fd(), program, ifname, mode)
}

/// [`attach`] for a program known by its file descriptor only (one adopted from a previous
/// agent, see `adopt`).
pub(crate) fn attach_fd(
    fd: BorrowedFd<'_>,
    program: &'static str,
    ifname: &str,
    mode: AttachMode,
) -> Result<Attached, DataplaneError> {
    let ifindex = iface::if_index(ifname)?;
    let driver = iface::driver_of(ifname).unwrap_or_default();
    let netlink_err = |m: AttachMode| {
        let ifname = ifname.to_owned();
        move |source| DataplaneError::Attach {
            ifname,
            mode: m,
            source,
        }
    };
    let existing = xdp_netlink::current(ifindex).map_err(netlink_err(mode))?;
    if let Some(cur) = existing {
        let name = program_name(cur.prog_id).unwrap_or_default();
        if !OURS.contains(&name.as_str()) {
            return Err(DataplaneError::Foreign {
                ifname: ifname.to_owned(),
                prog_id: cur.prog_id,
                name,
            });
        }
    }
    let try_mode = |m: AttachMode| -> Result<AttachMode, DataplaneError> {
        match existing {
            // Same mode: one atomic swap, the interface is never without a program.
            Some(cur) if cur.mode == m => {
                xdp_netlink::set(ifindex, Some(fd), m, Replace::Any).map_err(netlink_err(m))?;
                info!(
                    ifname,
                    old_prog_id = cur.prog_id,
                    "replaced the XDP program of a previous agent"
                );
            }
            // Another mode: the kernel allows one at a time, so remove the old one first.
            Some(cur) => {
                xdp_netlink::set(ifindex, None, cur.mode, Replace::Any)
                    .map_err(netlink_err(cur.mode))?;
                warn!(ifname, old_mode = %cur.mode, new_mode = %m, "removed the XDP program of a previous agent to change mode");
                xdp_netlink::set(ifindex, Some(fd), m, Replace::Nothing).map_err(netlink_err(m))?;
            }
            None => {
                xdp_netlink::set(ifindex, Some(fd), m, Replace::Nothing).map_err(netlink_err(m))?;
            }
        }
        Ok(m)
    };
    let used = match mode {
        // Not XDP modes (the tc hook's, never asked of this function): SKB, the mode that
        // works on every driver.
        AttachMode::Skb | AttachMode::Tcx | AttachMode::ClsBpf => try_mode(AttachMode::Skb)?,
        AttachMode::Driver => {
            if driver == "veth" {
                warn!(
                    ifname,
                    "driver mode on veth: XDP_TX replies are only delivered if the peer veth \
                     also has an XDP program attached"
                );
            }
            try_mode(AttachMode::Driver)?
        }
        AttachMode::Auto if driver == "veth" => {
            info!(
                ifname,
                "veth: using SKB mode (driver-mode XDP_TX needs an XDP program on the peer veth)"
            );
            try_mode(AttachMode::Skb)?
        }
        // Keep the mode a previous agent found to work.
        AttachMode::Auto if existing.is_some() => {
            try_mode(existing.map_or(AttachMode::Skb, |c| c.mode))?
        }
        AttachMode::Auto => match try_mode(AttachMode::Driver) {
            Ok(m) => m,
            Err(err) => {
                warn!(ifname, driver, error = %err, "driver mode refused, falling back to SKB mode");
                try_mode(AttachMode::Skb)?
            }
        },
    };
    info!(ifname, ifindex, mode = %used, driver, "XDP program attached");
    Ok(Attached {
        ifname: ifname.to_owned(),
        ifindex,
        mode: used,
        program,
    })
}

/// Removes `prog` from the interface of `a`, only if it is still the attached program.
pub(crate) fn detach(prog: &Xdp, a: &Attached) -> Result<(), DataplaneError> {
    let fd = prog.fd().map_err(|e| DataplaneError::Load {
        source: Box::new(e),
    })?;
    detach_fd(fd.as_fd(), a)
}

/// [`detach`] for a program known by its file descriptor only.
pub(crate) fn detach_fd(fd: BorrowedFd<'_>, a: &Attached) -> Result<(), DataplaneError> {
    xdp_netlink::set(a.ifindex, None, a.mode, Replace::Only(fd)).map_err(|source| {
        DataplaneError::Attach {
            ifname: a.ifname.clone(),
            mode: a.mode,
            source,
        }
    })
}
