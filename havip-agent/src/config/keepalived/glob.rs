//! File name patterns for keepalived's `include`: glob(3) wildcards (`*`, `?`, `[a-z]`, `[!x]`)
//! per path component, plus csh-style brace alternatives (`{a,b}`), results sorted per
//! component like glob(3) does.
//!
//! Kept small on purpose: no `**`, no `~`. Names starting with `.` only match a pattern
//! component that starts with `.` (glob(3) without `GLOB_PERIOD`).

use std::path::{Component, Path, PathBuf};

/// At most this many alternatives after brace expansion, against `{a,b}{c,d}...` blow-ups.
const MAX_ALTERNATIVES: usize = 256;

/// Why a pattern could not be expanded.
#[derive(Debug, thiserror::Error)]
pub(crate) enum GlobError {
    /// Brace expansion produced more than [`MAX_ALTERNATIVES`] patterns.
    #[error("`{pattern}` expands to more than {MAX_ALTERNATIVES} alternatives")]
    TooManyAlternatives {
        /// The pattern as written.
        pattern: String,
    },
    /// A directory on the way could not be listed.
    #[error("cannot list {}: {source}", dir.display())]
    ReadDir {
        /// The directory.
        dir: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// Paths matching `pattern`, in order (brace alternatives in written order, names sorted
/// within each wildcard component), without duplicates. A pattern without wildcards is
/// returned as it is, whether the file exists or not, so that reading it reports why not.
pub(crate) fn expand(pattern: &Path) -> Result<Vec<PathBuf>, GlobError> {
    let text = pattern.to_string_lossy();
    let mut alternatives = Vec::new();
    brace_expand(&text, &mut alternatives).map_err(|()| GlobError::TooManyAlternatives {
        pattern: text.to_string(),
    })?;
    let mut out: Vec<PathBuf> = Vec::new();
    for alternative in alternatives {
        for path in expand_one(Path::new(&alternative))? {
            if !out.contains(&path) {
                out.push(path);
            }
        }
    }
    Ok(out)
}

fn has_wildcard(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

fn expand_one(pattern: &Path) -> Result<Vec<PathBuf>, GlobError> {
    if !has_wildcard(&pattern.to_string_lossy()) {
        return Ok(vec![pattern.to_path_buf()]);
    }
    let mut candidates = vec![PathBuf::new()];
    for component in pattern.components() {
        let part = component.as_os_str().to_string_lossy();
        let wild = matches!(component, Component::Normal(_)) && has_wildcard(&part);
        if !wild {
            for c in &mut candidates {
                c.push(component.as_os_str());
            }
            continue;
        }
        let pat: Vec<char> = part.chars().collect();
        let mut next = Vec::new();
        for dir in &candidates {
            let listing = if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir.as_path()
            };
            if !listing.is_dir() {
                continue;
            }
            let entries = std::fs::read_dir(listing).map_err(|source| GlobError::ReadDir {
                dir: listing.to_path_buf(),
                source,
            })?;
            let mut names: Vec<String> = entries
                .filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|name| {
                    (!name.starts_with('.') || pat.first() == Some(&'.'))
                        && matches(&pat, &name.chars().collect::<Vec<_>>())
                })
                .collect();
            names.sort();
            next.extend(names.into_iter().map(|n| dir.join(n)));
        }
        candidates = next;
    }
    candidates.retain(|p| p.exists());
    Ok(candidates)
}

/// Expands the first `{...}` holding a top-level `,` and recurses; `{}` and braces without a
/// comma stay literal, like csh.
fn brace_expand(s: &str, out: &mut Vec<String>) -> Result<(), ()> {
    let chars: Vec<char> = s.chars().collect();
    let mut open = 0;
    while let Some(start) = (open..chars.len()).find(|&i| chars[i] == '{') {
        let mut depth = 0usize;
        let mut commas = Vec::new();
        let mut close = None;
        for (i, &c) in chars.iter().enumerate().skip(start) {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        close = Some(i);
                        break;
                    }
                }
                ',' if depth == 1 => commas.push(i),
                _ => {}
            }
        }
        let Some(close) = close else { break };
        if commas.is_empty() {
            open = start + 1;
            continue;
        }
        let prefix: String = chars[..start].iter().collect();
        let suffix: String = chars[close + 1..].iter().collect();
        let mut bounds = vec![start];
        bounds.extend(&commas);
        bounds.push(close);
        for pair in bounds.windows(2) {
            let alternative: String = chars[pair[0] + 1..pair[1]].iter().collect();
            brace_expand(&format!("{prefix}{alternative}{suffix}"), out)?;
            if out.len() > MAX_ALTERNATIVES {
                return Err(());
            }
        }
        return Ok(());
    }
    out.push(s.to_owned());
    if out.len() > MAX_ALTERNATIVES {
        return Err(());
    }
    Ok(())
}

/// Whether `name` matches the wildcard `pattern` (one path component).
fn matches(pattern: &[char], name: &[char]) -> bool {
    let (mut p, mut n) = (0, 0);
    // Where the last `*` was, and how much of the name it has eaten so far.
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        if pattern.get(p) == Some(&'*') {
            star = Some((p, n));
            p += 1;
            continue;
        }
        if let Some(next) = step(pattern, p, name[n]) {
            p = next;
            n += 1;
            continue;
        }
        match star {
            Some((sp, sn)) => {
                p = sp + 1;
                n = sn + 1;
                star = Some((sp, sn + 1));
            }
            None => return false,
        }
    }
    pattern[p.min(pattern.len())..].iter().all(|&c| c == '*')
}

/// If the single-character pattern element at `p` matches `c`, the index after it.
fn step(pattern: &[char], p: usize, c: char) -> Option<usize> {
    match *pattern.get(p)? {
        '?' => Some(p + 1),
        '\\' if p + 1 < pattern.len() => (pattern[p + 1] == c).then_some(p + 2),
        '[' => match class(pattern, p, c) {
            Some((true, end)) => Some(end),
            Some((false, _)) => None,
            None => (c == '[').then_some(p + 1),
        },
        literal => (literal == c).then_some(p + 1),
    }
}

/// Evaluates the bracket expression at `p` against `c`: whether it matches and the index after
/// it, or `None` if the `[` is not closed (then it is a literal `[`).
fn class(pattern: &[char], p: usize, c: char) -> Option<(bool, usize)> {
    let mut i = p + 1;
    let negate = matches!(pattern.get(i), Some('!' | '^'));
    if negate {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    loop {
        let lo = *pattern.get(i)?;
        if lo == ']' && !first {
            return Some((matched != negate, i + 1));
        }
        first = false;
        if pattern.get(i + 1) == Some(&'-') && pattern.get(i + 2).is_some_and(|&hi| hi != ']') {
            let hi = pattern[i + 2];
            matched |= lo <= c && c <= hi;
            i += 3;
        } else {
            matched |= lo == c;
            i += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pattern: &str, name: &str) -> bool {
        matches(
            &pattern.chars().collect::<Vec<_>>(),
            &name.chars().collect::<Vec<_>>(),
        )
    }

    #[test]
    fn wildcards() {
        assert!(m("*.conf", "a.conf"));
        assert!(m("*.conf", ".conf"));
        assert!(!m("*.conf", "a.conf.bak"));
        assert!(m("a*b*c", "aXXbYbc"));
        assert!(m("?.conf", "x.conf"));
        assert!(!m("?.conf", "xy.conf"));
        assert!(m("[a-c]1", "b1"));
        assert!(!m("[!a-c]1", "b1"));
        assert!(m("[]]", "]"));
        assert!(m("[x", "[x"));
        assert!(m("\\*", "*"));
        assert!(!m("\\*", "a"));
        assert!(m("*", ""));
    }

    #[test]
    fn braces() {
        let mut out = Vec::new();
        assert_eq!(brace_expand("a{b,c{d,e}}f{}", &mut out), Ok(()));
        assert_eq!(out, ["abf{}", "acdf{}", "acef{}"]);
        let mut out = Vec::new();
        let many = "{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}";
        assert_eq!(brace_expand(many, &mut out), Err(()));
    }
}
