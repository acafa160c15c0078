//! Network I/O around the election: interface facts, gratuitous ARP, unsolicited Neighbor
//! Advertisements, VRRP transmit, addresses.

pub mod addr;
pub mod garp;
pub mod iface;
pub mod ndisc;
mod packet_socket;
pub mod vrrp_tx;
