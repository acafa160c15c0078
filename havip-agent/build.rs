//! Builds the XDP program (havip-ebpf) with the pinned nightly and bpf-linker, so that plain
//! `cargo build` produces an agent with the eBPF object embedded. Without the `ebpf` feature it
//! builds nothing, so the pure modules compile without that toolchain.

/// The nightly whose LLVM (22.1.8) matches the bpf-linker built by `cargo xtask setup`.
#[cfg(feature = "ebpf")]
const EBPF_TOOLCHAIN: &str = "nightly-2026-08-01";

#[cfg(feature = "ebpf")]
fn main() -> anyhow::Result<()> {
    // aya-build forwards every stderr line of the inner build as a warning; keep real errors only.
    // SAFETY: build scripts are single-threaded at this point.
    unsafe { std::env::set_var("CARGO_TERM_QUIET", "true") };
    let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let ebpf_dir = manifest.join("../havip-ebpf");
    let root_dir = ebpf_dir
        .to_str()
        .ok_or_else(|| anyhow::anyhow!("non-UTF-8 path {}", ebpf_dir.display()))?;
    println!("cargo:rerun-if-changed=../havip-common/src");
    // The upgrade tests' "new binary" carries a program that differs (test only).
    let features: &[&str] = if std::env::var_os("CARGO_FEATURE_UPGRADE_TEST").is_some() {
        &["upgrade-test"]
    } else {
        &[]
    };
    aya_build::build_ebpf(
        [aya_build::Package {
            name: "havip-ebpf",
            root_dir,
            features,
            ..Default::default()
        }],
        aya_build::Toolchain::Custom(EBPF_TOOLCHAIN),
    )
}

#[cfg(not(feature = "ebpf"))]
fn main() {
    // Nothing to build; without this line cargo would rerun the script on any file change.
    println!("cargo:rerun-if-changed=build.rs");
}
