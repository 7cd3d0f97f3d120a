//! What only the PostgreSQL backend has, against the machine's real PostgreSQL: the schema QGIS
//! and GeoServer see, the PostGIS check, migrations, announcements between servers, and
//! connection loss. All that both backends share is in `conformance.rs`.

mod support;

use std::collections::BTreeSet;
use std::str::FromStr;
use std::time::Duration;

use gengxin_model::{LayerId, STORAGE_SRID, catalogue};
use gengxin_store::pg::PostgisStore;
use gengxin_store::{Change, Store, StoreError};
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection, PgConnection};
use support::{ScratchDb, admin, facility};

async fn sql(db: &ScratchDb) -> PgConnection {
    PgConnectOptions::from_str(&db.url)
        .unwrap()
        .connect()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_feature_layer_is_a_typed_postgis_table_in_its_schema() {
    let db = ScratchDb::new().await;
    let store = PostgisStore::create_or_open(&db.url).await.unwrap();
    let mut c = sql(&db).await;
    let rows: Vec<(String, String, i32, String)> = sqlx::query_as(
        "SELECT f_table_schema::text, f_table_name::text, srid, type::text FROM geometry_columns ORDER BY 1, 2",
    )
    .fetch_all(&mut c)
    .await
    .unwrap();
    let expected: BTreeSet<(String, String, i32, String)> = catalogue()
        .iter()
        .filter_map(|l| {
            l.geometry.map(|g| {
                (
                    l.database.name().to_owned(),
                    l.name.to_owned(),
                    STORAGE_SRID,
                    g.ogc_name().to_owned(),
                )
            })
        })
        .collect();
    assert_eq!(rows.into_iter().collect::<BTreeSet<_>>(), expected);
    // Each has a GiST index on its geometry; attribute layers are plain tables.
    let gist: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_indexes WHERE schemaname IN ('renewal', 'community') AND indexdef LIKE '%USING gist (geom)%'",
    )
    .fetch_one(&mut c)
    .await
    .unwrap();
    assert_eq!(gist as usize, expected.len());
    let tables: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema IN ('renewal', 'community', 'gengxin')",
    )
    .fetch_one(&mut c)
    .await
    .unwrap();
    // Every layer, and Gengxin's own `meta` and `attachment_files`.
    assert_eq!(tables as usize, catalogue().len() + 2);
    // Plain SQL users see real rows with real geometry.
    store
        .insert(vec![(
            LayerId::Facilities,
            vec![facility("f1", 114.25, 30.5)],
        )])
        .await
        .unwrap();
    let (wkt, name): (String, String) =
        sqlx::query_as("SELECT ST_AsText(geom), name FROM community.facilities WHERE id = 'f1'")
            .fetch_one(&mut c)
            .await
            .unwrap();
    assert_eq!(
        (wkt.as_str(), name.as_str()),
        ("POINT(114.25 30.5)", "设施f1")
    );
    drop(store);
    c.close().await.unwrap();
    db.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_databases_are_refused_clearly_and_left_alone() {
    let db = ScratchDb::new().await;
    // No PostGIS yet.
    let e = PostgisStore::open(&db.url).await.err().unwrap();
    assert!(matches!(e, StoreError::NoPostgis(_)), "{e}");
    assert!(e.to_string().contains("has no PostGIS extension"), "{e}");
    assert!(e.to_string().contains("gengxin migrate"), "{e}");
    // PostGIS but no Gengxin schema.
    let mut c = sql(&db).await;
    sqlx::query("CREATE EXTENSION postgis")
        .execute(&mut c)
        .await
        .unwrap();
    let e = PostgisStore::open(&db.url).await.err().unwrap();
    assert!(matches!(e, StoreError::NotGengxin(_)), "{e}");
    let schemas: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_namespace WHERE nspname IN ('gengxin', 'renewal', 'community')",
    )
    .fetch_one(&mut c)
    .await
    .unwrap();
    assert_eq!(schemas, 0, "open creates nothing");
    // A newer schema than this build knows.
    drop(PostgisStore::create_or_open(&db.url).await.unwrap());
    sqlx::query("UPDATE gengxin.meta SET value = '999' WHERE key = 'schema_version'")
        .execute(&mut c)
        .await
        .unwrap();
    let e = PostgisStore::open(&db.url).await.err().unwrap();
    assert!(matches!(e, StoreError::TooNew { found: 999, .. }), "{e}");
    assert!(!e.to_string().contains("password"));
    // No server at all.
    let e = PostgisStore::open("postgres://gengxin:secret@127.0.0.1:1/nowhere")
        .await
        .err()
        .unwrap();
    assert!(matches!(e, StoreError::Unavailable(_)), "{e}");
    assert!(e.to_string().contains("127.0.0.1:1"), "{e}");
    assert!(
        !e.to_string().contains("secret"),
        "no password in messages: {e}"
    );
    c.close().await.unwrap();
    db.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servers_starting_together_migrate_once() {
    let db = ScratchDb::new().await;
    let (a, b, c) = tokio::join!(
        PostgisStore::create_or_open(&db.url),
        PostgisStore::create_or_open(&db.url),
        PostgisStore::create_or_open(&db.url),
    );
    for s in [a.unwrap(), b.unwrap(), c.unwrap()] {
        assert_eq!(
            s.info().await.unwrap().schema_version,
            gengxin_store::pg::latest_version()
        );
    }
    db.drop().await;
}

async fn next_change(rx: &mut tokio::sync::broadcast::Receiver<Change>) -> Change {
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("an announcement within 10 s")
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servers_hear_each_others_writes() {
    let db = ScratchDb::new().await;
    let a = PostgisStore::create_or_open(&db.url).await.unwrap();
    let b = PostgisStore::open(&db.url).await.unwrap();
    let mut heard_by_b = b.changes();
    let mut heard_by_a = a.changes();
    // No pause: `open` returns once the store listens, so B hears A's very first write.
    a.insert(vec![(
        LayerId::Facilities,
        vec![facility("f1", 114.0, 30.0)],
    )])
    .await
    .unwrap();
    let expected = Change::Features {
        layer: LayerId::Facilities,
        ids: vec!["f1".into()],
    };
    assert_eq!(next_change(&mut heard_by_b).await, expected);
    let f1 = b.get(LayerId::Facilities, "f1").await.unwrap().unwrap();
    b.update(vec![(LayerId::Facilities, vec![f1])])
        .await
        .unwrap();
    // A hears its own insert once (directly), then B's update (through NOTIFY).
    assert_eq!(next_change(&mut heard_by_a).await, expected);
    assert_eq!(next_change(&mut heard_by_a).await, expected);
    assert_eq!(
        a.get(LayerId::Facilities, "f1")
            .await
            .unwrap()
            .unwrap()
            .version,
        2
    );
    // B heard its own update exactly once: the next thing it hears is A's next write, which
    // PostgreSQL delivers after B's own (filtered) notification, whatever the machine's speed.
    assert_eq!(next_change(&mut heard_by_b).await, expected);
    a.insert(vec![(
        LayerId::Facilities,
        vec![facility("f2", 114.0, 30.0)],
    )])
    .await
    .unwrap();
    assert_eq!(
        next_change(&mut heard_by_b).await,
        Change::Features {
            layer: LayerId::Facilities,
            ids: vec!["f2".into()],
        }
    );
    drop((a, b));
    db.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_database_is_unavailable_then_recovers_by_itself() {
    let db = ScratchDb::new().await;
    let s = PostgisStore::create_or_open(&db.url).await.unwrap();
    s.insert(vec![(
        LayerId::Facilities,
        vec![facility("f1", 114.0, 30.0)],
    )])
    .await
    .unwrap();
    let mut rx = s.changes();
    let terminate = format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{}' AND pid <> pg_backend_pid()",
        db.name
    );
    // Every connection killed: the pool replaces them, the listener says it may have missed
    // announcements.
    admin(&terminate).await;
    assert_eq!(s.count(LayerId::Facilities).await.unwrap(), 1);
    assert_eq!(next_change(&mut rx).await, Change::Unknown);
    // The database refuses connections: requests fail as unavailable, promptly.
    admin(&format!(
        "ALTER DATABASE {} ALLOW_CONNECTIONS false",
        db.name
    ))
    .await;
    admin(&terminate).await;
    let started = std::time::Instant::now();
    let e = s.count(LayerId::Facilities).await.unwrap_err();
    assert!(matches!(e, StoreError::Unavailable(_)), "{e}");
    assert!(started.elapsed() < Duration::from_secs(30));
    assert!(matches!(
        s.info().await.unwrap_err(),
        StoreError::Unavailable(_)
    ));
    // Back again: served without reopening the store.
    admin(&format!(
        "ALTER DATABASE {} ALLOW_CONNECTIONS true",
        db.name
    ))
    .await;
    assert_eq!(s.count(LayerId::Facilities).await.unwrap(), 1);
    s.insert(vec![(
        LayerId::Facilities,
        vec![facility("f2", 114.0, 30.0)],
    )])
    .await
    .unwrap();
    assert_eq!(s.count(LayerId::Facilities).await.unwrap(), 2);
    drop(s);
    db.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_attachment_is_reported_not_served() {
    let db = ScratchDb::new().await;
    let s = PostgisStore::create_or_open(&db.url).await.unwrap();
    s.add_attachments(vec![(support::attachment("a1"), b"brief".to_vec())])
        .await
        .unwrap();
    let mut c = sql(&db).await;
    sqlx::query("UPDATE gengxin.attachment_files SET bytes = 'tampered'")
        .execute(&mut c)
        .await
        .unwrap();
    let e = s.attachment("a1").await.unwrap_err();
    assert!(e.to_string().contains("damaged"), "{e}");
    drop(s);
    c.close().await.unwrap();
    db.drop().await;
}
