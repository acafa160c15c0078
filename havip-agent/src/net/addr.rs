//! VIP addresses on interfaces, through rtnetlink (`ip addr add/del` without the shell).
//! IPv6 VIPs are added with `nodad` as keepalived adds them: the election already decided who
//! holds the address, and duplicate address detection would hold it tentative (unusable) for
//! a second or more after a takeover.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use rtnetlink::{
    AddressMessageBuilder, Handle,
    packet_route::{
        address::{AddressAttribute, AddressFlags, AddressHeaderFlags},
        neighbour::NeighbourState,
    },
};

/// Errors changing addresses.
#[derive(Debug, thiserror::Error)]
pub enum AddrError {
    /// Opening the netlink socket failed.
    #[error("opening rtnetlink: {source}")]
    Connect {
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The kernel refused the change.
    #[error("{op} {addr}/{prefix} on ifindex {ifindex}: {source}")]
    Netlink {
        /// "add" or "del".
        op: &'static str,
        /// Address.
        addr: IpAddr,
        /// Prefix length.
        prefix: u8,
        /// Interface index.
        ifindex: u32,
        /// The cause.
        #[source]
        source: rtnetlink::Error,
    },
}

/// Adds and removes addresses; cheap to clone.
#[derive(Clone, Debug)]
pub struct Addresses {
    handle: Handle,
}

/// errno values the kernel answers when the address is already there / already gone.
const EEXIST: i32 = 17;
const EADDRNOTAVAIL: i32 = 99;
const ENOENT: i32 = 2;
const ESRCH: i32 = 3;

fn errno(e: &rtnetlink::Error) -> Option<i32> {
    match e {
        rtnetlink::Error::NetlinkError(m) => Some(-m.raw_code()),
        _ => None,
    }
}

impl Addresses {
    /// Opens an rtnetlink connection and spawns its driver on the current tokio runtime.
    pub fn new() -> Result<Self, AddrError> {
        let (conn, handle, _) =
            rtnetlink::new_connection().map_err(|source| AddrError::Connect { source })?;
        tokio::spawn(conn);
        Ok(Self { handle })
    }

    /// Adds `addr/prefix` to `ifindex` with an optional label; already present is success.
    pub async fn add(
        &self,
        ifindex: u32,
        addr: IpAddr,
        prefix: u8,
        label: Option<&str>,
    ) -> Result<(), AddrError> {
        let mut req = self.handle.address().add(ifindex, addr, prefix);
        if addr.is_ipv6() {
            // IFA_F_NODAD, in the header byte and in IFA_FLAGS (the kernel reads the latter
            // when present), as `ip addr add ... nodad` sends it.
            let m = req.message_mut();
            m.header.flags |= AddressHeaderFlags::Nodad;
            m.attributes
                .push(AddressAttribute::Flags(AddressFlags::Nodad));
        }
        if let Some(label) = label {
            req.message_mut()
                .attributes
                .push(AddressAttribute::Label(label.to_owned()));
        }
        match req.execute().await {
            Ok(()) => Ok(()),
            Err(e) if errno(&e) == Some(EEXIST) => Ok(()),
            Err(source) => Err(AddrError::Netlink {
                op: "add",
                addr,
                prefix,
                ifindex,
                source,
            }),
        }
    }

    /// Removes `addr/prefix` from `ifindex`; already absent is success.
    pub async fn del(&self, ifindex: u32, addr: IpAddr, prefix: u8) -> Result<(), AddrError> {
        let msg = match addr {
            IpAddr::V4(a) => AddressMessageBuilder::<Ipv4Addr>::new()
                .index(ifindex)
                .address(a, prefix)
                .build(),
            IpAddr::V6(a) => AddressMessageBuilder::<Ipv6Addr>::new()
                .index(ifindex)
                .address(a, prefix)
                .build(),
        };
        match self.handle.address().del(msg).execute().await {
            Ok(()) => Ok(()),
            Err(e) if matches!(errno(&e), Some(EADDRNOTAVAIL | ENOENT | ESRCH)) => Ok(()),
            Err(source) => Err(AddrError::Netlink {
                op: "del",
                addr,
                prefix,
                ifindex,
                source,
            }),
        }
    }

    /// Creates a STALE neighbour entry `addr -> mac` on `ifindex` (a unicast peer's MAC as
    /// seen on its adverts). The first advert to the peer after a takeover then leaves at once
    /// instead of waiting for ARP resolution, while the kernel still verifies the entry
    /// (STALE -> DELAY -> PROBE). A usable entry is left alone; one that cannot carry a packet
    /// now (INCOMPLETE or FAILED, typically left by a send while the link was down, which
    /// would hold the next advert until ARP resolves) is replaced.
    pub async fn prime_neighbour(
        &self,
        ifindex: u32,
        addr: IpAddr,
        mac: [u8; 6],
    ) -> Result<(), AddrError> {
        let add = |replace: bool| {
            let req = self
                .handle
                .neighbours()
                .add(ifindex, addr)
                .link_layer_address(&mac)
                .state(NeighbourState::Stale);
            if replace { req.replace() } else { req }
        };
        let failed = |source| AddrError::Netlink {
            op: "neighbour add",
            addr,
            prefix: if addr.is_ipv4() { 32 } else { 128 },
            ifindex,
            source,
        };
        match add(false).execute().await {
            Ok(()) => Ok(()),
            Err(e) if errno(&e) == Some(EEXIST) => {
                if self.neighbour_unusable(ifindex, addr).await {
                    add(true).execute().await.map_err(failed)
                } else {
                    Ok(())
                }
            }
            Err(source) => Err(failed(source)),
        }
    }

    /// Whether the entry for `addr` on `ifindex` is INCOMPLETE or FAILED.
    async fn neighbour_unusable(&self, ifindex: u32, addr: IpAddr) -> bool {
        use futures::TryStreamExt as _;
        use rtnetlink::packet_route::neighbour::{NeighbourAddress, NeighbourAttribute};
        let mut entries = self.handle.neighbours().get().execute();
        while let Ok(Some(n)) = entries.try_next().await {
            let ours = n.header.ifindex == ifindex
                && n.attributes.iter().any(|a| match (a, addr) {
                    (
                        NeighbourAttribute::Destination(NeighbourAddress::Inet(d)),
                        IpAddr::V4(addr),
                    ) => *d == addr,
                    (
                        NeighbourAttribute::Destination(NeighbourAddress::Inet6(d)),
                        IpAddr::V6(addr),
                    ) => *d == addr,
                    _ => false,
                });
            if ours {
                return matches!(
                    n.header.state,
                    NeighbourState::Incomplete | NeighbourState::Failed
                );
            }
        }
        false
    }
}
