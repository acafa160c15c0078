//! The metrics subscriber: turns the events the daemon publishes ([`crate::events::Event`]) into
//! the values a scrape reads. It runs in its own task behind a bounded [`Channel`], so neither a
//! slow scrape nor this task can hold up the election; what does not fit in the queue is counted
//! in `havip_events_dropped_total{subscriber="metrics"}`.

use std::collections::HashMap;

use tokio::task::JoinHandle;

use super::{InstanceMetrics, Metrics};
use crate::events::{Channel, Event, InstanceId};

/// Events the metrics queue holds before it drops. A failover publishes a dozen; an advert
/// every 100 ms per instance is the steady load.
pub const CAPACITY: usize = 4096;

/// Applies events to a [`Metrics`] set.
#[derive(Debug)]
pub struct Recorder {
    metrics: Metrics,
    instances: HashMap<InstanceId, InstanceMetrics>,
}

impl Recorder {
    /// Records into `metrics`.
    #[must_use]
    pub fn new(metrics: Metrics) -> Self {
        Self {
            metrics,
            instances: HashMap::new(),
        }
    }

    /// Applies one event.
    pub fn apply(&mut self, ev: &Event) {
        match ev {
            Event::InstanceAdded(info) => {
                let m = self.metrics.register_instance(info.as_ref().clone());
                self.instances.insert(info.id, m);
            }
            Event::InstanceRemoved { id } => {
                if let Some(m) = self.instances.remove(id) {
                    self.metrics.unregister_instance(&m);
                }
            }
            Event::TrackScript { name, up } => self.metrics.track_script_status(name, *up),
            Event::TrackInterface { name, up } => self.metrics.track_interface_status(name, *up),
            Event::DataplaneAttached(up) => self.metrics.set_dataplane_attached(*up),
            Event::StateChanged {
                id,
                at_ns,
                from,
                to,
                reason,
                ..
            } => {
                if let Some(m) = self.instances.get_mut(id) {
                    m.transition(
                        crate::vrrp::Instant::from_nanos(*at_ns),
                        *from,
                        *to,
                        *reason,
                    );
                }
            }
            Event::Updated { id, view } => {
                if let Some(m) = self.instances.get(id) {
                    m.sync(view);
                }
            }
            Event::AdvertReceived {
                id,
                rx_ns,
                src,
                priority,
                interval,
            } => {
                if let Some(m) = self.instances.get_mut(id) {
                    m.advert_received_with(*rx_ns, *src, *priority, *interval);
                }
            }
            Event::AdvertSent { id } => {
                if let Some(m) = self.instances.get(id) {
                    m.advert_sent();
                }
            }
            Event::AdvertRejected { id, reason } => {
                if let Some(m) = self.instances.get(id) {
                    m.advert_rejected(reason);
                }
            }
            Event::AuthHmac { id, outcome } => {
                if let Some(m) = self.instances.get(id) {
                    m.auth_hmac(outcome);
                }
            }
            Event::IntervalClamped { id, .. } => {
                if let Some(m) = self.instances.get(id) {
                    m.interval_clamped();
                }
            }
            Event::GarpSent { id, frames, at_ns } => {
                if let Some(m) = self.instances.get_mut(id) {
                    m.garps_sent_at(*frames, *at_ns);
                }
            }
            Event::GarpSuppressed { id } => {
                if let Some(m) = self.instances.get(id) {
                    m.garps_suppressed();
                }
            }
            Event::Granted { id, at_ns } => {
                if let Some(m) = self.instances.get_mut(id) {
                    m.granted_at(*at_ns);
                }
            }
            // Nothing is exported for these (notify runs the group scripts; the grant's end
            // shows in the kernel's state read at scrape time).
            Event::GroupStateChanged { .. } | Event::Revoked { .. } => {}
        }
    }
}

/// Starts the metrics subscriber: the channel the daemon publishes to, and its task (which ends
/// when the channel's sender is dropped, after recording what was queued).
#[must_use]
pub fn subscribe(metrics: &Metrics) -> (Channel, JoinHandle<()>) {
    let (channel, mut rx) = Channel::new("metrics", CAPACITY);
    metrics.export_event_drops(channel.name(), channel.dropped());
    let mut recorder = Recorder::new(metrics.clone());
    let task = tokio::spawn(async move {
        while let Some(ev) = rx.recv().await {
            recorder.apply(&ev);
        }
    });
    (channel, task)
}
