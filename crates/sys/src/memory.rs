//! How the kernel backs the process's memory.

use std::io;

/// Turns transparent huge pages off for the whole process (`PR_SET_THP_DISABLE`; children
/// inherit it). Memory touched afterwards is backed by 4 KiB pages, so the resident size
/// follows what is in use instead of growing in 2 MiB steps.
pub fn disable_transparent_huge_pages() -> io::Result<()> {
    rustix::thread::disable_transparent_huge_pages(true)?;
    Ok(())
}
