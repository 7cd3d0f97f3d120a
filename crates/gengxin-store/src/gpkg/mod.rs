//! The embedded backend: one OGC GeoPackage file that GDAL and QGIS open as it is.
//!
//! Opening is careful: the file is first inspected read-only (SQLite header, GeoPackage
//! `application_id`, Gengxin's schema version, an integrity check), and only when all pass is it
//! opened for writing, switched to WAL (readers run while a writer writes) with
//! `synchronous=FULL`, and migrated. A file that fails any check is left byte-for-byte as it was.
//!
//! Writes go through one writer connection behind a mutex (so concurrent writers queue instead
//! of failing with SQLITE_BUSY); reads use a small pool of connections. All SQLite work runs on
//! Tokio's blocking threads.

pub mod geom;
mod schema;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use gengxin_model::{Feature, FieldType, Layer, LayerId, Value, timestamp};
use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior, params_from_iter};

use tokio::sync::broadcast;

use crate::{
    AttachmentDir, Change, Edit, Query, Store, StoreError, StoreInfo, check_append_only,
    check_batch, check_query, check_version,
};

pub use schema::latest_version;

/// A Gengxin store in one GeoPackage file.
pub struct GeoPackageStore {
    path: PathBuf,
    // Field order matters: readers are dropped first, so the writer is the last connection to
    // close and checkpoints the WAL into the file (a read-only connection cannot).
    readers: r2d2::Pool<SqliteConnectionManager>,
    writer: Arc<Mutex<Connection>>,
    changes: broadcast::Sender<Change>,
}

impl GeoPackageStore {
    /// Opens an existing store, applying pending migrations. Fails without touching the file if
    /// it is missing, not a GeoPackage, not a Gengxin store, corrupt, or from a newer schema.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        if !path.is_file() {
            return Err(StoreError::Missing(path.to_owned()));
        }
        inspect(path)?;
        Self::open_checked(path)
    }

    /// Creates a new, empty store at `path` (which must not exist), or opens it if it does.
    /// A new file is built beside the target and renamed into place, so a crash never leaves a
    /// half-initialised store.
    pub fn create_or_open(path: &Path) -> Result<Self, StoreError> {
        if path.exists() {
            return Self::open(path);
        }
        let tmp = path.with_extension("gpkg.creating");
        let _ = std::fs::remove_file(&tmp);
        {
            let mut conn = Connection::open(&tmp).map_err(|e| internal(path, e))?;
            conn.pragma_update(None, "application_id", schema::APPLICATION_ID)
                .map_err(|e| internal(path, e))?;
            conn.pragma_update(None, "user_version", schema::GPKG_USER_VERSION)
                .map_err(|e| internal(path, e))?;
            migrate(&mut conn, path, 0)?;
        }
        std::fs::rename(&tmp, path).map_err(|e| internal(path, e))?;
        Self::open_checked(path)
    }

    fn open_checked(path: &Path) -> Result<Self, StoreError> {
        let mut conn = Connection::open(path).map_err(|e| internal(path, e))?;
        configure(&mut conn).map_err(|e| internal(path, e))?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(|e| internal(path, e))?;
        let version = read_version(&conn)
            .map_err(|e| internal(path, e))?
            .unwrap_or(0);
        migrate(&mut conn, path, version)?;
        let manager = SqliteConnectionManager::file(path)
            .with_flags(
                OpenFlags::SQLITE_OPEN_READ_ONLY
                    | OpenFlags::SQLITE_OPEN_URI
                    | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
            .with_init(configure);
        let readers = r2d2::Pool::builder()
            .max_size(8)
            .build(manager)
            .map_err(|e| internal(path, e))?;
        Ok(GeoPackageStore {
            path: path.to_owned(),
            writer: Arc::new(Mutex::new(conn)),
            readers,
            changes: broadcast::channel(1024).0,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` in one immediate transaction on the writer connection, commits, and announces
    /// the changes it reports.
    async fn write(
        &self,
        f: impl FnOnce(&rusqlite::Transaction) -> Result<Vec<Change>, StoreError> + Send + 'static,
    ) -> Result<(), StoreError> {
        let writer = self.writer.clone();
        let changes = tokio::task::spawn_blocking(move || {
            let mut conn = writer
                .lock()
                .map_err(|_| StoreError::Internal("writer lock poisoned".into()))?;
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(db_err)?;
            let changes = f(&tx)?;
            tx.commit().map_err(db_err)?;
            Ok::<_, StoreError>(changes)
        })
        .await
        .map_err(|e| StoreError::Internal(e.to_string()))??;
        for c in changes {
            // No receiver is not an error: nobody is listening.
            let _ = self.changes.send(c);
        }
        Ok(())
    }

    async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let pool = self.readers.clone();
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || {
            let conn = pool
                .get()
                .map_err(|e| StoreError::Unavailable(format!("{}: {e}", path.display())))?;
            f(&conn)
        })
        .await
        .map_err(|e| StoreError::Internal(e.to_string()))?
    }
}

fn internal(path: &Path, e: impl std::fmt::Display) -> StoreError {
    StoreError::Internal(format!("{}: {e}", path.display()))
}

/// Per-connection settings and the SQL functions the R-tree triggers call.
fn configure(conn: &mut Connection) -> rusqlite::Result<()> {
    geom::register_functions(conn)?;
    conn.busy_timeout(std::time::Duration::from_secs(30))?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // What a write replaces or deletes is overwritten, not left in free space of the file
    // (sealed secrets replace plain ones; personal rows are purged).
    conn.pragma_update(None, "secure_delete", "ON")?;
    Ok(())
}

fn read_version(conn: &Connection) -> rusqlite::Result<Option<i64>> {
    let has_meta: bool = conn.query_row(
        "SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'gengxin_meta'",
        [],
        |r| r.get(0),
    )?;
    if !has_meta {
        return Ok(None);
    }
    conn.query_row(
        "SELECT value FROM gengxin_meta WHERE key = 'schema_version'",
        [],
        |r| r.get::<_, String>(0),
    )
    .optional()
    .map(|v| v.and_then(|v| v.parse().ok()))
}

/// Read-only checks that must pass before the file is opened for writing.
fn inspect(path: &Path) -> Result<(), StoreError> {
    let not_gpkg = |reason: String| StoreError::NotGeoPackage {
        path: path.to_owned(),
        reason,
    };
    let mut header = [0u8; 100];
    let mut file =
        std::fs::File::open(path).map_err(|e| not_gpkg(format!("cannot read it: {e}")))?;
    file.read_exact(&mut header)
        .map_err(|_| not_gpkg("it is too short to be an SQLite database".into()))?;
    if &header[..16] != b"SQLite format 3\0" {
        return Err(not_gpkg(
            "it is not an SQLite database (wrong file header)".into(),
        ));
    }
    let app_id = i32::from_be_bytes(header[68..72].try_into().expect("4 bytes"));
    if app_id != schema::APPLICATION_ID {
        return Err(not_gpkg(format!(
            "its application_id is {app_id:#010x}, not 0x47504b47 ('GPKG')"
        )));
    }
    let corrupt = |e: rusqlite::Error| StoreError::Corrupt {
        path: path.to_owned(),
        detail: e.to_string(),
    };
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(corrupt)?;
    let check: String = conn
        .query_row("PRAGMA quick_check(1)", [], |r| r.get(0))
        .map_err(corrupt)?;
    if check != "ok" {
        return Err(StoreError::Corrupt {
            path: path.to_owned(),
            detail: check,
        });
    }
    let found = read_version(&conn)
        .map_err(corrupt)?
        .ok_or_else(|| StoreError::NotGengxin(path.display().to_string()))?;
    let supported = latest_version();
    if found > supported {
        return Err(StoreError::TooNew {
            path: path.display().to_string(),
            found,
            supported,
        });
    }
    Ok(())
}

/// Applies the migrations after `from`, each in its own transaction with its version bump.
fn migrate(conn: &mut Connection, path: &Path, from: i64) -> Result<(), StoreError> {
    geom::register_functions(conn).map_err(|e| internal(path, e))?;
    for (i, m) in schema::MIGRATIONS.iter().enumerate().skip(from as usize) {
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| internal(path, e))?;
        m(&tx).map_err(|e| internal(path, format!("migration {}: {e}", i + 1)))?;
        tx.execute(
            "INSERT INTO gengxin_meta (key, value) VALUES ('schema_version', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [(i + 1).to_string()],
        )
        .map_err(|e| internal(path, e))?;
        tx.commit().map_err(|e| internal(path, e))?;
    }
    Ok(())
}

/// The columns every query selects, in order: fid, [geom], id, provenance, created_at,
/// updated_at, version, fields...
fn select_list(layer: &Layer) -> String {
    let mut cols = vec!["id", "provenance", "created_at", "updated_at", "version"];
    if layer.geometry.is_some() {
        cols.insert(0, "geom");
    }
    let mut s: Vec<String> = cols.iter().map(|c| format!("t.\"{c}\"")).collect();
    s.extend(layer.fields.iter().map(|f| format!("t.\"{}\"", f.name)));
    s.join(", ")
}

fn parse_time(s: &str) -> rusqlite::Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
        })
}

fn row_to_feature(layer: &Layer, row: &rusqlite::Row) -> rusqlite::Result<Feature> {
    let mut i = 0;
    let geometry = match layer.geometry {
        Some(_) => {
            i = 1;
            let blob: Vec<u8> = row.get(0)?;
            Some(geom::decode(&blob).map_err(|e| {
                rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Blob, e.into())
            })?)
        }
        None => None,
    };
    let mut properties = BTreeMap::new();
    for (k, field) in layer.fields.iter().enumerate() {
        let v = match (field.ty, row.get_ref(i + 5 + k)?) {
            (_, ValueRef::Null) => continue,
            (FieldType::Bool, ValueRef::Integer(b)) => Value::Bool(b != 0),
            (FieldType::Real, ValueRef::Integer(n)) => Value::Real(n as f64),
            (_, ValueRef::Integer(n)) => Value::Int(n),
            (_, ValueRef::Real(r)) => Value::Real(r),
            (_, ValueRef::Text(t)) => Value::Text(String::from_utf8_lossy(t).into_owned()),
            (_, ValueRef::Blob(_)) => continue,
        };
        properties.insert(field.name.to_owned(), v);
    }
    Ok(Feature {
        id: row.get(i)?,
        geometry,
        properties,
        provenance: row.get(i + 1)?,
        created_at: parse_time(&row.get::<_, String>(i + 2)?)?,
        updated_at: parse_time(&row.get::<_, String>(i + 3)?)?,
        version: row.get(i + 4)?,
    })
}

fn sql_value(v: &Value) -> ToSqlOutput<'_> {
    use rusqlite::types::Value as V;
    ToSqlOutput::Owned(match v {
        Value::Null => V::Null,
        Value::Bool(b) => V::Integer(*b as i64),
        Value::Int(i) => V::Integer(*i),
        Value::Real(r) => V::Real(*r),
        Value::Text(s) => V::Text(s.clone()),
    })
}

fn db_err(e: rusqlite::Error) -> StoreError {
    StoreError::Internal(e.to_string())
}

/// The columns written for a layer, in order: [geom], id, provenance, created_at, updated_at,
/// version, fields...
fn write_columns(layer: &Layer) -> Vec<String> {
    let mut cols: Vec<String> = ["id", "provenance", "created_at", "updated_at", "version"]
        .map(String::from)
        .into();
    if layer.geometry.is_some() {
        cols.insert(0, "geom".into());
    }
    cols.extend(layer.fields.iter().map(|f| f.name.to_owned()));
    cols
}

/// A checked feature as the row values of [`write_columns`] (geometry as a GeoPackage blob),
/// and the geometry's envelope [min_x, max_x, min_y, max_y].
fn row_values(
    layer: &'static Layer,
    f: &Feature,
) -> Result<(Vec<rusqlite::types::Value>, Option<[f64; 4]>), StoreError> {
    use rusqlite::types::Value as V;
    let mut values = Vec::with_capacity(6 + layer.fields.len());
    let mut envelope = None;
    if let Some(g) = &f.geometry {
        let b = geom::encode(g).map_err(|problem| {
            StoreError::Invalid(gengxin_model::ValidationError::Geometry {
                layer: layer.name,
                id: f.id.clone(),
                problem,
            })
        })?;
        envelope =
            Some([0, 1, 2, 3].map(|k| {
                f64::from_le_bytes(b[8 + 8 * k..16 + 8 * k].try_into().expect("8 bytes"))
            }));
        values.push(V::Blob(b));
    }
    values.extend([
        V::Text(f.id.clone()),
        V::Text(f.provenance.clone()),
        V::Text(timestamp(&f.created_at)),
        V::Text(timestamp(&f.updated_at)),
        V::Integer(f.version),
    ]);
    values.extend(layer.fields.iter().map(|fd| match f.get(fd.name) {
        Value::Null => V::Null,
        Value::Bool(b) => V::Integer(*b as i64),
        Value::Int(i) => V::Integer(*i),
        Value::Real(r) => V::Real(*r),
        Value::Text(s) => V::Text(s.clone()),
    }));
    Ok((values, envelope))
}

/// Keeps `gpkg_contents` true after writes to a table: its last change and its extent.
fn touch_contents(
    tx: &rusqlite::Transaction,
    layer: &Layer,
    extent: Option<[f64; 4]>,
    last_change: Option<DateTime<Utc>>,
) -> Result<(), StoreError> {
    let t = layer.table();
    let now = last_change.unwrap_or_else(Utc::now);
    tx.execute(
        "UPDATE gpkg_contents SET last_change = max(last_change, ?2) WHERE table_name = ?1",
        rusqlite::params![t, timestamp(&now)],
    )
    .map_err(db_err)?;
    if let Some([minx, maxx, miny, maxy]) = extent {
        tx.execute(
            "UPDATE gpkg_contents SET min_x = min(coalesce(min_x, ?2), ?2), max_x = max(coalesce(max_x, ?3), ?3),
             min_y = min(coalesce(min_y, ?4), ?4), max_y = max(coalesce(max_y, ?5), ?5) WHERE table_name = ?1",
            rusqlite::params![t, minx, maxx, miny, maxy],
        )
        .map_err(db_err)?;
    }
    Ok(())
}

fn union(a: Option<[f64; 4]>, b: Option<[f64; 4]>) -> Option<[f64; 4]> {
    match (a, b) {
        (Some(x), Some(e)) => Some([
            x[0].min(e[0]),
            x[1].max(e[1]),
            x[2].min(e[2]),
            x[3].max(e[3]),
        ]),
        (x, e) => x.or(e),
    }
}

fn insert_layer(
    tx: &rusqlite::Transaction,
    layer: &'static Layer,
    features: &[Feature],
) -> Result<(), StoreError> {
    let cols = write_columns(layer);
    let sql = format!(
        "INSERT INTO \"{}\" ({}) VALUES ({})",
        layer.table(),
        cols.iter()
            .map(|c| format!("\"{c}\""))
            .collect::<Vec<_>>()
            .join(", "),
        vec!["?"; cols.len()].join(", ")
    );
    let mut stmt = tx.prepare_cached(&sql).map_err(db_err)?;
    let mut extent = None;
    let mut last_change = None;
    for f in features {
        let (values, envelope) = row_values(layer, f)?;
        extent = union(extent, envelope);
        last_change = last_change.max(Some(f.updated_at));
        stmt.execute(params_from_iter(values))
            .map_err(|e| match e {
                rusqlite::Error::SqliteFailure(err, _)
                    if err.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE =>
                {
                    StoreError::Duplicate {
                        layer: layer.name,
                        id: f.id.clone(),
                    }
                }
                e => db_err(e),
            })?;
    }
    // An empty batch changes nothing, not even the table's last change.
    match last_change {
        Some(_) => touch_contents(tx, layer, extent, last_change),
        None => Ok(()),
    }
}

/// The stored version of a row, checked against the version an edit was based on.
fn lock_version(
    tx: &rusqlite::Transaction,
    layer: &'static Layer,
    id: &str,
    expected: i64,
) -> Result<(), StoreError> {
    let found: Option<i64> = tx
        .prepare_cached(&format!(
            "SELECT version FROM \"{}\" WHERE id = ?",
            layer.table()
        ))
        .and_then(|mut s| s.query_row([id], |r| r.get(0)).optional())
        .map_err(db_err)?;
    check_version(layer, id, expected, found)
}

fn update_layer(
    tx: &rusqlite::Transaction,
    layer: &'static Layer,
    features: &[Feature],
) -> Result<(), StoreError> {
    // Every column but created_at (index 2 after the optional geometry), matched by id.
    let cols = write_columns(layer);
    let skip = usize::from(layer.geometry.is_some());
    let sets: Vec<String> = cols
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != skip && *i != skip + 2)
        .map(|(_, c)| format!("\"{c}\" = ?"))
        .collect();
    let sql = format!(
        "UPDATE \"{}\" SET {} WHERE id = ?",
        layer.table(),
        sets.join(", ")
    );
    let mut extent = None;
    for f in features {
        lock_version(tx, layer, &f.id, f.version)?;
        let mut next = f.clone();
        next.version += 1;
        let (values, envelope) = row_values(layer, &next)?;
        extent = union(extent, envelope);
        let mut params: Vec<rusqlite::types::Value> = values
            .into_iter()
            .enumerate()
            .filter(|(i, _)| *i != skip && *i != skip + 2)
            .map(|(_, v)| v)
            .collect();
        params.push(rusqlite::types::Value::Text(f.id.clone()));
        tx.prepare_cached(&sql)
            .and_then(|mut s| s.execute(params_from_iter(params)))
            .map_err(db_err)?;
    }
    touch_contents(tx, layer, extent, None)
}

fn delete_layer(
    tx: &rusqlite::Transaction,
    layer: &'static Layer,
    rows: &[(String, i64)],
) -> Result<(), StoreError> {
    let sql = format!("DELETE FROM \"{}\" WHERE id = ?", layer.table());
    for (id, version) in rows {
        lock_version(tx, layer, id, *version)?;
        tx.prepare_cached(&sql)
            .and_then(|mut s| s.execute([id]))
            .map_err(db_err)?;
    }
    touch_contents(tx, layer, None, None)
}

/// An edit's writes (checked) in an open transaction; the changes to announce after the commit.
fn apply_in(
    tx: &rusqlite::Transaction,
    delete: Vec<(LayerId, Vec<(String, i64)>)>,
    update: Vec<(&'static Layer, Vec<Feature>)>,
    insert: Vec<(&'static Layer, Vec<Feature>)>,
) -> Result<Vec<Change>, StoreError> {
    let mut changes = Vec::new();
    for (layer, rows) in delete {
        let layer = Layer::by_id(layer);
        delete_layer(tx, layer, &rows)?;
        changes.push(Change::of(layer.id, rows.into_iter().map(|(id, _)| id)));
    }
    for (layer, features) in update {
        update_layer(tx, layer, &features)?;
        changes.push(Change::of(layer.id, features.into_iter().map(|f| f.id)));
    }
    for (layer, features) in insert {
        insert_layer(tx, layer, &features)?;
        changes.push(Change::of(layer.id, features.into_iter().map(|f| f.id)));
    }
    Ok(changes)
}

#[async_trait]
impl Store for GeoPackageStore {
    async fn info(&self) -> Result<StoreInfo, StoreError> {
        let location = self.path.display().to_string();
        let version = self
            .read(|c| read_version(c).map_err(db_err))
            .await?
            .unwrap_or(0);
        Ok(StoreInfo {
            backend: "geopackage",
            location,
            schema_version: version,
        })
    }

    async fn apply(&self, edit: Edit) -> Result<(), StoreError> {
        check_append_only(&edit)?;
        let update = check_batch(edit.update)?;
        let insert = check_batch(edit.insert)?;
        let delete = edit.delete;
        self.write(move |tx| apply_in(tx, delete, update, insert))
            .await
    }

    async fn apply_streamed(&self, mut parts: crate::Parts) -> Result<(), StoreError> {
        self.write(move |tx| {
            let mut changes = Vec::new();
            loop {
                match parts.blocking_recv() {
                    None => return Err(crate::stream_ended()),
                    Some(Err(e)) => return Err(e),
                    Some(Ok(crate::Part::Commit)) => return Ok(crate::merge_changes(changes)),
                    Some(Ok(crate::Part::Edit(edit))) => {
                        check_append_only(&edit)?;
                        let update = check_batch(edit.update)?;
                        let insert = check_batch(edit.insert)?;
                        changes.extend(apply_in(tx, edit.delete, update, insert)?);
                    }
                }
            }
        })
        .await
    }

    fn changes(&self) -> broadcast::Receiver<Change> {
        self.changes.subscribe()
    }

    async fn get(&self, layer: LayerId, id: &str) -> Result<Option<Feature>, StoreError> {
        let layer = Layer::by_id(layer);
        let id = id.to_owned();
        self.read(move |c| {
            let sql = format!(
                "SELECT {} FROM \"{}\" t WHERE t.id = ?",
                select_list(layer),
                layer.table()
            );
            c.query_row(&sql, [id], |r| row_to_feature(layer, r))
                .optional()
                .map_err(db_err)
        })
        .await
    }

    async fn query(&self, layer: LayerId, q: Query) -> Result<Vec<Feature>, StoreError> {
        let layer = Layer::by_id(layer);
        let q = check_query(layer, q)?;
        let mut wheres = Vec::new();
        let mut params: Vec<Value> = Vec::new();
        if let Some(b) = q.bbox {
            // The R-tree holds float32-rounded boxes; the exact envelope test follows it.
            wheres.push(format!(
                "t.fid IN (SELECT id FROM \"rtree_{}_geom\" WHERE minx <= ? AND maxx >= ? AND miny <= ? AND maxy >= ?)
                 AND ST_MinX(t.geom) <= ? AND ST_MaxX(t.geom) >= ? AND ST_MinY(t.geom) <= ? AND ST_MaxY(t.geom) >= ?",
                layer.table()
            ));
            for _ in 0..2 {
                params.extend([b.max_x, b.min_x, b.max_y, b.min_y].map(Value::Real));
            }
        }
        for (field, v) in q.equals {
            wheres.push(format!("t.\"{}\" = ?", field.name));
            params.push(v);
        }
        if let Some(after) = q.after_id {
            wheres.push("t.id > ?".into());
            params.push(Value::Text(after));
        }
        let mut sql = format!("SELECT {} FROM \"{}\" t", select_list(layer), layer.table());
        if !wheres.is_empty() {
            sql += &format!(" WHERE {}", wheres.join(" AND "));
        }
        sql += " ORDER BY t.id";
        if let Some(limit) = q.limit {
            sql += &format!(" LIMIT {limit}");
        }
        self.read(move |c| {
            let mut stmt = c.prepare_cached(&sql).map_err(db_err)?;
            let rows = stmt
                .query_map(params_from_iter(params.iter().map(sql_value)), |r| {
                    row_to_feature(layer, r)
                })
                .map_err(db_err)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(db_err)
        })
        .await
    }

    async fn put_files(&self, files: Vec<Vec<u8>>) -> Result<(), StoreError> {
        let dir = AttachmentDir::beside(&self.path);
        tokio::task::spawn_blocking(move || {
            for bytes in files {
                dir.put(&bytes)
                    .map_err(|e| StoreError::Internal(format!("{}: {e}", dir.path().display())))?;
            }
            Ok(())
        })
        .await
        .map_err(|e| StoreError::Internal(e.to_string()))?
    }

    async fn file(&self, sha256: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let dir = AttachmentDir::beside(&self.path);
        let sha = sha256.to_owned();
        tokio::task::spawn_blocking(move || match dir.get(&sha) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StoreError::Internal(format!("file {sha}: {e}"))),
        })
        .await
        .map_err(|e| StoreError::Internal(e.to_string()))?
    }

    async fn count(&self, layer: LayerId) -> Result<u64, StoreError> {
        let t = Layer::by_id(layer).table();
        self.read(move |c| {
            c.query_row(&format!("SELECT count(*) FROM \"{t}\""), [], |r| {
                r.get::<_, i64>(0)
            })
            .map(|n| n as u64)
            .map_err(db_err)
        })
        .await
    }
}
