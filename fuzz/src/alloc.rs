//! The largest allocation a piece of code makes: the wire targets' bound on what a length field
//! can make a decoder allocate, checked in every run (fuzzing or `cargo test`, with or without
//! a sanitizer). This crate's global allocator is the system allocator plus that record.
#![allow(unsafe_code)] // A global allocator is an `unsafe impl`; it only forwards to `System`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// The largest single allocation the wire targets allow. The emulator's decoders refuse
/// messages over 64 KiB; anything near what a length field can claim (16 MiB for MySQL, 4 GiB
/// for PostgreSQL) is a decoder trusting it.
pub const LIMIT: usize = 1 << 20;

/// Run `f` and check that none of its allocations on this thread exceeded [`LIMIT`].
pub fn bounded<T>(f: impl FnOnce() -> T) -> T {
    let (result, largest) = largest_allocation(f);
    assert!(largest <= LIMIT, "a single allocation of {largest} bytes");
    result
}

/// Run `f`; returns its result and the size of the largest single allocation (or reallocation)
/// it made on this thread.
pub fn largest_allocation<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let outer = LARGEST.with(|l| l.replace(0));
    let result = f();
    let largest = LARGEST.with(|l| l.replace(outer.max(l.get())));
    (result, largest)
}

thread_local! {
    /// The largest allocation on this thread since it was last reset.
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

/// The system allocator, recording the largest allocation of each thread.
struct Recording;

// SAFETY: every call goes unchanged to the system allocator.
unsafe impl GlobalAlloc for Recording {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        record(layout.size());
        // SAFETY: the caller keeps `GlobalAlloc::alloc`'s contract, which is `System`'s.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        record(layout.size());
        // SAFETY: as in `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        record(new_size);
        // SAFETY: as in `alloc`; `ptr` came from `System` through this allocator.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as in `realloc`.
        unsafe { System.dealloc(ptr, layout) }
    }
}

fn record(size: usize) {
    // `try_with`: while a thread exits, its thread-local may already be gone.
    let _ = LARGEST.try_with(|l| l.set(l.get().max(size)));
}

#[global_allocator]
static ALLOCATOR: Recording = Recording;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_the_largest_allocation_of_the_closure_only() {
        let _before = vec![0u8; 1 << 20];
        let (len, largest) = largest_allocation(|| {
            let v = vec![0u8; 1000];
            let mut w = Vec::with_capacity(10);
            w.extend_from_slice(&[1u8; 3000]);
            v.len() + w.len()
        });
        assert_eq!(len, 4000);
        assert!((3000..1 << 20).contains(&largest), "{largest}");
    }
}
