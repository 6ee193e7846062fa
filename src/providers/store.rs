//! The `providers` table: save, load, list, remove.
//!
//! Column use: `key_env` holds a JSON array of environment variable *names* (nothing
//! secret); `keys` holds a JSON array of keys given on stdin (the db file is 0600);
//! `extra` holds `{"api_base_urls": {"messages": "…"}}`. Env keys come first in
//! [`Provider::keys`], then stored keys, in the order given.

use std::collections::BTreeMap;
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};

use super::{Api, KeySource, Provider};
use crate::error::{Error, Result};

#[derive(Debug, Default, Serialize, Deserialize)]
struct Extra {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    api_base_urls: BTreeMap<Api, String>,
}

const COLUMNS: &str = "name, preset, base_url, apis, key_env, keys, model_map, default_model, priority, timeout_ms, proxy_url, vision, extra";

/// Insert `provider`, or replace the row of the same name when `replace`.
/// Returns false (and writes nothing) when it exists and `replace` is false.
pub fn save(connection: &Connection, provider: &Provider, replace: bool) -> Result<bool> {
    if !replace && exists(connection, &provider.name)? {
        return Ok(false);
    }
    let env_names: Vec<&str> = provider
        .keys
        .iter()
        .filter_map(|key| match key {
            KeySource::Env(name) => Some(name.as_str()),
            KeySource::Stored(_) => None,
        })
        .collect();
    let stored: Vec<&str> = provider
        .keys
        .iter()
        .filter_map(|key| match key {
            KeySource::Env(_) => None,
            KeySource::Stored(key) => Some(key.as_str()),
        })
        .collect();
    let extra = Extra { api_base_urls: provider.api_base_urls.clone() };
    connection.execute(
        "INSERT OR REPLACE INTO providers (name, preset, base_url, apis, key_env, keys, model_map, default_model,
             priority, timeout_ms, proxy_url, vision, extra, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
        params![
            provider.name,
            provider.preset,
            provider.base_url,
            serde_json::to_string(&provider.apis)?,
            if env_names.is_empty() { None } else { Some(serde_json::to_string(&env_names)?) },
            if stored.is_empty() { None } else { Some(serde_json::to_string(&stored)?) },
            serde_json::to_string(&provider.model_map)?,
            provider.default_model,
            provider.priority,
            provider.timeout.map(|timeout| timeout.as_millis() as i64),
            provider.proxy_url,
            provider.vision,
            serde_json::to_string(&extra)?,
            crate::db::now_ms(),
        ],
    )?;
    Ok(true)
}

pub fn exists(connection: &Connection, name: &str) -> Result<bool> {
    Ok(connection
        .query_row("SELECT 1 FROM providers WHERE name = ?1", [name], |_| Ok(()))
        .optional()?
        .is_some())
}

/// One provider by name.
pub fn load(connection: &Connection, name: &str) -> Result<Option<Provider>> {
    let sql = format!("SELECT {COLUMNS} FROM providers WHERE name = ?1");
    let row = connection.query_row(&sql, [name], raw_row).optional()?;
    row.map(into_provider).transpose()
}

/// Every provider, in default-chain order: priority ascending, then name.
pub fn load_all(connection: &Connection) -> Result<Vec<Provider>> {
    let sql = format!("SELECT {COLUMNS} FROM providers ORDER BY priority ASC, name ASC");
    let mut statement = connection.prepare(&sql)?;
    let rows = statement.query_map([], raw_row)?.collect::<Result<Vec<_>, _>>()?;
    rows.into_iter().map(into_provider).collect()
}

/// Remove by name; false when there was none.
pub fn remove(connection: &Connection, name: &str) -> Result<bool> {
    Ok(connection.execute("DELETE FROM providers WHERE name = ?1", [name])? > 0)
}

struct RawRow {
    name: String,
    preset: Option<String>,
    base_url: String,
    apis: String,
    key_env: Option<String>,
    keys: Option<String>,
    model_map: String,
    default_model: Option<String>,
    priority: i64,
    timeout_ms: Option<i64>,
    proxy_url: Option<String>,
    vision: Option<bool>,
    extra: String,
}

fn raw_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<RawRow> {
    Ok(RawRow {
        name: row.get(0)?,
        preset: row.get(1)?,
        base_url: row.get(2)?,
        apis: row.get(3)?,
        key_env: row.get(4)?,
        keys: row.get(5)?,
        model_map: row.get(6)?,
        default_model: row.get(7)?,
        priority: row.get(8)?,
        timeout_ms: row.get(9)?,
        proxy_url: row.get(10)?,
        vision: row.get(11)?,
        extra: row.get(12)?,
    })
}

fn into_provider(raw: RawRow) -> Result<Provider> {
    let corrupt = |what: &str, error: serde_json::Error| {
        Error::internal(format!("The stored provider `{}` has an unreadable {what}", raw.name))
            .cause(error)
            .hint(format!("run `aigate provider remove {}` and add it again", raw.name))
    };
    let apis: Vec<Api> = serde_json::from_str(&raw.apis).map_err(|error| corrupt("API list", error))?;
    let mut keys = Vec::new();
    if let Some(text) = &raw.key_env {
        let names: Vec<String> = serde_json::from_str(text).map_err(|error| corrupt("key list", error))?;
        keys.extend(names.into_iter().map(KeySource::Env));
    }
    if let Some(text) = &raw.keys {
        let stored: Vec<String> = serde_json::from_str(text).map_err(|error| corrupt("key list", error))?;
        keys.extend(stored.into_iter().map(KeySource::Stored));
    }
    let model_map: BTreeMap<String, String> =
        serde_json::from_str(&raw.model_map).map_err(|error| corrupt("model map", error))?;
    let extra: Extra = serde_json::from_str(&raw.extra).map_err(|error| corrupt("extra", error))?;
    Ok(Provider {
        name: raw.name,
        preset: raw.preset,
        base_url: raw.base_url,
        apis,
        keys,
        model_map,
        default_model: raw.default_model,
        priority: raw.priority,
        timeout: raw.timeout_ms.map(|ms| Duration::from_millis(ms.max(0) as u64)),
        proxy_url: raw.proxy_url,
        vision: raw.vision,
        api_base_urls: extra.api_base_urls,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let connection = crate::db::open(dir.path()).unwrap();
        let mut provider = Provider::new("ds", "https://api.deepseek.com/v1", vec![Api::Chat, Api::Messages]);
        provider.keys = vec![KeySource::Env("DS_KEY".into()), KeySource::Stored("sk-stored-1".into())];
        provider.model_map.insert("gpt-5".into(), "deepseek-chat".into());
        provider.api_base_urls.insert(Api::Messages, "https://api.deepseek.com/anthropic/v1".into());
        provider.timeout = Some(Duration::from_secs(30));
        provider.vision = Some(false);
        assert!(save(&connection, &provider, false).unwrap());
        assert!(!save(&connection, &provider, false).unwrap());
        assert_eq!(load(&connection, "ds").unwrap(), Some(provider.clone()));
        assert_eq!(load_all(&connection).unwrap(), vec![provider]);
        assert!(remove(&connection, "ds").unwrap());
        assert!(!remove(&connection, "ds").unwrap());
    }
}
