//! aigate's own MCP records in the database: the reverse patches of its edits
//! (`mcp_undo`) and the Claude Code entries `mcp disable` parked (`mcp_parked`).
//!
//! Invariant: these records never define a server a client file does not have, except a
//! parked entry, which exists only because the user ran `mcp disable` and goes away on
//! `mcp enable` or `mcp remove`.

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;

use super::McpFile;
use super::patch::Undo;
use crate::error::Result;

/// Which edit an undo record reverses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Add,
    Disable,
}

impl Op {
    fn as_str(self) -> &'static str {
        match self {
            Op::Add => "add",
            Op::Disable => "disable",
        }
    }
}

/// A parked Claude Code entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Parked {
    pub entry: Value,
    pub undo: Option<Undo>,
}

fn file_key(file: &McpFile) -> String {
    file.path.to_string_lossy().into_owned()
}

pub fn undo(connection: &Connection, file: &McpFile, name: &str, op: Op) -> Result<Option<Undo>> {
    let text: Option<String> = connection
        .query_row(
            "SELECT patch FROM mcp_undo WHERE client = ?1 AND file = ?2 AND name = ?3 AND op = ?4",
            params![file.client.name(), file_key(file), name, op.as_str()],
            |row| row.get(0),
        )
        .optional()?;
    Ok(text.and_then(|text| serde_json::from_str(&text).ok()))
}

pub fn save_undo(connection: &Connection, file: &McpFile, name: &str, op: Op, undo: &Undo) -> Result<()> {
    connection.execute(
        "INSERT OR REPLACE INTO mcp_undo (client, file, name, op, patch, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![file.client.name(), file_key(file), name, op.as_str(), serde_json::to_string(undo)?, crate::db::now_ms()],
    )?;
    Ok(())
}

pub fn forget_undo(connection: &Connection, file: &McpFile, name: &str, op: Option<Op>) -> Result<()> {
    match op {
        Some(op) => connection.execute(
            "DELETE FROM mcp_undo WHERE client = ?1 AND file = ?2 AND name = ?3 AND op = ?4",
            params![file.client.name(), file_key(file), name, op.as_str()],
        )?,
        None => connection.execute(
            "DELETE FROM mcp_undo WHERE client = ?1 AND file = ?2 AND name = ?3",
            params![file.client.name(), file_key(file), name],
        )?,
    };
    Ok(())
}

pub fn parked(connection: &Connection, file: &McpFile, name: &str) -> Result<Option<Parked>> {
    let row: Option<(String, Option<String>)> = connection
        .query_row(
            "SELECT entry, undo FROM mcp_parked WHERE client = ?1 AND file = ?2 AND scope = ?3 AND name = ?4",
            params![file.client.name(), file_key(file), file.scope.name(), name],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()?;
    Ok(row.and_then(|(entry, undo)| {
        Some(Parked {
            entry: serde_json::from_str(&entry).ok()?,
            undo: undo.and_then(|undo| serde_json::from_str(&undo).ok()),
        })
    }))
}

/// Every parked entry of `file`, by name.
pub fn parked_in(connection: &Connection, file: &McpFile) -> Result<Vec<(String, Value)>> {
    let mut statement = connection.prepare(
        "SELECT name, entry FROM mcp_parked WHERE client = ?1 AND file = ?2 AND scope = ?3 ORDER BY name",
    )?;
    let rows = statement
        .query_map(params![file.client.name(), file_key(file), file.scope.name()], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows
        .into_iter()
        .filter_map(|(name, entry)| Some((name, serde_json::from_str(&entry).ok()?)))
        .collect())
}

pub fn park(connection: &Connection, file: &McpFile, name: &str, parked: &Parked) -> Result<()> {
    let undo = parked.undo.as_ref().map(serde_json::to_string).transpose()?;
    connection.execute(
        "INSERT OR REPLACE INTO mcp_parked (client, file, scope, name, entry, undo) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![file.client.name(), file_key(file), file.scope.name(), name, serde_json::to_string(&parked.entry)?, undo],
    )?;
    Ok(())
}

pub fn unpark(connection: &Connection, file: &McpFile, name: &str) -> Result<()> {
    connection.execute(
        "DELETE FROM mcp_parked WHERE client = ?1 AND file = ?2 AND scope = ?3 AND name = ?4",
        params![file.client.name(), file_key(file), file.scope.name(), name],
    )?;
    Ok(())
}
