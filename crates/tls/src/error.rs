//! Why loading a TLS file or building a TLS config failed.

use std::path::{Path, PathBuf};

/// A TLS file that cannot be used, or a config rustls refuses. The message names the file.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The file could not be read.
    #[error("{}: cannot read: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file was read but its content is not what it should be.
    #[error("{}: {what}", path.display())]
    Invalid { path: PathBuf, what: String },
    /// rustls refused the settings (should not happen after config validation).
    #[error("{0}")]
    Config(String),
}

impl TlsError {
    pub(crate) fn read(path: &Path, source: std::io::Error) -> Self {
        TlsError::Read {
            path: path.to_path_buf(),
            source,
        }
    }

    pub(crate) fn invalid(path: &Path, what: impl Into<String>) -> Self {
        TlsError::Invalid {
            path: path.to_path_buf(),
            what: what.into(),
        }
    }

    /// The file the error is about, if it is about one.
    pub fn path(&self) -> Option<&Path> {
        match self {
            TlsError::Read { path, .. } | TlsError::Invalid { path, .. } => Some(path),
            TlsError::Config(_) => None,
        }
    }
}
