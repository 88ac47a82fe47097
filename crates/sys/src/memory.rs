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

/// The global allocator: mimalloc, asked for plain `mi_malloc` whenever that already gives
/// the alignment wanted. Every mimalloc block is aligned to 8 bytes (sizes are whole words),
/// so only alignments above 8 need the aligned entry points, whose checks cost more on every
/// call (about 130 instructions for blocks over 1 KiB: a request's buffers and state).
pub struct Allocator;

/// The alignment every mimalloc block has.
const WORD: usize = 8;

// SAFETY: each method hands the layout to the mimalloc function that honours it (plain calls
// only where every block meets the alignment, see `WORD`), and frees only mimalloc blocks.
unsafe impl std::alloc::GlobalAlloc for Allocator {
    #[inline]
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        use libmimalloc_sys::{mi_malloc, mi_malloc_aligned};
        if layout.align() <= WORD {
            // SAFETY: any size may be asked for; the block is word-aligned.
            unsafe { mi_malloc(layout.size()).cast() }
        } else {
            // SAFETY: the alignment is a power of two (Layout guarantees it).
            unsafe { mi_malloc_aligned(layout.size(), layout.align()).cast() }
        }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: std::alloc::Layout) -> *mut u8 {
        use libmimalloc_sys::{mi_zalloc, mi_zalloc_aligned};
        if layout.align() <= WORD {
            // SAFETY: as in `alloc`.
            unsafe { mi_zalloc(layout.size()).cast() }
        } else {
            // SAFETY: as in `alloc`.
            unsafe { mi_zalloc_aligned(layout.size(), layout.align()).cast() }
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: std::alloc::Layout) {
        // SAFETY: `ptr` came from this allocator (GlobalAlloc's contract), so from mimalloc.
        unsafe { libmimalloc_sys::mi_free(ptr.cast()) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new_size: usize) -> *mut u8 {
        use libmimalloc_sys::{mi_realloc, mi_realloc_aligned};
        if layout.align() <= WORD {
            // SAFETY: `ptr` is a mimalloc block (see `dealloc`); the new block is word-aligned.
            unsafe { mi_realloc(ptr.cast(), new_size).cast() }
        } else {
            // SAFETY: as above, keeping the block's alignment.
            unsafe { mi_realloc_aligned(ptr.cast(), new_size, layout.align()).cast() }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Allocator;
    use std::alloc::{GlobalAlloc, Layout};

    #[test]
    fn blocks_have_the_alignment_asked_and_keep_their_bytes_when_resized() {
        for align in [1, 2, 4, 8, 16, 32, 64, 128, 4096] {
            for size in [1, 7, 8, 24, 40, 1000, 1025, 5424, 70_000] {
                let layout = Layout::from_size_align(size, align).unwrap();
                // SAFETY: the layout's size is not zero; the block is freed with it below.
                let p = unsafe { Allocator.alloc(layout) };
                assert!(!p.is_null());
                assert_eq!(p as usize % align, 0, "size {size} align {align}");
                // SAFETY: `p` holds `size` bytes.
                unsafe { p.write_bytes(0xa5, size) };
                // SAFETY: `p` came from `alloc` with `layout`; the new size is not zero.
                let q = unsafe { Allocator.realloc(p, layout, size * 2) };
                assert_eq!(q as usize % align, 0, "realloc: size {size} align {align}");
                // SAFETY: `q` holds at least the `size` bytes copied over.
                let kept = unsafe { std::slice::from_raw_parts(q, size) };
                assert!(kept.iter().all(|&b| b == 0xa5));
                let grown = Layout::from_size_align(size * 2, align).unwrap();
                // SAFETY: `q` came from `realloc` to `grown`'s size with the same alignment.
                unsafe { Allocator.dealloc(q, grown) };
                // SAFETY: as for `alloc`.
                let z = unsafe { Allocator.alloc_zeroed(layout) };
                assert_eq!(z as usize % align, 0);
                // SAFETY: `z` holds `size` bytes.
                assert!(
                    unsafe { std::slice::from_raw_parts(z, size) }
                        .iter()
                        .all(|&b| b == 0)
                );
                // SAFETY: `z` came from `alloc_zeroed` with `layout`.
                unsafe { Allocator.dealloc(z, layout) };
            }
        }
    }
}
