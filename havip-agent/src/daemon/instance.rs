//! One VRRP instance at run time: its state machine and the I/O handles that carry out its
//! actions (advert socket, gratuitous ARP, data plane, address worker). Each action becomes
//! [`Effect`]s ([`super::effect::plan`]); what happened is queued as [`events::Event`]s that the
//! loop hands to its subscribers after the step.

use std::{net::IpAddr, sync::Arc, time::Duration};

use tokio::sync::mpsc;
use tracing::{debug, info, warn};

use super::{
    DaemonError,
    addr_worker::AddrOp,
    effect::{Effect, plan},
    log_limit::LogLimit,
};

pub(super) mod auth;
use crate::{
    clock::monotonic_ns,
    config,
    dataplane::{Dataplane, Inherited, Vrid, VridConfig},
    events::{self, Event as Published, InstanceId, InstanceView},
    net::{
        garp::GarpSender,
        iface::{self, Interface},
        vrrp_tx::{VrrpSocket, group_of},
    },
    notify::Notifier,
    track::{States, Tracker, Verdict},
    vrrp::{
        self, AdvertRepr, Auth, ChecksumMode, Event, GarpParams, InitialState, Instance,
        InstanceParams, Reason, State, Version, auth_hmac::AuthHmac, packet::ipv4_header,
    },
};

/// A VIP as the instance manages it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vip {
    /// Address (IPv4 or IPv6; an instance's excluded addresses may be of the other family).
    pub addr: IpAddr,
    /// Listed in the adverts (keepalived `virtual_ipaddress`); false for
    /// `virtual_ipaddress_excluded`, which is owned and announced the same way but not
    /// advertised.
    pub advertised: bool,
    /// Prefix length used when the address is added.
    pub prefix: u8,
    /// Interface index it is added on (and answered on by the XDP program).
    pub ifindex: u32,
    /// That interface's name.
    pub dev: String,
    /// That interface's MAC (the ARP and Neighbor Discovery replies carry it).
    pub mac: [u8; 6],
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
    /// Its id in published events.
    pub id: InstanceId,
    /// The election core.
    pub fsm: Instance,
    /// Its interface.
    pub iface: Interface,
    /// Its VIPs.
    pub vips: Vec<Vip>,
    manage_addresses: bool,
    socket: VrrpSocket,
    /// One announcement sender per interface that holds VIPs, with those VIPs: gratuitous ARP
    /// for IPv4 ones, unsolicited Neighbor Advertisements for IPv6 ones, on one schedule.
    garp: Vec<(GarpSender, Vec<IpAddr>)>,
    dests: Vec<IpAddr>,
    src: IpAddr,
    lease: Duration,
    ident: u16,
    /// Last transition.
    pub last: Option<Transition>,
    /// Adverts sent.
    pub adverts_sent: u64,
    /// Gratuitous ARPs sent.
    pub garps_sent: u64,
    /// Gratuitous ARP rounds the state machine asked for in this loop step, sent by
    /// [`Self::flush_garps`] once every instance has taken its step (see there).
    garp_due: u32,
    /// What it tracks (interfaces, scripts).
    pub tracker: Tracker,
    /// What tracking made of it last (fault, effective priority).
    pub verdict: Verdict,
    /// Notify scripts, until the loop hands them to the notify subscriber.
    pub notifier: Option<Notifier>,
    /// Another member of its sync group is in FAULT.
    group_fault: bool,
    /// The FAULT state the state machine was last told.
    fault_told: bool,
    /// Unicast peers whose neighbour entry was primed, with the MAC used.
    primed: std::collections::HashMap<IpAddr, [u8; 6]>,
    /// Events not yet handed to the subscribers.
    pending: Vec<Published>,
    /// The gauged values last published.
    view: Option<InstanceView>,
    /// WARN lines a peer can trigger, rate limited per reason.
    log_limit: LogLimit,
    /// What the kernel held for this instance before it was configured (adopted data plane).
    pub(super) inherited: Option<Inherited>,
    /// The record last written for the next agent.
    pub(super) record: Option<havip_common::AgentRecord>,
    /// keepalived `auth_hmac`: keys, mode, replay marks and send sequence ([`auth`]).
    auth_hmac: Option<AuthHmac>,
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
        id: InstanceId,
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
        // One family per instance (keepalived): the first virtual address's, or IPv6 with
        // `native_ipv6`. Validation refuses peers and a source of the other family.
        let family = cfg.family();
        let unicast_peers = cfg
            .unicast_peers
            .iter()
            .map(|a| of_family(cfg, family, *a, "unicast_peer"))
            .collect::<Result<Vec<_>, _>>()?;
        let primary = match cfg.unicast_src_ip {
            Some(a) => of_family(cfg, family, a, "unicast_src_ip")?,
            None => primary_addr(&iface.name, family)
                .map_err(|source| DaemonError::Io {
                    what: "reading interface addresses",
                    source,
                })?
                .ok_or_else(|| DaemonError::NoPrimaryAddress {
                    instance: cfg.name.clone(),
                    ifname: iface.name.clone(),
                })?,
        };
        let auth = legacy_auth(cfg)?;
        let checksum_mode = if cfg.v3_checksum_as_v2 {
            ChecksumMode::V3AsV2
        } else {
            ChecksumMode::PseudoHeader
        };
        let mut vips = Vec::new();
        let listed = cfg.virtual_ipaddresses.iter().map(|v| (v, true));
        let excluded = cfg.virtual_ipaddress_excluded.iter().map(|v| (v, false));
        for (v, advertised) in listed.chain(excluded) {
            // issue #9: a VIP on another interface is answered (and gated) on that interface,
            // with its MAC; the instance's VRID state decides.
            let dev = match &v.dev {
                Some(dev) if *dev != iface.name => Interface::by_name(dev)?,
                _ => iface.clone(),
            };
            if advertised {
                of_family(cfg, family, v.address, "virtual_ipaddress")?;
            }
            vips.push(Vip {
                addr: v.address,
                advertised,
                prefix: v.prefix_len,
                ifindex: dev.index,
                dev: dev.name,
                mac: dev.mac,
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
            vips: vips
                .iter()
                .filter(|v| v.advertised)
                .map(|v| v.addr)
                .collect(),
            unicast_peers: unicast_peers.clone(),
            max_learned_interval: global.max_learned_interval,
            auth,
            checksum_mode,
            garp: GarpParams {
                master_delay: cfg.garp_master_delay,
                master_repeat: cfg.garp_master_repeat,
                master_refresh: (!cfg.garp_master_refresh.is_zero())
                    .then_some(cfg.garp_master_refresh),
                master_refresh_repeat: cfg.garp_master_refresh_repeat,
                interval: cfg.garp_interval,
                lower_prio_holdoff: global
                    .garp_lower_prio_holdoff
                    .unwrap_or(vrrp::params::DEFAULT_LOWER_PRIO_HOLDOFF),
                ..GarpParams::default()
            },
        };
        let fsm = Instance::new(params).map_err(|e| DaemonError::Invalid {
            instance: cfg.name.clone(),
            what: e.to_string(),
        })?;
        let multicast = unicast_peers.is_empty();
        let dests = if multicast {
            vec![group_of(primary)]
        } else {
            unicast_peers.clone()
        };
        let socket =
            VrrpSocket::open(&iface.name, iface.index, primary, multicast).map_err(|source| {
                DaemonError::Io {
                    what: "opening the VRRP socket",
                    source,
                }
            })?;
        let mut garp: Vec<(GarpSender, Vec<IpAddr>)> = Vec::new();
        let mut by_iface: Vec<(u32, [u8; 6], Vec<IpAddr>)> = Vec::new();
        for v in &vips {
            match by_iface.iter_mut().find(|(i, _, _)| *i == v.ifindex) {
                Some((_, _, addrs)) => addrs.push(v.addr),
                None => by_iface.push((v.ifindex, v.mac, vec![v.addr])),
            }
        }
        for (ifindex, mac, addrs) in by_iface {
            let sender =
                GarpSender::new(ifindex, mac, &addrs).map_err(|source| DaemonError::Io {
                    what: "opening the ARP or Neighbor Discovery socket",
                    source,
                })?;
            garp.push((sender, addrs));
        }
        let auth_hmac = auth::build(cfg)?;
        let vrid = Vrid::of(cfg.vrid, primary);
        let inherited = dp.inherited(iface.index, vrid);
        dp.configure_vrid(
            iface.index,
            vrid,
            &VridConfig {
                auth_hmac: auth_hmac.is_some(),
                ..VridConfig::from_params(fsm.params(), cfg.priority)
            },
        )?;
        for peer in &unicast_peers {
            dp.allow_peer(iface.index, cfg.vrid, *peer)?;
        }
        for v in &vips {
            match v.addr {
                IpAddr::V4(a) => dp.set_vip(v.ifindex, a, v.mac, vrid, iface.index)?,
                IpAddr::V6(a) => dp.set_vip6(v.ifindex, a, v.mac, vrid, iface.index)?,
            }
        }
        // The lease must run out before a backup's Master_Down_Interval (3 intervals + skew)
        // after the last advert, so a dead agent's kernel stops answering first.
        let lease = global.lease.unwrap_or(cfg.advert_interval * 2);
        Ok(Self {
            id,
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
            garp_due: 0,
            tracker,
            verdict: Verdict {
                fault: false,
                priority: cfg.priority,
            },
            primed: std::collections::HashMap::new(),
            notifier: Some(notifier),
            group_fault: false,
            fault_told: false,
            pending: Vec::new(),
            view: None,
            log_limit: LogLimit::default(),
            inherited,
            record: None,
            auth_hmac,
        })
    }

    /// Which of the interface's instances this is: its VRID in its family.
    #[must_use]
    pub fn vrid(&self) -> Vrid {
        let p = self.fsm.params();
        Vrid::of(p.vrid, p.primary_addr)
    }

    /// What subscribers need to know about this instance.
    #[must_use]
    pub fn info(&self) -> events::InstanceInfo {
        let p = self.fsm.params();
        events::InstanceInfo {
            id: self.id,
            name: p.name.clone(),
            vrid: p.vrid,
            ipv6: p.primary_addr.is_ipv6(),
            interface: self.iface.name.clone(),
            ifindex: self.iface.index,
            mac: self.iface.mac,
            vips: self.vips.iter().map(|v| (v.addr, v.ifindex)).collect(),
            priority: p.priority,
            advert_interval: p.advert_interval,
        }
    }

    /// Announces the instance to subscribers (queued like every event).
    pub fn announce(&mut self) {
        let info = Arc::new(self.info());
        self.pending.push(Published::InstanceAdded(info));
        self.publish_view();
    }

    /// Queues `ev` for the subscribers.
    pub fn emit(&mut self, ev: Published) {
        self.pending.push(ev);
    }

    /// Takes the events queued since the last call.
    pub fn drain_events(&mut self) -> std::vec::Drain<'_, Published> {
        self.pending.drain(..)
    }

    /// Names of the interfaces the XDP program must be attached to for this instance: its own
    /// and every VIP's.
    #[must_use]
    pub fn xdp_interfaces(&self) -> Vec<String> {
        let mut v = vec![self.iface.name.clone()];
        for vip in &self.vips {
            if !v.contains(&vip.dev) {
                v.push(vip.dev.clone());
            }
        }
        v
    }

    fn publish_view(&mut self) {
        let view = InstanceView::of(&self.fsm);
        if self.view != Some(view) {
            self.view = Some(view);
            self.pending.push(Published::Updated { id: self.id, view });
        }
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
            let (ifindex, vrid) = (self.iface.index, self.vrid());
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

    /// Whether the sync group holds this instance in FAULT now.
    #[must_use]
    pub fn group_fault(&self) -> bool {
        self.group_fault
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
        src: IpAddr,
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
        // The state machine names the change first; its log line (a formatted, synchronous
        // write to stderr) waits until the adverts, map writes and GARP of this step are out.
        let mut changes = Vec::new();
        for action in actions {
            for effect in plan(action, self.manage_addresses) {
                if let Effect::StateChanged { from, to, reason } = effect {
                    changes.push((from, to, reason));
                }
                self.execute(now, effect, dp, addr_tx);
            }
        }
        for (from, to, reason) in changes {
            info!(
                instance = self.name(),
                vrid = self.fsm.params().vrid,
                interface = %self.iface.name,
                %from,
                %to,
                reason = %reason,
                priority = self.fsm.effective_priority(),
                "state transition"
            );
        }
        self.publish_view();
        self.write_record(dp);
    }

    fn execute(
        &mut self,
        now: vrrp::Instant,
        effect: Effect,
        dp: &mut Dataplane,
        addr_tx: &mpsc::UnboundedSender<AddrOp>,
    ) {
        let (ifindex, vrid) = (self.iface.index, self.vrid());
        let id = self.id;
        match effect {
            Effect::SendAdvert { priority } => {
                let advert = self.fsm.advert(priority);
                self.send_advert(&advert);
            }
            Effect::RenewLease => {
                if let Err(e) = dp.renew(ifindex, vrid, self.lease) {
                    warn!(instance = self.name(), error = %e, "lease renewal failed");
                }
            }
            Effect::Rejected(rejected) => {
                let reason = rejected.as_label();
                self.emit(Published::AdvertRejected { id, reason });
                if let Some(suppressed) = self.log_limit.check(reason, now) {
                    warn!(instance = self.name(), reason, suppressed, %rejected, "advert rejected");
                }
            }
            Effect::Clamped {
                src,
                advertised,
                learned,
            } => {
                self.emit(Published::IntervalClamped {
                    id,
                    src,
                    advertised,
                    learned,
                });
                if let Some(suppressed) = self.log_limit.check("interval_clamped", now) {
                    warn!(instance = self.name(), %src, ?advertised, ?learned, suppressed, "advertised interval clamped");
                }
            }
            Effect::GarpSuppressed => {
                self.emit(Published::GarpSuppressed { id });
                debug!(
                    instance = self.name(),
                    "gratuitous ARPs on a lower-priority advert rate limited"
                );
            }
            Effect::WritePriority => {
                if let Err(e) = dp.set_priority(ifindex, vrid, self.fsm.effective_priority()) {
                    warn!(instance = self.name(), error = %e, "priority update failed");
                }
            }
            Effect::Grant => match dp.grant(ifindex, vrid, self.lease) {
                Ok(epoch) => {
                    self.emit(Published::Granted {
                        id,
                        at_ns: monotonic_ns(),
                    });
                    debug!(instance = self.name(), epoch, "ownership granted");
                }
                Err(e) => warn!(instance = self.name(), error = %e, "ownership grant failed"),
            },
            Effect::Revoke => {
                if let Err(e) = dp.revoke(ifindex, vrid) {
                    warn!(instance = self.name(), error = %e, "ownership revoke failed");
                }
                self.emit(Published::Revoked { id });
            }
            Effect::AddAddresses => {
                for v in &self.vips {
                    let _ = addr_tx.send(AddrOp::Add(v.clone()));
                }
            }
            Effect::RemoveAddresses => {
                for v in &self.vips {
                    let _ = addr_tx.send(AddrOp::Del(v.clone()));
                }
            }
            // Queued: sent after every instance's step of this input (`flush_garps`).
            Effect::SendGarp => self.garp_due += 1,
            // Logged by `handle` once the step's sends are out.
            Effect::StateChanged { from, to, reason } => {
                self.last = Some(Transition {
                    at: now,
                    from,
                    to,
                    reason,
                });
                self.emit(Published::StateChanged {
                    id,
                    at_ns: now.as_nanos(),
                    from,
                    to,
                    reason,
                    priority: self.fsm.effective_priority(),
                    master: self.fsm.master(),
                });
            }
        }
    }

    /// Sends the gratuitous ARP rounds queued by this step's actions. The event loop calls it
    /// for every instance after all of them have taken their step: when many instances take
    /// over at once (255 instances x 16 VIPs, 5 rounds each: 20 400 frames), sending each
    /// instance's burst inside its own step delayed the grants and adverts of every instance
    /// after it by the bursts before it (a third of a second at that size); now every due
    /// instance is granted and has advertised before the first burst goes out.
    pub fn flush_garps(&mut self) {
        for _ in 0..std::mem::take(&mut self.garp_due) {
            self.garp_round();
        }
    }

    /// One round of gratuitous ARP for the VIPs, each on its own interface; counted for status
    /// and published (so Prometheus moves in step with status). Returns whether any was sent.
    fn garp_round(&mut self) -> bool {
        let mut sent = 0usize;
        let mut ok = false;
        for (sender, addrs) in &self.garp {
            match sender.announce(addrs) {
                Ok(n) => {
                    sent += n;
                    ok = true;
                }
                Err(e) => {
                    warn!(instance = %self.fsm.params().name, ifindex = sender.ifindex(), error = %e, "gratuitous ARP failed");
                }
            }
        }
        if sent > 0 {
            self.garps_sent += sent as u64;
            self.emit(Published::GarpSent {
                id: self.id,
                frames: sent,
                at_ns: monotonic_ns(),
            });
        }
        ok
    }

    /// One round of gratuitous ARP for the VIPs, if this instance is master: the cloud reporter
    /// asks for it while the cloud has not moved the VIP here yet (issue #6). Returns whether
    /// it was sent.
    pub fn reannounce(&mut self) -> bool {
        if self.fsm.state() != State::Master {
            return false;
        }
        let ok = self.garp_round();
        if ok {
            debug!(instance = self.name(), "re-announced for the cloud");
        }
        ok
    }

    pub(super) fn send_advert(&mut self, advert: &AdvertRepr) {
        let mode = self.fsm.params().checksum_mode;
        // One trailer for every destination, signed from the first one's bytes: the HMAC
        // covers neither the destination nor the checksum.
        let mut trailer = None;
        for i in 0..self.dests.len() {
            let dst = self.dests[i];
            // The v3 checksum covers the pseudo-header, so each destination gets its own bytes.
            // The trailer follows the checksummed message, outside the checksum.
            let Ok(mut body) = advert.to_bytes(self.src, dst, mode) else {
                warn!(instance = self.name(), "advert does not encode");
                return;
            };
            if i == 0 {
                let Ok(t) = self.trailer(&body) else {
                    return;
                };
                trailer = t;
            }
            if let Some(t) = &trailer {
                body.extend_from_slice(t);
            }
            let packet = match (self.src, dst) {
                (IpAddr::V4(src), IpAddr::V4(dst)) if self.socket.needs_header() => {
                    self.ident = self.ident.wrapping_add(1);
                    let Ok(header) = ipv4_header(src, dst, body.len(), self.ident) else {
                        return;
                    };
                    let mut packet = Vec::with_capacity(header.len() + body.len());
                    packet.extend_from_slice(&header);
                    packet.extend_from_slice(&body);
                    packet
                }
                // IPv6: the kernel writes the header (see `VrrpSocket`).
                _ => body,
            };
            match self.socket.send(&packet, dst) {
                Ok(()) => {
                    self.adverts_sent += 1;
                    self.pending.push(Published::AdvertSent { id: self.id });
                }
                Err(e) => debug!(instance = self.name(), %dst, error = %e, "advert not sent"),
            }
        }
    }
}

/// The legacy v2 authentication of `cfg` (keepalived `authentication { auth_type PASS }`,
/// RFC 3768 5.3.6).
pub(super) fn legacy_auth(cfg: &config::Instance) -> Result<Auth, DaemonError> {
    match &cfg.auth {
        Some(a) => Auth::simple(a.pass.as_bytes()).ok_or_else(|| DaemonError::Invalid {
            instance: cfg.name.clone(),
            what: "auth_pass longer than 8 bytes".to_owned(),
        }),
        None => Ok(Auth::None),
    }
}

/// `addr` if it is of the instance's `family`; validation refuses others, so this only
/// guards a configuration that bypassed it (`what` names the setting).
fn of_family(
    cfg: &config::Instance,
    family: config::Family,
    addr: IpAddr,
    what: &str,
) -> Result<IpAddr, DaemonError> {
    let ok = matches!(
        (family, addr),
        (config::Family::Ipv4, IpAddr::V4(_)) | (config::Family::Ipv6, IpAddr::V6(_))
    );
    if ok {
        Ok(addr)
    } else {
        Err(DaemonError::Invalid {
            instance: cfg.name.clone(),
            what: format!("{what} {addr} is not of the instance's family ({family})"),
        })
    }
}

/// The default source of the adverts of a `family` instance on `ifname`: the first IPv4
/// address, or the link-local IPv6 address (RFC 9568 5.1.2.1).
fn primary_addr(ifname: &str, family: config::Family) -> std::io::Result<Option<IpAddr>> {
    Ok(match family {
        config::Family::Ipv4 => iface::primary_ipv4(ifname)?.map(IpAddr::V4),
        config::Family::Ipv6 => iface::link_local_ipv6(ifname)?.map(IpAddr::V6),
    })
}
