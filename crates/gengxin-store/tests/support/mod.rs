//! What the store tests share: a real store of each backend (a GeoPackage in a temporary folder,
//! a scratch database on the machine's PostgreSQL), and fixtures.
//!
//! The PostgreSQL server is found at `GENGXIN_TEST_PG` (an admin URL), by default
//! `postgres://postgres@127.0.0.1:5432/postgres`. Tests fail, never skip, when it is unreachable.
#![allow(dead_code)]

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{TimeZone, Utc};
use gengxin_model::{Feature, FieldType, GENERATED, GeometryType, Layer, LayerId, catalogue};
use gengxin_store::Store;
use geo_types::{LineString, MultiLineString, MultiPolygon, Point, Polygon, polygon};
use sqlx::ConnectOptions;
use sqlx::postgres::PgConnectOptions;

pub fn admin_url() -> String {
    std::env::var("GENGXIN_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// Runs SQL as the admin on the server's maintenance database.
pub async fn admin(sql: &str) {
    let mut c = PgConnectOptions::from_str(&admin_url())
        .unwrap()
        .connect()
        .await
        .unwrap_or_else(|e| {
            panic!(
                "PostgreSQL at {} is needed by these tests: {e}",
                admin_url()
            )
        });
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(&mut c)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// A database of its own on the test server, dropped by [`ScratchDb::drop`].
pub struct ScratchDb {
    pub name: String,
    pub url: String,
}

static NEXT: AtomicUsize = AtomicUsize::new(0);

impl ScratchDb {
    pub async fn new() -> ScratchDb {
        let name = format!(
            "gengxin_t_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        admin(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
        admin(&format!(
            "CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8'"
        ))
        .await;
        let base = admin_url();
        let (prefix, _) = base.rsplit_once('/').expect("URL has a database");
        ScratchDb {
            url: format!("{prefix}/{name}"),
            name,
        }
    }

    pub async fn drop(self) {
        admin(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ))
        .await;
    }
}

/// One real store of one backend.
pub struct Backend {
    pub location: String,
    pub store: Arc<dyn Store>,
    _dir: Option<tempfile::TempDir>,
    db: Option<ScratchDb>,
}

impl Backend {
    pub async fn geopackage() -> Backend {
        let dir = tempfile::tempdir().unwrap();
        let location = dir.path().join("t.gpkg").display().to_string();
        let store = gengxin_store::create_or_open(&location).await.unwrap();
        Backend {
            location,
            store,
            _dir: Some(dir),
            db: None,
        }
    }

    pub async fn postgis() -> Backend {
        let db = ScratchDb::new().await;
        let location = db.url.clone();
        let store = gengxin_store::create_or_open(&location).await.unwrap();
        Backend {
            location,
            store,
            _dir: None,
            db: Some(db),
        }
    }

    pub fn store(&self) -> &dyn Store {
        &*self.store
    }

    /// A second, independent handle on the same store (as a second server would have).
    pub async fn open_again(&self) -> Arc<dyn Store> {
        gengxin_store::open(&self.location).await.unwrap()
    }

    pub async fn finish(self) {
        drop(self.store);
        if let Some(db) = self.db {
            db.drop().await;
        }
    }
}

pub fn at() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 8, 30, 0).unwrap()
}

pub fn unit(code: &str, parent: Option<&str>, x: f64) -> Feature {
    Feature::new(code, GENERATED, at())
        .with_geometry(polygon![(x: x, y: 30.0), (x: x + 0.1, y: 30.0), (x: x + 0.1, y: 30.1), (x: x, y: 30.1)])
        .set("code", code)
        .set("name", format!("单元{code}"))
        .set("level", if parent.is_some() { "district" } else { "city" })
        .set("kind", if parent.is_some() { "district" } else { "city" })
        .set("parent_code", parent)
        .set("area_m2", 1.5e8)
}

pub fn facility(id: &str, x: f64, y: f64) -> Feature {
    Feature::new(id, GENERATED, at())
        .with_geometry(Point::new(x, y))
        .set("name", format!("设施{id}"))
        .set("category", "kindergarten")
        .set("tier", "5min")
        .set("capacity", 240_i64)
}

/// Text that every encoding layer has a chance to get wrong.
pub const TRICKY_TEXT: &str = "汉口\t\"引号\" 'x' \\反斜杠\\N\n换行\r回车 ; DROP TABLE x; -- 😀";

/// Reals whose exact bits must survive.
pub const TRICKY_REALS: [f64; 6] = [0.1, -0.0, 1e-300, f64::MAX, 123_456.789_012_345_67, -2.5e-7];

/// A feature for every layer of the catalogue with every field filled (the `i`th variant of the
/// tricky values), and a geometry with the awkward parts its type allows (holes, several parts).
pub fn full_feature(layer: &Layer, i: usize) -> Feature {
    let x0 = 114.0 + i as f64 * 0.001_234_567_890_123;
    let mut f = Feature::new(format!("{}-{i:03}", layer.name), GENERATED, at());
    f.provenance = if i.is_multiple_of(2) {
        "OpenStreetMap".into()
    } else {
        GENERATED.into()
    };
    f.updated_at = at() + chrono::Duration::milliseconds(1234 + i as i64);
    f.version = 1 + i as i64;
    if let Some(g) = layer.geometry {
        f = match g {
            GeometryType::Point | GeometryType::Any => f.with_geometry(Point::new(x0, 30.5)),
            GeometryType::MultiLineString => f.with_geometry(MultiLineString(vec![
                LineString::from(vec![(x0, 30.5), (x0 + 0.01, 30.51), (x0 + 0.02, 30.5)]),
                LineString::from(vec![(x0, 30.6), (x0 + 0.001, 30.6)]),
            ])),
            GeometryType::MultiPolygon => {
                let outer = LineString::from(vec![
                    (x0, 30.0),
                    (x0 + 0.1, 30.0),
                    (x0 + 0.1, 30.1),
                    (x0, 30.1),
                    (x0, 30.0),
                ]);
                let hole = LineString::from(vec![
                    (x0 + 0.02, 30.02),
                    (x0 + 0.03, 30.02),
                    (x0 + 0.03, 30.03),
                    (x0 + 0.02, 30.02),
                ]);
                f.with_geometry(MultiPolygon(vec![
                    Polygon::new(outer, vec![hole]),
                    polygon![(x: x0 + 0.2, y: 30.0), (x: x0 + 0.3, y: 30.0), (x: x0 + 0.3, y: 30.1)],
                ]))
            }
        };
    }
    for field in layer.fields {
        f = match (field.ty, field.codes) {
            (FieldType::Text, Some(codes)) => f.set(field.name, codes[i % codes.len()].code),
            (FieldType::Text, None) => f.set(field.name, format!("{TRICKY_TEXT}{i}")),
            (FieldType::Int, _) => f.set(
                field.name,
                [i64::MIN, i64::MAX, 0, -1, 42][i % 5] + if i % 5 >= 2 { i as i64 } else { 0 },
            ),
            (FieldType::Real, _) => f.set(field.name, TRICKY_REALS[i % TRICKY_REALS.len()]),
            (FieldType::Bool, _) => f.set(field.name, i.is_multiple_of(2)),
            (FieldType::Date, _) => f.set(
                field.name,
                ["2026-02-28", "0001-01-01", "9999-12-31"][i % 3],
            ),
            (FieldType::DateTime, _) => f.set(
                field.name,
                ["2026-03-01T08:00:00.123+08:00", "2026-03-01T00:00:00Z"][i % 2],
            ),
        };
    }
    f
}

/// Every layer's full features, `n` per layer; attachments (whose rows need files) excepted.
pub fn every_layer(n: usize) -> Vec<(LayerId, Vec<Feature>)> {
    catalogue()
        .iter()
        .filter(|l| l.id != LayerId::Attachments)
        .map(|l| (l.id, (0..n).map(|i| full_feature(l, i)).collect()))
        .collect()
}

/// Attachment metadata owned by a project.
pub fn attachment(id: &str) -> Feature {
    Feature::new(id, GENERATED, at())
        .set("owner_layer", "projects")
        .set("owner_id", "prj-0001")
        .set("file_name", "项目简介.txt")
        .set("media_type", "text/plain; charset=utf-8")
}
