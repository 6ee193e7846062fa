//! Unit tests of the pure parts of `launch`: argv, environment, inline configs.

use super::*;
use pretty_assertions::assert_eq;

fn session(client: Client, official: bool, model: Option<&'static str>) -> Session<'static> {
    Session {
        client,
        base_url: "http://127.0.0.1:4242",
        token: "tok-secret",
        session_id: "sid",
        official,
        model,
        key_variables: &[],
        images: false,
    }
}

fn no_env(_: &str) -> Option<OsString> {
    None
}

fn env_of(launch: &AgentLaunch, name: &str) -> Option<String> {
    launch.env.iter().find(|(key, _)| key == name).map(|(_, value)| value.to_string_lossy().into_owned())
}

#[test]
fn codex_provider_chain_overrides_go_before_user_args() {
    let launch =
        plan_agent(&session(Client::Codex, false, Some("m-1")), &["exec".into(), "hi".into()], &no_env)
            .unwrap();
    let args: Vec<String> = launch.args.iter().map(|arg| arg.to_string_lossy().into_owned()).collect();
    assert_eq!(
        args,
        vec![
            "-c",
            "model_provider=\"aigate\"",
            "-c",
            "model_providers.aigate={name=\"aigate\", base_url=\"http://127.0.0.1:4242/v1\", wire_api=\"responses\", env_key=\"AIGATE_TOKEN\"}",
            "-c",
            "model=\"m-1\"",
            "exec",
            "hi",
        ]
    );
    assert!(!args.iter().any(|arg| arg.contains("tok-secret")));
    assert_eq!(env_of(&launch, "AIGATE_TOKEN").as_deref(), Some("tok-secret"));
}

#[test]
fn codex_official_keeps_the_login() {
    let overrides = codex_overrides(&session(Client::Codex, true, None));
    assert_eq!(
        overrides[1],
        "model_providers.aigate={name=\"aigate\", base_url=\"http://127.0.0.1:4242/v1\", wire_api=\"responses\", requires_openai_auth=true, env_http_headers={\"x-aigate-token\"=\"AIGATE_TOKEN\"}}"
    );
    assert_eq!(overrides.len(), 2);
}

#[test]
fn claude_env_for_provider_and_official_chains() {
    let launch = plan_agent(&session(Client::Claude, false, Some("m")), &[], &no_env).unwrap();
    assert_eq!(env_of(&launch, "ANTHROPIC_BASE_URL").as_deref(), Some("http://127.0.0.1:4242"));
    assert_eq!(env_of(&launch, "ANTHROPIC_AUTH_TOKEN").as_deref(), Some("tok-secret"));
    assert_eq!(env_of(&launch, "ANTHROPIC_MODEL").as_deref(), Some("m"));
    assert_eq!(env_of(&launch, "ANTHROPIC_CUSTOM_HEADERS"), None);
    assert!(launch.args.is_empty());

    let lookup = |name: &str| (name == "ANTHROPIC_CUSTOM_HEADERS").then(|| OsString::from("x-team: a"));
    let launch = plan_agent(&session(Client::Claude, true, None), &[], &lookup).unwrap();
    assert_eq!(
        env_of(&launch, "ANTHROPIC_CUSTOM_HEADERS").as_deref(),
        Some("x-team: a\nx-aigate-token: tok-secret")
    );
    assert_eq!(env_of(&launch, "ANTHROPIC_AUTH_TOKEN"), None);
}

#[test]
fn claude_warns_about_an_api_key() {
    let lookup = |name: &str| (name == "ANTHROPIC_API_KEY").then(|| OsString::from("sk-user"));
    let launch = plan_agent(&session(Client::Claude, false, None), &[], &lookup).unwrap();
    assert_eq!(launch.warnings.len(), 1);
    assert!(!launch.warnings[0].contains("sk-user"));
}

#[test]
fn opencode_config_content_names_the_token_by_env() {
    let (content, warning) = opencode_config("http://127.0.0.1:1", "mock-model", false, None);
    assert_eq!(warning, None);
    assert_eq!(
        content,
        r#"{"provider":{"aigate":{"npm":"@ai-sdk/openai-compatible","name":"aigate","options":{"baseURL":"http://127.0.0.1:1/v1","apiKey":"{env:AIGATE_TOKEN}"},"models":{"mock-model":{}}}},"model":"aigate/mock-model"}"#
    );
    let (with_images, _) = opencode_config("http://127.0.0.1:1", "m", true, None);
    let value: serde_json::Value = serde_json::from_str(&with_images).unwrap();
    assert_eq!(
        value["provider"]["aigate"]["models"]["m"]["modalities"]["input"],
        serde_json::json!(["text", "image"])
    );
    let (merged, _) = opencode_config(
        "http://127.0.0.1:1",
        "m",
        false,
        Some(OsStr::new(r#"{"theme":"x","provider":{"other":{}}}"#)),
    );
    let value: serde_json::Value = serde_json::from_str(&merged).unwrap();
    assert_eq!(value["theme"], "x");
    assert!(value["provider"]["other"].is_object());
    assert_eq!(value["model"], "aigate/m");
    let (_, warning) = opencode_config("http://127.0.0.1:1", "m", false, Some(OsStr::new("[1]")));
    assert!(warning.is_some());
}

#[test]
fn no_proxy_is_extended_once() {
    assert_eq!(extend_no_proxy(None), "127.0.0.1,localhost,::1");
    assert_eq!(
        extend_no_proxy(Some(OsStr::new("corp.example, localhost"))),
        "corp.example,localhost,127.0.0.1,::1"
    );
}

#[test]
fn chatgpt_login_is_detected_from_auth_json() {
    let dir = tempfile::tempdir().unwrap();
    let paths = Paths { codex_home: dir.path().to_path_buf(), ..Paths::for_home(dir.path()) };
    assert!(!codex_chatgpt_login(&paths));
    for (text, expected) in [
        (r#"{"OPENAI_API_KEY":"sk-x"}"#, false),
        (r#"{"OPENAI_API_KEY":null,"tokens":null}"#, false),
        (r#"{"auth_mode":"chatgpt"}"#, true),
        (r#"{"tokens":{"access_token":"a"}}"#, true),
        ("not json", false),
    ] {
        fs_err::write(paths.codex_auth(), text).unwrap();
        assert_eq!(codex_chatgpt_login(&paths), expected, "{text}");
    }
}

#[test]
fn toml_strings_are_escaped() {
    assert_eq!(toml_escape("a\"b\\c"), "a\\\"b\\\\c");
}

#[test]
fn the_chains_key_variables_are_dropped_from_the_agents_environment() {
    let keys =
        ["DEEPSEEK_API_KEY".to_string(), "ANTHROPIC_API_KEY".to_string(), "DEEPSEEK_API_KEY".to_string()];
    let mut claude = session(Client::Claude, false, None);
    claude.key_variables = &keys;
    let launch = plan_agent(&claude, &[], &no_env).unwrap();
    assert_eq!(launch.unset, vec!["ANTHROPIC_API_KEY", "DEEPSEEK_API_KEY"]);
    // With `official` in the chain, Claude Code's own login variable stays.
    claude.official = true;
    let launch = plan_agent(&claude, &[], &no_env).unwrap();
    assert_eq!(launch.unset, vec!["DEEPSEEK_API_KEY"]);
}

#[test]
fn gemini_gets_the_proxy_the_token_as_its_key_and_no_detours() {
    let keys = ["GEMINI_API_KEY".to_string(), "DEEPSEEK_API_KEY".to_string()];
    let session = Session { key_variables: &keys, ..session(Client::Gemini, false, Some("deepseek-chat")) };
    let lookup = |name: &str| (name == "GOOGLE_GENAI_USE_VERTEXAI").then(|| OsString::from("true"));
    let launch = plan_agent(&session, &["-p".into(), "hi".into()], &lookup).unwrap();
    assert_eq!(launch.args, vec![OsString::from("-p"), OsString::from("hi")], "nothing on argv");
    assert_eq!(env_of(&launch, "GOOGLE_GEMINI_BASE_URL").as_deref(), Some("http://127.0.0.1:4242"));
    // The provider's own `GEMINI_API_KEY` is replaced by the session token, not passed on.
    assert_eq!(env_of(&launch, "GEMINI_API_KEY").as_deref(), Some("tok-secret"));
    assert_eq!(env_of(&launch, "GEMINI_MODEL").as_deref(), Some("deepseek-chat"));
    assert_eq!(
        launch.unset,
        vec![
            "DEEPSEEK_API_KEY",
            "GOOGLE_GENAI_USE_GCA",
            "GOOGLE_GENAI_USE_VERTEXAI",
            "GOOGLE_VERTEX_BASE_URL"
        ]
    );
    assert_eq!(launch.warnings.len(), 1, "{:?}", launch.warnings);
    assert!(launch.warnings[0].contains("GOOGLE_GENAI_USE_VERTEXAI"));
}
