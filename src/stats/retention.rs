//! How long usage rows are kept, and pruning the older ones.
//!
//! The limit is the db setting `usage_retention_days` (default [`DEFAULT_DAYS`]; `0` keeps
//! rows forever), set with `aigate stats --retention-days N`. It lives in the db, not in
//! the environment, so `run` sessions and `serve` started from anywhere agree on it.
//!
//! Invariants: a prune removes exactly the rows with `ts` before `now - days` (a row at the
//! cutoff stays) and nothing else; it deletes in batches of [`BATCH_ROWS`], each its own
//! short transaction, so a writer waiting on the db waits at most one batch. The proxy
//! prunes once when its usage writer thread starts ([`prune_at_start`], at most
//! [`START_BATCHES`] batches), never on a request.

use std::path::Path;

use rusqlite::Connection;
use serde::Serialize;

use crate::error::{Error, Result};

/// The setting's key in the db's `settings` table.
pub const SETTING: &str = "usage_retention_days";
/// Rows are kept this many days unless set otherwise.
pub const DEFAULT_DAYS: u32 = 180;
/// Rows deleted per transaction.
pub const BATCH_ROWS: u32 = 5_000;
/// At most this many batches when a proxy starts (about 0.6 s on a laptop-class core), so a
/// first start over a long backlog does not hold its usage rows back for seconds; the next
/// start, or `aigate stats --prune`, takes the rest.
pub const START_BATCHES: u32 = 40;
const DAY_MS: i64 = 86_400_000;

/// How long rows are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Retention {
    /// `0`: forever.
    pub days: u32,
    /// Whether it is the default (never set).
    pub default: bool,
}

/// What a prune did, or with `--dry-run` would do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Pruned {
    pub retention_days: u32,
    /// Rows before this instant (ms) go; `null` when rows are kept forever.
    pub cutoff_ms: Option<i64>,
    pub rows: u64,
    pub dry_run: bool,
}

impl Retention {
    /// Rows before this instant are past the limit (`None`: kept forever).
    pub fn cutoff_ms(self, now_ms: i64) -> Option<i64> {
        (self.days > 0).then(|| now_ms - i64::from(self.days) * DAY_MS)
    }

    /// `180 days`, `forever`.
    pub fn describe(self) -> String {
        match self.days {
            0 => "forever".to_string(),
            1 => "1 day".to_string(),
            days => format!("{days} days"),
        }
    }
}

/// The retention in force.
pub fn retention(connection: &Connection) -> Result<Retention> {
    let stored = crate::db::setting(connection, SETTING)?;
    // A value that does not parse (hand-edited db) falls back to the default rather than
    // keeping rows forever or deleting more than was asked.
    Ok(match stored.and_then(|value| value.trim().parse::<u32>().ok()) {
        Some(days) => Retention { days, default: false },
        None => Retention { days: DEFAULT_DAYS, default: true },
    })
}

/// Store a new retention (`0`: forever).
pub fn set_retention(connection: &Connection, days: u32) -> Result<Retention> {
    if i64::from(days) * DAY_MS > jiff::Timestamp::MAX.as_millisecond() / 2 {
        return Err(Error::refused(format!("Invalid --retention-days `{days}`"))
            .hint("use a number of days such as 30, 180 or 365, or 0 to keep usage forever"));
    }
    crate::db::set_setting(connection, SETTING, &days.to_string())?;
    Ok(Retention { days, default: false })
}

/// Prune (or with `dry_run` count) the rows past `retention` at `now_ms`.
pub fn prune(connection: &Connection, retention: Retention, now_ms: i64, dry_run: bool) -> Result<Pruned> {
    // Parked rows are rows too.
    crate::usage_store::settle_for_reading(connection);
    let cutoff_ms = retention.cutoff_ms(now_ms);
    let rows = match cutoff_ms {
        None => 0,
        Some(cutoff) if dry_run => count_before(connection, cutoff)?,
        Some(cutoff) => delete_before(connection, cutoff, u32::MAX)?,
    };
    Ok(Pruned { retention_days: retention.days, cutoff_ms, rows, dry_run })
}

/// How many rows are older than `cutoff_ms`.
pub fn count_before(connection: &Connection, cutoff_ms: i64) -> Result<u64> {
    let count: i64 =
        connection.query_row("SELECT count(*) FROM usage WHERE ts < ?1", [cutoff_ms], |row| row.get(0))?;
    Ok(count.max(0) as u64)
}

/// Delete the rows older than `cutoff_ms`, [`BATCH_ROWS`] per transaction, at most
/// `max_batches` transactions; the count deleted.
pub fn delete_before(connection: &Connection, cutoff_ms: i64, max_batches: u32) -> Result<u64> {
    let mut statement = connection
        .prepare_cached("DELETE FROM usage WHERE id IN (SELECT id FROM usage WHERE ts < ?1 LIMIT ?2)")?;
    let mut removed = 0u64;
    for _ in 0..max_batches {
        let batch = statement.execute(rusqlite::params![cutoff_ms, BATCH_ROWS])?;
        removed += batch as u64;
        if batch < BATCH_ROWS as usize {
            break;
        }
    }
    Ok(removed)
}

/// The usage writer's start-up prune: best effort (a failure loses nothing; the next
/// start tries again), and only on a db that exists.
pub fn prune_at_start(aigate_home: &Path) {
    let Ok(Some(connection)) = crate::db::open_existing(aigate_home) else {
        return;
    };
    if let Ok(retention) = retention(&connection) {
        if let Some(cutoff) = retention.cutoff_ms(crate::db::now_ms()) {
            let _ = delete_before(&connection, cutoff, START_BATCHES);
        }
    }
}

/// One line for `aigate status`: how many requests are recorded, since when, kept how long.
/// `None` when there is no db yet (status creates nothing).
pub fn status_line(aigate_home: &Path) -> Option<String> {
    let connection = crate::db::open_existing(aigate_home).ok()??;
    let retention = retention(&connection).ok()?;
    let (count, oldest): (i64, Option<i64>) = connection
        .query_row("SELECT count(*), min(ts) FROM usage", [], |row| Ok((row.get(0)?, row.get(1)?)))
        .ok()?;
    // Status writes nothing: rows a busy proxy parked are counted, not settled.
    let count = u64::try_from(count).unwrap_or(0) + crate::usage_store::parked(&connection).unwrap_or(0);
    let since = oldest
        .map(|ts| format!(" since {}", super::local_time(ts).get(..10).unwrap_or("")))
        .unwrap_or_default();
    Some(format!(
        "usage     {count} requests recorded{since}; kept {}{}",
        retention.describe(),
        if retention.default { " (default; set with `aigate stats --retention-days N`)" } else { "" }
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    fn seeded(timestamps: &[i64]) -> (tempfile::TempDir, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let connection = crate::db::open(dir.path()).unwrap();
        for ts in timestamps {
            connection.execute("INSERT INTO usage (ts, request_id) VALUES (?1, 'r')", [ts]).unwrap();
        }
        (dir, connection)
    }

    fn remaining(connection: &Connection) -> Vec<i64> {
        let mut statement = connection.prepare("SELECT ts FROM usage ORDER BY ts").unwrap();
        statement.query_map([], |row| row.get(0)).unwrap().map(Result::unwrap).collect()
    }

    #[test]
    fn removes_exactly_the_rows_past_the_limit() {
        let now = 1_000 * DAY_MS;
        let cutoff = now - 30 * DAY_MS;
        let (_dir, connection) = seeded(&[0, cutoff - 1, cutoff, cutoff + 1, now, now + 5]);
        set_retention(&connection, 30).unwrap();
        let retention = retention(&connection).unwrap();
        assert_eq!(retention, Retention { days: 30, default: false });
        let dry = prune(&connection, retention, now, true).unwrap();
        assert_eq!(dry, Pruned { retention_days: 30, cutoff_ms: Some(cutoff), rows: 2, dry_run: true });
        assert_eq!(remaining(&connection).len(), 6, "a dry run deletes nothing");
        let done = prune(&connection, retention, now, false).unwrap();
        assert_eq!(done.rows, 2);
        assert_eq!(remaining(&connection), [cutoff, cutoff + 1, now, now + 5]);
        assert_eq!(prune(&connection, retention, now, false).unwrap().rows, 0);
    }

    #[test]
    fn deletes_in_batches_past_one_batch() {
        let count = i64::from(BATCH_ROWS) * 2 + 7;
        let (_dir, connection) = seeded(&(0..count).collect::<Vec<_>>());
        connection.execute("INSERT INTO usage (ts, request_id) VALUES (?1, 'keep')", [count + 100]).unwrap();
        assert_eq!(delete_before(&connection, count, 1).unwrap(), u64::from(BATCH_ROWS), "one batch at most");
        assert_eq!(
            delete_before(&connection, count, u32::MAX).unwrap(),
            count as u64 - u64::from(BATCH_ROWS)
        );
        assert_eq!(remaining(&connection), [count + 100]);
    }

    #[test]
    fn default_and_forever() {
        let (_dir, connection) = seeded(&[0, 1]);
        assert_eq!(retention(&connection).unwrap(), Retention { days: DEFAULT_DAYS, default: true });
        crate::db::set_setting(&connection, SETTING, "not a number").unwrap();
        assert_eq!(retention(&connection).unwrap().days, DEFAULT_DAYS);
        set_retention(&connection, 0).unwrap();
        let forever = retention(&connection).unwrap();
        assert_eq!(forever.describe(), "forever");
        assert_eq!(prune(&connection, forever, 1_000 * DAY_MS, false).unwrap().rows, 0);
        assert_eq!(remaining(&connection), [0, 1]);
    }
}
