//! The client's headers and the local token: one pass over the headers for what a
//! request needs to know of them ([`screen`]), the token compared in constant time, and
//! the clean that leaves nothing of this hop or of the token for the upstream.

use std::sync::Arc;

use axum::http::{HeaderMap, HeaderValue, header};
use memchr::memmem;
use subtle::ConstantTimeEq;

use super::super::error::strip_hop_by_hop;
use super::super::{HOP_HEADER, State};

/// Whether this instance already handled the request (its id is in the hop list), or the
/// list is implausibly long.
fn seen_before(state: &State, hops: &HeaderValue) -> bool {
    let Ok(hops) = hops.to_str() else {
        return false;
    };
    let ids: Vec<&str> = hops.split(',').map(str::trim).collect();
    ids.len() > MAX_HOPS || ids.contains(&state.instance_id.as_str())
}

/// More aigates than this in a row is a loop we could not otherwise see.
const MAX_HOPS: usize = 8;

pub(super) fn token_matches(state: &State, candidate: &[u8]) -> bool {
    equal_in_constant_time(candidate, state.token.as_bytes())
}

/// `a == b` in a time that depends on their lengths only, compared a word at a time with
/// subtle's `u64` comparison (its byte-slice one guards every byte on its own, which cost
/// more than the rest of the token check).
fn equal_in_constant_time(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let (a_words, b_words) = (a.chunks_exact(8), b.chunks_exact(8));
    let mut same = a_words.remainder().ct_eq(b_words.remainder());
    let word = |bytes: &[u8]| u64::from_ne_bytes(bytes.try_into().unwrap_or_default());
    for (x, y) in a_words.zip(b_words) {
        same &= word(x).ct_eq(&word(y));
    }
    same.into()
}

fn bearer(value: &HeaderValue) -> Option<&[u8]> {
    let bytes = value.as_bytes();
    (bytes.len() > 7 && bytes[..7].eq_ignore_ascii_case(b"bearer ")).then(|| bytes[7..].trim_ascii())
}

/// What one pass over the client's headers tells: a lookup in the map for each question
/// (and a removal for each header that may be there) cost more than the pass.
#[derive(Debug, Default)]
pub(super) struct Screened {
    /// The client's `x-request-id` (its first), when it is usable as ours.
    pub(super) request_id: Option<String>,
    /// The local token is in `Authorization: Bearer`, `x-api-key`, `x-goog-api-key` or
    /// `x-aigate-token` (every value of each is compared, in constant time).
    pub(super) authorized: bool,
    /// The hop list names this instance, or too many.
    pub(super) looped: bool,
    /// A header [`strip_hops`] removes is there.
    pub(super) hops: bool,
    /// A value carries the local token ([`remove_token`]).
    pub(super) token: bool,
    /// The client its `User-Agent` names.
    pub(super) client: Option<&'static str>,
    /// The session the client names.
    pub(super) session_id: Option<Arc<str>>,
}

pub(super) fn screen(state: &State, headers: &HeaderMap) -> Screened {
    let token = state.token_finder();
    let mut seen = Screened::default();
    let mut request_id = None;
    let mut agent = None;
    // Where a client without a session of ours names its own: `session-id`,
    // `x-claude-code-session-id`, `x-session-id`, in this order.
    let mut sessions: [Option<&HeaderValue>; 3] = [None; 3];
    let mut connection = false;
    for (name, value) in headers {
        // The agent and the session are read from what the clean leaves (a value that
        // carries the token goes, and so does a header `Connection` lists); the token, the
        // hop list and the id from what the client sent.
        let carries = carries_token(token, value);
        seen.token |= carries;
        // Every place is checked (no early exit), so timing does not tell which matched.
        match name.as_str() {
            "authorization" => {
                if let Some(candidate) = bearer(value) {
                    seen.authorized |= token_matches(state, candidate);
                }
            }
            "x-api-key" | "x-goog-api-key" => {
                seen.authorized |= token_matches(state, value.as_bytes().trim_ascii());
            }
            "x-aigate-token" => {
                seen.authorized |= token_matches(state, value.as_bytes().trim_ascii());
                seen.hops = true;
            }
            HOP_HEADER => seen.looped |= seen_before(state, value),
            "x-request-id" => {
                request_id.get_or_insert(value);
            }
            "user-agent" if !carries => {
                agent.get_or_insert(value);
            }
            "content-length" => seen.hops = true,
            "session-id" if !carries => {
                sessions[0].get_or_insert(value);
            }
            "x-claude-code-session-id" if !carries => {
                sessions[1].get_or_insert(value);
            }
            "x-session-id" if !carries => {
                sessions[2].get_or_insert(value);
            }
            "connection" => {
                connection = true;
                seen.hops = true;
            }
            other => seen.hops |= super::super::error::is_hop_by_hop(other),
        }
    }
    if connection {
        // Rare: a `Connection` that names headers (the head codec keeps no other).
        let listed = |name: &str| {
            super::super::error::connection_listed(headers).any(|token| token.eq_ignore_ascii_case(name))
        };
        if listed("user-agent") {
            agent = None;
        }
        for (slot, name) in
            sessions.iter_mut().zip(["session-id", "x-claude-code-session-id", "x-session-id"])
        {
            if listed(name) {
                *slot = None;
            }
        }
    }
    seen.request_id = request_id
        .and_then(|value| value.to_str().ok())
        .map(str::trim)
        .filter(|id| !id.is_empty() && id.len() <= 128 && id.bytes().all(|byte| byte.is_ascii_graphic()))
        .map(str::to_string);
    if state.client.is_none() {
        seen.client = agent.and_then(client_from_user_agent);
    }
    if state.session_id.is_none() {
        seen.session_id = sessions.iter().flatten().find_map(|value| value.to_str().ok()).map(Into::into);
    }
    seen
}

const AIGATE_TOKEN: axum::http::HeaderName = axum::http::HeaderName::from_static("x-aigate-token");

/// Drop hop-by-hop headers, the body length (set again on the way out), and the local
/// token wherever it is: every value of every header that carries it, alone, as a bearer
/// token, or inside a longer value, is removed. (A request does the parts of it that
/// [`screen`] found work for.)
#[cfg(test)]
fn clean_token_and_hops(token: &memmem::Finder<'_>, headers: &mut HeaderMap) {
    strip_hops(headers);
    remove_token(token, headers);
}

/// Drop hop-by-hop headers, the body length and `x-aigate-token`.
pub(super) fn strip_hops(headers: &mut HeaderMap) {
    strip_hop_by_hop(headers);
    headers.remove(header::CONTENT_LENGTH);
    headers.remove(AIGATE_TOKEN);
}

/// A value that carries the local token: a value shorter than the token cannot (most of
/// them), and one that ends in it (the token alone, or after `Bearer `) needs no search.
fn carries_token(token: &memmem::Finder<'_>, value: &HeaderValue) -> bool {
    let value = value.as_bytes();
    value.len() >= token.needle().len() && (value.ends_with(token.needle()) || token.find(value).is_some())
}

/// Drop every value that carries the local token.
pub(super) fn remove_token(token: &memmem::Finder<'_>, headers: &mut HeaderMap) {
    let carries = |value: &HeaderValue| carries_token(token, value);
    // A client usually sends it in one header of one value (`Authorization`,
    // `x-api-key`): that header goes whole, without a list of the values kept.
    while let Some(name) = headers.iter().find(|(_, value)| carries(value)).map(|(name, _)| name.clone()) {
        if headers.get_all(&name).iter().all(carries) {
            headers.remove(&name);
            continue;
        }
        let kept: Vec<HeaderValue> =
            headers.get_all(&name).iter().filter(|value| !carries(value)).cloned().collect();
        headers.remove(&name);
        for value in kept {
            headers.append(name.clone(), value);
        }
    }
}

fn client_from_user_agent(agent: &HeaderValue) -> Option<&'static str> {
    let agent = agent.to_str().ok()?;
    if agent.starts_with("codex") {
        Some("codex")
    } else if agent.starts_with("claude-cli") || agent.starts_with("claude-code") {
        Some("claude")
    } else if agent.starts_with("opencode") {
        Some("opencode")
    } else if agent.starts_with("GeminiCLI") {
        Some("gemini")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::test_state;
    use super::*;
    use axum::http::HeaderName;

    #[test]
    fn the_token_compare_finds_every_difference_and_every_length() {
        let token = b"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdefXYZ";
        assert!(equal_in_constant_time(token, token));
        assert!(equal_in_constant_time(b"", b""));
        for at in 0..token.len() {
            let mut other = *token;
            other[at] ^= 1;
            assert!(!equal_in_constant_time(&other, token), "a difference at {at}");
            assert!(!equal_in_constant_time(&token[..at], token), "a prefix of {at} bytes");
        }
    }

    #[test]
    fn clean_headers_drops_the_token_wherever_it_is_and_keeps_the_rest() {
        let mut headers = HeaderMap::new();
        for (name, value) in [
            ("x-aigate-token", "tok-123"),
            ("authorization", "Bearer tok-123"),
            ("x-other", "a"),
            ("x-other", "pre tok-123 post"),
            ("x-custom", "kept"),
            ("connection", "x-hop-me"),
            ("x-hop-me", "1"),
            ("host", "127.0.0.1"),
            ("content-length", "3"),
        ] {
            headers.append(name, HeaderValue::from_static(value));
        }
        let mut clean = headers.clone();
        clean_token_and_hops(&memmem::Finder::new("tok-123"), &mut clean);
        let mut left: Vec<(String, String)> = clean
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_str().unwrap().to_string()))
            .collect();
        left.sort();
        assert_eq!(left, [("x-custom".to_string(), "kept".to_string()), ("x-other".into(), "a".into())]);
        // Nothing carrying it: only the hop-by-hop headers and the length go.
        let mut plain = HeaderMap::new();
        plain.insert("x-custom", HeaderValue::from_static("kept"));
        plain.insert("host", HeaderValue::from_static("h"));
        clean_token_and_hops(&memmem::Finder::new("tok-123"), &mut plain);
        assert_eq!(plain.len(), 1);
        assert_eq!(plain["x-custom"], "kept");
    }

    fn map(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        headers
    }

    #[test]
    fn one_pass_over_the_headers_answers_every_question_a_lookup_did() {
        let state = test_state("tok-123");
        let screened = |pairs: &[(&str, &str)]| screen(&state, &map(pairs));
        // The token in each of its places, in any value of the header.
        for (name, value) in [
            ("authorization", "Bearer tok-123"),
            ("authorization", "bearer  tok-123 "),
            ("x-api-key", "tok-123"),
            ("x-goog-api-key", " tok-123"),
            ("x-aigate-token", "tok-123"),
        ] {
            assert!(screened(&[(name, "other"), (name, value)]).authorized, "{name}: {value}");
        }
        for (name, value) in [
            ("authorization", "tok-123"),
            ("x-api-key", "tok-1234"),
            ("x-other", "tok-123"),
            ("cookie", "tok-123"),
        ] {
            let seen = screened(&[(name, value)]);
            assert!(!seen.authorized, "{name}: {value}");
            assert_eq!(seen.token, value.contains("tok-123"), "{name}: {value}");
        }
        // The hop list: this instance in it, or more aigates than a chain can have.
        assert!(screened(&[(HOP_HEADER, "a, me")]).looped);
        assert!(screened(&[(HOP_HEADER, "a"), (HOP_HEADER, "me")]).looped);
        assert!(screened(&[(HOP_HEADER, "1,2,3,4,5,6,7,8,9")]).looped);
        assert!(!screened(&[(HOP_HEADER, "a,b")]).looped);
        // What there is to remove besides the token.
        for name in
            ["connection", "keep-alive", "proxy-authorization", "te", "upgrade", "host", "content-length"]
        {
            assert!(screened(&[(name, "x")]).hops, "{name}");
        }
        assert!(screened(&[("x-aigate-token", "wrong")]).hops);
        assert!(!screened(&[("content-type", "application/json"), ("x-api-key", "k")]).hops);
        // The first usable id, the agent and the session in its names' order; a value that
        // carries the token is not read.
        let seen = screened(&[
            ("x-request-id", " req-1 "),
            ("x-request-id", "req-2"),
            ("user-agent", "claude-cli/2.1 tok-123"),
            ("user-agent", "codex_cli_rs/0.1"),
            ("x-session-id", "s-3"),
            ("session-id", "s-1 tok-123"),
            ("x-claude-code-session-id", "s-2"),
        ]);
        assert_eq!(seen.request_id.as_deref(), Some("req-1"));
        // What `Connection` lists goes with it, so it names neither agent nor session.
        let listed = screened(&[
            ("user-agent", "codex_cli_rs/0.1"),
            ("session-id", "s-1"),
            ("x-session-id", "s-3"),
            ("connection", "User-Agent, session-id"),
        ]);
        assert!(listed.hops);
        assert_eq!((listed.client, listed.session_id.as_deref()), (None, Some("s-3")));
        assert_eq!(seen.client, Some("codex"));
        assert_eq!(seen.session_id.as_deref(), Some("s-2"));
        assert_eq!(screened(&[("x-request-id", "has space")]).request_id, None);
        assert_eq!(screened(&[("x-request-id", &"a".repeat(129))]).request_id, None);
        assert_eq!(screened(&[]).client, None);
    }

    #[test]
    fn the_clean_a_request_does_as_screened_is_the_whole_clean() {
        let state = test_state("tok-123");
        let cases: &[&[(&str, &str)]] = &[
            &[
                ("content-type", "application/json"),
                ("x-api-key", "tok-123"),
                ("authorization", "Bearer tok-123"),
            ],
            &[("x-other", "a"), ("x-other", "pre tok-123 post"), ("x-custom", "kept")],
            &[("connection", "x-hop-me"), ("x-hop-me", "1"), ("host", "h"), ("content-length", "3")],
            &[("x-aigate-token", "wrong"), ("x-custom", "kept")],
            &[("proxy-authorization", "Basic x"), ("anthropic-version", "2023-06-01")],
            &[("x-custom", "kept")],
        ];
        for pairs in cases {
            let mut whole = map(pairs);
            clean_token_and_hops(state.token_finder(), &mut whole);
            let mut screened = map(pairs);
            let seen = screen(&state, &screened);
            if seen.hops {
                strip_hops(&mut screened);
            }
            if seen.token {
                remove_token(state.token_finder(), &mut screened);
            }
            assert_eq!(screened, whole, "{pairs:?}");
        }
    }
}
