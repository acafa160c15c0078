//! keepalived.conf parser: tokens to a tree of directives, with `include` resolved.
//!
//! A directive is a keyword, its arguments up to the end of the line, and optionally a block
//! `{ ... }` of directives; the `{` may also start the next line (keepalived accepts both). A
//! `}` may close a block on the same line as the last directive (`group { VI_1 VI_2 }`).
//!
//! `include PATTERN` (and keepalived's `includer`, `includem`, `includew`, `includeb`,
//! `includea`) is replaced by the directives of the matching files, where it stands, so an
//! include inside a block contributes to that block. Patterns are relative to the directory of
//! the including file. A plain `include` that matches nothing or cannot be read gets a warning
//! (keepalived keeps it silent for compatibility); the checked variants get an error. Include
//! cycles and nesting deeper than [`MAX_INCLUDE_DEPTH`] are errors.

use std::path::{Path, PathBuf};

use super::glob;
use super::lexer::{INCLUDE_KEYWORDS, Token, TokenKind, lex};
use super::{Finding, Pos, Sources};
use crate::config::diagnostic::Severity;

/// How deep includes may nest.
pub(crate) const MAX_INCLUDE_DEPTH: usize = 16;
/// How many files one configuration may read in total.
pub(crate) const MAX_FILES: usize = 1024;
/// How deep `{ }` blocks may nest (keepalived needs 4); deeper input is skipped, so that a
/// hostile file cannot exhaust the stack.
pub(crate) const MAX_BLOCK_DEPTH: usize = 32;

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
    findings: &mut Vec<Finding>,
) -> Vec<Node> {
    let mut parser = Parser {
        sources,
        findings,
        stack: vec![std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())],
        files_read: 1,
        depth: 0,
    };
    parser.parse_text(path, text)
}

struct Parser<'a> {
    sources: &'a mut Sources,
    findings: &'a mut Vec<Finding>,
    /// Canonical paths of the files being parsed, outermost first.
    stack: Vec<PathBuf>,
    files_read: usize,
    /// Blocks open around the current position.
    depth: usize,
}

struct Cursor {
    tokens: Vec<Token>,
    next: usize,
}

impl Cursor {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.next)
    }

    fn take(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.next).cloned();
        self.next += 1;
        token
    }
}

/// Skips to the `}` matching an already consumed `{`, without recursion.
fn skip_block(cursor: &mut Cursor) {
    let mut depth = 1usize;
    while let Some(token) = cursor.take() {
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

impl Parser<'_> {
    fn parse_text(&mut self, path: &Path, text: &str) -> Vec<Node> {
        let file = self.sources.add(path);
        let (tokens, findings) = lex(text, file);
        self.findings.extend(findings);
        let dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        let mut cursor = Cursor { tokens, next: 0 };
        self.block(&mut cursor, None, &dir)
    }

    /// Directives up to the `}` that closes the block opened at `open` (or to the end of the
    /// file at top level).
    fn block(&mut self, cursor: &mut Cursor, open: Option<Pos>, dir: &Path) -> Vec<Node> {
        let mut nodes = Vec::new();
        loop {
            let Some(token) = cursor.take() else {
                if let Some(open) = open {
                    self.findings.push(Finding::error(
                        open,
                        "this `{` is never closed: a `}` is missing",
                    ));
                }
                return nodes;
            };
            match token.kind {
                TokenKind::Newline => {}
                TokenKind::Close if open.is_some() => return nodes,
                TokenKind::Close => self.findings.push(Finding::error(
                    token.pos,
                    "unexpected `}`: no block is open here",
                )),
                TokenKind::Open => {
                    self.findings
                        .push(Finding::error(token.pos, "`{` without a keyword before it"));
                    let _ = self.block(cursor, Some(token.pos), dir);
                }
                TokenKind::Word(keyword) => {
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

    fn directive(&mut self, cursor: &mut Cursor, keyword: String, pos: Pos, dir: &Path) -> Node {
        let mut args = Vec::new();
        while let Some(Token {
            kind: TokenKind::Word(text),
            pos,
        }) = cursor.peek()
        {
            args.push(Arg {
                text: text.clone(),
                pos: *pos,
            });
            cursor.next += 1;
        }
        // The block may open on this line or, Allman style, on a following one.
        let mut ahead = cursor.next;
        while cursor
            .tokens
            .get(ahead)
            .is_some_and(|t| t.kind == TokenKind::Newline)
        {
            ahead += 1;
        }
        let block = match cursor.tokens.get(ahead) {
            Some(Token {
                kind: TokenKind::Open,
                pos: open,
            }) => {
                let open = *open;
                cursor.next = ahead + 1;
                let nodes = if self.depth >= MAX_BLOCK_DEPTH {
                    self.findings.push(Finding::error(
                        open,
                        format!(
                            "blocks nest more than {MAX_BLOCK_DEPTH} deep; this one is skipped"
                        ),
                    ));
                    skip_block(cursor);
                    Vec::new()
                } else {
                    self.depth += 1;
                    let nodes = self.block(cursor, Some(open), dir);
                    self.depth -= 1;
                    nodes
                };
                Some(Block { open, nodes })
            }
            _ => None,
        };
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
        if self.files_read >= MAX_FILES {
            self.findings.push(Finding::error(
                at,
                format!(
                    "more than {MAX_FILES} files included; stopping at {}",
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
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) => {
                self.findings.push(Finding::new(
                    at,
                    severity,
                    format!("cannot read included file {}: {e}", path.display()),
                ));
                return Vec::new();
            }
        };
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
        let mut findings = Vec::new();
        let nodes = parse(
            Path::new("/nonexistent/keepalived.conf"),
            text,
            &mut sources,
            &mut findings,
        );
        (nodes, findings)
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
        let text = format!("{}{}", "a {\n".repeat(depth), "}\n".repeat(depth));
        let (nodes, findings) = parse_str(&text);
        assert_eq!(nodes.len(), 1);
        assert_eq!(findings.len(), 1);
        assert_eq!(
            findings[0].pos.line,
            u32::try_from(MAX_BLOCK_DEPTH + 1).unwrap_or(0)
        );
    }

    #[test]
    fn missing_include_is_a_warning_checked_include_an_error() {
        let (_, findings) = parse_str("include nothing-here-*.conf\nincludea missing.conf\n");
        let severities: Vec<Severity> = findings.iter().map(|f| f.severity).collect();
        assert_eq!(severities, [Severity::Warning, Severity::Error]);
        assert_eq!(findings[1].pos.line, 2);
    }
}
