//! Network namespaces, veth pairs and a bridge, with RAII cleanup and unique names.
//!
//! Every name carries the test process id and a counter, so tests run in parallel and never
//! collide; every guard deletes what it made on drop, also when the test panics. Every external
//! command runs under `timeout`. Nothing here touches the host's own interfaces: links are created
//! inside the namespaces this module made.

use std::{
    process::{Command, Output, Stdio},
    sync::atomic::{AtomicU32, Ordering},
    time::Duration,
};

use anyhow::{Context as _, bail};

/// Upper bound for any one `ip` command.
const CMD_TIMEOUT: &str = "10";

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A short unique tag: `<pid base36><counter>`, at most 9 characters.
#[must_use]
pub fn unique_tag() -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{}{n}", base36(std::process::id()))
}

fn base36(mut v: u32) -> String {
    const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    loop {
        out.push(DIGITS[(v % 36) as usize]);
        v /= 36;
        if v == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

/// Runs `program args...` under `timeout`, failing with its stderr on a non-zero status.
pub fn run(program: &str, args: &[&str]) -> anyhow::Result<Output> {
    let out = Command::new("timeout")
        .arg(CMD_TIMEOUT)
        .arg(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("spawning {program}"))?;
    if !out.status.success() {
        bail!(
            "{program} {} failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(out)
}

/// A network namespace that is deleted (with every process still in it) on drop.
#[derive(Debug)]
pub struct NetNs {
    name: String,
}

impl NetNs {
    /// Creates namespace `hv<tag><role>` with its loopback up.
    pub fn new(tag: &str, role: &str) -> anyhow::Result<Self> {
        let name = format!("hv{tag}{role}");
        run("ip", &["netns", "add", &name])?;
        let ns = Self { name };
        ns.ip(&["link", "set", "lo", "up"])?;
        Ok(ns)
    }

    /// Its name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs `ip -n NS args...`.
    pub fn ip(&self, args: &[&str]) -> anyhow::Result<Output> {
        let mut full = vec!["-n", self.name.as_str()];
        full.extend_from_slice(args);
        run("ip", &full)
    }

    /// Runs `program args...` inside the namespace (bounded by `timeout`).
    pub fn exec(&self, program: &str, args: &[&str]) -> anyhow::Result<Output> {
        let mut full = vec!["netns", "exec", self.name.as_str(), program];
        full.extend_from_slice(args);
        run("ip", &full)
    }

    /// A `Command` that runs `program` inside the namespace (for long-running processes).
    #[must_use]
    pub fn command(&self, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", self.name.as_str(), program]);
        c
    }

    /// Runs a closure with the calling thread moved into this namespace (`setns(2)` on a fresh
    /// thread, so the caller's namespace never changes). Sockets opened inside stay in it.
    pub fn enter<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
    ) -> anyhow::Result<T> {
        let path = format!("/var/run/netns/{}", self.name);
        std::thread::spawn(move || -> anyhow::Result<T> {
            let file = std::fs::File::open(&path).with_context(|| format!("opening {path}"))?;
            // SAFETY: a valid namespace fd; affects only this thread.
            let rc =
                unsafe { libc::setns(std::os::fd::AsRawFd::as_raw_fd(&file), libc::CLONE_NEWNET) };
            if rc != 0 {
                bail!("setns {path}: {}", std::io::Error::last_os_error());
            }
            f()
        })
        .join()
        .map_err(|_| anyhow::anyhow!("namespace thread panicked"))?
    }

    /// Process ids still running in the namespace.
    #[must_use]
    pub fn pids(&self) -> Vec<i32> {
        run("ip", &["netns", "pids", &self.name])
            .map(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .split_whitespace()
                    .filter_map(|p| p.parse().ok())
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        for pid in self.pids() {
            // SAFETY: plain kill(2) of a process in our own test namespace.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        let _ = run("ip", &["netns", "del", &self.name]);
    }
}

/// A layer-2 segment: one namespace holding bridge `br0`, and nodes attached to it, each in its
/// own namespace with `eth0`. Addresses come from 192.0.2.0/24 (TEST-NET-1).
#[derive(Debug)]
pub struct Lan {
    /// The namespace of the bridge.
    pub bridge: NetNs,
    /// Nodes in the order they were added.
    pub nodes: Vec<Node>,
    tag: String,
}

/// One node on a [`Lan`].
#[derive(Debug)]
pub struct Node {
    /// Its namespace.
    pub ns: NetNs,
    /// Interface name inside the node (`eth0`).
    pub ifname: String,
    /// Name of the bridge-side veth (in the bridge namespace).
    pub bridge_port: String,
    /// Its address on the LAN.
    pub addr: std::net::Ipv4Addr,
    /// Its MAC address.
    pub mac: [u8; 6],
}

impl Lan {
    /// An empty LAN.
    pub fn new() -> anyhow::Result<Self> {
        let tag = unique_tag();
        let bridge = NetNs::new(&tag, "br")?;
        bridge.ip(&["link", "add", "br0", "type", "bridge"])?;
        // No STP/forward delay, so ports forward at once.
        bridge.ip(&["link", "set", "br0", "type", "bridge", "forward_delay", "0"])?;
        bridge.ip(&["link", "set", "br0", "up"])?;
        Ok(Self {
            bridge,
            nodes: Vec::new(),
            tag,
        })
    }

    /// Adds a node named `role` with address `192.0.2.<host>/24`; returns its index.
    pub fn add_node(&mut self, role: &str, host: u8) -> anyhow::Result<usize> {
        let ns = NetNs::new(&self.tag, role)?;
        let port = format!("p{}{role}", self.tag);
        let port: String = port.chars().take(15).collect();
        self.bridge.ip(&[
            "link",
            "add",
            &port,
            "type",
            "veth",
            "peer",
            "name",
            "eth0",
            "netns",
            ns.name(),
        ])?;
        self.bridge.ip(&["link", "set", &port, "master", "br0"])?;
        self.bridge.ip(&["link", "set", &port, "up"])?;
        let addr = std::net::Ipv4Addr::new(192, 0, 2, host);
        ns.ip(&["addr", "add", &format!("{addr}/24"), "dev", "eth0"])?;
        ns.ip(&["link", "set", "eth0", "up"])?;
        let mac_text = ns.exec("cat", &["/sys/class/net/eth0/address"])?;
        let mac =
            havip_agent::net::iface::parse_mac(String::from_utf8_lossy(&mac_text.stdout).trim())
                .context("parsing node MAC")?;
        self.nodes.push(Node {
            ns,
            ifname: "eth0".to_owned(),
            bridge_port: port,
            addr,
            mac,
        });
        Ok(self.nodes.len() - 1)
    }

    /// Cuts node `i`'s link (the bridge side goes down), as a failed NIC or cable would.
    pub fn cut(&self, i: usize) -> anyhow::Result<()> {
        let port = &self.nodes[i].bridge_port;
        self.bridge.ip(&["link", "set", port, "down"])?;
        Ok(())
    }

    /// Restores node `i`'s link.
    pub fn restore(&self, i: usize) -> anyhow::Result<()> {
        let port = &self.nodes[i].bridge_port;
        self.bridge.ip(&["link", "set", port, "up"])?;
        Ok(())
    }

    /// Partitions without a link change: isolated bridge ports forward only to non-isolated
    /// ones, so isolated nodes stop hearing each other while their carrier stays up (a switch
    /// fault rather than a cable pull) and the client still reaches everyone.
    pub fn isolate(&self, i: usize, on: bool) -> anyhow::Result<()> {
        let port = &self.nodes[i].bridge_port;
        let mut args = vec![
            "-n",
            self.bridge.name(),
            "link",
            "set",
            "dev",
            port.as_str(),
        ];
        args.extend(["isolated", if on { "on" } else { "off" }]);
        run("bridge", &args)?;
        Ok(())
    }
}

/// Polls `f` every `step` until it returns `Some` or `limit` passes.
pub fn wait_for<T>(limit: Duration, step: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let start = std::time::Instant::now();
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if start.elapsed() >= limit {
            return None;
        }
        std::thread::sleep(step);
    }
}
