//! Gengxin's storage interface, [`Store`], and its backends.
//!
//! One object-safe async trait stands in front of every backend and is used as `Arc<dyn Store>`;
//! callers never see SQL. A backend stores exactly the layers of [`gengxin_model::catalogue`],
//! checks every feature with [`gengxin_model::Layer::check`] before writing, writes each batch in
//! one transaction, and returns rows ordered by id so that every backend answers the same query
//! with the same list.
//!
//! Backends:
//! - [`gpkg::GeoPackageStore`]: one OGC GeoPackage file (SQLite), the embedded default.
//!
//! Not here: the wire format (the API crate), analysis (the engine crate).

mod attachments;
mod canonical;
mod error;
pub mod gpkg;

use async_trait::async_trait;
use gengxin_model::{Feature, LayerId, Value};

pub use attachments::AttachmentDir;
pub use canonical::canonical_hash;
pub use error::StoreError;

/// An axis-aligned box in EPSG:4490 lon/lat degrees.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bbox {
    pub min_x: f64,
    pub min_y: f64,
    pub max_x: f64,
    pub max_y: f64,
}

impl Bbox {
    /// A box from its corners; refuses non-finite or inverted boxes and boxes outside lon/lat.
    pub fn new(min_x: f64, min_y: f64, max_x: f64, max_y: f64) -> Result<Self, String> {
        let all = [min_x, min_y, max_x, max_y];
        if all.iter().any(|v| !v.is_finite()) {
            return Err("bbox values must be finite numbers".into());
        }
        if min_x > max_x || min_y > max_y {
            return Err("bbox must be min_lon,min_lat,max_lon,max_lat with min ≤ max".into());
        }
        if min_x < -180.0 || max_x > 180.0 || min_y < -90.0 || max_y > 90.0 {
            return Err("bbox must be in EPSG:4490 degrees (lon −180…180, lat −90…90)".into());
        }
        Ok(Bbox {
            min_x,
            min_y,
            max_x,
            max_y,
        })
    }
}

/// What to read from one layer. Results are always ordered by feature id.
#[derive(Debug, Clone, Default)]
pub struct Query {
    /// Features whose envelope intersects this box.
    pub bbox: Option<Bbox>,
    /// Features whose property equals the value (all must hold).
    pub equals: Vec<(String, Value)>,
    /// Features whose id sorts after this one (keyset paging).
    pub after_id: Option<String>,
    /// At most this many features; `None` for all.
    pub limit: Option<usize>,
}

/// Facts about a store for health checks.
#[derive(Debug, Clone, PartialEq)]
pub struct StoreInfo {
    pub backend: &'static str,
    /// Where the store lives (a path, or a connection string without password).
    pub location: String,
    pub schema_version: i64,
}

/// The storage interface. Every method is one transaction or one consistent read.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Backend, location and schema version; also proves the store answers.
    async fn info(&self) -> Result<StoreInfo, StoreError>;

    /// Inserts features into their layers, all in one transaction: on any error nothing is
    /// written. Ids must be new within their layer.
    async fn insert(&self, batch: Vec<(LayerId, Vec<Feature>)>) -> Result<(), StoreError>;

    /// One feature by id.
    async fn get(&self, layer: LayerId, id: &str) -> Result<Option<Feature>, StoreError>;

    /// Features matching the query, ordered by id.
    async fn query(&self, layer: LayerId, query: Query) -> Result<Vec<Feature>, StoreError>;

    /// Number of features in a layer.
    async fn count(&self, layer: LayerId) -> Result<u64, StoreError>;

    /// Stores attachments: each file's bytes beside the store, then all metadata rows (layer
    /// `attachments`) in one transaction. `sha256` and `size_bytes` are set from the bytes.
    async fn add_attachments(&self, items: Vec<(Feature, Vec<u8>)>) -> Result<(), StoreError>;

    /// An attachment's metadata and bytes.
    async fn attachment(&self, id: &str) -> Result<Option<(Feature, Vec<u8>)>, StoreError>;
}
