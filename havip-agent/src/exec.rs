//! Running external programs (track scripts, notify scripts) the way keepalived does, but never
//! unbounded: command lines split into words, run as a configured user, stdin closed, output
//! captured, and the whole process group killed when the time limit passes.

use std::{
    ffi::CString,
    os::unix::fs::MetadataExt as _,
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use tokio::process::Command;

/// Errors preparing a command (at configuration time, so they are reported before running).
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// The command line is empty or has an unterminated quote.
    #[error("command line {line:?}: {what}")]
    BadLine {
        /// The line.
        line: String,
        /// What is wrong.
        what: &'static str,
    },
    /// A user or group name does not exist.
    #[error("unknown {what} {name:?}")]
    UnknownId {
        /// "user" or "group".
        what: &'static str,
        /// The name.
        name: String,
    },
    /// The program was not found on `PATH`.
    #[error("{program:?} not found (absolute path or on PATH)")]
    NotFound {
        /// The program.
        program: String,
    },
    /// `enable_script_security`: the program or a directory above it could be changed by a
    /// user other than root.
    #[error("{path} is writable by a non-root user and would run as root (enable_script_security)")]
    Insecure {
        /// The offending path.
        path: PathBuf,
    },
}

/// A command ready to run: program, arguments and credentials.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Prepared {
    /// The words of the command line; the first is the program.
    pub argv: Vec<String>,
    /// Run as this uid/gid (`None`: as the agent).
    pub creds: Option<(u32, u32)>,
}

/// How one run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// Exit code (`None` if killed by a signal or by the time limit, or if it could not start).
    pub code: Option<i32>,
    /// It hit the time limit and was killed.
    pub timed_out: bool,
    /// Why it could not start, if it could not.
    pub spawn_error: Option<String>,
    /// The first bytes of stdout and stderr, for logs.
    pub output: String,
}

impl Outcome {
    /// Exit code 0.
    #[must_use]
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }
}

/// Longest output kept for logs.
const OUTPUT_LIMIT: usize = 512;

/// Splits a command line into words as keepalived does: whitespace separates words; single or
/// double quotes keep what they enclose (spaces included) in one word.
pub fn split_words(line: &str) -> Result<Vec<String>, ExecError> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    for c in line.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => cur.push(c),
            None if c == '\'' || c == '"' => {
                quote = Some(c);
                in_word = true;
            }
            None if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            None => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if quote.is_some() {
        return Err(ExecError::BadLine {
            line: line.to_owned(),
            what: "unterminated quote",
        });
    }
    if in_word {
        words.push(cur);
    }
    if words.is_empty() {
        return Err(ExecError::BadLine {
            line: line.to_owned(),
            what: "empty",
        });
    }
    Ok(words)
}

/// Prepares `line` to run as `user`/`group` (names; `None`: as the agent). With `secure`
/// (keepalived `enable_script_security`), refuses a program that would run as root while a
/// non-root user could modify it.
pub fn prepare(
    line: &str,
    user: Option<&str>,
    group: Option<&str>,
    secure: bool,
) -> Result<Prepared, ExecError> {
    let argv = split_words(line)?;
    let creds = match user {
        Some(u) => {
            let (uid, primary) = lookup_user(u)?;
            let gid = match group {
                Some(g) => lookup_group(g)?,
                None => primary,
            };
            Some((uid, gid))
        }
        None => None,
    };
    let runs_as_root = creds.is_none_or(|(uid, _)| uid == 0);
    if secure && runs_as_root {
        let program = argv.first().map(String::as_str).unwrap_or_default();
        let path = resolve(program).ok_or_else(|| ExecError::NotFound {
            program: program.to_owned(),
        })?;
        check_secure(&path)?;
    }
    Ok(Prepared { argv, creds })
}

/// [`prepare`] with keepalived's defaults from `global`: a command that names no user (or
/// group) runs as `script_user` (`script_group`), under `enable_script_security`.
pub fn prepare_with_defaults(
    line: &str,
    user: Option<&str>,
    group: Option<&str>,
    global: &crate::config::Global,
) -> Result<Prepared, ExecError> {
    prepare(
        line,
        user.or(global.script_user.as_deref()),
        group.or(global.script_group.as_deref()),
        global.enable_script_security,
    )
}

/// Runs `cmd` with `extra` arguments appended, killing its process group after `limit`.
pub async fn run(cmd: &Prepared, extra: &[String], limit: Duration) -> Outcome {
    let Some((program, args)) = cmd.argv.split_first() else {
        return Outcome {
            code: None,
            timed_out: false,
            spawn_error: Some("empty command".to_owned()),
            output: String::new(),
        };
    };
    let mut c = Command::new(program);
    c.args(args)
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .process_group(0);
    if let Some((uid, gid)) = cmd.creds {
        c.uid(uid).gid(gid);
    }
    let mut child = match c.spawn() {
        Ok(child) => child,
        Err(e) => {
            return Outcome {
                code: None,
                timed_out: false,
                spawn_error: Some(e.to_string()),
                output: String::new(),
            };
        }
    };
    let pgid = child.id().and_then(|p| i32::try_from(p).ok());
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let finished = async {
        // Both pipes drained concurrently with the wait: a child blocked on a full stderr pipe
        // while we read stdout would otherwise run into its time limit.
        let (out, err, status) = tokio::join!(
            read_capped(stdout, OUTPUT_LIMIT),
            read_capped(stderr, OUTPUT_LIMIT),
            child.wait()
        );
        status.map(|s| (s, out, err))
    };
    match tokio::time::timeout(limit, finished).await {
        Ok(Ok((status, out, err))) => {
            let mut text = String::from_utf8_lossy(&out.kept).into_owned();
            text.push_str(&String::from_utf8_lossy(&err.kept));
            let cut = out.discarded > 0 || err.discarded > 0;
            Outcome {
                code: status.code(),
                timed_out: false,
                spawn_error: None,
                output: truncate(text.trim(), cut),
            }
        }
        Ok(Err(e)) => Outcome {
            code: None,
            timed_out: false,
            spawn_error: Some(e.to_string()),
            output: String::new(),
        },
        Err(_) => {
            // The child itself is killed on drop; its own children go with the group.
            if let Some(pgid) = pgid {
                // SAFETY: kill(2) of the process group we created for this child.
                unsafe { libc::kill(-pgid, libc::SIGKILL) };
            }
            Outcome {
                code: None,
                timed_out: true,
                spawn_error: None,
                output: String::new(),
            }
        }
    }
}

/// What [`read_capped`] kept of a stream, and how much it threw away.
#[derive(Debug, Default)]
struct Capped {
    /// The first bytes, at most the cap.
    kept: Vec<u8>,
    /// Bytes read after the cap and dropped.
    discarded: u64,
}

/// Reads `pipe` to its end keeping only the first `cap` bytes. The rest is read and dropped as it
/// arrives, so memory stays at `cap` plus one small buffer however much the script writes, and
/// the script never blocks on a full pipe nor dies of SIGPIPE: to the script the pipe behaves
/// like keepalived's, which points a script's output at /dev/null (writes always succeed, the
/// exit status is the script's own).
async fn read_capped<R: tokio::io::AsyncRead + Unpin>(pipe: Option<R>, cap: usize) -> Capped {
    use tokio::io::AsyncReadExt as _;
    let mut got = Capped::default();
    let Some(mut pipe) = pipe else {
        return got;
    };
    // On the heap: an array here would make every future that awaits a run 16 KiB larger.
    let mut buf = vec![0u8; 8192];
    loop {
        match pipe.read(&mut buf).await {
            // A read error ends capture like EOF does: the output is only for logs.
            Ok(0) | Err(_) => return got,
            Ok(n) => {
                let chunk = buf.get(..n).unwrap_or_default();
                let room = cap.saturating_sub(got.kept.len());
                let (keep, drop) = chunk.split_at(room.min(chunk.len()));
                got.kept.extend_from_slice(keep);
                got.discarded += drop.len() as u64;
            }
        }
    }
}

/// `s` cut at [`OUTPUT_LIMIT`] on a character boundary; `...` marks output that was longer
/// (`already_cut`: the reader dropped bytes before `s` was built).
fn truncate(s: &str, already_cut: bool) -> String {
    if s.len() <= OUTPUT_LIMIT {
        return if already_cut {
            format!("{s}...")
        } else {
            s.to_owned()
        };
    }
    let mut end = OUTPUT_LIMIT;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}

/// `program` as an absolute path: itself if it has a `/`, else the first match on `PATH`.
fn resolve(program: &str) -> Option<PathBuf> {
    if program.contains('/') {
        let p = PathBuf::from(program);
        return p.is_file().then_some(p);
    }
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/sbin:/usr/bin:/sbin:/bin".into());
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

/// The file and every directory above it must be owned by root and not group- or
/// other-writable (sticky directories such as /tmp excepted for the directory itself only when
/// root owns the file).
fn check_secure(path: &Path) -> Result<(), ExecError> {
    let canonical = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    let mut cur = Some(canonical.as_path());
    while let Some(p) = cur {
        if let Ok(meta) = std::fs::metadata(p) {
            let writable_by_others = meta.mode() & 0o022 != 0;
            let sticky = meta.is_dir() && meta.mode() & 0o1000 != 0;
            if meta.uid() != 0 || (writable_by_others && !sticky) {
                return Err(ExecError::Insecure {
                    path: p.to_path_buf(),
                });
            }
        }
        cur = p.parent();
    }
    Ok(())
}

fn lookup_user(name: &str) -> Result<(u32, u32), ExecError> {
    let unknown = || ExecError::UnknownId {
        what: "user",
        name: name.to_owned(),
    };
    let c = CString::new(name).map_err(|_| unknown())?;
    let mut buf = vec![0u8; 16 * 1024];
    // SAFETY: zeroed passwd is a valid out-parameter for getpwnam_r.
    let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: valid pointers and the buffer length we pass.
    let rc = unsafe {
        libc::getpwnam_r(
            c.as_ptr(),
            &raw mut pwd,
            buf.as_mut_ptr().cast(),
            buf.len(),
            &raw mut result,
        )
    };
    if rc != 0 || result.is_null() {
        return Err(unknown());
    }
    Ok((pwd.pw_uid, pwd.pw_gid))
}

fn lookup_group(name: &str) -> Result<u32, ExecError> {
    let unknown = || ExecError::UnknownId {
        what: "group",
        name: name.to_owned(),
    };
    let c = CString::new(name).map_err(|_| unknown())?;
    let mut buf = vec![0u8; 16 * 1024];
    // SAFETY: zeroed group is a valid out-parameter for getgrnam_r.
    let mut grp: libc::group = unsafe { std::mem::zeroed() };
    let mut result: *mut libc::group = std::ptr::null_mut();
    // SAFETY: valid pointers and the buffer length we pass.
    let rc = unsafe {
        libc::getgrnam_r(
            c.as_ptr(),
            &raw mut grp,
            buf.as_mut_ptr().cast(),
            buf.len(),
            &raw mut result,
        )
    };
    if rc != 0 || result.is_null() {
        return Err(unknown());
    }
    Ok(grp.gr_gid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_split_like_keepalived() {
        assert_eq!(
            split_words("/usr/bin/pgrep -x haproxy").expect("ok"),
            ["/usr/bin/pgrep", "-x", "haproxy"]
        );
        assert_eq!(
            split_words("  /bin/sh -c 'exit 1'  ").expect("ok"),
            ["/bin/sh", "-c", "exit 1"]
        );
        assert_eq!(
            split_words(r#"notify.sh "a b"c"#).expect("ok"),
            ["notify.sh", "a bc"]
        );
        assert_eq!(split_words("x ''").expect("ok"), ["x", ""]);
        assert!(split_words("   ").is_err());
        assert!(split_words("sh -c 'oops").is_err());
    }

    #[test]
    fn unknown_users_and_groups_are_errors() {
        assert!(matches!(
            prepare("true", Some("no-such-user-havip"), None, false),
            Err(ExecError::UnknownId { what: "user", .. })
        ));
        assert!(matches!(
            prepare("true", Some("root"), Some("no-such-group-havip"), false),
            Err(ExecError::UnknownId { what: "group", .. })
        ));
        assert_eq!(
            prepare("true", Some("root"), None, false)
                .expect("root")
                .creds,
            Some((0, 0))
        );
    }

    #[test]
    fn script_security_refuses_a_world_writable_script() {
        let dir = std::env::temp_dir().join(format!("havip-exec-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let script = dir.join("check.sh");
        std::fs::write(&script, "#!/bin/sh\nexit 0\n").expect("write");
        std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o777))
            .expect("chmod");
        let line = script.to_string_lossy().into_owned();
        let refused = prepare(&line, None, None, true);
        let _ = std::fs::remove_dir_all(&dir);
        assert!(
            matches!(refused, Err(ExecError::Insecure { .. })),
            "{refused:?}"
        );
        assert!(prepare("/bin/true", None, None, true).is_ok());
    }

    #[tokio::test]
    async fn runs_report_exit_codes_output_and_time_limits() {
        let ok = prepare("/bin/sh -c 'echo hi; exit 0'", None, None, false).expect("ok");
        let out = run(&ok, &[], Duration::from_secs(5)).await;
        assert!(out.success());
        assert_eq!(out.output, "hi");

        let args = prepare("/bin/sh -c 'exit $#' sh", None, None, false).expect("ok");
        let out = run(&args, &["a".into(), "b".into()], Duration::from_secs(5)).await;
        assert_eq!(out.code, Some(2), "extra arguments are passed");

        let hung = prepare("/bin/sh -c 'sleep 30'", None, None, false).expect("ok");
        let started = std::time::Instant::now();
        let out = run(&hung, &[], Duration::from_millis(200)).await;
        assert!(out.timed_out && !out.success());
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "killed at its limit"
        );

        let missing = prepare("/nonexistent/havip-check", None, None, false).expect("ok");
        let out = run(&missing, &[], Duration::from_secs(1)).await;
        assert!(out.spawn_error.is_some() && !out.success());
    }

    /// Peak resident set of this process in KiB (`ru_maxrss`).
    fn peak_rss_kib() -> i64 {
        // SAFETY: zeroed rusage is a valid out-parameter for getrusage.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: RUSAGE_SELF with a valid pointer.
        unsafe { libc::getrusage(libc::RUSAGE_SELF, &raw mut ru) };
        ru.ru_maxrss
    }

    #[tokio::test]
    async fn a_chatty_script_is_drained_with_bounded_memory() {
        // 200 MB on stdout, a line on stderr, its own exit status: read whole (as before) this
        // grew the agent by 200 MB or more; bounded, the peak barely moves, the script is not
        // killed by SIGPIPE and its status is kept.
        let chatty = prepare(
            "/bin/sh -c 'head -c 200000000 /dev/zero | tr \"\\000\" x; echo done >&2; exit 3'",
            None,
            None,
            false,
        )
        .expect("ok");
        let before = peak_rss_kib();
        let started = std::time::Instant::now();
        let out = run(&chatty, &[], Duration::from_secs(120)).await;
        let took = started.elapsed();
        let grew_kib = peak_rss_kib() - before;
        assert!(!out.timed_out, "drained to the end: {out:?}");
        assert_eq!(out.code, Some(3), "the script's own exit status");
        assert!(
            out.output.len() <= OUTPUT_LIMIT + 3 && out.output.ends_with("..."),
            "captured {} bytes",
            out.output.len()
        );
        assert!(out.output.starts_with("xxxx"), "the first bytes are kept");
        assert!(grew_kib < 64 * 1024, "peak RSS grew by {grew_kib} KiB");
        assert!(took < Duration::from_secs(60), "took {took:?}");
    }
}
