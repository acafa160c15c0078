//! Gratuitous ARP (RFC 5227 3 "ARP Announcement"; RFC 9568 6.4.1 asks the new master to send one
//! per VIP): an ARP request, broadcast, with sender and target IP both the VIP. keepalived sends
//! the request form too; switches and the Tencent Cloud HAVIP both learn from it.
//!
//! [`GarpSender`] announces IPv6 VIPs on the same schedule with the unsolicited Neighbor
//! Advertisement of [`super::ndisc`] (RFC 9568 6.4.1), as keepalived does: one sender, one
//! round, whatever the family of each VIP.

use std::{
    io,
    net::{IpAddr, Ipv4Addr},
};

use super::{ndisc, packet_socket::PacketSocket};

/// Builds the gratuitous ARP frame announcing `vip` at `mac`.
#[must_use]
pub fn frame(mac: [u8; 6], vip: Ipv4Addr) -> [u8; 42] {
    let mut f = [0u8; 42];
    f[0..6].copy_from_slice(&[0xff; 6]);
    f[6..12].copy_from_slice(&mac);
    f[12..14].copy_from_slice(&0x0806u16.to_be_bytes());
    // htype Ethernet, ptype IPv4, hlen 6, plen 4, op request.
    f[14..22].copy_from_slice(&[0, 1, 0x08, 0x00, 6, 4, 0, 1]);
    f[22..28].copy_from_slice(&mac);
    f[28..32].copy_from_slice(&vip.octets());
    f[32..38].copy_from_slice(&[0xff; 6]);
    f[38..42].copy_from_slice(&vip.octets());
    f
}

/// Sends gratuitous ARP (IPv4 VIPs) and unsolicited Neighbor Advertisements (IPv6 VIPs) on
/// one interface.
#[derive(Debug)]
pub struct GarpSender {
    /// Open when the sender was made for an IPv4 VIP.
    arp: Option<PacketSocket>,
    /// Open when the sender was made for an IPv6 VIP.
    ndisc: Option<PacketSocket>,
    ifindex: u32,
    mac: [u8; 6],
}

impl GarpSender {
    /// A sender on `ifindex` announcing `vips` (it opens the sockets their families need)
    /// with `mac`.
    pub fn new(ifindex: u32, mac: [u8; 6], vips: &[IpAddr]) -> io::Result<Self> {
        let arp = if vips.iter().any(IpAddr::is_ipv4) {
            Some(PacketSocket::arp(ifindex)?)
        } else {
            None
        };
        let ndisc = if vips.iter().any(IpAddr::is_ipv6) {
            Some(PacketSocket::ipv6(ifindex)?)
        } else {
            None
        };
        Ok(Self {
            arp,
            ndisc,
            ifindex,
            mac,
        })
    }

    /// The interface it sends on.
    #[must_use]
    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    /// Announces every address of `vips` once (gratuitous ARP or unsolicited Neighbor
    /// Advertisement by family); returns how many were sent. An address whose family the
    /// sender was not made for is an `InvalidInput` error.
    pub fn announce(&self, vips: &[IpAddr]) -> io::Result<usize> {
        let mut sent = 0;
        for vip in vips {
            match (vip, &self.arp, &self.ndisc) {
                (IpAddr::V4(a), Some(s), _) => s.send(&frame(self.mac, *a))?,
                (IpAddr::V6(a), _, Some(s)) => s.send(&ndisc::frame(self.mac, *a))?,
                _ => return Err(io::Error::from(io::ErrorKind::InvalidInput)),
            }
            sent += 1;
        }
        Ok(sent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn announcement_layout() {
        let f = frame([2, 0, 0, 0, 0, 1], Ipv4Addr::new(192, 0, 2, 200));
        assert_eq!(&f[0..6], &[0xff; 6]);
        assert_eq!(&f[20..22], &[0, 1], "request");
        assert_eq!(&f[28..32], &[192, 0, 2, 200], "sender IP = VIP");
        assert_eq!(&f[38..42], &[192, 0, 2, 200], "target IP = VIP");
        assert_eq!(&f[22..28], &[2, 0, 0, 0, 0, 1]);
    }
}
