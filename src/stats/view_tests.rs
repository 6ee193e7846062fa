//! Whole-output tests of the terminal page for fixed data, colour off.

use super::*;
use crate::stats::aggregate::Aggregator;
use crate::stats::query::Record;
use pretty_assertions::assert_eq;

const DAY: i64 = 86_400_000;
/// 2026-11-28T00:00:00Z.
const START: i64 = 1_795_824_000_000;

fn summary() -> Summary {
    let base = Record {
        status: Some(200),
        attempts: Some(1),
        client: Some("codex"),
        session_id: Some("s-1"),
        ..Record::default()
    };
    let rows = [
        // day, provider, model, in, out, cost, duration, ttft
        (0, "deepseek", "deepseek-chat", 12_000, 800, Some(0.0042), 900, Some(300)),
        (0, "deepseek", "deepseek-chat", 30_000, 1_500, Some(0.0091), 1_400, Some(420)),
        (0, "anthropic", "claude-sonnet-4-5", 20_000, 2_000, Some(0.09), 4_200, Some(1_100)),
        (2, "anthropic", "claude-sonnet-4-5", 45_000, 3_000, Some(0.18), 6_800, Some(1_500)),
        (2, "openrouter", "evil\u{1b}[2Jmodel", 1_000, 100, None, 700, None),
        (3, "deepseek", "deepseek-reasoner", 8_000, 4_000, Some(0.004), 12_000, Some(2_000)),
    ];
    let mut aggregator = Aggregator::new(jiff::tz::TimeZone::UTC);
    for (index, (day, provider, model, input, output, cost, duration, ttft)) in rows.into_iter().enumerate() {
        aggregator.add(&Record {
            id: index as i64 + 1,
            ts_ms: START + day * DAY + index as i64 * 60_000,
            provider: Some(provider),
            model: Some(model),
            input_tokens: Some(input),
            output_tokens: Some(output),
            cost_usd: cost,
            duration_ms: Some(duration),
            ttft_ms: ttft,
            ..base
        });
    }
    aggregator.add(&Record {
        id: 7,
        ts_ms: START + 3 * DAY,
        provider: Some("deepseek"),
        model: Some("deepseek-chat"),
        status: Some(429),
        error_class: Some("http_429"),
        duration_ms: Some(80),
        attempts: Some(1),
        ..base
    });
    aggregator.add(&Record {
        id: 8,
        ts_ms: START + 3 * DAY + 1,
        provider: Some("anthropic"),
        model: Some("claude-sonnet-4-5"),
        input_tokens: Some(5_000),
        output_tokens: Some(500),
        cost_usd: Some(0.0225),
        duration_ms: Some(3_000),
        ttft_ms: Some(900),
        attempts: Some(2),
        ..base
    });
    aggregator.finish()
}

#[test]
fn stats_page_at_80_columns() {
    let page = stats_page(&summary(), GroupBy::Provider, 80, false, true);
    assert_eq!(page, EXPECTED_80);
}

#[test]
fn stats_page_at_120_columns() {
    let page = stats_page(&summary(), GroupBy::Model, 120, false, true);
    assert_eq!(page, EXPECTED_120);
}

#[test]
fn piped_page_is_the_table_alone() {
    let page = stats_page(&summary(), GroupBy::Client, 80, false, false);
    assert_eq!(
        page,
        "CLIENT  REQUESTS  ERRORS  IN      OUT    CACHED  COST     P50
codex   8         1       121000  11900  0       $0.3098  1400ms
total   8         1       121000  11900  0       $0.3098  1400ms
"
    );
}

#[test]
fn follow_lines_escape_client_strings() {
    let entry = LogEntry {
        id: 1,
        time: "2026-11-28 10:00:00".into(),
        ts_ms: START,
        request_id: None,
        session_id: None,
        client: Some("codex".into()),
        api: None,
        provider: Some("deepseek".into()),
        model_requested: Some("gpt-5".into()),
        model_sent: Some("deep\nseek\u{1b}".into()),
        status: Some(200),
        stream: Some(true),
        ttfb_ms: Some(100),
        ttft_ms: Some(420),
        duration_ms: Some(1_400),
        input_tokens: Some(30_000),
        output_tokens: Some(1_500),
        cached_tokens: None,
        cost_usd: Some(0.0091),
        error_class: None,
        attempts: Some(2),
    };
    assert_eq!(
        follow_line(&entry),
        "2026-11-28 10:00:00  codex     deepseek      gpt-5→deep\\u{a}seek\\u{1b}     200   ttft 420ms  30.0k/1.5k tok   $0.0091  2 attempts"
    );
}

const EXPECTED_80: &str = r"Cost and tokens per day
            cost                                tokens (in + out)
2026-11-28  ██████████████▉            $0.1033  ██████████████████████████ 66.3k
2026-11-29                                   -                                 0
2026-11-30  ██████████████████████████ $0.1800  ███████████████████▎       49.1k
2026-12-01  ███▉                       $0.0265  ██████▉                    17.5k

Cost and tokens per provider
            cost                                tokens (in + out)
anthropic   ██████████████████████████ $0.2925  ██████████████████████████ 75.5k
deepseek    █▌                         $0.0173  ███████████████████▍       56.3k
openrouter                                   -  ▍                           1.1k

Cost and tokens per model
                    cost                            tokens (in + out)
claude-sonnet-4-5   ██████████████████████ $0.2925  ██████████████████████ 75.5k
deepseek-chat       █                      $0.0133  ████████████▉          44.3k
deepseek-reasoner   ▎                      $0.0040  ███▌                   12.0k
evil\u{1b}[2Jmodel                               -  ▍                       1.1k

Requests and error rate per provider
            requests (░ errors)
deepseek    ██████████████████████████████████████▎░░░░░░░░░░░░ 4 req  25.0% err
anthropic   ██████████████████████████████████████▎              3 req  0.0% err
openrouter  ████████████▊                                        1 req  0.0% err

Latency per provider
            duration (p50 █░ p95)              first token (p50 █░ p95)
anthropic   ██████▋░░░░           4.2s / 6.8s  ██████████▌░░░       1.1s / 1.5s
deepseek    █▍░░░░░░░░░░░░░░░░░ 900ms / 12.0s  ████░░░░░░░░░░░░░░░ 420ms / 2.0s
openrouter  █▏                  700ms / 700ms                                 -

Error classes
          requests
http_429  ████████████████████████████████████████████████████████████████████ 1

Failovers by the provider that answered last
           requests (░ errors)
anthropic  ██████████████████████████████████████████████████ 1 served  0 failed

PROVIDER    REQUESTS  ERRORS  IN      OUT    CACHED  COST     P50
anthropic   3         0       70000   5500   0       $0.2925  4200ms
deepseek    4         1       50000   6300   0       $0.0173  900ms
openrouter  1         0       1000    100    0       -        700ms
total       8         1       121000  11900  0       $0.3098  1400ms
";
const EXPECTED_120: &str = r"Cost and tokens per day
            cost                                                    tokens (in + out)
2026-11-28  ██████████████████████████▍                    $0.1033  ██████████████████████████████████████████████ 66.3k
2026-11-29                                                       -                                                     0
2026-11-30  ██████████████████████████████████████████████ $0.1800  ██████████████████████████████████▏            49.1k
2026-12-01  ██████▊                                        $0.0265  ████████████▏                                  17.5k

Cost and tokens per provider
            cost                                                    tokens (in + out)
anthropic   ██████████████████████████████████████████████ $0.2925  ██████████████████████████████████████████████ 75.5k
deepseek    ██▊                                            $0.0173  ██████████████████████████████████▎            56.3k
openrouter                                                       -  ▋                                               1.1k

Cost and tokens per model
                    cost                                                tokens (in + out)
claude-sonnet-4-5   ██████████████████████████████████████████ $0.2925  ██████████████████████████████████████████ 75.5k
deepseek-chat       █▉                                         $0.0133  ████████████████████████▋                  44.3k
deepseek-reasoner   ▋                                          $0.0040  ██████▋                                    12.0k
evil\u{1b}[2Jmodel                                                   -  ▋                                           1.1k

Requests and error rate per provider
            requests (░ errors)
deepseek    ████████████████████████████████████████████████████████████████████▎░░░░░░░░░░░░░░░░░░░░░░ 4 req  25.0% err
anthropic   ████████████████████████████████████████████████████████████████████▎                        3 req  0.0% err
openrouter  ██████████████████████▊                                                                      1 req  0.0% err

Latency per provider
            duration (p50 █░ p95)                                  first token (p50 █░ p95)
anthropic   █████████████▋░░░░░░░░                    4.2s / 6.8s  █████████████████████▌░░░░░░░            1.1s / 1.5s
deepseek    ██▉░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░ 900ms / 12.0s  ████████▎░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░ 420ms / 2.0s
openrouter  ██▎                                     700ms / 700ms                                                     -

Error classes
          requests
http_429  ████████████████████████████████████████████████████████████████████████████████████████████████████████████ 1

Failovers by the provider that answered last
           requests (░ errors)
anthropic  ██████████████████████████████████████████████████████████████████████████████████████████ 1 served  0 failed

MODEL               REQUESTS  ERRORS  IN      OUT    CACHED  COST     P50
claude-sonnet-4-5   3         0       70000   5500   0       $0.2925  4200ms
deepseek-chat       3         1       42000   2300   0       $0.0133  900ms
deepseek-reasoner   1         0       8000    4000   0       $0.0040  12000ms
evil\u{1b}[2Jmodel  1         0       1000    100    0       -        700ms
total               8         1       121000  11900  0       $0.3098  1400ms
";
