//! The job queue on a real GeoPackage: a job of a kind this server does not know (a newer
//! server's, in a rolling upgrade) stays pending and leaves no trace; a known job beside it runs.

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use gengxin_app::App;
use gengxin_app::jobs::{Job, run_due};
use gengxin_model::LayerId;
use gengxin_report::Period;
use gengxin_store::Store;
use gengxin_store::gpkg::GeoPackageStore;

#[tokio::test]
async fn an_unknown_job_kind_stays_pending_and_a_known_one_runs() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> =
        Arc::new(GeoPackageStore::create_or_open(&dir.path().join("j.gpkg")).unwrap());
    let app = App::new(store.clone());
    let due = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
    let now = Utc.with_ymd_and_hms(2026, 11, 2, 0, 0, 0).unwrap();
    // A known job whose form was never made (nothing to do: done), stored as usual.
    let known = Job::OpenPeriod {
        form_code: "retired".into(),
        period: Period::parse("2026-11").unwrap(),
    }
    .row(due);
    assert_eq!(Job::of(&known).as_ref().map(Job::kind), Some("open_period"));
    store
        .insert(vec![(LayerId::Jobs, vec![known.clone()])])
        .await
        .unwrap();
    // A newer server's job: a kind this build's code list does not have, so this build would
    // refuse to write it; the newer server wrote it into the same table.
    let table = gengxin_model::Layer::by_id(LayerId::Jobs).table();
    let future_id = "job:rebalance_packages:progress:2026-11";
    let sql = rusqlite::Connection::open(dir.path().join("j.gpkg")).unwrap();
    let copied = sql
        .execute(
            &format!(
                "INSERT INTO \"{table}\" (id, provenance, created_at, updated_at, version, kind, run_at, status, attempts, payload)
                 SELECT ?1, provenance, created_at, updated_at, version, 'rebalance_packages', run_at, status, attempts, payload
                 FROM \"{table}\" WHERE id = ?2"
            ),
            [future_id, known.id.as_str()],
        )
        .unwrap();
    assert_eq!(copied, 1);
    drop(sql);
    let future = store.get(LayerId::Jobs, future_id).await.unwrap().unwrap();
    assert_eq!(future.get("kind").as_str(), Some("rebalance_packages"));
    assert_eq!(Job::of(&future), None);

    assert_eq!(run_due(&app, now).await.unwrap(), 1);
    let f = store.get(LayerId::Jobs, &future.id).await.unwrap().unwrap();
    assert_eq!(f.get("status").as_str(), Some("pending"));
    assert_eq!(f.get("attempts").as_i64(), Some(0));
    assert_eq!(f.version, 1, "the unknown job is not touched");
    let k = store.get(LayerId::Jobs, &known.id).await.unwrap().unwrap();
    assert_eq!(k.get("status").as_str(), Some("done"));
    // One audit record: the known job's.
    let audit = store
        .query(LayerId::AuditLog, Default::default())
        .await
        .unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].get("target_id").as_str(), Some(known.id.as_str()));

    // Later runs still leave it for a server that knows it.
    assert_eq!(run_due(&app, now).await.unwrap(), 0);
    let f = store.get(LayerId::Jobs, &future.id).await.unwrap().unwrap();
    assert_eq!(f.get("status").as_str(), Some("pending"));
}

#[tokio::test]
async fn the_runner_stops_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> =
        Arc::new(GeoPackageStore::create_or_open(&dir.path().join("r.gpkg")).unwrap());
    let runner = gengxin_app::jobs::Runner::start(App::new(store));
    // Stopping returns although the runner would otherwise sleep for 30 s.
    tokio::time::timeout(std::time::Duration::from_secs(20), runner.stop())
        .await
        .expect("the runner stops when told");
}
