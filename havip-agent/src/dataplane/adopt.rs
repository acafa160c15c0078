//! Finding the data plane a previous agent left running, without a bpffs: the one place that
//! knows where the running program and its maps are (STYLE.md item 14).
//!
//! The program is attached through rtnetlink (XDP) or `BPF_PROG_ATTACH` (tcx), so it outlives
//! its agent. A starting agent asks each of its interfaces which XDP program is attached
//! (`RTM_GETLINK`) and, when that is not havip's, whether havip's tc program is in the tcx
//! ingress chain (`BPF_PROG_QUERY`; a `cls_bpf` filter is not looked for: aya has no filter
//! dump, so a restart in tc mode on a kernel without tcx loads fresh). It reads that program's
//! info (`BPF_OBJ_GET_INFO_BY_FD`: name, tag, map ids; kernel 4.13+, map ids 4.15+), opens the
//! maps by id (`BPF_MAP_GET_FD_BY_ID`, which needs `CAP_SYS_ADMIN`) and checks the ABI header
//! the agent keeps in [`havip_common::map_names::AGENT`]. Anything that does not fit is a
//! [`Refusal`]: the caller logs it and loads a fresh data plane, as before this module existed.

use std::collections::HashMap as StdHashMap;

use aya::{
    maps::{HashMap, Map, MapData, MapInfo},
    programs::{ProgramFd, loaded_programs},
};
use havip_common::{
    ABI_VERSION, AGENT_HEADER_KEY, AgentRecord, TC_PROGRAM, VridKey, XDP_PROGRAM, map_names,
};

use super::{AttachMode, attach::program_name, sizing::MapSizes, tc_attach, xdp_netlink};
use crate::net::iface;

/// Why the running data plane was not adopted (the agent then loads its own).
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// No interface has an XDP program attached: nothing to adopt.
    #[error("no XDP program is attached to {ifnames:?}")]
    NothingAttached {
        /// The interfaces looked at.
        ifnames: Vec<String>,
    },
    /// Asking an interface for its XDP program failed.
    #[error("reading the XDP attachment of {ifname} failed: {source}")]
    Netlink {
        /// The interface.
        ifname: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The attached program is not havip's (it is left alone; attaching reports it).
    #[error("{ifname} runs XDP program {name:?} (id {prog_id}), not {XDP_PROGRAM} or {TC_PROGRAM}")]
    NotOurs {
        /// The interface.
        ifname: String,
        /// Its program id.
        prog_id: u32,
        /// Its name.
        name: String,
    },
    /// The interfaces run different havip programs (two agents, or a half-finished start).
    #[error("the interfaces run different havip programs (ids {ids:?})")]
    Several {
        /// The program ids found.
        ids: Vec<u32>,
    },
    /// The program's info or one of its maps could not be read.
    #[error("reading program {prog_id}: {what}")]
    Unreadable {
        /// The program id.
        prog_id: u32,
        /// What failed, with its cause.
        what: String,
    },
    /// The program lacks a map this agent needs (an older build, before the ABI header).
    #[error("program {prog_id} has no map {name}")]
    MissingMap {
        /// The program id.
        prog_id: u32,
        /// The map.
        name: &'static str,
    },
    /// The running tables are smaller than this configuration needs (sized for an earlier one).
    #[error(
        "program {prog_id}: its tables ({have:?}) are smaller than this configuration needs ({want:?})"
    )]
    TooSmall {
        /// The program id.
        prog_id: u32,
        /// The sizes of its tables.
        have: MapSizes,
        /// The sizes this configuration gets.
        want: MapSizes,
    },
    /// This binary's program cannot take over the running program's maps (their layout
    /// differs), or the swap failed.
    #[error("program {prog_id}: this binary's program cannot replace it: {what}")]
    Incompatible {
        /// The program id.
        prog_id: u32,
        /// What did not fit, with its cause.
        what: String,
    },
    /// The maps were written by an agent speaking another ABI.
    #[error("program {prog_id} speaks ABI {found:?}, this agent ABI {ABI_VERSION}")]
    Abi {
        /// The program id.
        prog_id: u32,
        /// The version found in the header (`None`: no header written).
        found: Option<u32>,
    },
}

/// A running havip data plane this agent can take over.
pub struct Found {
    /// A descriptor of the attached program (attach it to more interfaces, detach it).
    pub(crate) prog: ProgramFd,
    /// Its kernel id.
    pub prog_id: u32,
    /// Its name: `havip_xdp` or `havip_tc`.
    pub program: &'static str,
    /// Its tag (a hash of its instructions: differs when the binary's program differs).
    pub tag: u64,
    /// Its maps by name.
    pub(crate) maps: StdHashMap<String, u32>,
    /// The interfaces it is attached to: `(name, index, mode)` (`Tcx` for the tc program).
    pub attached: Vec<(String, u32, AttachMode)>,
}

impl Refusal {
    /// Whether a havip program runs that this agent did not take over: its instances then
    /// hand over cleanly (priority 0) instead of letting the peers wait for the old lease.
    #[must_use]
    pub fn found_ours(&self) -> bool {
        matches!(
            self,
            Self::Unreadable { .. }
                | Self::MissingMap { .. }
                | Self::TooSmall { .. }
                | Self::Incompatible { .. }
                | Self::Abi { .. }
        )
    }
}

impl Found {
    /// Opens map `name` of the adopted program as `T`.
    pub(crate) fn open<T>(&self, name: &'static str) -> Result<T, Refusal>
    where
        T: TryFrom<Map, Error = aya::maps::MapError>,
    {
        let prog_id = self.prog_id;
        let map = Map::from_map_data(self.open_data(name)?).map_err(|e| Refusal::Unreadable {
            prog_id,
            what: format!("map {name}: {e}"),
        })?;
        T::try_from(map).map_err(|e| Refusal::Unreadable {
            prog_id,
            what: format!("map {name}: {e}"),
        })
    }

    /// Opens map `name` of the adopted program by id.
    pub(crate) fn open_data(&self, name: &'static str) -> Result<MapData, Refusal> {
        let prog_id = self.prog_id;
        let id = *self
            .maps
            .get(kernel_name(name))
            .ok_or(Refusal::MissingMap { prog_id, name })?;
        let unreadable = |e: aya::maps::MapError| Refusal::Unreadable {
            prog_id,
            what: format!("map {name} (id {id}): {e}"),
        };
        MapData::from_id(id).map_err(unreadable)
    }
}

impl Found {
    /// The `max_entries` of the running program's configuration-sized tables.
    pub(crate) fn sizes(&self) -> Result<MapSizes, Refusal> {
        let entries = |name: &'static str| -> Result<u32, Refusal> {
            let prog_id = self.prog_id;
            let id = *self
                .maps
                .get(kernel_name(name))
                .ok_or(Refusal::MissingMap { prog_id, name })?;
            MapInfo::from_id(id)
                .map(|info| info.max_entries())
                .map_err(|e| Refusal::Unreadable {
                    prog_id,
                    what: format!("map {name} (id {id}): {e}"),
                })
        };
        Ok(MapSizes {
            vips: entries(map_names::VIPS)?,
            vrids: entries(map_names::VRIDS)?,
            allowed_peers: entries(map_names::ALLOWED_PEERS)?,
            peers: entries(map_names::PEERS)?,
        })
    }
}

/// `name` as the kernel keeps it: object names are cut to `BPF_OBJ_NAME_LEN - 1` = 15 bytes
/// (`HAVIP_ALLOWED_PEERS` is listed as `HAVIP_ALLOWED_P`). Map names are ASCII.
fn kernel_name(name: &str) -> &str {
    name.get(..15).unwrap_or(name)
}

/// Looks for the havip program on `ifnames` and checks that this agent can adopt it.
pub fn find(ifnames: &[String]) -> Result<Found, Refusal> {
    let mut attached = Vec::new();
    let mut ids: Vec<u32> = Vec::new();
    for ifname in ifnames {
        let Ok(ifindex) = iface::if_index(ifname) else {
            continue;
        };
        let cur = xdp_netlink::current(ifindex).map_err(|source| Refusal::Netlink {
            ifname: ifname.clone(),
            source,
        })?;
        // A foreign XDP program beside havip's tc program is the tc mode's normal case: only
        // an interface without either of havip's programs counts it (as `NotOurs` below).
        let xdp = cur.filter(|c| program_name(c.prog_id).as_deref() == Some(XDP_PROGRAM));
        let tc = if xdp.is_none() {
            tc_attach::tcx_programs(ifindex)
                .unwrap_or_default()
                .into_iter()
                .find(|(_, name)| name == TC_PROGRAM)
                .map(|(id, _)| id)
        } else {
            None
        };
        let found = match (xdp, tc, cur) {
            (Some(x), _, _) => Some((x.prog_id, x.mode)),
            (None, Some(id), _) => Some((id, AttachMode::Tcx)),
            (None, None, Some(other)) => Some((other.prog_id, other.mode)),
            (None, None, None) => None,
        };
        if let Some((prog_id, mode)) = found {
            if !ids.contains(&prog_id) {
                ids.push(prog_id);
            }
            attached.push((ifname.clone(), ifindex, mode));
        }
    }
    let prog_id = match ids.as_slice() {
        [] => {
            return Err(Refusal::NothingAttached {
                ifnames: ifnames.to_vec(),
            });
        }
        [one] => *one,
        _ => return Err(Refusal::Several { ids }),
    };
    let unreadable = |what: String| Refusal::Unreadable { prog_id, what };
    let info = loaded_programs()
        .filter_map(Result::ok)
        .find(|p| p.id() == prog_id)
        .ok_or_else(|| unreadable("not among the loaded programs".to_owned()))?;
    let name = info.name_as_str().unwrap_or_default().to_owned();
    let program = match name.as_str() {
        XDP_PROGRAM => XDP_PROGRAM,
        TC_PROGRAM => TC_PROGRAM,
        _ => "",
    };
    if program.is_empty() {
        let ifname = attached.first().map(|a| a.0.clone()).unwrap_or_default();
        return Err(Refusal::NotOurs {
            ifname,
            prog_id,
            name,
        });
    }
    let map_ids = info
        .map_ids()
        .map_err(|e| unreadable(format!("map ids: {e}")))?
        .ok_or_else(|| unreadable("the kernel does not report map ids (< 4.15)".to_owned()))?;
    let mut maps = StdHashMap::new();
    for id in map_ids {
        let info = MapInfo::from_id(id).map_err(|e| unreadable(format!("map {id}: {e}")))?;
        if let Some(n) = info.name_as_str() {
            maps.insert(n.to_owned(), id);
        }
    }
    let prog = info
        .fd()
        .map_err(|e| unreadable(format!("program fd: {e}")))?;
    let found = Found {
        prog,
        prog_id,
        program,
        tag: info.tag(),
        maps,
        attached,
    };
    let header = match found.open::<HashMap<MapData, VridKey, AgentRecord>>(map_names::AGENT) {
        Ok(agent) => agent.get(&AGENT_HEADER_KEY, 0).ok().map(|h| h.abi_version),
        // Another record layout: ABI 1 and 2 wrote 32-byte records, whose first field is the
        // ABI version too, so the refusal names the version rather than a size mismatch.
        Err(_) => found
            .open::<HashMap<MapData, VridKey, [u8; OLD_RECORD_LEN]>>(map_names::AGENT)
            .ok()
            .and_then(|agent| agent.get(&AGENT_HEADER_KEY, 0).ok())
            .map(|h| u32::from_ne_bytes([h[0], h[1], h[2], h[3]])),
    };
    if header != Some(ABI_VERSION) {
        return Err(Refusal::Abi {
            prog_id,
            found: header,
        });
    }
    Ok(found)
}

/// Size of the agent record of ABI 1 and 2 (a 4-byte master address).
const OLD_RECORD_LEN: usize = 32;

#[cfg(test)]
mod tests {
    use super::kernel_name;

    #[test]
    fn long_map_names_are_looked_up_as_the_kernel_cuts_them() {
        assert_eq!(kernel_name("HAVIP_ALLOWED_PEERS"), "HAVIP_ALLOWED_P");
        assert_eq!(kernel_name("HAVIP_VIP_COUNTERS"), "HAVIP_VIP_COUNT");
        assert_eq!(kernel_name("HAVIP_VRIDS"), "HAVIP_VRIDS");
    }
}
