//! Shared harness of havip's root-only integration tests: network namespaces with RAII cleanup
//! ([`netns`]), an ARP prober ([`prober`]), running agent processes ([`proc`]), metrics scrapes
//! and promtool ([`scrape`]), the failover and scale benchmarks ([`failover`], [`scale`]), and the rule for tests that
//! need root ([`require_root`]).

pub mod agents;
pub mod auth_hmac;
pub mod entry;
pub mod failover;
pub mod fake_clouds;
pub mod fake_vpc;
pub mod forge;
pub mod frames;
pub mod frames6;
pub mod garp;
pub mod ndp_prober;
pub mod netns;
pub mod pair;
pub mod pair6;
pub mod prober;
pub mod proc;
pub mod restart;
pub mod scale;
pub mod scale_wire;
pub mod scrape;

/// Whether the tests run in CI (`CI=true`), where a test that cannot run must fail.
#[must_use]
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Returns `true` if the test may run. Without root: panics under `CI=true` (a skipped test must
/// not look like a pass there), otherwise prints a loud SKIP line and returns `false`.
/// # Panics
/// Without root when `CI=true`.
#[must_use]
pub fn require_root(test: &str) -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        return true;
    }
    assert!(
        !in_ci(),
        "{test} needs root (network namespaces, BPF) and CI=true forbids skipping"
    );
    eprintln!("SKIP {test}: needs root (network namespaces, BPF); run `sudo cargo xtask test`");
    false
}

/// Path of the `havip-agent` binary built beside this test (`cargo xtask test` builds it first),
/// or `HAVIP_AGENT_BIN`.
pub fn agent_bin() -> anyhow::Result<std::path::PathBuf> {
    if let Some(p) = std::env::var_os("HAVIP_AGENT_BIN") {
        return Ok(p.into());
    }
    let exe = std::env::current_exe()?;
    // Tests run from target/<profile>/deps/, binaries (the lab, benches) from target/<profile>/.
    let candidates: Vec<std::path::PathBuf> = exe
        .ancestors()
        .skip(1)
        .take(2)
        .map(|d| d.join("havip-agent"))
        .collect();
    candidates
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .ok_or_else(|| {
            anyhow::anyhow!(
                "havip-agent not found beside {}: build it first (`cargo build -p havip-agent`; \
                 `cargo xtask test` does)",
                exe.display()
            )
        })
}
