//! What only the GeoPackage backend has, against real files: its R-tree, WAL readers, attachment
//! files beside the store, and every way opening a bad file must fail without touching it. All
//! that both backends share is in `conformance.rs`.

use std::path::{Path, PathBuf};

mod support;

use gengxin_model::{Feature, LayerId, Value};
use gengxin_store::gpkg::GeoPackageStore;
use gengxin_store::{Store, StoreError};
use geo_types::Point;
use support::facility;

fn new_store(dir: &Path) -> (PathBuf, GeoPackageStore) {
    let path = dir.join("t.gpkg");
    let s = GeoPackageStore::create_or_open(&path).unwrap();
    (path, s)
}

fn bytes(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap()
}

/// GDAL and QGIS use the GeoPackage R-tree: it must hold one entry per feature, follow moves and
/// forget deletes.
#[tokio::test]
async fn the_rtree_index_follows_every_write() {
    let dir = tempfile::tempdir().unwrap();
    let (path, s) = new_store(dir.path());
    let fs: Vec<Feature> = (0..50)
        .map(|i| facility(&format!("f{i:02}"), 114.0 + i as f64 * 0.01, 30.5))
        .collect();
    s.insert(vec![(LayerId::Facilities, fs)]).await.unwrap();
    let moved = s
        .get(LayerId::Facilities, "f00")
        .await
        .unwrap()
        .unwrap()
        .with_geometry(Point::new(115.0, 31.0));
    s.update(vec![(LayerId::Facilities, vec![moved])])
        .await
        .unwrap();
    s.delete(vec![(LayerId::Facilities, vec![("f01".into(), 1)])])
        .await
        .unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    let rtree = |sql: &str| -> i64 { conn.query_row(sql, [], |r| r.get(0)).unwrap() };
    assert_eq!(
        rtree("SELECT count(*) FROM rtree_community_facilities_geom"),
        49
    );
    assert_eq!(
        rtree("SELECT count(*) FROM rtree_community_facilities_geom WHERE minx > 114.9"),
        1
    );
    let max_x: f64 = conn
        .query_row(
            "SELECT max_x FROM gpkg_contents WHERE table_name = 'community_facilities'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(max_x, 115.0, "gpkg_contents keeps the extent");
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
    let meta = support::attachment;
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
    // A damaged file is reported, not served.
    std::fs::write(&file, b"tampered").unwrap();
    let e = s.attachment("a1").await.unwrap_err();
    assert!(e.to_string().contains("damaged"), "{e}");
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

#[tokio::test]
async fn a_store_of_schema_5_gains_the_columns_added_since_and_keeps_its_rows() {
    let dir = tempfile::tempdir().unwrap();
    let (p, s) = new_store(dir.path());
    drop(s);
    // Back to what schema 5 made: custom_layers without access and organisation_id, users
    // without password_history, and a custom layer defined then.
    let c = rusqlite::Connection::open(&p).unwrap();
    c.execute_batch(
        "DROP INDEX idx_renewal_custom_layers_organisation_id;
         ALTER TABLE renewal_custom_layers DROP COLUMN access;
         ALTER TABLE renewal_custom_layers DROP COLUMN organisation_id;
         ALTER TABLE gengxin_users DROP COLUMN password_history;
         ALTER TABLE gengxin_submissions DROP COLUMN checks;
         ALTER TABLE gengxin_submissions DROP COLUMN changes;
         UPDATE gengxin_meta SET value = '5' WHERE key = 'schema_version';
         INSERT INTO renewal_custom_layers (id, provenance, created_at, updated_at, title, fields)
           VALUES ('plan_old', 'test', '2025-01-01T00:00:00.000Z', '2025-01-01T00:00:00.000Z', '旧规划', '[]');",
    )
    .unwrap();
    drop(c);
    let s = GeoPackageStore::open(&p).unwrap();
    assert_eq!(s.info().await.unwrap().schema_version, 8);
    let old = s
        .get(LayerId::CustomLayers, "plan_old")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(old.get("title"), &Value::Text("旧规划".into()));
    assert_eq!(old.get("access"), &Value::Null);
    // The new columns take values.
    let mut f = old.clone();
    f.properties.insert("access".into(), "public".into());
    f.properties.insert("organisation_id".into(), "org".into());
    s.update(vec![(LayerId::CustomLayers, vec![f])])
        .await
        .unwrap();
    let now = s
        .get(LayerId::CustomLayers, "plan_old")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(now.get("access"), &Value::Text("public".into()));
    assert_eq!(now.version, 2);
    // Schema 7's column takes values too.
    let u = Feature::new("u1", "test", chrono::Utc::now())
        .set("username", "u1")
        .set("role", "district")
        .set("organisation_id", "org")
        .set("password_hash", "h")
        .set("password_changed_at", "2026-01-01T00:00:00.000Z")
        .set("failed_logins", 0_i64)
        .set("password_history", "[\"h0\"]");
    s.insert(vec![(LayerId::Users, vec![u])]).await.unwrap();
    let u = s.get(LayerId::Users, "u1").await.unwrap().unwrap();
    assert_eq!(u.get("password_history"), &Value::Text("[\"h0\"]".into()));
    // And schema 8's: a submission's plausibility findings and its approved changes.
    let sub = Feature::new("s1", "test", chrono::Utc::now())
        .set("form_id", "progress@1")
        .set("project_id", "p1")
        .set("district_code", "420102")
        .set("period", "2026-10")
        .set("status", "draft")
        .set("values", "{}")
        .set("author", "u1")
        .set("checks", "[]")
        .set("changes", "[]");
    s.insert(vec![(LayerId::Submissions, vec![sub])])
        .await
        .unwrap();
    let sub = s.get(LayerId::Submissions, "s1").await.unwrap().unwrap();
    assert_eq!(sub.get("checks"), &Value::Text("[]".into()));
    assert_eq!(sub.get("changes"), &Value::Text("[]".into()));
}
