//! Keeping clients and caches current: the stream of committed writes (`GET /api/changes`, as
//! server-sent events) and the cache of layer counts, both fed by [`Store::changes`] — which,
//! on PostgreSQL, includes the writes of every other server on the same database.

use std::collections::HashMap;
use std::convert::Infallible;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use gengxin_model::{Layer, LayerId};
use gengxin_store::{Change, Store, StoreError};
use serde::Serialize;
use tokio::sync::broadcast::Receiver;
use tokio::sync::broadcast::error::TryRecvError;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::BroadcastStream;
use utoipa::ToSchema;

use crate::AppState;

/// One announced write.
#[derive(Serialize, ToSchema)]
pub struct ChangeEvent {
    /// The layer written, or null when changes may have been missed (drop every cache).
    layer: Option<&'static str>,
    /// Ids written; empty when there were too many to list (the whole layer may have changed).
    ids: Vec<String>,
}

impl From<Change> for ChangeEvent {
    fn from(c: Change) -> Self {
        match c {
            Change::Features { layer, ids } => ChangeEvent {
                layer: Some(Layer::by_id(layer).name),
                ids,
            },
            Change::Unknown => ChangeEvent {
                layer: None,
                ids: vec![],
            },
        }
    }
}

/// Committed writes as they happen, as server-sent events named `change` with a
/// [`ChangeEvent`] as data.
#[utoipa::path(get, path = "/api/changes", responses(
    (status = 200, description = "Server-sent events", content_type = "text/event-stream", body = ChangeEvent),
))]
pub async fn stream(
    State(s): State<AppState>,
    who: crate::who::Who,
) -> Sse<impl tokio_stream::Stream<Item = Result<Event, Infallible>>> {
    let events = BroadcastStream::new(s.store.changes()).filter_map(move |c| {
        // A client too slow to keep up has missed some: tell it so.
        let c = match c.unwrap_or(Change::Unknown) {
            // Only layers the caller may read, and ids only where it sees every row.
            Change::Features { layer, ids } => {
                let l = gengxin_model::Layer::by_id(layer);
                gengxin_auth::policy::can_read_layer(&who.caller, l).ok()?;
                let all = l.access == gengxin_model::Access::Public
                    || who.caller.as_ref().is_some_and(|p| p.role.citywide());
                Change::Features {
                    layer,
                    ids: if all { ids } else { Vec::new() },
                }
            }
            Change::Unknown => Change::Unknown,
        };
        let data = serde_json::to_string(&ChangeEvent::from(c)).expect("serialisable");
        Some(Ok(Event::default().event("change").data(data)))
    });
    Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

/// Values per layer and key (feature counts, tiles), each kept until a write to its layer is
/// announced. When the values outweigh the budget, all are dropped (they are cheap to remake).
pub struct LayerCache<K, V> {
    inner: Mutex<CacheInner<K, V>>,
    budget: usize,
}

struct CacheInner<K, V> {
    changes: Receiver<Change>,
    /// Bumped by every announcement a layer receives; a value made across a bump is not kept.
    generation: HashMap<LayerId, u64>,
    entries: HashMap<(LayerId, K), (V, usize)>,
    weight: usize,
}

impl<K, V> CacheInner<K, V> {
    fn forget(&mut self, layer: Option<LayerId>) {
        match layer {
            Some(l) => {
                self.entries.retain(|(el, _), _| *el != l);
                *self.generation.entry(l).or_default() += 1;
            }
            None => {
                self.entries.clear();
                for l in gengxin_model::catalogue() {
                    *self.generation.entry(l.id).or_default() += 1;
                }
            }
        }
        self.weight = self.entries.values().map(|(_, w)| w).sum();
    }

    /// Applies every announcement received so far.
    fn catch_up(&mut self) {
        loop {
            match self.changes.try_recv() {
                Ok(Change::Features { layer, .. }) => self.forget(Some(layer)),
                Ok(Change::Unknown) | Err(TryRecvError::Lagged(_)) => self.forget(None),
                Err(TryRecvError::Empty) | Err(TryRecvError::Closed) => return,
            }
        }
    }
}

impl<K: Eq + Hash, V: Clone> LayerCache<K, V> {
    /// An empty cache following the store's announcements, holding at most `budget` of weight.
    pub fn new(store: &dyn Store, budget: usize) -> Self {
        LayerCache {
            inner: Mutex::new(CacheInner {
                changes: store.changes(),
                generation: HashMap::new(),
                entries: HashMap::new(),
                weight: 0,
            }),
            budget,
        }
    }

    /// The cached value, if any, and the layer's generation to [`put`](Self::put) a new one
    /// under.
    pub fn get(&self, layer: LayerId, key: &K) -> (Option<V>, u64)
    where
        K: Clone,
    {
        let mut g = self.inner.lock().expect("cache lock");
        g.catch_up();
        let hit = g.entries.get(&(layer, key.clone())).map(|(v, _)| v.clone());
        (hit, g.generation.get(&layer).copied().unwrap_or_default())
    }

    /// Keeps a value made from the store at `generation`, unless a write has been announced
    /// since.
    pub fn put(&self, layer: LayerId, key: K, generation: u64, value: V, weight: usize) {
        let mut g = self.inner.lock().expect("cache lock");
        g.catch_up();
        if g.generation.get(&layer).copied().unwrap_or_default() != generation
            || weight > self.budget
        {
            return;
        }
        if g.weight + weight > self.budget {
            g.entries.clear();
            g.weight = 0;
        }
        g.weight += weight;
        if let Some((_, old)) = g.entries.insert((layer, key), (value, weight)) {
            g.weight -= old;
        }
    }
}

/// Feature counts per layer.
pub type Counts = LayerCache<(), u64>;

impl Counts {
    pub async fn count(&self, store: &dyn Store, layer: LayerId) -> Result<u64, StoreError> {
        let (hit, generation) = self.get(layer, &());
        if let Some(n) = hit {
            return Ok(n);
        }
        let n = store.count(layer).await?;
        self.put(layer, (), generation, n, 1);
        Ok(n)
    }
}
