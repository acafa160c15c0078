//! A raw `AF_PACKET` socket bound to one interface, for sending whole Ethernet frames (gratuitous
//! ARP, unsolicited Neighbor Advertisements).

use std::{
    io,
    os::fd::{AsRawFd, FromRawFd, OwnedFd},
};

/// A send-only `AF_PACKET` socket on one interface.
#[derive(Debug)]
pub struct PacketSocket {
    fd: OwnedFd,
    ifindex: i32,
    /// Ethertype of the frames sent (the kernel's `skb->protocol` for them).
    protocol: u16,
}

const ETH_P_ARP: u16 = 0x0806;
const ETH_P_IPV6: u16 = 0x86dd;

impl PacketSocket {
    /// Opens a socket on `ifindex` for ethertype ARP. It never reads: its receive side is shut.
    pub fn arp(ifindex: u32) -> io::Result<Self> {
        Self::open(ifindex, ETH_P_ARP)
    }

    /// Opens a send-only socket on `ifindex` for IPv6 frames (Neighbor Discovery).
    pub fn ipv6(ifindex: u32) -> io::Result<Self> {
        Self::open(ifindex, ETH_P_IPV6)
    }

    fn open(ifindex: u32, protocol: u16) -> io::Result<Self> {
        let ifindex =
            i32::try_from(ifindex).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        // Protocol 0: receives nothing, so no queue builds up behind a send-only socket.
        // SAFETY: plain socket(2).
        let raw = unsafe {
            libc::socket(
                libc::AF_PACKET,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
                0,
            )
        };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fresh fd we own.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        Ok(Self {
            fd,
            ifindex,
            protocol,
        })
    }

    /// Sends one Ethernet frame (destination MAC taken from its first six bytes).
    pub fn send(&self, frame: &[u8]) -> io::Result<()> {
        if frame.len() < 14 {
            return Err(io::Error::from(io::ErrorKind::InvalidInput));
        }
        // SAFETY: zeroed sockaddr_ll is valid.
        let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sll.sll_family = u16::try_from(libc::AF_PACKET).unwrap_or(17);
        sll.sll_protocol = self.protocol.to_be();
        sll.sll_ifindex = self.ifindex;
        sll.sll_halen = 6;
        sll.sll_addr[..6].copy_from_slice(&frame[..6]);
        // SAFETY: valid buffer and address of the right size.
        let rc = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                frame.as_ptr().cast(),
                frame.len(),
                0,
                (&raw const sll).cast(),
                u32::try_from(size_of::<libc::sockaddr_ll>()).unwrap_or(20),
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}
