//! `aigate serve`: serve.json and the token file, `/health`, refusals, a taken port,
//! `--rotate-token`, and a clean stop on SIGTERM.
//!
//! Hermetic: one TempDir for every path, a cleared environment, port 0 on 127.0.0.1 only.
//! Readiness is a bounded poll of serve.json, never a fixed sleep.
#![cfg(unix)]
#![expect(clippy::unwrap_used, reason = "test helpers panic on setup failure")]

use std::io::{Read, Write};
use std::process::{Child, Command, Output};
use std::time::Duration;

use crate::common::{TestContext, mode};

fn stop(child: Child) -> Output {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::Signal::SIGTERM)
        .unwrap();
    child.wait_with_output().unwrap()
}

fn get(address: &str, path: &str) -> String {
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

#[test]
fn serve_writes_info_and_token_answers_health_and_cleans_up() {
    let context = TestContext::new();
    let (child, info) = context.start_serve(&["--port", "0", "--json"]);
    let address = info["address"].as_str().unwrap().to_string();
    assert!(address.starts_with("127.0.0.1:"), "{info}");
    assert_eq!(info["version"], 1);
    assert_eq!(info["providers"], serde_json::json!(["official"]));
    assert_eq!(mode(&context.serve_json()), 0o600);
    assert_eq!(mode(&context.token_file()), 0o600);
    let token = fs_err::read_to_string(context.token_file()).unwrap();
    assert_eq!(token.trim().len(), 64);
    assert!(!fs_err::read_to_string(context.serve_json()).unwrap().contains(token.trim()));

    let response = get(&address, "/health");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");

    let output = stop(child);
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(&format!("aigate gateway listening on http://{address}")), "{stderr}");
    assert!(!stderr.contains(token.trim()));
    let stdout: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(stdout["version"], 1);
    assert_eq!(stdout["address"], address.as_str());
    assert_eq!(stdout["pid"], info["pid"]);
    assert_eq!(stdout["token_file"], context.token_file().display().to_string());
    assert!(!context.serve_json().exists(), "serve.json must be removed on exit");
    // The token outlives the process.
    assert_eq!(fs_err::read_to_string(context.token_file()).unwrap(), token);
}

#[test]
fn a_second_serve_is_refused_while_the_first_runs() {
    let context = TestContext::new();
    let (child, info) = context.start_serve(&["--port", "0"]);
    let output = context.run(&["serve", "--port", "0"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let expected = format!(
        "aigate serve is already running (pid {}) on {}",
        info["pid"],
        info["address"].as_str().unwrap()
    );
    assert!(stderr.contains(&expected), "{stderr}");
    assert_eq!(stop(child).status.code(), Some(0));
}

#[test]
fn a_stale_serve_json_is_removed_with_a_note() {
    let context = TestContext::new();
    let mut dead = Command::new("true").spawn().unwrap();
    let dead_pid = dead.id();
    dead.wait().unwrap();
    fs_err::create_dir_all(context.aigate_home()).unwrap();
    fs_err::write(
        context.serve_json(),
        format!(
            r#"{{"version":1,"address":"127.0.0.1:1","pid":{dead_pid},"started_at":"x","providers":[],"token_file":"t"}}"#
        ),
    )
    .unwrap();
    let (child, _) = context.start_serve(&["--port", "0"]);
    let output = stop(child);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("stale") && stderr.contains(&dead_pid.to_string()), "{stderr}");
}

#[test]
fn a_taken_port_is_reported() {
    let context = TestContext::new();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let output = context.run(&["serve", "--port", &port]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(&format!("Port {port} on 127.0.0.1 is already in use")), "{stderr}");
    assert!(!context.serve_json().exists());
}

#[test]
fn non_loopback_host_needs_allow_remote() {
    let context = TestContext::new();
    let output = context.run(&["serve", "--host", "0.0.0.0", "--port", "0"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--allow-remote"));
    assert!(!context.serve_json().exists());
}

#[test]
fn rotate_token_changes_the_token() {
    let context = TestContext::new();
    let output = context.run(&["serve", "--rotate-token"]);
    assert_eq!(output.status.code(), Some(0));
    let first = fs_err::read_to_string(context.token_file()).unwrap();
    assert_eq!(mode(&context.token_file()), 0o600);
    let output = context.run(&["serve", "--rotate-token"]);
    assert_eq!(output.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("aigate use gateway"), "{stderr}");
    let second = fs_err::read_to_string(context.token_file()).unwrap();
    assert_ne!(first, second);
    assert!(!stderr.contains(second.trim()) && output.stdout.is_empty());
}
