//! Caches over the store, each kept current by the store's announcements of committed writes
//! ([`Store::changes`], which on PostgreSQL include every other server's writes):
//! [`LayerCache`] (values per layer and key: counts, tiles), [`Snapshots`] (whole layers in
//! memory with an R-tree, read by the retrieval and reporting use cases instead of asking the
//! store per request) and [`Derived`] (answers computed from snapshots).
//!
//! A snapshot is read from the store on first use and dropped when a write to its layer is
//! announced; the next use reads the layer again. One read per layer runs at a time; uses
//! arriving meanwhile wait for it.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Arc;

use gengxin_model::{Feature, LayerId};
use gengxin_store::{Change, Query, Store, StoreError};
use geo::BoundingRect;
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{AABB, RTree};
use tokio::sync::Mutex;
use tokio::sync::broadcast::Receiver;
use tokio::sync::broadcast::error::TryRecvError;

use crate::AppError;

/// Values per layer and key (feature counts, tiles), each kept until a write to its layer is
/// announced. When the values outweigh the budget, all are dropped (they are cheap to remake).
pub struct LayerCache<K, V> {
    inner: std::sync::Mutex<CacheInner<K, V>>,
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
            inner: std::sync::Mutex::new(CacheInner {
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

type Entry = GeomWithData<Rectangle<[f64; 2]>, u32>;

/// One layer's features, in id order, with a spatial index.
pub struct Snapshot {
    pub features: Vec<Feature>,
    index: RTree<Entry>,
}

impl Snapshot {
    pub fn new(features: Vec<Feature>) -> Self {
        let entries = features
            .iter()
            .enumerate()
            .filter_map(|(i, f)| {
                let r = f.geometry.as_ref()?.bounding_rect()?;
                let (a, b) = (r.min(), r.max());
                Some(Entry::new(
                    Rectangle::from_corners([a.x, a.y], [b.x, b.y]),
                    i as u32,
                ))
            })
            .collect();
        Snapshot {
            features,
            index: RTree::bulk_load(entries),
        }
    }

    /// The features whose envelope intersects `rect` (lon/lat), in id order.
    pub fn in_envelope(&self, rect: geo::Rect<f64>) -> Vec<&Feature> {
        let (a, b) = (rect.min(), rect.max());
        let mut hits: Vec<u32> = self
            .index
            .locate_in_envelope_intersecting(&AABB::from_corners([a.x, a.y], [b.x, b.y]))
            .map(|e| e.data)
            .collect();
        hits.sort_unstable();
        hits.into_iter()
            .map(|i| &self.features[i as usize])
            .collect()
    }

    /// Rough memory held, for the cache budget.
    fn weight(&self) -> usize {
        self.features
            .iter()
            .map(|f| {
                let coords = f.geometry.as_ref().map_or(0, geo::CoordsIter::coords_count);
                160 + f.id.len() + coords * 16 + f.properties.len() * 64
            })
            .sum::<usize>()
            + self.index.size() * 48
    }
}

/// The snapshots of every layer asked for so far.
pub struct Snapshots {
    cache: LayerCache<(), Arc<Snapshot>>,
    loading: Mutex<HashMap<LayerId, Arc<Mutex<()>>>>,
}

/// Memory kept for snapshots: `GENGXIN_QUERY_CACHE_MB`, else 2 GiB.
fn budget() -> usize {
    std::env::var("GENGXIN_QUERY_CACHE_MB")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(2048)
        << 20
}

impl Snapshots {
    pub fn new(store: &dyn Store) -> Self {
        Snapshots {
            cache: LayerCache::new(store, budget()),
            loading: Mutex::default(),
        }
    }

    /// The layer as the store holds it now (or as of the last announcement received).
    pub async fn get(&self, store: &dyn Store, layer: LayerId) -> Result<Arc<Snapshot>, AppError> {
        if let (Some(s), _) = self.cache.get(layer, &()) {
            return Ok(s);
        }
        let lock = self.loading.lock().await.entry(layer).or_default().clone();
        let _one_reader = lock.lock().await;
        // Another query may have read it while this one waited.
        let (hit, generation) = self.cache.get(layer, &());
        if let Some(s) = hit {
            return Ok(s);
        }
        let features = store.query(layer, Query::default()).await?;
        let snapshot = tokio::task::spawn_blocking(move || Arc::new(Snapshot::new(features)))
            .await
            .map_err(AppError::internal)?;
        let weight = snapshot.weight();
        self.cache
            .put(layer, (), generation, snapshot.clone(), weight);
        Ok(snapshot)
    }
}

/// Answers computed from snapshots (summaries, project states), each kept while the snapshots
/// it was computed from are still current: a write to any of their layers replaces a snapshot,
/// and the answer is made again.
pub struct Derived<K, V> {
    entries: std::sync::Mutex<HashMap<K, MadeFrom<V>>>,
}

/// An answer and the snapshots it was made from.
type MadeFrom<V> = (Vec<Arc<Snapshot>>, V);

impl<K, V> Default for Derived<K, V> {
    fn default() -> Self {
        Derived {
            entries: std::sync::Mutex::default(),
        }
    }
}

/// At most this many answers are kept; then all are dropped.
const DERIVED: usize = 4096;

impl<K: Eq + std::hash::Hash, V: Clone> Derived<K, V> {
    /// The answer for `key`, if it was made from exactly these snapshots.
    pub fn get(&self, key: &K, from: &[Arc<Snapshot>]) -> Option<V> {
        let g = self.entries.lock().expect("derived lock");
        let (made_from, v) = g.get(key)?;
        (made_from.len() == from.len()
            && made_from.iter().zip(from).all(|(a, b)| Arc::ptr_eq(a, b)))
        .then(|| v.clone())
    }

    pub fn put(&self, key: K, from: &[Arc<Snapshot>], v: V) {
        let mut g = self.entries.lock().expect("derived lock");
        if g.len() >= DERIVED {
            g.clear();
        }
        g.insert(key, (from.to_vec(), v));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use geo::{Rect, coord};

    #[test]
    fn envelope_hits_come_back_in_id_order() {
        let at = Utc::now();
        let f =
            |id: &str, x: f64| Feature::new(id, "test", at).with_geometry(geo::Point::new(x, 30.0));
        let s = Snapshot::new(vec![
            f("a", 114.0),
            f("b", 115.0),
            f("c", 114.5),
            f("d", 120.0),
        ]);
        let hits = s.in_envelope(Rect::new(
            coord! {x: 113.9, y: 29.0},
            coord! {x: 115.1, y: 31.0},
        ));
        let ids: Vec<&str> = hits.iter().map(|f| f.id.as_str()).collect();
        assert_eq!(ids, ["a", "b", "c"]);
    }
}
