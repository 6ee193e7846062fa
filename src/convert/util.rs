//! Small helpers: ids, timestamps, base64 for the reasoning marker.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// `prefix` + 24 hex characters, unique: a counter mixed with a key the process draws
/// once (from the OS, else from the time). SplitMix64's mix is a bijection, so two counts
/// never give one id in a process, and the key keeps processes apart. Ids need to be
/// unique, not secret: drawing each from the OS was a syscall per converted item.
pub(crate) fn mint_id(prefix: &str) -> String {
    static KEY: OnceLock<[u64; 2]> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let key = KEY.get_or_init(|| {
        let mut bytes = [0_u8; 16];
        if getrandom::fill(&mut bytes).is_err() {
            let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
            bytes = (nanos ^ u128::from(std::process::id()) << 96).to_le_bytes();
        }
        let key = u128::from_le_bytes(bytes);
        [key as u64, (key >> 64) as u64]
    });
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut bytes = [0_u8; 12];
    bytes[..8].copy_from_slice(&split_mix(key[0] ^ count).to_be_bytes());
    bytes[8..].copy_from_slice(&((split_mix(key[1].wrapping_add(count)) >> 32) as u32).to_be_bytes());
    let mut digits = [0_u8; 24];
    // Never fails: 12 bytes are 24 hex digits.
    let _ = hex::encode_to_slice(bytes, &mut digits);
    let mut id = String::with_capacity(prefix.len() + digits.len());
    id.push_str(prefix);
    id.extend(digits.iter().map(|&digit| char::from(digit)));
    id
}

/// SplitMix64's step (Steele, Lea and Flood, 2014): a bijection of `u64`.
fn split_mix(value: u64) -> u64 {
    let mut z = value.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// `{"cached_tokens": …}`, the details object of a Chat or Responses usage.
#[derive(serde::Serialize)]
pub(crate) struct CachedTokens {
    cached_tokens: u64,
}

impl CachedTokens {
    pub(crate) fn of(usage: &super::ir::Usage) -> Self {
        Self { cached_tokens: usage.cached }
    }
}

/// `{"reasoning_tokens": …}`, the details object of a Chat or Responses usage.
#[derive(serde::Serialize)]
pub(crate) struct ReasoningTokens {
    reasoning_tokens: u64,
}

impl ReasoningTokens {
    pub(crate) fn of(usage: &super::ir::Usage) -> Self {
        Self { reasoning_tokens: usage.reasoning }
    }
}

/// Seconds since the epoch.
pub(crate) fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

pub(crate) fn base64_encode(input: &[u8]) -> String {
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> shift) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

pub(crate) fn base64_decode(input: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(input.len() / 4 * 3);
    let mut acc = 0_u32;
    let mut bits = 0;
    for byte in input.bytes() {
        if byte == b'=' {
            break;
        }
        let value = ALPHABET.iter().position(|&c| c == byte)? as u32;
        acc = (acc << 6) | value;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_ids_are_24_hex_characters_after_the_prefix_and_never_repeat() {
        let ids: std::collections::HashSet<String> = (0..20_000).map(|_| mint_id("fc_")).collect();
        assert_eq!(ids.len(), 20_000);
        for id in ids.iter().take(100) {
            let hex = id.strip_prefix("fc_").unwrap();
            assert_eq!(hex.len(), 24, "{id}");
            assert!(hex.bytes().all(|byte| byte.is_ascii_digit() || (b'a'..=b'f').contains(&byte)), "{id}");
        }
        // The low half varies too (not only the counter's high word).
        let lows: std::collections::HashSet<&str> = ids.iter().map(|id| &id[id.len() - 8..]).collect();
        assert!(lows.len() > 19_000);
    }

    #[test]
    fn base64_round_trip() {
        for text in ["", "a", "ab", "abc", "abcd", "思考 ✓"] {
            let encoded = base64_encode(text.as_bytes());
            assert_eq!(base64_decode(&encoded).unwrap(), text.as_bytes());
        }
        assert_eq!(base64_encode(b"ab"), "YWI=");
        assert!(mint_id("resp_").starts_with("resp_"));
    }
}
