//! Attaching XDP programs with rtnetlink (`IFLA_XDP`) instead of a `bpf_link`.
//!
//! A `bpf_link` lives as long as its file descriptor: if the agent is killed (`kill -9`, OOM,
//! a crash) the kernel detaches the program at once, and whatever VIP address the agent had
//! added is then answered by the kernel's own ARP stack, next to the new master: two owners.
//! A program attached through `IFLA_XDP` belongs to the interface instead, so it outlives the
//! agent, keeps dropping ARP requests for the VIP, and stops answering them itself when the
//! ownership lease runs out. The next agent replaces it atomically (no window without XDP).
//!
//! Everything here is synchronous and bounded: one netlink socket per call, a receive timeout,
//! and messages built with `netlink-packet-route` (no hand-written layouts).

use std::{
    io,
    os::fd::{AsRawFd as _, BorrowedFd},
    time::Duration,
};

use rtnetlink::{
    packet_core::{NLM_F_ACK, NLM_F_REQUEST, NetlinkHeader, NetlinkMessage, NetlinkPayload},
    packet_route::{
        RouteNetlinkMessage,
        link::{LinkAttribute, LinkMessage, LinkXdp, XdpAttached},
    },
    sys::{Socket, SocketAddr, protocols::NETLINK_ROUTE},
};

use super::AttachMode;

// `include/uapi/linux/if_link.h`. `XDP_FLAGS_REPLACE` with `IFLA_XDP_EXPECTED_FD` (detach only
// our own program) needs Linux 5.7 (commit 92234c8f1); the README requires 5.18 anyway.
const XDP_FLAGS_UPDATE_IF_NOEXIST: u32 = 1 << 0;
const XDP_FLAGS_SKB_MODE: u32 = 1 << 1;
const XDP_FLAGS_DRV_MODE: u32 = 1 << 2;
const XDP_FLAGS_REPLACE: u32 = 1 << 4;

/// How long one netlink request may take before we give up.
const TIMEOUT: Duration = Duration::from_secs(2);

/// The program attached to an interface, as the kernel reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Current {
    /// Kernel program id.
    pub prog_id: u32,
    /// `Driver` or `Skb`.
    pub mode: AttachMode,
}

/// What to do about a program already on the interface.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Replace<'a> {
    /// Fail with `EBUSY` if any program is attached.
    Nothing,
    /// Replace whatever is attached in this mode.
    Any,
    /// Replace (or, with no new program, remove) only this program (`XDP_FLAGS_REPLACE`).
    Only(BorrowedFd<'a>),
}

fn mode_flag(mode: AttachMode) -> u32 {
    if mode == AttachMode::Driver {
        XDP_FLAGS_DRV_MODE
    } else {
        XDP_FLAGS_SKB_MODE
    }
}

/// The program attached to `ifindex`, if any (`RTM_GETLINK`).
pub(crate) fn current(ifindex: u32) -> io::Result<Option<Current>> {
    let mut msg = LinkMessage::default();
    msg.header.index = ifindex;
    let replies = request(RouteNetlinkMessage::GetLink(msg), NLM_F_REQUEST)?;
    let mut attached = XdpAttached::None;
    let mut prog_id = 0;
    for reply in replies {
        let RouteNetlinkMessage::NewLink(link) = reply else {
            continue;
        };
        for attr in link.attributes {
            if let LinkAttribute::Xdp(xdp) = attr {
                for x in xdp {
                    match x {
                        LinkXdp::Attached(a) => attached = a,
                        LinkXdp::ProgId(id) => prog_id = id,
                        _ => {}
                    }
                }
            }
        }
    }
    let mode = match attached {
        XdpAttached::None => return Ok(None),
        XdpAttached::Driver => AttachMode::Driver,
        XdpAttached::SocketBuffer => AttachMode::Skb,
        other => {
            return Err(io::Error::other(format!(
                "interface index {ifindex} has an XDP attachment havip does not manage ({other:?})"
            )));
        }
    };
    Ok(Some(Current { prog_id, mode }))
}

/// Attaches `prog` to `ifindex` in `mode` (`Driver` or `Skb`), or with `prog = None` removes the
/// program of that mode; `replace` says what may be displaced.
pub(crate) fn set(
    ifindex: u32,
    prog: Option<BorrowedFd<'_>>,
    mode: AttachMode,
    replace: Replace<'_>,
) -> io::Result<()> {
    let mut flags = mode_flag(mode);
    let mut xdp = vec![LinkXdp::Fd(prog.map_or(-1, |fd| fd.as_raw_fd()))];
    match replace {
        Replace::Nothing => flags |= XDP_FLAGS_UPDATE_IF_NOEXIST,
        Replace::Any => {}
        Replace::Only(old) => {
            flags |= XDP_FLAGS_REPLACE;
            let fd = u32::try_from(old.as_raw_fd()).map_err(io::Error::other)?;
            xdp.push(LinkXdp::ExpectedFd(fd));
        }
    }
    xdp.push(LinkXdp::Flags(flags));
    let mut msg = LinkMessage::default();
    msg.header.index = ifindex;
    msg.attributes.push(LinkAttribute::Xdp(xdp));
    request(RouteNetlinkMessage::SetLink(msg), NLM_F_REQUEST | NLM_F_ACK).map(drop)
}

/// Sends one request and collects its replies until the ack (or the single reply of a `GET`).
fn request(msg: RouteNetlinkMessage, flags: u16) -> io::Result<Vec<RouteNetlinkMessage>> {
    let mut socket = Socket::new(NETLINK_ROUTE)?;
    socket.bind_auto()?;
    socket.connect(&SocketAddr::new(0, 0))?;
    set_timeout(&socket)?;

    let mut header = NetlinkHeader::default();
    header.flags = flags;
    header.sequence_number = 1;
    let mut req = NetlinkMessage::new(header, NetlinkPayload::from(msg));
    req.finalize();
    let mut buf = vec![0; req.buffer_len()];
    req.serialize(&mut buf);
    socket.send(&buf, 0)?;

    let want_ack = flags & NLM_F_ACK != 0;
    let mut replies = Vec::new();
    loop {
        let (data, _) = socket.recv_from_full()?;
        if data.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "netlink socket closed",
            ));
        }
        let mut offset = 0;
        while offset < data.len() {
            let bytes = data.get(offset..).unwrap_or_default();
            let reply = NetlinkMessage::<RouteNetlinkMessage>::deserialize(bytes)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
            let len = usize::try_from(reply.header.length).unwrap_or(0);
            if len == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "zero-length netlink message",
                ));
            }
            offset += len;
            match reply.payload {
                NetlinkPayload::Error(e) => {
                    return match e.code {
                        None => Ok(replies),
                        Some(_) => Err(e.to_io()),
                    };
                }
                NetlinkPayload::Done(_) => return Ok(replies),
                NetlinkPayload::InnerMessage(m) => {
                    replies.push(m);
                    if !want_ack {
                        return Ok(replies);
                    }
                }
                _ => {}
            }
        }
    }
}

fn set_timeout(socket: &Socket) -> io::Result<()> {
    let tv = libc::timeval {
        tv_sec: libc::time_t::try_from(TIMEOUT.as_secs()).unwrap_or(2),
        tv_usec: 0,
    };
    // SAFETY: a valid socket fd and a `timeval` of the size we pass.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            (&raw const tv).cast(),
            libc::socklen_t::try_from(size_of::<libc::timeval>()).unwrap_or(16),
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}
