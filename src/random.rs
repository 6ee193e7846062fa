//! Randomness from the OS: tokens, session ids, instance ids.

use crate::error::{Error, Result};

/// `n` random bytes from the OS, hex-encoded.
pub fn hex(n: usize) -> Result<String> {
    let mut bytes = vec![0_u8; n];
    getrandom::fill(&mut bytes)
        .map_err(|error| Error::internal("The OS random source failed").cause(error))?;
    Ok(hex::encode(bytes))
}
