//! Network I/O around the election: interface facts, gratuitous ARP, VRRP transmit, addresses.

pub mod iface;
