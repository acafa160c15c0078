//! keepalived.conf lexer: words, braces and line ends, each with its line and column.
//!
//! The rules follow keepalived's `lib/parser.c`:
//! - `#` and `!` start a comment to the end of the line anywhere outside double quotes;
//!   `\#` and `\!` are a literal `#` and `!`.
//! - Words are separated by whitespace. A double-quoted section (`"..."`) is part of the word it
//!   touches and keeps its spaces, braces and comment characters; the quotes are removed, and
//!   `\"` inside does not end it (the backslash is kept, for the script runner's own escapes).
//!   Single quotes are ordinary characters: keepalived's script splitter reads them later.
//! - `{` and `}` outside quotes are tokens of their own even when glued to a word
//!   (`vrrp_instance VI_1{`), except on an `include` line, where they belong to the glob's
//!   csh-style brace expression.
//! - A backslash at the end of a line continues the statement on the next line.
//! - Line ends are tokens: keepalived's grammar is line-oriented (one item per line in
//!   `virtual_ipaddress { ... }`).

use std::collections::VecDeque;

use super::{Finding, Findings, Pos};
use crate::config::diagnostic::Severity;

/// What a token is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TokenKind {
    /// A word, quotes removed.
    Word(String),
    /// `{`
    Open,
    /// `}`
    Close,
    /// End of a line (or of the file).
    Newline,
}

/// A token and where it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Token {
    pub(crate) kind: TokenKind,
    pub(crate) pos: Pos,
}

/// The `include` keyword and its keepalived variants.
pub(crate) const INCLUDE_KEYWORDS: [&str; 6] = [
    "include", "includer", "includem", "includew", "includeb", "includea",
];

/// The lexer of one file: [`Lexer::next_token`] hands out one token at a time, so the tokens
/// of a large file are never all in memory at once.
pub(crate) struct Lexer<'t> {
    chars: std::iter::Peekable<std::str::Chars<'t>>,
    file: u32,
    line: u32,
    column: u32,
    /// Tokens lexed but not yet handed out (a word and the brace that ends it).
    ready: VecDeque<Token>,
    done: bool,
    word: Option<(String, Pos)>,
    /// Words seen since the last line end or brace (to spot `include` lines).
    words_on_line: usize,
    /// On an `include` line braces are part of the glob.
    literal_braces: bool,
}

/// Splits all of `text` (the contents of file number `file`) into tokens. Problems (an
/// unterminated quote) are reported as findings; lexing always goes on to the end.
#[cfg(test)]
pub(crate) fn lex(text: &str, file: u32) -> (Vec<Token>, Vec<Finding>) {
    let mut lexer = Lexer::new(text, file);
    let mut findings = Findings::default();
    let mut tokens = Vec::new();
    while let Some(token) = lexer.next_token(&mut findings) {
        tokens.push(token);
    }
    (tokens, findings.finish())
}

impl<'t> Lexer<'t> {
    /// A lexer over `text`, the contents of file number `file`.
    pub(crate) fn new(text: &'t str, file: u32) -> Self {
        Self {
            chars: text.chars().peekable(),
            file,
            line: 1,
            column: 1,
            ready: VecDeque::new(),
            done: false,
            word: None,
            words_on_line: 0,
            literal_braces: false,
        }
    }

    /// The next token, or `None` after the final line end.
    pub(crate) fn next_token(&mut self, findings: &mut Findings) -> Option<Token> {
        while self.ready.is_empty() && !self.done {
            self.step(findings);
        }
        self.ready.pop_front()
    }

    fn pos(&self) -> Pos {
        Pos {
            file: self.file,
            line: self.line,
            column: self.column,
        }
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.chars.next()?;
        if c == '\n' {
            self.line = self.line.saturating_add(1);
            self.column = 1;
        } else {
            self.column = self.column.saturating_add(1);
        }
        Some(c)
    }

    fn push_char(&mut self, c: char, at: Pos) {
        self.word
            .get_or_insert_with(|| (String::new(), at))
            .0
            .push(c);
    }

    fn flush_word(&mut self) {
        if let Some((text, pos)) = self.word.take() {
            if self.words_on_line == 0 && INCLUDE_KEYWORDS.contains(&text.as_str()) {
                self.literal_braces = true;
            }
            self.words_on_line += 1;
            self.ready.push_back(Token {
                kind: TokenKind::Word(text),
                pos,
            });
        }
    }

    fn push(&mut self, kind: TokenKind, pos: Pos) {
        self.flush_word();
        if kind == TokenKind::Newline {
            self.literal_braces = false;
        }
        self.words_on_line = 0;
        self.ready.push_back(Token { kind, pos });
    }

    /// Consumes one character (a whole quoted section or comment), or ends the file.
    fn step(&mut self, findings: &mut Findings) {
        let Some(&c) = self.chars.peek() else {
            let end = self.pos();
            self.push(TokenKind::Newline, end);
            self.done = true;
            return;
        };
        let at = self.pos();
        match c {
            '\n' => {
                self.bump();
                self.push(TokenKind::Newline, at);
            }
            '#' | '!' => self.skip_comment(),
            '\\' => self.backslash(at),
            '"' => self.quoted(at, findings),
            '{' | '}' if !self.literal_braces => {
                self.bump();
                let kind = if c == '{' {
                    TokenKind::Open
                } else {
                    TokenKind::Close
                };
                self.push(kind, at);
            }
            c if c.is_whitespace() => {
                self.bump();
                self.flush_word();
            }
            c => {
                self.bump();
                self.push_char(c, at);
            }
        }
    }

    fn skip_comment(&mut self) {
        self.flush_word();
        while let Some(&c) = self.chars.peek() {
            if c == '\n' {
                break;
            }
            self.bump();
        }
    }

    fn backslash(&mut self, at: Pos) {
        self.bump();
        match self.chars.peek().copied() {
            // Line continuation: the statement goes on, as if the line break were a space.
            Some('\n') => {
                self.bump();
                self.flush_word();
            }
            Some('\r') => {
                self.bump();
                if self.chars.peek() == Some(&'\n') {
                    self.bump();
                }
                self.flush_word();
            }
            Some(c @ ('#' | '!')) => {
                self.bump();
                self.push_char(c, at);
            }
            Some(c) => {
                self.bump();
                self.push_char('\\', at);
                self.push_char(c, at);
            }
            None => self.push_char('\\', at),
        }
    }

    fn quoted(&mut self, at: Pos, findings: &mut Findings) {
        self.bump();
        // An empty quoted string (`""`) is still a word.
        self.word.get_or_insert_with(|| (String::new(), at));
        loop {
            match self.chars.peek().copied() {
                None | Some('\n') => {
                    // keepalived warns and takes the rest of the line (CONFIG_UNMATCHED_QUOTE
                    // is among its "will still run" findings).
                    findings.push(Finding::new(
                        at,
                        Severity::Warning,
                        "unterminated quoted string: a `\"` is missing before the end of the \
                         line; the rest of the line is taken as written (as keepalived does)",
                    ));
                    return;
                }
                Some('"') => {
                    self.bump();
                    return;
                }
                Some('\\') => {
                    self.bump();
                    self.push_char('\\', at);
                    if let Some(&c) = self.chars.peek()
                        && c != '\n'
                    {
                        self.bump();
                        self.push_char(c, at);
                    }
                }
                Some(c) => {
                    self.bump();
                    self.push_char(c, at);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        lex(text, 0)
            .0
            .into_iter()
            .map(|t| match t.kind {
                TokenKind::Word(w) => w,
                TokenKind::Open => "{".into(),
                TokenKind::Close => "}".into(),
                TokenKind::Newline => "\\n".into(),
            })
            .collect()
    }

    #[test]
    fn words_braces_and_lines() {
        assert_eq!(
            words("vrrp_instance VI_1{\n  state BACKUP }"),
            [
                "vrrp_instance",
                "VI_1",
                "{",
                "\\n",
                "state",
                "BACKUP",
                "}",
                "\\n"
            ]
        );
    }

    #[test]
    fn comments_anywhere_outside_quotes() {
        assert_eq!(
            words("a b # c\n! d\nx \"y # z ! w\" v!u\n"),
            ["a", "b", "\\n", "\\n", "x", "y # z ! w", "v", "\\n", "\\n"]
        );
        assert_eq!(words("pass\\#1\\!"), ["pass#1!", "\\n"]);
    }

    #[test]
    fn quotes_join_words_and_keep_braces() {
        assert_eq!(
            words("script \"/bin/sh -c '{ x; }'\" abc\" def\"g"),
            ["script", "/bin/sh -c '{ x; }'", "abc defg", "\\n"]
        );
        assert_eq!(words("a \"\" b"), ["a", "", "b", "\\n"]);
        assert_eq!(words(r#"a "x\"y""#), ["a", r#"x\"y"#, "\\n"]);
    }

    #[test]
    fn include_line_keeps_braces() {
        assert_eq!(
            words("include conf.d/{a,b}.conf\nx {"),
            ["include", "conf.d/{a,b}.conf", "\\n", "x", "{", "\\n"]
        );
    }

    #[test]
    fn continuation_joins_lines() {
        assert_eq!(words("a b \\\n c\nd"), ["a", "b", "c", "\\n", "d", "\\n"]);
    }

    #[test]
    fn positions_are_line_and_column() {
        let (tokens, _) = lex("a\n  bé \"c d\"", 3);
        let positions: Vec<(u32, u32)> =
            tokens.iter().map(|t| (t.pos.line, t.pos.column)).collect();
        assert_eq!(positions, [(1, 1), (1, 2), (2, 3), (2, 6), (2, 11)]);
        assert!(tokens.iter().all(|t| t.pos.file == 3));
    }

    #[test]
    fn unterminated_quote_is_reported_at_the_quote() {
        let (tokens, findings) = lex("auth_pass \"abc\nnext", 0);
        assert_eq!(findings.len(), 1);
        assert_eq!((findings[0].pos.line, findings[0].pos.column), (1, 11));
        assert_eq!(tokens[1].kind, TokenKind::Word("abc".into()));
    }
}
