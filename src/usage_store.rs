//! The `usage` table's rows on their way in: the compact encoding the proxy queues them in,
//! their insert, and the parked batches of a busy proxy with [`settle`], which moves them
//! into the table.
//!
//! Why batches are parked: under load (thousands of requests a second) inserting each row
//! into the table and its index costs the usage writer ~1.6 µs per row on cores the proxy,
//! its agents and their upstreams share (`bench/PROFILE.md`, eighth pass). A busy writer
//! stores each batch as one blob instead (one row of `usage_parked`: as durable as the
//! rows, at a tenth of the work) and the rows go into `usage` once the load drops, or
//! before anything reads them.
//!
//! Invariants: every reader of `usage` settles first ([`settle`]), so a row is visible to
//! it whether it was inserted or parked; a parked batch is deleted in the transaction that
//! inserts its rows, so a row is never lost nor inserted twice; a batch in a format this
//! build does not know is left for the build that wrote it.

use rusqlite::Connection;

use crate::error::Result;

/// One row of the `usage` table.
#[derive(Debug, Clone, Default)]
pub struct UsageRow {
    pub ts_ms: i64,
    pub request_id: String,
    pub session_id: Option<std::sync::Arc<str>>,
    pub client: Option<&'static str>,
    pub api: Option<&'static str>,
    pub provider: Option<std::sync::Arc<str>>,
    pub model_requested: Option<String>,
    pub model_sent: Option<String>,
    pub status: Option<u16>,
    pub stream: bool,
    pub ttfb_ms: Option<i64>,
    pub ttft_ms: Option<i64>,
    pub duration_ms: Option<i64>,
    pub input_tokens: Option<i64>,
    pub output_tokens: Option<i64>,
    pub cached_tokens: Option<i64>,
    pub cost_usd: Option<f64>,
    pub error_class: Option<String>,
    pub attempts: u32,
}

/// The encoding of [`encode`], stored with each parked batch.
const FORMAT: i64 = 1;

/// Presence bits of a row's optional columns, then `stream`.
mod bit {
    pub(super) const STATUS: u32 = 1;
    pub(super) const TTFB: u32 = 1 << 1;
    pub(super) const TTFT: u32 = 1 << 2;
    pub(super) const DURATION: u32 = 1 << 3;
    pub(super) const INPUT: u32 = 1 << 4;
    pub(super) const OUTPUT: u32 = 1 << 5;
    pub(super) const CACHED: u32 = 1 << 6;
    pub(super) const COST: u32 = 1 << 7;
    pub(super) const SESSION: u32 = 1 << 8;
    pub(super) const CLIENT: u32 = 1 << 9;
    pub(super) const API: u32 = 1 << 10;
    pub(super) const PROVIDER: u32 = 1 << 11;
    pub(super) const MODEL_REQUESTED: u32 = 1 << 12;
    pub(super) const MODEL_SENT: u32 = 1 << 13;
    pub(super) const ERROR_CLASS: u32 = 1 << 14;
    pub(super) const STREAM: u32 = 1 << 15;
}

/// Append `row` to `out`: the presence bits, `ts` and `attempts`, then each present value
/// in column order (integers little-endian, texts as a `u32` length and their bytes).
/// Nothing is allocated but `out`'s growth, so the request thread that queues the row
/// frees its strings itself.
pub fn encode(row: &UsageRow, out: &mut Vec<u8>) {
    let texts = [
        (bit::SESSION, row.session_id.as_deref()),
        (bit::CLIENT, row.client),
        (bit::API, row.api),
        (bit::PROVIDER, row.provider.as_deref()),
        (bit::MODEL_REQUESTED, row.model_requested.as_deref()),
        (bit::MODEL_SENT, row.model_sent.as_deref()),
        (bit::ERROR_CLASS, row.error_class.as_deref()),
    ];
    let integers = [
        (bit::TTFB, row.ttfb_ms),
        (bit::TTFT, row.ttft_ms),
        (bit::DURATION, row.duration_ms),
        (bit::INPUT, row.input_tokens),
        (bit::OUTPUT, row.output_tokens),
        (bit::CACHED, row.cached_tokens),
    ];
    let mut bits = if row.stream { bit::STREAM } else { 0 };
    for (flag, value) in texts {
        bits |= if value.is_some() { flag } else { 0 };
    }
    for (flag, value) in integers {
        bits |= if value.is_some() { flag } else { 0 };
    }
    bits |= if row.status.is_some() { bit::STATUS } else { 0 };
    bits |= if row.cost_usd.is_some() { bit::COST } else { 0 };
    out.extend_from_slice(&bits.to_le_bytes());
    out.extend_from_slice(&row.ts_ms.to_le_bytes());
    out.extend_from_slice(&row.attempts.to_le_bytes());
    put_text(out, &row.request_id);
    if let Some(status) = row.status {
        out.extend_from_slice(&status.to_le_bytes());
    }
    for value in integers.iter().filter_map(|(_, value)| *value) {
        out.extend_from_slice(&value.to_le_bytes());
    }
    if let Some(cost) = row.cost_usd {
        out.extend_from_slice(&cost.to_bits().to_le_bytes());
    }
    for text in texts.iter().filter_map(|(_, text)| *text) {
        put_text(out, text);
    }
}

fn put_text(out: &mut Vec<u8>, text: &str) {
    // A text longer than 4 GiB is not a usage column; cut it rather than corrupt the batch.
    let bytes = &text.as_bytes()[..text.len().min(u32::MAX as usize)];
    out.extend_from_slice(&u32::try_from(bytes.len()).unwrap_or(u32::MAX).to_le_bytes());
    out.extend_from_slice(bytes);
}

/// One encoded row, read back without copying.
#[derive(Debug, Default, PartialEq)]
struct Decoded<'a> {
    ts_ms: i64,
    request_id: &'a str,
    session_id: Option<&'a str>,
    client: Option<&'a str>,
    api: Option<&'a str>,
    provider: Option<&'a str>,
    model_requested: Option<&'a str>,
    model_sent: Option<&'a str>,
    status: Option<u16>,
    stream: bool,
    ttfb_ms: Option<i64>,
    ttft_ms: Option<i64>,
    duration_ms: Option<i64>,
    input_tokens: Option<i64>,
    output_tokens: Option<i64>,
    cached_tokens: Option<i64>,
    cost_usd: Option<f64>,
    error_class: Option<&'a str>,
    attempts: u32,
}

/// The rows of `bytes` in order; `None` where they stop making sense (a batch cut short or
/// damaged on disk), and nothing after it.
struct Rows<'a> {
    rest: &'a [u8],
}

impl<'a> Rows<'a> {
    fn bytes<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (head, rest) = self.rest.split_first_chunk::<N>()?;
        self.rest = rest;
        Some(*head)
    }

    fn text(&mut self) -> Option<&'a str> {
        let length = usize::try_from(u32::from_le_bytes(self.bytes::<4>()?)).ok()?;
        let (text, rest) = self.rest.split_at_checked(length)?;
        self.rest = rest;
        std::str::from_utf8(text).ok()
    }

    fn row(&mut self) -> Option<Decoded<'a>> {
        let bits = u32::from_le_bytes(self.bytes::<4>()?);
        let has = |flag: u32| bits & flag != 0;
        let mut row = Decoded {
            ts_ms: i64::from_le_bytes(self.bytes::<8>()?),
            attempts: u32::from_le_bytes(self.bytes::<4>()?),
            request_id: self.text()?,
            stream: has(bit::STREAM),
            ..Decoded::default()
        };
        if has(bit::STATUS) {
            row.status = Some(u16::from_le_bytes(self.bytes::<2>()?));
        }
        for (flag, slot) in [
            (bit::TTFB, &mut row.ttfb_ms),
            (bit::TTFT, &mut row.ttft_ms),
            (bit::DURATION, &mut row.duration_ms),
            (bit::INPUT, &mut row.input_tokens),
            (bit::OUTPUT, &mut row.output_tokens),
            (bit::CACHED, &mut row.cached_tokens),
        ] {
            if has(flag) {
                *slot = Some(i64::from_le_bytes(self.bytes::<8>()?));
            }
        }
        if has(bit::COST) {
            row.cost_usd = Some(f64::from_bits(u64::from_le_bytes(self.bytes::<8>()?)));
        }
        for (flag, slot) in [
            (bit::SESSION, &mut row.session_id),
            (bit::CLIENT, &mut row.client),
            (bit::API, &mut row.api),
            (bit::PROVIDER, &mut row.provider),
            (bit::MODEL_REQUESTED, &mut row.model_requested),
            (bit::MODEL_SENT, &mut row.model_sent),
            (bit::ERROR_CLASS, &mut row.error_class),
        ] {
            if has(flag) {
                *slot = Some(self.text()?);
            }
        }
        Some(row)
    }
}

impl<'a> Iterator for Rows<'a> {
    type Item = Option<Decoded<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let row = self.row();
        if row.is_none() {
            self.rest = &[];
        }
        Some(row)
    }
}

/// Rows per `INSERT` statement: one statement of many rows costs SQLite far less than as
/// many statements of one (each statement opens its cursors, seeks the table's end and
/// halts).
const ROWS_PER_STATEMENT: usize = 32;
const COLUMNS: usize = 19;

/// `INSERT OR FAIL INTO usage (...) VALUES (?, ...), ...` for `rows` rows. `OR FAIL`
/// spares SQLite a statement journal (a savepoint and a copy of every page the statement
/// touches, kept so that a failing row could undo the rows before it): a failed row fails
/// the whole batch's transaction anyway. It took 6% off the writer's time per row.
fn insert_sql(rows: usize) -> String {
    let one = format!("({})", vec!["?"; COLUMNS].join(", "));
    format!(
        "INSERT OR FAIL INTO usage (ts, request_id, session_id, client, api, provider, model_requested, model_sent,
             status, stream, ttfb_ms, ttft_ms, duration_ms, input_tokens, output_tokens, cached_tokens,
             cost_usd, error_class, attempts)
         VALUES {}",
        vec![one; rows].join(", ")
    )
}

/// A batch whose bytes stop making sense partway.
fn damaged() -> rusqlite::Error {
    rusqlite::Error::ToSqlConversionFailure("a usage batch is damaged".into())
}

/// Insert the encoded rows of `bytes` into `usage`, inside the caller's transaction. A
/// damaged batch inserts nothing: it is read through once before the first insert.
fn insert_encoded(transaction: &rusqlite::Transaction<'_>, bytes: &[u8]) -> rusqlite::Result<usize> {
    static MANY: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| insert_sql(ROWS_PER_STATEMENT));
    static ONE: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| insert_sql(1));
    if !(Rows { rest: bytes }).all(|row| row.is_some()) {
        return Err(damaged());
    }
    let mut rows = Rows { rest: bytes };
    let mut count = 0;
    let mut chunk: Vec<Decoded<'_>> = Vec::with_capacity(ROWS_PER_STATEMENT);
    loop {
        chunk.clear();
        for row in rows.by_ref().take(ROWS_PER_STATEMENT) {
            chunk.push(row.ok_or_else(damaged)?);
        }
        if chunk.len() == ROWS_PER_STATEMENT {
            let mut statement = transaction.prepare_cached(&MANY)?;
            for (at, row) in chunk.iter().enumerate() {
                bind_row(&mut statement, at * COLUMNS, row)?;
            }
            statement.raw_execute()?;
        } else {
            for row in &chunk {
                let mut statement = transaction.prepare_cached(&ONE)?;
                bind_row(&mut statement, 0, row)?;
                statement.raw_execute()?;
            }
        }
        count += chunk.len();
        if chunk.len() < ROWS_PER_STATEMENT {
            return Ok(count);
        }
    }
}

/// Bind `row`'s columns after the first `before` parameters of `statement`.
fn bind_row(
    statement: &mut rusqlite::CachedStatement<'_>,
    before: usize,
    row: &Decoded<'_>,
) -> rusqlite::Result<()> {
    let values: [&dyn rusqlite::ToSql; COLUMNS] = [
        &row.ts_ms,
        &row.request_id,
        &row.session_id,
        &row.client,
        &row.api,
        &row.provider,
        &row.model_requested,
        &row.model_sent,
        &row.status,
        &row.stream,
        &row.ttfb_ms,
        &row.ttft_ms,
        &row.duration_ms,
        &row.input_tokens,
        &row.output_tokens,
        &row.cached_tokens,
        &row.cost_usd,
        &row.error_class,
        &row.attempts,
    ];
    for (column, value) in values.into_iter().enumerate() {
        statement.raw_bind_parameter(before + column + 1, value)?;
    }
    Ok(())
}

/// Insert the encoded rows of `bytes` into `usage`, in one transaction.
pub fn insert(connection: &Connection, bytes: &[u8]) -> rusqlite::Result<()> {
    let transaction =
        rusqlite::Transaction::new_unchecked(connection, rusqlite::TransactionBehavior::Deferred)?;
    insert_encoded(&transaction, bytes)?;
    transaction.commit()
}

/// Park the `rows` encoded rows of `bytes` as one batch, to be settled later.
pub fn park(connection: &Connection, rows: usize, bytes: &[u8]) -> rusqlite::Result<()> {
    connection
        .prepare_cached("INSERT INTO usage_parked (format, rows, data) VALUES (?1, ?2, ?3)")?
        .execute(rusqlite::params![FORMAT, i64::try_from(rows).unwrap_or(i64::MAX), bytes])?;
    Ok(())
}

/// Rows parked and not yet settled (in batches of a format this build knows).
pub fn parked(connection: &Connection) -> rusqlite::Result<u64> {
    connection.query_row(
        "SELECT coalesce(sum(rows), 0) FROM usage_parked WHERE format = ?1",
        [FORMAT],
        |row| row.get(0),
    )
}

/// Rows moved per transaction by [`settle`], so the WAL stays small and a writer waiting
/// for the lock waits for one of them only.
const SETTLE_ROWS: i64 = 16_384;

/// Move every parked batch, oldest first, into `usage`, each transaction taking batches
/// up to [`SETTLE_ROWS`] rows. Returns how many rows were moved. A damaged batch is
/// dropped (its rows cannot be read back); one of a newer format is left where it is.
pub fn settle(connection: &Connection) -> Result<u64> {
    settle_up_to(connection, u64::MAX)
}

/// [`settle`], stopping once `limit` rows or more were moved (whole batches, the oldest
/// first): a busy writer settles a step at a time between its own batches.
pub fn settle_up_to(connection: &Connection, limit: u64) -> Result<u64> {
    let mut moved = 0;
    while moved < limit {
        // Immediate: the transaction writes, and a reader's settle may race the writer's.
        let transaction =
            rusqlite::Transaction::new_unchecked(connection, rusqlite::TransactionBehavior::Immediate)?;
        let mut picked = Vec::new();
        {
            let mut statement = transaction
                .prepare_cached("SELECT id, rows FROM usage_parked WHERE format = ?1 ORDER BY id")?;
            let mut batches = statement.query([FORMAT])?;
            let mut total = 0;
            let most = i64::try_from(limit - moved).unwrap_or(i64::MAX).min(SETTLE_ROWS);
            while total < most
                && let Some(batch) = batches.next()?
            {
                picked.push(batch.get::<_, i64>(0)?);
                total += batch.get::<_, i64>(1)?;
            }
        }
        if picked.is_empty() {
            return Ok(moved);
        }
        for id in picked {
            let data: Vec<u8> = transaction
                .prepare_cached("SELECT data FROM usage_parked WHERE id = ?1")?
                .query_row([id], |row| row.get(0))?;
            match insert_encoded(&transaction, &data) {
                Ok(rows) => moved += rows as u64,
                Err(rusqlite::Error::ToSqlConversionFailure(_)) => {}
                Err(error) => return Err(error.into()),
            }
            transaction.prepare_cached("DELETE FROM usage_parked WHERE id = ?1")?.execute([id])?;
        }
        transaction.commit()?;
    }
    Ok(moved)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Row `index` of a varied set: every column set or not in turn, empty and non-ASCII
    /// texts, negative and large numbers.
    fn sample(index: usize) -> UsageRow {
        let n = i64::try_from(index).unwrap();
        let some = |modulo: usize| index % modulo != 0;
        UsageRow {
            ts_ms: 1_000 + n,
            request_id: if index == 3 { String::new() } else { format!("r{index}") },
            session_id: some(2).then(|| format!("s{index}").into()),
            client: some(3).then_some("codex"),
            api: some(4).then_some("responses"),
            provider: some(5).then(|| format!("prövider-{index}").into()),
            model_requested: some(6).then(|| format!("asked/{index}")),
            model_sent: some(7).then(|| format!("sent{index}")),
            status: some(8).then(|| 200 + u16::try_from(index).unwrap()),
            stream: index % 3 == 0,
            ttfb_ms: some(9).then_some(10 + n),
            ttft_ms: some(10).then_some(-n),
            duration_ms: some(11).then_some(i64::MAX - n),
            input_tokens: some(12).then_some(40 + n),
            output_tokens: some(13).then_some(50 + n),
            cached_tokens: some(14).then_some(60 + n),
            cost_usd: some(15).then(|| 0.5 + f64::from(u32::try_from(index).unwrap())),
            error_class: some(16).then(|| format!("e{index} ✗")),
            attempts: 1 + u32::try_from(index).unwrap(),
        }
    }

    fn encoded(rows: impl IntoIterator<Item = UsageRow>) -> (usize, Vec<u8>) {
        let mut bytes = Vec::new();
        let mut count = 0;
        for row in rows {
            encode(&row, &mut bytes);
            count += 1;
        }
        (count, bytes)
    }

    /// Every column of every row of `usage`, in id order.
    fn table(connection: &Connection) -> Vec<String> {
        let mut statement = connection
            .prepare(
                "SELECT ts, request_id, session_id, client, api, provider, model_requested, model_sent,
                     status, stream, ttfb_ms, ttft_ms, duration_ms, input_tokens, output_tokens,
                     cached_tokens, cost_usd, error_class, attempts
                 FROM usage ORDER BY id",
            )
            .unwrap();
        statement
            .query_map([], |stored| {
                let values: Vec<String> =
                    (0..COLUMNS).map(|column| format!("{:?}", stored.get_ref(column).unwrap())).collect();
                Ok(values.join("|"))
            })
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }

    /// What [`table`] shows for `row`.
    fn expected(row: &UsageRow) -> String {
        let text = |value: Option<&str>| match value {
            Some(value) => format!("Text({:?})", value.as_bytes()),
            None => "Null".to_string(),
        };
        let integer = |value: Option<i64>| match value {
            Some(value) => format!("Integer({value})"),
            None => "Null".to_string(),
        };
        [
            integer(Some(row.ts_ms)),
            text(Some(&row.request_id)),
            text(row.session_id.as_deref()),
            text(row.client),
            text(row.api),
            text(row.provider.as_deref()),
            text(row.model_requested.as_deref()),
            text(row.model_sent.as_deref()),
            integer(row.status.map(i64::from)),
            integer(Some(i64::from(row.stream))),
            integer(row.ttfb_ms),
            integer(row.ttft_ms),
            integer(row.duration_ms),
            integer(row.input_tokens),
            integer(row.output_tokens),
            integer(row.cached_tokens),
            row.cost_usd.map_or_else(|| "Null".to_string(), |cost| format!("Real({cost:?})")),
            text(row.error_class.as_deref()),
            integer(Some(i64::from(row.attempts))),
        ]
        .join("|")
    }

    #[test]
    fn every_column_of_every_row_lands_in_its_place_inserted_or_parked_then_settled() {
        // More rows than one statement takes, so that rows go both in statements of many
        // rows and one by one.
        let count = ROWS_PER_STATEMENT * 2 + 3;
        let want: Vec<String> = (0..count).map(|index| expected(&sample(index))).collect();

        let dir = tempfile::tempdir().unwrap();
        let connection = crate::db::open(dir.path()).unwrap();
        insert(&connection, &encoded((0..count).map(sample)).1).unwrap();
        assert_eq!(table(&connection), want);

        let dir = tempfile::tempdir().unwrap();
        let connection = crate::db::open(dir.path()).unwrap();
        let (first, bytes) = encoded((0..40).map(sample));
        park(&connection, first, &bytes).unwrap();
        let (rest, bytes) = encoded((40..count).map(sample));
        park(&connection, rest, &bytes).unwrap();
        assert_eq!(parked(&connection).unwrap(), u64::try_from(count).unwrap());
        assert!(table(&connection).is_empty(), "parked rows are not in the table yet");
        assert_eq!(settle(&connection).unwrap(), u64::try_from(count).unwrap());
        assert_eq!(table(&connection), want);
        assert_eq!(parked(&connection).unwrap(), 0);
        assert_eq!(settle(&connection).unwrap(), 0, "a second settle finds nothing");
    }

    #[test]
    fn settling_more_rows_than_one_transaction_takes_keeps_their_order() {
        let dir = tempfile::tempdir().unwrap();
        let connection = crate::db::open(dir.path()).unwrap();
        let batch = usize::try_from(SETTLE_ROWS).unwrap() / 2 + 7;
        for start in [0, batch, 2 * batch, 3 * batch] {
            let (rows, bytes) = encoded((start..start + batch).map(|index| UsageRow {
                ts_ms: i64::try_from(index).unwrap(),
                request_id: format!("r{index}"),
                ..UsageRow::default()
            }));
            park(&connection, rows, &bytes).unwrap();
        }
        assert_eq!(settle(&connection).unwrap(), u64::try_from(4 * batch).unwrap());
        let mut statement = connection.prepare("SELECT ts FROM usage ORDER BY id").unwrap();
        let order: Vec<i64> =
            statement.query_map([], |row| row.get(0)).unwrap().map(Result::unwrap).collect();
        assert_eq!(order, (0..i64::try_from(4 * batch).unwrap()).collect::<Vec<_>>());
    }

    #[test]
    fn a_step_settles_whole_batches_oldest_first_until_it_has_enough() {
        let dir = tempfile::tempdir().unwrap();
        let connection = crate::db::open(dir.path()).unwrap();
        for start in [0, 3_000, 6_000] {
            let (rows, bytes) = encoded(
                (start..start + 3_000)
                    .map(|index| UsageRow { ts_ms: i64::from(index), ..UsageRow::default() }),
            );
            park(&connection, rows, &bytes).unwrap();
        }
        assert_eq!(settle_up_to(&connection, 4_096).unwrap(), 6_000, "two whole batches");
        assert_eq!(parked(&connection).unwrap(), 3_000);
        let newest: i64 = connection.query_row("SELECT max(ts) FROM usage", [], |row| row.get(0)).unwrap();
        assert_eq!(newest, 5_999, "the oldest batches went first");
        assert_eq!(settle_up_to(&connection, 1).unwrap(), 3_000);
        assert_eq!(settle_up_to(&connection, 1).unwrap(), 0);
    }

    #[test]
    fn a_damaged_batch_is_dropped_whole_and_one_of_a_newer_format_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let connection = crate::db::open(dir.path()).unwrap();
        let (count, bytes) = encoded((0..5).map(sample));
        park(&connection, count, &bytes).unwrap();
        // Cut inside the last row: the first four are readable, but the batch is damaged.
        park(&connection, count, &bytes[..bytes.len() - 3]).unwrap();
        // Bytes that decode as a row, then a text length past the end.
        park(&connection, 1, &[0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 9, 0, 0, 0, b'x']).unwrap();
        connection
            .execute("INSERT INTO usage_parked (format, rows, data) VALUES (?1, 1, x'00')", [FORMAT + 1])
            .unwrap();
        park(&connection, count, &bytes).unwrap();
        assert_eq!(settle(&connection).unwrap(), 10, "the two whole batches");
        let want: Vec<String> = (0..5).chain(0..5).map(|index| expected(&sample(index))).collect();
        assert_eq!(table(&connection), want);
        let left: Vec<i64> = connection
            .prepare("SELECT format FROM usage_parked")
            .unwrap()
            .query_map([], |row| row.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(left, [FORMAT + 1], "only the batch of a newer format is left");
        assert_eq!(parked(&connection).unwrap(), 0);
    }
}
