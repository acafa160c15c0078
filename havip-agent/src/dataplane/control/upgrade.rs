//! Upgrading the running program in place (issue #14): a new binary whose XDP program differs
//! from the attached one loads its own program onto the *same* maps and swaps it in atomically,
//! so grants, leases, fences, peers, counters and the agent's records carry over.
//!
//! aya 0.16 hands existing maps to a new object only through pin paths
//! (`EbpfLoader::map_pin_path`: it opens the pinned map and checks its type, key and value
//! sizes, `max_entries` and flags against the object's definition, refusing any difference).
//! No bpffs has to exist on the host: the agent mounts a private instance of its own, pins the
//! adopted maps there from their fds, loads, and unmounts it at once (the maps live on through
//! the new program and the agent's fds). That needs `CAP_SYS_ADMIN`, which the unit grants for
//! adoption by id anyway. The swap is one `RTM_SETLINK` per interface with `XDP_FLAGS_REPLACE`
//! and the old program as the expected fd (for the tc program: one `BPF_PROG_ATTACH` with
//! `BPF_F_REPLACE` in the tcx chain), so an interface is never without a program and a
//! program attached by anyone else in the meantime is never displaced.

use std::{
    ffi::CString,
    os::{fd::AsFd as _, unix::ffi::OsStrExt as _},
    path::PathBuf,
    sync::OnceLock,
};

use aya::maps::MapData;
use havip_common::{AGENT_HEADER_KEY, TC_PROGRAM, map_names};
use sha2::{Digest as _, Sha256};
use tracing::info;

use super::{
    super::{
        AttachMode, Attached, EBPF_OBJECT,
        adopt::{Found, Refusal},
        tc_attach,
        xdp_netlink::{self, Replace},
    },
    Dataplane, Origin, sized_loader,
};

/// The maps a new program takes over from the running one: every table whose contents must
/// survive an upgrade. A map of the new object that is not listed (one the old program did not
/// have) is created empty.
const KEPT: [&str; 12] = [
    map_names::VIPS,
    map_names::VIPS6,
    map_names::VRIDS,
    map_names::FENCES,
    map_names::ALLOWED_PEERS,
    map_names::PEERS,
    map_names::COUNTERS,
    map_names::VIP_COUNTERS,
    map_names::EVENTS,
    map_names::AGENT,
    map_names::BFD_PEERS,
    map_names::BFD_RX,
];

/// A digest of the XDP object embedded in this binary (the first 8 bytes of its SHA-256, never
/// 0), kept in the agent header's `learned_interval_ns` so that a successor can tell whether
/// the running program is its own without loading anything.
#[must_use]
pub fn object_digest() -> u64 {
    static DIGEST: OnceLock<u64> = OnceLock::new();
    *DIGEST.get_or_init(|| {
        let hash = Sha256::digest(EBPF_OBJECT);
        let mut first = [0u8; 8];
        first.copy_from_slice(&hash[..8]);
        u64::from_le_bytes(first).max(1)
    })
}

/// The digest the running program's header records (0: written by an agent that kept none).
pub(crate) fn running_digest(found: &Found) -> Result<u64, Refusal> {
    let agent: aya::maps::HashMap<MapData, havip_common::VridKey, havip_common::AgentRecord> =
        found.open(map_names::AGENT)?;
    Ok(agent
        .get(&AGENT_HEADER_KEY, 0)
        .map_or(0, |h| h.learned_interval_ns))
}

/// A private bpffs instance, unmounted and removed when dropped.
struct Bpffs {
    dir: PathBuf,
}

impl Bpffs {
    fn mount(prog_id: u32) -> Result<Self, Refusal> {
        let dir = std::env::temp_dir().join(format!("havip-upgrade-{}", std::process::id()));
        let fail = |what: &str, e: std::io::Error| Refusal::Unreadable {
            prog_id,
            what: format!("{what} {}: {e}", dir.display()),
        };
        std::fs::create_dir_all(&dir).map_err(|e| fail("creating", e))?;
        let target = CString::new(dir.as_os_str().as_bytes())
            .map_err(|e| fail("naming", std::io::Error::other(e)))?;
        // SAFETY: every pointer is a NUL-terminated string that outlives the call.
        let rc = unsafe {
            libc::mount(
                c"bpf".as_ptr(),
                target.as_ptr(),
                c"bpf".as_ptr(),
                0,
                c"mode=0700".as_ptr().cast(),
            )
        };
        if rc != 0 {
            let e = std::io::Error::last_os_error();
            let _ = std::fs::remove_dir(&dir);
            return Err(fail("mounting a bpffs on", e));
        }
        Ok(Self { dir })
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

impl Drop for Bpffs {
    fn drop(&mut self) {
        if let Ok(target) = CString::new(self.dir.as_os_str().as_bytes()) {
            // SAFETY: a NUL-terminated path; MNT_DETACH never blocks on users of the mount.
            let _ = unsafe { libc::umount2(target.as_ptr(), libc::MNT_DETACH) };
        }
        let _ = std::fs::remove_dir(&self.dir);
    }
}

impl Dataplane {
    /// Loads this binary's program onto the maps of the running one `found` and swaps it in on
    /// every interface `found` runs on. A refusal leaves the running program untouched.
    pub(super) fn upgrade(
        found: &Found,
        sizes: super::MapSizes,
    ) -> Result<(Self, Origin), Refusal> {
        let prog_id = found.prog_id;
        let incompatible = |what: String| Refusal::Incompatible { prog_id, what };
        let fs = Bpffs::mount(prog_id)?;
        let mut loader = sized_loader(&sizes);
        for name in KEPT {
            let map: MapData = found.open_data(name)?;
            map.pin(fs.path(name)).map_err(|e| Refusal::Unreadable {
                prog_id,
                what: format!("pinning map {name}: {e}"),
            })?;
            loader.map_pin_path(name, fs.path(name));
        }
        let ebpf = loader
            .load(EBPF_OBJECT)
            .map_err(|e| incompatible(format!("{e}")))?;
        drop(fs);
        let mut dp = Self::from_loaded(ebpf, sizes).map_err(|e| incompatible(e.to_string()))?;
        let super::Shadow {
            states,
            slots,
            slots6,
            free_slots,
            next_epoch,
        } = super::Shadow::of(&dp.vips, &dp.vips6, &dp.vrids, sizes.vips);
        (dp.states, dp.slots, dp.slots6, dp.free_slots, dp.next_epoch) =
            (states, slots, slots6, free_slots, next_epoch);
        let load_err = |e: &dyn std::fmt::Display| incompatible(e.to_string());
        // The same program kind as the running one (XDP or tc).
        let (tag, new_fd) = if found.program == TC_PROGRAM {
            let prog = dp.tc_program().map_err(|e| load_err(&e))?;
            let tag = prog.info().map_or(0, |i| i.tag());
            let fd = prog.fd().map_err(|e| load_err(&e))?.try_clone();
            (tag, fd.map_err(|e| load_err(&e))?)
        } else {
            let prog = dp.program(found.program).map_err(|e| load_err(&e))?;
            let tag = prog.info().map_or(0, |i| i.tag());
            let fd = prog.fd().map_err(|e| load_err(&e))?.try_clone();
            (tag, fd.map_err(|e| load_err(&e))?)
        };
        for (ifname, ifindex, mode) in found.attached.clone() {
            swap(found, &new_fd, &ifname, ifindex, mode)?;
            dp.attached.push(Attached {
                ifname,
                ifindex,
                mode,
                program: found.program,
            });
        }
        Ok((
            dp,
            Origin::Upgraded {
                old_prog_id: prog_id,
                old_tag: found.tag,
                tag,
            },
        ))
    }
}

/// Replaces `found`'s program by `new` on one interface, only if `found`'s is still there.
fn swap(
    found: &Found,
    new: &aya::programs::ProgramFd,
    ifname: &str,
    ifindex: u32,
    mode: AttachMode,
) -> Result<(), Refusal> {
    if mode == AttachMode::Tcx {
        tc_attach::replace_tcx(ifindex, new.as_fd(), found.prog.as_fd())
    } else {
        xdp_netlink::set(
            ifindex,
            Some(new.as_fd()),
            mode,
            Replace::Only(found.prog.as_fd()),
        )
    }
    .map_err(|e| Refusal::Incompatible {
        prog_id: found.prog_id,
        what: format!("replacing it on {ifname}: {e}"),
    })?;
    info!(
        ifname,
        old_prog_id = found.prog_id,
        %mode,
        "upgraded the program in place"
    );
    Ok(())
}
