//! `aigate run` with a stub agent: a `sh` script that prints its argv and the variables
//! aigate sets, asks the session proxy for `/health`, and exits with a chosen code.
//!
//! Hermetic: every path aigate reads (HOME, CODEX_HOME, CLAUDE_CONFIG_DIR, XDG_CONFIG_HOME,
//! AIGATE_HOME) points into one TempDir, the environment is cleared, and only 127.0.0.1 is
//! contacted. Waiting is a bounded poll, never a sleep used as synchronisation.
#![cfg(unix)]
#![expect(clippy::unwrap_used, clippy::expect_used, reason = "test helpers panic on setup failure")]

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use crate::common::TestContext;

/// A throw-away home with a stub agent in `bin/`, which comes first on `PATH`.
fn new_context() -> TestContext {
    let context = TestContext::new();
    let path = format!("{}:/usr/local/bin:/usr/bin:/bin", context.path("bin").display());
    // The key variable the registered providers read (a chain whose keys are all unset is
    // refused at start).
    let context = context.with_path(path).with_env("MOCK_KEY", "sk-mock-key-for-tests-0123");
    fs_err::create_dir_all(context.path("bin")).unwrap();
    context.write_agent("agent", 7);
    context
}

/// What `aigate run` tests do with the shared context: stub agents and snapshots.
trait StubAgents {
    fn write_agent(&self, name: &str, code: i32) -> PathBuf;
    fn write_script(&self, name: &str, text: &str) -> PathBuf;
    fn agent(&self) -> String;
    fn add_provider(&self, name: &str, priority: i64, default_model: Option<&str>);
    fn snapshot(&self) -> BTreeMap<PathBuf, (u32, Vec<u8>)>;
}

impl StubAgents for TestContext {
    /// Write an executable stub agent `bin/NAME` that reports and exits with `code`.
    fn write_agent(&self, name: &str, code: i32) -> PathBuf {
        self.write_script(
            name,
            &format!(
                r#"#!/bin/sh
printf 'ARGV:'; for a in "$@"; do printf ' [%s]' "$a"; done; echo
for v in AIGATE_BASE_URL AIGATE_TOKEN AIGATE_SESSION NO_PROXY no_proxy ANTHROPIC_BASE_URL ANTHROPIC_AUTH_TOKEN ANTHROPIC_CUSTOM_HEADERS ANTHROPIC_MODEL ANTHROPIC_API_KEY OPENCODE_CONFIG_CONTENT MOCK_KEY; do
  eval "val=\${{$v-__unset__}}"; echo "ENV $v=$val"
done
if command -v curl >/dev/null 2>&1; then
  echo "HEALTH:$(curl -s --max-time 10 "$AIGATE_BASE_URL/health")"
else
  echo "HEALTH:$(python3 -c 'import os,urllib.request;print(urllib.request.urlopen(os.environ["AIGATE_BASE_URL"]+"/health",timeout=10).read().decode())')"
fi
exit {code}
"#
            ),
        )
    }

    fn write_script(&self, name: &str, text: &str) -> PathBuf {
        let path = self.root().join("bin").join(name);
        fs_err::write(&path, text).unwrap();
        fs_err::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    fn agent(&self) -> String {
        self.root().join("bin").join("agent").display().to_string()
    }

    /// Register a provider the way a user does.
    fn add_provider(&self, name: &str, priority: i64, default_model: Option<&str>) {
        let priority = priority.to_string();
        let mut args = vec![
            "provider",
            "add",
            name,
            "--base-url",
            "http://127.0.0.1:9/v1",
            "--api",
            "responses",
            "--api",
            "chat",
            "--api",
            "messages",
            "--key-env",
            "MOCK_KEY",
            "--priority",
            &priority,
        ];
        if let Some(model) = default_model {
            args.extend(["--default-model", model]);
        }
        let output = self.run(&args);
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    }

    /// Every file under the root except `bin/`: path → (mode, bytes).
    fn snapshot(&self) -> BTreeMap<PathBuf, (u32, Vec<u8>)> {
        fn walk(dir: &Path, root: &Path, into: &mut BTreeMap<PathBuf, (u32, Vec<u8>)>) {
            for entry in fs_err::read_dir(dir).unwrap() {
                let entry = entry.unwrap();
                let path = entry.path();
                let meta = fs_err::symlink_metadata(&path).unwrap();
                let relative = path.strip_prefix(root).unwrap().to_path_buf();
                if relative.starts_with("bin") {
                    continue;
                }
                if meta.is_dir() {
                    into.insert(relative, (meta.permissions().mode(), Vec::new()));
                    walk(&path, root, into);
                } else {
                    into.insert(relative, (meta.permissions().mode(), fs_err::read(&path).unwrap()));
                }
            }
        }
        let mut map = BTreeMap::new();
        walk(self.root(), self.root(), &mut map);
        map
    }
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The value the stub printed for `ENV NAME=`; `None` when unset.
fn env_value(text: &str, name: &str) -> Option<String> {
    let prefix = format!("ENV {name}=");
    let mut lines = text.lines().skip_while(|line| !line.starts_with(&prefix));
    let first = lines.next()?.strip_prefix(&prefix)?.to_string();
    // Multi-line values (ANTHROPIC_CUSTOM_HEADERS, OPENCODE_CONFIG_CONTENT) run to the next ENV line.
    let rest: Vec<&str> =
        lines.take_while(|line| !line.starts_with("ENV ") && !line.starts_with("HEALTH:")).collect();
    let value = if rest.is_empty() { first } else { format!("{first}\n{}", rest.join("\n")) };
    (value != "__unset__").then_some(value)
}

fn argv(text: &str) -> String {
    text.lines().find(|line| line.starts_with("ARGV:")).unwrap().to_string()
}

fn assert_token_env_only(text: &str) -> String {
    let token = env_value(text, "AIGATE_TOKEN").expect("token in env");
    assert_eq!(token.len(), 64, "{text}");
    assert!(token.chars().all(|c| c.is_ascii_hexdigit()));
    assert!(!argv(text).contains(&token), "token leaked into argv: {text}");
    token
}

fn assert_base_url(text: &str) -> u16 {
    let base = env_value(text, "AIGATE_BASE_URL").unwrap();
    let port = base.strip_prefix("http://127.0.0.1:").unwrap_or_else(|| panic!("base url {base}"));
    assert!(text.contains("HEALTH:ok"), "{text}");
    port.parse().unwrap()
}

#[test]
fn codex_official_gets_overrides_before_user_args_and_exit_code() {
    let context = new_context();
    let output = context
        .process()
        .args(["run", "codex", "--bin", &context.agent(), "--model", "m-1", "--", "exec", "say hi"])
        .env("NO_PROXY", "corp.example")
        .output()
        .unwrap();
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(7), "{text}\n{}", stderr(&output));
    let port = assert_base_url(&text);
    assert_token_env_only(&text);
    assert_eq!(
        argv(&text),
        format!(
            "ARGV: [-c] [model_provider=\"aigate\"] [-c] [model_providers.aigate={{name=\"aigate\", base_url=\"http://127.0.0.1:{port}/v1\", wire_api=\"responses\", requires_openai_auth=true, env_http_headers={{\"x-aigate-token\"=\"AIGATE_TOKEN\"}}}}] [-c] [model=\"m-1\"] [exec] [say hi]"
        )
    );
    assert_eq!(env_value(&text, "NO_PROXY").as_deref(), Some("corp.example,127.0.0.1,localhost,::1"));
    assert_eq!(env_value(&text, "no_proxy").as_deref(), Some("127.0.0.1,localhost,::1"));
    assert_eq!(env_value(&text, "AIGATE_SESSION").map(|s| s.len()), Some(36));
}

#[test]
fn codex_provider_chain_uses_env_key() {
    let context = new_context();
    context.add_provider("mock", 10, None);
    let output = context.run(&["run", "codex", "--bin", &context.agent(), "--", "exec"]);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(7), "{text}\n{}", stderr(&output));
    let port = assert_base_url(&text);
    assert_token_env_only(&text);
    assert_eq!(
        argv(&text),
        format!(
            "ARGV: [-c] [model_provider=\"aigate\"] [-c] [model_providers.aigate={{name=\"aigate\", base_url=\"http://127.0.0.1:{port}/v1\", wire_api=\"responses\", env_key=\"AIGATE_TOKEN\"}}] [exec]"
        )
    );
}

#[test]
fn agent_is_found_through_the_env_variable_and_path() {
    let context = new_context();
    context.write_agent("claude", 3);
    let output = context.run(&["run", "claude", "--", "-p", "hi"]);
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let output =
        context.process().args(["run", "claude"]).env("AIGATE_CLAUDE_BIN", context.agent()).output().unwrap();
    assert_eq!(output.status.code(), Some(7), "{}", stderr(&output));
}

#[test]
fn claude_provider_chain_gets_auth_token_and_model() {
    let context = new_context();
    context.add_provider("mock", 10, None);
    let output = context
        .process()
        .args(["run", "claude", "--bin", &context.agent(), "--model", "claude-x", "--", "-p", "say hi"])
        .env("ANTHROPIC_API_KEY", "sk-user-key")
        .output()
        .unwrap();
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(7), "{text}\n{}", stderr(&output));
    let port = assert_base_url(&text);
    let token = assert_token_env_only(&text);
    assert_eq!(argv(&text), "ARGV: [-p] [say hi]");
    assert_eq!(env_value(&text, "ANTHROPIC_BASE_URL"), Some(format!("http://127.0.0.1:{port}")));
    assert_eq!(env_value(&text, "ANTHROPIC_AUTH_TOKEN"), Some(token.clone()));
    assert_eq!(env_value(&text, "ANTHROPIC_MODEL").as_deref(), Some("claude-x"));
    assert_eq!(env_value(&text, "ANTHROPIC_CUSTOM_HEADERS"), None);
    // The user's key is left alone, with a warning that never shows it.
    assert_eq!(env_value(&text, "ANTHROPIC_API_KEY").as_deref(), Some("sk-user-key"));
    let err = stderr(&output);
    assert!(err.contains("ANTHROPIC_API_KEY"), "{err}");
    assert!(!err.contains("sk-user-key") && !err.contains(&token), "{err}");
}

#[test]
fn claude_official_keeps_the_login_and_appends_a_header() {
    let context = new_context();
    let output = context
        .process()
        .args(["run", "claude", "--provider", "official", "--bin", &context.agent()])
        .env("ANTHROPIC_CUSTOM_HEADERS", "x-team: blue")
        .output()
        .unwrap();
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(7), "{text}\n{}", stderr(&output));
    let token = assert_token_env_only(&text);
    assert_eq!(env_value(&text, "ANTHROPIC_AUTH_TOKEN"), None);
    assert_eq!(
        env_value(&text, "ANTHROPIC_CUSTOM_HEADERS"),
        Some(format!("x-team: blue\nx-aigate-token: {token}"))
    );
}

#[test]
fn opencode_gets_inline_config_with_the_first_providers_model() {
    let context = new_context();
    context.add_provider("second", 20, Some("other-model"));
    context.add_provider("first", 10, Some("mock-model"));
    let output = context.run(&["run", "opencode", "--bin", &context.agent(), "--", "run", "say hi"]);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(7), "{text}\n{}", stderr(&output));
    let port = assert_base_url(&text);
    let token = assert_token_env_only(&text);
    assert_eq!(argv(&text), "ARGV: [run] [say hi]");
    let content = env_value(&text, "OPENCODE_CONFIG_CONTENT").unwrap();
    assert!(!content.contains(&token));
    let value: serde_json::Value = serde_json::from_str(&content).unwrap();
    assert_eq!(
        value,
        serde_json::json!({
            "provider": {"aigate": {
                "npm": "@ai-sdk/openai-compatible",
                "name": "aigate",
                "options": {"baseURL": format!("http://127.0.0.1:{port}/v1"), "apiKey": "{env:AIGATE_TOKEN}"},
                // The chain can read images, so OpenCode may attach them.
                "models": {"mock-model": {"attachment": true, "modalities": {"input": ["text", "image"], "output": ["text"]}}},
            }},
            "model": "aigate/mock-model",
        })
    );
}

#[test]
fn opencode_without_providers_or_model_is_refused() {
    let context = new_context();
    let output = context.run(&["run", "opencode", "--bin", &context.agent()]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("aigate provider add"), "{}", stderr(&output));
    context.add_provider("nomodel", 10, None);
    let output = context.run(&["run", "opencode", "--bin", &context.agent()]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("--model"), "{}", stderr(&output));
}

#[test]
fn unknown_provider_is_refused_naming_the_known_ones() {
    let context = new_context();
    context.add_provider("mock", 10, None);
    let output = context.run(&["run", "codex", "--bin", &context.agent(), "--provider", "nosuch"]);
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(err.contains("`nosuch`") && err.contains("mock, official"), "{err}");
    assert!(output.stdout.is_empty(), "the agent must not start");
}

#[test]
fn nested_run_is_refused() {
    let context = new_context();
    let output = context
        .process()
        .args(["run", "codex", "--bin", &context.agent()])
        .env("AIGATE_SESSION", "x")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("AIGATE_SESSION"), "{}", stderr(&output));
    assert!(output.stdout.is_empty());
}

#[test]
fn missing_agent_exits_2_with_an_install_hint() {
    let context = new_context();
    for (client, package) in
        [("codex", "@openai/codex"), ("claude", "@anthropic-ai/claude-code"), ("opencode", "opencode-ai")]
    {
        let output =
            context.process().args(["run", client]).env("PATH", context.root().join("bin")).output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{client}");
        let err = stderr(&output);
        assert!(err.contains(&format!("npm i -g {package}")) && err.contains("--bin"), "{err}");
    }
    let output = context.run(&["run", "codex", "--bin", "/nonexistent/codex"]);
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn agent_killed_by_a_signal_gives_128_plus_n() {
    let context = new_context();
    let agent = context.write_script("selfkill", "#!/bin/sh\nkill -USR1 $$\nsleep 5\n");
    let output = context.run(&["run", "codex", "--bin", agent.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(128 + 10), "{}", stderr(&output));
}

#[test]
fn sigterm_is_forwarded_and_sigint_is_left_to_the_agent() {
    let context = new_context();
    let ready = context.root().join("ready");
    let agent = context.write_script(
        "waiter",
        &format!(
            "#!/bin/sh\ntrap 'echo got-term; exit 42' TERM\ntrap 'echo got-int' INT\ntouch {}\nwhile :; do sleep 0.05; done\n",
            ready.display()
        ),
    );
    let child = context
        .process()
        .args(["run", "claude", "--bin", agent.to_str().unwrap()])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !ready.exists() {
        assert!(Instant::now() < deadline, "the agent never started");
        std::thread::sleep(Duration::from_millis(10));
    }
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    // SIGINT to aigate alone: it must survive (the terminal would deliver it to the agent).
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
    // SIGTERM to aigate alone: forwarded to the agent, whose exit code comes back.
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(42));
    assert!(stdout(&output).contains("got-term"));
}

#[test]
fn run_writes_no_file() {
    let context = new_context();
    fs_err::write(context.root().join("codex/config.toml"), "model = \"x\"\n").unwrap();
    fs_err::write(context.root().join("codex/auth.json"), "{\"auth_mode\":\"chatgpt\",\"tokens\":{}}")
        .unwrap();
    fs_err::write(context.root().join("claude/settings.json"), "{}").unwrap();
    fs_err::create_dir_all(context.root().join("xdg/opencode")).unwrap();
    fs_err::write(context.root().join("xdg/opencode/opencode.json"), "{}").unwrap();
    context.add_provider("mock", 10, Some("m"));
    let before = context.snapshot();
    for client in ["codex", "claude", "opencode"] {
        let output = context.run(&["run", client, "--bin", &context.agent()]);
        assert_eq!(output.status.code(), Some(7), "{client}: {}", stderr(&output));
    }
    let after = context.snapshot();
    assert_eq!(before.keys().collect::<Vec<_>>(), after.keys().collect::<Vec<_>>());
    assert!(before == after, "a file changed");
}

/// Issue 10 #19: a chain that cannot serve the agent is refused at start (the agent never
/// starts); an unusable link next to a usable one is a warning; the chain's key variables
/// never reach the agent.
#[test]
fn a_chain_that_cannot_work_is_refused_and_keys_stay_out_of_the_agent() {
    let context = new_context();
    context.add_provider("mock", 10, Some("m"));
    let output = context.run(&[
        "provider",
        "add",
        "nokey",
        "--base-url",
        "http://127.0.0.1:9/v1",
        "--api",
        "chat",
        "--key-env",
        "SURELY_UNSET_KEY_VAR",
    ]);
    assert!(output.status.success());
    let refused = context.run(&["run", "opencode", "--bin", &context.agent(), "--provider", "nokey"]);
    assert_eq!(refused.status.code(), Some(1));
    let err = stderr(&refused);
    assert!(err.contains("No provider in the chain can serve OpenCode"), "{err}");
    assert!(err.contains("SURELY_UNSET_KEY_VAR not set"), "{err}");
    assert!(refused.stdout.is_empty(), "the agent must not start");

    let output = context.run(&[
        "run",
        "codex",
        "--bin",
        &context.agent(),
        "--provider",
        "nokey",
        "--provider",
        "mock",
    ]);
    assert_eq!(output.status.code(), Some(7), "{}", stderr(&output));
    assert!(stderr(&output).contains("provider `nokey` cannot serve Codex"), "{}", stderr(&output));
    let seen = stdout(&output);
    assert_eq!(env_value(&seen, "MOCK_KEY"), None, "the key variable reached the agent: {seen}");
}

/// Issue 14: Gemini CLI gets the proxy, the token as its API key and the first provider's
/// model from the environment. Its auth type can only come from a settings file: when the
/// user's selects a Google login, the session gets its own Gemini home (settings: the
/// user's plus the API-key login; everything else linked), what the agent writes there
/// lands in the real `~/.gemini`, and the user's settings are never written. When they
/// already select the API key, the environment is all.
#[test]
fn gemini_gets_its_environment_and_a_session_home_only_when_its_settings_need_one() {
    let context = new_context();
    context.add_provider("mock", 10, Some("mock-model"));
    let gemini = context.home().join(".gemini");
    fs_err::create_dir_all(&gemini).unwrap();
    let settings = "{\n  // mine\n  \"security\": {\"auth\": {\"selectedType\": \"oauth-personal\"}}\n}\n";
    fs_err::write(gemini.join("settings.json"), settings).unwrap();
    let agent = context.write_script(
        "gemini-stub",
        r#"#!/bin/sh
for v in GOOGLE_GEMINI_BASE_URL GEMINI_API_KEY GEMINI_MODEL GEMINI_CLI_HOME AIGATE_TOKEN MOCK_KEY GOOGLE_GENAI_USE_VERTEXAI; do
  eval "val=\${$v-__unset__}"; echo "ENV $v=$val"
done
if [ -n "${GEMINI_CLI_HOME:-}" ]; then
  echo "HEALTH: SETTINGS:$(tr -d '\n' < "$GEMINI_CLI_HOME/.gemini/settings.json")"
  echo "state" > "$GEMINI_CLI_HOME/.gemini/installation_id"
fi
exit 0
"#,
    );
    let agent = agent.display().to_string();
    let output = context
        .command()
        .env("GOOGLE_GENAI_USE_VERTEXAI", "true")
        .args(["run", "gemini", "--bin", &agent, "--", "-p", "hi"])
        .output()
        .unwrap();
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{text}\n{}", stderr(&output));
    let token = env_value(&text, "AIGATE_TOKEN").unwrap();
    assert_eq!(env_value(&text, "GEMINI_API_KEY"), Some(token));
    assert!(env_value(&text, "GOOGLE_GEMINI_BASE_URL").unwrap().starts_with("http://127.0.0.1:"));
    assert_eq!(env_value(&text, "GEMINI_MODEL").as_deref(), Some("mock-model"));
    assert_eq!(env_value(&text, "MOCK_KEY"), None, "the provider key stays out of the agent");
    assert_eq!(env_value(&text, "GOOGLE_GENAI_USE_VERTEXAI"), None, "it would take Gemini around the proxy");
    let session_home = env_value(&text, "GEMINI_CLI_HOME").expect("a session home");
    assert!(session_home.starts_with(&context.aigate_home().display().to_string()), "{session_home}");
    assert_eq!(
        text.lines().find_map(|line| line.strip_prefix("HEALTH: SETTINGS:")),
        Some(settings.replace("oauth-personal", "gemini-api-key").replace('\n', "").as_str())
    );
    assert_eq!(fs_err::read_to_string(gemini.join("settings.json")).unwrap(), settings);
    assert_eq!(fs_err::read_to_string(gemini.join("installation_id")).unwrap(), "state\n");
    assert!(!Path::new(&session_home).exists(), "the session home is removed");

    fs_err::write(gemini.join("settings.json"), r#"{"security":{"auth":{"selectedType":"gemini-api-key"}}}"#)
        .unwrap();
    let output = context.run(&["run", "gemini", "--bin", &agent]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(env_value(&stdout(&output), "GEMINI_CLI_HOME"), None, "the environment is enough");
}
