//! The small tokio runtime each blob repository owns: the repository trait is synchronous,
//! object_store is asynchronous.

use std::future::Future;

use tokio::runtime::{Builder, Handle, Runtime};
use trousseau_core::{Error, ErrorCode, Result};

/// A current-thread runtime that runs one future at a time to completion.
#[derive(Debug)]
pub(crate) struct BlockingRuntime(Runtime);

impl BlockingRuntime {
    pub(crate) fn new() -> Result<Self> {
        Builder::new_current_thread()
            .enable_all()
            .build()
            .map(BlockingRuntime)
            .map_err(|e| Error::from_io(&e, "cannot start the blob repository's I/O runtime"))
    }

    /// Runs `future` to completion. Called from inside another tokio runtime (where blocking
    /// that runtime's thread would panic), it runs on a scoped helper thread instead.
    pub(crate) fn block_on<F>(&self, future: F) -> Result<F::Output>
    where
        F: Future + Send,
        F::Output: Send,
    {
        if Handle::try_current().is_err() {
            return Ok(self.0.block_on(future));
        }
        std::thread::scope(|s| {
            s.spawn(|| self.0.block_on(future)).join().map_err(|_| {
                Error::new(
                    ErrorCode::Internal,
                    "the blob repository's I/O thread panicked",
                )
            })
        })
    }
}
