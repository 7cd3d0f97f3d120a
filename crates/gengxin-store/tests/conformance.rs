//! The storage conformance suite: every operation of [`Store`], with the same fixtures, against
//! every backend (a real GeoPackage file and a real PostgreSQL/PostGIS database). Each test below
//! is written once and run once per backend by `conformance!`; `both_backends_answer_alike`
//! also runs one script of reads, writes and failures on both and compares the answers.

mod support;

use std::sync::Arc;

use gengxin_model::{Feature, Layer, LayerId, Value, catalogue};
use gengxin_store::{Bbox, Change, Query, Store, StoreError, canonical_hash};
use support::{Backend, TRICKY_TEXT, attachment, every_layer, facility, full_feature, unit};

macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod geopackage {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let b = crate::support::Backend::geopackage().await;
                    super::$name(&b).await;
                    b.finish().await;
                }
            )*
        }
        mod postgis {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let b = crate::support::Backend::postgis().await;
                    super::$name(&b).await;
                    b.finish().await;
                }
            )*
        }
    };
}

conformance!(
    every_layer_round_trips_exactly,
    data_survives_reopening,
    a_batch_is_all_or_nothing,
    duplicates_are_reported_by_id,
    bbox_queries_use_exact_envelopes,
    pages_follow_byte_order_of_ids,
    equality_filters_convert_and_refuse_alike,
    stale_updates_are_refused,
    concurrent_updates_lose_nothing,
    deletes_check_versions,
    writes_are_announced,
    attachments_round_trip,
    canonical_hash_follows_content_only,
);

fn ids(fs: &[Feature]) -> Vec<&str> {
    fs.iter().map(|f| f.id.as_str()).collect()
}

fn checked(layer: LayerId, f: Feature) -> Feature {
    Layer::by_id(layer).check(f).unwrap()
}

async fn every_layer_round_trips_exactly(b: &Backend) {
    let s = b.store();
    let batch = every_layer(7);
    s.insert(batch.clone()).await.unwrap();
    for (layer, features) in batch {
        assert_eq!(s.count(layer).await.unwrap(), 7);
        let all = s.query(layer, Query::default()).await.unwrap();
        let expected: Vec<Feature> = features.into_iter().map(|f| checked(layer, f)).collect();
        assert_eq!(all, expected, "layer {layer:?}");
        let one = s.get(layer, &expected[3].id).await.unwrap().unwrap();
        assert_eq!(one, expected[3]);
        // The tricky values really were tricky.
        if let Some(text) = one
            .properties
            .values()
            .find_map(|v| v.as_str().filter(|t| t.starts_with("汉口")))
        {
            assert_eq!(text, format!("{TRICKY_TEXT}3"));
        }
        assert!(s.get(layer, "nope").await.unwrap().is_none());
    }
    let r = s
        .get(LayerId::ResidentReports, "resident_reports-000")
        .await
        .unwrap()
        .unwrap();
    let ts = r
        .properties
        .values()
        .filter_map(Value::as_str)
        .find(|t| t.starts_with("2026-03-01T"))
        .expect("a timestamp field");
    assert_eq!(
        ts, "2026-03-01T00:00:00.123Z",
        "timestamps are stored in UTC to the millisecond"
    );
}

async fn data_survives_reopening(b: &Backend) {
    b.store()
        .insert(vec![(
            LayerId::AdminUnits,
            vec![unit("420100", None, 114.123_456_789_012_3)],
        )])
        .await
        .unwrap();
    let again = b.open_again().await;
    let info = again.info().await.unwrap();
    assert_eq!(
        info.schema_version,
        b.store().info().await.unwrap().schema_version
    );
    assert!(info.schema_version >= 1);
    assert!(!info.location.is_empty());
    let got = again
        .get(LayerId::AdminUnits, "420100")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        got,
        checked(
            LayerId::AdminUnits,
            unit("420100", None, 114.123_456_789_012_3)
        )
    );
}

async fn a_batch_is_all_or_nothing(b: &Backend) {
    let s = b.store();
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
    // A failure in the second layer of a batch undoes the first layer too.
    s.insert(vec![(
        LayerId::Facilities,
        vec![facility("f1", 114.0, 30.0)],
    )])
    .await
    .unwrap();
    let err = s
        .insert(vec![
            (LayerId::AdminUnits, vec![unit("420100", None, 114.0)]),
            (LayerId::Facilities, vec![facility("f1", 114.0, 30.0)]),
        ])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Duplicate { .. }), "{err}");
    assert_eq!(s.count(LayerId::AdminUnits).await.unwrap(), 0);
    // An update batch with one stale feature changes nothing.
    s.insert(vec![(
        LayerId::Facilities,
        vec![facility("f2", 114.1, 30.0)],
    )])
    .await
    .unwrap();
    let mut stale = facility("f2", 114.1, 30.0);
    stale.version = 7;
    let err = s
        .update(vec![(
            LayerId::Facilities,
            vec![facility("f1", 114.0, 30.0).set("capacity", 1_i64), stale],
        )])
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Conflict {
                found: 1,
                expected: 7,
                ..
            }
        ),
        "{err}"
    );
    let f1 = s.get(LayerId::Facilities, "f1").await.unwrap().unwrap();
    assert_eq!((f1.version, f1.get("capacity")), (1, &Value::Int(240)));
}

async fn duplicates_are_reported_by_id(b: &Backend) {
    let s = b.store();
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
        "f3 must not survive"
    );
    let err = s
        .insert(vec![(
            LayerId::Facilities,
            vec![facility("f4", 114.0, 30.0), facility("f4", 114.5, 30.5)],
        )])
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Duplicate { ref id, .. } if id == "f4"),
        "{err}"
    );
    // The same id in another layer is no duplicate.
    s.insert(vec![(LayerId::AdminUnits, vec![unit("f1", None, 114.0)])])
        .await
        .unwrap();
}

async fn bbox_queries_use_exact_envelopes(b: &Backend) {
    let s = b.store();
    let fs: Vec<Feature> = (0..50)
        .map(|i| facility(&format!("f{i:02}"), 114.0 + i as f64 * 0.01, 30.5))
        .collect();
    s.insert(vec![(LayerId::Facilities, fs)]).await.unwrap();
    let q = |bbox: Bbox| Query {
        bbox: Some(bbox),
        ..Query::default()
    };
    let all = s
        .query(
            LayerId::Facilities,
            q(Bbox::new(114.095, 30.4, 114.205, 30.6).unwrap()),
        )
        .await
        .unwrap();
    assert_eq!(
        ids(&all),
        (10..=20).map(|i| format!("f{i:02}")).collect::<Vec<_>>()
    );
    // A point exactly on the box edge is inside (envelopes touch).
    let on = s
        .query(
            LayerId::Facilities,
            q(Bbox::new(114.1, 30.5, 114.1, 30.5).unwrap()),
        )
        .await
        .unwrap();
    assert_eq!(ids(&on), ["f10"]);
    // A box a hair (1e-9°, below float32 index precision) beside a point misses it.
    let beside = s
        .query(
            LayerId::Facilities,
            q(Bbox::new(114.100_000_001, 30.4, 114.105, 30.6).unwrap()),
        )
        .await
        .unwrap();
    assert!(beside.is_empty(), "got {:?}", ids(&beside));
    // Polygons are found by their envelope, even where the box misses the shape itself.
    s.insert(vec![(
        LayerId::AdminUnits,
        vec![unit("420100", None, 114.0)],
    )])
    .await
    .unwrap();
    let corner = s
        .query(
            LayerId::AdminUnits,
            q(Bbox::new(114.09, 30.09, 114.2, 30.2).unwrap()),
        )
        .await
        .unwrap();
    assert_eq!(ids(&corner), ["420100"]);
    let err = s
        .query(LayerId::Projects, q(Bbox::new(0.0, 0.0, 1.0, 1.0).unwrap()))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::BadQuery(_)), "{err}");
}

async fn pages_follow_byte_order_of_ids(b: &Backend) {
    let s = b.store();
    let names = [
        "b", "B", "a", "Z", "10", "9", "é", "中", "a-b", "a_b", "ab", "A",
    ];
    let fs: Vec<Feature> = names
        .iter()
        .enumerate()
        .map(|(i, n)| facility(n, 114.0 + i as f64 * 0.001, 30.5))
        .collect();
    s.insert(vec![(LayerId::Facilities, fs)]).await.unwrap();
    let mut expected: Vec<&str> = names.to_vec();
    expected.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    let all = s
        .query(LayerId::Facilities, Query::default())
        .await
        .unwrap();
    assert_eq!(ids(&all), expected);
    let mut paged = Vec::new();
    let mut after = None;
    loop {
        let page = s
            .query(
                LayerId::Facilities,
                Query {
                    after_id: after.clone(),
                    limit: Some(5),
                    ..Query::default()
                },
            )
            .await
            .unwrap();
        paged.extend(page.iter().map(|f| f.id.clone()));
        match page.last() {
            Some(l) if page.len() == 5 => after = Some(l.id.clone()),
            _ => break,
        }
    }
    assert_eq!(paged, expected);
}

async fn equality_filters_convert_and_refuse_alike(b: &Backend) {
    let s = b.store();
    s.insert(vec![(
        LayerId::AdminUnits,
        vec![
            unit("420100", None, 114.0),
            unit("420103", Some("420100"), 114.2),
            unit("420102", Some("420100"), 114.1).set("area_m2", 7_i64),
        ],
    )])
    .await
    .unwrap();
    let q = |equals: Vec<(&str, Value)>| Query {
        equals: equals.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
        ..Query::default()
    };
    let kids = s
        .query(
            LayerId::AdminUnits,
            q(vec![("parent_code", "420100".into())]),
        )
        .await
        .unwrap();
    assert_eq!(ids(&kids), ["420102", "420103"]);
    // An integer matches a real field's equal value.
    let seven = s
        .query(LayerId::AdminUnits, q(vec![("area_m2", Value::Int(7))]))
        .await
        .unwrap();
    assert_eq!(ids(&seven), ["420102"]);
    let both = s
        .query(
            LayerId::AdminUnits,
            q(vec![
                ("parent_code", "420100".into()),
                ("name", "单元420103".into()),
            ]),
        )
        .await
        .unwrap();
    assert_eq!(ids(&both), ["420103"]);
    let err = s
        .query(
            LayerId::AdminUnits,
            q(vec![("colour; DROP TABLE x", "1".into())]),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::UnknownField { .. }), "{err}");
    let err = s
        .query(LayerId::AdminUnits, q(vec![("area_m2", "big".into())]))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::BadQuery(_)), "{err}");
    let err = s
        .query(
            LayerId::Milestones,
            q(vec![("planned_date", "2026-02-30".into())]),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::BadQuery(_)), "{err}");
    assert_eq!(
        s.count(LayerId::AdminUnits).await.unwrap(),
        3,
        "nothing was dropped"
    );
}

async fn stale_updates_are_refused(b: &Backend) {
    let s = b.store();
    s.insert(vec![(
        LayerId::Facilities,
        vec![facility("f1", 114.0, 30.0)],
    )])
    .await
    .unwrap();
    let v1 = s.get(LayerId::Facilities, "f1").await.unwrap().unwrap();
    let mut edit = v1
        .clone()
        .set("capacity", 300_i64)
        .with_geometry(geo_types::Point::new(114.5, 30.5));
    edit.updated_at = v1.updated_at + chrono::Duration::hours(1);
    edit.created_at = v1.created_at + chrono::Duration::days(9);
    s.update(vec![(LayerId::Facilities, vec![edit.clone()])])
        .await
        .unwrap();
    let v2 = s.get(LayerId::Facilities, "f1").await.unwrap().unwrap();
    assert_eq!(v2.version, 2);
    assert_eq!(v2.get("capacity"), &Value::Int(300));
    assert_eq!(v2.created_at, v1.created_at, "created_at never changes");
    assert_eq!(v2.updated_at, edit.updated_at);
    assert_eq!(v2.geometry, edit.geometry);
    // The same edit again is based on version 1, which is gone.
    let err = s
        .update(vec![(LayerId::Facilities, vec![edit.clone()])])
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict { layer: "facilities", ref id, expected: 1, found: 2 } if id == "f1"),
        "{err}"
    );
    assert_eq!(s.get(LayerId::Facilities, "f1").await.unwrap().unwrap(), v2);
    // Removing a field stores null.
    let mut cleared = v2.clone();
    cleared.properties.remove("capacity");
    s.update(vec![(LayerId::Facilities, vec![cleared])])
        .await
        .unwrap();
    let v3 = s.get(LayerId::Facilities, "f1").await.unwrap().unwrap();
    assert_eq!((v3.version, v3.get("capacity")), (3, &Value::Null));
    let mut ghost = facility("ghost", 114.0, 30.0);
    ghost.version = 1;
    let err = s
        .update(vec![(LayerId::Facilities, vec![ghost])])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err}");
    let err = s
        .update(vec![(
            LayerId::Facilities,
            vec![v3.clone().set("category", "casino")],
        )])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err}");
    // Attribute layers are versioned the same way.
    let p = full_feature(Layer::by_id(LayerId::Projects), 0);
    s.insert(vec![(LayerId::Projects, vec![p.clone()])])
        .await
        .unwrap();
    s.update(vec![(LayerId::Projects, vec![p.clone()])])
        .await
        .unwrap();
    let err = s
        .update(vec![(LayerId::Projects, vec![p])])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict { .. }), "{err}");
}

async fn concurrent_updates_lose_nothing(b: &Backend) {
    let s = b.store.clone();
    s.insert(vec![(
        LayerId::Facilities,
        vec![facility("f1", 114.0, 30.0)],
    )])
    .await
    .unwrap();
    let base = s.get(LayerId::Facilities, "f1").await.unwrap().unwrap();
    // Two servers edit the same version at once: exactly one wins.
    let other: Arc<dyn Store> = b.open_again().await;
    let mut tasks = Vec::new();
    for (k, st) in [s.clone(), other.clone(), s.clone(), other.clone()]
        .into_iter()
        .enumerate()
    {
        let edit = base.clone().set("capacity", 1000 + k as i64);
        tasks.push(tokio::spawn(async move {
            st.update(vec![(LayerId::Facilities, vec![edit])]).await
        }));
    }
    let mut won = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(()) => won += 1,
            Err(StoreError::Conflict {
                expected: 1,
                found: 2,
                ..
            }) => {}
            Err(e) => panic!("unexpected {e}"),
        }
    }
    assert_eq!(won, 1);
    let now = s.get(LayerId::Facilities, "f1").await.unwrap().unwrap();
    assert_eq!(now.version, 2);
    // Increments from many tasks, each retrying on conflict, all land.
    let mut tasks = Vec::new();
    for k in 0..8 {
        let st = if k % 2 == 0 { s.clone() } else { other.clone() };
        tasks.push(tokio::spawn(async move {
            loop {
                let cur = st.get(LayerId::Facilities, "f1").await.unwrap().unwrap();
                let n = cur.get("capacity").as_i64().unwrap();
                match st
                    .update(vec![(
                        LayerId::Facilities,
                        vec![cur.set("capacity", n + 1)],
                    )])
                    .await
                {
                    Ok(()) => return,
                    Err(StoreError::Conflict { .. }) => continue,
                    Err(e) => panic!("{e}"),
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let end = s.get(LayerId::Facilities, "f1").await.unwrap().unwrap();
    assert_eq!(end.version, 10);
    assert_eq!(
        end.get("capacity").as_i64(),
        Some(now.get("capacity").as_i64().unwrap() + 8)
    );
}

async fn deletes_check_versions(b: &Backend) {
    let s = b.store();
    s.insert(vec![(
        LayerId::Facilities,
        vec![facility("f1", 114.0, 30.0), facility("f2", 114.1, 30.0)],
    )])
    .await
    .unwrap();
    let err = s
        .delete(vec![(
            LayerId::Facilities,
            vec![("f1".into(), 1), ("f2".into(), 5)],
        )])
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Conflict {
                expected: 5,
                found: 1,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(
        s.count(LayerId::Facilities).await.unwrap(),
        2,
        "nothing deleted"
    );
    s.delete(vec![(LayerId::Facilities, vec![("f1".into(), 1)])])
        .await
        .unwrap();
    assert!(s.get(LayerId::Facilities, "f1").await.unwrap().is_none());
    let err = s
        .delete(vec![(LayerId::Facilities, vec![("f1".into(), 1)])])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err}");
    let found = s
        .query(
            LayerId::Facilities,
            Query {
                bbox: Some(Bbox::new(113.9, 29.9, 114.05, 30.1).unwrap()),
                ..Query::default()
            },
        )
        .await
        .unwrap();
    assert!(found.is_empty(), "the spatial index forgets deleted rows");
    // The id is free again.
    s.insert(vec![(
        LayerId::Facilities,
        vec![facility("f1", 114.0, 30.0)],
    )])
    .await
    .unwrap();
}

async fn writes_are_announced(b: &Backend) {
    let s = b.store();
    let mut rx = s.changes();
    s.insert(vec![(
        LayerId::Facilities,
        vec![facility("f1", 114.0, 30.0)],
    )])
    .await
    .unwrap();
    // Announced before the write returns.
    assert_eq!(
        rx.try_recv().unwrap(),
        Change::Features {
            layer: LayerId::Facilities,
            ids: vec!["f1".into()]
        }
    );
    let f1 = s.get(LayerId::Facilities, "f1").await.unwrap().unwrap();
    s.update(vec![(LayerId::Facilities, vec![f1])])
        .await
        .unwrap();
    assert_eq!(
        rx.try_recv().unwrap(),
        Change::Features {
            layer: LayerId::Facilities,
            ids: vec!["f1".into()]
        }
    );
    s.delete(vec![(LayerId::Facilities, vec![("f1".into(), 2)])])
        .await
        .unwrap();
    assert!(matches!(rx.try_recv().unwrap(), Change::Features { .. }));
    // A failed write announces nothing.
    assert!(
        s.delete(vec![(LayerId::Facilities, vec![("f1".into(), 2)])])
            .await
            .is_err()
    );
    let many: Vec<Feature> = (0..150)
        .map(|i| facility(&format!("m{i:03}"), 114.0, 30.0))
        .collect();
    s.insert(vec![(LayerId::Facilities, many)]).await.unwrap();
    assert_eq!(
        rx.try_recv().unwrap(),
        Change::Features {
            layer: LayerId::Facilities,
            ids: vec![]
        },
        "too many ids: the whole layer"
    );
    assert!(rx.try_recv().is_err());
}

async fn attachments_round_trip(b: &Backend) {
    let s = b.store();
    let body = "城中村改造项目简介".as_bytes().to_vec();
    let binary: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    s.add_attachments(vec![
        (attachment("a1"), body.clone()),
        (attachment("a2"), body.clone()),
        (attachment("a3"), binary.clone()),
    ])
    .await
    .unwrap();
    let (m, bytes) = s.attachment("a1").await.unwrap().unwrap();
    assert_eq!(bytes, body);
    assert_eq!(m.get("size_bytes"), &Value::Int(body.len() as i64));
    assert_eq!(m.get("sha256").as_str().unwrap().len(), 64);
    assert_eq!(s.attachment("a3").await.unwrap().unwrap().1, binary);
    assert!(s.attachment("nope").await.unwrap().is_none());
    // Metadata that does not fit the layer stores no row.
    let bad = attachment("a4").set("owner_layer", 7_i64);
    assert!(s.add_attachments(vec![(bad, b"x".to_vec())]).await.is_err());
    let err = s
        .add_attachments(vec![(attachment("a1"), b"again".to_vec())])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Duplicate { .. }), "{err}");
    assert_eq!(s.count(LayerId::Attachments).await.unwrap(), 3);
}

async fn canonical_hash_follows_content_only(b: &Backend) {
    let s = b.store();
    let empty = canonical_hash(s).await.unwrap();
    s.insert(vec![(
        LayerId::Facilities,
        vec![facility("f2", 114.1, 30.0)],
    )])
    .await
    .unwrap();
    s.insert(vec![(
        LayerId::Facilities,
        vec![facility("f1", 114.0, 30.0)],
    )])
    .await
    .unwrap();
    s.add_attachments(vec![(attachment("a1"), b"x".to_vec())])
        .await
        .unwrap();
    let h = canonical_hash(s).await.unwrap();
    assert_ne!(h, empty);
    // The same content in a GeoPackage, inserted in another order in one batch.
    let dir = tempfile::tempdir().unwrap();
    let other = gengxin_store::create_or_open(&dir.path().join("o.gpkg").display().to_string())
        .await
        .unwrap();
    other
        .insert(vec![(
            LayerId::Facilities,
            vec![facility("f1", 114.0, 30.0), facility("f2", 114.1, 30.0)],
        )])
        .await
        .unwrap();
    other
        .add_attachments(vec![(attachment("a1"), b"x".to_vec())])
        .await
        .unwrap();
    assert_eq!(canonical_hash(&*other).await.unwrap(), h);
    // A nanometre's move changes it.
    let mut moved = s.get(LayerId::Facilities, "f2").await.unwrap().unwrap();
    moved.geometry = Some(geo_types::Point::new(114.1, 30.000_000_001).into());
    s.update(vec![(LayerId::Facilities, vec![moved])])
        .await
        .unwrap();
    assert_ne!(canonical_hash(s).await.unwrap(), h);
}

/// One script of reads, writes and failures on both backends; every answer must be equal,
/// errors by their message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_backends_answer_alike() {
    let gpkg = Backend::geopackage().await;
    let pg = Backend::postgis().await;
    let mut transcripts = Vec::new();
    for b in [&gpkg, &pg] {
        let s = b.store();
        let mut t: Vec<String> = Vec::new();
        let mut log = |what: String| t.push(what);
        log(format!("{:?}", s.insert(every_layer(5)).await));
        log(format!(
            "{:?}",
            s.insert(vec![(
                LayerId::Facilities,
                vec![facility("parcels-000", 114.0, 30.0)]
            )])
            .await
        ));
        log(format!(
            "{:?}",
            s.insert(vec![(
                LayerId::Parcels,
                vec![full_feature(Layer::by_id(LayerId::Parcels), 2)]
            )])
            .await
            .map_err(|e| e.to_string())
        ));
        for layer in catalogue() {
            let all = s.query(layer.id, Query::default()).await.unwrap();
            log(format!("{:?} {:?}", layer.id, all));
            log(format!("{:?}", s.count(layer.id).await.unwrap()));
            if layer.geometry.is_some() {
                let q = Query {
                    bbox: Some(Bbox::new(114.002, 30.0, 114.0045, 30.55).unwrap()),
                    limit: Some(3),
                    ..Query::default()
                };
                log(format!("{:?}", ids(&s.query(layer.id, q).await.unwrap())));
            }
        }
        let mut p = s
            .get(LayerId::Parcels, "parcels-001")
            .await
            .unwrap()
            .unwrap();
        p.version = 3;
        log(format!(
            "{:?}",
            s.update(vec![(LayerId::Parcels, vec![p.clone()])])
                .await
                .map_err(|e| e.to_string())
        ));
        p.version = 2;
        log(format!(
            "{:?}",
            s.update(vec![(LayerId::Parcels, vec![p.clone()])])
                .await
                .map_err(|e| e.to_string())
        ));
        log(format!(
            "{:?}",
            s.get(LayerId::Parcels, "parcels-001").await
        ));
        log(format!(
            "{:?}",
            s.delete(vec![(LayerId::Parcels, vec![("parcels-004".into(), 5)])])
                .await
                .map_err(|e| e.to_string())
        ));
        log(format!(
            "{:?}",
            s.delete(vec![(LayerId::Parcels, vec![("parcels-004".into(), 4)])])
                .await
                .map_err(|e| e.to_string())
        ));
        log(format!(
            "{:?}",
            s.query(
                LayerId::Parcels,
                Query {
                    equals: vec![("far".into(), Value::Bool(true))],
                    ..Query::default()
                }
            )
            .await
            .map_err(|e| e.to_string())
        ));
        log(format!(
            "{:?}",
            s.query(
                LayerId::Parcels,
                Query {
                    equals: vec![("nope".into(), Value::Bool(true))],
                    ..Query::default()
                }
            )
            .await
            .map_err(|e| e.to_string())
        ));
        log(canonical_hash(s).await.unwrap());
        transcripts.push(t);
    }
    let (a, b) = (&transcripts[0], &transcripts[1]);
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(b) {
        assert_eq!(x, y);
    }
    gpkg.finish().await;
    pg.finish().await;
}
