//! Gengxin's storage interface, [`Store`], and its backends.
//!
//! One object-safe async trait stands in front of every backend and is used as `Arc<dyn Store>`;
//! callers never see SQL. A backend stores exactly the layers of [`gengxin_model::catalogue`],
//! checks every feature with [`gengxin_model::Layer::check`] before writing, writes each batch in
//! one transaction, and returns rows ordered by id so that every backend answers the same query
//! with the same list.
//!
//! Every row carries a version. [`Store::update`] and [`Store::delete`] name the version the
//! edit was based on and are refused with [`StoreError::Conflict`] when the row has moved on, so
//! no update is ever lost. Committed writes are announced on [`Store::changes`], also across
//! processes where the backend allows it (PostgreSQL `LISTEN/NOTIFY`).
//!
//! Backends, chosen by [`open`] from the location's form:
//! - [`gpkg::GeoPackageStore`]: one OGC GeoPackage file (SQLite), the embedded default.
//! - [`pg::PostgisStore`]: a PostgreSQL + PostGIS database (`postgres://…`), for a city.
//!
//! The conformance suite (`tests/conformance.rs`) runs every operation against both backends
//! with the same fixtures and expects the same answers.
//!
//! Not here: the wire format (the API crate), analysis (the engine crate).

mod attachments;
mod canonical;
mod copy;
mod error;
pub mod gpkg;
pub mod pg;

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use gengxin_model::{Feature, Field, FieldType, Layer, LayerId, Value};
use sha2::Digest;
use tokio::sync::broadcast;

pub use attachments::AttachmentDir;
pub use canonical::canonical_hash;
pub use copy::{CopyReport, copy, read_layer};
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

/// A committed write, as announced by [`Store::changes`].
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// Features of a layer were inserted, updated or deleted. `ids` is empty when there were
    /// too many to list.
    Features { layer: LayerId, ids: Vec<String> },
    /// Announcements may have been missed (e.g. a lost database connection): drop every cache.
    Unknown,
}

/// At most this many ids are listed in one [`Change::Features`].
pub const CHANGE_IDS: usize = 100;

impl Change {
    /// The announcement of a write of these features of one layer.
    pub fn of(layer: LayerId, ids: impl IntoIterator<Item = String>) -> Change {
        let mut ids: Vec<String> = ids.into_iter().take(CHANGE_IDS + 1).collect();
        if ids.len() > CHANGE_IDS {
            ids.clear();
        }
        Change::Features { layer, ids }
    }
}

/// The announcements of one transaction's writes, one per layer (a layer written by several
/// parts of a streamed edit is announced once).
pub(crate) fn merge_changes(changes: Vec<Change>) -> Vec<Change> {
    let mut out: Vec<Change> = Vec::new();
    for c in changes {
        let Change::Features { layer, ids } = c else {
            out.push(c);
            continue;
        };
        match out
            .iter_mut()
            .find(|o| matches!(o, Change::Features { layer: l, .. } if *l == layer))
        {
            Some(Change::Features { ids: kept, .. }) => {
                // An empty list means "too many to list", and stays so.
                if !kept.is_empty() && !ids.is_empty() && kept.len() + ids.len() <= CHANGE_IDS {
                    kept.extend(ids);
                } else {
                    kept.clear();
                }
            }
            _ => out.push(Change::Features { layer, ids }),
        }
    }
    out
}

/// One message of a streamed edit ([`Store::apply_streamed`]).
#[derive(Debug)]
pub enum Part {
    /// More writes for the transaction.
    Edit(Edit),
    /// The end: commit everything received.
    Commit,
}

/// The messages of a streamed edit. An `Err` aborts it with that error; the channel closing
/// before [`Part::Commit`] aborts it too.
pub type Parts = tokio::sync::mpsc::Receiver<Result<Part, StoreError>>;

/// The error of a streamed edit whose sender went away before [`Part::Commit`].
pub fn stream_ended() -> StoreError {
    StoreError::Internal("a streamed edit ended before its commit; nothing was written".into())
}

/// One transaction's writes, applied in this order: deletes, updates, inserts.
#[derive(Debug, Clone, Default)]
pub struct Edit {
    /// `(id, version)` of rows to delete.
    pub delete: Vec<(LayerId, Vec<(String, i64)>)>,
    /// Rows to replace; each feature's `version` is the one the edit was based on.
    pub update: Vec<(LayerId, Vec<Feature>)>,
    /// New rows.
    pub insert: Vec<(LayerId, Vec<Feature>)>,
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

    /// Applies an edit — deletes, then updates, then inserts — in one transaction: on any error
    /// nothing is written. Inserted ids must be new within their layer; updates and deletes are
    /// version-checked (see [`Store::update`]).
    async fn apply(&self, edit: Edit) -> Result<(), StoreError>;

    /// Applies edits as they arrive, all in one transaction, committed at [`Part::Commit`]: on
    /// any error, or if the channel closes first, nothing is written. For writes too large to
    /// hold at once (an import): the backends write each part as it comes, so memory holds one
    /// part. Holds the store's write transaction open until the end. The default gathers the
    /// parts and [`Store::apply`]s them together.
    async fn apply_streamed(&self, mut parts: Parts) -> Result<(), StoreError> {
        let mut all = Edit::default();
        loop {
            match parts.recv().await {
                None => return Err(stream_ended()),
                Some(Err(e)) => return Err(e),
                Some(Ok(Part::Commit)) => return self.apply(all).await,
                Some(Ok(Part::Edit(e))) => {
                    all.delete.extend(e.delete);
                    all.update.extend(e.update);
                    all.insert.extend(e.insert);
                }
            }
        }
    }

    /// Inserts features into their layers, all in one transaction: on any error nothing is
    /// written. Ids must be new within their layer.
    async fn insert(&self, batch: Vec<(LayerId, Vec<Feature>)>) -> Result<(), StoreError> {
        self.apply(Edit {
            insert: batch,
            ..Edit::default()
        })
        .await
    }

    /// One feature by id.
    async fn get(&self, layer: LayerId, id: &str) -> Result<Option<Feature>, StoreError>;

    /// Features matching the query, ordered by id.
    async fn query(&self, layer: LayerId, query: Query) -> Result<Vec<Feature>, StoreError>;

    /// Number of features in a layer.
    async fn count(&self, layer: LayerId) -> Result<u64, StoreError>;

    /// Replaces features, all in one transaction. Each feature's `version` is the version the
    /// edit was based on: if the stored row has another version the whole batch is refused with
    /// [`StoreError::Conflict`] (or [`StoreError::NotFound`] if the row is gone). The stored row
    /// keeps its `created_at` and gets `version + 1`.
    async fn update(&self, batch: Vec<(LayerId, Vec<Feature>)>) -> Result<(), StoreError> {
        self.apply(Edit {
            update: batch,
            ..Edit::default()
        })
        .await
    }

    /// Deletes features given as `(id, version)`, all in one transaction, with the same version
    /// check as [`Store::update`].
    async fn delete(&self, batch: Vec<(LayerId, Vec<(String, i64)>)>) -> Result<(), StoreError> {
        self.apply(Edit {
            delete: batch,
            ..Edit::default()
        })
        .await
    }

    /// Announcements of committed writes, from this process and (where the backend can) others.
    fn changes(&self) -> broadcast::Receiver<Change>;

    /// Stores files by content (SHA-256), idempotently. A file nobody references is harmless;
    /// a row that references a missing file is not, so files are always stored before rows.
    async fn put_files(&self, files: Vec<Vec<u8>>) -> Result<(), StoreError>;

    /// The file with this SHA-256 (hex), if stored.
    async fn file(&self, sha256: &str) -> Result<Option<Vec<u8>>, StoreError>;

    /// Stores attachments: first the files, then all metadata rows (layer `attachments`) in one
    /// transaction. `sha256` and `size_bytes` are set from the bytes. Metadata that does not fit
    /// the layer is refused before any file is written.
    async fn add_attachments(&self, items: Vec<(Feature, Vec<u8>)>) -> Result<(), StoreError> {
        let mut rows = Vec::with_capacity(items.len());
        let mut files = Vec::with_capacity(items.len());
        for (meta, bytes) in items {
            let sha = format!("{:x}", sha2::Sha256::digest(&bytes));
            rows.push(
                meta.set("sha256", sha)
                    .set("size_bytes", bytes.len() as i64),
            );
            files.push(bytes);
        }
        check_batch(vec![(LayerId::Attachments, rows.clone())])?;
        self.put_files(files).await?;
        self.insert(vec![(LayerId::Attachments, rows)]).await
    }

    /// An attachment's metadata and bytes, the bytes checked against the recorded SHA-256.
    async fn attachment(&self, id: &str) -> Result<Option<(Feature, Vec<u8>)>, StoreError> {
        let Some(meta) = self.get(LayerId::Attachments, id).await? else {
            return Ok(None);
        };
        let sha = meta.get("sha256").as_str().unwrap_or_default().to_owned();
        let bytes = self.file(&sha).await?.ok_or_else(|| {
            StoreError::Internal(format!("attachment {id}: its file {sha} is missing"))
        })?;
        if format!("{:x}", sha2::Sha256::digest(&bytes)) != sha {
            return Err(StoreError::Internal(format!(
                "attachment {id}: its file {sha} is damaged"
            )));
        }
        Ok(Some((meta, bytes)))
    }
}

/// The schema version (migration) that created a layer's table, the same in every backend.
pub(crate) fn layer_version(layer: LayerId) -> i64 {
    match layer {
        LayerId::Imports
        | LayerId::CustomLayers
        | LayerId::CustomFeatures
        | LayerId::CustomRows => 2,
        LayerId::SavedQueries => 3,
        LayerId::LifeCircleRules | LayerId::LifeCircleParcels | LayerId::LifeCircleCommunities => 4,
        LayerId::Organisations
        | LayerId::Users
        | LayerId::Sessions
        | LayerId::ApiTokens
        | LayerId::AuditLog
        | LayerId::Sequences
        | LayerId::ReportForms
        | LayerId::Submissions
        | LayerId::ReportTasks
        | LayerId::Jobs
        | LayerId::RecordHistory => 5,
        _ => 1,
    }
}

/// The migration that added a field to its layer's table: the layer's own for the fields it was
/// made with, a later one for fields added since (`ALTER TABLE … ADD COLUMN`).
pub(crate) fn field_version(layer: LayerId, field: &str) -> i64 {
    match (layer, field) {
        (LayerId::CustomLayers, "access" | "organisation_id") => 6,
        (LayerId::Users, "password_history") => 7,
        (LayerId::Submissions, "checks" | "changes") => 8,
        _ => layer_version(layer),
    }
}

/// The fields a layer's table was created with (those added later come by their migration).
pub(crate) fn created_fields(layer: &Layer) -> impl Iterator<Item = &'static gengxin_model::Field> {
    let v = layer_version(layer.id);
    layer
        .fields
        .iter()
        .filter(move |f| field_version(layer.id, f.name) == v)
}

/// The fields a migration adds to tables made before it.
pub(crate) fn added_fields(version: i64) -> Vec<(&'static Layer, &'static gengxin_model::Field)> {
    gengxin_model::catalogue()
        .iter()
        .flat_map(|l| l.fields.iter().map(move |f| (l, f)))
        .filter(|(l, f)| field_version(l.id, f.name) == version && layer_version(l.id) < version)
        .collect()
}

/// Whether a location names a PostgreSQL database rather than a GeoPackage file.
pub fn is_postgres(location: &str) -> bool {
    location.starts_with("postgres://") || location.starts_with("postgresql://")
}

/// Opens an existing store: a `postgres://` URL or a GeoPackage file path.
pub async fn open(location: &str) -> Result<Arc<dyn Store>, StoreError> {
    if is_postgres(location) {
        Ok(Arc::new(pg::PostgisStore::open(location).await?))
    } else {
        let path = Path::new(location).to_owned();
        let store = tokio::task::spawn_blocking(move || gpkg::GeoPackageStore::open(&path))
            .await
            .map_err(|e| StoreError::Internal(e.to_string()))??;
        Ok(Arc::new(store))
    }
}

/// Opens a store, creating it (and its schema) first if needed.
pub async fn create_or_open(location: &str) -> Result<Arc<dyn Store>, StoreError> {
    if is_postgres(location) {
        Ok(Arc::new(pg::PostgisStore::create_or_open(location).await?))
    } else {
        let path = Path::new(location).to_owned();
        let store =
            tokio::task::spawn_blocking(move || gpkg::GeoPackageStore::create_or_open(&path))
                .await
                .map_err(|e| StoreError::Internal(e.to_string()))??;
        Ok(Arc::new(store))
    }
}

/// A [`Query`] checked against its layer, as every backend executes it: known fields only,
/// values converted to the field's type (integers in real fields to reals, timestamps to UTC
/// milliseconds), so both backends compare the same values.
pub(crate) struct Checked {
    pub bbox: Option<Bbox>,
    pub equals: Vec<(&'static Field, Value)>,
    pub after_id: Option<String>,
    pub limit: Option<usize>,
}

pub(crate) fn check_query(layer: &'static Layer, q: Query) -> Result<Checked, StoreError> {
    if q.bbox.is_some() && layer.geometry.is_none() {
        return Err(StoreError::BadQuery(format!(
            "layer {} has no geometry; a bounding box does not apply",
            layer.name
        )));
    }
    let mut equals = Vec::with_capacity(q.equals.len());
    for (name, v) in q.equals {
        let Some(field) = layer.field(&name) else {
            return Err(StoreError::UnknownField {
                layer: layer.name,
                field: name,
            });
        };
        let v = match (field.ty, v) {
            (FieldType::Real, Value::Int(i)) => Value::Real(i as f64),
            (FieldType::Real, Value::Real(r)) if r.is_finite() => Value::Real(r),
            (FieldType::Int, v @ Value::Int(_)) | (FieldType::Bool, v @ Value::Bool(_)) => v,
            (FieldType::Text, v @ Value::Text(_)) => v,
            (FieldType::Date, Value::Text(s)) if gengxin_model::is_date(&s) => Value::Text(s),
            (FieldType::DateTime, Value::Text(s)) if gengxin_model::is_timestamp(&s) => {
                let t = chrono::DateTime::parse_from_rfc3339(&s).expect("checked");
                let t = chrono::DateTime::from_timestamp_millis(t.timestamp_millis())
                    .expect("in range");
                Value::Text(gengxin_model::timestamp(&t))
            }
            (_, v) => {
                return Err(StoreError::BadQuery(format!(
                    "{}.{} cannot equal {v:?}: the field holds {:?} values",
                    layer.name, field.name, field.ty
                )));
            }
        };
        equals.push((field, v));
    }
    Ok(Checked {
        bbox: q.bbox,
        equals,
        after_id: q.after_id,
        limit: q.limit,
    })
}

/// Checks an insert or update batch before any backend touches storage: every feature valid for
/// its layer, no id twice in one layer. Backends then write in batch order, so the first row that
/// clashes with stored data is the one every backend reports.
pub(crate) fn check_batch(
    batch: Vec<(LayerId, Vec<Feature>)>,
) -> Result<Vec<(&'static Layer, Vec<Feature>)>, StoreError> {
    batch
        .into_iter()
        .map(|(id, features)| {
            let layer = Layer::by_id(id);
            let mut seen = std::collections::HashSet::new();
            let features = features
                .into_iter()
                .map(|f| {
                    let f = layer.check(f)?;
                    if !seen.insert(f.id.clone()) {
                        return Err(StoreError::Duplicate {
                            layer: layer.name,
                            id: f.id,
                        });
                    }
                    Ok(f)
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            Ok((layer, features))
        })
        .collect()
}

/// Layers whose rows, once written, are never changed or deleted through the store.
const APPEND_ONLY: &[LayerId] = &[LayerId::AuditLog, LayerId::RecordHistory];

/// Refuses an edit that would change or delete a row of an append-only layer (the audit log,
/// record history), before anything is written.
pub(crate) fn check_append_only(edit: &Edit) -> Result<(), StoreError> {
    let touched = edit
        .delete
        .iter()
        .filter(|(_, rows)| !rows.is_empty())
        .map(|(l, _)| *l)
        .chain(
            edit.update
                .iter()
                .filter(|(_, rows)| !rows.is_empty())
                .map(|(l, _)| *l),
        );
    for layer in touched {
        if APPEND_ONLY.contains(&layer) {
            return Err(StoreError::AppendOnly {
                layer: Layer::by_id(layer).name,
            });
        }
    }
    Ok(())
}

/// The version check of every update and delete: the stored row (`found`, `None` if gone) must
/// still be at the version the edit was based on.
pub(crate) fn check_version(
    layer: &Layer,
    id: &str,
    expected: i64,
    found: Option<i64>,
) -> Result<(), StoreError> {
    match found {
        None => Err(StoreError::NotFound {
            layer: layer.name,
            id: id.to_owned(),
        }),
        Some(found) if found != expected => Err(StoreError::Conflict {
            layer: layer.name,
            id: id.to_owned(),
            expected,
            found,
        }),
        Some(_) => Ok(()),
    }
}
