//! Helpers of the `auth_hmac` namespace tests (keepalived 2.4's HMAC-SHA256 advert trailer,
//! issue #16): the block as both configuration formats spell it, adverts signed (or forged)
//! the way an attacker or a peer would send them, and a capture of real adverts on a node's
//! bridge port (the node's own XDP program consumes them before any socket inside it sees them).

use std::{
    fmt::Write as _,
    net::{IpAddr, Ipv4Addr},
    time::{Duration, SystemTime},
};

use anyhow::{Context as _, bail};
use havip_agent::vrrp::auth_hmac::{WallClock, trailer};

use crate::{agents::Workdir, frames, netns::NetNs};

/// Key 1 of the tests (32 bytes, keepalived's test vector key).
pub const KEY1: &str = "hex:000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
/// Key 2, for rotations.
pub const KEY2: &str = "hex:202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f";
/// A key nobody configured, for forged HMACs.
pub const KEY_ATTACKER: &str =
    "hex:f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff000102030405060708090a0b0c0d0e0f";

/// One instance's `auth_hmac` block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthHmacSpec {
    /// `(id, value)` of every key line, values as written (`hex:...`).
    pub keys: Vec<(u8, String)>,
    /// The id that signs.
    pub active_key: u8,
    /// `enforce`, `permissive` or `receive-only`.
    pub mode: &'static str,
}

impl AuthHmacSpec {
    /// Key 1 active, in `mode`.
    #[must_use]
    pub fn with_mode(mode: &'static str) -> Self {
        Self {
            keys: vec![(1, KEY1.to_owned())],
            active_key: 1,
            mode,
        }
    }

    /// The `[instance.auth_hmac]` table (it must come last in its `[[instance]]`).
    #[must_use]
    pub fn to_toml(&self) -> String {
        let keys: Vec<String> = self
            .keys
            .iter()
            .map(|(id, k)| format!("{{ id = {id}, key = {k:?} }}"))
            .collect();
        let mut t = String::new();
        let _ = writeln!(t, "[instance.auth_hmac]");
        let _ = writeln!(t, "keys = [{}]", keys.join(", "));
        let _ = writeln!(t, "active_key = {}", self.active_key);
        let _ = writeln!(t, "mode = {:?}", self.mode);
        t
    }

    /// The `auth_hmac { }` block of a `vrrp_instance` (keepalived 2.4 grammar).
    #[must_use]
    pub fn to_keepalived(&self) -> String {
        let mut t = String::new();
        let _ = writeln!(t, "    auth_hmac {{");
        for (id, k) in &self.keys {
            let _ = writeln!(t, "        key {id} {k}");
        }
        let _ = writeln!(t, "        active_key {}", self.active_key);
        let _ = writeln!(t, "        mode {}", self.mode);
        let _ = writeln!(t, "    }}");
        t
    }
}

/// The bytes of a `hex:` key.
///
/// # Panics
/// On a value that is not `hex:` followed by hex digits (the constants above are).
#[must_use]
pub fn key_bytes(value: &str) -> Vec<u8> {
    let hex = value.strip_prefix("hex:").expect("a hex: key");
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex digits"))
        .collect()
}

/// The sequence the wall clock gives now (keepalived `clock_seq`).
#[must_use]
pub fn clock_seq() -> u64 {
    WallClock::from_system(SystemTime::now()).seq()
}

/// A `VRRPv3` advert (VRID 51, interval 100 ms, VIP 192.0.2.200) from `src` to `dst` at
/// `priority`, as an Ethernet frame from `eth_src` to `eth_dst`, with a trailer signed by
/// `key` (id `key_id`) at sequence `seq`, or none when `key` is `None`.
///
/// # Panics
/// When the key is longer than 64 bytes (the constants above are not).
#[must_use]
#[expect(
    clippy::too_many_arguments,
    reason = "one argument per field an attacker picks"
)]
pub fn advert_frame(
    (eth_src, eth_dst): ([u8; 6], [u8; 6]),
    src: Ipv4Addr,
    dst: Ipv4Addr,
    priority: u8,
    key: Option<&str>,
    key_id: u8,
    seq: u64,
    vip: Ipv4Addr,
) -> Vec<u8> {
    let mut msg = frames::vrrp(3, 51, priority, 10, &[vip], None, src, dst);
    if let Some(k) = key {
        let binding = trailer::Binding {
            src: IpAddr::V4(src),
            version: 3,
            vrid: 51,
        };
        let t = trailer::sign(&key_bytes(k), key_id, &binding, &msg, seq).expect("a usable key");
        msg.extend_from_slice(&t);
    }
    let mut f = frames::ipv4(src, dst, 112, 255, &msg);
    f[..6].copy_from_slice(&eth_dst);
    f[6..12].copy_from_slice(&eth_src);
    f
}

/// Captures the first IPv4 VRRP frame from `src` leaving through `port` (a bridge port, in
/// `bridge`'s namespace) within `limit`, with `tcpdump`; the whole Ethernet frame.
pub fn capture_advert(
    bridge: &NetNs,
    port: &str,
    src: Ipv4Addr,
    dir: &Workdir,
    limit: Duration,
) -> anyhow::Result<Vec<u8>> {
    let file = dir.path().join(format!("capture-{port}.pcap"));
    let secs = limit.as_secs().max(1).to_string();
    let filter = format!("ip proto 112 and src host {src}");
    let out = bridge.exec(
        "timeout",
        &[
            &secs,
            "tcpdump",
            "-i",
            port,
            "-Q",
            "out",
            "-c",
            "1",
            "-U",
            "-Z",
            "root",
            "-w",
            file.to_str().context("capture path")?,
            &filter,
        ],
    )?;
    let pcap = std::fs::read(&file)
        .with_context(|| format!("no capture ({})", String::from_utf8_lossy(&out.stderr)))?;
    first_pcap_frame(&pcap)
}

/// The first record of a classic pcap file (24-byte file header, 16-byte record headers).
fn first_pcap_frame(pcap: &[u8]) -> anyhow::Result<Vec<u8>> {
    let magic = pcap.get(..4).context("empty capture")?;
    let le = match magic {
        [0xd4, 0xc3, 0xb2, 0xa1] | [0x4d, 0x3c, 0xb2, 0xa1] => true,
        [0xa1, 0xb2, 0xc3, 0xd4] | [0xa1, 0xb2, 0x3c, 0x4d] => false,
        _ => bail!("not a pcap file"),
    };
    let rec = pcap.get(24..40).context("no frame captured")?;
    let field: [u8; 4] = rec[8..12].try_into()?;
    let caplen = if le {
        u32::from_le_bytes(field)
    } else {
        u32::from_be_bytes(field)
    };
    let len = usize::try_from(caplen)?;
    Ok(pcap.get(40..40 + len).context("short capture")?.to_vec())
}

/// Rounds of each fence-path measurement of [`bench_fence_paths`].
const FENCE_ROUNDS: u32 = 2_000;

/// `bench xdp`'s two fence rows: from a priority-255 advert handed to the XDP program to this
/// node's ownership ended in the map, for a plain instance (the kernel fences in the same
/// invocation) and for an `auth_hmac` instance (the kernel delivers the advert; then the
/// ring-buffer read, the trailer's verification, the decode and the revoke, as the agent does
/// them). Timed in this process with the monotonic clock, including the map read that checks the
/// result; the agent's wake-up on the ring buffer and its state machine step are not included.
/// Runs in the caller's namespace (the bench's own).
#[expect(
    clippy::too_many_lines,
    reason = "setup, two timed paths side by side, and their table"
)]
pub fn bench_fence_paths() -> anyhow::Result<String> {
    use aya::programs::{TestRun as _, TestRunOptions};
    use havip_agent::{
        dataplane::{Dataplane, VridConfig},
        vrrp::{
            AdvertRepr, ChecksumMode,
            auth_hmac::{AntiReplay, AuthHmac, HmacKey, KeyRing, Marks, Mode},
        },
    };
    use havip_common::AdvertEvent;
    use std::time::Instant;

    const LO: u32 = 1;
    const PLAIN: u8 = 61;
    const SIGNED: u8 = 62;
    let (ours, peer) = (Ipv4Addr::new(192, 0, 2, 12), Ipv4Addr::new(192, 0, 2, 11));
    let vip = Ipv4Addr::new(192, 0, 2, 210);
    let mut dp = Dataplane::load()?;
    for (vrid, auth_hmac) in [(PLAIN, false), (SIGNED, true)] {
        let cfg = VridConfig {
            primary_addr: ours.into(),
            priority: 100,
            version: 3,
            unicast_peers: true,
            v3_checksum_as_v2: false,
            auth_pass: None,
            advert_interval: 100,
            vips: vec![vip.into()],
            auth_hmac,
        };
        dp.configure_vrid(LO, vrid, &cfg)?;
        dp.allow_peer(LO, vrid, peer)?;
    }
    let mut events = dp.take_events().context("ring buffer")?;
    let ring = KeyRing::new(vec![(1, HmacKey::new(key_bytes(KEY1))?)], 1)?;
    let mut auth = AuthHmac::new(
        Mode::Enforce,
        AntiReplay::Time { window: 5 },
        ring,
        Marks::unicast([IpAddr::V4(peer)]),
    );
    let run_once = |dp: &mut Dataplane, frame: &[u8]| -> anyhow::Result<()> {
        let mut out = vec![0u8; frame.len() + 64];
        dp.xdp_program()?.test_run(TestRunOptions {
            data_in: Some(frame),
            data_out: Some(&mut out),
            ..TestRunOptions::default()
        })?;
        Ok(())
    };
    let plain_frame = frames::ipv4(
        peer,
        ours,
        112,
        255,
        &frames::vrrp(3, PLAIN, 255, 100, &[vip], None, peer, ours),
    );
    let binding = trailer::Binding {
        src: IpAddr::V4(peer),
        version: 3,
        vrid: SIGNED,
    };
    let (mut plain, mut signed) = (Vec::new(), Vec::new());
    for i in 0..FENCE_ROUNDS {
        dp.grant(LO, PLAIN, Duration::from_secs(3600))?;
        let t0 = Instant::now();
        run_once(&mut dp, &plain_frame)?;
        let ended = !dp.owned_now(LO, PLAIN)?;
        plain.push(t0.elapsed());
        anyhow::ensure!(ended, "the kernel did not fence the plain instance");
        while events.next().is_some() {}

        dp.grant(LO, SIGNED, Duration::from_secs(3600))?;
        let mut msg = frames::vrrp(3, SIGNED, 255, 100, &[vip], None, peer, ours);
        let t = trailer::sign(
            &key_bytes(KEY1),
            1,
            &binding,
            &msg,
            clock_seq() + u64::from(i),
        )?;
        msg.extend_from_slice(&t);
        let frame = frames::ipv4(peer, ours, 112, 255, &msg);
        let t0 = Instant::now();
        run_once(&mut dp, &frame)?;
        anyhow::ensure!(
            dp.owned_now(LO, SIGNED)?,
            "the kernel fenced an auth_hmac instance"
        );
        let ev = {
            let item = events.next().context("no event")?;
            anyhow::ensure!(item.len() >= size_of::<AdvertEvent>(), "short event");
            // SAFETY: a whole AdvertEvent (length checked), plain old data, read unaligned.
            unsafe { std::ptr::read_unaligned(item.as_ptr().cast::<AdvertEvent>()) }
        };
        let len = usize::from(ev.vrrp_len).min(ev.vrrp.len());
        let now = WallClock::from_system(SystemTime::now());
        let (pdu, _) = auth
            .verify(&ev.vrrp[..len], IpAddr::V4(peer), 3, SIGNED, now)
            .map_err(|r| anyhow::anyhow!("refused: {}", r.label()))?;
        let advert = AdvertRepr::parse(pdu, peer, ours, ChecksumMode::PseudoHeader)?;
        anyhow::ensure!(
            advert.priority == 255,
            "decoded priority {}",
            advert.priority
        );
        dp.revoke(LO, SIGNED)?;
        let ended = !dp.owned_now(LO, SIGNED)?;
        signed.push(t0.elapsed());
        anyhow::ensure!(ended, "the revoke did not end ownership");
    }
    let q = |v: &mut Vec<Duration>, p: usize| {
        v.sort_unstable();
        v[(v.len() - 1) * p / 100].as_secs_f64() * 1e6
    };
    let mut t = String::new();
    let _ = writeln!(
        t,
        "\nPriority-255 advert handed to the XDP program -> ownership ended in the map \
         ({FENCE_ROUNDS} rounds, in-process wall clock, map read included; for auth_hmac: ring \
         buffer read, HMAC verify, decode, revoke; the agent's wake-up and state machine step \
         not included):\n"
    );
    let _ = writeln!(t, "| instance | p50 us | p99 us |");
    let _ = writeln!(t, "|---|---:|---:|");
    let _ = writeln!(
        t,
        "| plain (kernel fence) | {:.1} | {:.1} |",
        q(&mut plain, 50),
        q(&mut plain, 99)
    );
    let _ = writeln!(
        t,
        "| auth_hmac (agent verifies, revokes) | {:.1} | {:.1} |",
        q(&mut signed, 50),
        q(&mut signed, 99)
    );
    Ok(t)
}
