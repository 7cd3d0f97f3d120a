//! The production backend: a PostgreSQL database with PostGIS, shared by several Gengxin servers
//! and reachable by QGIS, GeoServer and SQL users.
//!
//! Connections come from a pool that checks each connection before use, so a restarted or
//! unreachable database costs the requests made meanwhile a [`StoreError::Unavailable`] (the API
//! answers 503) and nothing more: the next request after the database returns is served without
//! a restart. Rows are inserted with `COPY`, updated and deleted row by row under
//! `SELECT … FOR UPDATE` with the version check. Every committed write is announced to every
//! server on the database with `NOTIFY gengxin_changes`; a listener task relays the other
//! servers' announcements to [`Store::changes`] (this process announces its own directly, so they
//! are seen before the write returns).

mod schema;

use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use gengxin_model::{Feature, FieldType, Layer, LayerId, STORAGE_SRID, Value, timestamp};
use geozero::wkb::Wkb;
use geozero::{CoordDimensions, ToGeo, ToWkb};
use sha2::{Digest, Sha256};
use sqlx::postgres::{PgArguments, PgConnectOptions, PgListener, PgPoolOptions, PgRow};
use sqlx::{Arguments, PgConnection, PgPool, Row};
use tokio::sync::broadcast;

use crate::{
    Change, Edit, Query, Store, StoreError, StoreInfo, check_append_only, check_batch, check_query,
    check_version,
};

pub use schema::{MIN_POSTGIS, latest_version};

/// The channel every Gengxin server on a database announces its writes on.
const CHANNEL: &str = "gengxin_changes";
/// NOTIFY payloads must stay under 8000 bytes.
const MAX_PAYLOAD: usize = 7000;
/// How long a request waits for a connection before answering "unavailable".
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// A Gengxin store in a PostgreSQL + PostGIS database.
pub struct PostgisStore {
    pool: PgPool,
    location: String,
    /// Tags this process's announcements, so the listener skips them.
    origin: String,
    changes: broadcast::Sender<Change>,
    listener: tokio::task::JoinHandle<()>,
}

impl Drop for PostgisStore {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

/// SQL assembled from the catalogue's own identifiers (schemas, tables, fields: static names
/// that never come from a request) and `$n` placeholders; every value travels as a parameter.
fn trusted(sql: String) -> sqlx::AssertSqlSafe<String> {
    sqlx::AssertSqlSafe(sql)
}

/// `postgres://user@host:port/db`, without the password.
fn describe(opts: &PgConnectOptions) -> String {
    format!(
        "postgres://{}@{}:{}/{}",
        opts.get_username(),
        opts.get_host(),
        opts.get_port(),
        opts.get_database().unwrap_or("")
    )
}

fn pg_err(e: sqlx::Error) -> StoreError {
    use sqlx::Error as E;
    match &e {
        E::Io(_) | E::Tls(_) | E::PoolTimedOut | E::PoolClosed | E::WorkerCrashed => {
            StoreError::Unavailable(format!("PostgreSQL: {e}"))
        }
        E::Database(d) => {
            let code = d.code().unwrap_or_default();
            // 08: connection exceptions; 57P0x: server shut down / restarting; 53: out of resources.
            if code.starts_with("08") || code.starts_with("57P") || code.starts_with("53") {
                StoreError::Unavailable(format!("PostgreSQL: {}", d.message()))
            } else {
                StoreError::Internal(format!("PostgreSQL {code}: {}", d.message()))
            }
        }
        _ => StoreError::Internal(format!("PostgreSQL: {e}")),
    }
}

impl PostgisStore {
    /// Connects to an existing Gengxin database, applying pending migrations. Fails with a clear
    /// error if the database is unreachable, lacks PostGIS (or has one older than
    /// [`MIN_POSTGIS`]), is not a Gengxin store, or has a newer schema.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let store = Self::connect(url).await?;
        store.check_postgis().await?;
        let found = store.read_version().await?;
        let Some(found) = found else {
            return Err(StoreError::NotGengxin(store.location.clone()));
        };
        if found > latest_version() {
            return Err(StoreError::TooNew {
                path: store.location.clone(),
                found,
                supported: latest_version(),
            });
        }
        store.migrate().await?;
        Ok(store)
    }

    /// Connects, creating the PostGIS extension and Gengxin's schema if they are missing.
    pub async fn create_or_open(url: &str) -> Result<Self, StoreError> {
        let store = Self::connect(url).await?;
        let available: Option<String> = sqlx::query_scalar(
            "SELECT default_version FROM pg_available_extensions WHERE name = 'postgis'",
        )
        .fetch_optional(&mut *store.conn().await?)
        .await
        .map_err(pg_err)?;
        if available.is_none() {
            return Err(StoreError::NoPostgis(format!(
                "the PostgreSQL server of {} has no PostGIS to install; install it on the server \
                 (Debian: apt-get install postgresql-15-postgis-3)",
                store.location
            )));
        }
        // Under the migration lock: servers starting together would race to create it.
        let mut tx = store.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(schema::MIGRATION_LOCK)
            .execute(&mut *tx)
            .await
            .map_err(pg_err)?;
        sqlx::query("CREATE EXTENSION IF NOT EXISTS postgis")
            .execute(&mut *tx)
            .await
            .map_err(|e| match pg_err(e) {
                StoreError::Internal(m) => StoreError::NoPostgis(format!(
                    "cannot create the PostGIS extension in {}: {m} (a superuser or the database owner must run CREATE EXTENSION postgis)",
                    store.location
                )),
                other => other,
            })?;
        tx.commit().await.map_err(pg_err)?;
        store.check_postgis().await?;
        if let Some(found) = store.read_version().await?
            && found > latest_version()
        {
            return Err(StoreError::TooNew {
                path: store.location.clone(),
                found,
                supported: latest_version(),
            });
        }
        store.migrate().await?;
        Ok(store)
    }

    async fn connect(url: &str) -> Result<Self, StoreError> {
        let opts = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::Unavailable(format!("bad PostgreSQL URL: {e}")))?
            .application_name("gengxin");
        let location = describe(&opts);
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .test_before_acquire(true)
            .connect_with(opts)
            .await
            .map_err(|e| match pg_err(e) {
                StoreError::Unavailable(m) | StoreError::Internal(m) => {
                    StoreError::Unavailable(format!("cannot connect to {location}: {m}"))
                }
                other => other,
            })?;
        let origin = format!(
            "{:x}",
            Sha256::digest(format!(
                "{}-{:?}-{:?}",
                std::process::id(),
                std::time::SystemTime::now(),
                std::thread::current().id()
            ))
        )[..16]
            .to_owned();
        let (changes, _) = broadcast::channel(1024);
        // Listening before the store is handed out: every write another server commits after
        // `open` returns is heard.
        let first = subscribe(&pool).await.map_err(|e| match pg_err(e) {
            StoreError::Unavailable(m) | StoreError::Internal(m) => {
                StoreError::Unavailable(format!("cannot listen on {location}: {m}"))
            }
            other => other,
        })?;
        let listener = tokio::spawn(listen(pool.clone(), first, origin.clone(), changes.clone()));
        Ok(PostgisStore {
            pool,
            location,
            origin,
            changes,
            listener,
        })
    }

    /// A connection from the pool. Failing to get one — the server is down, refuses connections,
    /// or every connection is busy past the timeout — means the store is unavailable.
    async fn conn(&self) -> Result<sqlx::pool::PoolConnection<sqlx::Postgres>, StoreError> {
        self.pool.acquire().await.map_err(|e| self.unavailable(e))
    }

    async fn begin(&self) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, StoreError> {
        self.pool.begin().await.map_err(|e| self.unavailable(e))
    }

    fn unavailable(&self, e: sqlx::Error) -> StoreError {
        let m = match &e {
            sqlx::Error::Database(d) => d.message().to_owned(),
            e => e.to_string(),
        };
        StoreError::Unavailable(format!("PostgreSQL at {}: {m}", self.location))
    }

    async fn check_postgis(&self) -> Result<(), StoreError> {
        let version: Option<String> =
            sqlx::query_scalar("SELECT extversion FROM pg_extension WHERE extname = 'postgis'")
                .fetch_optional(&mut *self.conn().await?)
                .await
                .map_err(pg_err)?;
        let Some(version) = version else {
            return Err(StoreError::NoPostgis(format!(
                "{} has no PostGIS extension; run `gengxin migrate --store …` to create it \
                 (PostGIS must be installed on the server, Debian: apt-get install postgresql-15-postgis-3)",
                self.location
            )));
        };
        if major_minor(&version) < MIN_POSTGIS {
            return Err(StoreError::NoPostgis(format!(
                "{} has PostGIS {version}; Gengxin needs {}.{} or newer (ALTER EXTENSION postgis UPDATE)",
                self.location, MIN_POSTGIS.0, MIN_POSTGIS.1
            )));
        }
        Ok(())
    }

    async fn read_version(&self) -> Result<Option<i64>, StoreError> {
        let has_meta: bool = sqlx::query_scalar("SELECT to_regclass('gengxin.meta') IS NOT NULL")
            .fetch_one(&mut *self.conn().await?)
            .await
            .map_err(pg_err)?;
        if !has_meta {
            return Ok(None);
        }
        let v: Option<String> =
            sqlx::query_scalar("SELECT value FROM gengxin.meta WHERE key = 'schema_version'")
                .fetch_optional(&mut *self.conn().await?)
                .await
                .map_err(pg_err)?;
        Ok(Some(v.and_then(|v| v.parse().ok()).unwrap_or(0)))
    }

    /// Applies pending migrations, each in one transaction under the migration lock.
    async fn migrate(&self) -> Result<(), StoreError> {
        loop {
            let mut tx = self.begin().await?;
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(schema::MIGRATION_LOCK)
                .execute(&mut *tx)
                .await
                .map_err(pg_err)?;
            // Read under the lock: another server may have migrated meanwhile.
            let has_meta: bool =
                sqlx::query_scalar("SELECT to_regclass('gengxin.meta') IS NOT NULL")
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(pg_err)?;
            let current: i64 = if has_meta {
                sqlx::query_scalar::<_, String>(
                    "SELECT value FROM gengxin.meta WHERE key = 'schema_version'",
                )
                .fetch_optional(&mut *tx)
                .await
                .map_err(pg_err)?
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
            } else {
                0
            };
            let Some(m) = schema::MIGRATIONS.get(current as usize) else {
                return Ok(());
            };
            for stmt in m() {
                sqlx::query(trusted(stmt))
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| match pg_err(e) {
                        StoreError::Internal(m) => StoreError::Internal(format!(
                            "migration {} of {}: {m}",
                            current + 1,
                            self.location
                        )),
                        other => other,
                    })?;
            }
            sqlx::query(
                "INSERT INTO gengxin.meta (key, value) VALUES ('schema_version', $1)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            )
            .bind((current + 1).to_string())
            .execute(&mut *tx)
            .await
            .map_err(pg_err)?;
            tx.commit().await.map_err(pg_err)?;
        }
    }

    /// Runs `f` in one transaction, announces its changes to the other servers inside it (NOTIFY
    /// is delivered at commit), commits, and announces them to this process.
    /// Fresh statistics after a bulk load, so the planner uses the indexes at once.
    async fn analyze(&self, layers: &[&'static Layer]) {
        for layer in layers {
            let _ = sqlx::query(trusted(format!("ANALYZE {}", schema::table(layer))))
                .execute(&self.pool)
                .await;
        }
    }

    async fn write<F>(&self, f: F) -> Result<(), StoreError>
    where
        F: for<'c> FnOnce(
                &'c mut PgConnection,
            ) -> std::pin::Pin<
                Box<dyn Future<Output = Result<Vec<Change>, StoreError>> + Send + 'c>,
            > + Send,
    {
        let mut tx = self.begin().await?;
        let changes = f(&mut tx).await?;
        for c in &changes {
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(CHANNEL)
                .bind(payload(&self.origin, c))
                .execute(&mut *tx)
                .await
                .map_err(pg_err)?;
        }
        tx.commit().await.map_err(pg_err)?;
        for c in changes {
            let _ = self.changes.send(c);
        }
        Ok(())
    }
}

/// The (major, minor) of a PostGIS version such as `3.3.2` or `3.4.0dev`; (0, 0) if unreadable.
fn major_minor(version: &str) -> (u32, u32) {
    let mut parts = version
        .split(|c: char| !c.is_ascii_digit())
        .map(str::parse::<u32>);
    (
        parts.next().and_then(Result::ok).unwrap_or(0),
        parts.next().and_then(Result::ok).unwrap_or(0),
    )
}

/// `origin \t layer \t id \t id …` (ids dropped when too long: "the whole layer").
fn payload(origin: &str, c: &Change) -> String {
    match c {
        Change::Features { layer, ids } => {
            let name = Layer::by_id(*layer).name;
            let mut p = format!("{origin}\t{name}");
            let listed: usize = ids.iter().map(|i| i.len() + 1).sum();
            if p.len() + listed <= MAX_PAYLOAD {
                for id in ids {
                    p.push('\t');
                    p.push_str(id);
                }
            }
            p
        }
        Change::Unknown => format!("{origin}\t*"),
    }
}

fn parse_payload(p: &str) -> Option<(&str, Change)> {
    let mut parts = p.split('\t');
    let origin = parts.next()?;
    let layer = parts.next()?;
    if layer == "*" {
        return Some((origin, Change::Unknown));
    }
    let layer = Layer::by_name(layer)?.id;
    Some((
        origin,
        Change::Features {
            layer,
            ids: parts.map(str::to_owned).collect(),
        },
    ))
}

/// A connection listening on the announcement channel.
async fn subscribe(pool: &PgPool) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

/// Relays other servers' announcements, starting with the connection `open` subscribed. When the
/// listening connection is lost, announcements may have been missed, so it announces
/// [`Change::Unknown`] and reconnects.
async fn listen(
    pool: PgPool,
    first: PgListener,
    origin: String,
    changes: broadcast::Sender<Change>,
) {
    let mut first = Some(first);
    loop {
        let mut listener = match first.take() {
            Some(l) => l,
            None => match subscribe(&pool).await {
                Ok(l) => l,
                Err(_) => {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            },
        };
        loop {
            match listener.try_recv().await {
                Ok(Some(n)) => {
                    if let Some((from, change)) = parse_payload(n.payload())
                        && from != origin
                    {
                        let _ = changes.send(change);
                    }
                }
                // The connection was lost (and will be re-established): say so.
                Ok(None) => {
                    let _ = changes.send(Change::Unknown);
                }
                Err(_) => {
                    let _ = changes.send(Change::Unknown);
                    break;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The columns every query selects, in order: [geometry as WKB], id, provenance, created_at,
/// updated_at, version, fields...
fn select_list(layer: &Layer) -> String {
    let mut s = Vec::new();
    if layer.geometry.is_some() {
        s.push("ST_AsBinary(t.geom)".to_owned());
    }
    s.extend(
        ["id", "provenance", "created_at", "updated_at", "version"].map(|c| format!("t.\"{c}\"")),
    );
    s.extend(layer.fields.iter().map(|f| format!("t.\"{}\"", f.name)));
    s.join(", ")
}

fn decode_err(layer: &Layer, e: impl std::fmt::Display) -> StoreError {
    StoreError::Internal(format!("{}: cannot read a row: {e}", layer.name))
}

fn row_to_feature(layer: &Layer, row: &PgRow) -> Result<Feature, StoreError> {
    let err = |e: sqlx::Error| decode_err(layer, e);
    let mut i = 0;
    let geometry = match layer.geometry {
        Some(_) => {
            i = 1;
            let wkb: Vec<u8> = row.try_get(0).map_err(err)?;
            Some(Wkb(wkb).to_geo().map_err(|e| decode_err(layer, e))?)
        }
        None => None,
    };
    let mut properties = BTreeMap::new();
    for (k, field) in layer.fields.iter().enumerate() {
        let at = i + 5 + k;
        let v = match field.ty {
            FieldType::Text => row
                .try_get::<Option<String>, _>(at)
                .map(|v| v.map(Value::Text)),
            FieldType::Int => row.try_get::<Option<i64>, _>(at).map(|v| v.map(Value::Int)),
            FieldType::Real => row
                .try_get::<Option<f64>, _>(at)
                .map(|v| v.map(Value::Real)),
            FieldType::Bool => row
                .try_get::<Option<bool>, _>(at)
                .map(|v| v.map(Value::Bool)),
            FieldType::Date => row
                .try_get::<Option<NaiveDate>, _>(at)
                .map(|v| v.map(|d| Value::Text(d.format("%Y-%m-%d").to_string()))),
            FieldType::DateTime => row
                .try_get::<Option<DateTime<Utc>>, _>(at)
                .map(|v| v.map(|t| Value::Text(timestamp(&t)))),
        }
        .map_err(err)?;
        if let Some(v) = v {
            properties.insert(field.name.to_owned(), v);
        }
    }
    Ok(Feature {
        id: row.try_get(i).map_err(err)?,
        geometry,
        properties,
        provenance: row.try_get(i + 1).map_err(err)?,
        created_at: row.try_get(i + 2).map_err(err)?,
        updated_at: row.try_get(i + 3).map_err(err)?,
        version: row.try_get(i + 4).map_err(err)?,
    })
}

/// A parameter placeholder with the cast its field type needs (text travels as text).
fn placeholder(n: usize, ty: FieldType) -> String {
    match ty {
        FieldType::Date => format!("${n}::date"),
        FieldType::DateTime => format!("${n}::timestamptz"),
        _ => format!("${n}"),
    }
}

fn push<'q, T>(args: &mut PgArguments, v: T) -> Result<(), StoreError>
where
    T: sqlx::Encode<'q, sqlx::Postgres> + sqlx::Type<sqlx::Postgres> + 'q,
{
    args.add(v)
        .map_err(|e| StoreError::Internal(format!("cannot bind a parameter: {e}")))
}

/// Binds a property value as its field's type (null as a typed null).
fn bind(args: &mut PgArguments, ty: FieldType, v: &Value) -> Result<(), StoreError> {
    match (ty, v) {
        (FieldType::Int, Value::Int(i)) => push(args, *i),
        (FieldType::Int, _) => push(args, None::<i64>),
        (FieldType::Real, Value::Real(r)) => push(args, *r),
        (FieldType::Real, Value::Int(i)) => push(args, *i as f64),
        (FieldType::Real, _) => push(args, None::<f64>),
        (FieldType::Bool, Value::Bool(b)) => push(args, *b),
        (FieldType::Bool, _) => push(args, None::<bool>),
        (_, Value::Text(s)) => push(args, s.clone()),
        (_, _) => push(args, None::<String>),
    }
}

fn ewkb(layer: &Layer, f: &Feature) -> Result<Option<Vec<u8>>, StoreError> {
    f.geometry
        .as_ref()
        .map(|g| {
            g.to_ewkb(CoordDimensions::xy(), Some(STORAGE_SRID))
                .map_err(|e| {
                    StoreError::Invalid(gengxin_model::ValidationError::Geometry {
                        layer: layer.name,
                        id: f.id.clone(),
                        problem: e.to_string(),
                    })
                })
        })
        .transpose()
}

/// Appends one value in COPY's text format.
fn copy_text(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
}

fn copy_row(out: &mut String, layer: &Layer, f: &Feature) -> Result<(), StoreError> {
    use std::fmt::Write;
    if let Some(wkb) = ewkb(layer, f)? {
        for b in wkb {
            let _ = write!(out, "{b:02X}");
        }
        out.push('\t');
    }
    copy_text(out, &f.id);
    out.push('\t');
    copy_text(out, &f.provenance);
    let _ = write!(
        out,
        "\t{}\t{}\t{}",
        timestamp(&f.created_at),
        timestamp(&f.updated_at),
        f.version
    );
    for field in layer.fields {
        out.push('\t');
        match f.get(field.name) {
            Value::Null => out.push_str("\\N"),
            Value::Bool(b) => out.push(if *b { 't' } else { 'f' }),
            Value::Int(i) => {
                let _ = write!(out, "{i}");
            }
            // `{:?}` is the shortest text that reads back as the same f64.
            Value::Real(r) => {
                let _ = write!(out, "{r:?}");
            }
            Value::Text(s) => copy_text(out, s),
        }
    }
    out.push('\n');
    Ok(())
}

/// The id in a unique-violation detail: `Key (id)=(x) already exists.`
fn duplicate_id(e: &sqlx::Error) -> Option<String> {
    let d = e.as_database_error()?;
    if d.code().as_deref() != Some("23505") {
        return None;
    }
    let pg = d.try_downcast_ref::<sqlx::postgres::PgDatabaseError>()?;
    let detail = pg.detail()?;
    let rest = detail.strip_prefix("Key (id)=(")?;
    Some(rest.strip_suffix(") already exists.")?.to_owned())
}

async fn insert_layer(
    conn: &mut PgConnection,
    layer: &'static Layer,
    features: &[Feature],
) -> Result<(), StoreError> {
    let mut cols: Vec<String> = ["id", "provenance", "created_at", "updated_at", "version"]
        .map(|c| format!("\"{c}\""))
        .into();
    if layer.geometry.is_some() {
        cols.insert(0, "geom".into());
    }
    cols.extend(layer.fields.iter().map(|f| format!("\"{}\"", f.name)));
    let mut copy = conn
        .copy_in_raw(&format!(
            "COPY {} ({}) FROM STDIN",
            schema::table(layer),
            cols.join(", ")
        ))
        .await
        .map_err(pg_err)?;
    let dup = |e: sqlx::Error| match duplicate_id(&e) {
        Some(id) => StoreError::Duplicate {
            layer: layer.name,
            id,
        },
        None => pg_err(e),
    };
    let mut buf = String::new();
    for f in features {
        if let Err(e) = copy_row(&mut buf, layer, f) {
            let _ = copy.abort("invalid row").await;
            return Err(e);
        }
        if buf.len() > 1 << 20
            && let Err(e) = copy.send(std::mem::take(&mut buf).into_bytes()).await
        {
            return Err(dup(e));
        }
    }
    if !buf.is_empty()
        && let Err(e) = copy.send(buf.into_bytes()).await
    {
        return Err(dup(e));
    }
    copy.finish().await.map_err(dup)?;
    Ok(())
}

/// Locks a row and checks its version against the version an edit was based on.
async fn lock_version(
    conn: &mut PgConnection,
    layer: &'static Layer,
    id: &str,
    expected: i64,
) -> Result<(), StoreError> {
    let found: Option<i64> = sqlx::query_scalar(trusted(format!(
        "SELECT version FROM {} WHERE id = $1 FOR UPDATE",
        schema::table(layer)
    )))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await
    .map_err(pg_err)?;
    check_version(layer, id, expected, found)
}

async fn update_layer(
    conn: &mut PgConnection,
    layer: &'static Layer,
    features: &[Feature],
) -> Result<(), StoreError> {
    let mut sets = vec![
        "provenance = $1".to_owned(),
        "updated_at = $2::timestamptz".to_owned(),
        "version = $3".to_owned(),
    ];
    let mut n = 4;
    for f in layer.fields {
        sets.push(format!("\"{}\" = {}", f.name, placeholder(n, f.ty)));
        n += 1;
    }
    if layer.geometry.is_some() {
        sets.push(format!("geom = ST_GeomFromEWKB(${n})"));
        n += 1;
    }
    let sql = format!(
        "UPDATE {} SET {} WHERE id = ${n}",
        schema::table(layer),
        sets.join(", ")
    );
    for f in features {
        lock_version(conn, layer, &f.id, f.version).await?;
        let mut args = PgArguments::default();
        push(&mut args, f.provenance.clone())?;
        push(&mut args, timestamp(&f.updated_at))?;
        push(&mut args, f.version + 1)?;
        for field in layer.fields {
            bind(&mut args, field.ty, f.get(field.name))?;
        }
        if let Some(wkb) = ewkb(layer, f)? {
            push(&mut args, wkb)?;
        }
        push(&mut args, f.id.clone())?;
        sqlx::query_with(trusted(sql.clone()), args)
            .execute(&mut *conn)
            .await
            .map_err(pg_err)?;
    }
    Ok(())
}

async fn delete_layer(
    conn: &mut PgConnection,
    layer: &'static Layer,
    rows: &[(String, i64)],
) -> Result<(), StoreError> {
    let sql = format!("DELETE FROM {} WHERE id = $1", schema::table(layer));
    for (id, version) in rows {
        lock_version(conn, layer, id, *version).await?;
        sqlx::query(trusted(sql.clone()))
            .bind(id)
            .execute(&mut *conn)
            .await
            .map_err(pg_err)?;
    }
    Ok(())
}

/// An edit's writes (checked) in an open transaction; the changes to announce after the commit.
async fn apply_in(
    conn: &mut PgConnection,
    delete: Vec<(LayerId, Vec<(String, i64)>)>,
    update: Vec<(&'static Layer, Vec<Feature>)>,
    insert: Vec<(&'static Layer, Vec<Feature>)>,
) -> Result<Vec<Change>, StoreError> {
    let mut changes = Vec::new();
    for (layer, rows) in delete {
        let layer = Layer::by_id(layer);
        delete_layer(conn, layer, &rows).await?;
        changes.push(Change::of(layer.id, rows.into_iter().map(|(id, _)| id)));
    }
    for (layer, features) in update {
        update_layer(conn, layer, &features).await?;
        changes.push(Change::of(layer.id, features.into_iter().map(|f| f.id)));
    }
    for (layer, features) in insert {
        insert_layer(conn, layer, &features).await?;
        changes.push(Change::of(layer.id, features.into_iter().map(|f| f.id)));
    }
    Ok(changes)
}

#[async_trait]
impl Store for PostgisStore {
    async fn info(&self) -> Result<StoreInfo, StoreError> {
        Ok(StoreInfo {
            backend: "postgis",
            location: self.location.clone(),
            schema_version: self.read_version().await?.unwrap_or(0),
        })
    }

    async fn apply(&self, edit: Edit) -> Result<(), StoreError> {
        check_append_only(&edit)?;
        let update = check_batch(edit.update)?;
        let insert = check_batch(edit.insert)?;
        let delete = edit.delete;
        let big: Vec<&'static Layer> = insert
            .iter()
            .filter(|(_, f)| f.len() >= 10_000)
            .map(|(l, _)| *l)
            .collect();
        self.write(move |conn| Box::pin(apply_in(conn, delete, update, insert)))
            .await?;
        self.analyze(&big).await;
        Ok(())
    }

    async fn apply_streamed(&self, mut parts: crate::Parts) -> Result<(), StoreError> {
        let inserted = Arc::new(std::sync::Mutex::new(std::collections::HashMap::<
            LayerId,
            usize,
        >::new()));
        let counts = inserted.clone();
        self.write(move |conn| {
            Box::pin(async move {
                let mut changes = Vec::new();
                loop {
                    match parts.recv().await {
                        None => return Err(crate::stream_ended()),
                        Some(Err(e)) => return Err(e),
                        Some(Ok(crate::Part::Commit)) => return Ok(crate::merge_changes(changes)),
                        Some(Ok(crate::Part::Edit(edit))) => {
                            check_append_only(&edit)?;
                            let update = check_batch(edit.update)?;
                            let insert = check_batch(edit.insert)?;
                            if let Ok(mut c) = counts.lock() {
                                for (l, f) in &insert {
                                    *c.entry(l.id).or_default() += f.len();
                                }
                            }
                            changes.extend(apply_in(conn, edit.delete, update, insert).await?);
                        }
                    }
                }
            })
        })
        .await?;
        let big: Vec<&'static Layer> = inserted
            .lock()
            .map(|c| c.clone())
            .unwrap_or_default()
            .into_iter()
            .filter(|(_, n)| *n >= 10_000)
            .map(|(l, _)| Layer::by_id(l))
            .collect();
        self.analyze(&big).await;
        Ok(())
    }

    fn changes(&self) -> broadcast::Receiver<Change> {
        self.changes.subscribe()
    }

    async fn get(&self, layer: LayerId, id: &str) -> Result<Option<Feature>, StoreError> {
        let layer = Layer::by_id(layer);
        let sql = format!(
            "SELECT {} FROM {} t WHERE t.id = $1",
            select_list(layer),
            schema::table(layer)
        );
        let row = sqlx::query(trusted(sql.clone()))
            .bind(id)
            .fetch_optional(&mut *self.conn().await?)
            .await
            .map_err(pg_err)?;
        row.map(|r| row_to_feature(layer, &r)).transpose()
    }

    async fn query(&self, layer: LayerId, q: Query) -> Result<Vec<Feature>, StoreError> {
        let layer = Layer::by_id(layer);
        let q = check_query(layer, q)?;
        let mut wheres = Vec::new();
        let mut args = PgArguments::default();
        let mut n = 0;
        if let Some(b) = q.bbox {
            // `&&` uses the GiST index (float-rounded boxes); the exact envelope test follows,
            // so the answer is the same as the GeoPackage's.
            wheres.push(format!(
                "t.geom && ST_MakeEnvelope(${}, ${}, ${}, ${}, {STORAGE_SRID})
                 AND ST_XMin(t.geom) <= ${} AND ST_XMax(t.geom) >= ${} AND ST_YMin(t.geom) <= ${} AND ST_YMax(t.geom) >= ${}",
                n + 1, n + 2, n + 3, n + 4, n + 3, n + 1, n + 4, n + 2
            ));
            for v in [b.min_x, b.min_y, b.max_x, b.max_y] {
                push(&mut args, v)?;
            }
            n += 4;
        }
        for (field, v) in &q.equals {
            n += 1;
            wheres.push(format!(
                "t.\"{}\" = {}",
                field.name,
                placeholder(n, field.ty)
            ));
            bind(&mut args, field.ty, v)?;
        }
        if let Some(after) = q.after_id {
            n += 1;
            wheres.push(format!("t.id > ${n}"));
            push(&mut args, after)?;
        }
        let mut sql = format!(
            "SELECT {} FROM {} t",
            select_list(layer),
            schema::table(layer)
        );
        if !wheres.is_empty() {
            sql += &format!(" WHERE {}", wheres.join(" AND "));
        }
        sql += " ORDER BY t.id";
        if let Some(limit) = q.limit {
            sql += &format!(" LIMIT {limit}");
        }
        let rows = sqlx::query_with(trusted(sql.clone()), args)
            .fetch_all(&mut *self.conn().await?)
            .await
            .map_err(pg_err)?;
        rows.iter().map(|r| row_to_feature(layer, r)).collect()
    }

    async fn count(&self, layer: LayerId) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar(trusted(format!(
            "SELECT count(*) FROM {}",
            schema::table(Layer::by_id(layer))
        )))
        .fetch_one(&mut *self.conn().await?)
        .await
        .map_err(pg_err)?;
        Ok(n as u64)
    }

    async fn put_files(&self, files: Vec<Vec<u8>>) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        for bytes in files {
            let sha = format!("{:x}", Sha256::digest(&bytes));
            sqlx::query(
                "INSERT INTO gengxin.attachment_files (sha256, bytes) VALUES ($1, $2) ON CONFLICT (sha256) DO NOTHING",
            )
            .bind(sha)
            .bind(bytes)
            .execute(&mut *tx)
            .await
            .map_err(pg_err)?;
        }
        tx.commit().await.map_err(pg_err)
    }

    async fn file(&self, sha256: &str) -> Result<Option<Vec<u8>>, StoreError> {
        sqlx::query_scalar("SELECT bytes FROM gengxin.attachment_files WHERE sha256 = $1")
            .bind(sha256)
            .fetch_optional(&mut *self.conn().await?)
            .await
            .map_err(pg_err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_round_trip_and_stay_short() {
        let c = Change::of(LayerId::Parcels, ["a".to_owned(), "b".to_owned()]);
        assert_eq!(parse_payload(&payload("o1", &c)), Some(("o1", c)));
        assert_eq!(
            parse_payload(&payload("o1", &Change::Unknown)),
            Some(("o1", Change::Unknown))
        );
        let long = Change::of(LayerId::Parcels, (0..100).map(|i| format!("{i:0>100}")));
        let p = payload("o1", &long);
        assert!(p.len() < MAX_PAYLOAD);
        assert_eq!(
            parse_payload(&p),
            Some((
                "o1",
                Change::Features {
                    layer: LayerId::Parcels,
                    ids: vec![]
                }
            ))
        );
    }

    #[test]
    fn postgis_versions_compare_by_major_and_minor() {
        assert_eq!(major_minor("3.3.2"), (3, 3));
        assert_eq!(major_minor("3.5.0alpha1"), (3, 5));
        assert!(major_minor("2.5.5") < MIN_POSTGIS);
        assert!(major_minor("garbage") < MIN_POSTGIS);
        assert!(major_minor("3.0.0") >= MIN_POSTGIS);
    }

    #[test]
    fn copy_text_escapes_what_copy_reads_specially() {
        let mut s = String::new();
        copy_text(&mut s, "a\tb\\c\nd\re");
        assert_eq!(s, "a\\tb\\\\c\\nd\\re");
    }
}
