//! Interface state from rtnetlink: one dump at start, then `RTM_NEWLINK` / `RTM_DELLINK` events.
//!
//! An interface counts as up, as keepalived counts it, when it is administratively up and has
//! carrier (`IFF_UP` and `IFF_RUNNING`); a deleted interface is down.

use futures::{StreamExt as _, TryStreamExt as _};
use rtnetlink::{
    constants::RTMGRP_LINK,
    packet_core::NetlinkPayload,
    packet_route::{
        RouteNetlinkMessage,
        link::{LinkAttribute, LinkFlags, LinkMessage},
    },
    sys::{AsyncSocket as _, SocketAddr},
};
use tokio::sync::mpsc;
use tracing::{debug, warn};

use super::TrackEvent;

/// Watches every interface and sends [`TrackEvent::Link`] for each state it learns, starting
/// with the current state of all of them. Returns when the receiver is gone.
pub async fn watch(tx: mpsc::UnboundedSender<TrackEvent>) -> std::io::Result<()> {
    let (mut conn, handle, mut messages) = rtnetlink::new_connection()?;
    // Subscribe before the dump so that no change between the two is missed.
    conn.socket_mut()
        .socket_mut()
        .bind(&SocketAddr::new(0, RTMGRP_LINK))?;
    tokio::spawn(conn);

    let mut links = handle.link().get().execute();
    loop {
        match links.try_next().await {
            Ok(Some(msg)) => {
                if let Some(ev) = link_event(&msg, false)
                    && tx.send(ev).is_err()
                {
                    return Ok(());
                }
            }
            Ok(None) => break,
            Err(e) => return Err(std::io::Error::other(e.to_string())),
        }
    }
    while let Some((msg, _)) = messages.next().await {
        let ev = match msg.payload {
            NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewLink(m)) => link_event(&m, false),
            NetlinkPayload::InnerMessage(RouteNetlinkMessage::DelLink(m)) => link_event(&m, true),
            _ => None,
        };
        if let Some(ev) = ev {
            debug!(?ev, "link event");
            if tx.send(ev).is_err() {
                return Ok(());
            }
        }
    }
    warn!("the rtnetlink link monitor stopped");
    Ok(())
}

/// The event for one link message, or `None` if it names no interface.
fn link_event(msg: &LinkMessage, deleted: bool) -> Option<TrackEvent> {
    let name = msg.attributes.iter().find_map(|a| match a {
        LinkAttribute::IfName(n) => Some(n.clone()),
        _ => None,
    })?;
    let flags = msg.header.flags;
    let up = !deleted && flags.contains(LinkFlags::Up) && flags.contains(LinkFlags::Running);
    Some(TrackEvent::Link {
        ifindex: msg.header.index,
        name,
        up,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(flags: LinkFlags) -> LinkMessage {
        let mut m = LinkMessage::default();
        m.header.index = 7;
        m.header.flags = flags;
        m.attributes.push(LinkAttribute::IfName("eth0".into()));
        m
    }

    fn up_of(ev: Option<TrackEvent>) -> Option<bool> {
        match ev? {
            TrackEvent::Link { up, .. } => Some(up),
            TrackEvent::Script { .. } | TrackEvent::Bfd { .. } => None,
        }
    }

    #[test]
    fn up_needs_admin_up_and_carrier() {
        assert_eq!(
            up_of(link_event(&msg(LinkFlags::Up | LinkFlags::Running), false)),
            Some(true)
        );
        assert_eq!(
            up_of(link_event(&msg(LinkFlags::Up), false)),
            Some(false),
            "no carrier"
        );
        assert_eq!(
            up_of(link_event(&msg(LinkFlags::Running), false)),
            Some(false),
            "admin down"
        );
        assert_eq!(
            up_of(link_event(&msg(LinkFlags::Up | LinkFlags::Running), true)),
            Some(false),
            "deleted"
        );
    }

    #[test]
    fn a_message_without_a_name_is_skipped() {
        let mut m = msg(LinkFlags::Up);
        m.attributes.clear();
        assert!(link_event(&m, false).is_none());
    }
}
