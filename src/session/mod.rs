//! Sessions: the lifecycles of `aigate run` (one agent, one proxy, one session) and of
//! `aigate serve` (the persistent gateway), side by side, with the one proxy bootstrap
//! (runtime and stop signals) they and the benchmark server share.
//!
//! Invariants: a proxy always runs on a runtime built by [`runtime`]; a gateway's state
//! file ([`state`]) exists exactly while it listens.

pub mod bench;
pub mod run;
pub mod serve;
pub mod state;

use crate::error::{Error, Result};

/// The async runtime a proxy runs on. `worker_threads: None` takes one per core.
pub fn runtime(worker_threads: Option<usize>) -> Result<tokio::runtime::Runtime> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(threads) = worker_threads {
        builder.worker_threads(threads);
    }
    builder
        .enable_all()
        .build()
        .map_err(|error| Error::internal("Failed to start the async runtime").cause(error))
}

/// SIGINT, SIGTERM and SIGHUP, watched from creation on: a long-running proxy stops on
/// any of them.
pub struct StopSignals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
    hangup: tokio::signal::unix::Signal,
}

impl StopSignals {
    /// Start watching (inside the runtime).
    pub fn new() -> Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        let watch = |kind: SignalKind| {
            signal(kind).map_err(|error| Error::internal("Failed to watch a stop signal").cause(error))
        };
        Ok(Self {
            interrupt: watch(SignalKind::interrupt())?,
            terminate: watch(SignalKind::terminate())?,
            hangup: watch(SignalKind::hangup())?,
        })
    }

    /// Until one of them arrives.
    pub async fn wait(mut self) {
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
            _ = self.hangup.recv() => {}
        }
    }
}
