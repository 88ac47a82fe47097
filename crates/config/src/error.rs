//! Config errors, written for the operator who has to fix the file.
//!
//! A [`ConfigError`] is either an I/O error (the file could not be read) or a list of
//! [`Diagnostic`]s, one per problem, in file order. Each diagnostic names the origin, line and
//! column (1-based), the key path (`listener[1].bind`, `cluster[0].backends[2].weight`), what was
//! found and what was expected, and renders rustc-style:
//!
//! ```text
//! error: unknown key `bnd` in listener[0]
//!  --> /etc/fulcrum.toml:7:1
//!   |
//! 7 | bnd = "127.0.0.1:5433"
//!   | ^^^ expected one of `name`, `bind`, ...; did you mean `bind`?
//! ```
//!
//! The first line of each diagnostic stands alone (it is what a log line or `grep` shows), and
//! [`Diagnostic::summary`] gives a one-line form with the position in front.

use serde::Serialize;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// What kind of problem a diagnostic reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The file could not be read.
    Io,
    /// The text is not valid TOML.
    Syntax,
    /// A key that Fulcrum does not know (often a typo).
    UnknownKey,
    /// A required key is absent.
    MissingKey,
    /// A value of the wrong TOML type (`bind = 5433`).
    WrongType,
    /// A value of the right type outside what is allowed (`workers = 0`).
    InvalidValue,
    /// Two listeners, two clusters, or two backends of one cluster share a name or address.
    Duplicate,
    /// A listener names a cluster that does not exist.
    UnknownCluster,
    /// Two sockets would bind the same address (or a wildcard and a specific address).
    AddressConflict,
    /// A key that does not go with another setting: an HTTP-only key on a tcp listener,
    /// `hash_key` with a balance that hashes nothing, two path matches in one route, ...
    Conflict,
}

/// One problem in a config text, with its position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub kind: ErrorKind,
    /// The file path (or another name, such as `<demo>`) the text came from.
    pub origin: String,
    /// 1-based line of the offending key or value.
    pub line: usize,
    /// 1-based column, counted in characters.
    pub column: usize,
    /// Where in the config: `runtime.workers`, `listener[1].bind`, `cluster[0].backends[2]`.
    pub key: String,
    /// The self-contained first line, without the `error: ` prefix.
    pub message: String,
    /// The note under the carets: what was expected, and a suggestion when there is one.
    pub label: String,
    /// The source line the carets point into (tabs shown as spaces).
    #[serde(skip)]
    source_line: String,
    /// How many characters the carets cover, at least 1.
    #[serde(skip)]
    width: usize,
}

impl Diagnostic {
    /// `origin:line:column: message`, for one-line logs.
    pub fn summary(&self) -> String {
        format!(
            "{}:{}:{}: {}",
            self.origin, self.line, self.column, self.message
        )
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let line_no = self.line.to_string();
        let pad = " ".repeat(line_no.len());
        writeln!(f, "error: {}", self.message)?;
        writeln!(f, "{pad}--> {}:{}:{}", self.origin, self.line, self.column)?;
        writeln!(f, "{pad} |")?;
        writeln!(f, "{line_no} | {}", self.source_line.trim_end())?;
        let indent = " ".repeat(self.column - 1);
        let carets = "^".repeat(self.width);
        write!(f, "{pad} | {indent}{carets} {}", self.label)
    }
}

/// Why a config could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("error: cannot read config file {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The text has problems; at least one, in file order.
    #[error("{}", render(.0))]
    Invalid(Vec<Diagnostic>),
}

fn render(diagnostics: &[Diagnostic]) -> String {
    let mut out = diagnostics
        .iter()
        .map(Diagnostic::to_string)
        .collect::<Vec<_>>()
        .join("\n\n");
    if let [first, _, ..] = diagnostics {
        out.push_str(&format!(
            "\n\nerror: {} has {} errors",
            first.origin,
            diagnostics.len()
        ));
    }
    out
}

impl ConfigError {
    /// The file at `path` could not be read.
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        ConfigError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    /// Every problem found, in file order; empty for an I/O error.
    pub fn diagnostics(&self) -> &[Diagnostic] {
        match self {
            ConfigError::Io { .. } => &[],
            ConfigError::Invalid(d) => d,
        }
    }

    /// The kind of the first problem.
    pub fn kind(&self) -> ErrorKind {
        match self {
            ConfigError::Io { .. } => ErrorKind::Io,
            ConfigError::Invalid(d) => d.first().map_or(ErrorKind::Syntax, |d| d.kind),
        }
    }

    /// Builds the error from diagnostics, sorted into file order.
    pub(crate) fn from_diagnostics(mut diagnostics: Vec<Diagnostic>) -> Self {
        diagnostics.sort_by_key(|d| (d.line, d.column));
        ConfigError::Invalid(diagnostics)
    }
}

/// The text being checked and its name: turns byte spans into positioned diagnostics.
#[derive(Clone, Copy)]
pub(crate) struct Source<'a> {
    pub text: &'a str,
    pub origin: &'a str,
}

impl Source<'_> {
    pub fn diagnostic(
        &self,
        kind: ErrorKind,
        span: Range<usize>,
        key: &str,
        message: String,
        label: String,
    ) -> Diagnostic {
        let start = floor_char_boundary(self.text, span.start.min(self.text.len()));
        let line_start = self.text[..start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = self.text[start..]
            .find('\n')
            .map_or(self.text.len(), |i| start + i);
        let line = self.text[..line_start].matches('\n').count() + 1;
        let column = self.text[line_start..start].chars().count() + 1;
        let end = floor_char_boundary(self.text, span.end.clamp(start, line_end));
        let width = self.text[start..end].trim_end().chars().count().max(1);
        Diagnostic {
            kind,
            origin: self.origin.to_owned(),
            line,
            column,
            key: key.to_owned(),
            message,
            label,
            source_line: self.text[line_start..line_end].replace(['\t', '\r'], " "),
            width,
        }
    }

    /// The 1-based line a byte offset is on.
    pub fn line_of(&self, offset: usize) -> usize {
        let offset = floor_char_boundary(self.text, offset.min(self.text.len()));
        self.text[..offset].matches('\n').count() + 1
    }

    /// The source text of a span, shortened for a message: `` `"abc"` `` or `` `5433` ``.
    pub fn snippet(&self, span: Range<usize>) -> String {
        let start = floor_char_boundary(self.text, span.start.min(self.text.len()));
        let end = floor_char_boundary(self.text, span.end.clamp(start, self.text.len()));
        let text = self.text[start..end].trim();
        let first_line = text.lines().next().unwrap_or("");
        let short: String = first_line.chars().take(40).collect();
        if short.len() < text.len() {
            format!("`{short}...`")
        } else {
            format!("`{short}`")
        }
    }
}

fn floor_char_boundary(text: &str, mut i: usize) -> usize {
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// The closest of `candidates` to `word`, if it is close enough to be a likely typo.
pub(crate) fn suggest<'c>(word: &str, candidates: &[&'c str]) -> Option<&'c str> {
    candidates
        .iter()
        .map(|c| {
            (
                strsim::jaro_winkler(&word.to_lowercase(), &c.to_lowercase()),
                *c,
            )
        })
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// `` `a`, `b`, `c` ``.
pub(crate) fn backticked(items: &[&str]) -> String {
    items
        .iter()
        .map(|i| format!("`{i}`"))
        .collect::<Vec<_>>()
        .join(", ")
}
