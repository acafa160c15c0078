//! The address worker: adds and removes VIP addresses (and primes peer neighbour entries) in the
//! order the event loop asked, off the loop, so the election never waits on netlink.

use tokio::sync::{mpsc, oneshot};
use tracing::{debug, info, warn};

use super::instance::Vip;
use crate::net::addr::Addresses;

/// A request to the worker.
#[derive(Debug)]
pub enum AddrOp {
    /// Add the VIP.
    Add(Vip),
    /// Remove the VIP.
    Del(Vip),
    /// Create a neighbour entry for a unicast peer unless one exists.
    Neighbour {
        /// Interface index.
        ifindex: u32,
        /// The peer.
        addr: std::net::IpAddr,
        /// Its MAC.
        mac: [u8; 6],
    },
    /// Answer when everything before this is done.
    Flush(oneshot::Sender<()>),
}

/// Runs the worker until the sender side is dropped.
pub async fn run(addresses: Addresses, mut rx: mpsc::UnboundedReceiver<AddrOp>) {
    while let Some(op) = rx.recv().await {
        match op {
            AddrOp::Add(v) => match addresses
                .add(v.ifindex, v.addr, v.prefix, v.label.as_deref())
                .await
            {
                Ok(()) => {
                    info!(addr = %v.addr, prefix = v.prefix, ifindex = v.ifindex, "VIP address added");
                }
                Err(e) => warn!(error = %e, "VIP address add failed"),
            },
            AddrOp::Del(v) => match addresses.del(v.ifindex, v.addr, v.prefix).await {
                Ok(()) => info!(addr = %v.addr, ifindex = v.ifindex, "VIP address removed"),
                Err(e) => warn!(error = %e, "VIP address removal failed"),
            },
            AddrOp::Neighbour { ifindex, addr, mac } => {
                match addresses.prime_neighbour(ifindex, addr, mac).await {
                    Ok(()) => debug!(%addr, ifindex, "peer neighbour entry primed"),
                    Err(e) => warn!(error = %e, "priming a peer neighbour entry failed"),
                }
            }
            AddrOp::Flush(done) => {
                let _ = done.send(());
            }
        }
    }
}
