//! A warm `token()` allocates nothing: it clones an `Arc`. Counted with an allocator that counts
//! only on the thread that asks.

#![allow(unsafe_code)] // a counting wrapper around the system allocator, for this test only

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, Waker};

use crate::support::start;

struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static COUNT_HERE: Cell<bool> = const { Cell::new(false) };
}

// SAFETY: every call is forwarded unchanged to the system allocator.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNT_HERE.with(Cell::get) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNT_HERE.with(Cell::get) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[tokio::test]
async fn a_warm_token_call_does_not_allocate() {
    let server = start(None).await;
    let provider = server.provider().build().unwrap();
    provider.token().await.unwrap();

    let mut cx = Context::from_waker(Waker::noop());
    COUNT_HERE.with(|c| c.set(true));
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    for _ in 0..1000 {
        let mut call = pin!(provider.token());
        match call.as_mut().poll(&mut cx) {
            Poll::Ready(Ok(token)) => drop(token),
            other => panic!(
                "a warm token() must be ready at once: {:?}",
                other.is_ready()
            ),
        }
    }
    let allocations = ALLOCATIONS.load(Ordering::Relaxed) - before;
    COUNT_HERE.with(|c| c.set(false));
    assert_eq!(allocations, 0);
}
