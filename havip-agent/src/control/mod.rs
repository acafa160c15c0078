//! The local control socket (`/run/havip/havip.sock` by default) and `havip-agent status`.
//!
//! Protocol: the client connects, writes one line (`status`), and reads one JSON document; the
//! agent closes the connection. The event loop builds the snapshot (its own state plus the
//! kernel's ownership and counters, a few map reads) when asked; the socket task only waits for
//! it, with a time limit, so a stuck client never holds the loop.

pub mod status;
pub mod stop;

use std::{path::Path, time::Duration};

use tokio::{
    io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader},
    net::{UnixListener, UnixStream},
    sync::{mpsc, oneshot},
    task::JoinHandle,
};
use tracing::{debug, warn};

pub use status::Status;

/// Default path of the control socket.
pub const DEFAULT_SOCKET: &str = "/run/havip/havip.sock";

/// How long a client may take to send its request, and the loop to answer it.
const LIMIT: Duration = Duration::from_secs(2);

/// A request from the socket task to the event loop.
pub type Request = oneshot::Sender<Status>;

/// The listening socket; removed when dropped.
pub struct Server {
    path: std::path::PathBuf,
    task: JoinHandle<()>,
}

impl Server {
    /// Binds `path` (replacing a stale socket file) and serves requests, asking the event loop
    /// through `to_loop` for each snapshot.
    pub fn start(path: &Path, to_loop: mpsc::Sender<Request>) -> std::io::Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        // A socket file left by a killed agent would make bind fail.
        if std::os::unix::net::UnixStream::connect(path).is_err() {
            let _ = std::fs::remove_file(path);
        }
        let listener = UnixListener::bind(path)?;
        std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
        let task = tokio::spawn(async move {
            loop {
                match listener.accept().await {
                    Ok((stream, _)) => {
                        tokio::spawn(serve(stream, to_loop.clone()));
                    }
                    Err(e) => {
                        warn!(error = %e, "control socket accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
        });
        Ok(Self {
            path: path.to_path_buf(),
            task,
        })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
        let _ = std::fs::remove_file(&self.path);
    }
}

async fn serve(stream: UnixStream, to_loop: mpsc::Sender<Request>) {
    let (read, mut write) = stream.into_split();
    let mut line = String::new();
    // One short line is all a request is; bound what a client can make us buffer.
    let mut reader = BufReader::new(tokio::io::AsyncReadExt::take(read, 1024));
    let got = tokio::time::timeout(LIMIT, reader.read_line(&mut line)).await;
    let answer = match got {
        Ok(Ok(_)) if line.trim() == "status" => {
            let (tx, rx) = oneshot::channel();
            if to_loop.try_send(tx).is_err() {
                error_json("the agent is busy")
            } else {
                match tokio::time::timeout(LIMIT, rx).await {
                    Ok(Ok(status)) => serde_json::to_string(&status)
                        .unwrap_or_else(|e| error_json(&e.to_string())),
                    _ => error_json("the event loop did not answer in time"),
                }
            }
        }
        Ok(Ok(_)) => error_json("unknown request (expected `status`)"),
        _ => error_json("no request"),
    };
    if let Err(e) = write.write_all(format!("{answer}\n").as_bytes()).await {
        debug!(error = %e, "control client went away");
    }
}

fn error_json(message: &str) -> String {
    serde_json::json!({ "error": message }).to_string()
}

/// Asks the agent listening on `path` for its status.
pub async fn query(path: &Path) -> anyhow::Result<Status> {
    use anyhow::Context as _;
    let mut stream = tokio::time::timeout(LIMIT, UnixStream::connect(path))
        .await
        .context("connecting to the control socket timed out")?
        .with_context(|| format!("connecting to {} (is havip-agent running?)", path.display()))?;
    stream.write_all(b"status\n").await?;
    let mut reply = String::new();
    tokio::time::timeout(LIMIT * 2, BufReader::new(&mut stream).read_line(&mut reply))
        .await
        .context("the agent did not answer in time")??;
    let value: serde_json::Value =
        serde_json::from_str(&reply).context("the agent's answer is not JSON")?;
    if let Some(e) = value.get("error").and_then(serde_json::Value::as_str) {
        anyhow::bail!("the agent answered: {e}");
    }
    serde_json::from_value(value).context("the agent's answer is not a status")
}
