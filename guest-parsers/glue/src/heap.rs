//! The guests' allocator: dlmalloc, whose first megabyte is a zeroed static
//! array, so it lies in the instance's initial memory.
//!
//! Each event gets a fresh instance. With std's allocator every instance
//! began with a `memory.grow`, and a pool slot whose last instance grew is
//! shrunk back when the next one starts: two `mprotect` calls per event, and
//! the second one sends a TLB-flush interrupt to every core running an
//! archiver thread. A small event's heap now fits in memory the instance
//! starts with, so steady state needs neither. Bigger ones grow as before,
//! under the same memory limit.

use core::alloc::{GlobalAlloc, Layout};
use core::arch::wasm32;
use core::cell::UnsafeCell;
use core::ptr;
use core::sync::atomic::{AtomicBool, Ordering};

const PAGE: usize = 64 * 1024;
/// Heap in the initial memory: zeroed, so it costs no bytes in the module
/// (`.bss`), and only the pages an event touches are reset afterwards.
const INITIAL_HEAP: usize = 1 << 20;

#[repr(C, align(16))]
struct InitialHeap(UnsafeCell<[u8; INITIAL_HEAP]>);

// SAFETY: the guests are single-threaded (no `atomics` target feature);
// only `Pages::alloc` hands the array out, once.
unsafe impl Sync for InitialHeap {}

static INITIAL: InitialHeap = InitialHeap(UnsafeCell::new([0; INITIAL_HEAP]));
static INITIAL_TAKEN: AtomicBool = AtomicBool::new(false);

/// Where dlmalloc gets its segments: the initial heap first, then
/// `memory.grow`. Memory is never given back (the instance is dropped).
struct Pages;

// SAFETY: every region returned is valid, zeroed, unused memory of at least
// the size reported, and is handed out once.
unsafe impl dlmalloc::Allocator for Pages {
    fn alloc(&self, size: usize) -> (*mut u8, usize, u32) {
        if size <= INITIAL_HEAP && !INITIAL_TAKEN.swap(true, Ordering::Relaxed) {
            return (INITIAL.0.get().cast::<u8>(), INITIAL_HEAP, 0);
        }
        let pages = size.div_ceil(PAGE);
        let previous = wasm32::memory_grow(0, pages);
        if previous == usize::MAX {
            return (ptr::null_mut(), 0, 0);
        }
        let base = previous * PAGE;
        let len = pages * PAGE;
        // A region ending at the top of the 32-bit address space would make
        // one-past-the-end pointers wrap to 0: keep its last bytes unused.
        let len = if base.wrapping_add(len) == 0 { len - 16 } else { len };
        (base as *mut u8, len, 0)
    }

    fn remap(&self, _ptr: *mut u8, _old: usize, _new: usize, _can_move: bool) -> *mut u8 {
        ptr::null_mut()
    }

    fn free_part(&self, _ptr: *mut u8, _old: usize, _new: usize) -> bool {
        false
    }

    fn free(&self, _ptr: *mut u8, _size: usize) -> bool {
        false
    }

    fn can_release_part(&self, _flags: u32) -> bool {
        false
    }

    fn allocates_zeros(&self) -> bool {
        true
    }

    fn page_size(&self) -> usize {
        PAGE
    }
}

pub struct GuestAllocator(UnsafeCell<dlmalloc::Dlmalloc<Pages>>);

// SAFETY: single-threaded guests, as above.
unsafe impl Sync for GuestAllocator {}

impl GuestAllocator {
    #[allow(clippy::mut_from_ref)]
    fn heap(&self) -> &mut dlmalloc::Dlmalloc<Pages> {
        // SAFETY: single-threaded, and no call below re-enters the allocator.
        unsafe { &mut *self.0.get() }
    }
}

// SAFETY: forwards to dlmalloc, which upholds `GlobalAlloc`'s contract.
unsafe impl GlobalAlloc for GuestAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `GlobalAlloc::alloc`.
        unsafe { self.heap().malloc(layout.size(), layout.align()) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `GlobalAlloc::alloc_zeroed`.
        unsafe { self.heap().calloc(layout.size(), layout.align()) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from this allocator with `layout`.
        unsafe { self.heap().free(ptr, layout.size(), layout.align()) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `ptr` came from this allocator with `layout`.
        unsafe { self.heap().realloc(ptr, layout.size(), layout.align(), new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: GuestAllocator = GuestAllocator(UnsafeCell::new(dlmalloc::Dlmalloc::new_with_allocator(Pages)));
