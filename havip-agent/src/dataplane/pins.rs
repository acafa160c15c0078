//! Every bpffs path the agent would pin under, in one place: the layout for hitless restarts.
//!
//! Layout (under [`ROOT`]):
//! ```text
//! /sys/fs/bpf/havip/<instance-tag>/maps/HAVIP_VIPS ...   one file per map (havip_common::map_names)
//! /sys/fs/bpf/havip/<instance-tag>/links/<ifname>        reserved: an XDP bpf_link, if ever used
//! ```
//! `<instance-tag>` separates agents that share a bpffs (one per network namespace in tests).
//!
//! Not used: restarts adopt the running program and its maps by id (see `adopt`), which works
//! where no bpffs is mounted (many hosts, containers among them), and an upgrade hands the maps
//! to a changed program through a private bpffs instance it mounts only for the load (see
//! `control/upgrade.rs`). This layout is kept for a deployment that wants persistent pins.

use std::path::PathBuf;

/// Root of havip's bpffs tree.
pub const ROOT: &str = "/sys/fs/bpf/havip";

/// Paths for one agent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pins {
    base: PathBuf,
}

impl Pins {
    /// The tree of the agent tagged `tag` (a name without `/`).
    #[must_use]
    pub fn new(tag: &str) -> Self {
        let tag = tag.replace('/', "_");
        Self {
            base: PathBuf::from(ROOT).join(tag),
        }
    }

    /// Directory of pinned maps.
    #[must_use]
    pub fn maps_dir(&self) -> PathBuf {
        self.base.join("maps")
    }

    /// Path of map `name` (one of `havip_common::map_names`).
    #[must_use]
    pub fn map(&self, name: &str) -> PathBuf {
        self.maps_dir().join(name)
    }

    /// Path of the XDP link on `ifname`.
    #[must_use]
    pub fn link(&self, ifname: &str) -> PathBuf {
        self.base.join("links").join(ifname)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout() {
        let p = Pins::new("lb/1");
        assert_eq!(
            p.map("HAVIP_VIPS"),
            PathBuf::from("/sys/fs/bpf/havip/lb_1/maps/HAVIP_VIPS")
        );
        assert_eq!(
            p.link("eth0"),
            PathBuf::from("/sys/fs/bpf/havip/lb_1/links/eth0")
        );
    }
}
