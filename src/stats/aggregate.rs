//! One pass over usage rows into everything the views show: groups by day, provider, model
//! and client, latency and time-to-first-token percentiles, the most expensive sessions,
//! failover events and error classes.
//!
//! Pure: rows in ([`Aggregator::add`]), a [`Summary`] out ([`Aggregator::finish`]). It keeps
//! one `u32` per request per dimension for the percentiles and nothing else per row, so a
//! million rows cost a few tens of MB, not a copy of the table.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use super::GroupBy;
use super::query::Record;

/// How many sessions and failover events a [`Summary`] keeps (the most expensive, the newest).
pub const TOP_SESSIONS: usize = 50;
pub const LAST_FAILOVERS: usize = 100;

/// One group of `aigate stats` (the `groups` of its JSON; keep the fields' meaning).
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct StatsGroup {
    pub key: String,
    pub requests: u64,
    pub errors: u64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cached_tokens: i64,
    /// `null` when no request of the group had a known price.
    pub cost_usd: Option<f64>,
    /// Median request duration.
    pub p50_ms: Option<i64>,
}

/// A provider with its latency spread.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct ProviderStats {
    pub key: String,
    pub requests: u64,
    pub errors: u64,
    /// errors / requests, 0..1.
    pub error_rate: f64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cached_tokens: i64,
    pub cost_usd: Option<f64>,
    pub p50_ms: Option<i64>,
    pub p95_ms: Option<i64>,
    pub ttft_p50_ms: Option<i64>,
    pub ttft_p95_ms: Option<i64>,
}

/// A session (the agent's or `run`'s session id) and what it cost.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Session {
    pub session_id: String,
    pub client: Option<String>,
    pub providers: Vec<String>,
    pub requests: u64,
    pub errors: u64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cost_usd: Option<f64>,
    pub first_ms: i64,
    pub last_ms: i64,
}

/// A request that needed more than one provider. The proxy records how many attempts were
/// made and which provider answered (or failed last), not which ones failed before it.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Failover {
    pub id: i64,
    pub ts_ms: i64,
    pub client: Option<String>,
    pub model: Option<String>,
    /// The provider that took over (or, when every one failed, the last one tried).
    pub provider: Option<String>,
    pub attempts: i64,
    /// Whether the request was served in the end.
    pub recovered: bool,
    pub status: Option<i64>,
    pub error_class: Option<String>,
}

/// An error class and who produced it.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct ErrorClass {
    pub class: String,
    pub requests: u64,
    /// Per provider (`-` when none was recorded), most first.
    pub providers: Vec<(String, u64)>,
}

/// Everything the views show, for one filter.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Summary {
    pub total: StatsGroup,
    /// Local days, oldest first.
    pub days: Vec<StatsGroup>,
    /// By name.
    pub providers: Vec<ProviderStats>,
    /// By name.
    pub models: Vec<StatsGroup>,
    /// By name.
    pub clients: Vec<StatsGroup>,
    /// The most expensive first (then the most tokens), at most [`TOP_SESSIONS`].
    pub sessions: Vec<Session>,
    /// How many requests failed over in all.
    pub failover_count: u64,
    /// Newest first, at most [`LAST_FAILOVERS`].
    pub failovers: Vec<Failover>,
    /// Most first.
    pub error_classes: Vec<ErrorClass>,
}

impl Summary {
    /// The groups `--by` asks for, sorted by key.
    pub fn groups(&self, by: GroupBy) -> Vec<StatsGroup> {
        match by {
            GroupBy::Provider => self.providers.iter().map(ProviderStats::as_group).collect(),
            GroupBy::Model => self.models.clone(),
            GroupBy::Client => self.clients.clone(),
            GroupBy::Day => self.days.clone(),
        }
    }
}

impl ProviderStats {
    fn as_group(&self) -> StatsGroup {
        StatsGroup {
            key: self.key.clone(),
            requests: self.requests,
            errors: self.errors,
            input_tokens: self.input_tokens,
            output_tokens: self.output_tokens,
            cached_tokens: self.cached_tokens,
            cost_usd: self.cost_usd,
            p50_ms: self.p50_ms,
        }
    }
}

/// Sums and samples for one group.
#[derive(Debug, Default)]
struct Acc {
    requests: u64,
    errors: u64,
    input: i64,
    output: i64,
    cached: i64,
    cost: Option<f64>,
    durations: Vec<u32>,
    ttfts: Vec<u32>,
}

#[derive(Debug, Default)]
struct SessionAcc {
    client: Option<String>,
    providers: Vec<String>,
    requests: u64,
    errors: u64,
    input: i64,
    output: i64,
    cost: Option<f64>,
    first_ms: i64,
    last_ms: i64,
}

/// Gathers rows; [`Aggregator::finish`] turns them into a [`Summary`].
#[derive(Debug)]
pub struct Aggregator {
    zone: jiff::tz::TimeZone,
    total: Acc,
    days: BTreeMap<i64, Acc>,
    providers: HashMap<String, Acc>,
    models: HashMap<String, Acc>,
    clients: HashMap<String, Acc>,
    sessions: HashMap<String, SessionAcc>,
    failover_count: u64,
    failovers: Vec<Failover>,
    error_classes: HashMap<String, HashMap<String, u64>>,
}

impl Aggregator {
    /// Days are cut at midnight in `zone`.
    pub fn new(zone: jiff::tz::TimeZone) -> Self {
        Self {
            zone,
            total: Acc::default(),
            days: BTreeMap::new(),
            providers: HashMap::new(),
            models: HashMap::new(),
            clients: HashMap::new(),
            sessions: HashMap::new(),
            failover_count: 0,
            failovers: Vec::new(),
            error_classes: HashMap::new(),
        }
    }

    pub fn add(&mut self, record: &Record<'_>) {
        let is_error = record.status.is_some_and(|status| status >= 400) || record.error_class.is_some();
        self.total.add(record, is_error);
        self.days.entry(self.day_of(record.ts_ms)).or_default().add(record, is_error);
        for (map, key) in [
            (&mut self.providers, record.provider),
            (&mut self.models, record.model),
            (&mut self.clients, record.client),
        ] {
            keyed(map, key.unwrap_or("-")).add(record, is_error);
        }
        if let Some(session_id) = record.session_id {
            self.add_session(session_id, record, is_error);
        }
        let attempts = record.attempts.unwrap_or(1);
        if attempts > 1 {
            self.failover_count += 1;
            self.failovers.push(Failover {
                id: record.id,
                ts_ms: record.ts_ms,
                client: record.client.map(str::to_string),
                model: record.model.map(str::to_string),
                provider: record.provider.map(str::to_string),
                attempts,
                recovered: !is_error,
                status: record.status,
                error_class: record.error_class.map(str::to_string),
            });
            // Keep memory bounded on a long window: trim to the newest now and then.
            if self.failovers.len() >= LAST_FAILOVERS * 4 {
                newest_failovers(&mut self.failovers);
            }
        }
        if is_error {
            let class = match (record.error_class, record.status) {
                (Some(class), _) => class.to_string(),
                (None, Some(status)) => format!("http_{status}"),
                (None, None) => "unknown".to_string(),
            };
            let by_provider = self.error_classes.entry(class).or_default();
            *keyed(by_provider, record.provider.unwrap_or("-")) += 1;
        }
    }

    pub fn finish(mut self) -> Summary {
        let total = self.total.group("total".to_string());
        let days =
            std::mem::take(&mut self.days).into_iter().map(|(day, acc)| acc.group(day_name(day))).collect();
        let mut providers: Vec<ProviderStats> =
            self.providers.into_iter().map(|(key, acc)| acc.provider(key)).collect();
        providers.sort_by(|left, right| left.key.cmp(&right.key));
        let sorted_groups = |map: HashMap<String, Acc>| {
            let mut groups: Vec<StatsGroup> = map.into_iter().map(|(key, acc)| acc.group(key)).collect();
            groups.sort_by(|left, right| left.key.cmp(&right.key));
            groups
        };
        let models = sorted_groups(self.models);
        let clients = sorted_groups(self.clients);
        let mut sessions: Vec<Session> = self
            .sessions
            .into_iter()
            .map(|(session_id, acc)| Session {
                session_id,
                client: acc.client,
                providers: acc.providers,
                requests: acc.requests,
                errors: acc.errors,
                input_tokens: acc.input,
                output_tokens: acc.output,
                cost_usd: acc.cost,
                first_ms: acc.first_ms,
                last_ms: acc.last_ms,
            })
            .collect();
        sessions.sort_by(|left, right| {
            right
                .cost_usd
                .unwrap_or(0.0)
                .total_cmp(&left.cost_usd.unwrap_or(0.0))
                .then(
                    (right.input_tokens + right.output_tokens).cmp(&(left.input_tokens + left.output_tokens)),
                )
                .then(left.session_id.cmp(&right.session_id))
        });
        sessions.truncate(TOP_SESSIONS);
        newest_failovers(&mut self.failovers);
        let mut error_classes: Vec<ErrorClass> = self
            .error_classes
            .into_iter()
            .map(|(class, by_provider)| {
                let mut providers: Vec<(String, u64)> = by_provider.into_iter().collect();
                providers.sort_by(|left, right| right.1.cmp(&left.1).then(left.0.cmp(&right.0)));
                ErrorClass { class, requests: providers.iter().map(|(_, count)| count).sum(), providers }
            })
            .collect();
        error_classes
            .sort_by(|left, right| right.requests.cmp(&left.requests).then(left.class.cmp(&right.class)));
        Summary {
            total,
            days,
            providers,
            models,
            clients,
            sessions,
            failover_count: self.failover_count,
            failovers: self.failovers,
            error_classes,
        }
    }

    fn day_of(&self, ts_ms: i64) -> i64 {
        let seconds = ts_ms.div_euclid(1_000);
        let offset = jiff::Timestamp::from_second(seconds)
            .map_or(0, |timestamp| i64::from(self.zone.to_offset(timestamp).seconds()));
        (seconds + offset).div_euclid(86_400)
    }

    fn add_session(&mut self, session_id: &str, record: &Record<'_>, is_error: bool) {
        let session = keyed(&mut self.sessions, session_id);
        if session.requests == 0 {
            session.first_ms = record.ts_ms;
            session.last_ms = record.ts_ms;
        }
        session.requests += 1;
        session.errors += u64::from(is_error);
        session.input += record.input_tokens.unwrap_or(0);
        session.output += record.output_tokens.unwrap_or(0);
        if let Some(cost) = record.cost_usd {
            session.cost = Some(session.cost.unwrap_or(0.0) + cost);
        }
        session.first_ms = session.first_ms.min(record.ts_ms);
        session.last_ms = session.last_ms.max(record.ts_ms);
        if session.client.is_none() {
            session.client = record.client.map(str::to_string);
        }
        if let Some(provider) = record.provider {
            if !session.providers.iter().any(|known| known == provider) {
                session.providers.push(provider.to_string());
                session.providers.sort();
            }
        }
    }
}

impl Acc {
    fn add(&mut self, record: &Record<'_>, is_error: bool) {
        self.requests += 1;
        self.errors += u64::from(is_error);
        self.input += record.input_tokens.unwrap_or(0);
        self.output += record.output_tokens.unwrap_or(0);
        self.cached += record.cached_tokens.unwrap_or(0);
        if let Some(cost) = record.cost_usd {
            self.cost = Some(self.cost.unwrap_or(0.0) + cost);
        }
        if let Some(duration) = record.duration_ms {
            self.durations.push(clamp_u32(duration));
        }
        if let Some(ttft) = record.ttft_ms {
            self.ttfts.push(clamp_u32(ttft));
        }
    }

    fn group(mut self, key: String) -> StatsGroup {
        StatsGroup {
            key,
            requests: self.requests,
            errors: self.errors,
            input_tokens: self.input,
            output_tokens: self.output,
            cached_tokens: self.cached,
            cost_usd: self.cost,
            p50_ms: percentile(&mut self.durations, 50),
        }
    }

    fn provider(mut self, key: String) -> ProviderStats {
        ProviderStats {
            key,
            requests: self.requests,
            errors: self.errors,
            error_rate: if self.requests == 0 { 0.0 } else { self.errors as f64 / self.requests as f64 },
            input_tokens: self.input,
            output_tokens: self.output,
            cached_tokens: self.cached,
            cost_usd: self.cost,
            p50_ms: percentile(&mut self.durations, 50),
            p95_ms: percentile(&mut self.durations, 95),
            ttft_p50_ms: percentile(&mut self.ttfts, 50),
            ttft_p95_ms: percentile(&mut self.ttfts, 95),
        }
    }
}

/// The nearest-rank percentile (`p` in 1..=100): the smallest sample with at least p% of
/// the samples at or below it. For p = 50 with an even count that is the lower middle.
pub fn percentile(samples: &mut [u32], p: usize) -> Option<i64> {
    if samples.is_empty() {
        return None;
    }
    let rank = (samples.len() * p).div_ceil(100).max(1);
    let (_, value, _) = samples.select_nth_unstable(rank - 1);
    Some(i64::from(*value))
}

fn keyed<'map, V: Default>(map: &'map mut HashMap<String, V>, key: &str) -> &'map mut V {
    // Look up by &str first: the common case (a known key) allocates nothing.
    if !map.contains_key(key) {
        map.insert(key.to_string(), V::default());
    }
    map.get_mut(key).unwrap_or_else(|| unreachable!("inserted above"))
}

fn newest_failovers(failovers: &mut Vec<Failover>) {
    failovers.sort_by(|left, right| right.ts_ms.cmp(&left.ts_ms).then(right.id.cmp(&left.id)));
    failovers.truncate(LAST_FAILOVERS);
}

fn clamp_u32(value: i64) -> u32 {
    u32::try_from(value.max(0)).unwrap_or(u32::MAX)
}

/// Days since the epoch → `YYYY-MM-DD`.
pub fn day_name(day: i64) -> String {
    jiff::Timestamp::from_second(day * 86_400).map_or_else(
        |_| day.to_string(),
        |timestamp| timestamp.to_zoned(jiff::tz::TimeZone::UTC).strftime("%Y-%m-%d").to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    fn record(id: i64, provider: &'static str, duration: i64) -> Record<'static> {
        Record {
            id,
            ts_ms: 86_400_000 * 3 + id,
            provider: Some(provider),
            model: Some("m"),
            status: Some(200),
            duration_ms: Some(duration),
            ttft_ms: Some(duration / 2),
            input_tokens: Some(10),
            output_tokens: Some(1),
            cost_usd: Some(0.5),
            attempts: Some(1),
            ..Record::default()
        }
    }

    #[test]
    fn percentiles_by_nearest_rank() {
        let mut samples: Vec<u32> = (1..=100).rev().collect();
        assert_eq!(percentile(&mut samples, 50), Some(50));
        assert_eq!(percentile(&mut samples, 95), Some(95));
        assert_eq!(percentile(&mut [800, 1200], 50), Some(800));
        assert_eq!(percentile(&mut [7], 95), Some(7));
        assert_eq!(percentile(&mut [], 50), None);
    }

    #[test]
    fn groups_sessions_failovers_and_errors() {
        let mut aggregator = Aggregator::new(jiff::tz::TimeZone::UTC);
        aggregator.add(&Record { session_id: Some("s1"), ..record(1, "a", 100) });
        aggregator.add(&Record { session_id: Some("s1"), attempts: Some(2), ..record(2, "b", 300) });
        aggregator.add(&Record {
            session_id: Some("s2"),
            status: Some(502),
            error_class: Some("exhausted"),
            cost_usd: None,
            attempts: Some(2),
            ..record(3, "b", 50)
        });
        let summary = aggregator.finish();
        assert_eq!(summary.total.requests, 3);
        assert_eq!(summary.total.errors, 1);
        assert_eq!(summary.days.len(), 1);
        assert_eq!(summary.days[0].key, "1970-01-04");
        assert_eq!(
            summary.providers.iter().map(|p| (p.key.as_str(), p.requests, p.p95_ms)).collect::<Vec<_>>(),
            [("a", 1, Some(100)), ("b", 2, Some(300))]
        );
        assert_eq!(summary.sessions[0].session_id, "s1");
        assert_eq!(summary.sessions[0].providers, ["a", "b"]);
        assert_eq!(summary.sessions[0].cost_usd, Some(1.0));
        assert_eq!(summary.failover_count, 2);
        assert_eq!(
            summary.failovers.iter().map(|f| (f.id, f.recovered)).collect::<Vec<_>>(),
            [(3, false), (2, true)]
        );
        assert_eq!(
            summary.error_classes,
            [ErrorClass { class: "exhausted".into(), requests: 1, providers: vec![("b".into(), 1)] }]
        );
        assert_eq!(summary.groups(GroupBy::Provider)[1].p50_ms, Some(50));
    }
}
