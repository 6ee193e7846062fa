//! The response cache behind Responses `previous_response_id`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use super::ir::Message;

/// A bounded LRU of Responses turns: response id → the conversation up to and including that
/// response's output. Cheap to clone (shared); `Send + Sync`.
#[derive(Debug, Clone)]
pub struct ResponseCache {
    inner: Arc<Mutex<CacheInner>>,
}

#[derive(Debug)]
struct CacheInner {
    entries: HashMap<String, CacheEntry>,
    tick: u64,
    bytes: usize,
    max_entries: usize,
    max_bytes: usize,
}

#[derive(Debug)]
struct CacheEntry {
    history: Arc<Vec<Message>>,
    output: Message,
    bytes: usize,
    used: u64,
}

impl Default for ResponseCache {
    fn default() -> Self {
        Self::new()
    }
}

impl ResponseCache {
    /// 256 turns or 32 MiB, whichever is reached first.
    pub fn new() -> Self {
        Self::with_limits(256, 32 << 20)
    }

    pub fn with_limits(max_entries: usize, max_bytes: usize) -> Self {
        let inner = CacheInner { entries: HashMap::new(), tick: 0, bytes: 0, max_entries, max_bytes };
        Self { inner: Arc::new(Mutex::new(inner)) }
    }

    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, CacheInner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn put(&self, id: &str, history: Arc<Vec<Message>>, output: Message) {
        let bytes = history.iter().map(Message::weight).sum::<usize>() + output.weight() + id.len();
        let mut inner = self.lock();
        if bytes > inner.max_bytes {
            return;
        }
        inner.tick += 1;
        let used = inner.tick;
        if let Some(old) = inner.entries.insert(id.to_string(), CacheEntry { history, output, bytes, used }) {
            inner.bytes -= old.bytes;
        }
        inner.bytes += bytes;
        while inner.entries.len() > inner.max_entries || inner.bytes > inner.max_bytes {
            let Some(oldest) =
                inner.entries.iter().min_by_key(|(_, entry)| entry.used).map(|(key, _)| key.clone())
            else {
                break;
            };
            if let Some(entry) = inner.entries.remove(&oldest) {
                inner.bytes -= entry.bytes;
            }
        }
    }

    pub(crate) fn get(&self, id: &str) -> Option<Vec<Message>> {
        let mut inner = self.lock();
        inner.tick += 1;
        let tick = inner.tick;
        let entry = inner.entries.get_mut(id)?;
        entry.used = tick;
        let mut messages: Vec<Message> = entry.history.as_ref().clone();
        messages.push(entry.output.clone());
        Some(messages)
    }
}
