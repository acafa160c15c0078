//! Running external commands: echoed, checked, and from the workspace root.

use std::{
    path::PathBuf,
    process::{Command, Stdio},
};

use anyhow::{Context as _, bail};

/// The workspace root (xtask's manifest dir is `<root>/xtask`).
pub fn root() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.parent().map_or(here.clone(), PathBuf::from)
}

/// Runs `cmd`, echoing it, failing on a non-zero exit.
pub fn run(cmd: &mut Command) -> anyhow::Result<()> {
    println!("+ {}", show(cmd));
    let status = cmd
        .status()
        .with_context(|| format!("spawning {}", show(cmd)))?;
    if !status.success() {
        bail!("{} failed: {status}", show(cmd));
    }
    Ok(())
}

/// Runs `cmd` quietly and returns its stdout, or `None` if it could not run or failed.
pub fn output(cmd: &mut Command) -> Option<String> {
    let out = cmd.stderr(Stdio::null()).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A `cargo` command in the workspace root, on the pinned userspace toolchain.
///
/// rustup exports `RUSTUP_TOOLCHAIN` to the processes it starts, so `cargo xtask` on a fresh
/// clone (started before `setup` set the directory override) would hand its own toolchain down
/// to every nested cargo. Naming the toolchain here makes the choice explicit.
pub fn cargo() -> Command {
    let mut c = Command::new("cargo");
    c.current_dir(root())
        .env("RUSTUP_TOOLCHAIN", crate::setup::USER_TOOLCHAIN)
        .env_remove("CARGO")
        .env_remove("RUSTC")
        .env_remove("RUSTDOC");
    c
}

/// Whether we run as root.
pub fn is_root() -> bool {
    output(Command::new("id").arg("-u")).is_some_and(|s| s.trim() == "0")
}

fn show(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

/// Builds the upgrade tests' "new binary" (debug, feature `upgrade-test`: same ABI, another
/// XDP program) as `target/debug/havip-agent-upgrade-test`. Build it before the normal agent:
/// both are built as `target/debug/havip-agent`.
pub fn build_upgrade_test_agent() -> anyhow::Result<PathBuf> {
    let mut c = cargo();
    c.args([
        "build",
        "-p",
        "havip-agent",
        "--bins",
        "--features",
        "upgrade-test",
    ]);
    run(&mut c)?;
    let dir = root().join("target").join("debug");
    let to = dir.join("havip-agent-upgrade-test");
    std::fs::copy(dir.join("havip-agent"), &to)
        .with_context(|| format!("copying the upgrade-test agent to {}", to.display()))?;
    Ok(to)
}

/// Builds the agent (debug or release) with its embedded eBPF object; returns the binary path.
pub fn build_agent(release: bool) -> anyhow::Result<PathBuf> {
    let mut c = cargo();
    c.args(["build", "-p", "havip-agent", "--bins"]);
    if release {
        c.arg("--release");
    }
    run(&mut c)?;
    Ok(root()
        .join("target")
        .join(if release { "release" } else { "debug" })
        .join("havip-agent"))
}
