//! `aigate logs --follow`: print each request as it is recorded, until Ctrl-C.
//!
//! `run` sessions and `serve` write the same db from other processes, so this polls it:
//! every [`INTERVAL`] it reads the highest row id, then the rows between the last one
//! seen and it (the primary key range, so an idle poll is one index lookup). SQLite gives
//! row ids in commit order (one writer at a time, the id taken under the write lock), so
//! no row is skipped or shown twice. The connection is read-only; WAL lets it read while
//! the writers write. Rows a busy proxy parked (`usage_store`) are settled into the table
//! first, through a second connection, at the start and at each poll that finds some: a
//! row parked before the start then shows as new, once. SIGINT and SIGTERM end the loop
//! cleanly (exit 0).

use std::path::Path;
use std::time::Duration;

use super::{Filter, LogEntry, query};
use crate::error::{Error, Result};

/// How often the db is polled.
pub const INTERVAL: Duration = Duration::from_millis(200);

/// Follow the usage table under `aigate_home`. `ready` is called once the starting point is
/// read (rows recorded after it are shown); `emit` gets each new row that `filter` keeps
/// and returns `false` to stop (the reader went away).
pub fn follow(
    aigate_home: &Path,
    filter: &Filter,
    interval: Duration,
    ready: impl FnOnce(),
    mut emit: impl FnMut(&LogEntry) -> bool,
) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|error| Error::internal("Failed to start the event loop").cause(error))?;
    runtime.block_on(async {
        use tokio::signal::unix::{SignalKind, signal};
        let mut interrupt = signal(SignalKind::interrupt())?;
        let mut terminate = signal(SignalKind::terminate())?;
        // Rows a busy proxy parked are settled into `usage` before they are looked for
        // (`usage_store`), through a connection that may write.
        let settler = crate::db::open(aigate_home)?;
        crate::usage_store::settle_for_reading(&settler);
        let connection = crate::db::open_read_only(aigate_home)?;
        let mut last = query::last_id(&connection)?;
        ready();
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = interrupt.recv() => return Ok(()),
                _ = terminate.recv() => return Ok(()),
                _ = ticker.tick() => {
                    if crate::usage_store::parked(&connection)? > 0 {
                        crate::usage_store::settle_for_reading(&settler);
                    }
                    let top = query::last_id(&connection)?;
                    if top <= last {
                        continue;
                    }
                    for entry in query::between(&connection, filter, last, top)? {
                        if !emit(&entry) {
                            return Ok(());
                        }
                    }
                    last = top;
                }
            }
        }
    })
}
