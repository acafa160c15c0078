//! Bounded configuration input (issue 10) and the settings that guard a running agent: the
//! limits of `config::limits`, includes that are not regular files, capped diagnostics, the
//! lease bound and `allow_no_instances`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use havip_agent::config::{
    self, ConfigError, Diagnostic, Format, Loaded, ReadError, Severity, limits,
};

/// A scratch directory removed on drop.
struct Dir(PathBuf);

impl Dir {
    fn new(tag: &str) -> Self {
        let path = std::env::temp_dir().join(format!("havip-bounds-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("scratch dir");
        Self(path)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, text).expect("write");
        path
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn errors(result: Result<Loaded, ConfigError>) -> Vec<Diagnostic> {
    match result {
        Err(ConfigError::Invalid { diagnostics, .. }) => diagnostics
            .into_iter()
            .filter(Diagnostic::is_error)
            .collect(),
        other => panic!("should be invalid: {other:?}"),
    }
}

fn has(diagnostics: &[Diagnostic], needle: &str) -> bool {
    diagnostics.iter().any(|d| d.to_string().contains(needle))
}

const INSTANCE: &str = "vrrp_instance VI_1 {\n    interface lo\n    virtual_router_id 1\n}\n";

#[test]
fn a_fifo_without_writer_as_main_file_or_include_does_not_block() {
    let dir = Dir::new("fifo");
    let fifo = dir.0.join("fifo.conf");
    let c_path = std::ffi::CString::new(fifo.to_str().expect("utf-8")).expect("path");
    // SAFETY: mkfifo with a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
    match config::load(&fifo, Format::Auto) {
        Err(ConfigError::Read {
            source: ReadError::NotRegular { kind: "FIFO" },
            ..
        }) => {}
        other => panic!("{other:?}"),
    }
    let main = dir.write("k.conf", &format!("include fifo.conf\n{INSTANCE}"));
    let loaded = config::load(&main, Format::Auto).expect("runs without the FIFO");
    assert!(
        has(&loaded.diagnostics, "k.conf:1:9: warning: included"),
        "{:?}",
        loaded.diagnostics
    );
    assert!(has(&loaded.diagnostics, "not a regular file (a FIFO)"));
    // A checked include of it is an error, as keepalived's includer is.
    let checked = dir.write("c.conf", &format!("includer fifo.conf\n{INSTANCE}"));
    assert!(has(
        &errors(config::load(&checked, Format::Auto)),
        "not a regular file"
    ));
}

#[test]
fn device_and_directory_includes_are_skipped() {
    let dir = Dir::new("dev");
    std::fs::create_dir(dir.0.join("sub")).expect("mkdir");
    let main = dir.write(
        "k.conf",
        &format!("include /dev/zero\ninclude sub\n{INSTANCE}"),
    );
    let loaded = config::load(&main, Format::Auto).expect("loads");
    let warnings: Vec<String> = loaded
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Warning)
        .map(ToString::to_string)
        .collect();
    assert_eq!(warnings.len(), 2, "{warnings:#?}");
    assert!(warnings[0].contains("a character device"), "{warnings:#?}");
    assert!(warnings[1].contains("a directory"), "{warnings:#?}");
}

#[test]
fn size_limits_per_file_and_in_all() {
    let dir = Dir::new("size");
    let pad = |bytes: u64| "#".repeat(usize::try_from(bytes).unwrap_or(0));
    let big = dir.write("big.conf", &pad(limits::MAX_FILE_BYTES + 1));
    assert!(matches!(
        config::load(&big, Format::Keepalived),
        Err(ConfigError::Read {
            source: ReadError::TooLarge { .. },
            ..
        })
    ));
    let toml = dir.write("big.toml", &pad(limits::MAX_FILE_BYTES + 1));
    assert!(matches!(
        config::load(&toml, Format::Auto),
        Err(ConfigError::Read { .. })
    ));
    // Three files just under the per-file limit exceed the total.
    let half = limits::MAX_FILE_BYTES - 16;
    for name in ["a.inc", "b.inc", "c.inc"] {
        dir.write(name, &pad(half));
    }
    let main = dir.write("k.conf", "include a.inc\ninclude b.inc\ninclude c.inc\n");
    let e = errors(config::load(&main, Format::Auto));
    // a.inc fits; with the main file's bytes, b.inc and c.inc would not.
    assert_eq!(e.len(), 2, "{e:?}");
    assert!(
        has(&e, "k.conf:2:9: error:") && has(&e, "k.conf:3:9: error:"),
        "{e:?}"
    );
    assert!(has(&e, "exceed"), "{e:?}");
}

#[test]
fn include_depth_and_count_are_limited() {
    let dir = Dir::new("incl");
    // Each file includes the next: deeper than the limit.
    for i in 0..=limits::MAX_INCLUDE_DEPTH + 1 {
        dir.write(&format!("{i}.conf"), &format!("include {}.conf\n", i + 1));
    }
    let e = errors(config::load(&dir.0.join("0.conf"), Format::Keepalived));
    assert!(has(&e, "includes nest more than 16 deep"), "{e:?}");

    // One file including many.
    let names: Vec<String> = (0..=limits::MAX_INCLUDE_FILES)
        .map(|i| format!("f{i}.inc"))
        .collect();
    for name in &names {
        dir.write(name, "");
    }
    let main = dir.write("many.conf", "include f*.inc\n");
    let e = errors(config::load(&main, Format::Keepalived));
    assert!(has(&e, "more than 1024 files"), "{e:?}");
}

#[test]
fn block_depth_token_and_directive_limits_are_errors_with_positions() {
    let deep = format!(
        "vrrp_instance VI_1 {{\n{}{}}}\n",
        "a {\n".repeat(100),
        "}\n".repeat(100)
    );
    let e = errors(config::load_str(
        &deep,
        Path::new("d.conf"),
        Format::Keepalived,
    ));
    // The instance block is depth 1: the 32nd `a {` (line 33) opens block 33.
    assert!(
        has(&e, "d.conf:33:3: error: blocks nest more than 32 deep"),
        "{e:?}"
    );

    let tokens = "{}".repeat(limits::MAX_TOKENS / 2 + 1);
    let e = errors(config::load_str(
        &tokens,
        Path::new("t.conf"),
        Format::Keepalived,
    ));
    assert!(has(&e, "more than 1000000 words and braces"), "{e:?}");

    let directives = "a\n".repeat(limits::MAX_DIRECTIVES + 1);
    let e = errors(config::load_str(
        &directives,
        Path::new("n.conf"),
        Format::Keepalived,
    ));
    assert!(
        has(&e, "n.conf:100001:1: error: more than 100000 directives"),
        "{e:?}"
    );
}

#[test]
fn nested_bare_braces_do_not_nest() {
    // keepalived ignores a `{` without a keyword: the lines after it belong to the enclosing
    // block, so 100 000 of them cost no stack.
    let text = format!(
        "{}{INSTANCE}{}",
        "{\n".repeat(100_000),
        "}\n".repeat(100_000)
    );
    let loaded = config::load_str(&text, Path::new("b.conf"), Format::Keepalived).expect("runs");
    assert_eq!(loaded.config.instances.len(), 1);
    assert!(loaded.diagnostics.len() <= 2 * limits::MAX_DIAGNOSTICS_PER_KIND + 2);
}

#[test]
fn diagnostics_are_capped_per_kind_with_a_summary() {
    let text = format!("{}{INSTANCE}", "unknown_thing 1\n".repeat(5000));
    let loaded = config::load_str(&text, Path::new("u.conf"), Format::Keepalived).expect("runs");
    let d = &loaded.diagnostics;
    assert_eq!(d.len(), limits::MAX_DIAGNOSTICS_PER_KIND + 1, "{d:#?}");
    let summary = d.last().map(ToString::to_string).unwrap_or_default();
    assert!(
        summary.contains("4990 more warning(s) not shown, the first of them: unknown top-level"),
        "{summary}"
    );
    // A hidden error still fails the load.
    let text = format!("{}{INSTANCE}", "$VAR 1\n".repeat(50));
    let e = errors(config::load_str(
        &text,
        Path::new("e.conf"),
        Format::Keepalived,
    ));
    assert_eq!(e.len(), limits::MAX_DIAGNOSTICS_PER_KIND + 1);
}

#[test]
fn deeply_nested_toml_is_an_error_not_a_crash() {
    let text = format!(
        "[global]\nx = {}1{}\n",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    assert!(config::load_str(&text, Path::new("h.toml"), Format::Toml).is_err());
    let text = format!(
        "[global]\nx = {}1{}\n",
        "{a=".repeat(100_000),
        "}".repeat(100_000)
    );
    assert!(config::load_str(&text, Path::new("h.toml"), Format::Toml).is_err());
}

fn toml(global: &str, interval: &str) -> String {
    format!(
        "[global]\n{global}\n\n[[instance]]\nname = \"VI_1\"\ninterface = \"eth0\"\nvrid = 1\nversion \
         = 3\nadvert_interval = \"{interval}\"\n"
    )
}

#[test]
fn lease_must_be_shorter_than_three_advert_intervals() {
    let ok = config::load_str(
        &toml("lease = \"299ms\"", "100ms"),
        Path::new("l.toml"),
        Format::Toml,
    );
    assert_eq!(
        ok.expect("299ms < 3 x 100ms").config.global.lease,
        Some(Duration::from_millis(299))
    );
    let e = errors(config::load_str(
        &toml("lease = \"300ms\"", "100ms"),
        Path::new("l.toml"),
        Format::Toml,
    ));
    assert_eq!(e.len(), 1, "{e:?}");
    let text = e[0].to_string();
    assert!(
        text.starts_with(
            "l.toml:2:9: error: global.lease: lease 300ms must be shorter than 3 x \
                          advert_interval of instance `VI_1` (100ms x 3 = 300ms)"
        ),
        "{text}"
    );
    // Through the sidecar of a keepalived.conf too.
    let dir = Dir::new("lease");
    let main = dir.write("k.conf", INSTANCE);
    dir.write("k.conf.havip.toml", "[global]\nlease = \"3s\"\n");
    let e = errors(config::load(&main, Format::Auto));
    assert!(
        has(
            &e,
            "lease 3s must be shorter than 3 x advert_interval of instance `VI_1` (1s x 3 = 3s)"
        ),
        "{e:?}"
    );
}

#[test]
fn allow_no_instances_defaults_to_false_and_is_read_from_toml_and_sidecar() {
    let empty = config::load_str("[global]\n", Path::new("e.toml"), Format::Toml).expect("loads");
    assert!(!empty.config.global.allow_no_instances);
    assert!(has(
        &empty.diagnostics,
        "no VRRP instance is configured; a running agent refuses"
    ));
    let allowed = config::load_str(
        "[global]\nallow_no_instances = true\n",
        Path::new("e.toml"),
        Format::Toml,
    )
    .expect("loads");
    assert!(allowed.config.global.allow_no_instances);
    let dir = Dir::new("allow");
    let main = dir.write("k.conf", "# emptied\n");
    dir.write("k.conf.havip.toml", "[global]\nallow_no_instances = true\n");
    let loaded = config::load(&main, Format::Auto).expect("loads");
    assert!(loaded.config.global.allow_no_instances);
    assert_eq!(loaded.config.instances.len(), 0);
}

#[test]
fn load_results_can_cross_threads() {
    // A reload runs `config::load` on a blocking task and sends the result to the event loop.
    fn send<T: Send + 'static>() {}
    send::<Result<Loaded, ConfigError>>();
    let handle = std::thread::spawn(|| {
        config::load_str(INSTANCE, Path::new("t.conf"), Format::Keepalived).map(|l| l.config)
    });
    let config = handle.join().expect("thread").expect("loads");
    assert_eq!(config.instances[0].name, "VI_1");
}
