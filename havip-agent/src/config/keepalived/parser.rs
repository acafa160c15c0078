//! keepalived.conf parser: tokens to a tree of directives, with `include` resolved.
//!
//! A directive is a keyword, its arguments up to the end of the line, and optionally a block
//! `{ ... }` of directives; the `{` may also start the next line (keepalived accepts both). A
//! `}` may close a block on the same line as the last directive (`group { VI_1 VI_2 }`).
//!
//! Brace mistakes get keepalived's meaning and a warning, since keepalived runs such files: a
//! `{` without a keyword is ignored (what follows belongs to the enclosing block, so nothing
//! nests and no input can deepen the recursion that way), an extra `}` at top level is ignored,
//! and a block still open at the end of a file ends there.
//!
//! `include PATTERN` (and keepalived's `includer`, `includem`, `includew`, `includeb`,
//! `includea`) is replaced by the directives of the matching files, where it stands, so an
//! include inside a block contributes to that block. Patterns are relative to the directory of
//! the including file. A plain `include` that matches nothing, cannot be read or names
//! something other than a regular non-executable file gets a warning and is skipped (keepalived
//! skips it too); the checked variants get an error. Include cycles are errors, and so is
//! reaching any of the limits in [`crate::config::limits`].

use std::path::{Path, PathBuf};

use super::glob;
use super::lexer::{INCLUDE_KEYWORDS, Lexer, Token, TokenKind};
use super::{Finding, Findings, Pos, Sources};
use crate::config::diagnostic::Severity;
use crate::config::limits::{
    MAX_BLOCK_DEPTH, MAX_DIRECTIVES, MAX_FILE_BYTES, MAX_INCLUDE_DEPTH, MAX_INCLUDE_FILES,
    MAX_TOKENS, MAX_TOTAL_BYTES,
};
use crate::config::read::{Executable, ReadError, read_bounded};

/// The top-level blocks whose contents the conversion reads; the contents of any other
/// top-level block are skipped unread.
const TOP_LEVEL_READ: [&str; 5] = [
    "global_defs",
    "vrrp_script",
    "vrrp_instance",
    "vrrp_sync_group",
    "bfd_instance",
];

/// A directive: `keyword args... [{ block }]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Node {
    /// The first word.
    pub(crate) keyword: String,
    /// Where the keyword is.
    pub(crate) pos: Pos,
    /// The other words on the line.
    pub(crate) args: Vec<Arg>,
    /// The `{ ... }` that follows, if any.
    pub(crate) block: Option<Block>,
}

/// A directive argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Arg {
    /// The word, quotes removed.
    pub(crate) text: String,
    /// Where it starts.
    pub(crate) pos: Pos,
}

/// The contents of `{ ... }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Block {
    /// Where the `{` is.
    pub(crate) open: Pos,
    /// The directives inside.
    pub(crate) nodes: Vec<Node>,
}

/// Parses the file `path` whose contents are `text`, resolving includes.
pub(crate) fn parse(
    path: &Path,
    text: &str,
    sources: &mut Sources,
    findings: &mut Findings,
) -> Vec<Node> {
    let mut parser = Parser {
        sources,
        findings,
        stack: vec![std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())],
        files_read: 1,
        bytes_read: u64::try_from(text.len()).unwrap_or(u64::MAX),
        tokens: 0,
        directives: 0,
        stopped: false,
        depth: 0,
    };
    parser.parse_text(path, text)
}

/// `bytes` as text: invalid UTF-8 (a Latin-1 comment, say) is replaced, with a warning, as
/// keepalived reads bytes and would not notice.
pub(crate) fn decode(bytes: Vec<u8>) -> (String, bool) {
    match String::from_utf8(bytes) {
        Ok(text) => (text, false),
        Err(e) => (String::from_utf8_lossy(e.as_bytes()).into_owned(), true),
    }
}

struct Parser<'a> {
    sources: &'a mut Sources,
    findings: &'a mut Findings,
    /// Canonical paths of the files being parsed, outermost first.
    stack: Vec<PathBuf>,
    files_read: usize,
    /// Bytes of all files read so far.
    bytes_read: u64,
    /// Words and braces read so far, all files together.
    tokens: usize,
    /// Directives built so far, all files together.
    directives: usize,
    /// Set when [`MAX_TOKENS`] or [`MAX_DIRECTIVES`] is reached: nothing more is read.
    stopped: bool,
    /// Blocks open around the current position.
    depth: usize,
}

/// The tokens of one file, with one token of look-ahead.
struct Cursor<'t> {
    lexer: Lexer<'t>,
    peeked: Option<Token>,
}

impl Parser<'_> {
    /// The next token, counted against [`MAX_TOKENS`]; `None` at the end of the file or once
    /// the limit is reached.
    fn next(&mut self, cursor: &mut Cursor<'_>) -> Option<Token> {
        if let Some(token) = cursor.peeked.take() {
            return Some(token);
        }
        if self.stopped {
            return None;
        }
        let token = cursor.lexer.next_token(self.findings)?;
        if token.kind != TokenKind::Newline {
            self.tokens += 1;
            if self.tokens > MAX_TOKENS {
                self.findings.push(Finding::error(
                    token.pos,
                    format!(
                        "more than {MAX_TOKENS} words and braces in the configuration; the \
                         rest is not read"
                    ),
                ));
                self.stopped = true;
                return None;
            }
        }
        Some(token)
    }

    fn peek<'c>(&mut self, cursor: &'c mut Cursor<'_>) -> Option<&'c Token> {
        if cursor.peeked.is_none() {
            cursor.peeked = self.next(cursor);
        }
        cursor.peeked.as_ref()
    }

    /// Skips to the `}` matching an already consumed `{`, without recursion.
    fn skip_block(&mut self, cursor: &mut Cursor<'_>) {
        let mut depth = 1usize;
        while let Some(token) = self.next(cursor) {
            match token.kind {
                TokenKind::Open => depth += 1,
                TokenKind::Close => {
                    depth -= 1;
                    if depth == 0 {
                        return;
                    }
                }
                TokenKind::Word(_) | TokenKind::Newline => {}
            }
        }
    }

    fn parse_text(&mut self, path: &Path, text: &str) -> Vec<Node> {
        let file = self.sources.add(path);
        let dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        let mut cursor = Cursor {
            lexer: Lexer::new(text, file),
            peeked: None,
        };
        self.block(&mut cursor, None, &dir)
    }

    /// Directives up to the `}` that closes the block opened at `open` (or to the end of the
    /// file at top level).
    fn block(&mut self, cursor: &mut Cursor<'_>, open: Option<Pos>, dir: &Path) -> Vec<Node> {
        let mut nodes = Vec::new();
        loop {
            let Some(token) = self.next(cursor) else {
                if let Some(open) = open
                    && !self.stopped
                {
                    self.findings.push(Finding::new(
                        open,
                        Severity::Warning,
                        "this `{` is never closed: a `}` is missing; the block ends at the end \
                         of the file (as in keepalived)",
                    ));
                }
                return nodes;
            };
            match token.kind {
                TokenKind::Newline => {}
                TokenKind::Close if open.is_some() => return nodes,
                TokenKind::Close => self.findings.push(Finding::new(
                    token.pos,
                    Severity::Warning,
                    "extra `}` ignored: no block is open here (keepalived ignores it too)",
                )),
                TokenKind::Open => self.findings.push(Finding::new(
                    token.pos,
                    Severity::Warning,
                    "`{` without a keyword before it ignored, as keepalived does: what follows \
                     belongs to the enclosing block",
                )),
                TokenKind::Word(keyword) => {
                    self.directives += 1;
                    if self.directives > MAX_DIRECTIVES {
                        self.findings.push(Finding::error(
                            token.pos,
                            format!(
                                "more than {MAX_DIRECTIVES} directives in the configuration; the \
                                 rest is not read"
                            ),
                        ));
                        self.stopped = true;
                        return nodes;
                    }
                    let node = self.directive(cursor, keyword, token.pos, dir);
                    if INCLUDE_KEYWORDS.contains(&node.keyword.as_str()) {
                        nodes.extend(self.include(&node, dir));
                    } else {
                        nodes.push(node);
                    }
                }
            }
        }
    }

    fn directive(
        &mut self,
        cursor: &mut Cursor<'_>,
        keyword: String,
        pos: Pos,
        dir: &Path,
    ) -> Node {
        let mut args = Vec::new();
        while let Some(Token {
            kind: TokenKind::Word(_),
            ..
        }) = self.peek(cursor)
        {
            if let Some(Token {
                kind: TokenKind::Word(text),
                pos,
            }) = self.next(cursor)
            {
                args.push(Arg { text, pos });
            }
        }
        // The block may open on this line or, Allman style, on a following one; the line ends
        // skipped on the way mean nothing to the caller either.
        while self
            .peek(cursor)
            .is_some_and(|t| t.kind == TokenKind::Newline)
        {
            let _ = self.next(cursor);
        }
        let open = match self.peek(cursor) {
            Some(Token {
                kind: TokenKind::Open,
                pos,
            }) => Some(*pos),
            _ => None,
        };
        let block = open.map(|open| {
            let _ = self.next(cursor);
            // Top-level blocks havip ignores as a whole (LVS, BFD, unknown keywords...) are
            // skipped without building them: a large virtual_server section costs no memory.
            let ignored = self.depth == 0 && !TOP_LEVEL_READ.contains(&keyword.as_str());
            let nodes = if self.depth >= MAX_BLOCK_DEPTH {
                self.findings.push(Finding::error(
                    open,
                    format!("blocks nest more than {MAX_BLOCK_DEPTH} deep; this one is skipped"),
                ));
                self.skip_block(cursor);
                Vec::new()
            } else if ignored {
                self.skip_block(cursor);
                Vec::new()
            } else {
                self.depth += 1;
                let nodes = self.block(cursor, Some(open), dir);
                self.depth -= 1;
                nodes
            };
            Block { open, nodes }
        });
        Node {
            keyword,
            pos,
            args,
            block,
        }
    }

    fn include(&mut self, node: &Node, dir: &Path) -> Vec<Node> {
        let checked = node.keyword != "include";
        let severity = if checked {
            Severity::Error
        } else {
            Severity::Warning
        };
        if let Some(block) = &node.block {
            self.findings.push(Finding::error(
                block.open,
                format!("`{}` does not take a block", node.keyword),
            ));
        }
        if node.args.is_empty() {
            self.findings.push(Finding::error(
                node.pos,
                format!("`{}` needs a file name or pattern", node.keyword),
            ));
        }
        let mut nodes = Vec::new();
        for arg in &node.args {
            let pattern = dir.join(&arg.text);
            match glob::expand(&pattern) {
                Err(e) => self.findings.push(Finding::error(arg.pos, e.to_string())),
                Ok(paths) if paths.is_empty() => self.findings.push(Finding::new(
                    arg.pos,
                    severity,
                    format!("`{} {}` matches no file", node.keyword, arg.text),
                )),
                Ok(paths) => {
                    for path in paths {
                        nodes.extend(self.include_file(&path, arg.pos, severity));
                    }
                }
            }
        }
        nodes
    }

    fn include_file(&mut self, path: &Path, at: Pos, severity: Severity) -> Vec<Node> {
        if self.stopped {
            return Vec::new();
        }
        if self.stack.len() > MAX_INCLUDE_DEPTH {
            self.findings.push(Finding::error(
                at,
                format!(
                    "includes nest more than {MAX_INCLUDE_DEPTH} deep at {}",
                    path.display()
                ),
            ));
            return Vec::new();
        }
        if self.files_read >= MAX_INCLUDE_FILES {
            self.findings.push(Finding::error(
                at,
                format!(
                    "more than {MAX_INCLUDE_FILES} files in the configuration; stopping at {}",
                    path.display()
                ),
            ));
            return Vec::new();
        }
        let canonical = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        if self.stack.contains(&canonical) {
            self.findings.push(Finding::error(
                at,
                format!("include cycle: {} is already being read", path.display()),
            ));
            return Vec::new();
        }
        let remaining = MAX_TOTAL_BYTES.saturating_sub(self.bytes_read);
        let bytes = match read_bounded(path, MAX_FILE_BYTES.min(remaining), Executable::Refuse) {
            Ok(bytes) => bytes,
            Err(ReadError::TooLarge { .. }) if remaining < MAX_FILE_BYTES => {
                self.findings.push(Finding::error(
                    at,
                    format!(
                        "{}: the configuration and its includes exceed {MAX_TOTAL_BYTES} bytes \
                         in all",
                        path.display()
                    ),
                ));
                return Vec::new();
            }
            Err(e @ ReadError::TooLarge { .. }) => {
                self.findings.push(Finding::error(
                    at,
                    format!("included file {}: {e}", path.display()),
                ));
                return Vec::new();
            }
            Err(e @ (ReadError::NotRegular { .. } | ReadError::Executable)) => {
                self.findings.push(Finding::new(
                    at,
                    severity,
                    format!("included {} skipped: {e}", path.display()),
                ));
                return Vec::new();
            }
            Err(ReadError::Io(e)) => {
                self.findings.push(Finding::new(
                    at,
                    severity,
                    format!("cannot read included file {}: {e}", path.display()),
                ));
                return Vec::new();
            }
        };
        self.bytes_read = self
            .bytes_read
            .saturating_add(u64::try_from(bytes.len()).unwrap_or(u64::MAX));
        let (text, lossy) = decode(bytes);
        if lossy {
            self.findings.push(Finding::new(
                at,
                Severity::Warning,
                format!(
                    "included file {} is not valid UTF-8; invalid bytes read as U+FFFD",
                    path.display()
                ),
            ));
        }
        self.files_read += 1;
        self.stack.push(canonical);
        let nodes = self.parse_text(path, &text);
        self.stack.pop();
        nodes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(text: &str) -> (Vec<Node>, Vec<Finding>) {
        let mut sources = Sources::default();
        let mut findings = Findings::default();
        let nodes = parse(
            Path::new("/nonexistent/keepalived.conf"),
            text,
            &mut sources,
            &mut findings,
        );
        (nodes, findings.finish())
    }

    fn shape(nodes: &[Node]) -> String {
        nodes
            .iter()
            .map(|n| {
                let mut s = n.keyword.clone();
                for a in &n.args {
                    s.push(' ');
                    s.push_str(&a.text);
                }
                if let Some(b) = &n.block {
                    s.push_str(" {");
                    s.push_str(&shape(&b.nodes));
                    s.push('}');
                }
                s
            })
            .collect::<Vec<_>>()
            .join(";")
    }

    #[test]
    fn blocks_same_line_next_line_and_inline_close() {
        let (nodes, findings) = parse_str(
            "vrrp_sync_group G { group { VI_1 VI_2 } }\nvrrp_instance VI_1\n{\n state BACKUP\n}\n",
        );
        assert_eq!(findings, []);
        assert_eq!(
            shape(&nodes),
            "vrrp_sync_group G {group {VI_1 VI_2}};vrrp_instance VI_1 {state BACKUP}"
        );
    }

    #[test]
    fn missing_close_brace_points_at_the_open_one() {
        let (_, findings) = parse_str("global_defs {\n router_id x\n");
        assert_eq!(findings.len(), 1);
        assert_eq!((findings[0].pos.line, findings[0].pos.column), (1, 13));
        assert!(findings[0].message.contains("never closed"));
    }

    #[test]
    fn extra_close_brace_is_reported() {
        let (nodes, findings) = parse_str("a {\n}\n}\nb\n");
        assert_eq!(shape(&nodes), "a {};b");
        assert_eq!(findings.len(), 1);
        assert_eq!((findings[0].pos.line, findings[0].pos.column), (3, 1));
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let depth = 100_000;
        let text = format!(
            "vrrp_instance V {{\n{}{}}}\n",
            "a {\n".repeat(depth),
            "}\n".repeat(depth)
        );
        let (nodes, findings) = parse_str(&text);
        assert_eq!(nodes.len(), 1);
        assert_eq!(findings.len(), 1);
        assert_eq!(
            findings[0].pos.line,
            u32::try_from(MAX_BLOCK_DEPTH + 1).unwrap_or(0)
        );
    }

    #[test]
    fn bare_braces_are_ignored_and_unknown_top_level_blocks_skipped_unread() {
        let (nodes, findings) =
            parse_str("vrrp_instance V {\n{\nstate MASTER\n}\npriority 9\n}\nlvs {\n a {\n }\n}\n");
        // keepalived: the bare `{` is ignored, its `}` closes vrrp_instance, `priority` is at
        // top level and the last `}` is extra.
        assert_eq!(
            shape(&nodes),
            "vrrp_instance V {state MASTER};priority 9;lvs {}"
        );
        let severities: Vec<Severity> = findings.iter().map(|f| f.severity).collect();
        assert_eq!(severities, [Severity::Warning, Severity::Warning]);
        assert_eq!((findings[0].pos.line, findings[1].pos.line), (2, 6));
    }

    #[test]
    fn missing_include_is_a_warning_checked_include_an_error() {
        let (_, findings) = parse_str("include nothing-here-*.conf\nincludea missing.conf\n");
        let severities: Vec<Severity> = findings.iter().map(|f| f.severity).collect();
        assert_eq!(severities, [Severity::Warning, Severity::Error]);
        assert_eq!(findings[1].pos.line, 2);
    }
}
