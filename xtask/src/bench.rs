//! `cargo xtask bench`: benchmarks, printed as tables and written under `bench-results/`.

use anyhow::Context as _;

use crate::{cmd, setup};

/// Arguments of `cargo xtask bench`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Which benchmark: `xdp` (per-packet cost of each XDP path, kernel-reported).
    #[arg(default_value = "xdp")]
    which: String,
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
            let bin = cmd::root().join("target/release/havip-bench");
            let out = out_dir.join("xdp.md");
            cmd::run(
                std::process::Command::new(bin)
                    .arg("xdp")
                    .arg("--out")
                    .arg(&out),
            )?;
            println!("written: {}", out.display());
            Ok(())
        }
        other => anyhow::bail!("unknown benchmark {other:?} (known: xdp)"),
    }
}
