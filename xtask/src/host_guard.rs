//! The host guard of `cargo xtask build-and-load`: attaching XDP changes how a link answers ARP, so
//! it is allowed only where it cannot hurt the host. The decision is a pure function of what was
//! read ([`decide`]), so every case, including the ones where reading fails, is unit-tested; the
//! reads themselves ([`observe`]) only collect facts.
//!
//! Allowed: `--netns` (the agent runs in that namespace), `--yes-host-interface` (the operator
//! said so), or the current network namespace is one that `ip netns` created (its identity equals
//! the identity of an entry of `/run/netns`). Anything else is refused, and so is "cannot tell":
//! a failed read must never count as "not the host", the defect this module replaces (it compared
//! with `/proc/1/ns/net` and let everything through when that could not be read).

use std::{fmt, os::unix::fs::MetadataExt as _, path::Path};

/// Where `ip netns` keeps its bind mounts of named namespaces.
pub const NETNS_DIR: &str = "/run/netns";
/// The calling process's network namespace.
pub const SELF_NS: &str = "/proc/self/ns/net";

/// A namespace's identity: the (device, inode) pair of its nsfs file, the comparison
/// `ip netns identify` makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NsId {
    /// `st_dev`.
    pub dev: u64,
    /// `st_ino`.
    pub ino: u64,
}

/// One entry of [`NETNS_DIR`] as read: its name and identity, or why it could not be read.
pub type NamedNs = (String, Result<NsId, String>);

/// Everything the guard decides on.
#[derive(Clone, Debug)]
pub struct Facts {
    /// `--netns` was given.
    pub netns_flag: bool,
    /// `--yes-host-interface` was given.
    pub yes_host_interface: bool,
    /// Identity of the current namespace, or the read error.
    pub current: Result<NsId, String>,
    /// The entries of [`NETNS_DIR`], or the error listing it.
    pub named: Result<Vec<NamedNs>, String>,
}

/// Why the guard let the command through.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Allowed {
    /// `--netns NS`.
    NetnsFlag,
    /// `--yes-host-interface`.
    Forced,
    /// The current namespace is the named namespace `0`.
    NamedNamespace(String),
}

/// Why the guard refused; the `Display` form is the user-facing message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refused {
    /// The current namespace's identity could not be read.
    CannotReadCurrent(String),
    /// `/run/netns` could not be listed (absent means no named namespace exists: not one).
    CannotListNamed(String),
    /// No named namespace matched, but some entries could not be read: maybe one of them.
    CannotReadNamed(Vec<(String, String)>),
    /// Every entry was read and none is the current namespace.
    NotNamed,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::CannotReadCurrent(e) => write!(
                f,
                "cannot tell whether this is the host's network namespace ({SELF_NS}: {e})"
            ),
            Self::CannotListNamed(e) => write!(
                f,
                "this network namespace is not one that `ip netns` created ({NETNS_DIR}: {e})"
            ),
            Self::CannotReadNamed(errors) => {
                let list: Vec<String> = errors.iter().map(|(n, e)| format!("{n}: {e}")).collect();
                write!(
                    f,
                    "cannot tell whether this network namespace is one that `ip netns` created \
                     (unreadable entries of {NETNS_DIR}: {})",
                    list.join("; ")
                )
            }
            Self::NotNamed => write!(
                f,
                "this network namespace is not one that `ip netns` created (none of {NETNS_DIR} \
                 matches {SELF_NS}); it may be the host's"
            ),
        }
    }
}

/// The guard's decision on `facts`. Fail-closed: only a positive match or an explicit flag allows.
pub fn decide(facts: &Facts) -> Result<Allowed, Refused> {
    if facts.netns_flag {
        return Ok(Allowed::NetnsFlag);
    }
    if facts.yes_host_interface {
        return Ok(Allowed::Forced);
    }
    let current = facts
        .current
        .as_ref()
        .map_err(|e| Refused::CannotReadCurrent(e.clone()))?;
    let named = facts
        .named
        .as_ref()
        .map_err(|e| Refused::CannotListNamed(e.clone()))?;
    let mut unreadable = Vec::new();
    for (name, id) in named {
        match id {
            Ok(id) if id == current => return Ok(Allowed::NamedNamespace(name.clone())),
            Ok(_) => {}
            Err(e) => unreadable.push((name.clone(), e.clone())),
        }
    }
    if unreadable.is_empty() {
        Err(Refused::NotNamed)
    } else {
        Err(Refused::CannotReadNamed(unreadable))
    }
}

fn ns_id(path: &Path) -> Result<NsId, String> {
    // `metadata` follows the magic link / bind mount to the nsfs inode.
    std::fs::metadata(path)
        .map(|m| NsId {
            dev: m.dev(),
            ino: m.ino(),
        })
        .map_err(|e| e.to_string())
}

/// Reads the facts from this machine (`netns_flag` and `yes_host_interface` from the command line).
pub fn observe(netns_flag: bool, yes_host_interface: bool) -> Facts {
    let named = std::fs::read_dir(NETNS_DIR)
        .map_err(|e| e.to_string())
        .and_then(|dir| {
            dir.map(|entry| {
                let entry = entry.map_err(|e| e.to_string())?;
                let name = entry.file_name().to_string_lossy().into_owned();
                Ok((name, ns_id(&entry.path())))
            })
            .collect()
        });
    Facts {
        netns_flag,
        yes_host_interface,
        current: ns_id(Path::new(SELF_NS)),
        named,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOST: NsId = NsId { dev: 4, ino: 100 };
    const LAB: NsId = NsId { dev: 4, ino: 200 };
    const OTHER: NsId = NsId { dev: 4, ino: 300 };

    fn facts(current: Result<NsId, String>, named: Result<Vec<NamedNs>, String>) -> Facts {
        Facts {
            netns_flag: false,
            yes_host_interface: false,
            current,
            named,
        }
    }

    fn entry(name: &str, id: Result<NsId, &str>) -> NamedNs {
        (name.to_owned(), id.map_err(str::to_owned))
    }

    #[test]
    fn flags_allow_whatever_was_read() {
        let unreadable = facts(Err("EACCES".into()), Err("EACCES".into()));
        let with_netns = Facts {
            netns_flag: true,
            ..unreadable.clone()
        };
        assert_eq!(decide(&with_netns), Ok(Allowed::NetnsFlag));
        let forced = Facts {
            yes_host_interface: true,
            ..unreadable.clone()
        };
        assert_eq!(decide(&forced), Ok(Allowed::Forced));
        assert!(decide(&unreadable).is_err());
    }

    #[test]
    fn a_named_namespace_is_allowed() {
        let f = facts(
            Ok(LAB),
            Ok(vec![entry("other", Ok(OTHER)), entry("lab", Ok(LAB))]),
        );
        assert_eq!(decide(&f), Ok(Allowed::NamedNamespace("lab".into())));
        // A match decides even when another entry is unreadable.
        let f = facts(
            Ok(LAB),
            Ok(vec![entry("stale", Err("ENOENT")), entry("lab", Ok(LAB))]),
        );
        assert_eq!(decide(&f), Ok(Allowed::NamedNamespace("lab".into())));
    }

    #[test]
    fn the_host_and_every_cannot_tell_are_refused() {
        let cases = [
            (
                "host, others named",
                facts(Ok(HOST), Ok(vec![entry("lab", Ok(LAB))])),
                Refused::NotNamed,
            ),
            (
                "host, nothing named",
                facts(Ok(HOST), Ok(vec![])),
                Refused::NotNamed,
            ),
            (
                "current unreadable (hardened /proc)",
                facts(Err("EACCES".into()), Ok(vec![entry("lab", Ok(LAB))])),
                Refused::CannotReadCurrent("EACCES".into()),
            ),
            (
                "/run/netns absent",
                facts(Ok(HOST), Err("ENOENT".into())),
                Refused::CannotListNamed("ENOENT".into()),
            ),
            (
                "no match, one entry unreadable",
                facts(
                    Ok(HOST),
                    Ok(vec![entry("lab", Ok(LAB)), entry("x", Err("EACCES"))]),
                ),
                Refused::CannotReadNamed(vec![("x".into(), "EACCES".into())]),
            ),
            (
                "same inode on another device is not a match",
                facts(
                    Ok(HOST),
                    Ok(vec![entry("lab", Ok(NsId { dev: 5, ino: 100 }))]),
                ),
                Refused::NotNamed,
            ),
        ];
        for (what, f, want) in cases {
            assert_eq!(decide(&f), Err(want), "{what}");
        }
    }

    #[test]
    fn refusals_say_why() {
        assert!(
            Refused::CannotReadCurrent("EACCES".into())
                .to_string()
                .contains("cannot tell")
        );
        assert!(
            Refused::CannotReadNamed(vec![("x".into(), "EACCES".into())])
                .to_string()
                .contains("x: EACCES")
        );
        assert!(
            Refused::NotNamed
                .to_string()
                .contains("not one that `ip netns` created")
        );
    }

    /// The real reads agree with the decision's inputs on this machine: the current namespace
    /// has an identity (these tests do not run in a hardened /proc).
    #[test]
    fn observe_reads_the_current_namespace() {
        let f = observe(false, false);
        assert!(f.current.is_ok(), "{:?}", f.current);
    }
}
