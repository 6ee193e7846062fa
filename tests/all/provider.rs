//! `aigate provider …`, `aigate stats` and `aigate logs` through the binary, in a
//! hermetic [`common::TestContext`].

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests panic on setup failure")]

use crate::common::{TestContext, mode};
use pretty_assertions::assert_eq;
use serde_json::{Value, json};

const STORED_KEY: &str = "sk-stored-secret-0123456789abcdef";

fn stdout_json(output: &std::process::Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn add_list_show_remove_with_masked_keys() {
    let context = TestContext::new();
    let added = context
        .command()
        .args([
            "provider",
            "add",
            "ds",
            "--preset",
            "deepseek",
            "--key-env",
            "DS_KEY",
            "--model-map",
            "gpt-5=deepseek-chat",
        ])
        .env("DS_KEY", "sk-from-env-should-not-print")
        .assert()
        .success();
    let output = added.get_output();
    assert_eq!(text(&output.stdout), "");
    assert!(text(&output.stderr).contains("Added provider `ds`"), "{}", text(&output.stderr));

    let piped = context
        .command()
        .args([
            "provider",
            "add",
            "local",
            "--base-url",
            "http://127.0.0.1:8000/v1/",
            "--api",
            "chat",
            "--key-stdin",
            "--priority",
            "5",
        ])
        .write_stdin(format!("{STORED_KEY}\n"))
        .assert()
        .success();
    assert!(!text(&piped.get_output().stderr).contains(STORED_KEY));
    assert_eq!(mode(&context.db_path()), 0o600);

    let list = context.command().args(["provider", "list"]).assert().success();
    let listing = text(&list.get_output().stdout);
    assert!(!listing.contains(STORED_KEY) && !listing.contains("sk-from-env"), "{listing}");
    assert!(listing.contains("sk-…cdef"), "{listing}");
    assert!(listing.contains("$DS_KEY"), "{listing}");
    let lines: Vec<&str> = listing.lines().collect();
    assert!(lines[0].starts_with("NAME"));
    assert!(lines[1].starts_with("local"), "priority 5 comes first: {listing}");

    let json_list = context.command().args(["provider", "list", "--json"]).assert().success();
    let document = stdout_json(json_list.get_output());
    assert_eq!(document["version"], 1);
    assert_eq!(document["providers"][0]["name"], "local");
    assert_eq!(document["providers"][0]["base_url"], "http://127.0.0.1:8000/v1");
    assert_eq!(
        document["providers"][0]["keys"],
        json!([{"source": "stored", "display": "sk-…cdef", "available": true}])
    );

    let show = context.command().args(["provider", "show", "ds", "--json"]).assert().success();
    let shown = stdout_json(show.get_output());
    assert_eq!(
        shown,
        json!({
            "version": 1,
            "name": "ds",
            "preset": "deepseek",
            "base_url": "https://api.deepseek.com/v1",
            "api_base_urls": {"messages": "https://api.deepseek.com/anthropic/v1"},
            "apis": ["responses", "chat", "messages"],
            "keys": [{"source": "env", "display": "$DS_KEY", "available": false}],
            "model_map": {"gpt-5": "deepseek-chat"},
            "default_model": "deepseek-chat",
            "priority": 100,
            "timeout_secs": null,
            "proxy": null,
            "vision": false
        })
    );
    let show_text = context.command().args(["provider", "show", "local"]).assert().success();
    assert!(!text(&show_text.get_output().stdout).contains(STORED_KEY));

    // The db holds the stored key but only the *name* of the env key.
    let connection = context.db();
    let (key_env, keys): (Option<String>, Option<String>) = connection
        .query_row("SELECT key_env, keys FROM providers WHERE name = 'ds'", [], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })
        .unwrap();
    assert_eq!((key_env.as_deref(), keys), (Some(r#"["DS_KEY"]"#), None));

    context.command().args(["provider", "remove", "ds"]).assert().success().stderr("Removed provider `ds`\n");
    context.command().args(["provider", "remove", "ds"]).assert().code(1);
    context.command().args(["provider", "show", "ds"]).assert().code(1);
}

#[test]
fn refusals_exit_1_and_write_nothing() {
    let context = TestContext::new();
    let unknown = context.command().args(["provider", "add", "x", "--preset", "nope"]).assert().code(1);
    assert!(text(&unknown.get_output().stderr).contains("Unknown preset `nope`"));
    context.command().args(["provider", "add", "official", "--preset", "openai"]).assert().code(1);
    context
        .command()
        .args(["provider", "add", "x", "--base-url", "http://h/v1", "--api", "bogus"])
        .assert()
        .code(1);
    context
        .command()
        .args(["provider", "add", "x", "--base-url", "not a url", "--api", "chat"])
        .assert()
        .code(1);
    context.command().args(["provider", "add", "x", "--preset", "openai", "--timeout", "0"]).assert().code(1);
    context
        .command()
        .args(["provider", "add", "x", "--preset", "openai", "--key-stdin"])
        .write_stdin("")
        .assert()
        .code(1);
    // Unknown flag: clap refuses with exit 1 too.
    context.command().args(["provider", "add", "x", "--preset", "openai", "--key", "sk-1"]).assert().code(1);
    let listed = context.command().args(["provider", "list", "--json"]).assert().success();
    assert_eq!(stdout_json(listed.get_output())["providers"], json!([]));

    context.command().args(["provider", "add", "x", "--preset", "openai"]).assert().success();
    let again = context.command().args(["provider", "add", "x", "--preset", "openai"]).assert().code(1);
    assert!(text(&again.get_output().stderr).contains("--force"));
    context.command().args(["provider", "add", "x", "--preset", "groq", "--force"]).assert().success();
}

fn seed(context: &TestContext) {
    let connection = context.db();
    let now = jiff::Timestamp::now().as_millisecond();
    let rows = [
        // ts, client, provider, model_requested, model_sent, status, in, out, cached, cost, duration, error
        (
            now - 1_000,
            "codex",
            "deepseek",
            "gpt-5",
            "deepseek-chat",
            200,
            1000,
            100,
            200,
            Some(0.01),
            800,
            None,
        ),
        (
            now - 2_000,
            "codex",
            "deepseek",
            "gpt-5",
            "deepseek-chat",
            200,
            3000,
            300,
            0,
            Some(0.02),
            1200,
            None,
        ),
        (
            now - 3_000,
            "claude",
            "anthropic",
            "claude-sonnet-4-5",
            "claude-sonnet-4-5",
            502,
            0,
            0,
            0,
            None,
            50,
            Some("exhausted"),
        ),
        (now - 10 * 86_400_000, "opencode", "old", "m", "m", 200, 5, 5, 0, None, 10, None),
    ];
    for (ts, client, provider, requested, sent, status, input, output, cached, cost, duration, error) in rows
    {
        connection
            .execute(
                "INSERT INTO usage (ts, request_id, client, api, provider, model_requested, model_sent, status, stream,
                    duration_ms, input_tokens, output_tokens, cached_tokens, cost_usd, error_class, attempts)
                 VALUES (?1, 'r', ?2, 'chat', ?3, ?4, ?5, ?6, 1, ?7, ?8, ?9, ?10, ?11, ?12, 1)",
                rusqlite::params![ts, client, provider, requested, sent, status, duration, input, output, cached, cost, error],
            )
            .unwrap();
    }
}

#[test]
fn stats_group_and_total_over_seeded_rows() {
    let context = TestContext::new();
    seed(&context);
    let stats = context.command().args(["stats", "--json"]).assert().success();
    let document = stdout_json(stats.get_output());
    assert_eq!(document["by"], "provider");
    assert_eq!(
        document["groups"],
        json!([
            {"key": "anthropic", "requests": 1, "errors": 1, "input_tokens": 0, "output_tokens": 0, "cached_tokens": 0, "cost_usd": null, "p50_ms": 50},
            {"key": "deepseek", "requests": 2, "errors": 0, "input_tokens": 4000, "output_tokens": 400, "cached_tokens": 200, "cost_usd": 0.03, "p50_ms": 800}
        ])
    );
    assert_eq!(document["total"]["requests"], 3);

    let by_model = context.command().args(["stats", "--by", "model", "--since", "30d"]).assert().success();
    let table = text(&by_model.get_output().stdout);
    assert!(table.starts_with("MODEL"), "{table}");
    assert!(table.contains("deepseek-chat") && table.contains("\nm "), "{table}");
    let total: Vec<&str> = table.lines().last().unwrap().split_whitespace().collect();
    assert_eq!(total[..3], ["total", "4", "1"], "{table}");

    context.command().args(["stats", "--since", "yesterday"]).assert().code(1);
    let empty = TestContext::new();
    empty.command().args(["stats"]).assert().success().stdout("");
}

#[test]
fn logs_newest_first() {
    let context = TestContext::new();
    seed(&context);
    let logs = context.command().args(["logs", "--limit", "2", "--json"]).assert().success();
    let document = stdout_json(logs.get_output());
    let requests = document["requests"].as_array().unwrap();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0]["provider"], "deepseek");
    assert_eq!(requests[0]["input_tokens"], 1000);
    assert_eq!(requests[1]["model_sent"], "deepseek-chat");
    let table = context.command().args(["logs"]).assert().success();
    let table = text(&table.get_output().stdout);
    assert!(table.contains("gpt-5→deepseek-chat"), "{table}");
    assert!(table.contains("exhausted"), "{table}");
    assert_eq!(table.lines().count(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_test_probes_each_api() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::<(String, String)>::new()));
    let recorder = seen.clone();
    let app = axum::Router::new()
        .route(
            "/v1/chat/completions",
            axum::routing::post(move |headers: axum::http::HeaderMap| {
                let recorder = recorder.clone();
                async move {
                    let auth = headers
                        .get("authorization")
                        .map(|v| v.to_str().unwrap().to_string())
                        .unwrap_or_default();
                    recorder.lock().unwrap().push(("chat".into(), auth));
                    axum::Json(json!({"id": "c", "object": "chat.completion", "choices": [{"index": 0,
                        "message": {"role": "assistant", "content": "pong"}, "finish_reason": "stop"}],
                        "usage": {"prompt_tokens": 1, "completion_tokens": 1}}))
                }
            }),
        )
        .route("/v1/responses", axum::routing::post(|| async { axum::http::StatusCode::NOT_FOUND }));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    // A terminal type is set, but stderr is a pipe: no progress bar may be drawn.
    let context = TestContext::new().with_env("TERM", "xterm-256color");
    let base = format!("http://127.0.0.1:{port}/v1");
    let add = context
        .command()
        .args(["provider", "add", "t", "--base-url", &base, "--api", "chat", "--key-stdin"])
        .write_stdin("sk-test\n")
        .ok();
    assert!(add.is_ok());
    let mut command = context.command();
    command.args(["provider", "test", "t", "--model", "m", "--json"]);
    let output = tokio::task::spawn_blocking(move || command.output().unwrap()).await.unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let report = stdout_json(&output);
    let summary: Vec<Value> = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|result| json!([result["api"], result["claimed"], result["status"], result["ok"]]))
        .collect();
    assert_eq!(
        summary,
        vec![
            json!(["responses", false, 404, false]),
            json!(["chat", true, 200, true]),
            json!(["messages", false, 404, false]),
            json!(["gemini", false, 404, false])
        ]
    );
    // Issue 11 #6: then as each client, through aigate: Chat passes through, Responses,
    // Messages and the Gemini API are converted to Chat.
    let as_clients: Vec<Value> = report["as_clients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|probe| json!([probe["api"], probe["how"], probe["status"], probe["ok"]]))
        .collect();
    assert_eq!(
        as_clients,
        vec![
            json!(["responses", "converted via Chat Completions", 200, true]),
            json!(["chat", "pass-through", 200, true]),
            json!(["messages", "converted via Chat Completions", 200, true]),
            json!(["gemini", "converted via Chat Completions", 200, true])
        ]
    );
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 5, "one native probe and four through aigate: {seen:?}");
    assert!(seen.iter().all(|(_, auth)| auth == "Bearer sk-test"), "{seen:?}");

    // Issue 13 item 5: piped, the tables are all there is: stdout holds exactly them and
    // stderr holds nothing (no progress bar, no `\r`, no escape codes).
    let mut command = context.command();
    command.args(["provider", "test", "t", "--model", "m"]);
    let output = tokio::task::spawn_blocking(move || command.output().unwrap()).await.unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(text(&output.stderr), "");
    let stdout = text(&output.stdout);
    assert!(!stdout.contains(['\r', '\u{1b}']), "{stdout:?}");
    let words: Vec<String> = stdout
        .lines()
        .map(|line| {
            line.split_whitespace()
                .map(|word| match word.strip_suffix("ms") {
                    Some(number) if number.parse::<u64>().is_ok() => "Nms",
                    _ => word,
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    assert_eq!(
        words,
        vec![
            "API CLAIMED STATUS LATENCY RESULT",
            "responses no 404 Nms not served here",
            "chat yes 200 Nms ok",
            "messages no 404 Nms not served here",
            "gemini no 404 Nms not served here",
            "",
            "AS A CLIENT OF HOW STATUS LATENCY RESULT",
            "responses converted via Chat Completions 200 Nms ok",
            "chat pass-through 200 Nms ok",
            "messages converted via Chat Completions 200 Nms ok",
            "gemini converted via Chat Completions 200 Nms ok",
        ]
    );
}

#[test]
fn a_provider_pointing_at_the_running_gateway_is_refused() {
    let context = TestContext::new();
    let (mut serve, info) = context.start_serve(&["--port", "0"]);
    let address = info["address"].as_str().unwrap().to_string();
    let stderr = context.refused(&[
        "provider",
        "add",
        "loop",
        "--base-url",
        &format!("http://{address}/v1"),
        "--api",
        "chat",
    ]);
    serve.kill().unwrap();
    serve.wait().unwrap();
    assert!(stderr.contains("is aigate's own gateway; that would loop"), "{stderr}");
}

/// Issue 10 #21: `provider add|remove --dry-run` check everything and write nothing.
#[test]
fn add_and_remove_take_dry_run_and_write_nothing() {
    let home = TestContext::new();
    let (_, stderr) =
        home.ok(&["provider", "add", "ds", "--preset", "deepseek", "--key-env", "DS_KEY", "--dry-run"]);
    assert!(stderr.contains("Would add provider `ds`"), "{stderr}");
    assert!(!home.db_path().exists(), "a dry run creates nothing");
    let refused = home.refused(&["provider", "add", "x", "--preset", "nope", "--dry-run"]);
    assert!(refused.contains("Unknown preset"), "{refused}");
    home.ok(&["provider", "add", "ds", "--preset", "deepseek", "--key-env", "DS_KEY"]);
    let (_, stderr) = home.ok(&["provider", "remove", "ds", "--dry-run"]);
    assert!(stderr.contains("Would remove provider `ds`"), "{stderr}");
    let list = home.json(&["provider", "list"]);
    assert_eq!(list["providers"].as_array().unwrap().len(), 1, "still there");
    home.refused(&["provider", "remove", "nope", "--dry-run"]);
}

/// A Chat Completions upstream on a loopback port, served from its own thread for the rest
/// of the test: every other route is a 404. Returns its `/v1` base URL and a count of the
/// requests it got.
fn chat_upstream() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let requests = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (chat, other) = (requests.clone(), requests.clone());
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async move {
            let app = axum::Router::new()
                .route(
                    "/v1/chat/completions",
                    axum::routing::post(move || {
                        chat.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        async {
                            axum::Json(json!({"id": "c", "object": "chat.completion", "choices": [{"index": 0,
                                "message": {"role": "assistant", "content": "pong"}, "finish_reason": "stop"}],
                                "usage": {"prompt_tokens": 1, "completion_tokens": 1}}))
                        }
                    }),
                )
                .fallback(move || {
                    other.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    async { axum::http::StatusCode::NOT_FOUND }
                });
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    (format!("http://127.0.0.1:{port}/v1"), requests)
}

/// stdout as words per line, each latency as `Nms`.
fn words(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .map(|line| {
            line.split_whitespace()
                .map(|word| match word.strip_suffix("ms") {
                    Some(number) if number.parse::<u64>().is_ok() => "Nms",
                    _ => word,
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

/// The tables of a Chat-only provider that answers, as [`words`] gives them.
const CHAT_ONLY_TABLES: [&str; 11] = [
    "API CLAIMED STATUS LATENCY RESULT",
    "responses no 404 Nms not served here",
    "chat yes 200 Nms ok",
    "messages no 404 Nms not served here",
    "gemini no 404 Nms not served here",
    "",
    "AS A CLIENT OF HOW STATUS LATENCY RESULT",
    "responses converted via Chat Completions 200 Nms ok",
    "chat pass-through 200 Nms ok",
    "messages converted via Chat Completions 200 Nms ok",
    "gemini converted via Chat Completions 200 Nms ok",
];

/// Issue 13 item 5: `provider test` over several providers, one after another.
#[test]
fn provider_test_takes_several_providers_or_all() {
    let (base, requests) = chat_upstream();
    // A terminal type is set, but stderr is a pipe: no progress bar may be drawn.
    let context = TestContext::new().with_env("TERM", "xterm-256color");
    for (name, priority) in [("beta", "10"), ("alpha", "20")] {
        context.ok(&[
            "provider",
            "add",
            name,
            "--base-url",
            &base,
            "--api",
            "chat",
            "--default-model",
            "m",
            "--priority",
            priority,
        ]);
    }

    // Text, named: in the order given, a heading above each one's tables, a blank line
    // between them; stderr holds nothing (no progress bar, no `\r`, no escape codes).
    let output = context.run(&["provider", "test", "alpha", "beta", "alpha"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(text(&output.stderr), "");
    let stdout = text(&output.stdout);
    assert!(!stdout.contains(['\r', '\u{1b}']), "{stdout:?}");
    let mut expected = vec![format!("alpha ({base})")];
    expected.extend(CHAT_ONLY_TABLES.map(str::to_string));
    expected.push(String::new());
    expected.push(format!("beta ({base})"));
    expected.extend(CHAT_ONLY_TABLES.map(str::to_string));
    assert_eq!(words(&stdout), expected);
    // Four native probes and four through aigate (all as Chat) each: alpha once, beta once.
    assert_eq!(requests.load(std::sync::atomic::Ordering::SeqCst), 2 * 8);

    // JSON, no name: every provider in `provider list` order (priority), each report the
    // object `provider test NAME --json` prints, without its `version`.
    let all = context.json(&["provider", "test"]);
    let single = context.json(&["provider", "test", "beta"]);
    assert_eq!(all.as_object().unwrap().keys().collect::<Vec<_>>(), ["version", "providers"]);
    assert_eq!(all["version"], 1);
    let reports = all["providers"].as_array().unwrap();
    let names: Vec<&Value> = reports.iter().map(|report| &report["provider"]).collect();
    assert_eq!(names, [&json!("beta"), &json!("alpha")]);
    let mut keys: Vec<&String> = single.as_object().unwrap().keys().filter(|key| *key != "version").collect();
    keys.sort();
    for report in reports {
        let mut report_keys: Vec<&String> = report.as_object().unwrap().keys().collect();
        report_keys.sort();
        assert_eq!(report_keys, keys, "{report}");
        assert_eq!(report["model"], "m");
        let chat = &report["results"][1];
        assert_eq!((&chat["api"], &chat["ok"]), (&json!("chat"), &json!(true)));
        assert_eq!(report["as_clients"].as_array().unwrap().len(), 4);
    }
}

/// Unknown names are refused, each one named, before any request is sent.
#[test]
fn provider_test_refuses_unknown_names_and_sends_nothing() {
    let (base, requests) = chat_upstream();
    let context = TestContext::new();
    context.ok(&["provider", "add", "known", "--base-url", &base, "--api", "chat", "--default-model", "m"]);
    let stderr = context.refused(&["provider", "test", "known", "nope", "zilch", "nope"]);
    assert!(stderr.contains("No providers named `nope`, `zilch`"), "{stderr}");
    assert!(stderr.contains("aigate provider list"), "{stderr}");
    let stderr = context.refused(&["provider", "test", "nope", "known"]);
    assert!(stderr.contains("No provider named `nope`\n"), "{stderr}");
    assert_eq!(requests.load(std::sync::atomic::Ordering::SeqCst), 0, "nothing probed");
    let empty = TestContext::new();
    let stderr = empty.refused(&["provider", "test"]);
    assert!(stderr.contains("No providers to test"), "{stderr}");
}

/// One provider that cannot be tested or that fails does not stop the others; the exit
/// code is the highest any of them would have had alone.
#[test]
fn provider_test_goes_on_past_a_provider_that_fails() {
    let (base, _) = chat_upstream();
    let dead_port = crate::common::refused_port();
    let dead = format!("http://127.0.0.1:{dead_port}/v1");
    let context = TestContext::new();
    context.ok(&["provider", "add", "good", "--base-url", &base, "--api", "chat", "--default-model", "m"]);
    context.ok(&["provider", "add", "nomodel", "--base-url", &base, "--api", "chat"]);
    context.ok(&["provider", "add", "dead", "--base-url", &dead, "--api", "chat", "--default-model", "m"]);

    // Alone, a provider without a model is refused before anything is sent (as before).
    let stderr = context.refused(&["provider", "test", "nomodel"]);
    assert!(stderr.contains("`nomodel` has no default model to test with"), "{stderr}");

    // With another: that one is still tested; exit 1 (the refusal's code).
    let output = context.run(&["provider", "test", "nomodel", "good"]);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    let stdout = words(&text(&output.stdout));
    assert_eq!(
        stdout[..3],
        [
            format!("nomodel ({base})"),
            "not tested: `nomodel` has no default model to test with".to_string(),
            String::new()
        ]
    );
    assert_eq!(stdout[3], format!("good ({base})"));
    assert_eq!(stdout[4..], CHAT_ONLY_TABLES.map(str::to_string));
    assert!(stderr.contains("hint: run `aigate provider test nomodel --model MODEL`"), "{stderr}");
    assert!(stderr.contains("error: 1 of 2 providers failed the test: `nomodel`"), "{stderr}");

    // A claimed API that does not answer: exit 2, as alone.
    let output = context.run(&["--json", "provider", "test", "dead", "nomodel", "good"]);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    let reports = stdout_json(&output)["providers"].as_array().unwrap().clone();
    assert_eq!(reports.len(), 3);
    assert_eq!(reports[0]["provider"], "dead");
    assert_eq!(
        (&reports[0]["results"][1]["claimed"], &reports[0]["results"][1]["ok"]),
        (&json!(true), &json!(false))
    );
    assert!(reports[0].get("error").is_none(), "{}", reports[0]);
    assert_eq!(
        reports[1],
        json!({"provider": "nomodel", "model": null, "results": [], "as_clients": [],
            "error": "`nomodel` has no default model to test with"})
    );
    assert_eq!(reports[2]["results"][1]["ok"], true);
    assert!(stderr.contains("error: `dead` did not answer on: chat"), "{stderr}");
    assert!(stderr.contains("error: 2 of 3 providers failed the test: `dead`, `nomodel`"), "{stderr}");
}
