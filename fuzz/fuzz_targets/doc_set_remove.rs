//! Arbitrary bytes that parse as a document survive an unedited round trip, a `set`
//! whose output parses again and holds the value, and a `remove` that gives back the
//! input byte for byte. The first byte picks the format (TOML, strict JSON, JSONC).

#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../check.rs"]
mod check;

fuzz_target!(|data: &[u8]| check::check_fuzz_input(data));
