//! Running VRRP speakers on a [`Lan`](crate::netns::Lan) node: havip agents and keepalived, from
//! one [`InstanceSpec`] rendered as havip TOML or as keepalived.conf, in a per-test [`Workdir`];
//! and reading what they did from their logs.

use std::{
    fmt::Write as _,
    io,
    net::Ipv4Addr,
    os::fd::{AsRawFd, FromRawFd, OwnedFd},
    path::{Path, PathBuf},
    process::Command,
    time::Duration,
};

use anyhow::{Context as _, bail};

use crate::{
    agent_bin,
    netns::{NetNs, Node, unique_tag, wait_for},
    proc::Proc,
};

/// How long an agent or keepalived may take to start.
pub const START_LIMIT: Duration = Duration::from_secs(10);
/// Poll step of log waits.
const STEP: Duration = Duration::from_millis(5);

/// A temporary directory unique to one test, removed on drop.
#[derive(Debug)]
pub struct Workdir {
    path: PathBuf,
}

impl Workdir {
    /// Creates `$TMPDIR/havip-<pid>-<tag>`.
    pub fn new() -> anyhow::Result<Self> {
        let path =
            std::env::temp_dir().join(format!("havip-{}-{}", std::process::id(), unique_tag()));
        std::fs::create_dir_all(&path).with_context(|| format!("creating {}", path.display()))?;
        Ok(Self { path })
    }

    /// Its path.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `text` to file `name` inside it and returns the file's path.
    pub fn write(&self, name: &str, text: &str) -> anyhow::Result<PathBuf> {
        let file = self.path.join(name);
        std::fs::write(&file, text).with_context(|| format!("writing {}", file.display()))?;
        Ok(file)
    }
}

impl Drop for Workdir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// VRRP version with its advert interval, as both implementations spell it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Vrrp {
    /// `VRRPv2`, interval in whole seconds.
    V2 {
        /// Advert interval in seconds.
        secs: u8,
    },
    /// `VRRPv3`, interval in centiseconds.
    V3 {
        /// Advert interval in centiseconds.
        centis: u16,
    },
}

impl Vrrp {
    /// The advert interval.
    #[must_use]
    pub fn interval(self) -> Duration {
        match self {
            Self::V2 { secs } => Duration::from_secs(secs.into()),
            Self::V3 { centis } => Duration::from_millis(u64::from(centis) * 10),
        }
    }

    /// RFC 9568 6.1 `Master_Down_Interval` of a backup with `priority` (3 intervals + skew).
    #[must_use]
    pub fn master_down(self, priority: u8) -> Duration {
        let i = self.interval();
        i * 3 + i * (256 - u32::from(priority)) / 256
    }
}

/// One VRRP instance of one node, rendered for either implementation.
#[derive(Clone, Debug)]
pub struct InstanceSpec {
    /// Instance name.
    pub name: String,
    /// Interface.
    pub interface: String,
    /// Virtual router id.
    pub vrid: u8,
    /// Priority.
    pub priority: u8,
    /// Version and interval.
    pub vrrp: Vrrp,
    /// Preempt (false: keepalived `nopreempt`).
    pub preempt: bool,
    /// Initial state, `MASTER` or `BACKUP`.
    pub state: &'static str,
    /// Source of the adverts.
    pub src: Ipv4Addr,
    /// Unicast peers.
    pub peers: Vec<Ipv4Addr>,
    /// VIPs with prefix, `192.0.2.200/24`.
    pub vips: Vec<String>,
    /// `VRRPv2` simple password.
    pub auth_pass: Option<String>,
    /// keepalived 2.4's `auth_hmac` block.
    pub auth_hmac: Option<crate::auth_hmac::AuthHmacSpec>,
}

impl InstanceSpec {
    /// `VI_1` on `eth0`, VRID 51, VIP 192.0.2.200/24, BACKUP with preempt, unicast from `src` to
    /// `peers`.
    #[must_use]
    pub fn new(vrrp: Vrrp, priority: u8, src: Ipv4Addr, peers: &[Ipv4Addr]) -> Self {
        Self {
            name: "VI_1".to_owned(),
            interface: "eth0".to_owned(),
            vrid: 51,
            priority,
            vrrp,
            preempt: true,
            state: "BACKUP",
            src,
            peers: peers.to_vec(),
            vips: vec!["192.0.2.200/24".to_owned()],
            auth_pass: None,
            auth_hmac: None,
        }
    }

    /// Renders the instance as a havip TOML file.
    #[must_use]
    pub fn to_toml(&self) -> String {
        let quoted = |v: &[String]| {
            v.iter()
                .map(|s| format!("{s:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let peers: Vec<String> = self.peers.iter().map(ToString::to_string).collect();
        let (version, interval) = match self.vrrp {
            Vrrp::V2 { secs } => (2, format!("{secs}s")),
            Vrrp::V3 { centis } => (3, format!("{}ms", u32::from(centis) * 10)),
        };
        let mut t = String::new();
        let _ = writeln!(t, "[[instance]]");
        let _ = writeln!(t, "name = {:?}", self.name);
        let _ = writeln!(t, "interface = {:?}", self.interface);
        let _ = writeln!(t, "vrid = {}", self.vrid);
        let _ = writeln!(t, "priority = {}", self.priority);
        let _ = writeln!(t, "version = {version}");
        let _ = writeln!(t, "advert_interval = {interval:?}");
        let _ = writeln!(t, "preempt = {}", self.preempt);
        let _ = writeln!(t, "state = {:?}", self.state);
        let _ = writeln!(t, "unicast_src_ip = \"{}\"", self.src);
        let _ = writeln!(t, "unicast_peers = [{}]", quoted(&peers));
        let _ = writeln!(t, "virtual_ipaddresses = [{}]", quoted(&self.vips));
        if let Some(pass) = &self.auth_pass {
            let _ = writeln!(t, "auth = {{ type = \"PASS\", pass = {pass:?} }}");
        }
        // A sub-table: last, so the keys above stay the instance's.
        if let Some(a) = &self.auth_hmac {
            t.push_str(&a.to_toml());
        }
        t
    }

    /// Renders the instance as a keepalived.conf for keepalived 2.2.7.
    #[must_use]
    pub fn to_keepalived(&self, router_id: &str) -> String {
        let (version, interval) = match self.vrrp {
            Vrrp::V2 { secs } => (2, secs.to_string()),
            Vrrp::V3 { centis } => (3, format!("{}", f64::from(centis) / 100.0)),
        };
        let mut t = String::new();
        let _ = writeln!(t, "global_defs {{");
        let _ = writeln!(t, "    router_id {router_id}");
        let _ = writeln!(t, "    vrrp_version {version}");
        let _ = writeln!(t, "}}");
        let _ = writeln!(t, "vrrp_instance {} {{", self.name);
        let _ = writeln!(t, "    state {}", self.state);
        let _ = writeln!(t, "    interface {}", self.interface);
        let _ = writeln!(t, "    virtual_router_id {}", self.vrid);
        let _ = writeln!(t, "    priority {}", self.priority);
        let _ = writeln!(t, "    advert_int {interval}");
        if !self.preempt {
            let _ = writeln!(t, "    nopreempt");
        }
        let _ = writeln!(t, "    unicast_src_ip {}", self.src);
        let _ = writeln!(t, "    unicast_peer {{");
        for p in &self.peers {
            let _ = writeln!(t, "        {p}");
        }
        let _ = writeln!(t, "    }}");
        if let Some(pass) = &self.auth_pass {
            let _ = writeln!(t, "    authentication {{");
            let _ = writeln!(t, "        auth_type PASS");
            let _ = writeln!(t, "        auth_pass {pass}");
            let _ = writeln!(t, "    }}");
        }
        if let Some(a) = &self.auth_hmac {
            t.push_str(&a.to_keepalived());
        }
        let _ = writeln!(t, "    virtual_ipaddress {{");
        for v in &self.vips {
            let _ = writeln!(t, "        {v}");
        }
        let _ = writeln!(t, "    }}");
        let _ = writeln!(t, "}}");
        t
    }
}

/// Spawns `havip-agent run` for `spec` in `node`'s namespace and waits until it logs
/// `havip running`. `label` names its config and log files.
pub fn spawn_havip(
    node: &Node,
    dir: &Workdir,
    label: &str,
    spec: &InstanceSpec,
) -> anyhow::Result<Proc> {
    spawn_havip_args(node, dir, label, spec, &[])
}

/// [`spawn_havip`] with more arguments for `havip-agent run` (e.g. `--metrics-addr`).
pub fn spawn_havip_args(
    node: &Node,
    dir: &Workdir,
    label: &str,
    spec: &InstanceSpec,
    args: &[&str],
) -> anyhow::Result<Proc> {
    spawn_havip_with(
        node,
        dir,
        label,
        &format!("{label}.toml"),
        &spec.to_toml(),
        args,
        &[],
    )
}

/// Spawns `havip-agent run` with the configuration `text` (TOML) and extra environment `env`
/// in `node`'s namespace, and waits until it logs `havip running`. Proxy variables are removed,
/// so HTTP from the agent goes where its configuration says.
pub fn spawn_havip_config(
    node: &Node,
    dir: &Workdir,
    label: &str,
    text: &str,
    env: &[(&str, &str)],
) -> anyhow::Result<Proc> {
    spawn_havip_with(node, dir, label, &format!("{label}.toml"), text, &[], env)
}

/// The control socket of the agent started as `label` (never the host's default).
#[must_use]
pub fn control_socket(dir: &Workdir, label: &str) -> PathBuf {
    dir.path().join(format!("{label}.sock"))
}

/// `havip-agent status --json` of the agent started as `label`, parsed.
pub fn havip_status(dir: &Workdir, label: &str) -> anyhow::Result<serde_json::Value> {
    let out = Command::new("timeout")
        .arg("10")
        .arg(agent_bin()?)
        .args(["status", "--json", "--control-socket"])
        .arg(control_socket(dir, label))
        .output()?;
    if !out.status.success() {
        bail!("status failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(serde_json::from_slice(&out.stdout)?)
}

/// The kernel counters of the running agent started as `label`, from `status --json`, by ABI
/// name (`havip_common::counter::NAMES`); a counter that is absent is zero.
pub fn havip_kernel_counters(
    dir: &Workdir,
    label: &str,
) -> anyhow::Result<std::collections::BTreeMap<String, u64>> {
    let status = havip_status(dir, label)?;
    let map = status
        .get("kernel_counters")
        .and_then(serde_json::Value::as_object)
        .context("status has no kernel_counters object")?;
    map.iter()
        .map(|(k, v)| {
            let n = v
                .as_u64()
                .with_context(|| format!("counter {k} is not a number: {v}"))?;
            Ok((k.clone(), n))
        })
        .collect()
}

/// Like [`spawn_havip`], with the whole TOML configuration given.
pub fn spawn_havip_toml(
    node: &Node,
    dir: &Workdir,
    label: &str,
    toml: &str,
) -> anyhow::Result<Proc> {
    spawn_havip_file(node, dir, label, &format!("{label}.toml"), toml)
}

/// Like [`spawn_havip`], with the configuration `text` written to `file` (a `.conf` name makes
/// the agent read it as a keepalived.conf).
pub fn spawn_havip_file(
    node: &Node,
    dir: &Workdir,
    label: &str,
    file: &str,
    text: &str,
) -> anyhow::Result<Proc> {
    spawn_havip_with(node, dir, label, file, text, &[], &[])
}

/// [`spawn_havip_file`] with `env` added to the agent's environment.
pub fn spawn_havip_file_env(
    node: &Node,
    dir: &Workdir,
    label: &str,
    file: &str,
    text: &str,
    env: &[(&str, &str)],
) -> anyhow::Result<Proc> {
    spawn_havip_with(node, dir, label, file, text, &[], env)
}

/// The one way agents are started: `text` written to `file`, `run` with `args` appended, `env`
/// added to the environment.
fn spawn_havip_with(
    node: &Node,
    dir: &Workdir,
    label: &str,
    file: &str,
    text: &str,
    args: &[&str],
    env: &[(&str, &str)],
) -> anyhow::Result<Proc> {
    spawn_binary(&agent_bin()?, node, dir, label, (file, text), args, env)
}

/// [`spawn_havip_args`] with another agent binary `bin` (the upgrade tests' new build).
pub fn spawn_havip_bin(
    bin: &Path,
    node: &Node,
    dir: &Workdir,
    label: &str,
    spec: &InstanceSpec,
    args: &[&str],
) -> anyhow::Result<Proc> {
    let file = format!("{label}.toml");
    spawn_binary(bin, node, dir, label, (&file, &spec.to_toml()), args, &[])
}

fn spawn_binary(
    bin: &Path,
    node: &Node,
    dir: &Workdir,
    label: &str,
    (file, text): (&str, &str),
    args: &[&str],
    env: &[(&str, &str)],
) -> anyhow::Result<Proc> {
    let conf = dir.write(file, text)?;
    let mut cmd: Command = node
        .ns
        .command(bin.to_str().context("agent path is not UTF-8")?);
    cmd.arg("run")
        .arg("--config")
        .arg(&conf)
        .arg("--control-socket")
        .arg(control_socket(dir, label))
        .args(args)
        .env("HAVIP_LOG", "info");
    // `HAVIP_TEST_DATAPLANE=tc` (or auto) runs every agent of a namespace test on that hook
    // (issue #15), unless the test chose one itself.
    if let Ok(mode) = std::env::var("HAVIP_TEST_DATAPLANE")
        && !args.contains(&"--dataplane")
    {
        cmd.arg("--dataplane").arg(mode);
    }
    for var in [
        "http_proxy",
        "https_proxy",
        "all_proxy",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
    ] {
        cmd.env_remove(var);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut p = Proc::spawn(&format!("{}-{label}", node.ns.name()), cmd)?;
    let up = wait_for(START_LIMIT, Duration::from_millis(20), || {
        (p.log_text().contains("havip running") || !p.alive()).then_some(())
    });
    if up.is_none() || !p.alive() {
        bail!("havip {label} did not start:\n{}", p.log_text());
    }
    Ok(p)
}

/// One `state transition` line of a havip log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transition {
    /// Previous state (`BACKUP`, ...).
    pub from: String,
    /// New state.
    pub to: String,
    /// The logged reason.
    pub reason: String,
    /// The whole line.
    pub line: String,
}

/// Every state transition in a havip log, in order.
#[must_use]
pub fn transitions(log: &str) -> Vec<Transition> {
    log.lines()
        .filter(|l| l.contains("state transition"))
        .map(|l| Transition {
            from: field(l, "from=").unwrap_or_default(),
            to: field(l, "to=").unwrap_or_default(),
            reason: l
                .split_once(" reason=")
                .map(|(_, r)| r.split(" priority=").next().unwrap_or(r).to_owned())
                .unwrap_or_default(),
            line: l.to_owned(),
        })
        .collect()
}

/// The state a havip log last reported, if any.
#[must_use]
pub fn havip_state(log: &str) -> Option<String> {
    transitions(log).pop().map(|t| t.to)
}

/// Waits up to `limit` until the `nth` (0-based) transition to `state` is in `p`'s log; returns it.
pub fn wait_havip_state(p: &Proc, state: &str, nth: usize, limit: Duration) -> Option<Transition> {
    wait_for(limit, STEP, || {
        transitions(&p.log_text())
            .into_iter()
            .filter(|t| t.to == state)
            .nth(nth)
    })
}

fn field(line: &str, key: &str) -> Option<String> {
    let at = line.find(&format!(" {key}"))? + 1 + key.len();
    Some(
        line[at..]
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .trim_matches('"')
            .to_owned(),
    )
}

/// Time of day of a log line that starts with an RFC 3339 UTC timestamp (tracing's default
/// format, e.g. `2026-08-01T10:00:00.123456Z`), as a duration since midnight.
#[must_use]
pub fn log_time(line: &str) -> Option<Duration> {
    let stamp = line.split_whitespace().next()?;
    let (_, time) = stamp.split_once('T')?;
    let time = time.trim_end_matches('Z');
    let mut parts = time.split(':');
    let h: u64 = parts.next()?.parse().ok()?;
    let m: u64 = parts.next()?.parse().ok()?;
    let s: f64 = parts.next()?.parse().ok()?;
    Some(Duration::from_secs(h * 3600 + m * 60) + Duration::try_from_secs_f64(s).ok()?)
}

/// `later - earlier` for two [`log_time`]s, across midnight if needed.
#[must_use]
pub fn log_elapsed(earlier: Duration, later: Duration) -> Duration {
    const DAY: Duration = Duration::from_hours(24);
    later
        .checked_sub(earlier)
        .unwrap_or_else(|| (later + DAY).saturating_sub(earlier))
}

/// The first line of `log` that contains `needle`.
#[must_use]
pub fn line_with<'a>(log: &'a str, needle: &str) -> Option<&'a str> {
    log.lines().find(|l| l.contains(needle))
}

/// The kernel counters a havip agent printed when it stopped (`name=value` pairs).
#[must_use]
pub fn havip_counters(log: &str) -> Vec<(String, u64)> {
    let Some(line) = line_with(log, "kernel counters") else {
        return Vec::new();
    };
    line.split_whitespace()
        .filter_map(|w| {
            let (k, v) = w.trim_start_matches("counters=").split_once('=')?;
            Some((
                k.trim_matches('"').to_owned(),
                v.trim_matches('"').parse().ok()?,
            ))
        })
        .collect()
}

/// One counter of [`havip_counters`], 0 when absent (the agent prints only non-zero ones).
#[must_use]
pub fn havip_counter(log: &str, name: &str) -> u64 {
    havip_counters(log)
        .into_iter()
        .find(|(k, _)| k == name)
        .map_or(0, |(_, v)| v)
}

/// A keepalived 2.2.7 running in a node's namespace (VRRP only, console log). Stopped with
/// SIGTERM on drop, so its priority-0 advert and address removal happen as in production.
#[derive(Debug)]
pub struct Keepalived {
    /// The process (keepalived's parent; its VRRP child dies with it).
    pub proc: Proc,
    vrrp_pid: PathBuf,
}

impl Keepalived {
    /// Starts keepalived for `spec` in `node`'s namespace and waits until its VRRP child runs.
    pub fn spawn(
        node: &Node,
        dir: &Workdir,
        label: &str,
        spec: &InstanceSpec,
    ) -> anyhow::Result<Self> {
        Self::spawn_conf(
            node,
            dir,
            label,
            &spec.to_keepalived(&format!("hv_{label}")),
        )
    }

    /// Starts keepalived with the configuration `text` in `node`'s namespace.
    pub fn spawn_conf(node: &Node, dir: &Workdir, label: &str, text: &str) -> anyhow::Result<Self> {
        let conf = dir.write(&format!("{label}.conf"), text)?;
        let pid = |kind: &str| dir.path().join(format!("{label}.{kind}.pid"));
        let vrrp_pid = pid("vrrp");
        let mut cmd = node.ns.command("keepalived");
        cmd.args(["-n", "-l", "-D", "-G", "-P", "-f"])
            .arg(&conf)
            .arg("-p")
            .arg(pid("main"))
            .arg("-r")
            .arg(&vrrp_pid)
            .arg("-c")
            .arg(pid("check"))
            .arg("-b")
            .arg(pid("bfd"));
        let mut proc = Proc::spawn(&format!("{}-{label}", node.ns.name()), cmd)?;
        let up = wait_for(START_LIMIT, Duration::from_millis(20), || {
            let text = proc.log_text();
            (text.contains("Entering BACKUP STATE")
                || text.contains("Entering MASTER STATE")
                || !proc.alive())
            .then_some(())
        });
        if up.is_none() || !proc.alive() {
            bail!("keepalived {label} did not start:\n{}", proc.log_text());
        }
        Ok(Self { proc, vrrp_pid })
    }

    /// Its log so far.
    #[must_use]
    pub fn log_text(&self) -> String {
        self.proc.log_text()
    }

    /// How many times its log says it entered `state` (`MASTER`, `BACKUP`, `FAULT`).
    #[must_use]
    pub fn entered(&self, state: &str) -> usize {
        let needle = format!("Entering {state} STATE");
        self.log_text().matches(&needle).count()
    }

    /// Waits up to `limit` until it has entered `state` `count` times in all.
    pub fn wait_entered(&self, state: &str, count: usize, limit: Duration) -> bool {
        wait_for(limit, STEP, || (self.entered(state) >= count).then_some(())).is_some()
    }

    /// The pid of its VRRP child, from its pid file.
    #[must_use]
    pub fn vrrp_pid(&self) -> Option<i32> {
        std::fs::read_to_string(&self.vrrp_pid)
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// SIGTERM, then waits up to `limit` for the exit (SIGKILL after that). True on a clean exit.
    pub fn stop(&mut self, limit: Duration) -> bool {
        self.proc.stop(limit).is_some_and(|s| s.success())
    }
}

impl Drop for Keepalived {
    fn drop(&mut self) {
        if self.proc.alive() {
            let _ = self.proc.stop(Duration::from_secs(5));
        }
    }
}

/// keepalived 2.2.7's words (lower case) for a received advert it rejects (`vrrp_check_packet`
/// and friends in keepalived/vrrp/vrrp.c), for a send that failed, and for its warnings.
const KEEPALIVED_COMPLAINTS: [&str; 20] = [
    "invalid ttl",
    "wrong version",
    "auth, expecting",
    "invalid passwd",
    "interval mismatch",
    "invalid packet type",
    "invalid auth type",
    "checksum",
    "unexpected ip number count",
    "ip_tot_len mismatch",
    "vips but received",
    "not present in master advert",
    "not a unicast peer",
    "not in range",
    "vrrp packet too",
    "icast packet but received",
    "send advert error",
    "cant send advert",
    "bogus",
    "warning",
];

/// Log lines in which keepalived rejects a received advert, fails to send, or warns.
#[must_use]
pub fn keepalived_complaints(log: &str) -> Vec<String> {
    log.lines()
        .filter(|l| {
            let l = l.to_ascii_lowercase();
            KEEPALIVED_COMPLAINTS.iter().any(|w| l.contains(w))
        })
        .map(ToOwned::to_owned)
        .collect()
}

/// Whether `addr` is configured on `ifname` in `ns`.
pub fn has_address(ns: &NetNs, ifname: &str, addr: Ipv4Addr) -> anyhow::Result<bool> {
    let out = ns.ip(&["-4", "-o", "addr", "show", "dev", ifname])?;
    let needle = format!(" {addr}/");
    Ok(String::from_utf8_lossy(&out.stdout).contains(&needle))
}

/// A raw `AF_PACKET` socket that sends whole Ethernet frames out of one interface of a namespace.
#[derive(Debug)]
pub struct FrameSender {
    fd: OwnedFd,
    ifindex: i32,
    /// The interface's MAC.
    pub mac: [u8; 6],
}

impl FrameSender {
    /// Opens the socket on `ifname` inside `ns`.
    pub fn open(ns: &NetNs, ifname: &str) -> anyhow::Result<Self> {
        let ifname = ifname.to_owned();
        ns.enter(move || {
            let ifindex = i32::try_from(havip_agent::net::iface::if_index(&ifname)?)?;
            let mac = havip_agent::net::iface::mac_of(&ifname)?;
            // SAFETY: plain socket(2); protocol 0 means send only.
            let raw =
                unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
            if raw < 0 {
                return Err(io::Error::last_os_error()).context("AF_PACKET socket");
            }
            // SAFETY: `raw` is a fresh fd we own.
            let fd = unsafe { OwnedFd::from_raw_fd(raw) };
            Ok(Self { fd, ifindex, mac })
        })
    }

    /// Sends one Ethernet frame as is.
    pub fn send(&self, frame: &[u8]) -> anyhow::Result<()> {
        anyhow::ensure!(
            frame.len() >= 14,
            "a {}-byte frame has no Ethernet header",
            frame.len()
        );
        // SAFETY: zeroed sockaddr_ll is valid.
        let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sll.sll_family = u16::try_from(libc::AF_PACKET)?;
        sll.sll_ifindex = self.ifindex;
        sll.sll_halen = 6;
        sll.sll_addr[..6].copy_from_slice(&frame[..6]);
        // SAFETY: valid buffer and address of the right size.
        let rc = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                frame.as_ptr().cast(),
                frame.len(),
                0,
                (&raw const sll).cast(),
                u32::try_from(size_of::<libc::sockaddr_ll>())?,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error()).context("sendto");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use havip_agent::config::{Format, Instance, load_str};

    use super::*;

    const LOG: &str = "2026-08-01T23:59:59.950000Z  INFO havip_agent::daemon::instance: state \
        transition instance=\"VI_1\" vrid=51 interface=eth0 from=BACKUP to=MASTER \
        reason=master 192.0.2.11 sent priority 0 priority=100\n\
        2026-08-02T00:00:00.010000Z  INFO havip_agent::daemon: kernel counters \
        counters=arp_replied=14 vrrp_accepted=3 vrrp_drop_ttl=2\n";

    #[test]
    fn log_lines_parse() {
        let t = transitions(LOG);
        assert_eq!(t.len(), 1);
        assert_eq!((t[0].from.as_str(), t[0].to.as_str()), ("BACKUP", "MASTER"));
        assert_eq!(t[0].reason, "master 192.0.2.11 sent priority 0");
        assert_eq!(havip_state(LOG).as_deref(), Some("MASTER"));
        assert_eq!(havip_counter(LOG, "vrrp_accepted"), 3);
        assert_eq!(havip_counter(LOG, "vrrp_drop_ttl"), 2);
        assert_eq!(havip_counter(LOG, "vrrp_drop_auth"), 0);
        let lines: Vec<&str> = LOG.lines().collect();
        let (a, b) = (log_time(lines[0]), log_time(lines[1]));
        let (Some(a), Some(b)) = (a, b) else {
            panic!("no timestamps");
        };
        assert_eq!(
            log_elapsed(a, b),
            Duration::from_millis(60),
            "across midnight"
        );
        assert_eq!(log_time("no timestamp here"), None);
    }

    #[test]
    fn keepalived_complaints_are_found() {
        let log = "Sun Nov 22 14:10:01 2026: (VI_1) received an invalid passwd!\n\
                   Sun Nov 22 14:10:01 2026: (VI_1) Invalid VRRPv3 checksum\n\
                   Sun Nov 22 14:12:04 2026: (VI_1) received lower priority (100) advert from \
                   192.0.2.12 - discarding\n\
                   Sun Nov 22 14:12:04 2026: (VI_1) Entering MASTER STATE\n";
        assert_eq!(keepalived_complaints(log).len(), 2);
    }

    fn loaded(text: &str, origin: &str, format: Format) -> Instance {
        let cfg = load_str(text, Path::new(origin), format)
            .unwrap_or_else(|e| panic!("{origin} does not load: {e}\n{text}"));
        assert!(
            cfg.diagnostics.is_empty(),
            "{origin}: {:?}\n{text}",
            cfg.diagnostics
        );
        cfg.config
            .instances
            .into_iter()
            .next()
            .expect("one instance")
    }

    /// Both renderings of one spec mean the same instance to havip's own loaders.
    #[test]
    fn toml_and_keepalived_renderings_agree() {
        let a = Ipv4Addr::new(192, 0, 2, 11);
        let b = Ipv4Addr::new(192, 0, 2, 12);
        for (vrrp, auth) in [
            (Vrrp::V3 { centis: 10 }, None),
            (Vrrp::V2 { secs: 1 }, Some("1111")),
        ] {
            let mut spec = InstanceSpec::new(vrrp, 150, a, &[b]);
            spec.preempt = false;
            spec.auth_pass = auth.map(str::to_owned);
            let native = loaded(&spec.to_toml(), "a.toml", Format::Toml);
            let imported = loaded(
                &spec.to_keepalived("hv_a"),
                "keepalived.conf",
                Format::Keepalived,
            );
            assert_eq!(native.vrid, 51);
            assert_eq!(native.priority, 150);
            assert_eq!(native.advert_interval, vrrp.interval());
            assert!(!native.preempt);
            assert_eq!(native.unicast_src_ip, Some(a.into()));
            assert_eq!(native.unicast_peers, vec![std::net::IpAddr::from(b)]);
            assert_eq!(
                native.auth.as_ref().map(|x| x.pass.as_str()),
                auth,
                "{spec:?}"
            );
            assert_eq!(native.virtual_ipaddresses, imported.virtual_ipaddresses);
            for (what, same) in [
                ("version", native.version == imported.version),
                (
                    "interval",
                    native.advert_interval == imported.advert_interval,
                ),
                ("preempt", native.preempt == imported.preempt),
                ("priority", native.priority == imported.priority),
                ("src", native.unicast_src_ip == imported.unicast_src_ip),
                ("peers", native.unicast_peers == imported.unicast_peers),
                ("auth", native.auth == imported.auth),
            ] {
                assert!(same, "{what} differs: {native:?}\n{imported:?}");
            }
        }
    }
}
