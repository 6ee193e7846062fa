//! `aigate stats` (charts, `--html` in a real headless browser, retention) and
//! `aigate logs --follow`, through the binary in a hermetic home.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests panic on failure")]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

use crate::common::TestContext;
use aigate::proxy::usage::{UsageRow, UsageSink};

const DAY: i64 = 86_400_000;
/// Keys stored for providers: none may appear in any report.
const STORED_KEYS: [&str; 2] = ["sk-stored-SECRET-0123456789abcdef", "sk-ant-stored-SECRET-fedcba9876543210"];

fn now() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Two providers whose keys are stored in the db (`--key-stdin`), as a user would add them.
fn add_providers(context: &TestContext) {
    for ((name, url), key) in
        [("deepseek", "https://api.deepseek.example/v1"), ("anthropic", "https://api.anthropic.example")]
            .into_iter()
            .zip(STORED_KEYS)
    {
        context
            .command()
            .args(["provider", "add", name, "--base-url", url, "--api", "chat", "--key-stdin"])
            .write_stdin(format!("{key}\n"))
            .assert()
            .success();
    }
}

struct Seed<'a> {
    age_ms: i64,
    session: &'a str,
    client: &'a str,
    provider: &'a str,
    model: &'a str,
    status: i64,
    tokens: (i64, i64),
    cost: Option<f64>,
    ttft: Option<i64>,
    duration: i64,
    error: Option<&'a str>,
    attempts: i64,
}

fn insert(connection: &rusqlite::Connection, seed: &Seed<'_>) {
    connection
        .execute(
            "INSERT INTO usage (ts, request_id, session_id, client, api, provider, model_requested, model_sent,
                status, stream, ttft_ms, duration_ms, input_tokens, output_tokens, cached_tokens, cost_usd,
                error_class, attempts)
             VALUES (?1, 'req', ?2, ?3, 'chat', ?4, ?5, ?5, ?6, 1, ?7, ?8, ?9, ?10, 0, ?11, ?12, ?13)",
            rusqlite::params![
                now() - seed.age_ms,
                seed.session,
                seed.client,
                seed.provider,
                seed.model,
                seed.status,
                seed.ttft,
                seed.duration,
                seed.tokens.0,
                seed.tokens.1,
                seed.cost,
                seed.error,
                seed.attempts
            ],
        )
        .unwrap();
}

/// A week of traffic over two providers, with a failover, errors, and client-supplied
/// strings (session id, model name) that try to break out of HTML and the terminal.
fn seed_week(context: &TestContext) {
    let connection = context.db();
    let hostile_model = "evil\u{1b}[2J<img src=x onerror=alert(1)>";
    let hostile_session = "sess-<script>alert('x')</script>";
    for index in 0..60_i64 {
        let day = index % 7;
        let deepseek = index % 3 != 0;
        insert(
            &connection,
            &Seed {
                age_ms: day * DAY + index * 60_000 + 1_000,
                session: if index % 5 == 0 {
                    hostile_session
                } else {
                    ["s-alpha", "s-beta", "s-gamma"][(index % 3) as usize]
                },
                client: if index % 2 == 0 { "codex" } else { "claude" },
                provider: if deepseek { "deepseek" } else { "anthropic" },
                model: if index == 7 {
                    hostile_model
                } else if deepseek {
                    "deepseek-chat"
                } else {
                    "claude-sonnet-4-5"
                },
                status: if index % 11 == 0 { 429 } else { 200 },
                tokens: (1_000 + index * 300, 100 + index * 20),
                cost: Some(if deepseek { 0.001 } else { 0.02 } * (1.0 + index as f64 / 10.0)),
                ttft: Some(200 + index * 15),
                duration: 600 + index * 90,
                error: (index % 11 == 0).then_some("http_429"),
                attempts: if index % 13 == 0 { 2 } else { 1 },
            },
        );
    }
    insert(
        &connection,
        &Seed {
            age_ms: 5_000,
            session: "s-alpha",
            client: "codex",
            provider: "deepseek",
            model: "deepseek-chat",
            status: 502,
            tokens: (0, 0),
            cost: None,
            ttft: None,
            duration: 40,
            error: Some("exhausted"),
            attempts: 2,
        },
    );
}

#[test]
fn stats_draws_charts_on_request_and_escapes_client_strings() {
    let context = TestContext::new();
    seed_week(&context);
    let output = context.ok(&["stats", "--since", "8d", "--charts", "--width", "100"]).0;
    for title in [
        "Cost and tokens per day",
        "Cost and tokens per provider",
        "Cost and tokens per model",
        "Requests and error rate per provider",
        "Latency per provider",
        "Error classes",
        "Failovers by the provider that answered last",
    ] {
        assert!(output.contains(title), "{title} missing:\n{output}");
    }
    assert!(!output.contains('\u{1b}'), "no raw ESC reaches the terminal:\n{output}");
    assert!(output.contains("evil\\u{1b}[2J"), "{output}");
    assert!(output.lines().all(|line| line.chars().count() <= 100), "{output}");
    assert!(output.lines().last().unwrap().starts_with("total"), "{output}");

    // Piped without --charts: the table alone, as scripts have always read it.
    let table = context.ok(&["stats", "--since", "8d"]).0;
    assert!(table.starts_with("PROVIDER"), "{table}");

    let filtered = context.json(&["stats", "--since", "8d", "--provider", "anthropic", "--client", "codex"]);
    assert_eq!(filtered["version"], 1);
    let groups = filtered["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 1, "{filtered}");
    assert_eq!(groups[0]["key"], "anthropic");
    assert_eq!(filtered["summary"]["clients"].as_array().unwrap().len(), 1);
    let until = context.json(&["stats", "--since", "8d", "--until", "3d"]);
    let all = context.json(&["stats", "--since", "8d"]);
    let (until_total, all_total) =
        (until["total"]["requests"].as_u64().unwrap(), all["total"]["requests"].as_u64().unwrap());
    assert!(until_total > 0 && until_total < all_total, "{until_total} of {all_total}");
    context.refused(&["stats", "--until", "tomorrowish"]);
}

/// What `--html` writes, checked as text: self-contained, strict CSP, escaped, no key.
fn write_report(context: &TestContext) -> (std::path::PathBuf, String) {
    let path = context.path("report.html");
    context.ok(&["stats", "--since", "8d", "--html", path.to_str().unwrap()]);
    let html = fs_err::read_to_string(&path).unwrap();
    (path, html)
}

#[test]
fn html_report_is_self_contained_escaped_and_holds_no_key() {
    let context = TestContext::new();
    add_providers(&context);
    seed_week(&context);
    let (_, html) = write_report(&context);
    assert!(html.contains(
        r#"<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">"#
    ));
    assert!(!html.contains("http://") && !html.contains("https://"), "no address of any kind in the page");
    for key in STORED_KEYS {
        assert!(!html.contains(key), "a stored key leaked into the report");
        assert!(!html.contains(&key[key.len() - 8..]), "part of a stored key leaked into the report");
    }
    assert!(!html.contains("api.deepseek.example"), "provider settings stay out of the report");
    assert!(!html.contains("<script>alert") && !html.contains("<img src=x"), "client strings are escaped");
    assert!(html.contains("sess-&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));
    assert!(!html.contains('\u{1b}'));
    assert_eq!(html.matches("<script>").count(), 1, "one inline script: the table sorter");
    for id in ["by-day", "by-provider", "by-model", "requests", "latency", "sessions", "failovers", "errors"]
    {
        assert!(html.contains(&format!("<section id=\"{id}\">")), "{id}");
    }
}

/// Chromium, if installed (CI installs Debian's `chromium`).
#[expect(clippy::print_stdout, reason = "the skip notice is the test's own output")]
fn chromium() -> Option<&'static str> {
    let path = "/usr/bin/chromium";
    if Path::new(path).exists() {
        Some(path)
    } else {
        println!(
            "notice: /usr/bin/chromium is absent; skipping the headless-browser check of the HTML report"
        );
        None
    }
}

fn headless(chromium: &str, profile: &Path, extra: &[&str], page: &Path) -> std::process::Output {
    std::process::Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .output()
        .expect("run chromium")
}

/// Distinct colours in a PNG (RGBA or RGB, 8 bits).
fn distinct_colours(path: &Path) -> usize {
    let decoder = png::Decoder::new(BufReader::new(fs_err::File::open(path).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buffer = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buffer).unwrap();
    let channels = info.color_type.samples();
    let mut colours = std::collections::HashSet::new();
    for pixel in buffer[..info.buffer_size()].chunks(channels) {
        colours.insert(pixel.to_vec());
    }
    colours.len()
}

#[test]
fn html_report_renders_in_headless_chromium() {
    let Some(chromium) = chromium() else { return };
    let context = TestContext::new();
    add_providers(&context);
    seed_week(&context);
    let (path, _) = write_report(&context);

    let dom = headless(chromium, &context.path("profile-dom"), &["--dump-dom"], &path);
    assert!(dom.status.success(), "chromium --dump-dom failed: {}", text(&dom.stderr));
    let dom = text(&dom.stdout);
    let sections: Vec<&str> = dom.split("<section").skip(1).collect();
    assert_eq!(sections.len(), 8, "{dom}");
    for section in &sections {
        let body = section.split("</section>").next().unwrap();
        assert_eq!(body.matches("<svg").count(), 1, "one chart per section: {body}");
    }
    for key in STORED_KEYS {
        assert!(!dom.contains(key));
    }
    assert!(!dom.contains("<script>alert"), "the hostile session id stayed text");

    for (name, extra) in [("light", None), ("dark", Some("--force-dark-mode"))] {
        let png = context.path(&format!("report-{name}.png"));
        let mut args = vec![format!("--screenshot={}", png.display()), "--window-size=1100,2600".to_string()];
        args.extend(extra.map(str::to_string));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let shot = headless(chromium, &context.path(&format!("profile-{name}")), &args, &path);
        assert!(shot.status.success(), "chromium --screenshot failed: {}", text(&shot.stderr));
        let colours = distinct_colours(&png);
        assert!(colours > 20, "the {name} screenshot is (nearly) blank: {colours} colours");
        if let Some(keep) = std::env::var_os("AIGATE_KEEP_SCREENSHOTS") {
            fs_err::copy(&png, Path::new(&keep).join(format!("report-{name}.png"))).unwrap();
        }
    }
}

#[test]
fn retention_removes_exactly_the_rows_past_the_limit() {
    let context = TestContext::new();
    let connection = context.db();
    // Ages around a 30-day limit: an hour either side of the line, and far from it.
    let ages = [40 * DAY, 30 * DAY + 3_600_000, 30 * DAY - 3_600_000, DAY, 0];
    for (index, age) in ages.iter().enumerate() {
        insert(
            &connection,
            &Seed {
                age_ms: *age,
                session: &format!("s{index}"),
                client: "codex",
                provider: "deepseek",
                model: "m",
                status: 200,
                tokens: (1, 1),
                cost: None,
                ttft: None,
                duration: 1,
                error: None,
                attempts: 1,
            },
        );
    }
    let sessions = |connection: &rusqlite::Connection| -> Vec<String> {
        let mut statement = connection.prepare("SELECT session_id FROM usage ORDER BY id").unwrap();
        statement.query_map([], |row| row.get(0)).unwrap().map(Result::unwrap).collect()
    };

    let dry = context.json(&["stats", "--retention-days", "30", "--dry-run"]);
    assert_eq!(dry["pruned"]["rows"], 2);
    assert_eq!(dry["pruned"]["dry_run"], true);
    assert_eq!(sessions(&connection).len(), 5, "a dry run deletes nothing");
    let unchanged = context.json(&["stats", "--prune", "--dry-run"]);
    assert_eq!(
        unchanged["retention"],
        serde_json::json!({"days": 180, "default": true}),
        "and stores nothing"
    );
    assert_eq!(unchanged["pruned"]["rows"], 0);

    let set = context.run(&["stats", "--retention-days", "30"]);
    assert!(set.status.success());
    assert!(text(&set.stderr).contains("Usage rows are now kept 30 days"), "{}", text(&set.stderr));
    assert_eq!(sessions(&connection).len(), 5, "setting the limit alone prunes nothing");

    let pruned = context.json(&["stats", "--prune"]);
    assert_eq!(pruned["pruned"]["rows"], 2);
    assert_eq!(sessions(&connection), ["s2", "s3", "s4"]);
    assert_eq!(context.json(&["stats", "--prune"])["pruned"]["rows"], 0);

    context
        .run(&["stats", "--dry-run"])
        .status
        .code()
        .filter(|code| *code == 1)
        .expect("--dry-run alone is refused");
}

#[tokio::test]
async fn the_usage_writer_prunes_once_at_start() {
    let context = TestContext::new();
    let connection = context.db();
    for age in [11 * DAY, 9 * DAY] {
        insert(
            &connection,
            &Seed {
                age_ms: age,
                session: "old",
                client: "codex",
                provider: "p",
                model: "m",
                status: 200,
                tokens: (1, 1),
                cost: None,
                ttft: None,
                duration: 1,
                error: None,
                attempts: 1,
            },
        );
    }
    context.ok(&["stats", "--retention-days", "10"]);
    let sink = UsageSink::start(context.aigate_home());
    sink.record(UsageRow { ts_ms: now(), request_id: "new".into(), ..UsageRow::default() });
    sink.flush().await;
    let ids: Vec<(String, i64)> = connection
        .prepare("SELECT request_id, ts FROM usage ORDER BY ts")
        .unwrap()
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(ids.len(), 2, "{ids:?}");
    assert_eq!(ids[1].0, "new");
    assert!(ids[0].1 < now() - 8 * DAY, "the 9-day-old row stays");
}

/// Lines of a child's pipe, read on a thread, so a test can wait for one with a deadline.
fn lines(pipe: impl std::io::Read + Send + 'static) -> mpsc::Receiver<String> {
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { break };
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    receiver
}

fn follow_sees_new_rows(json: bool) {
    let context = TestContext::new();
    let connection = context.db();
    insert(
        &connection,
        &Seed {
            age_ms: 1_000,
            session: "before",
            client: "codex",
            provider: "old-provider",
            model: "m",
            status: 200,
            tokens: (1, 1),
            cost: None,
            ttft: None,
            duration: 1,
            error: None,
            attempts: 1,
        },
    );
    let mut command = context.process();
    command.args(if json { vec!["--json", "logs", "--follow"] } else { vec!["logs", "--follow"] });
    let mut child = command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let stdout = lines(child.stdout.take().unwrap());
    let stderr = lines(child.stderr.take().unwrap());
    let ready = stderr.recv_timeout(Duration::from_secs(20)).expect("follow says it is ready");
    assert!(ready.contains("Following new requests"), "{ready}");

    // Written by the proxy's own writer, as a `run` session or `serve` would.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let sink = UsageSink::start(context.aigate_home());
    sink.record(UsageRow {
        ts_ms: now(),
        request_id: "r-follow".into(),
        client: Some("claude"),
        provider: Some("deepseek".into()),
        model_requested: Some("claude-sonnet-4-5".into()),
        model_sent: Some("deepseek-chat\u{1b}]0;pwned\u{7}".into()),
        status: Some(200),
        ttft_ms: Some(321),
        input_tokens: Some(1_200),
        output_tokens: Some(34),
        cost_usd: Some(0.0012),
        attempts: 2,
        ..UsageRow::default()
    });
    runtime.block_on(sink.flush());

    let line = stdout.recv_timeout(Duration::from_secs(20)).expect("the new row is printed");
    if json {
        let value: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(value["request_id"], "r-follow");
        assert_eq!(value["provider"], "deepseek");
        assert_eq!(value["attempts"], 2);
        assert!(value.get("version").is_none(), "NDJSON lines are rows, not documents");
    } else {
        assert!(!line.contains('\u{1b}') && !line.contains('\u{7}'), "{line:?}");
        for part in [
            "claude",
            "deepseek",
            "claude-sonnet-4-5→deepseek-chat\\u{1b}]0;pwned\\u{7}",
            "200",
            "ttft 321ms",
            "1.2k/34 tok",
            "$0.0012",
            "2 attempts",
        ] {
            assert!(line.contains(part), "{part} not in {line}");
        }
        assert!(!line.contains("old-provider"), "rows from before the start are not replayed");
    }
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::Signal::SIGINT)
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "SIGINT ends --follow cleanly");
    assert!(stdout.recv_timeout(Duration::from_secs(5)).is_err(), "nothing else was printed");
}

#[test]
fn logs_follow_prints_new_rows_until_sigint() {
    follow_sees_new_rows(false);
}

#[test]
fn logs_follow_json_is_one_object_per_line() {
    follow_sees_new_rows(true);
}

/// Issue 10 #8: `aigate logs` never prints a client-supplied control character raw: a
/// model name with ESC and a newline can neither set the terminal title nor forge a row.
#[test]
fn logs_escape_control_characters_and_cannot_be_forged() {
    let context = TestContext::new();
    let connection = context.db();
    insert(
        &connection,
        &Seed {
            age_ms: 1_000,
            session: "s",
            client: "codex",
            provider: "deepseek",
            model: "m\u{1b}]0;pwned\u{7}\n2026-01-01 00:00 codex FORGED 200",
            status: 200,
            tokens: (1, 1),
            cost: None,
            ttft: Some(1),
            duration: 2,
            error: None,
            attempts: 1,
        },
    );
    drop(connection);
    let (stdout, _) = context.ok(&["logs"]);
    assert!(!stdout.contains('\u{1b}') && !stdout.contains('\u{7}'), "{stdout:?}");
    assert!(!stdout.lines().any(|line| line.starts_with("2026-01-01")), "a forged row: {stdout}");
    assert!(stdout.contains("\\u{1b}"), "{stdout}");
}

/// Rows a busy proxy parked as one batch (`usage_store`), as its writer does under load.
fn park_rows(context: &TestContext, ids: std::ops::Range<usize>) {
    let mut bytes = Vec::new();
    for index in ids.clone() {
        let row = UsageRow {
            ts_ms: now() - 60_000 + i64::try_from(index).unwrap(),
            request_id: format!("r-parked-{index}"),
            client: Some("codex"),
            api: Some("responses"),
            provider: Some("deepseek".into()),
            model_requested: Some("gpt-5".into()),
            status: Some(200),
            input_tokens: Some(10),
            output_tokens: Some(2),
            attempts: 1,
            ..UsageRow::default()
        };
        aigate::usage_store::encode(&row, &mut bytes);
    }
    aigate::usage_store::park(&context.db(), ids.len(), &bytes).unwrap();
}

/// Under load the proxy parks its rows and settles them later: every reader sees them
/// meanwhile. `status` counts them without writing; `logs`, `stats` and `logs --follow`
/// settle them into the table first.
#[test]
fn rows_a_busy_proxy_parked_are_seen_by_status_logs_stats_and_follow() {
    let context = TestContext::new();
    park_rows(&context, 0..300);

    let (status, _) = context.ok(&["status"]);
    let line = status.lines().find(|line| line.starts_with("usage ")).unwrap_or_default();
    assert_eq!(
        line,
        "usage     300 requests recorded; kept 180 days (default; set with `aigate stats --retention-days N`)",
        "parked rows are counted; their first time is not known without reading them: {status}"
    );
    assert_eq!(aigate::usage_store::parked(&context.db()).unwrap(), 300, "status settles nothing");

    let (logs, _) = context.ok(&["--json", "logs", "--limit", "1000"]);
    let logs: serde_json::Value = serde_json::from_str(&logs).unwrap();
    let ids: Vec<&str> =
        logs["requests"].as_array().unwrap().iter().map(|row| row["request_id"].as_str().unwrap()).collect();
    let want: Vec<String> = (0..300).rev().map(|index| format!("r-parked-{index}")).collect();
    assert_eq!(ids, want, "all parked rows, newest first");
    assert_eq!(aigate::usage_store::parked(&context.db()).unwrap(), 0);

    park_rows(&context, 300..350);
    let (stats, _) = context.ok(&["--json", "stats"]);
    let stats: serde_json::Value = serde_json::from_str(&stats).unwrap();
    assert_eq!(stats["total"]["requests"], 350, "{stats}");

    let mut child = context
        .process()
        .args(["--json", "logs", "--follow"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = lines(child.stdout.take().unwrap());
    let stderr = lines(child.stderr.take().unwrap());
    let ready = stderr.recv_timeout(Duration::from_secs(20)).expect("follow says it is ready");
    assert!(ready.contains("Following new requests"), "{ready}");
    park_rows(&context, 350..352);
    for index in 350..352 {
        let line = stdout.recv_timeout(Duration::from_secs(20)).expect("the parked row is printed");
        let value: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(value["request_id"], format!("r-parked-{index}"));
    }
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::Signal::SIGINT)
        .unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(0));
}
