//! Noticing that files changed: a cheap poll of their metadata.
//!
//! A stamp is (modification time, size, inode) of the file a path leads to, following
//! symlinks, so a certificate replaced by renaming a new file over it, or by switching a
//! symlinked directory (as Kubernetes does with mounted secrets), is noticed too.

use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::SystemTime;

#[derive(Debug, Clone, PartialEq, Eq)]
struct Stamp {
    modified: Option<SystemTime>,
    len: u64,
    inode: u64,
}

fn stamp(path: &PathBuf) -> Option<Stamp> {
    let meta = std::fs::metadata(path).ok()?;
    Some(Stamp {
        modified: meta.modified().ok(),
        len: meta.len(),
        inode: meta.ino(),
    })
}

/// The files a TLS config was built from, and how they looked then.
#[derive(Debug)]
pub struct Watch {
    files: Vec<PathBuf>,
    seen: Mutex<Vec<Option<Stamp>>>,
}

impl Watch {
    /// Stamps the files now.
    pub fn new(files: Vec<PathBuf>) -> Watch {
        let seen = files.iter().map(stamp).collect();
        Watch {
            files,
            seen: Mutex::new(seen),
        }
    }

    /// Whether any file changed (or appeared, or went away) since the last call that returned
    /// true, or since [`Watch::new`]. A change is reported once.
    pub fn changed(&self) -> bool {
        let now: Vec<Option<Stamp>> = self.files.iter().map(stamp).collect();
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if *seen == now {
            return false;
        }
        *seen = now;
        true
    }

    /// The watched files.
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }
}
