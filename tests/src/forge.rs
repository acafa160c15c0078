//! Forged frames for hostile-input tests: VRRP adverts with any header field broken, ARP with odd
//! hardware/protocol types and lengths, and 802.1Q / 802.1ad tags. Built on [`crate::frames`] (the
//! cross-check of the agent's codec), so an unaltered forgery is the same bytes as a valid advert.

use std::net::Ipv4Addr;

use crate::frames::{self, inet_checksum};

/// IPv4 protocol number of VRRP.
const IPPROTO_VRRP: u8 = 112;

/// An ARP frame (from [`frames::arp`]) with its hardware/protocol type and lengths replaced; the
/// addresses stay at the Ethernet/IPv4 offsets, so a reader of those offsets still sees them.
#[must_use]
pub fn arp_with_types(mut frame: Vec<u8>, htype: u16, ptype: u16, hlen: u8, plen: u8) -> Vec<u8> {
    if frame.len() >= 20 {
        frame[14..16].copy_from_slice(&htype.to_be_bytes());
        frame[16..18].copy_from_slice(&ptype.to_be_bytes());
        frame[18] = hlen;
        frame[19] = plen;
    }
    frame
}

/// `frame` with an 802.1Q-style tag (`tpid` 0x8100 or 0x88a8, VLAN id `vid`) inserted after the
/// MAC addresses (IEEE 802.1Q 9.3).
#[must_use]
pub fn tagged(frame: &[u8], tpid: u16, vid: u16) -> Vec<u8> {
    let split = frame.len().min(12);
    let mut f = frame[..split].to_vec();
    f.extend_from_slice(&tpid.to_be_bytes());
    f.extend_from_slice(&(vid & 0x0fff).to_be_bytes());
    f.extend_from_slice(&frame[split..]);
    f
}

/// A `VRRPv3` advert in Ethernet and IPv4 as an attacker forges it: every field a test may break.
/// The checksums are computed over what is sent, unless a `bad_*` flag asks otherwise.
#[derive(Clone, Debug)]
pub struct Advert {
    /// Ethernet destination.
    pub eth_dst: [u8; 6],
    /// IPv4 source (and pseudo-header source).
    pub src: Ipv4Addr,
    /// IPv4 destination (and pseudo-header destination).
    pub dst: Ipv4Addr,
    /// IPv4 TTL (RFC 9568 7.1: must be 255).
    pub ttl: u8,
    /// VRRP version nibble.
    pub version: u8,
    /// VRRP type nibble (1: advertisement).
    pub kind: u8,
    /// Virtual router id.
    pub vrid: u8,
    /// Priority.
    pub priority: u8,
    /// Max Adver Int in centiseconds (12 bits).
    pub interval_cs: u16,
    /// The addresses carried.
    pub addrs: Vec<Ipv4Addr>,
    /// Overrides the address count field.
    pub count: Option<u8>,
    /// IPv4 options (a multiple of 4 bytes; the IHL follows unless overridden).
    pub options: Vec<u8>,
    /// Overrides the IHL nibble.
    pub ihl: Option<u8>,
    /// The IPv4 flags and fragment offset field.
    pub frag: u16,
    /// Send a wrong VRRP checksum.
    pub bad_vrrp_checksum: bool,
    /// Send a wrong IPv4 header checksum.
    pub bad_ip_checksum: bool,
}

impl Advert {
    /// A valid advert: TTL 255, version 3, type 1, interval 10 cs.
    #[must_use]
    pub fn new(
        eth_dst: [u8; 6],
        src: Ipv4Addr,
        dst: Ipv4Addr,
        vrid: u8,
        priority: u8,
        addrs: &[Ipv4Addr],
    ) -> Self {
        Self {
            eth_dst,
            src,
            dst,
            ttl: 255,
            version: 3,
            kind: 1,
            vrid,
            priority,
            interval_cs: 10,
            addrs: addrs.to_vec(),
            count: None,
            options: Vec::new(),
            ihl: None,
            frag: 0,
            bad_vrrp_checksum: false,
            bad_ip_checksum: false,
        }
    }

    /// The whole Ethernet frame, from `eth_src`.
    #[must_use]
    pub fn frame(&self, eth_src: [u8; 6]) -> Vec<u8> {
        let mut msg = frames::vrrp(
            3,
            self.vrid,
            self.priority,
            self.interval_cs,
            &self.addrs,
            None,
            self.src,
            self.dst,
        );
        msg[0] = (self.version << 4) | (self.kind & 0x0f);
        if let Some(n) = self.count {
            msg[3] = n;
        }
        // RFC 9568 5.2.8: over the pseudo-header and the message as altered.
        msg[6..8].copy_from_slice(&[0, 0]);
        let mut pseudo = Vec::new();
        pseudo.extend_from_slice(&self.src.octets());
        pseudo.extend_from_slice(&self.dst.octets());
        pseudo.extend_from_slice(&[0, IPPROTO_VRRP]);
        pseudo.extend_from_slice(&u16::try_from(msg.len()).unwrap_or(0).to_be_bytes());
        pseudo.extend_from_slice(&msg);
        let mut c = inet_checksum(&pseudo);
        if self.bad_vrrp_checksum {
            c ^= 0x5a5a;
        }
        msg[6..8].copy_from_slice(&c.to_be_bytes());

        let hdr_len = 20 + self.options.len();
        let ihl = self
            .ihl
            .unwrap_or_else(|| u8::try_from(hdr_len / 4).unwrap_or(15));
        let mut ip = vec![0u8; 20];
        ip[0] = 0x40 | (ihl & 0x0f);
        ip[1] = 0xc0;
        let total = u16::try_from(hdr_len + msg.len()).unwrap_or(u16::MAX);
        ip[2..4].copy_from_slice(&total.to_be_bytes());
        ip[6..8].copy_from_slice(&self.frag.to_be_bytes());
        ip[8] = self.ttl;
        ip[9] = IPPROTO_VRRP;
        ip[12..16].copy_from_slice(&self.src.octets());
        ip[16..20].copy_from_slice(&self.dst.octets());
        ip.extend_from_slice(&self.options);
        let mut c = inet_checksum(&ip);
        if self.bad_ip_checksum {
            c ^= 0x5a5a;
        }
        ip[10..12].copy_from_slice(&c.to_be_bytes());

        let mut f = self.eth_dst.to_vec();
        f.extend_from_slice(&eth_src);
        f.extend_from_slice(&[0x08, 0x00]);
        f.extend_from_slice(&ip);
        f.extend_from_slice(&msg);
        f
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 11);
    const B: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 12);
    const VIP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 200);
    const MAC: [u8; 6] = [2, 0, 0, 0, 0, 0x66];

    #[test]
    fn an_unaltered_forgery_is_a_valid_advert() {
        let f = Advert::new([2; 6], B, A, 51, 254, &[VIP]).frame(MAC);
        assert_eq!(f.len(), 14 + 20 + 12);
        assert_eq!(inet_checksum(&f[14..34]), 0, "IPv4 header checksum");
        assert_eq!(
            &f[34..],
            frames::vrrp(3, 51, 254, 10, &[VIP], None, B, A).as_slice()
        );
    }

    #[test]
    fn broken_fields_are_broken_and_only_them() {
        let base = Advert::new([2; 6], B, A, 51, 254, &[VIP]);
        let mut bad = base.clone();
        bad.bad_ip_checksum = true;
        assert_ne!(inet_checksum(&bad.frame(MAC)[14..34]), 0);
        let mut opts = base.clone();
        opts.options = vec![1, 1, 1, 0];
        let f = opts.frame(MAC);
        assert_eq!((f[14] & 0x0f, f.len()), (6, 14 + 24 + 12));
        assert_eq!(inet_checksum(&f[14..38]), 0, "options are in the checksum");
        let mut v = base;
        v.version = 2;
        let f = v.frame(MAC);
        assert_eq!(f[34], 0x21);
        let mut pseudo = Vec::new();
        pseudo.extend_from_slice(&B.octets());
        pseudo.extend_from_slice(&A.octets());
        pseudo.extend_from_slice(&[0, 112, 0, 12]);
        pseudo.extend_from_slice(&f[34..]);
        assert_eq!(
            inet_checksum(&pseudo),
            0,
            "checksum over the altered message"
        );
    }

    #[test]
    fn tags_and_arp_types() {
        let arp = frames::arp(1, MAC, A, [0; 6], VIP);
        let t = tagged(&arp, 0x8100, 10);
        assert_eq!(&t[12..16], &[0x81, 0x00, 0x00, 0x0a]);
        assert_eq!(&t[16..18], &[0x08, 0x06]);
        assert_eq!(&t[42..46], &VIP.octets(), "target still the VIP");
        let odd = arp_with_types(arp.clone(), 6, 0x0800, 5, 4);
        assert_eq!(&odd[14..20], &[0, 6, 8, 0, 5, 4]);
        assert_eq!(&odd[38..42], &arp[38..42]);
        assert_eq!(arp_with_types(vec![0; 10], 6, 0, 0, 0), vec![0; 10]);
    }
}
