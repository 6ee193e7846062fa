//! Tests of `usage_store`: the encoding, the insert, parked batches and their settling.

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
    let order: Vec<i64> = statement.query_map([], |row| row.get(0)).unwrap().map(Result::unwrap).collect();
    assert_eq!(order, (0..i64::try_from(4 * batch).unwrap()).collect::<Vec<_>>());
}

#[test]
fn a_step_settles_whole_batches_oldest_first_until_it_has_enough() {
    let dir = tempfile::tempdir().unwrap();
    let connection = crate::db::open(dir.path()).unwrap();
    for start in [0, 3_000, 6_000] {
        let (rows, bytes) = encoded(
            (start..start + 3_000).map(|index| UsageRow { ts_ms: i64::from(index), ..UsageRow::default() }),
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
    // Cut between two rows: four readable rows where five were parked.
    let boundary = encoded((0..4).map(sample)).1.len();
    park(&connection, count, &bytes[..boundary]).unwrap();
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
