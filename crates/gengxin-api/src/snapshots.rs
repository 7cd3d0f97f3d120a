//! Whole layers held in memory for the retrieval module: conditional (CQL2) and spatial queries,
//! the point query and the one-click summaries all read a layer's [`Snapshot`] — its features
//! in id order and an R-tree over their envelopes — instead of asking the store per request.
//!
//! A snapshot is read from the store on first use and dropped when a write to its layer is
//! announced (also another server's, on PostgreSQL); the next query reads the layer again. One
//! read per layer runs at a time; queries arriving meanwhile wait for it.

use std::collections::HashMap;
use std::sync::Arc;

use gengxin_model::{Feature, LayerId};
use gengxin_store::{Query, Store};
use geo::BoundingRect;
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{AABB, RTree};
use tokio::sync::Mutex;

use crate::ApiError;
use crate::changes::LayerCache;

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
    pub async fn get(&self, store: &dyn Store, layer: LayerId) -> Result<Arc<Snapshot>, ApiError> {
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
            .map_err(ApiError::internal)?;
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
