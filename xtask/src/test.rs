//! `cargo xtask test`: setup, build, then every test in the workspace, with a one-line summary.

use std::{
    io::{BufRead as _, BufReader},
    process::Stdio,
    time::Instant,
};

use anyhow::{Context as _, bail};

use crate::{cmd, setup};

/// Arguments of `cargo xtask test`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only tests whose name contains this (passed to the test harness).
    filter: Option<String>,
}

#[derive(Default)]
struct Tally {
    passed: u64,
    failed: u64,
    ignored: u64,
    suites: u64,
}

impl Tally {
    /// Parses libtest's `test result: ok. 8 passed; 0 failed; 0 ignored; ...`.
    fn add(&mut self, line: &str) {
        let Some(rest) = line.trim().strip_prefix("test result: ") else {
            return;
        };
        self.suites += 1;
        for part in rest.split(';') {
            let mut words = part.split_whitespace().rev();
            let (Some(kind), Some(n)) = (words.next(), words.next()) else {
                continue;
            };
            let n: u64 = n.parse().unwrap_or(0);
            match kind {
                "passed" => self.passed += n,
                "failed" => self.failed += n,
                "ignored" => self.ignored += n,
                _ => {}
            }
        }
    }
}

/// Entry point.
pub fn run(args: &Args) -> anyhow::Result<()> {
    let start = Instant::now();
    setup::run_setup()?;
    let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    let root = cmd::is_root();
    if !root {
        if ci {
            bail!("CI=true: the namespace and BPF tests need root, and CI forbids skipping them");
        }
        println!("warning: not root: namespace and BPF tests will SKIP (they fail under CI=true)");
    }
    // The namespace tests run the agent binary; build it first (after the upgrade tests' one,
    // which is built under the same name).
    cmd::build_upgrade_test_agent()?;
    cmd::build_agent(false)?;
    let mut c = cmd::cargo();
    // The eBPF crate only builds for the BPF target (havip-agent's build.rs builds it).
    c.args([
        "test",
        "--workspace",
        "--exclude",
        "havip-ebpf",
        "--no-fail-fast",
    ]);
    if let Some(f) = &args.filter {
        c.args(["--", f]);
    }
    println!("+ cargo test --workspace --exclude havip-ebpf --no-fail-fast");
    let mut child = c
        .stdout(Stdio::piped())
        .spawn()
        .context("spawning cargo test")?;
    let mut tally = Tally::default();
    if let Some(out) = child.stdout.take() {
        for line in BufReader::new(out).lines() {
            let line = line.context("reading cargo test output")?;
            println!("{line}");
            tally.add(&line);
        }
    }
    let status = child.wait().context("waiting for cargo test")?;
    let secs = start.elapsed().as_secs();
    println!(
        "havip tests: {} passed, {} failed, {} ignored in {} suites, {secs} s (root: {root}, CI: {ci}){}",
        tally.passed,
        tally.failed,
        tally.ignored,
        tally.suites,
        if status.success() { "" } else { " -- FAILED" }
    );
    if !status.success() {
        bail!("tests failed");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::Tally;

    #[test]
    fn tally_parses_libtest_summaries() {
        let mut t = Tally::default();
        t.add("test result: ok. 8 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.05s");
        t.add("test result: FAILED. 3 passed; 2 failed; 0 ignored; 0 measured; 0 filtered out");
        t.add("running 4 tests");
        assert_eq!((t.passed, t.failed, t.ignored, t.suites), (11, 2, 1, 2));
    }
}
