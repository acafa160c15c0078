//! `cargo xtask setup`: installs what a fresh Debian bookworm machine lacks, skipping what is
//! present. Versions are the ones verified in TOOLCHAIN.md.

use std::process::Command;

use anyhow::{Context as _, bail};

use crate::cmd::{self, output, run};

/// Userspace toolchain (aya 0.16 needs rustc >= 1.98).
pub const USER_TOOLCHAIN: &str = "1.99.1";
/// eBPF toolchain: its LLVM (22.1.8) matches Debian's llvm-22 that bpf-linker links against.
pub const EBPF_TOOLCHAIN: &str = "nightly-2026-08-01";
const BPF_LINKER_VERSION: &str = "0.13.0";

/// Debian packages: LLVM for bpf-linker, network tools for the lab and tests, keepalived as the
/// interop peer, systemd for `systemd-analyze verify` of the unit, prometheus for promtool.
const APT_PACKAGES: &[&str] = &[
    "llvm-22-dev",
    "libpolly-22-dev",
    "libzstd-dev",
    "zlib1g-dev",
    "iproute2",
    "iputils-ping",
    "tcpdump",
    // ethtool: tests keep VLAN tags inside frames on the bridge's ports (see hostile_frames_ns).
    "ethtool",
    "keepalived",
    // frr: bfdd as the BFD interop peer (bfd_ns). Its service is disabled right after the
    // install (see `apt`); tests start bfdd only inside their namespaces.
    "frr",
    "systemd",
    // promtool: `check metrics` on a real scrape, `check rules` / `test rules` on the alerts.
    "prometheus",
];

/// Installs what is missing; every other task calls this first.
pub fn run_setup() -> anyhow::Result<()> {
    apt()?;
    toolchains()?;
    bpf_linker()?;
    println!("setup: done");
    Ok(())
}

fn apt() -> anyhow::Result<()> {
    let missing: Vec<&str> = APT_PACKAGES
        .iter()
        .copied()
        .filter(|p| {
            !output(Command::new("dpkg-query").args(["-W", "-f=${Status}", p]))
                .is_some_and(|s| s.contains("install ok installed"))
        })
        .collect();
    if missing.is_empty() {
        println!("setup: apt packages present ({})", APT_PACKAGES.join(" "));
        return Ok(());
    }
    if !cmd::is_root() {
        bail!(
            "missing Debian packages {}; run as root (or: sudo apt-get install {})",
            missing.join(" "),
            missing.join(" ")
        );
    }
    println!("setup: installing {}", missing.join(" "));
    run(Command::new("apt-get").args(["update", "-q"]))?;
    run(Command::new("apt-get")
        .env("DEBIAN_FRONTEND", "noninteractive")
        .args(["install", "-y", "-q", "--no-install-recommends"])
        .args(&missing))?;
    if missing.contains(&"frr") {
        // Installing frr enables frr.service; FRR must never run as a host service here.
        let _ = run(Command::new("systemctl").args(["disable", "--now", "frr.service"]));
    }
    Ok(())
}

fn toolchains() -> anyhow::Result<()> {
    let list = output(Command::new("rustup").args(["toolchain", "list"]))
        .context("rustup is required (https://rustup.rs)")?;
    for (tc, components) in [
        (USER_TOOLCHAIN, "rustfmt,clippy"),
        (EBPF_TOOLCHAIN, "rust-src"),
    ] {
        let installed = list.lines().any(|l| l.starts_with(&format!("{tc}-")));
        let have = output(Command::new("rustup").args([
            "component",
            "list",
            "--installed",
            "--toolchain",
            tc,
        ]))
        .unwrap_or_default();
        let complete = components
            .split(',')
            .all(|c| have.lines().any(|l| l.starts_with(c)));
        if installed && complete {
            println!("setup: toolchain {tc} present with {components}");
            continue;
        }
        run(Command::new("rustup").args([
            "toolchain",
            "install",
            tc,
            "--profile",
            "minimal",
            "--component",
            components,
        ]))?;
    }
    // A directory override outranks rust-toolchain.toml (which must name an always-present
    // toolchain, see that file), so every cargo command in this checkout uses the pinned one.
    let root = cmd::root();
    let active = output(
        Command::new("rustup")
            .args(["show", "active-toolchain"])
            .current_dir(&root),
    )
    .unwrap_or_default();
    if active.starts_with(USER_TOOLCHAIN) {
        println!("setup: {USER_TOOLCHAIN} is active in {}", root.display());
    } else {
        run(Command::new("rustup")
            .args(["override", "set", USER_TOOLCHAIN, "--path"])
            .arg(&root))?;
    }
    Ok(())
}

fn bpf_linker() -> anyhow::Result<()> {
    if output(Command::new("bpf-linker").arg("--version"))
        .is_some_and(|v| v.contains(BPF_LINKER_VERSION))
    {
        println!("setup: bpf-linker {BPF_LINKER_VERSION} present");
        return Ok(());
    }
    // Built outside the workspace so its own toolchain file and lock do not interfere.
    run(Command::new("cargo")
        .current_dir("/")
        .env("LLVM_PREFIX", "/usr/lib/llvm-22")
        .args([
            "install",
            "bpf-linker",
            "--version",
            BPF_LINKER_VERSION,
            "--no-default-features",
            "--features",
            "llvm-22",
            "--locked",
        ]))
}
