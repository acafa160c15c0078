//! VIP addresses on interfaces, through rtnetlink (`ip addr add/del` without the shell).

use std::net::{IpAddr, Ipv4Addr};

use rtnetlink::{
    AddressMessageBuilder, Handle,
    packet_route::{address::AddressAttribute, neighbour::NeighbourState},
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
        addr: Ipv4Addr,
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
        addr: Ipv4Addr,
        prefix: u8,
        label: Option<&str>,
    ) -> Result<(), AddrError> {
        let mut req = self.handle.address().add(ifindex, IpAddr::V4(addr), prefix);
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
    pub async fn del(&self, ifindex: u32, addr: Ipv4Addr, prefix: u8) -> Result<(), AddrError> {
        let msg = AddressMessageBuilder::<Ipv4Addr>::new()
            .index(ifindex)
            .address(addr, prefix)
            .build();
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
        addr: Ipv4Addr,
        mac: [u8; 6],
    ) -> Result<(), AddrError> {
        let add = |replace: bool| {
            let req = self
                .handle
                .neighbours()
                .add(ifindex, IpAddr::V4(addr))
                .link_layer_address(&mac)
                .state(NeighbourState::Stale);
            if replace { req.replace() } else { req }
        };
        let failed = |source| AddrError::Netlink {
            op: "neighbour add",
            addr,
            prefix: 32,
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
    async fn neighbour_unusable(&self, ifindex: u32, addr: Ipv4Addr) -> bool {
        use futures::TryStreamExt as _;
        use rtnetlink::packet_route::neighbour::{NeighbourAddress, NeighbourAttribute};
        let mut entries = self.handle.neighbours().get().execute();
        while let Ok(Some(n)) = entries.try_next().await {
            let ours = n.header.ifindex == ifindex
                && n.attributes.iter().any(|a| {
                    matches!(a, NeighbourAttribute::Destination(NeighbourAddress::Inet(d)) if *d == addr)
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
