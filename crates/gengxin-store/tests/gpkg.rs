//! The GeoPackage backend against real files: round trips, transactions, queries, and every
//! way opening a bad file must fail without touching it.

use std::path::{Path, PathBuf};

use chrono::{TimeZone, Utc};
use gengxin_model::{Feature, GENERATED, LayerId, Value};
use gengxin_store::gpkg::{GeoPackageStore, latest_version};
use gengxin_store::{Bbox, Query, Store, StoreError, canonical_hash};
use geo_types::{Point, polygon};

fn at() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 8, 30, 0).unwrap()
}

fn unit(code: &str, parent: Option<&str>, x: f64) -> Feature {
    Feature::new(code, GENERATED, at())
        .with_geometry(polygon![(x: x, y: 30.0), (x: x + 0.1, y: 30.0), (x: x + 0.1, y: 30.1), (x: x, y: 30.1)])
        .set("code", code)
        .set("name", format!("单元{code}"))
        .set("level", if parent.is_some() { "district" } else { "city" })
        .set("kind", if parent.is_some() { "district" } else { "city" })
        .set("parent_code", parent)
        .set("area_m2", 1.5e8)
}

fn facility(id: &str, x: f64, y: f64) -> Feature {
    Feature::new(id, GENERATED, at())
        .with_geometry(Point::new(x, y))
        .set("name", format!("设施{id}"))
        .set("category", "kindergarten")
        .set("tier", "5min")
        .set("capacity", 240_i64)
}

fn new_store(dir: &Path) -> (PathBuf, GeoPackageStore) {
    let path = dir.join("t.gpkg");
    let s = GeoPackageStore::create_or_open(&path).unwrap();
    (path, s)
}

fn bytes(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap()
}

#[tokio::test]
async fn features_round_trip_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let (path, s) = new_store(dir.path());
    let f = unit("420100", None, 114.123_456_789_012_3);
    s.insert(vec![(LayerId::AdminUnits, vec![f.clone()])])
        .await
        .unwrap();
    let got = s.get(LayerId::AdminUnits, "420100").await.unwrap().unwrap();
    let expected = gengxin_model::Layer::by_id(LayerId::AdminUnits)
        .check(f)
        .unwrap();
    assert_eq!(got, expected);
    assert!(s.get(LayerId::AdminUnits, "nope").await.unwrap().is_none());
    drop(s);
    // Reopening finds the same data and the current schema version.
    let s = GeoPackageStore::open(&path).unwrap();
    assert_eq!(s.info().await.unwrap().schema_version, latest_version());
    assert_eq!(s.count(LayerId::AdminUnits).await.unwrap(), 1);
}

#[tokio::test]
async fn a_batch_is_all_or_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (_, s) = new_store(dir.path());
    let bad = facility("f2", 114.0, 30.0).set("category", "casino");
    let err = s
        .insert(vec![
            (LayerId::AdminUnits, vec![unit("420100", None, 114.0)]),
            (LayerId::Facilities, vec![facility("f1", 114.0, 30.0), bad]),
        ])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err}");
    assert_eq!(s.count(LayerId::AdminUnits).await.unwrap(), 0);
    assert_eq!(s.count(LayerId::Facilities).await.unwrap(), 0);

    s.insert(vec![(
        LayerId::Facilities,
        vec![facility("f1", 114.0, 30.0)],
    )])
    .await
    .unwrap();
    let err = s
        .insert(vec![(
            LayerId::Facilities,
            vec![facility("f3", 114.0, 30.0), facility("f1", 114.5, 30.5)],
        )])
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Duplicate { layer: "facilities", ref id } if id == "f1"),
        "{err}"
    );
    assert_eq!(
        s.count(LayerId::Facilities).await.unwrap(),
        1,
        "f3 must not survive the failed batch"
    );
}

#[tokio::test]
async fn bbox_queries_use_exact_envelopes_and_page_by_id() {
    let dir = tempfile::tempdir().unwrap();
    let (path, s) = new_store(dir.path());
    let fs: Vec<Feature> = (0..50)
        .map(|i| facility(&format!("f{i:02}"), 114.0 + i as f64 * 0.01, 30.5))
        .collect();
    s.insert(vec![(LayerId::Facilities, fs)]).await.unwrap();
    let bbox = Bbox::new(114.095, 30.4, 114.205, 30.6).unwrap();
    let q = |after: Option<&str>, limit| Query {
        bbox: Some(bbox),
        after_id: after.map(str::to_owned),
        limit,
        ..Query::default()
    };
    let all = s.query(LayerId::Facilities, q(None, None)).await.unwrap();
    let ids: Vec<&str> = all.iter().map(|f| f.id.as_str()).collect();
    assert_eq!(
        ids,
        (10..=20).map(|i| format!("f{i:02}")).collect::<Vec<_>>()
    );
    let page1 = s
        .query(LayerId::Facilities, q(None, Some(4)))
        .await
        .unwrap();
    let page2 = s
        .query(LayerId::Facilities, q(Some(&page1[3].id), Some(4)))
        .await
        .unwrap();
    assert_eq!(page1.len(), 4);
    assert_eq!(page2[0].id, "f14");
    // A point exactly on the box edge is inside (envelopes touch).
    let edge = Bbox::new(114.1, 30.5, 114.1, 30.5).unwrap();
    let on = s
        .query(
            LayerId::Facilities,
            Query {
                bbox: Some(edge),
                ..Query::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(on.len(), 1);
    // The GeoPackage R-tree holds one entry per feature.
    let conn = rusqlite::Connection::open(&path).unwrap();
    let n: i64 = conn
        .query_row(
            "SELECT count(*) FROM rtree_community_facilities_geom",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(n, 50);
}

#[tokio::test]
async fn equality_filters_and_unknown_fields() {
    let dir = tempfile::tempdir().unwrap();
    let (_, s) = new_store(dir.path());
    s.insert(vec![(
        LayerId::AdminUnits,
        vec![
            unit("420100", None, 114.0),
            unit("420103", Some("420100"), 114.2),
            unit("420102", Some("420100"), 114.1),
        ],
    )])
    .await
    .unwrap();
    let q = Query {
        equals: vec![("parent_code".into(), Value::from("420100"))],
        ..Query::default()
    };
    let kids = s.query(LayerId::AdminUnits, q).await.unwrap();
    assert_eq!(
        kids.iter().map(|f| f.id.as_str()).collect::<Vec<_>>(),
        ["420102", "420103"]
    );
    let q = Query {
        equals: vec![("colour; DROP TABLE x".into(), Value::from("1"))],
        ..Query::default()
    };
    assert!(matches!(
        s.query(LayerId::AdminUnits, q).await.unwrap_err(),
        StoreError::UnknownField { .. }
    ));
    let q = Query {
        bbox: Some(Bbox::new(0.0, 0.0, 1.0, 1.0).unwrap()),
        ..Query::default()
    };
    assert!(
        s.query(LayerId::Projects, q).await.is_err(),
        "bbox on an attribute layer"
    );
}

#[tokio::test]
async fn readers_are_not_blocked_by_a_writer() {
    let dir = tempfile::tempdir().unwrap();
    let (path, s) = new_store(dir.path());
    s.insert(vec![(
        LayerId::Facilities,
        vec![facility("f1", 114.0, 30.0)],
    )])
    .await
    .unwrap();
    // Another process-like connection holds an open write transaction.
    let mut other = rusqlite::Connection::open(&path).unwrap();
    let tx = other
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .unwrap();
    // (A DELETE: its R-tree trigger needs none of the ST_* functions this plain connection lacks.)
    tx.execute("DELETE FROM community_facilities WHERE id = 'f1'", [])
        .unwrap();
    // WAL: the store still reads the last committed state, at once.
    let f = s.get(LayerId::Facilities, "f1").await.unwrap();
    assert!(f.is_some(), "the uncommitted delete must not be visible");
    tx.commit().unwrap();
    assert!(
        s.get(LayerId::Facilities, "f1").await.unwrap().is_none(),
        "the committed delete is visible"
    );
}

#[tokio::test]
async fn canonical_hash_follows_content_only() {
    let dir = tempfile::tempdir().unwrap();
    let a = GeoPackageStore::create_or_open(&dir.path().join("a.gpkg")).unwrap();
    let b = GeoPackageStore::create_or_open(&dir.path().join("b.gpkg")).unwrap();
    // Same content, inserted in a different order and in different batches.
    a.insert(vec![(
        LayerId::Facilities,
        vec![facility("f1", 114.0, 30.0), facility("f2", 114.1, 30.0)],
    )])
    .await
    .unwrap();
    b.insert(vec![(
        LayerId::Facilities,
        vec![facility("f2", 114.1, 30.0)],
    )])
    .await
    .unwrap();
    b.insert(vec![(
        LayerId::Facilities,
        vec![facility("f1", 114.0, 30.0)],
    )])
    .await
    .unwrap();
    assert_eq!(
        canonical_hash(&a).await.unwrap(),
        canonical_hash(&b).await.unwrap()
    );
    let c = GeoPackageStore::create_or_open(&dir.path().join("c.gpkg")).unwrap();
    c.insert(vec![(
        LayerId::Facilities,
        vec![
            facility("f1", 114.0, 30.0),
            facility("f2", 114.1, 30.000_000_001),
        ],
    )])
    .await
    .unwrap();
    assert_ne!(
        canonical_hash(&a).await.unwrap(),
        canonical_hash(&c).await.unwrap()
    );
}

#[test]
fn opening_a_missing_file_fails_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("none.gpkg");
    let e = GeoPackageStore::open(&p).err().unwrap();
    assert!(matches!(e, StoreError::Missing(_)), "{e}");
    assert!(e.to_string().contains("does not exist"));
    assert!(!p.exists());
}

#[test]
fn opening_a_text_file_fails_and_leaves_it_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("notes.gpkg");
    std::fs::write(&p, "这不是数据库 — not a database, but long enough to have a header of one hundred bytes, surely it is").unwrap();
    let before = bytes(&p);
    let e = GeoPackageStore::open(&p).err().unwrap();
    assert!(e.to_string().contains("not an SQLite database"), "{e}");
    assert_eq!(bytes(&p), before);
}

#[test]
fn opening_a_plain_sqlite_or_foreign_geopackage_fails_and_leaves_it_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("plain.gpkg");
    rusqlite::Connection::open(&p)
        .unwrap()
        .execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);")
        .unwrap();
    let before = bytes(&p);
    let e = GeoPackageStore::open(&p).err().unwrap();
    assert!(e.to_string().contains("application_id"), "{e}");
    assert_eq!(bytes(&p), before);

    let p = dir.path().join("foreign.gpkg");
    let c = rusqlite::Connection::open(&p).unwrap();
    c.pragma_update(None, "application_id", 0x4750_4B47)
        .unwrap();
    c.execute_batch("CREATE TABLE gpkg_contents (table_name TEXT);")
        .unwrap();
    drop(c);
    let before = bytes(&p);
    let e = GeoPackageStore::open(&p).err().unwrap();
    assert!(matches!(e, StoreError::NotGengxin(_)), "{e}");
    assert_eq!(bytes(&p), before);
}

#[test]
fn opening_a_newer_store_fails_and_leaves_it_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let (p, s) = new_store(dir.path());
    drop(s);
    rusqlite::Connection::open(&p)
        .unwrap()
        .execute(
            "UPDATE gengxin_meta SET value = '999' WHERE key = 'schema_version'",
            [],
        )
        .unwrap();
    let before = bytes(&p);
    let e = GeoPackageStore::open(&p).err().unwrap();
    assert!(matches!(e, StoreError::TooNew { found: 999, .. }), "{e}");
    assert!(e.to_string().contains("upgrade gengxin"));
    assert_eq!(bytes(&p), before);
}

#[test]
fn opening_a_corrupt_store_fails_and_leaves_it_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let (p, s) = new_store(dir.path());
    drop(s);
    let mut b = bytes(&p);
    // Keep the 100-byte header, overwrite the schema pages.
    for (i, x) in b.iter_mut().enumerate().skip(100).take(8192) {
        *x = (i * 7 % 251) as u8;
    }
    std::fs::write(&p, &b).unwrap();
    let e = GeoPackageStore::open(&p).err().unwrap();
    assert!(matches!(e, StoreError::Corrupt { .. }), "{e}");
    assert!(e.to_string().contains("is corrupt"), "{e}");
    assert_eq!(bytes(&p), b);
}

#[tokio::test]
async fn attachments_keep_bytes_beside_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let (path, s) = new_store(dir.path());
    let meta = |id: &str| {
        Feature::new(id, GENERATED, at())
            .set("owner_layer", "projects")
            .set("owner_id", "prj-0001")
            .set("file_name", "项目简介.txt")
            .set("media_type", "text/plain; charset=utf-8")
    };
    let body = "城中村改造项目简介".as_bytes().to_vec();
    s.add_attachments(vec![(meta("a1"), body.clone()), (meta("a2"), body.clone())])
        .await
        .unwrap();
    let (m, bytes) = s.attachment("a1").await.unwrap().unwrap();
    assert_eq!(bytes, body);
    assert_eq!(m.get("size_bytes"), &Value::Int(body.len() as i64));
    let sha = m.get("sha256").as_str().unwrap().to_owned();
    let file = gengxin_store::AttachmentDir::beside(&path)
        .path()
        .join(&sha);
    assert!(file.is_file(), "stored beside the store, named by its hash");
    assert!(s.attachment("nope").await.unwrap().is_none());
    // A damaged file is reported, not served.
    std::fs::write(&file, b"tampered").unwrap();
    assert!(s.attachment("a1").await.is_err());
    // Metadata that does not fit the layer stores no row.
    let bad = meta("a3").set("owner_layer", 7_i64);
    assert!(s.add_attachments(vec![(bad, b"x".to_vec())]).await.is_err());
    assert_eq!(s.count(LayerId::Attachments).await.unwrap(), 2);
}

/// Regression: any SQLite constraint failure used to be reported as a duplicate id.
#[tokio::test]
async fn only_a_repeated_id_is_a_duplicate() {
    let dir = tempfile::tempdir().unwrap();
    let (path, s) = new_store(dir.path());
    // A CHECK constraint added by another tool must not be reported as a duplicate.
    {
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute_batch(
            "CREATE TRIGGER no_big AFTER INSERT ON community_facilities WHEN NEW.capacity > 1000
             BEGIN SELECT RAISE(ABORT, 'constraint failed: capacity'); END;",
        )
        .unwrap();
    }
    let s2 = GeoPackageStore::open(&path).unwrap();
    drop(s);
    let e = s2
        .insert(vec![(
            LayerId::Facilities,
            vec![facility("big", 114.0, 30.0).set("capacity", 5000_i64)],
        )])
        .await
        .unwrap_err();
    assert!(!matches!(e, StoreError::Duplicate { .. }), "{e}");
    s2.insert(vec![(
        LayerId::Facilities,
        vec![facility("f1", 114.0, 30.0)],
    )])
    .await
    .unwrap();
    let e = s2
        .insert(vec![(
            LayerId::Facilities,
            vec![facility("f1", 114.0, 30.0)],
        )])
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::Duplicate { .. }), "{e}");
}
