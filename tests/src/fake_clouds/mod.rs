//! Fake Alibaba Cloud VPC API, EC2 Query API and the three clouds' instance metadata services,
//! for namespace tests: one hyper server in the bridge namespace.
//!
//! - `POST /` signed `ACS3-HMAC-SHA256` is the Alibaba VPC API (`DescribeHaVips`,
//!   `AssociateHaVip`, `UnassociateHaVip`, asynchronous: they take effect after `task_delay`);
//!   `POST /` signed `AWS4-HMAC-SHA256` is the EC2 API (`DescribeNetworkInterfaces`,
//!   `AssignPrivateIpAddresses` with `AllowReassignment`). Signatures are verified with
//!   [`sig`] (independent of the agent's signers); errors use the providers' codes and shapes.
//! - A `HaVip` answers on the associated instance whose gratuitous ARP the sniffer saw last
//!   (`MasterInstanceId`), after `switch_delay`, as the Alibaba VPC does.
//! - Metadata: `/tencent/latest/meta-data/...`, `/alibaba/latest/...` (with its token),
//!   `/aws/latest/...` (`IMDSv2`: no token, no answer). The caller is identified by its source
//!   address. Role credentials come from [`roles::Roles`] and expire.
//! - Faults: `fail_next(code, n)` answers the next `n` API calls with `code`; `hang(true)`
//!   never answers.

mod api;
pub mod roles;
pub mod sig;

use std::{
    collections::BTreeMap,
    net::{IpAddr, Ipv4Addr, SocketAddr},
    sync::{Arc, Mutex, PoisonError},
    thread::JoinHandle,
    time::{Duration, Instant},
};

use anyhow::bail;
use http_body_util::{BodyExt as _, Full};
use hyper::{Request, Response, body::Bytes, service::service_fn};
use hyper_util::rt::TokioIo;

use crate::{fake_vpc::spawn_in, netns::NetNs};
pub use roles::Roles;

/// A node of the fake clouds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    /// `i-...`.
    pub instance_id: String,
    /// `eni-...`.
    pub eni_id: String,
    /// Its MAC on the lab bridge.
    pub mac: [u8; 6],
    /// Its address (how the metadata service knows who asks).
    pub ip: Ipv4Addr,
}

/// One API request as the fake saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Call {
    /// The action.
    pub action: String,
    /// `ok` or the error code answered.
    pub outcome: String,
}

#[derive(Debug, Default)]
struct HaVip {
    vip: Option<Ipv4Addr>,
    associated: Vec<usize>,
    master: Option<usize>,
    pending_master: Option<(usize, Instant)>,
}

/// A change that takes effect later.
#[derive(Debug)]
enum Pending {
    Associate(String, usize),
    Unassociate(String, usize),
    Assign(Ipv4Addr, String),
}

#[derive(Debug)]
struct Sim {
    nodes: Vec<Node>,
    havips: BTreeMap<String, HaVip>,
    private_ips: BTreeMap<Ipv4Addr, String>,
    pending: Vec<(Instant, Pending)>,
    roles: Roles,
    role_name: String,
    fail_next: Vec<String>,
    hang: bool,
    switch_delay: Duration,
    task_delay: Duration,
    calls: Vec<Call>,
    metadata_tokens: Vec<String>,
    next_id: u64,
}

impl Sim {
    fn tick(&mut self) {
        let now = Instant::now();
        for h in self.havips.values_mut() {
            if let Some((n, at)) = h.pending_master
                && now >= at
            {
                h.master = Some(n);
                h.pending_master = None;
            }
        }
        let (due, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.pending)
            .into_iter()
            .partition(|(at, _)| now >= *at);
        self.pending = later;
        for (_, p) in due {
            match p {
                Pending::Associate(id, n) => {
                    if let Some(h) = self.havips.get_mut(&id)
                        && !h.associated.contains(&n)
                    {
                        h.associated.push(n);
                    }
                }
                Pending::Unassociate(id, n) => {
                    if let Some(h) = self.havips.get_mut(&id) {
                        h.associated.retain(|x| *x != n);
                        if h.master == Some(n) {
                            h.master = None;
                        }
                    }
                }
                Pending::Assign(ip, eni) => {
                    self.private_ips.insert(ip, eni);
                }
            }
        }
    }

    fn garp(&mut self, mac: [u8; 6], ip: Ipv4Addr) {
        let Some(node) = self.nodes.iter().position(|n| n.mac == mac) else {
            return;
        };
        let delay = self.switch_delay;
        for h in self.havips.values_mut() {
            if h.vip == Some(ip)
                && h.associated.contains(&node)
                && h.master != Some(node)
                && h.pending_master.map(|(n, _)| n) != Some(node)
            {
                h.pending_master = Some((node, Instant::now() + delay));
            }
        }
    }

    fn request_id(&mut self) -> String {
        self.next_id += 1;
        format!("FAKE-{:08X}-4000-8000-{:012X}", self.next_id, self.next_id)
    }
}

fn lock(sim: &Mutex<Sim>) -> std::sync::MutexGuard<'_, Sim> {
    sim.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The running fakes; stopped on drop.
#[derive(Debug)]
pub struct FakeClouds {
    sim: Arc<Mutex<Sim>>,
    /// Where it listens.
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<JoinHandle<()>>,
    sniffer: Option<crate::fake_vpc::sniffer::Sniffer>,
}

impl FakeClouds {
    /// Starts the fakes on `addr` inside `ns`, handing out credentials of role `role_name` from
    /// `roles`.
    pub fn start(
        ns: &NetNs,
        addr: SocketAddr,
        roles: Roles,
        role_name: &str,
    ) -> anyhow::Result<Self> {
        let sim = Arc::new(Mutex::new(Sim {
            nodes: Vec::new(),
            havips: BTreeMap::new(),
            private_ips: BTreeMap::new(),
            pending: Vec::new(),
            roles,
            role_name: role_name.to_owned(),
            fail_next: Vec::new(),
            hang: false,
            switch_delay: Duration::from_secs(1),
            task_delay: Duration::from_millis(500),
            calls: Vec::new(),
            metadata_tokens: Vec::new(),
            next_id: 0,
        }));
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<(), String>>();
        let shared = Arc::clone(&sim);
        let server = spawn_in(ns, move || {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = ready_tx.send(Err(e.to_string()));
                    return;
                }
            };
            rt.block_on(serve(addr, shared, stop_rx, ready_tx));
        })?;
        match ready_rx.recv_timeout(Duration::from_secs(5)) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => bail!("fake clouds on {addr}: {e}"),
            Err(_) => bail!("fake clouds on {addr} did not start"),
        }
        Ok(Self {
            sim,
            addr,
            stop: Some(stop_tx),
            server: Some(server),
            sniffer: None,
        })
    }

    /// Moves `HaVip` masters on gratuitous ARPs seen on `ifname` of `ns`.
    pub fn watch_garps(&mut self, ns: &NetNs, ifname: &str) -> anyhow::Result<()> {
        let sim = Arc::clone(&self.sim);
        self.sniffer = Some(crate::fake_vpc::sniffer::Sniffer::start(
            ns,
            ifname,
            move |mac, ip| lock(&sim).garp(mac, ip),
        )?);
        Ok(())
    }

    /// `http://addr`.
    #[must_use]
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Adds a node.
    pub fn add_node(&self, node: Node) {
        lock(&self.sim).nodes.push(node);
    }

    /// Adds a `HaVip` with `vip`, associated with no instance.
    pub fn add_havip(&self, id: &str, vip: Ipv4Addr) {
        lock(&self.sim).havips.insert(
            id.to_owned(),
            HaVip {
                vip: Some(vip),
                ..HaVip::default()
            },
        );
    }

    /// Gives `ip` to `eni` as a secondary private IP.
    pub fn assign_private_ip(&self, ip: Ipv4Addr, eni: &str) {
        lock(&self.sim).private_ips.insert(ip, eni.to_owned());
    }

    /// The instance the `HaVip` answers on.
    #[must_use]
    pub fn havip_master(&self, id: &str) -> Option<String> {
        let mut sim = lock(&self.sim);
        sim.tick();
        let n = sim.havips.get(id)?.master?;
        sim.nodes.get(n).map(|n| n.instance_id.clone())
    }

    /// The instances associated with the `HaVip`.
    #[must_use]
    pub fn havip_associated(&self, id: &str) -> Vec<String> {
        let mut sim = lock(&self.sim);
        sim.tick();
        let Some(h) = sim.havips.get(id) else {
            return Vec::new();
        };
        h.associated
            .iter()
            .filter_map(|n| sim.nodes.get(*n).map(|n| n.instance_id.clone()))
            .collect()
    }

    /// The ENI holding `ip`.
    #[must_use]
    pub fn private_ip_holder(&self, ip: Ipv4Addr) -> Option<String> {
        let mut sim = lock(&self.sim);
        sim.tick();
        sim.private_ips.get(&ip).cloned()
    }

    /// Answers the next `n` API calls with error `code`.
    pub fn fail_next(&self, code: &str, n: usize) {
        let mut sim = lock(&self.sim);
        sim.fail_next
            .extend(std::iter::repeat_n(code.to_owned(), n));
    }

    /// Stops (or resumes) answering API calls at all.
    pub fn hang(&self, on: bool) {
        lock(&self.sim).hang = on;
    }

    /// Every API call so far.
    #[must_use]
    pub fn calls(&self) -> Vec<Call> {
        lock(&self.sim).calls.clone()
    }

    /// How many calls of `action` were answered with `outcome`.
    #[must_use]
    pub fn count(&self, action: &str, outcome: &str) -> usize {
        lock(&self.sim)
            .calls
            .iter()
            .filter(|c| c.action == action && c.outcome == outcome)
            .count()
    }

    /// Every metadata session token handed out.
    #[must_use]
    pub fn metadata_tokens(&self) -> Vec<String> {
        lock(&self.sim).metadata_tokens.clone()
    }
}

impl Drop for FakeClouds {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.join();
        }
    }
}

async fn serve(
    addr: SocketAddr,
    sim: Arc<Mutex<Sim>>,
    mut stop: tokio::sync::oneshot::Receiver<()>,
    ready: std::sync::mpsc::Sender<Result<(), String>>,
) {
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(l) => {
            let _ = ready.send(Ok(()));
            l
        }
        Err(e) => {
            let _ = ready.send(Err(e.to_string()));
            return;
        }
    };
    loop {
        tokio::select! {
            _ = &mut stop => return,
            accepted = listener.accept() => {
                let Ok((stream, peer)) = accepted else { continue };
                let sim = Arc::clone(&sim);
                tokio::spawn(async move {
                    let service = service_fn(move |req| handle(Arc::clone(&sim), peer.ip(), req));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        }
    }
}

async fn handle(
    sim: Arc<Mutex<Sim>>,
    peer: IpAddr,
    req: Request<hyper::body::Incoming>,
) -> Result<Response<Full<Bytes>>, std::convert::Infallible> {
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(http_body_util::Collected::to_bytes)
        .unwrap_or_default();
    let path = parts.uri.path().to_owned();
    if path != "/" {
        return Ok(api::metadata(
            &sim,
            peer,
            &parts.method,
            &path,
            &parts.headers,
        ));
    }
    if lock(&sim).hang {
        lock(&sim).calls.push(Call {
            action: "?".to_owned(),
            outcome: "hang".to_owned(),
        });
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
    let query = parts.uri.query().unwrap_or_default().to_owned();
    Ok(api::api(&sim, &parts.headers, &query, &body))
}

fn response(status: u16, content_type: &'static str, body: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::OK);
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static(content_type),
    );
    r
}
