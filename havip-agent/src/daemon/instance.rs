//! One VRRP instance at run time: its state machine and the I/O handles that carry out its
//! actions (advert socket, gratuitous ARP, data plane, address worker).

use std::{net::Ipv4Addr, time::Duration};

use tokio::sync::mpsc;
use tracing::{debug, info, warn};

use super::{DaemonError, addr_worker::AddrOp};
use crate::{
    config,
    dataplane::{Dataplane, VridConfig},
    metrics::InstanceMetrics,
    net::{
        garp::GarpSender,
        iface::{self, Interface},
        vrrp_tx::{VRRP_GROUP, VrrpSocket},
    },
    notify::Notifier,
    track::{States, Tracker, Verdict},
    vrrp::{
        self, Action, AdvertRepr, Auth, ChecksumMode, Event, GarpParams, InitialState, Instance,
        InstanceParams, Reason, State, Version, packet::ipv4_header,
    },
};

/// A VIP as the instance manages it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vip {
    /// Address.
    pub addr: Ipv4Addr,
    /// Prefix length used when the address is added.
    pub prefix: u8,
    /// Interface index it is added on.
    pub ifindex: u32,
    /// Optional label (`eth0:1`).
    pub label: Option<String>,
}

/// The last transition, for status and logs.
#[derive(Clone, Copy, Debug)]
pub struct Transition {
    /// When.
    pub at: vrrp::Instant,
    /// From.
    pub from: State,
    /// To.
    pub to: State,
    /// Why.
    pub reason: Reason,
}

/// A running instance.
pub struct Runtime {
    /// The election core.
    pub fsm: Instance,
    /// Its interface.
    pub iface: Interface,
    /// Its VIPs.
    pub vips: Vec<Vip>,
    manage_addresses: bool,
    socket: VrrpSocket,
    garp: GarpSender,
    dests: Vec<Ipv4Addr>,
    src: Ipv4Addr,
    lease: Duration,
    ident: u16,
    /// Last transition.
    pub last: Option<Transition>,
    /// Adverts sent.
    pub adverts_sent: u64,
    /// Gratuitous ARPs sent.
    pub garps_sent: u64,
    /// What it tracks (interfaces, scripts).
    pub tracker: Tracker,
    /// What tracking made of it last (fault, effective priority).
    pub verdict: Verdict,
    /// Notify scripts.
    pub notifier: Notifier,
    /// Another member of its sync group is in FAULT.
    group_fault: bool,
    /// The FAULT state the state machine was last told.
    fault_told: bool,
    /// Unicast peers whose neighbour entry was primed, with the MAC used.
    primed: std::collections::HashMap<Ipv4Addr, [u8; 6]>,
    /// What the metrics endpoint reads about this instance (see `metrics::InstanceMetrics`).
    pub metrics: InstanceMetrics,
}

fn version(v: config::Version) -> Version {
    match v {
        config::Version::V2 => Version::V2,
        config::Version::V3 => Version::V3,
    }
}

impl Runtime {
    /// Builds the instance from its configuration and registers it with the data plane.
    #[expect(
        clippy::too_many_lines,
        reason = "one linear mapping from the config model to params, sockets and maps"
    )]
    pub fn new(
        cfg: &config::Instance,
        global: &config::Global,
        tracker: Tracker,
        dp: &mut Dataplane,
    ) -> Result<Self, DaemonError> {
        let iface = Interface::by_name(&cfg.interface)?;
        let notifier = Notifier::new(cfg, global).map_err(|e| DaemonError::Invalid {
            instance: cfg.name.clone(),
            what: format!("notify: {e}"),
        })?;
        let primary = match cfg.unicast_src_ip {
            Some(a) => a,
            None => iface::primary_ipv4(&iface.name)
                .map_err(|source| DaemonError::Io {
                    what: "reading interface addresses",
                    source,
                })?
                .ok_or_else(|| DaemonError::NoPrimaryAddress {
                    instance: cfg.name.clone(),
                    ifname: iface.name.clone(),
                })?,
        };
        let auth = match &cfg.auth {
            Some(a) => Auth::simple(a.pass.as_bytes()).ok_or_else(|| DaemonError::Invalid {
                instance: cfg.name.clone(),
                what: "auth_pass longer than 8 bytes".to_owned(),
            })?,
            None => Auth::None,
        };
        let checksum_mode = if cfg.v3_checksum_as_v2 {
            ChecksumMode::V3AsV2
        } else {
            ChecksumMode::PseudoHeader
        };
        let mut vips = Vec::new();
        for v in &cfg.virtual_ipaddresses {
            let ifindex = match &v.dev {
                Some(dev) => iface::if_index(dev)?,
                None => iface.index,
            };
            vips.push(Vip {
                addr: v.address,
                prefix: v.prefix_len,
                ifindex,
                label: v.label.clone(),
            });
        }
        let params = InstanceParams {
            name: cfg.name.clone(),
            vrid: cfg.vrid,
            version: version(cfg.version),
            priority: cfg.priority,
            advert_interval: cfg.advert_interval,
            preempt: cfg.preempt,
            preempt_delay: cfg.preempt_delay,
            initial_state: match cfg.state {
                config::InitialState::Master => InitialState::Master,
                config::InitialState::Backup => InitialState::Backup,
            },
            primary_addr: primary,
            vips: vips.iter().map(|v| v.addr).collect(),
            // h1-rule: the shared acceptance rule checks the peer list and bounds the learned
            // interval (default; the config knob is the integrator's plumbing).
            unicast_peers: cfg.unicast_peers.clone(),
            max_learned_interval: None,
            auth,
            checksum_mode,
            garp: GarpParams {
                master_delay: cfg.garp_master_delay,
                master_repeat: cfg.garp_master_repeat,
                master_refresh: (!cfg.garp_master_refresh.is_zero())
                    .then_some(cfg.garp_master_refresh),
                master_refresh_repeat: cfg.garp_master_refresh_repeat,
                interval: cfg.garp_interval,
                ..GarpParams::default()
            },
        };
        let fsm = Instance::new(params).map_err(|e| DaemonError::Invalid {
            instance: cfg.name.clone(),
            what: e.to_string(),
        })?;
        let multicast = cfg.unicast_peers.is_empty();
        let dests = if multicast {
            vec![VRRP_GROUP]
        } else {
            cfg.unicast_peers.clone()
        };
        let socket = VrrpSocket::open(&iface.name, iface.index, multicast).map_err(|source| {
            DaemonError::Io {
                what: "opening the VRRP socket",
                source,
            }
        })?;
        let garp = GarpSender::new(iface.index, iface.mac).map_err(|source| DaemonError::Io {
            what: "opening the ARP socket",
            source,
        })?;
        // h1-rule: the kernel's state comes from the same parameters as the FSM's rule state.
        dp.configure_vrid(
            iface.index,
            cfg.vrid,
            &VridConfig::from_params(fsm.params(), cfg.priority),
        )?;
        for peer in &cfg.unicast_peers {
            dp.allow_peer(iface.index, cfg.vrid, *peer)?;
        }
        for v in &vips {
            // h1-rule: ownership of a VIP on another `dev` is the instance interface's.
            dp.set_vip(v.ifindex, v.addr, iface.mac, cfg.vrid, iface.index)?;
        }
        // The lease must run out before a backup's Master_Down_Interval (3 intervals + skew)
        // after the last advert, so a dead agent's kernel stops answering first.
        let lease = global.lease.unwrap_or(cfg.advert_interval * 2);
        Ok(Self {
            fsm,
            iface,
            vips,
            manage_addresses: cfg.manage_addresses,
            socket,
            garp,
            dests,
            src: primary,
            lease,
            ident: 0,
            last: None,
            adverts_sent: 0,
            garps_sent: 0,
            tracker,
            verdict: Verdict {
                fault: false,
                priority: cfg.priority,
            },
            primed: std::collections::HashMap::new(),
            notifier,
            group_fault: false,
            fault_told: false,
            metrics: InstanceMetrics::unregistered(),
        })
    }

    /// The ownership lease.
    #[must_use]
    pub fn lease(&self) -> Duration {
        self.lease
    }

    /// Name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.fsm.params().name
    }

    /// Removes VIP addresses left from an earlier run (not owner yet).
    pub fn clear_addresses(&self, addr_tx: &mpsc::UnboundedSender<AddrOp>) {
        if self.manage_addresses {
            for v in &self.vips {
                let _ = addr_tx.send(AddrOp::Del(v.clone()));
            }
        }
    }

    /// Re-evaluates the tracked objects under `states` and tells the state machine what changed:
    /// FAULT entered or left, or a new effective priority (also written to the kernel, which
    /// compares it with incoming adverts for the fast switch).
    pub fn retrack(
        &mut self,
        now: vrrp::Instant,
        states: &States,
        dp: &mut Dataplane,
        addr_tx: &mpsc::UnboundedSender<AddrOp>,
    ) {
        let verdict = self.tracker.verdict(states);
        let before = std::mem::replace(&mut self.verdict, verdict);
        if verdict.priority != before.priority {
            info!(
                instance = self.name(),
                from = before.priority,
                to = verdict.priority,
                "effective priority changed by tracking"
            );
            self.handle(now, Event::SetPriority(verdict.priority), dp, addr_tx);
            let (ifindex, vrid) = (self.iface.index, self.fsm.params().vrid);
            if let Err(e) = dp.set_priority(ifindex, vrid, self.fsm.effective_priority()) {
                warn!(instance = self.name(), error = %e, "priority update in the kernel failed");
            }
        }
        if verdict.fault != before.fault {
            let down: Vec<String> = self
                .tracker
                .objects()
                .iter()
                .filter(|t| t.faults(states.up(&t.object)))
                .map(|t| t.object.to_string())
                .collect();
            info!(instance = self.name(), fault = verdict.fault, down = ?down, "tracking");
            // A link that went down took the neighbour entries with it.
            self.primed.clear();
        }
        self.apply_fault(now, dp, addr_tx);
    }

    /// Sets whether another member of this instance's sync group is in FAULT (keepalived
    /// `vrrp_sync_group`: the members fail together).
    pub fn set_group_fault(
        &mut self,
        now: vrrp::Instant,
        fault: bool,
        dp: &mut Dataplane,
        addr_tx: &mpsc::UnboundedSender<AddrOp>,
    ) {
        if self.group_fault != fault {
            info!(instance = self.name(), fault, "sync group");
            self.group_fault = fault;
            self.apply_fault(now, dp, addr_tx);
        }
    }

    /// Tells the state machine about FAULT when its own tracking or its group's changed it.
    fn apply_fault(
        &mut self,
        now: vrrp::Instant,
        dp: &mut Dataplane,
        addr_tx: &mpsc::UnboundedSender<AddrOp>,
    ) {
        let fault = self.verdict.fault || self.group_fault;
        if fault != self.fault_told {
            self.fault_told = fault;
            self.handle(now, Event::Fault(fault), dp, addr_tx);
        }
    }

    /// Notes the MAC a unicast peer's advert came from. Without a neighbour entry for the peer
    /// (none after a link flap: the kernel flushes them, and the XDP program consumes the
    /// peer's adverts, so the kernel never learns it), this node's first advert after a
    /// preemption would wait for ARP resolution while the old master, not yet fenced by it,
    /// still answers: tens of milliseconds with two owners. So the entry is created ahead.
    pub fn learn_peer(
        &mut self,
        src: Ipv4Addr,
        mac: [u8; 6],
        addr_tx: &mpsc::UnboundedSender<AddrOp>,
    ) {
        if mac == [0; 6] || !self.dests.contains(&src) || self.primed.get(&src) == Some(&mac) {
            return;
        }
        self.primed.insert(src, mac);
        let _ = addr_tx.send(AddrOp::Neighbour {
            ifindex: self.iface.index,
            addr: src,
            mac,
        });
    }

    /// Feeds `event` to the state machine and carries out its actions in order.
    pub fn handle(
        &mut self,
        now: vrrp::Instant,
        event: Event,
        dp: &mut Dataplane,
        addr_tx: &mpsc::UnboundedSender<AddrOp>,
    ) {
        let actions = self.fsm.handle(now, event);
        for action in actions {
            self.apply(now, action, dp, addr_tx);
        }
        self.metrics.sync(&self.fsm);
    }

    fn apply(
        &mut self,
        now: vrrp::Instant,
        action: Action,
        dp: &mut Dataplane,
        addr_tx: &mpsc::UnboundedSender<AddrOp>,
    ) {
        let (ifindex, vrid) = (self.iface.index, self.fsm.params().vrid);
        match action {
            Action::SendAdvert { priority } => {
                let advert = self.fsm.advert(priority);
                self.send_advert(&advert);
            }
            Action::RenewLease => {
                if let Err(e) = dp.renew(ifindex, vrid, self.lease) {
                    warn!(instance = self.name(), error = %e, "lease renewal failed");
                }
            }
            Action::AdvertRejected(rejected) => {
                debug!(instance = self.name(), reason = rejected.as_label(), %rejected, "advert rejected");
            }
            Action::IntervalClamped {
                src,
                advertised,
                learned,
            } => {
                warn!(instance = self.name(), %src, ?advertised, ?learned, "advertised interval clamped");
            }
            Action::GarpSuppressed => {
                debug!(
                    instance = self.name(),
                    "gratuitous ARPs on a lower-priority advert rate limited"
                );
            }
            // ARCHITECTURE.md: take over = map with lease, then address, then GARP.
            Action::TakeOwnership => {
                if let Err(e) = dp.set_priority(ifindex, vrid, self.fsm.effective_priority()) {
                    warn!(instance = self.name(), error = %e, "priority update failed");
                }
                match dp.grant(ifindex, vrid, self.lease) {
                    Ok(epoch) => {
                        self.metrics.granted();
                        debug!(instance = self.name(), epoch, "ownership granted");
                    }
                    Err(e) => warn!(instance = self.name(), error = %e, "ownership grant failed"),
                }
                if self.manage_addresses {
                    for v in &self.vips {
                        let _ = addr_tx.send(AddrOp::Add(v.clone()));
                    }
                }
            }
            // Resign = revoke in the map first, then remove the address.
            Action::ReleaseOwnership => {
                if let Err(e) = dp.revoke(ifindex, vrid) {
                    warn!(instance = self.name(), error = %e, "ownership revoke failed");
                }
                if self.manage_addresses {
                    for v in &self.vips {
                        let _ = addr_tx.send(AddrOp::Del(v.clone()));
                    }
                }
            }
            Action::SendGarp => {
                let addrs: Vec<Ipv4Addr> = self.vips.iter().map(|v| v.addr).collect();
                match self.garp.announce(&addrs) {
                    Ok(n) => {
                        self.garps_sent += n as u64;
                        self.metrics.garps_sent(n);
                    }
                    Err(e) => warn!(instance = self.name(), error = %e, "gratuitous ARP failed"),
                }
            }
            Action::StateChanged { from, to, reason } => {
                self.metrics.transition(now, from, to, reason);
                info!(
                    instance = self.name(),
                    vrid,
                    interface = %self.iface.name,
                    %from,
                    %to,
                    reason = %reason,
                    priority = self.fsm.effective_priority(),
                    "state transition"
                );
                self.last = Some(Transition {
                    at: now,
                    from,
                    to,
                    reason,
                });
                self.notifier.changed(to, self.fsm.effective_priority());
            }
        }
    }

    /// One round of gratuitous ARP for the VIPs, if this instance is master: the cloud reporter
    /// asks for it while the cloud has not moved the VIP here yet (issue #6). Returns whether
    /// it was sent.
    pub fn reannounce(&mut self) -> bool {
        if self.fsm.state() != State::Master {
            return false;
        }
        let addrs: Vec<Ipv4Addr> = self.vips.iter().map(|v| v.addr).collect();
        match self.garp.announce(&addrs) {
            Ok(n) => {
                self.garps_sent += n as u64;
                debug!(instance = self.name(), "re-announced for the cloud");
                true
            }
            Err(e) => {
                warn!(instance = self.name(), error = %e, "gratuitous ARP failed");
                false
            }
        }
    }

    fn send_advert(&mut self, advert: &AdvertRepr) {
        let mode = self.fsm.params().checksum_mode;
        for i in 0..self.dests.len() {
            let dst = self.dests[i];
            // The v3 checksum covers the pseudo-header, so each destination gets its own bytes.
            let Ok(body) = advert.to_bytes(self.src, dst, mode) else {
                warn!(instance = self.name(), "advert does not encode");
                return;
            };
            self.ident = self.ident.wrapping_add(1);
            let Ok(header) = ipv4_header(self.src, dst, body.len(), self.ident) else {
                return;
            };
            let mut packet = Vec::with_capacity(header.len() + body.len());
            packet.extend_from_slice(&header);
            packet.extend_from_slice(&body);
            match self.socket.send(&packet, dst) {
                Ok(()) => {
                    self.adverts_sent += 1;
                    self.metrics.advert_sent();
                }
                Err(e) => debug!(instance = self.name(), %dst, error = %e, "advert not sent"),
            }
        }
    }
}
