//! `GET /health` against the gateway with a tiny blocking HTTP/1.1 request: `status` and
//! `doctor` stay fast and need no async runtime.
//!
//! Invariants: bounded by short connect/read/write timeouts; sends no token (`/health` is
//! the one route that needs none); never follows redirects.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

use serde::Serialize;

const TIMEOUT: Duration = Duration::from_millis(500);

/// What `GET http://ADDRESS/health` gave.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "state", content = "detail")]
pub enum Health {
    /// HTTP 200.
    Ok,
    /// Something answered, but not 200 (the HTTP status line).
    Unhealthy(String),
    /// Nothing answered (the reason).
    Unreachable(String),
}

impl Health {
    pub fn is_ok(&self) -> bool {
        matches!(self, Health::Ok)
    }
}

/// Probe `address` (`HOST:PORT`).
pub fn check(address: &str) -> Health {
    let addresses: Vec<SocketAddr> = match address.to_socket_addrs() {
        Ok(found) => found.collect(),
        Err(error) => return Health::Unreachable(error.to_string()),
    };
    let Some(socket) = addresses.first() else {
        return Health::Unreachable(format!("`{address}` resolves to nothing"));
    };
    let mut stream = match TcpStream::connect_timeout(socket, TIMEOUT) {
        Ok(stream) => stream,
        Err(error) => return Health::Unreachable(error.to_string()),
    };
    let _ = stream.set_read_timeout(Some(TIMEOUT));
    let _ = stream.set_write_timeout(Some(TIMEOUT));
    let request = format!("GET /health HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
    if let Err(error) = stream.write_all(request.as_bytes()) {
        return Health::Unreachable(error.to_string());
    }
    let mut head = [0_u8; 64];
    let mut filled = 0;
    while filled < head.len() {
        match stream.read(&mut head[filled..]) {
            Ok(0) => break,
            Ok(count) => {
                filled += count;
                if head[..filled].contains(&b'\n') {
                    break;
                }
            }
            Err(error) => return Health::Unreachable(error.to_string()),
        }
    }
    let text = String::from_utf8_lossy(&head[..filled]);
    let status_line = text.lines().next().unwrap_or_default().trim().to_string();
    let mut parts = status_line.split_whitespace();
    match (parts.next(), parts.next()) {
        (Some(version), Some("200")) if version.starts_with("HTTP/") => Health::Ok,
        _ if status_line.is_empty() => Health::Unreachable("the connection closed without an answer".into()),
        _ => Health::Unhealthy(status_line),
    }
}
