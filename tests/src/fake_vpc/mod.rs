//! A fake Tencent Cloud VPC API for namespace tests: a real HTTP server (hyper) that serves the
//! subset of VPC API 3.0 havip uses, inside a network namespace the test made.
//!
//! - Every request's TC3-HMAC-SHA256 signature is verified with this module's own
//!   implementation (`verify`), independent of the agent's signer, and rejected with the real
//!   API's `AuthFailure.*` codes.
//! - HAVIPs are bound the way the VPC binds them: a sniffer on the lab bridge (`AF_PACKET`)
//!   sees a node's gratuitous ARP for a HAVIP's address and, after a switch delay, binds the
//!   HAVIP to the node with that MAC.
//! - ENIs hold private IPs that `MigratePrivateIpAddress` moves, through asynchronous tasks.
//! - Faults on demand: an error code (`InternalError`, `RequestLimitExceeded`), no answer at all
//!   (the client times out), or slow answers.
//! - `/webhook` receives webhook events, checks their HMAC signature and records them.

mod actions;
pub(crate) mod sniffer;
mod verify;

use std::{
    collections::BTreeMap,
    net::{Ipv4Addr, SocketAddr},
    sync::{Arc, Mutex, PoisonError},
    thread::JoinHandle,
    time::{Duration, Instant},
};

use anyhow::{Context as _, bail};
use http_body_util::{BodyExt as _, Full};
use hyper::{Request, Response, body::Bytes, service::service_fn};
use hyper_util::rt::TokioIo;

use crate::netns::NetNs;

/// The API version the fake serves.
pub const VERSION: &str = "2017-03-12";

/// A node of the fake cloud.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CloudNode {
    /// `ins-...`.
    pub instance_id: String,
    /// `eni-...`.
    pub eni_id: String,
    /// Its MAC on the lab bridge.
    pub mac: [u8; 6],
}

/// What the API does instead of answering.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Answer normally.
    None,
    /// Answer with this error code (`InternalError`, `RequestLimitExceeded`, ...).
    Error(String),
    /// Never answer (the client's request timeout fires).
    Hang,
    /// Answer normally after this delay.
    Slow(Duration),
}

/// One API request as the fake saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Call {
    /// `X-TC-Action`.
    pub action: String,
    /// `ok` or the error code answered.
    pub outcome: String,
}

/// One webhook delivery attempt.
#[derive(Clone, Debug)]
pub struct WebhookHit {
    /// `X-Havip-Event-Id`.
    pub event_id: String,
    /// Whether the signature was valid.
    pub signature_ok: bool,
    /// The HTTP status answered.
    pub status: u16,
    /// The JSON body.
    pub body: serde_json::Value,
}

#[derive(Debug)]
struct Havip {
    vip: Ipv4Addr,
    bound: Option<usize>,
    pending: Option<(usize, Instant)>,
    eip: Option<String>,
}

#[derive(Debug)]
struct Task {
    ready: Instant,
    effect: Option<(Ipv4Addr, String)>,
}

/// Everything the fake knows; behind one lock.
#[derive(Debug)]
struct Sim {
    secret_id: String,
    secret_key: String,
    nodes: Vec<CloudNode>,
    havips: BTreeMap<String, Havip>,
    /// Private IP -> ENI holding it.
    private_ips: BTreeMap<Ipv4Addr, String>,
    tasks: BTreeMap<String, Task>,
    fault: Fault,
    switch_delay: Duration,
    task_delay: Duration,
    calls: Vec<Call>,
    garps: u64,
    next_id: u64,
    webhook_key: String,
    webhook_fail_next: u32,
    webhook_hits: Vec<WebhookHit>,
    metadata_instance_id: String,
    /// Role credentials accepted beside the key pair (CAM role tests).
    roles: Option<crate::fake_clouds::Roles>,
}

impl Sim {
    /// Applies bindings whose switch delay has passed.
    fn tick(&mut self) {
        let now = Instant::now();
        for h in self.havips.values_mut() {
            if let Some((node, at)) = h.pending
                && now >= at
            {
                h.bound = Some(node);
                h.pending = None;
            }
        }
    }

    fn request_id(&mut self) -> String {
        self.next_id += 1;
        format!(
            "fake-{:08x}-0000-4000-8000-{:012x}",
            self.next_id, self.next_id
        )
    }

    /// A gratuitous ARP for `ip` from `mac` was seen on the bridge.
    fn garp(&mut self, mac: [u8; 6], ip: Ipv4Addr) {
        self.garps += 1;
        let Some(node) = self.nodes.iter().position(|n| n.mac == mac) else {
            return;
        };
        let delay = self.switch_delay;
        for h in self.havips.values_mut() {
            if h.vip == ip && h.bound != Some(node) && h.pending.map(|(n, _)| n) != Some(node) {
                h.pending = Some((node, Instant::now() + delay));
            }
        }
    }
}

/// A running fake VPC API; stopped on drop.
#[derive(Debug)]
pub struct FakeVpc {
    sim: Arc<Mutex<Sim>>,
    /// Where it listens.
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<JoinHandle<()>>,
    sniffer: Option<sniffer::Sniffer>,
}

/// Runs `f` on a new thread moved into namespace `ns` (the thread keeps running).
pub(crate) fn spawn_in<T: Send + 'static>(
    ns: &NetNs,
    f: impl FnOnce() -> T + Send + 'static,
) -> anyhow::Result<JoinHandle<T>> {
    let path = format!("/var/run/netns/{}", ns.name());
    let file = std::fs::File::open(&path).with_context(|| format!("opening {path}"))?;
    let (tx, rx) = std::sync::mpsc::channel();
    let handle = std::thread::spawn(move || {
        // SAFETY: a valid namespace fd; affects only this thread.
        let rc = unsafe { libc::setns(std::os::fd::AsRawFd::as_raw_fd(&file), libc::CLONE_NEWNET) };
        let ok = rc == 0;
        let _ = tx.send(ok);
        assert!(ok, "setns failed");
        f()
    });
    match rx.recv_timeout(Duration::from_secs(5)) {
        Ok(true) => Ok(handle),
        _ => bail!("could not enter namespace {}", ns.name()),
    }
}

impl FakeVpc {
    /// Starts the API on `addr` inside `ns`, accepting the key pair `secret_id`/`secret_key`
    /// and webhook events signed with `webhook_key`.
    pub fn start(
        ns: &NetNs,
        addr: SocketAddr,
        secret_id: &str,
        secret_key: &str,
        webhook_key: &str,
    ) -> anyhow::Result<Self> {
        let sim = Arc::new(Mutex::new(Sim {
            secret_id: secret_id.to_owned(),
            secret_key: secret_key.to_owned(),
            nodes: Vec::new(),
            havips: BTreeMap::new(),
            private_ips: BTreeMap::new(),
            tasks: BTreeMap::new(),
            fault: Fault::None,
            switch_delay: Duration::from_secs(1),
            task_delay: Duration::from_millis(500),
            calls: Vec::new(),
            garps: 0,
            next_id: 0,
            webhook_key: webhook_key.to_owned(),
            webhook_fail_next: 0,
            webhook_hits: Vec::new(),
            metadata_instance_id: "ins-metadata".to_owned(),
            roles: None,
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
            Ok(Err(e)) => bail!("fake VPC on {addr}: {e}"),
            Err(_) => bail!("fake VPC on {addr} did not start"),
        }
        Ok(Self {
            sim,
            addr,
            stop: Some(stop_tx),
            server: Some(server),
            sniffer: None,
        })
    }

    /// Learns HAVIP bindings from gratuitous ARPs seen on `ifname` (the bridge) of `ns`.
    pub fn watch_garps(&mut self, ns: &NetNs, ifname: &str) -> anyhow::Result<()> {
        let sim = Arc::clone(&self.sim);
        self.sniffer = Some(sniffer::Sniffer::start(ns, ifname, move |mac, ip| {
            lock(&sim).garp(mac, ip);
        })?);
        Ok(())
    }

    /// The endpoint URL.
    #[must_use]
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Adds a node.
    pub fn add_node(&self, node: CloudNode) {
        lock(&self.sim).nodes.push(node);
    }

    /// Adds an unbound HAVIP.
    pub fn add_havip(&self, id: &str, vip: Ipv4Addr) {
        lock(&self.sim).havips.insert(
            id.to_owned(),
            Havip {
                vip,
                bound: None,
                pending: None,
                eip: None,
            },
        );
    }

    /// Gives `ip` to `eni` as a secondary private IP.
    pub fn assign_private_ip(&self, ip: Ipv4Addr, eni: &str) {
        lock(&self.sim).private_ips.insert(ip, eni.to_owned());
    }

    /// The instance the HAVIP is bound to.
    #[must_use]
    pub fn havip_owner(&self, id: &str) -> Option<String> {
        let mut sim = lock(&self.sim);
        sim.tick();
        let node = sim.havips.get(id)?.bound?;
        sim.nodes.get(node).map(|n| n.instance_id.clone())
    }

    /// The EIP associated with the HAVIP.
    #[must_use]
    pub fn havip_eip(&self, id: &str) -> Option<String> {
        lock(&self.sim).havips.get(id)?.eip.clone()
    }

    /// The ENI holding `ip`.
    #[must_use]
    pub fn private_ip_holder(&self, ip: Ipv4Addr) -> Option<String> {
        let mut sim = lock(&self.sim);
        actions::settle_tasks(&mut sim);
        sim.private_ips.get(&ip).cloned()
    }

    /// Sets what `GET /latest/meta-data/instance-id` answers (default `ins-metadata`).
    pub fn set_metadata_instance_id(&self, id: &str) {
        id.clone_into(&mut lock(&self.sim).metadata_instance_id);
    }

    /// Also accepts the (expiring) role credentials of `roles`, with their `X-TC-Token`.
    pub fn accept_roles(&self, roles: crate::fake_clouds::Roles) {
        lock(&self.sim).roles = Some(roles);
    }

    /// Sets the fault mode.
    pub fn set_fault(&self, fault: Fault) {
        lock(&self.sim).fault = fault;
    }

    /// Sets the time between a gratuitous ARP and the HAVIP's move.
    pub fn set_switch_delay(&self, d: Duration) {
        lock(&self.sim).switch_delay = d;
    }

    /// Makes the next `n` webhook deliveries fail with HTTP 503.
    pub fn fail_webhooks(&self, n: u32) {
        lock(&self.sim).webhook_fail_next = n;
    }

    /// Every API call so far.
    #[must_use]
    pub fn calls(&self) -> Vec<Call> {
        lock(&self.sim).calls.clone()
    }

    /// How many calls of `action` were answered with `outcome` (`ok` or an error code).
    #[must_use]
    pub fn count(&self, action: &str, outcome: &str) -> usize {
        lock(&self.sim)
            .calls
            .iter()
            .filter(|c| c.action == action && c.outcome == outcome)
            .count()
    }

    /// Gratuitous ARPs seen.
    #[must_use]
    pub fn garps(&self) -> u64 {
        lock(&self.sim).garps
    }

    /// Every webhook delivery attempt so far.
    #[must_use]
    pub fn webhook_hits(&self) -> Vec<WebhookHit> {
        lock(&self.sim).webhook_hits.clone()
    }
}

impl Drop for FakeVpc {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.join();
        }
    }
}

fn lock(sim: &Mutex<Sim>) -> std::sync::MutexGuard<'_, Sim> {
    sim.lock().unwrap_or_else(PoisonError::into_inner)
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
                let Ok((stream, _)) = accepted else { continue };
                let sim = Arc::clone(&sim);
                tokio::spawn(async move {
                    let service = service_fn(move |req| handle(Arc::clone(&sim), req));
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
    req: Request<hyper::body::Incoming>,
) -> Result<Response<Full<Bytes>>, std::convert::Infallible> {
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(http_body_util::Collected::to_bytes)
        .unwrap_or_default();
    if parts.uri.path() == "/webhook" {
        return Ok(actions::webhook(&sim, &parts.headers, &body));
    }
    // The instance metadata service: plain text, like Tencent's.
    if parts.method == hyper::Method::GET && parts.uri.path() == "/latest/meta-data/instance-id" {
        let id = lock(&sim).metadata_instance_id.clone();
        return Ok(Response::new(Full::new(Bytes::from(id))));
    }
    let fault = lock(&sim).fault.clone();
    match fault {
        Fault::Hang => {
            let action = header(&parts.headers, "x-tc-action");
            lock(&sim).calls.push(Call {
                action,
                outcome: "hang".to_owned(),
            });
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
        Fault::Slow(d) => tokio::time::sleep(d).await,
        Fault::None | Fault::Error(_) => {}
    }
    Ok(actions::api(&sim, &parts.headers, &body))
}

fn header(headers: &hyper::HeaderMap, name: &str) -> String {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

fn json_response(status: u16, value: &serde_json::Value) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(value.to_string())));
    *r.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::OK);
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    r
}
