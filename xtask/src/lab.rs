//! `cargo xtask lab`: the namespace lab with real agents (see README).

use crate::{cmd, setup};

/// Arguments of `cargo xtask lab`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// VRRP advert interval of the lab's instances.
    #[arg(long, default_value = "100ms")]
    advert_interval: String,
}

/// Entry point.
pub fn run(args: &Args) -> anyhow::Result<()> {
    setup::run_setup()?;
    anyhow::ensure!(
        cmd::is_root(),
        "the lab creates network namespaces and needs root"
    );
    let mut c = cmd::cargo();
    c.args(["build", "-p", "havip-agent", "-p", "havip-tests", "--bins"]);
    cmd::run(&mut c)?;
    let bin = cmd::root().join("target/debug/havip-lab");
    cmd::run(
        std::process::Command::new(bin)
            .arg("--advert-interval")
            .arg(&args.advert_interval),
    )
}
