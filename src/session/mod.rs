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

/// The async runtime a proxy runs on. `worker_threads: None` takes half the cores (at
/// least one); one worker means a current-thread runtime.
///
/// Why not one worker per core: the proxy's own work per request is small next to the
/// kernel's TCP work, and tasks handed between workers cost a wake-up (an eventfd write, a
/// futex, a context switch) each. On the 2-core bench machine (`bench/PROFILE.md`, "Proxy
/// hot path") one thread served 1.2-1.7x the small requests per second of two workers,
/// at less CPU per request; the other cores stay with the agents and the upstreams the
/// proxy shares the machine with.
pub fn runtime(worker_threads: Option<usize>) -> Result<tokio::runtime::Runtime> {
    let threads = worker_threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |cores| (cores.get() / 2).max(1)));
    let mut builder = if threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        builder.worker_threads(threads);
        builder
    };
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
