//! The HTTP endpoint (hyper 1, HTTP/1.1) on its own OS thread and tokio runtime, so that nothing
//! a client does (slow reads, many connections, idle keep-alives) can take time from the event
//! loop. Connections are capped, header reads and whole connections are bounded in time.
//!
//! | path       | answer |
//! |------------|--------|
//! | `/metrics` | the exposition: OpenMetrics 1.0 if `Accept` asks for it, else Prometheus text 0.0.4 |
//! | `/healthz` | 200 while the event loop iterates, 503 once its heartbeat is older than 5 s |
//! | `/readyz`  | 200 when the data plane is attached and every instance has left INIT, else 503 with the reasons |

use std::{convert::Infallible, net::SocketAddr, sync::Arc, thread::JoinHandle, time::Duration};

use bytes::Bytes;
use http_body_util::Full;
use hyper::{
    Method, Request, Response, StatusCode,
    header::{self, HeaderValue},
    server::conn::http1,
    service::service_fn,
};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::sync::{Semaphore, oneshot};
use tracing::{debug, info, warn};

use super::{Format, Metrics};

/// Connections served at once; more are closed on accept.
const MAX_CONNECTIONS: usize = 32;
/// Time a client has to send a request's headers.
const HEADER_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest life of one connection (keep-alive included); Prometheus simply reconnects.
const CONNECTION_TIMEOUT: Duration = Duration::from_secs(60);

/// Errors of the endpoint.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    /// The address cannot be listened on (in use, not local, no permission).
    #[error("metrics endpoint: cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Setting up the listener, its runtime or its thread failed.
    #[error("metrics endpoint: {what}: {source}")]
    Io {
        /// What we were doing.
        what: &'static str,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// The running endpoint; stopped on [`Server::stop`] or drop.
#[derive(Debug)]
pub struct Server {
    addr: SocketAddr,
    stop_tx: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    /// The address it listens on (the bound port when 0 was asked for).
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, drops open connections, and joins the thread.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(tx) = self.stop_tx.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take()
            && t.join().is_err()
        {
            warn!("the metrics thread panicked");
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Listens on `addr` (bound before this returns, so a taken port is an error of the caller) and
/// serves `metrics` from a thread of its own.
pub fn serve(addr: SocketAddr, metrics: Metrics) -> Result<Server, MetricsError> {
    let io = |what| move |source| MetricsError::Io { what, source };
    let listener =
        std::net::TcpListener::bind(addr).map_err(|source| MetricsError::Bind { addr, source })?;
    listener
        .set_nonblocking(true)
        .map_err(io("making the listener non-blocking"))?;
    let local = listener
        .local_addr()
        .map_err(io("reading the bound address"))?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(io("starting the metrics runtime"))?;
    let (stop_tx, stop_rx) = oneshot::channel();
    let thread = std::thread::Builder::new()
        .name("havip-metrics".to_owned())
        .spawn(move || rt.block_on(accept_loop(listener, metrics, stop_rx)))
        .map_err(io("starting the metrics thread"))?;
    info!(addr = %local, "metrics endpoint listening");
    Ok(Server {
        addr: local,
        stop_tx: Some(stop_tx),
        thread: Some(thread),
    })
}

async fn accept_loop(
    listener: std::net::TcpListener,
    metrics: Metrics,
    mut stop_rx: oneshot::Receiver<()>,
) {
    let listener = match tokio::net::TcpListener::from_std(listener) {
        Ok(l) => l,
        Err(e) => {
            warn!(error = %e, "metrics endpoint: registering the listener failed");
            return;
        }
    };
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let accepted = tokio::select! {
            _ = &mut stop_rx => break,
            a = listener.accept() => a,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // EMFILE and friends: back off instead of spinning on the error.
                debug!(error = %e, "metrics endpoint: accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(permit) = Arc::clone(&slots).try_acquire_owned() else {
            debug!(%peer, "metrics endpoint: too many connections, closing");
            continue;
        };
        let metrics = metrics.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let service = service_fn(move |req| {
                let response = respond(&metrics, &req);
                async move { Ok::<_, Infallible>(response) }
            });
            let mut builder = http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT);
            let conn = builder.serve_connection(TokioIo::new(stream), service);
            match tokio::time::timeout(CONNECTION_TIMEOUT, conn).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => debug!(%peer, error = %e, "metrics endpoint: connection error"),
                Err(_) => debug!(%peer, "metrics endpoint: connection closed after its time"),
            }
        });
    }
}

fn text(status: StatusCode, content_type: &'static str, body: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

const PLAIN: &str = "text/plain; charset=utf-8";

/// The answer to one request.
pub(super) fn respond<B>(metrics: &Metrics, req: &Request<B>) -> Response<Full<Bytes>> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut r = text(
            StatusCode::METHOD_NOT_ALLOWED,
            PLAIN,
            "only GET and HEAD\n".to_owned(),
        );
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    match req.uri().path() {
        "/metrics" => {
            let accept = req
                .headers()
                .get(header::ACCEPT)
                .and_then(|v| v.to_str().ok());
            let format = Format::negotiate(accept);
            match metrics.render(format) {
                Ok(body) => text(StatusCode::OK, format.content_type(), body),
                Err(_) => text(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    PLAIN,
                    "encoding the metrics failed\n".to_owned(),
                ),
            }
        }
        "/healthz" => match metrics.live() {
            Ok(()) => text(StatusCode::OK, PLAIN, "ok\n".to_owned()),
            Err(why) => text(StatusCode::SERVICE_UNAVAILABLE, PLAIN, format!("{why}\n")),
        },
        "/readyz" => match metrics.ready() {
            Ok(()) => text(StatusCode::OK, PLAIN, "ready\n".to_owned()),
            Err(why) => text(
                StatusCode::SERVICE_UNAVAILABLE,
                PLAIN,
                format!("{}\n", why.join("\n")),
            ),
        },
        "/" => text(
            StatusCode::OK,
            PLAIN,
            "havip agent: /metrics /healthz /readyz\n".to_owned(),
        ),
        _ => text(StatusCode::NOT_FOUND, PLAIN, "not found\n".to_owned()),
    }
}
