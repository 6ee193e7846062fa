//! The loopback proxy behind `aigate run` and `aigate serve` (product.md §6).
//!
//! Owned by the `aigate run` work (issue 4). `start` binds, serves in the background
//! and returns a handle; `shutdown` drains open streams for a bounded time.
