//! The event loop's state and its step: every [`Input`] the loop receives is applied by
//! [`Shell::step`] (state machines, sync groups, reload, status), and the events that come out
//! are handed to the subscribers ([`Shell::publish`]). `run` in the parent module sets it up,
//! turns wake-ups into inputs, and shuts it down.

use std::{collections::HashMap, time::Duration};

use aya::maps::{MapData, RingBuf};
use havip_common::{AdvertEvent, MAX_ADVERT_LEN, event_flags};
use tokio::{io::unix::AsyncFd, sync::mpsc};
use tracing::{debug, error, warn};

use super::{
    Options, addr_worker::AddrOp, groups::Groups, instance::Runtime, now, reload, snapshot,
    tracking::Tracking,
};
use crate::{
    cloud::Reporters,
    config, control,
    dataplane::{Dataplane, Vrid},
    events::{self, Channel, InstanceId, Subscriber},
    notify::Hub,
    track::{Object, TrackEvent},
    vrrp::{self, AdvertRepr, Event, rule::ip_from_abi},
};

/// Everything that reaches the event loop.
pub(crate) enum Input {
    /// A record of the XDP ring buffer (an advert the kernel validated).
    Advert(AdvertEvent),
    /// A deadline of some instance may have passed.
    Timer,
    /// A tracked object (interface, script) changed.
    Track(TrackEvent),
    /// SIGHUP: start a reload.
    Reload,
    /// SIGTERM or SIGINT: stop.
    Stop,
    /// A reload's configuration, read and checked off the loop (or why not).
    Reloaded(Box<reload::Prepared>),
    /// `havip-agent status`.
    Control(control::Request),
    /// A cloud reporter asks for one more round of gratuitous ARP for an instance.
    Reannounce(InstanceId),
    /// A BFD session changed state (from the BFD thread, `super::bfd`).
    Bfd(super::bfd::BfdUpdate),
}

/// A ring buffer as a tokio-readable source.
pub(super) struct Events(pub(super) AsyncFd<RingBuf<MapData>>);

/// Capacity of the queue of inputs produced by tasks (reload results).
pub(super) const INPUT_CAPACITY: usize = 4;

/// The loop's state and its I/O handles.
pub(super) struct Shell {
    pub(super) opts: Options,
    pub(super) cfg: config::Config,
    pub(super) runtimes: Vec<Runtime>,
    /// (ifindex, vrid) -> position in `runtimes`.
    pub(super) index: HashMap<(u32, Vrid), usize>,
    /// Interfaces the XDP program is attached to.
    pub(super) ifaces: Vec<String>,
    pub(super) tracking: Tracking,
    pub(super) groups: Groups,
    pub(super) dp: Dataplane,
    pub(super) addr_tx: mpsc::UnboundedSender<AddrOp>,
    /// Subscribers: metrics (bounded queue) and notify scripts.
    pub(super) metrics_sub: Channel,
    pub(super) notify: Hub,
    /// Cloud reporters (a subscriber too; replaced when a reload changes them).
    pub(super) cloud: Reporters,
    pub(super) reannounce_rx: mpsc::Receiver<InstanceId>,
    /// Where tasks send their inputs (reload results).
    pub(super) inputs_tx: mpsc::Sender<Input>,
    /// A reload is being read off the loop.
    pub(super) reloading: bool,
    pub(super) next_id: InstanceId,
    /// Events of the loop itself (tracking), published with the instances'.
    pub(super) pending: Vec<events::Event>,
    /// BFD sessions and their counters (none without sessions).
    pub(super) bfd: Option<super::bfd::BfdService>,
}

pub(super) fn index_of(runtimes: &[Runtime]) -> HashMap<(u32, Vrid), usize> {
    runtimes
        .iter()
        .enumerate()
        .map(|(i, r)| ((r.iface.index, r.vrid()), i))
        .collect()
}

impl Shell {
    /// Applies one input; false when the loop must stop.
    pub(super) fn step(&mut self, input: Input) -> bool {
        match input {
            Input::Timer => {
                let t = now();
                for r in &mut self.runtimes {
                    if r.fsm.poll_at().is_some_and(|at| at <= t) {
                        r.handle(t, Event::Timer, &mut self.dp, &self.addr_tx);
                    }
                }
            }
            Input::Advert(ev) => {
                deliver(
                    &ev,
                    &self.index,
                    &mut self.runtimes,
                    &mut self.dp,
                    &self.addr_tx,
                );
            }
            Input::Track(ev) => {
                self.track_event(&ev);
                let t = now();
                for r in &mut self.runtimes {
                    r.retrack(t, &self.tracking.states, &mut self.dp, &self.addr_tx);
                }
                self.groups
                    .sync_faults(&mut self.runtimes, t, &mut self.dp, &self.addr_tx);
            }
            Input::Control(reply) => {
                let _ = reply.send(snapshot::snapshot(
                    &self.cfg,
                    &self.runtimes,
                    &self.tracking.states,
                    &mut self.dp,
                    &self
                        .bfd
                        .as_ref()
                        .map(|b| b.stats.sessions())
                        .unwrap_or_default(),
                ));
            }
            Input::Reload => {
                if self.reloading {
                    warn!("SIGHUP: a reload is already being read; this one is ignored");
                } else {
                    self.reloading = true;
                    reload::start(&self.opts, reload::DEADLINE, self.inputs_tx.clone());
                }
            }
            Input::Reloaded(prepared) => {
                self.reloading = false;
                self.reloaded(*prepared);
            }
            Input::Reannounce(id) => {
                if let Some(r) = self.runtimes.iter_mut().find(|r| r.id == id) {
                    r.reannounce();
                }
            }
            Input::Bfd(u) => self.bfd_changed(&u),
            Input::Stop => return false,
        }
        self.groups
            .sync_states(&mut self.runtimes, now(), &mut self.dp, &self.addr_tx);
        self.publish();
        true
    }

    /// Sends the gratuitous ARPs this step queued (after every instance's grant and advert),
    /// then hands every queued event to the subscribers, in the order they happened per
    /// instance.
    pub(super) fn publish(&mut self) {
        for r in &mut self.runtimes {
            r.flush_garps();
        }
        let mut out = std::mem::take(&mut self.pending);
        for r in &mut self.runtimes {
            out.extend(r.drain_events());
        }
        out.extend(self.groups.observe(&self.runtimes));
        self.send(&out);
    }

    fn send(&mut self, events: &[events::Event]) {
        for ev in events {
            self.metrics_sub.publish(ev);
            self.cloud.publish(ev);
            self.notify.publish(ev);
        }
    }

    /// A BFD session changed: `track_bfd` follows whether it is Up; with `master_down_on_bfd`
    /// (havip extension, not RFC 9568) a backup whose master's session left Up takes over now.
    fn bfd_changed(&mut self, u: &super::bfd::BfdUpdate) {
        let t = now();
        debug!(bfd = %u.name, neighbor = %u.neighbor, from = %u.from, to = %u.to, diag = %u.diag, "BFD change reached the loop");
        if u.path_failed() {
            for r in &mut self.runtimes {
                let extension = self
                    .cfg
                    .instance(r.name())
                    .is_some_and(|i| i.master_down_on_bfd);
                if extension {
                    r.handle(
                        t,
                        Event::PeerDown(u.neighbor.into()),
                        &mut self.dp,
                        &self.addr_tx,
                    );
                }
            }
        }
        let ev = TrackEvent::Bfd {
            name: u.name.clone(),
            up: u.to == crate::bfd::State::Up,
        };
        if self.tracking.states.apply(&ev) {
            for r in &mut self.runtimes {
                r.retrack(t, &self.tracking.states, &mut self.dp, &self.addr_tx);
            }
            self.groups
                .sync_faults(&mut self.runtimes, t, &mut self.dp, &self.addr_tx);
        }
    }

    /// Publishes a tracked object's new state (interfaces only if some instance tracks them).
    fn track_event(&mut self, ev: &TrackEvent) {
        match ev {
            TrackEvent::Script { name, ok } => self.pending.push(events::Event::TrackScript {
                name: name.clone(),
                up: *ok,
            }),
            // BFD changes reach the loop as `Input::Bfd`, never through the tracking channel.
            TrackEvent::Bfd { .. } => {}
            TrackEvent::Link { name, up, .. } => {
                let object = Object::Interface(name.clone());
                if self
                    .runtimes
                    .iter()
                    .any(|r| r.tracker.objects().iter().any(|t| t.object == object))
                {
                    self.pending.push(events::Event::TrackInterface {
                        name: name.clone(),
                        up: *up,
                    });
                }
            }
        }
    }

    /// Swaps in a reloaded configuration (or logs why not), then restarts what depends on the
    /// instances: sync groups, their notify scripts, cloud reporters.
    fn reloaded(&mut self, prepared: reload::Prepared) {
        let before: Vec<InstanceId> = self.runtimes.iter().map(|r| r.id).collect();
        let cloud_before = self.cfg.cloud.clone();
        let mut running = reload::Running {
            cfg: &mut self.cfg,
            runtimes: &mut self.runtimes,
            index: &mut self.index,
            ifaces: &mut self.ifaces,
            tracking: &mut self.tracking,
            dp: &mut self.dp,
            notify: &mut self.notify,
            next_id: &mut self.next_id,
            bfd: self.bfd.as_ref(),
        };
        match reload::apply(&self.opts, &mut running, prepared, &self.addr_tx) {
            Ok(retired) => {
                // The BFD thread takes the new sessions on its own time (daemon/bfd.rs).
                if let Some(b) = &self.bfd {
                    b.reconfigure(&self.cfg);
                }
                self.send(&retired);
            }
            Err(e) => {
                error!(error = %e, "reload rejected: the running configuration stays");
                return;
            }
        }
        self.groups = Groups::new(&self.cfg);
        self.notify.set_groups(reload::group_notifiers(&self.cfg));
        // Cloud reporters serve instances by id: restart them when the instances or the
        // `[cloud]` table changed (a report is idempotent), and tell them the current states.
        let after: Vec<InstanceId> = self.runtimes.iter().map(|r| r.id).collect();
        if before != after || cloud_before != self.cfg.cloud {
            let infos: Vec<events::InstanceInfo> =
                self.runtimes.iter().map(Runtime::info).collect();
            let (new_cloud, new_rx) = match Reporters::start(&self.cfg, &infos) {
                Ok(started) => started,
                Err(e) => {
                    error!(error = %e, "cloud reporting stopped: the new [cloud] does not start");
                    Reporters::disabled()
                }
            };
            let old = std::mem::replace(&mut self.cloud, new_cloud);
            self.reannounce_rx = new_rx;
            tokio::spawn(old.shutdown(Duration::from_secs(2)));
            for r in &self.runtimes {
                let state = r.fsm.state();
                if state != vrrp::State::Initialize {
                    let reason = r.last.map(|t| t.reason.to_string()).unwrap_or_default();
                    self.cloud
                        .changed(r.id, vrrp::State::Initialize, state, reason);
                }
            }
        }
    }
}

pub(super) fn read_event(bytes: &[u8]) -> Option<AdvertEvent> {
    if bytes.len() < size_of::<AdvertEvent>() {
        return None;
    }
    // SAFETY: length checked; AdvertEvent is plain old data (havip-common), read unaligned.
    Some(unsafe { std::ptr::read_unaligned(bytes.as_ptr().cast::<AdvertEvent>()) })
}

/// When an advert arrived, for the state machine: the XDP program's receive timestamp
/// (`bpf_ktime_get_ns`, the state machine's own `CLOCK_MONOTONIC`), so the `Master_Down_Timer` a
/// backup resets (RFC 9568 6.4.2) runs from the advert's arrival and not from whenever the loop
/// got to it; the ring buffer wake-up and a busy loop then no longer push a takeover past the
/// protocol's bound.
///
/// Only while the advert is fresh (at most `fresh_for`, one advert interval, old): an older
/// record means the loop was stalled, and if the ring buffer overflowed meanwhile the newer
/// adverts were lost, so the records still queued could let a running master's
/// `Master_Down_Interval` appear to have passed. The arrival time then falls back to `now`,
/// which can only delay a takeover. With a timestamp of one interval or less the backup's
/// deadline stays at least two intervals ahead, time enough for the next advert. Never later
/// than `now`; `now` for an event without a timestamp.
fn received_at(ts_ns: u64, now: vrrp::Instant, fresh_for: Duration) -> vrrp::Instant {
    let ts = vrrp::Instant::from_nanos(ts_ns);
    if ts_ns == 0 || ts > now || ts.saturating_add(fresh_for) < now {
        now
    } else {
        ts
    }
}

fn deliver(
    ev: &AdvertEvent,
    index: &HashMap<(u32, Vrid), usize>,
    runtimes: &mut [Runtime],
    dp: &mut Dataplane,
    addr_tx: &mpsc::UnboundedSender<AddrOp>,
) {
    let vrid = ev.vrrp[1];
    let key = Vrid {
        id: vrid,
        family: ev.family,
    };
    let Some(r) = index
        .get(&(ev.ifindex, key))
        .and_then(|&i| runtimes.get_mut(i))
    else {
        debug!(
            ifindex = ev.ifindex,
            vrid, "advert for an instance we do not run"
        );
        return;
    };
    let len = usize::from(ev.vrrp_len).min(MAX_ADVERT_LEN);
    let src = ip_from_abi(ev.src);
    let dst = ip_from_abi(ev.dst);
    let mode = r.fsm.params().checksum_mode;
    // keepalived `auth_hmac`: verified before anything else looks at the advert; the kernel
    // delivered the trailer with it and did not fence on it.
    let Some(pdu) = r.authenticate(&ev.vrrp[..len], src, now()) else {
        return;
    };
    let advert = match AdvertRepr::parse(pdu, src, dst, mode) {
        Ok(a) => a,
        Err(e) => {
            warn!(instance = r.name(), %src, error = %e, "advert accepted by XDP but not decodable");
            return;
        }
    };
    r.learn_peer(src, ev.src_mac, addr_tx);
    let fenced = ev.flags & event_flags::FENCED != 0;
    let id = r.id;
    r.emit(events::Event::AdvertReceived {
        id,
        rx_ns: ev.ts_ns,
        src,
        priority: advert.priority,
        interval: advert.interval.to_duration(),
    });
    let at = received_at(ev.ts_ns, now(), advert.interval.to_duration());
    r.handle(
        at,
        Event::Advert {
            src,
            dst,
            ttl: ev.ttl,
            advert,
            fenced,
        },
        dp,
        addr_tx,
    );
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::received_at;
    use crate::vrrp::Instant;

    const MS: u64 = 1_000_000;

    #[test]
    fn a_fresh_advert_counts_from_its_kernel_timestamp() {
        let now = Instant::from_nanos(1_000 * MS);
        let got = received_at(1_000 * MS - 300_000, now, Duration::from_millis(10));
        assert_eq!(got, Instant::from_nanos(1_000 * MS - 300_000));
    }

    #[test]
    fn a_stale_missing_or_future_timestamp_counts_from_now() {
        let now = Instant::from_nanos(1_000 * MS);
        let interval = Duration::from_millis(10);
        // Older than one interval: the loop was stalled, newer adverts may have been lost.
        assert_eq!(received_at(989 * MS, now, interval), now);
        assert_eq!(
            received_at(990 * MS, now, interval),
            Instant::from_nanos(990 * MS)
        );
        assert_eq!(received_at(0, now, interval), now);
        assert_eq!(received_at(1_001 * MS, now, interval), now);
    }
}
