//! Which hook the program goes on (issue #15): the data plane mode, `auto`'s choice per
//! interface, the tc attachment, and removing havip's program from the hook not in use (a
//! previous agent's, after a change of mode), so two havip programs never judge one frame.

use std::os::fd::AsFd as _;

use aya::programs::SchedClassifier;
use havip_common::{PASS_PROGRAM, TC_PASS_PROGRAM, TC_PROGRAM, XDP_PROGRAM};
use tracing::{info, warn};

use super::{
    super::{
        AttachMode, Attached, DataplaneError, DataplaneMode,
        mode::{self, auto_choice},
        tc_attach, xdp_netlink,
    },
    Dataplane,
};
use crate::net::iface;

/// The name of the XDP program attached to `ifindex`, if any (`Some("")` when unreadable).
fn xdp_program_name(ifindex: u32) -> Option<String> {
    let cur = xdp_netlink::current(ifindex).ok().flatten()?;
    Some(super::super::attach::program_name(cur.prog_id).unwrap_or_default())
}

impl Dataplane {
    /// Sets the hook [`Self::attach`] uses from now on (the default is exclusive XDP).
    pub fn set_dataplane_mode(&mut self, mode: DataplaneMode) {
        self.choice = mode;
    }

    /// Forces the `cls_bpf` fallback of the tc mode even where tcx exists (tests of the
    /// fallback on a recent kernel).
    pub fn force_cls_bpf(&mut self, force: bool) {
        self.force_cls_bpf = force;
    }

    /// The mode asked for (`auto` stays `auto`; see [`Self::attachments`] for what was used).
    #[must_use]
    pub fn dataplane_mode(&self) -> DataplaneMode {
        self.choice
    }

    /// The `(interface, mode label)` of every attachment of the main program: `xdp` or `tc`.
    #[must_use]
    pub fn hooks(&self) -> Vec<(String, &'static str)> {
        self.attached
            .iter()
            .filter(|a| a.program != PASS_PROGRAM)
            .map(|a| (a.ifname.clone(), mode::label(a.mode)))
            .collect()
    }

    /// The program to attach to `ifname` under the current mode.
    pub(super) fn program_for(&self, ifname: &str) -> Result<&'static str, DataplaneError> {
        match self.choice {
            DataplaneMode::Xdp => Ok(XDP_PROGRAM),
            DataplaneMode::Tc => Ok(TC_PROGRAM),
            DataplaneMode::XdpMultiprog => Err(DataplaneError::Unsupported {
                what: "the xdp-multiprog data plane (joining a libxdp dispatcher) is not \
                       implemented in this build; use --dataplane tc (or auto) beside other \
                       XDP programs",
            }),
            DataplaneMode::Auto => {
                // An adopted program stays on its hook.
                if let Some(a) = self.attached.iter().find(|a| a.ifname == ifname) {
                    return Ok(a.program);
                }
                if let Some(p) = &self.adopted {
                    return Ok(p.name);
                }
                let ifindex = iface::if_index(ifname)?;
                let current = xdp_program_name(ifindex);
                let (choice, reason) = auto_choice(current.as_deref());
                info!(ifname, xdp_program = ?current, mode = %choice, reason, "auto data plane");
                Ok(if choice == DataplaneMode::Tc {
                    TC_PROGRAM
                } else {
                    XDP_PROGRAM
                })
            }
        }
    }

    /// The tc program of the loaded object, loaded into the kernel on first use (an agent in
    /// XDP mode never pays its verification).
    pub fn tc_program(&mut self) -> Result<&mut SchedClassifier, DataplaneError> {
        self.classifier(TC_PROGRAM)
    }

    /// The pass-everything tc program, the empty baseline of benchmarks (loaded on first use).
    pub fn tc_pass_program(&mut self) -> Result<&mut SchedClassifier, DataplaneError> {
        self.classifier(TC_PASS_PROGRAM)
    }

    fn classifier(&mut self, name: &'static str) -> Result<&mut SchedClassifier, DataplaneError> {
        let prog: &mut SchedClassifier = self
            .ebpf
            .as_mut()
            .and_then(|e| e.program_mut(name))
            .ok_or(DataplaneError::Missing {
                what: "program",
                name,
            })?
            .try_into()
            .map_err(|e| DataplaneError::Load {
                source: Box::new(e),
            })?;
        if prog.fd().is_err() {
            prog.load().map_err(|e| DataplaneError::Load {
                source: Box::new(e),
            })?;
        }
        Ok(prog)
    }

    /// Attaches the tc program to `ifname` (see `tc_attach`), after removing a havip XDP
    /// program a previous agent left there; warns about a foreign XDP program, which sees every
    /// frame first.
    pub(super) fn attach_tc(&mut self, ifname: &str) -> Result<Attached, DataplaneError> {
        let ifindex = iface::if_index(ifname)?;
        if let Ok(Some(cur)) = xdp_netlink::current(ifindex) {
            let name = super::super::attach::program_name(cur.prog_id).unwrap_or_default();
            if name == XDP_PROGRAM {
                xdp_netlink::set(ifindex, None, cur.mode, xdp_netlink::Replace::Any).map_err(
                    |source| DataplaneError::Attach {
                        ifname: ifname.to_owned(),
                        mode: cur.mode,
                        source,
                    },
                )?;
                warn!(
                    ifname,
                    old_prog_id = cur.prog_id,
                    "removed havip's XDP program of a previous agent: this agent runs in tc mode"
                );
            } else {
                warn!(
                    ifname,
                    xdp_program = name,
                    prog_id = cur.prog_id,
                    "an XDP program runs before havip's tc program: if it drops or redirects ARP, \
                     Neighbor Solicitations or VRRP adverts, havip cannot see them (see README, \
                     data plane modes)"
                );
            }
        }
        let mode = match &self.adopted {
            Some(p) if p.name == TC_PROGRAM => {
                tc_attach::attach_tcx(p.fd.as_fd(), p.id, ifname, ifindex).map_err(|source| {
                    DataplaneError::Attach {
                        ifname: ifname.to_owned(),
                        mode: AttachMode::Tcx,
                        source,
                    }
                })?;
                AttachMode::Tcx
            }
            Some(p) => {
                return Err(DataplaneError::Unsupported {
                    what: if p.name == XDP_PROGRAM {
                        "the adopted data plane runs in XDP mode; restart without adoption to \
                         change to tc"
                    } else {
                        "the adopted program cannot be attached in tc mode"
                    },
                });
            }
            None => {
                let force = self.force_cls_bpf;
                tc_attach::attach(self.tc_program()?, ifname, ifindex, force)?
            }
        };
        Ok(Attached {
            ifname: ifname.to_owned(),
            ifindex,
            mode,
            program: TC_PROGRAM,
        })
    }

    /// Removes a havip tc program a previous agent left on `ifname` (tcx or `cls_bpf`): called
    /// once this agent's XDP program is attached there.
    pub(super) fn remove_stale_tc(ifname: &str, ifindex: u32) {
        if let Ok(chain) = tc_attach::tcx_programs(ifindex) {
            for (id, name) in chain.iter().filter(|(_, n)| n == TC_PROGRAM) {
                let fd = aya::programs::loaded_programs()
                    .filter_map(Result::ok)
                    .find(|p| p.id() == *id)
                    .and_then(|p| p.fd().ok());
                if let Some(fd) = fd {
                    match tc_attach::detach_tcx(fd.as_fd(), ifindex) {
                        Ok(()) => warn!(
                            ifname,
                            prog_id = id,
                            program = name,
                            "removed havip's tc program of a previous agent: this agent runs in XDP mode"
                        ),
                        Err(e) => {
                            warn!(ifname, prog_id = id, error = %e, "removing a previous agent's tc program failed");
                        }
                    }
                }
            }
        }
        if tc_attach::detach_cls_bpf(ifindex).is_ok() {
            warn!(
                ifname,
                "removed havip's cls_bpf filter of a previous agent: this agent runs in XDP mode"
            );
        }
    }

    /// Detaches the tc program of `a`.
    pub(super) fn detach_tc(&self, a: &Attached) -> Result<(), DataplaneError> {
        let err = |source| DataplaneError::Attach {
            ifname: a.ifname.clone(),
            mode: a.mode,
            source,
        };
        if a.mode == AttachMode::ClsBpf {
            return tc_attach::detach_cls_bpf(a.ifindex).map_err(err);
        }
        if let Some(p) = self.adopted.as_ref().filter(|p| p.name == TC_PROGRAM) {
            return tc_attach::detach_tcx(p.fd.as_fd(), a.ifindex).map_err(err);
        }
        let fd = self
            .ebpf
            .as_ref()
            .and_then(|e| e.program(TC_PROGRAM))
            .ok_or(DataplaneError::Missing {
                what: "program",
                name: TC_PROGRAM,
            })?
            .fd()
            .map_err(|e| DataplaneError::Load {
                source: Box::new(e),
            })?;
        tc_attach::detach_tcx(fd.as_fd(), a.ifindex).map_err(err)
    }
}
