//! The SQL over the `usage` table: the filter as a WHERE clause, a streaming pass for the
//! aggregates (rows are borrowed, never collected: a million rows stay cheap), the newest
//! rows for `aigate logs`, and the rows after an id for `logs --follow`.
//!
//! Read-only but for one thing: [`newest`] first settles the rows a busy proxy parked
//! (`usage_store::settle`), as `stats::summarize` does before [`for_each`].

use rusqlite::types::ValueRef;
use rusqlite::{Connection, Row};

use super::{Filter, LogEntry, local_time};
use crate::error::Result;

/// One row as the aggregates need it, borrowed from SQLite's buffers.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Record<'a> {
    pub id: i64,
    pub ts_ms: i64,
    pub session_id: Option<&'a str>,
    pub client: Option<&'a str>,
    pub provider: Option<&'a str>,
    /// The model sent upstream, else the one requested.
    pub model: Option<&'a str>,
    pub status: Option<i64>,
    pub ttft_ms: Option<i64>,
    pub duration_ms: Option<i64>,
    pub input_tokens: Option<i64>,
    pub output_tokens: Option<i64>,
    pub cached_tokens: Option<i64>,
    pub cost_usd: Option<f64>,
    pub error_class: Option<&'a str>,
    pub attempts: Option<i64>,
}

const ENTRY_COLUMNS: &str =
    "id, ts, request_id, session_id, client, api, provider, model_requested, model_sent,
    status, stream, ttfb_ms, ttft_ms, duration_ms, input_tokens, output_tokens, cached_tokens, cost_usd,
    error_class, attempts";

/// Call `each` for every row that `filter` keeps, in no particular order.
pub fn for_each(connection: &Connection, filter: &Filter, mut each: impl FnMut(&Record<'_>)) -> Result<()> {
    let (clause, values) = where_clause(filter);
    let sql = format!(
        "SELECT id, ts, session_id, client, provider, coalesce(model_sent, model_requested), status, ttft_ms,
            duration_ms, input_tokens, output_tokens, cached_tokens, cost_usd, error_class, attempts
         FROM usage{clause}"
    );
    let mut statement = connection.prepare(&sql)?;
    let mut rows = statement.query(rusqlite::params_from_iter(values.iter()))?;
    while let Some(row) = rows.next()? {
        let record = Record {
            id: row.get(0)?,
            ts_ms: row.get(1)?,
            session_id: text(row, 2)?,
            client: text(row, 3)?,
            provider: text(row, 4)?,
            model: text(row, 5)?,
            status: row.get(6)?,
            ttft_ms: row.get(7)?,
            duration_ms: row.get(8)?,
            input_tokens: row.get(9)?,
            output_tokens: row.get(10)?,
            cached_tokens: row.get(11)?,
            cost_usd: row.get(12)?,
            error_class: text(row, 13)?,
            attempts: row.get(14)?,
        };
        each(&record);
    }
    Ok(())
}

/// The newest `limit` rows that `filter` keeps, newest first (parked rows settled first).
pub fn newest(connection: &Connection, filter: &Filter, limit: u32) -> Result<Vec<LogEntry>> {
    crate::usage_store::settle_for_reading(connection);
    let (clause, mut values) = where_clause(filter);
    values.push(rusqlite::types::Value::Integer(i64::from(limit)));
    let sql = format!(
        "SELECT {ENTRY_COLUMNS} FROM usage{clause} ORDER BY ts DESC, id DESC LIMIT ?{}",
        values.len()
    );
    entries(connection, &sql, &values)
}

/// Rows with `after < id <= up_to` that `filter` keeps, oldest first.
pub fn between(connection: &Connection, filter: &Filter, after: i64, up_to: i64) -> Result<Vec<LogEntry>> {
    let (clause, mut values) = where_clause(filter);
    values.push(rusqlite::types::Value::Integer(after));
    values.push(rusqlite::types::Value::Integer(up_to));
    let joiner = if clause.is_empty() { " WHERE" } else { " AND" };
    let sql = format!(
        "SELECT {ENTRY_COLUMNS} FROM usage{clause}{joiner} id > ?{} AND id <= ?{} ORDER BY id",
        values.len() - 1,
        values.len()
    );
    entries(connection, &sql, &values)
}

/// The highest row id (0 for an empty table).
pub fn last_id(connection: &Connection) -> Result<i64> {
    Ok(connection.query_row("SELECT coalesce(max(id), 0) FROM usage", [], |row| row.get(0))?)
}

fn entries(connection: &Connection, sql: &str, values: &[rusqlite::types::Value]) -> Result<Vec<LogEntry>> {
    let mut statement = connection.prepare_cached(sql)?;
    let entries = statement
        .query_map(rusqlite::params_from_iter(values.iter()), |row| {
            let ts_ms: i64 = row.get(1)?;
            Ok(LogEntry {
                id: row.get(0)?,
                time: local_time(ts_ms),
                ts_ms,
                request_id: row.get(2)?,
                session_id: row.get(3)?,
                client: row.get(4)?,
                api: row.get(5)?,
                provider: row.get(6)?,
                model_requested: row.get(7)?,
                model_sent: row.get(8)?,
                status: row.get(9)?,
                stream: row.get(10)?,
                ttfb_ms: row.get(11)?,
                ttft_ms: row.get(12)?,
                duration_ms: row.get(13)?,
                input_tokens: row.get(14)?,
                output_tokens: row.get(15)?,
                cached_tokens: row.get(16)?,
                cost_usd: row.get(17)?,
                error_class: row.get(18)?,
                attempts: row.get(19)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(entries)
}

/// The filter as ` WHERE …` (empty when it keeps everything) and its bound values.
fn where_clause(filter: &Filter) -> (String, Vec<rusqlite::types::Value>) {
    use rusqlite::types::Value;
    let mut conditions = Vec::new();
    let mut values = Vec::new();
    if let Some(since) = filter.since_ms {
        values.push(Value::Integer(since));
        conditions.push(format!("ts >= ?{}", values.len()));
    }
    if let Some(until) = filter.until_ms {
        values.push(Value::Integer(until));
        conditions.push(format!("ts < ?{}", values.len()));
    }
    for (column, wanted) in [("client", &filter.clients), ("provider", &filter.providers)] {
        if wanted.is_empty() {
            continue;
        }
        let mut places = Vec::new();
        for value in wanted {
            values.push(Value::Text(value.clone()));
            places.push(format!("?{}", values.len()));
        }
        conditions.push(format!("{column} IN ({})", places.join(", ")));
    }
    if conditions.is_empty() {
        (String::new(), values)
    } else {
        (format!(" WHERE {}", conditions.join(" AND ")), values)
    }
}

/// A TEXT column borrowed; a BLOB or non-UTF-8 value reads as absent rather than failing
/// the whole report (only the proxy writes these columns, but the db is a user file).
fn text<'row>(row: &'row Row<'_>, index: usize) -> rusqlite::Result<Option<&'row str>> {
    Ok(match row.get_ref(index)? {
        ValueRef::Text(bytes) => std::str::from_utf8(bytes).ok(),
        ValueRef::Null | ValueRef::Integer(_) | ValueRef::Real(_) | ValueRef::Blob(_) => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn where_clause_binds_every_filter() {
        let filter = Filter {
            since_ms: Some(1),
            until_ms: Some(2),
            clients: vec!["codex".into()],
            providers: vec!["a".into(), "b".into()],
        };
        let (clause, values) = where_clause(&filter);
        assert_eq!(clause, " WHERE ts >= ?1 AND ts < ?2 AND client IN (?3) AND provider IN (?4, ?5)");
        assert_eq!(values.len(), 5);
        assert_eq!(where_clause(&Filter::default()).0, "");
    }
}
