//! Network I/O around the election: interface facts, gratuitous ARP, VRRP transmit, addresses.

pub mod addr;
pub mod garp;
pub mod iface;
mod packet_socket;
pub mod vrrp_tx;
