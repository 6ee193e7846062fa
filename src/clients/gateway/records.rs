//! The db side of gateway mode.
//!
//! - `gateway_files`: one row per client file `use gateway` switched: `client`, `path`
//!   (as aigate resolved it), `file_existed` and `file_mode` (before the first write),
//!   `before_bytes` (the whole file before the first write, kept only while no one else
//!   has edited it since, so `use official` can give back the exact bytes), and
//!   `written_sha256` (the file as aigate last wrote it).
//! - `gateway_edits`: one row per key: `key_path` (a JSON array of raw keys), `before`
//!   (JSON text of the value before aigate's first write; NULL when the key was absent),
//!   `written` (JSON text), `created_parents` (a JSON array of key paths aigate created for
//!   this key) and `seq` (write order).
//! - `gateway_chain`: the provider chain `use gateway --provider` chose, for `aigate serve`
//!   started without `--provider`.
//!
//! Invariants: a file's rows are replaced together in one transaction; rows are deleted
//! only after `use official` has written the file back.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, params};

use super::{FileRecord, KeyEdit};
use crate::clients::Client;
use crate::error::{Error, Result};

/// Bring the records in line with the files after a `restore`: a file put back to its
/// state before `use gateway` no longer holds aigate's keys, so its record goes (else
/// `status` and `doctor` would report the restored values as drift). Returns how many
/// records went. A file that cannot be read or parsed keeps its record.
pub fn reconcile(connection: &mut Connection) -> Result<usize> {
    let records = load(connection, &[])?;
    let mut stale = Vec::new();
    for record in &records {
        let format = super::gateway_format(record.client, &record.path);
        let document = match crate::fsx::read_state(&record.path)?.bytes {
            None => None,
            Some(bytes) => match crate::doc::Document::parse_owned(bytes, format, &record.path) {
                Ok(document) => Some(document),
                Err(_) => continue,
            },
        };
        if super::back_to_before(document.as_ref(), record) {
            stale.push((record.client, record.path.clone()));
        }
    }
    delete(connection, &stale)?;
    Ok(stale.len())
}

/// Every record, in write order. `clients` empty means all.
pub fn load(connection: &Connection, clients: &[Client]) -> Result<Vec<FileRecord>> {
    let mut files = connection.prepare(
        "SELECT client, path, file_existed, file_mode, before_bytes, written_sha256 FROM gateway_files \
         ORDER BY client, path",
    )?;
    let rows = files.query_map([], |row| {
        Ok((
            row.get::<_, String>(0)?,
            row.get::<_, String>(1)?,
            row.get::<_, bool>(2)?,
            row.get::<_, Option<u32>>(3)?,
            row.get::<_, Option<Vec<u8>>>(4)?,
            row.get::<_, Option<String>>(5)?,
        ))
    })?;
    let mut records = Vec::new();
    for row in rows {
        let (client, path, file_existed, file_mode, before_bytes, written_sha256) = row?;
        let Some(client) = Client::from_name(&client) else {
            continue;
        };
        if !clients.is_empty() && !clients.contains(&client) {
            continue;
        }
        records.push(FileRecord {
            client,
            path: PathBuf::from(path),
            file_existed,
            file_mode,
            before_bytes,
            written_sha256,
            edits: Vec::new(),
        });
    }
    let mut edits = connection.prepare(
        "SELECT key_path, before, written, created_parents FROM gateway_edits \
         WHERE client = ?1 AND path = ?2 ORDER BY seq",
    )?;
    for record in &mut records {
        let rows = edits.query_map(params![record.client.name(), path_text(&record.path)], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, Option<String>>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, String>(3)?,
            ))
        })?;
        for row in rows {
            let (key_path, before, written, created_parents) = row?;
            record.edits.push(KeyEdit {
                key_path: parse(&key_path)?,
                before: before.as_deref().map(parse).transpose()?,
                written: parse(&written)?,
                created_parents: parse(&created_parents)?,
            });
        }
    }
    Ok(records)
}

/// Replace the rows of each record's file.
pub fn save(connection: &mut Connection, records: &[FileRecord]) -> Result<()> {
    let transaction = connection.transaction()?;
    let now = crate::db::now_ms();
    for record in records {
        let path = path_text(&record.path);
        transaction.execute(
            "DELETE FROM gateway_edits WHERE client = ?1 AND path = ?2",
            params![record.client.name(), path],
        )?;
        transaction.execute(
            "INSERT OR REPLACE INTO gateway_files (client, path, file_existed, file_mode, before_bytes, \
             written_sha256, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                record.client.name(),
                path,
                record.file_existed,
                record.file_mode,
                record.before_bytes,
                record.written_sha256,
                now
            ],
        )?;
        for (seq, edit) in record.edits.iter().enumerate() {
            transaction.execute(
                "INSERT INTO gateway_edits (client, path, key_path, before, written, created_parents, seq) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    record.client.name(),
                    path,
                    serde_json::to_string(&edit.key_path)?,
                    edit.before.as_ref().map(serde_json::to_string).transpose()?,
                    serde_json::to_string(&edit.written)?,
                    serde_json::to_string(&edit.created_parents)?,
                    seq as i64,
                ],
            )?;
        }
    }
    transaction.commit()?;
    Ok(())
}

/// Forget what aigate wrote into these files (after `use official` undid it).
pub fn delete(connection: &mut Connection, files: &[(Client, PathBuf)]) -> Result<()> {
    let transaction = connection.transaction()?;
    for (client, path) in files {
        for table in ["gateway_edits", "gateway_files"] {
            transaction.execute(
                &format!("DELETE FROM {table} WHERE client = ?1 AND path = ?2"),
                params![client.name(), path_text(path)],
            )?;
        }
    }
    transaction.commit()?;
    Ok(())
}

/// The chain `use gateway --provider` recorded (empty: none recorded).
pub fn load_chain(connection: &Connection) -> Result<Vec<String>> {
    let mut statement = connection.prepare("SELECT provider FROM gateway_chain ORDER BY position")?;
    let rows = statement.query_map([], |row| row.get::<_, String>(0))?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// Record the gateway's provider chain, in order.
pub fn save_chain(connection: &mut Connection, providers: &[String]) -> Result<()> {
    let transaction = connection.transaction()?;
    transaction.execute("DELETE FROM gateway_chain", [])?;
    for (position, provider) in providers.iter().enumerate() {
        transaction.execute(
            "INSERT INTO gateway_chain (position, provider) VALUES (?1, ?2)",
            params![position as i64, provider],
        )?;
    }
    transaction.commit()?;
    Ok(())
}

/// The chain `use gateway --provider` recorded, for `aigate serve` started without
/// `--provider` (empty when none was recorded or there is no db; creates nothing).
pub fn recorded_chain(aigate_home: &Path) -> Result<Vec<String>> {
    match open_existing(aigate_home)? {
        Some(connection) => load_chain(&connection),
        None => Ok(Vec::new()),
    }
}

/// Open the db only if it exists (read-style commands and `--dry-run` create nothing).
pub use crate::db::open_existing;

fn path_text(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

fn parse<T: serde::de::DeserializeOwned>(text: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|error| {
        Error::internal("A gateway record in the aigate database is damaged")
            .cause(error)
            .hint("run `aigate doctor`; `aigate restore` can put client files back from a snapshot")
    })
}
