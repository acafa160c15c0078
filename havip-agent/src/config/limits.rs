//! The bounds on configuration input, one table for the loaders, the README and the tests.
//!
//! They exist so that no file an operator (or anyone who can write an included file) hands the
//! agent can exhaust its stack, memory or time: every limit is far above what a real
//! configuration uses (a keepalived.conf with a few hundred instances is well under 1 MiB and
//! 100 000 tokens) and each one reached is an error at `file:line` naming the limit.

/// Largest file read, main file, included file, TOML file or sidecar alike (8 MiB). A larger
/// one is an error; at most this many bytes plus one are ever read from it.
pub const MAX_FILE_BYTES: u64 = 8 << 20;
/// Largest sum of the sizes of a keepalived.conf and all the files it includes (16 MiB).
pub const MAX_TOTAL_BYTES: u64 = 16 << 20;
/// Most words and braces in a keepalived.conf and its includes together (comments, blanks and
/// line ends do not count).
pub const MAX_TOKENS: usize = 1_000_000;
/// Most directives (keyword lines) kept from a keepalived.conf and its includes together;
/// the blocks havip ignores as a whole (`virtual_server`, ...) are skipped and do not count.
pub const MAX_DIRECTIVES: usize = 100_000;
/// Deepest nesting of `{ }` blocks (keepalived's own grammar needs 4).
pub const MAX_BLOCK_DEPTH: usize = 32;
/// Deepest nesting of `include` (a file including a file including ...).
pub const MAX_INCLUDE_DEPTH: usize = 16;
/// Most files read for one configuration, the main file included.
pub const MAX_INCLUDE_FILES: usize = 1024;
/// Diagnostics of one kind (same severity, same message apart from names and numbers) shown
/// before the rest are summed up in one line.
pub const MAX_DIAGNOSTICS_PER_KIND: usize = 10;
/// Diagnostics shown in all before the rest are summed up in one line.
pub const MAX_DIAGNOSTICS: usize = 200;
