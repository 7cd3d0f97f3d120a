//! Keeping clients and caches current: the stream of committed writes (`GET /api/changes`, as
//! server-sent events) and the cache of layer counts, both fed by [`Store::changes`] — which,
//! on PostgreSQL, includes the writes of every other server on the same database.

use std::collections::HashMap;
use std::convert::Infallible;
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
) -> Sse<impl tokio_stream::Stream<Item = Result<Event, Infallible>>> {
    let events = BroadcastStream::new(s.store.changes()).map(|c| {
        // A client too slow to keep up has missed some: tell it so.
        let c = c.unwrap_or(Change::Unknown);
        let data = serde_json::to_string(&ChangeEvent::from(c)).expect("serialisable");
        Ok(Event::default().event("change").data(data))
    });
    Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

/// Feature counts per layer, kept until a write to the layer is announced.
pub struct Counts {
    inner: Mutex<CountsInner>,
}

struct CountsInner {
    changes: Receiver<Change>,
    /// Bumped by every announcement a layer receives; a count read across a bump is not kept.
    generation: HashMap<LayerId, u64>,
    counts: HashMap<LayerId, u64>,
}

impl CountsInner {
    fn forget(&mut self, layer: Option<LayerId>) {
        match layer {
            Some(l) => {
                self.counts.remove(&l);
                *self.generation.entry(l).or_default() += 1;
            }
            None => {
                self.counts.clear();
                for l in gengxin_model::catalogue() {
                    *self.generation.entry(l.id).or_default() += 1;
                }
            }
        }
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

impl Counts {
    pub fn new(store: &dyn Store) -> Counts {
        Counts {
            inner: Mutex::new(CountsInner {
                changes: store.changes(),
                generation: HashMap::new(),
                counts: HashMap::new(),
            }),
        }
    }

    pub async fn get(&self, store: &dyn Store, layer: LayerId) -> Result<u64, StoreError> {
        let generation = {
            let mut g = self.inner.lock().expect("counts lock");
            g.catch_up();
            if let Some(n) = g.counts.get(&layer) {
                return Ok(*n);
            }
            g.generation.get(&layer).copied().unwrap_or_default()
        };
        let n = store.count(layer).await?;
        let mut g = self.inner.lock().expect("counts lock");
        g.catch_up();
        if g.generation.get(&layer).copied().unwrap_or_default() == generation {
            g.counts.insert(layer, n);
        }
        Ok(n)
    }
}
