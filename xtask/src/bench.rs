//! `cargo xtask bench`: benchmarks, printed as tables and written under `bench-results/`.

use anyhow::Context as _;

use crate::{cmd, setup};

/// Arguments of `cargo xtask bench`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Which benchmark: `xdp` (per-packet cost of each XDP path, kernel-reported, also with 1
    /// and 4,096 VIPs in the table), `failover` (keepalived and havip failing over on one lab,
    /// timed on the wire) or `scale` (1, 50, 255 instances x 16 VIPs: idle CPU and RSS of both
    /// nodes, time until every VIP has moved after a link cut, keepalived and havip).
    #[arg(default_value = "xdp")]
    which: String,
    /// Options of the benchmark, passed on (failover: `--runs N`, `--intervals 10ms,100ms,1s`,
    /// `--scenarios cut,kill,term,stop,preempt`, `--implementations keepalived,havip`,
    /// `--probe-us 1000`, `--fast-probe-us 100`, `--stop-ms 3000`, `--dry-run`; `--stress
    /// [--stress-secs 60]`: every CPU saturated at 10 ms adverts, transitions counted, without
    /// and with real-time settings; `--bfd`: link cut at `advert_int 1` with BFD, havip 1 ms x 3
    /// and 10 ms x 3, keepalived; `--restart [--restarts 20]`: planned restarts of the master,
    /// keepalived's stop+start beside havip's stop --keep-ownership + start and run --takeover;
    /// scale: `--instances 1,50,255`, `--vips 16`, `--interval 100ms`, `--idle-s 10`,
    /// `--implementations keepalived,havip`).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    rest: Vec<String>,
}

/// Entry point.
pub fn run(args: &Args) -> anyhow::Result<()> {
    setup::run_setup()?;
    anyhow::ensure!(cmd::is_root(), "benchmarks load BPF programs and need root");
    let out_dir = cmd::root().join("bench-results");
    std::fs::create_dir_all(&out_dir).context("creating bench-results/")?;
    match args.which.as_str() {
        "xdp" => {
            // Built in release; runs in a namespace of its own (live-frames mode transmits the
            // XDP_TX frames on that namespace's loopback).
            let bin = build_bench()?;
            let out = out_dir.join("xdp.md");
            cmd::run(
                std::process::Command::new(bin)
                    .arg("xdp")
                    .arg("--out")
                    .arg(&out)
                    .args(&args.rest),
            )?;
            println!("written: {}", out.display());
            Ok(())
        }
        "failover" | "scale" => {
            // The agent measured is the release build, found beside the bench binary.
            cmd::build_agent(true)?;
            let bin = build_bench()?;
            cmd::run(
                std::process::Command::new(bin)
                    .arg(&args.which)
                    .arg("--out-dir")
                    .arg(&out_dir)
                    .args(&args.rest),
            )
        }
        other => anyhow::bail!("unknown benchmark {other:?} (known: xdp, failover, scale)"),
    }
}

/// Builds `havip-bench` in release; returns its path.
fn build_bench() -> anyhow::Result<std::path::PathBuf> {
    let mut c = cmd::cargo();
    c.args([
        "build",
        "--release",
        "-p",
        "havip-tests",
        "--bin",
        "havip-bench",
    ]);
    cmd::run(&mut c)?;
    Ok(cmd::root().join("target/release/havip-bench"))
}
