//! Attaching the tc classifier (`havip_tc`) to an interface's ingress so that it outlives the
//! agent, like the XDP program attached through rtnetlink (see `xdp_netlink`).
//!
//! - **tcx** (Linux 6.6, commit e420bed02507): the program is attached with `BPF_PROG_ATTACH`
//!   (`BPF_TCX_INGRESS`), not with a `bpf_link`. A tcx link is detached when its last file
//!   descriptor closes, so `kill -9` would take the program away and let the kernel's ARP answer
//!   for a VIP whose address the dead agent left configured; pinning the link would need a
//!   bpffs, which havip does not assume. A program attached without a link belongs to the
//!   interface until it is detached or the interface goes, exactly as an `IFLA_XDP` program.
//!   havip's program goes first in the interface's tcx chain (`BPF_F_BEFORE` with no anchor):
//!   it must see ARP, NS and adverts before another tc program consumes them, and it passes
//!   everything else with `TC_ACT_UNSPEC` (`TCX_NEXT`), so the programs after it still run.
//!   A previous agent's program is replaced in place (`BPF_F_REPLACE`): no window without one.
//! - **`cls_bpf`** on a `clsact` qdisc (older kernels): a netlink filter in direct-action mode,
//!   which also belongs to the interface. aya returns a link for it that would delete the filter
//!   when dropped; the agent forgets that link on purpose and deletes the filter by name when it
//!   detaches. A restarted agent cannot find a `cls_bpf` program by id (aya has no filter
//!   dump), so it removes the old filter and attaches its own (see `adopt`).

use std::{
    io,
    os::fd::{AsFd as _, AsRawFd as _, BorrowedFd},
};

use aya::programs::{
    SchedClassifier,
    tc::{self, TcAttach, TcAttachType},
};
use havip_common::TC_PROGRAM;
use tracing::{info, warn};

use super::{AttachMode, DataplaneError};

// `include/uapi/linux/bpf.h`.
const BPF_PROG_ATTACH: libc::c_long = 8;
const BPF_PROG_DETACH: libc::c_long = 9;
const BPF_TCX_INGRESS: u32 = 46;
const BPF_F_REPLACE: u32 = 1 << 2;
const BPF_F_BEFORE: u32 = 1 << 3;

/// The `BPF_PROG_ATTACH` / `BPF_PROG_DETACH` part of `union bpf_attr` (Linux 6.6 layout:
/// target, program, type, flags, replaced program, anchor, expected revision).
#[repr(C)]
#[derive(Default)]
struct ProgAttachAttr {
    target_ifindex: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
    replace_bpf_fd: u32,
    relative_fd: u32,
    expected_revision: u64,
}

fn fd_u32(fd: BorrowedFd<'_>) -> io::Result<u32> {
    u32::try_from(fd.as_raw_fd()).map_err(io::Error::other)
}

fn bpf(cmd: libc::c_long, attr: &ProgAttachAttr) -> io::Result<()> {
    // SAFETY: `attr` is a live, fully initialised (padding-free) struct of the size passed.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            std::ptr::from_ref(attr),
            size_of::<ProgAttachAttr>(),
        )
    };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// The ids and names of the programs in `ifindex`'s tcx ingress chain, in order; `Err` when the
/// kernel has no tcx (before 6.6).
pub(crate) fn tcx_programs(ifindex: u32) -> io::Result<Vec<(u32, String)>> {
    let (_, progs) = SchedClassifier::query_tcx(ifindex, TcAttachType::Ingress)
        .map_err(|e| io::Error::other(e.to_string()))?;
    Ok(progs
        .into_iter()
        .map(|p| (p.id(), p.name_as_str().unwrap_or_default().to_owned()))
        .collect())
}

/// Attaches program `fd` (kernel id `own_id`) first in `ifindex`'s tcx ingress chain, replacing
/// a previous agent's `havip_tc` in place; nothing happens if it is already there.
pub(crate) fn attach_tcx(
    fd: BorrowedFd<'_>,
    own_id: u32,
    ifname: &str,
    ifindex: u32,
) -> io::Result<()> {
    let chain = tcx_programs(ifindex)?;
    if chain.iter().any(|(id, _)| *id == own_id) {
        return Ok(());
    }
    let mut attr = ProgAttachAttr {
        target_ifindex: ifindex,
        attach_bpf_fd: fd_u32(fd)?,
        attach_type: BPF_TCX_INGRESS,
        ..ProgAttachAttr::default()
    };
    let old = chain.iter().find(|(_, name)| name == TC_PROGRAM);
    if let Some((old_id, _)) = old {
        let old_fd = aya::programs::loaded_programs()
            .filter_map(Result::ok)
            .find(|p| p.id() == *old_id)
            .ok_or_else(|| io::Error::other(format!("program {old_id} vanished")))?
            .fd()
            .map_err(|e| io::Error::other(e.to_string()))?;
        attr.attach_flags = BPF_F_REPLACE;
        attr.replace_bpf_fd = fd_u32(old_fd.as_fd())?;
        bpf(BPF_PROG_ATTACH, &attr)?;
        info!(
            ifname,
            old_prog_id = old_id,
            "replaced the tc program of a previous agent"
        );
    } else {
        attr.attach_flags = BPF_F_BEFORE;
        bpf(BPF_PROG_ATTACH, &attr)?;
    }
    Ok(())
}

/// Replaces program `old` by `new` in `ifindex`'s tcx ingress chain, only if `old` is there.
pub(crate) fn replace_tcx(
    ifindex: u32,
    new: BorrowedFd<'_>,
    old: BorrowedFd<'_>,
) -> io::Result<()> {
    bpf(
        BPF_PROG_ATTACH,
        &ProgAttachAttr {
            target_ifindex: ifindex,
            attach_bpf_fd: fd_u32(new)?,
            attach_type: BPF_TCX_INGRESS,
            attach_flags: BPF_F_REPLACE,
            replace_bpf_fd: fd_u32(old)?,
            ..ProgAttachAttr::default()
        },
    )
}

/// Detaches program `fd` from `ifindex`'s tcx ingress chain.
pub(crate) fn detach_tcx(fd: BorrowedFd<'_>, ifindex: u32) -> io::Result<()> {
    bpf(
        BPF_PROG_DETACH,
        &ProgAttachAttr {
            target_ifindex: ifindex,
            attach_bpf_fd: fd_u32(fd)?,
            attach_type: BPF_TCX_INGRESS,
            ..ProgAttachAttr::default()
        },
    )
}

/// Attaches the loaded `prog` to `ifname`'s ingress: tcx, or `cls_bpf` where the kernel has no
/// tcx (or `force_cls_bpf`). Returns [`AttachMode::Tcx`] or [`AttachMode::ClsBpf`].
pub(crate) fn attach(
    prog: &mut SchedClassifier,
    ifname: &str,
    ifindex: u32,
    force_cls_bpf: bool,
) -> Result<AttachMode, DataplaneError> {
    let err = |mode: AttachMode| {
        let ifname = ifname.to_owned();
        move |source: io::Error| DataplaneError::Attach {
            ifname,
            mode,
            source,
        }
    };
    let load_err = |e: aya::programs::ProgramError| DataplaneError::Load {
        source: Box::new(e),
    };
    if !force_cls_bpf {
        let own_id = prog.info().map_err(load_err)?.id();
        let fd = prog.fd().map_err(load_err)?;
        match attach_tcx(fd.as_fd(), own_id, ifname, ifindex) {
            Ok(()) => {
                info!(ifname, ifindex, "tc program attached (tcx ingress, first)");
                return Ok(AttachMode::Tcx);
            }
            // No tcx in this kernel (query or attach type unknown): the fallback.
            Err(e) if matches!(e.raw_os_error(), Some(libc::EINVAL | libc::EOPNOTSUPP)) => {
                warn!(ifname, error = %e, "no tcx (Linux < 6.6?): falling back to clsact + cls_bpf");
            }
            Err(e) => return Err(err(AttachMode::Tcx)(e)),
        }
    }
    let cls = AttachMode::ClsBpf;
    // The qdisc may exist already (another tc user, or a previous agent): an error here is
    // that, or one the attach below reports with its cause.
    let _ = tc::qdisc_add_clsact(ifindex);
    // A previous agent's filter would judge frames with its own (stale) tables first.
    if detach_cls_bpf(ifindex).is_ok() {
        warn!(
            ifname,
            "removed the cls_bpf filter of a previous agent (not adoptable)"
        );
    }
    let id = prog
        .attach(
            ifindex,
            TcAttach::Netlink {
                parent: TcAttachType::Ingress.into(),
                // Priority 1 (the lowest number runs first): see the module doc on order.
                options: tc::NlOptions {
                    priority: 1,
                    ..tc::NlOptions::default()
                },
            },
        )
        .map_err(|e| err(cls)(io::Error::other(e.to_string())))?;
    // The link would delete the filter when dropped (with the program, at exit): forgotten so
    // that the filter outlives the agent; `detach_cls_bpf` removes it by name.
    let link = prog
        .take_link(id)
        .map_err(|e| err(cls)(io::Error::other(e.to_string())))?;
    std::mem::forget(link);
    info!(
        ifname,
        ifindex, "tc program attached (clsact ingress, cls_bpf direct action)"
    );
    Ok(cls)
}

/// Deletes every `havip_tc` `cls_bpf` filter on `ifindex`'s ingress.
pub(crate) fn detach_cls_bpf(ifindex: u32) -> io::Result<()> {
    tc::qdisc_detach_program(ifindex, TcAttachType::Ingress.into(), TC_PROGRAM)
        .map_err(|e| io::Error::other(e.to_string()))
}
