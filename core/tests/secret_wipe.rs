//! `SecretBytes` wipes its allocation when dropped, observed without undefined behaviour: a
//! global allocator records, for blocks of one marker size, whether they were all zeros at the
//! moment they were freed.

#![allow(unsafe_code, clippy::unwrap_used)]

use std::{
    alloc::{GlobalAlloc, Layout, System},
    sync::atomic::{AtomicUsize, Ordering},
};

use trousseau_core::SecretBytes;

/// A size no other allocation in this test uses.
const MARKER: usize = 777;

static FREED_ZEROED: AtomicUsize = AtomicUsize::new(0);
static FREED_DIRTY: AtomicUsize = AtomicUsize::new(0);

struct Recording;

unsafe impl GlobalAlloc for Recording {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if layout.size() == MARKER {
            // SAFETY: the block is `MARKER` bytes, still allocated, and SecretBytes only ever
            // holds initialised bytes in it (wipe fills the whole capacity).
            let block = unsafe { std::slice::from_raw_parts(ptr, MARKER) };
            let counter = if block.iter().all(|&b| b == 0) {
                &FREED_ZEROED
            } else {
                &FREED_DIRTY
            };
            counter.fetch_add(1, Ordering::SeqCst);
        }
        // SAFETY: forwarded unchanged.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Recording = Recording;

#[test]
fn dropped_secret_leaves_only_zeros_behind() {
    // Control: a plain Vec of the marker size is freed dirty, so the check can fail.
    let plain = vec![0xA5u8; MARKER];
    drop(plain);
    assert_eq!(FREED_DIRTY.load(Ordering::SeqCst), 1);

    let mut secret = SecretBytes::with_capacity(MARKER);
    secret.extend_from_slice(&[0x5Au8; 500]);
    assert_eq!(secret.expose()[499], 0x5A);
    drop(secret);
    assert_eq!(FREED_ZEROED.load(Ordering::SeqCst), 1);
    assert_eq!(
        FREED_DIRTY.load(Ordering::SeqCst),
        1,
        "a secret was freed unwiped"
    );

    // Growing past the capacity moves the bytes; the old block must be wiped when freed.
    let mut growing = SecretBytes::with_capacity(MARKER);
    growing.extend_from_slice(&[0x33u8; MARKER]);
    growing.extend_from_slice(b"one more");
    assert_eq!(FREED_ZEROED.load(Ordering::SeqCst), 2);
    assert_eq!(
        FREED_DIRTY.load(Ordering::SeqCst),
        1,
        "the pre-growth block was freed unwiped"
    );
    assert_eq!(&growing.expose()[MARKER..], b"one more");
}
