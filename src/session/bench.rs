//! `aigate internal proxy-bench-serve`: the proxy alone with one pass-through provider,
//! for `bench/proxy_bench.sh`. The same bootstrap as `serve`; no state file, no records of
//! the gateway.

use std::path::Path;
use std::time::Duration;

use crate::error::Result;
use crate::output::Printer;
use crate::paths::Paths;
use crate::providers::{ChainEntry, Provider};

/// Serve `provider` on `127.0.0.1:port` until SIGINT, SIGTERM or SIGHUP; the token goes to
/// `token_file` (0600).
pub fn serve(out: &Printer, paths: &Paths, provider: Provider, port: u16, token_file: &Path) -> Result<u8> {
    let token = crate::random::hex(24)?;
    crate::fsx::write_atomic(token_file, token.as_bytes(), 0o600)?;
    let mut config = crate::proxy::ProxyConfig::new(
        token,
        vec![ChainEntry::Provider(provider)],
        paths.aigate_home.clone(),
    );
    config.listen = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    super::runtime(None)?.block_on(async {
        let stop = super::StopSignals::new()?;
        let handle = crate::proxy::start(config).await?;
        out.info(&format!("aigate proxy-bench-serve listening on {}", handle.base_url()));
        stop.wait().await;
        handle.shutdown(Duration::from_secs(2)).await;
        Ok(0)
    })
}
