//! Fulcrum's configuration, in three stages.
//!
//! 1. `raw`: serde structs that mirror the TOML file, with spans for error positions.
//! 2. [`model`]: the validated model, every default filled in and every reference checked.
//! 3. The runtime objects are built from the model by the proxy crate.
//!
//! [`diff()`] compares two validated models and drives reload. This crate never does I/O beyond
//! reading the file it is given, and never panics on input: every problem is a [`ConfigError`]
//! naming file, line, column, key, what was found and what was expected.

#![forbid(unsafe_code)]

pub mod defaults;
pub mod diff;
mod error;
pub mod model;
mod raw;
pub mod units;
mod validate;

pub use diff::{ConfigDiff, diff};
pub use error::{ConfigError, Diagnostic, ErrorKind};
pub use model::*;

use std::path::Path;

/// Reads and validates a config file.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError::io(path, e))?;
    let mut cfg = parse(&text, &path.display().to_string())?;
    cfg.source = Some(path.to_path_buf());
    Ok(cfg)
}

/// Parses and validates config text; `origin` names it in errors (a file path or `"<demo>"`).
pub fn parse(text: &str, origin: &str) -> Result<Config, ConfigError> {
    let raw = raw::parse(text, origin)?;
    validate::validate(raw, text, origin)
}
