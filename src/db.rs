//! The SQLite database under `AIGATE_HOME` (0600, dir 0700): snapshots, providers,
//! usage records, the keys `use gateway` wrote, parked MCP entries.
//!
//! The schema is versioned with `PRAGMA user_version`; `MIGRATIONS[i]` takes the schema
//! from version `i` to `i + 1`. Never edit a migration that has shipped: append one.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use rusqlite::Connection;

use crate::error::{Error, Result};

const MIGRATIONS: &[&str] = &[
    // 1: the first schema.
    r"
    CREATE TABLE blobs (
        sha256 TEXT PRIMARY KEY,
        data   BLOB NOT NULL
    );
    CREATE TABLE snapshots (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        txn        TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        client     TEXT NOT NULL,
        reason     TEXT NOT NULL,
        label      TEXT,
        command    TEXT NOT NULL,
        pinned     INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX snapshots_client ON snapshots(client, id);
    CREATE TABLE snapshot_files (
        snapshot_id INTEGER NOT NULL REFERENCES snapshots(id) ON DELETE CASCADE,
        path        TEXT NOT NULL,
        kind        TEXT NOT NULL,
        sha256      TEXT,
        mode        INTEGER,
        link_target TEXT,
        PRIMARY KEY (snapshot_id, path)
    );
    CREATE TABLE providers (
        name          TEXT PRIMARY KEY,
        preset        TEXT,
        base_url      TEXT NOT NULL,
        apis          TEXT NOT NULL,
        key_env       TEXT,
        keys          TEXT,
        model_map     TEXT NOT NULL DEFAULT '{}',
        default_model TEXT,
        priority      INTEGER NOT NULL DEFAULT 100,
        timeout_ms    INTEGER,
        proxy_url     TEXT,
        vision        INTEGER,
        extra         TEXT NOT NULL DEFAULT '{}',
        created_at    INTEGER NOT NULL
    );
    CREATE TABLE usage (
        id              INTEGER PRIMARY KEY,
        ts              INTEGER NOT NULL,
        request_id      TEXT,
        session_id      TEXT,
        client          TEXT,
        api             TEXT,
        provider        TEXT,
        model_requested TEXT,
        model_sent      TEXT,
        status          INTEGER,
        stream          INTEGER,
        ttfb_ms         INTEGER,
        ttft_ms         INTEGER,
        duration_ms     INTEGER,
        input_tokens    INTEGER,
        output_tokens   INTEGER,
        cached_tokens   INTEGER,
        cost_usd        REAL,
        error_class     TEXT,
        attempts        INTEGER
    );
    CREATE INDEX usage_ts ON usage(ts);
    CREATE TABLE gateway_files (
        client         TEXT NOT NULL,
        path           TEXT NOT NULL,
        file_existed   INTEGER NOT NULL,
        file_mode      INTEGER,
        before_bytes   BLOB,
        written_sha256 TEXT,
        created_at     INTEGER NOT NULL,
        PRIMARY KEY (client, path)
    );
    CREATE TABLE gateway_edits (
        client          TEXT NOT NULL,
        path            TEXT NOT NULL,
        key_path        TEXT NOT NULL,
        before          TEXT,
        written         TEXT NOT NULL,
        created_parents TEXT NOT NULL DEFAULT '[]',
        seq             INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (client, path, key_path),
        FOREIGN KEY (client, path) REFERENCES gateway_files(client, path) ON DELETE CASCADE
    );
    CREATE TABLE gateway_chain (
        position INTEGER PRIMARY KEY,
        provider TEXT NOT NULL
    );
    CREATE TABLE mcp_parked (
        client  TEXT NOT NULL,
        file    TEXT NOT NULL,
        scope   TEXT NOT NULL,
        name    TEXT NOT NULL,
        entry   TEXT NOT NULL,
        undo    TEXT,
        PRIMARY KEY (client, file, scope, name)
    );
    CREATE TABLE mcp_undo (
        client     TEXT NOT NULL,
        file       TEXT NOT NULL,
        name       TEXT NOT NULL,
        op         TEXT NOT NULL,
        patch      TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (client, file, name, op)
    );
    ",
    // 2: settings (one value per key, e.g. `usage_retention_days`).
    r"
    CREATE TABLE settings (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    ",
    // 3: large blobs as files beside the db (`blobs/<sha256>`; `data` is empty then).
    r"
    ALTER TABLE blobs ADD COLUMN external INTEGER NOT NULL DEFAULT 0;
    ",
    // 4: usage rows a busy proxy parked as one encoded batch (`usage_store`), moved into
    // `usage` when the load drops or before a reader reads.
    r"
    CREATE TABLE usage_parked (
        id     INTEGER PRIMARY KEY,
        format INTEGER NOT NULL,
        rows   INTEGER NOT NULL,
        data   BLOB NOT NULL
    );
    ",
];

/// Open (creating if needed) the database and bring its schema up to date.
pub fn open(aigate_home: &Path) -> Result<Connection> {
    crate::paths::ensure_private_dir(aigate_home)?;
    let path = aigate_home.join("aigate.db");
    let created = !path.exists();
    let mut connection = Connection::open(&path).map_err(|error| {
        Error::internal(format!("Failed to open `{}`", crate::output::display_path(&path))).cause(error)
    })?;
    if created {
        fs_err::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    }
    connection.busy_timeout(Duration::from_secs(10))?;
    connection.pragma_update(None, "journal_mode", "WAL")?;
    connection.pragma_update(None, "synchronous", "FULL")?;
    connection.pragma_update(None, "foreign_keys", "ON")?;
    migrate(&mut connection)?;
    Ok(connection)
}

/// Open the database only if it exists: read-only commands (`run`, `status`, `doctor`)
/// create nothing in a home aigate never wrote to.
pub fn open_existing(aigate_home: &Path) -> Result<Option<Connection>> {
    if aigate_home.join("aigate.db").exists() { open(aigate_home).map(Some) } else { Ok(None) }
}

/// Open the database read-only (creating and migrating it first if needed), for readers
/// that poll while other processes write (`logs --follow`).
pub fn open_read_only(aigate_home: &Path) -> Result<Connection> {
    drop(open(aigate_home)?);
    let path = aigate_home.join("aigate.db");
    let connection = Connection::open_with_flags(
        &path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|error| {
        Error::internal(format!("Failed to open `{}`", crate::output::display_path(&path))).cause(error)
    })?;
    connection.busy_timeout(Duration::from_secs(10))?;
    Ok(connection)
}

fn migrate(connection: &mut Connection) -> Result<()> {
    let version: usize = connection.pragma_query_value(None, "user_version", |row| row.get(0))?;
    if version > MIGRATIONS.len() {
        return Err(Error::internal(format!(
            "The aigate database has schema version {version}, newer than this aigate understands ({})",
            MIGRATIONS.len()
        ))
        .hint("upgrade aigate"));
    }
    if version == MIGRATIONS.len() {
        return Ok(());
    }
    // Every pending step in one transaction: all or nothing, and one sync for a new db.
    let transaction = connection.transaction()?;
    for sql in &MIGRATIONS[version..] {
        transaction.execute_batch(sql)?;
    }
    transaction.pragma_update(None, "user_version", MIGRATIONS.len())?;
    transaction.commit()?;
    Ok(())
}

/// The value of a setting, if it was ever set.
pub fn setting(connection: &Connection, key: &str) -> Result<Option<String>> {
    use rusqlite::OptionalExtension;
    Ok(connection
        .query_row("SELECT value FROM settings WHERE key = ?1", [key], |row| row.get(0))
        .optional()?)
}

/// Set (insert or replace) a setting.
pub fn set_setting(connection: &Connection, key: &str, value: &str) -> Result<()> {
    connection.execute(
        "INSERT INTO settings (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        [key, value],
    )?;
    Ok(())
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_twice_and_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("state");
        drop(open(&home).unwrap());
        let connection = open(&home).unwrap();
        let version: usize = connection.pragma_query_value(None, "user_version", |row| row.get(0)).unwrap();
        assert_eq!(version, MIGRATIONS.len());
        let mode = fs_err::metadata(home.join("aigate.db")).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let dir_mode = fs_err::metadata(&home).unwrap().permissions().mode() & 0o777;
        assert_eq!(dir_mode, 0o700);
    }

    #[test]
    fn settings_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let connection = open(dir.path()).unwrap();
        assert_eq!(setting(&connection, "k").unwrap(), None);
        set_setting(&connection, "k", "1").unwrap();
        set_setting(&connection, "k", "2").unwrap();
        assert_eq!(setting(&connection, "k").unwrap().as_deref(), Some("2"));
    }
}
