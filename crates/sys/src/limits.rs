//! Resource limits: the open-file limit the process runs under.

use rustix::process::{Resource, getrlimit, setrlimit};
use std::io;

/// The soft and hard `RLIMIT_NOFILE` of the process.
pub fn nofile_limit() -> (Option<u64>, Option<u64>) {
    let lim = getrlimit(Resource::Nofile);
    (lim.current, lim.maximum)
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit, returning the new soft limit.
pub fn raise_nofile_to_hard() -> io::Result<Option<u64>> {
    let mut lim = getrlimit(Resource::Nofile);
    lim.current = lim.maximum;
    setrlimit(Resource::Nofile, lim)?;
    Ok(lim.current)
}

/// Sets the soft `RLIMIT_NOFILE` (the hard limit is left alone).
pub fn set_nofile_soft(soft: u64) -> io::Result<()> {
    let mut lim = getrlimit(Resource::Nofile);
    lim.current = Some(soft);
    setrlimit(Resource::Nofile, lim)?;
    Ok(())
}
