//! How the process's memory is backed and given back.

use std::io;

/// Turns transparent huge pages off for the whole process (`PR_SET_THP_DISABLE`; children
/// inherit it). Memory touched afterwards is backed by 4 KiB pages, so the resident size
/// follows what is in use instead of growing in 2 MiB steps.
pub fn disable_transparent_huge_pages() -> io::Result<()> {
    rustix::thread::disable_transparent_huge_pages(true)?;
    Ok(())
}

/// Gives the memory the calling thread's allocator heap holds but no longer uses back to the
/// system now (mimalloc's `mi_collect(true)`), rather than after the allocator's own delay.
/// A worker calls it once a second: after a burst, an idle worker shrinks back to what its
/// open connections use. Cheap when there is little to give back.
pub fn release_free_memory() {
    // SAFETY: mi_collect takes no pointers and touches only allocator state that is free;
    // it may be called from any thread at any time.
    unsafe { libmimalloc_sys::mi_collect(true) }
}
