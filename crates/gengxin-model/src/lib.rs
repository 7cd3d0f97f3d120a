//! Gengxin's domain model: the two databases (`renewal`, `community`) as a catalogue of layers.
//!
//! A *layer* is one table of one database: its fields with their types and code lists, and its
//! geometry type (or none, for attribute tables such as projects). Every row of every layer is a
//! [`Feature`]: a stable text id, an optional geometry in EPSG:4490 lon/lat, typed properties, a
//! provenance (the real source, or `generated`), created/updated timestamps and a version.
//!
//! The model is data-driven on purpose: storage backends, the HTTP API, import/export and the
//! conformance suite all walk the same [`catalogue`] instead of hand-writing one mapping per table.
//! Domain vocabularies (administrative levels, renewal object kinds, project stages, GB 50180
//! facility categories, land-use classes ...) are closed code lists in [`vocab`]; a property
//! outside its code list is refused by [`Layer::validate`].
//!
//! This crate does no I/O and knows nothing of SQL or JSON.

mod feature;
mod layer;
pub mod vocab;

pub use feature::{Feature, Value, timestamp};
pub use layer::{
    Access, Database, Field, FieldType, GeometryType, Layer, LayerId, ValidationError, catalogue,
    geometry_name, is_date, is_timestamp, type_name,
};

/// The EPSG code of the one CRS every stored geometry uses: CGCS2000 geographic, lon/lat.
pub const STORAGE_SRID: i32 = 4490;

/// The value of `provenance` for data Gengxin made up (the demo city).
pub const GENERATED: &str = "generated";

/// The code of the city the demo and the admin tree are rooted at (武汉市).
pub const WUHAN_CODE: &str = "420100";
