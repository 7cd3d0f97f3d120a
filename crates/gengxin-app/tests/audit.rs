//! The audit chain against someone with write access to the store, on a real GeoPackage and a
//! real PostgreSQL: records forged and re-chained (plain SHA-256, a guessed key), the tail
//! truncated with the head rolled back, the whole file replaced by an older copy. Each is found
//! by `check` with its own finding; an untampered store verifies on both backends, and an old
//! store whose first records were chained without a key still verifies once keyed records
//! follow.
//!
//! One base GeoPackage is built per run: 3 records the old way (plain SHA-256, as stores before
//! the key hold them), then 5 keyed ones, each write anchored; a copy is kept after record 6.
//! Every test tampers with copies of it (store file and heads file).

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, OnceLock};

use chrono::{TimeZone, Utc};
use gengxin_app::audit::{FindingKind, Record, Verification, check};
use gengxin_app::keys::Keys;
use gengxin_app::{Actor, App};
use gengxin_auth::audit::{Entry, GENESIS, KEYED, chain, chain_keyed};
use gengxin_model::{Feature, LayerId};
use gengxin_store::gpkg::GeoPackageStore;
use gengxin_store::{Edit, Query, Store};
use sqlx::ConnectOptions;

const MASTER: [u8; 32] = [42; 32];

struct Base {
    _dir: tempfile::TempDir,
    /// 8 records, 5 anchored heads.
    full: PathBuf,
    /// The same store after record 6.
    older: PathBuf,
}

fn heads(store: &Path) -> PathBuf {
    PathBuf::from(format!("{}.audit-heads", store.display()))
}

fn app(store: Arc<dyn Store>, heads: PathBuf) -> App {
    App::new(store).with_keys(Keys::new(&MASTER, heads))
}

fn open(path: &Path) -> Arc<dyn Store> {
    Arc::new(GeoPackageStore::open(path).unwrap())
}

/// Copies a GeoPackage whole (its WAL checkpointed into the file first).
fn copy_file(from: &Path, to: &Path) {
    rusqlite::Connection::open(from)
        .unwrap()
        .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .unwrap();
    std::fs::copy(from, to).unwrap();
}

fn base() -> &'static Base {
    static BASE: OnceLock<Base> = OnceLock::new();
    BASE.get_or_init(|| {
        std::thread::spawn(|| {
            tokio::runtime::Runtime::new()
                .unwrap()
                .block_on(build_base())
        })
        .join()
        .unwrap()
    })
}

async fn build_base() -> Base {
    let dir = tempfile::tempdir().unwrap();
    let full = dir.path().join("base.gpkg");
    let store: Arc<dyn Store> = Arc::new(GeoPackageStore::create_or_open(&full).unwrap());
    // Three records as the writer before the key wrote them: plain SHA-256, head in sequences.
    let at = Utc.with_ymd_and_hms(2025, 6, 1, 8, 0, 0).unwrap();
    let mut prev = GENESIS.to_owned();
    let mut rows = Vec::new();
    for seq in 1..=3 {
        let e = Entry {
            seq,
            at: gengxin_model::timestamp(&at),
            actor: "old-operator".into(),
            role: "operator".into(),
            action: "write".into(),
            outcome: "ok".into(),
            target_layer: "projects".into(),
            target_id: format!("prj-{seq}"),
            ..Entry::default()
        };
        let hash = chain(&prev, &e);
        rows.push(
            Feature::new(format!("{seq:012}"), "gengxin", at)
                .set("seq", seq)
                .set("at", e.at.as_str())
                .set("actor", e.actor.as_str())
                .set("role", e.role.as_str())
                .set("action", "write")
                .set("outcome", "ok")
                .set("target_layer", "projects")
                .set("target_id", e.target_id.as_str())
                .set("prev_hash", prev.as_str())
                .set("hash", hash.as_str()),
        );
        prev = hash;
    }
    let head = Feature::new("audit_log", "gengxin", at)
        .set("value", 3_i64)
        .set("hash", prev.as_str());
    store
        .apply(Edit {
            insert: vec![(LayerId::AuditLog, rows), (LayerId::Sequences, vec![head])],
            ..Edit::default()
        })
        .await
        .unwrap();
    // Upgraded: keyed records follow, each write anchored.
    let a = app(store.clone(), heads(&full));
    let write = |i: usize| {
        Record::by(&Actor::operator("tester"), "write", "ok").on("projects", &format!("prj-{i}"))
    };
    for i in 4..=6 {
        a.append(vec![write(i)]).await.unwrap();
    }
    let older = dir.path().join("older.gpkg");
    copy_file(&full, &older);
    a.append(vec![write(7)]).await.unwrap();
    a.append(vec![write(8)]).await.unwrap();
    drop((a, store));
    Base {
        _dir: dir,
        full,
        older,
    }
}

/// A copy of a base store with its heads file, in its own folder.
fn copy(from: &Path) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let to = dir.path().join("copy.gpkg");
    copy_file(from, &to);
    std::fs::copy(heads(&base().full), heads(&to)).unwrap();
    (dir, to)
}

fn kinds(v: &Verification) -> Vec<(FindingKind, i64)> {
    v.findings.iter().map(|f| (f.kind, f.seq)).collect()
}

/// The records as `(entry, prev_hash, hash)`.
async fn records(store: &dyn Store) -> Vec<(Entry, String, String)> {
    let t = |f: &Feature, k: &str| f.get(k).as_str().unwrap_or_default().to_owned();
    store
        .query(LayerId::AuditLog, Query::default())
        .await
        .unwrap()
        .iter()
        .map(|f| {
            let e = Entry {
                seq: f.get("seq").as_i64().unwrap(),
                at: t(f, "at"),
                actor: t(f, "actor"),
                role: t(f, "role"),
                action: t(f, "action"),
                outcome: t(f, "outcome"),
                target_layer: t(f, "target_layer"),
                target_id: t(f, "target_id"),
                ip: t(f, "ip"),
                detail: t(f, "detail"),
            };
            (e, t(f, "prev_hash"), t(f, "hash"))
        })
        .collect()
}

/// The SQL a forger runs, on either backend.
enum Sql {
    Gpkg(rusqlite::Connection),
    Pg(sqlx::PgConnection),
}

impl Sql {
    async fn rewrite(&mut self, id: &str, actor: &str, prev: &str, hash: &str) {
        match self {
            Sql::Gpkg(c) => {
                c.execute(
                    "UPDATE gengxin_audit_log SET actor = ?1, prev_hash = ?2, hash = ?3 WHERE id = ?4",
                    (actor, prev, hash, id),
                )
                .unwrap();
            }
            Sql::Pg(c) => {
                sqlx::query(
                    "UPDATE gengxin.audit_log SET actor = $1, prev_hash = $2, hash = $3 WHERE id = $4",
                )
                .bind(actor)
                .bind(prev)
                .bind(hash)
                .bind(id)
                .execute(c)
                .await
                .unwrap();
            }
        }
    }

    async fn set_head(&mut self, seq: i64, hash: &str) {
        match self {
            Sql::Gpkg(c) => {
                c.execute(
                    "UPDATE gengxin_sequences SET value = ?1, hash = ?2 WHERE id = 'audit_log'",
                    (seq, hash),
                )
                .unwrap();
            }
            Sql::Pg(c) => {
                sqlx::query(
                    "UPDATE gengxin.sequences SET value = $1, hash = $2 WHERE id = 'audit_log'",
                )
                .bind(seq)
                .bind(hash)
                .execute(c)
                .await
                .unwrap();
            }
        }
    }

    async fn delete_after(&mut self, seq: i64) {
        match self {
            Sql::Gpkg(c) => {
                c.execute("DELETE FROM gengxin_audit_log WHERE seq > ?1", [seq])
                    .unwrap();
            }
            Sql::Pg(c) => {
                sqlx::query("DELETE FROM gengxin.audit_log WHERE seq > $1")
                    .bind(seq)
                    .execute(c)
                    .await
                    .unwrap();
            }
        }
    }
}

/// Changes record `from`'s actor and re-chains it and every record after it with `hash`, the
/// head too: a consistent chain to anyone without the key.
async fn forge(store: &dyn Store, sql: &mut Sql, from: i64, hash: impl Fn(&str, &Entry) -> String) {
    let mut rs = records(store).await;
    let mut prev = rs[(from - 2) as usize].2.clone();
    for (e, _, _) in rs.iter_mut().skip((from - 1) as usize) {
        if e.seq == from {
            e.actor = "mallory".into();
        }
        let h = hash(&prev, e);
        sql.rewrite(&format!("{:012}", e.seq), &e.actor, &prev, &h)
            .await;
        prev = h;
    }
    sql.set_head(rs.last().unwrap().0.seq, &prev).await;
}

/// Deletes every record after `keep` and sets the head back to it.
async fn truncate(store: &dyn Store, sql: &mut Sql, keep: i64) {
    let rs = records(store).await;
    sql.delete_after(keep).await;
    sql.set_head(keep, &rs[(keep - 1) as usize].2).await;
}

fn gpkg(path: &Path) -> Sql {
    Sql::Gpkg(rusqlite::Connection::open(path).unwrap())
}

#[tokio::test]
async fn an_old_plain_prefix_verifies_and_new_records_chain_keyed() {
    let (_d, path) = copy(&base().full);
    let store = open(&path);
    let a = app(store.clone(), heads(&path));
    let v = check(&a).await.unwrap();
    assert_eq!(kinds(&v), vec![], "{v:?}");
    assert_eq!((v.records, v.anchors), (8, 5));
    let rs = records(&*store).await;
    assert!(
        rs[..3]
            .iter()
            .all(|r| r.2.len() == 64 && !r.2.starts_with(KEYED))
    );
    assert!(rs[3..].iter().all(|r| r.2.starts_with(KEYED)));
    // The heads file is one signed line per write; a new write adds one.
    let lines = |p: &Path| std::fs::read_to_string(heads(p)).unwrap().lines().count();
    assert_eq!(lines(&path), 5);
    a.append(vec![Record::system("write")]).await.unwrap();
    assert_eq!(lines(&path), 6);
    let v = check(&a).await.unwrap();
    assert_eq!((kinds(&v), v.records, v.anchors), (vec![], 9, 6));
    // With another key file, nothing keyed checks out.
    let other = App::new(store).with_keys(Keys::new(&[1; 32], heads(&path)));
    let v = check(&other).await.unwrap();
    assert_eq!(
        kinds(&v),
        vec![
            (FindingKind::Altered, 4),
            (FindingKind::BadAnchor, 4),
            (FindingKind::Unanchored, 9)
        ]
    );
}

#[tokio::test]
async fn a_record_forged_and_rechained_with_plain_sha256_is_found() {
    let (_d, path) = copy(&base().full);
    let store = open(&path);
    forge(&*store, &mut gpkg(&path), 6, chain).await;
    let v = check(&app(store, heads(&path))).await.unwrap();
    assert_eq!(
        kinds(&v),
        vec![(FindingKind::Unkeyed, 6), (FindingKind::Rewritten, 6)],
        "{v:?}"
    );
    assert!(v.findings[0].detail.contains("plain SHA-256"), "{v:?}");
    assert_eq!(v.findings[0].id(), "000000000006");
}

#[tokio::test]
async fn a_record_forged_with_a_guessed_key_is_found() {
    let (_d, path) = copy(&base().full);
    let store = open(&path);
    forge(&*store, &mut gpkg(&path), 7, |p, e| {
        chain_keyed(&[0; 32], p, e)
    })
    .await;
    let v = check(&app(store, heads(&path))).await.unwrap();
    assert_eq!(
        kinds(&v),
        vec![(FindingKind::Altered, 7), (FindingKind::Rewritten, 7)],
        "{v:?}"
    );
}

#[tokio::test]
async fn the_whole_chain_rewritten_from_the_plain_prefix_is_found_by_the_anchors() {
    // Plain from record 2 on: a chain that holds together without a key; only the anchored
    // heads know better.
    let (_d, path) = copy(&base().full);
    let store = open(&path);
    forge(&*store, &mut gpkg(&path), 2, chain).await;
    let v = check(&app(store, heads(&path))).await.unwrap();
    assert_eq!(kinds(&v), vec![(FindingKind::Rewritten, 4)], "{v:?}");
}

#[tokio::test]
async fn the_last_records_deleted_with_the_head_rolled_back_are_found() {
    let (_d, path) = copy(&base().full);
    let store = open(&path);
    truncate(&*store, &mut gpkg(&path), 6).await;
    let v = check(&app(store, heads(&path))).await.unwrap();
    assert_eq!(kinds(&v), vec![(FindingKind::RolledBack, 7)], "{v:?}");
    assert!(v.findings[0].detail.contains("record 8"), "{v:?}");
}

#[tokio::test]
async fn the_last_records_deleted_under_the_head_are_found() {
    let (_d, path) = copy(&base().full);
    let store = open(&path);
    gpkg(&path).delete_after(7).await;
    let v = check(&app(store, heads(&path))).await.unwrap();
    assert_eq!(
        kinds(&v),
        vec![(FindingKind::Head, 7), (FindingKind::Truncated, 8)],
        "{v:?}"
    );
}

#[tokio::test]
async fn the_store_file_rolled_back_to_an_older_copy_is_found() {
    // The older copy of the file, with the newer heads file beside it.
    let (_d, path) = copy(&base().older);
    let v = check(&app(open(&path), heads(&path))).await.unwrap();
    assert_eq!(kinds(&v), vec![(FindingKind::RolledBack, 7)], "{v:?}");
    assert_eq!(v.records, 6);
}

#[tokio::test]
async fn a_forged_or_missing_heads_file_is_found() {
    let (_d, path) = copy(&base().full);
    let store = open(&path);
    // A head for a record that never was, with a made-up MAC.
    let mut text = std::fs::read_to_string(heads(&path)).unwrap();
    text.push_str(r#"{"seq":99,"id":"000000000099","hash":"hmac:00","at":"2030-01-01T00:00:00.000Z","mac":"00"}"#);
    text.push('\n');
    std::fs::write(heads(&path), text).unwrap();
    let a = app(store.clone(), heads(&path));
    let v = check(&a).await.unwrap();
    assert_eq!(kinds(&v), vec![(FindingKind::BadAnchor, 99)], "{v:?}");
    assert_eq!(v.anchors, 5);
    std::fs::remove_file(heads(&path)).unwrap();
    let v = check(&a).await.unwrap();
    assert_eq!(kinds(&v), vec![(FindingKind::Unanchored, 8)], "{v:?}");
}

// PostgreSQL: the base copied into a scratch database (the heads file copied beside), verified,
// tampered with through SQL, verified again.

fn admin_url() -> String {
    std::env::var("GENGXIN_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

async fn connect(url: &str) -> sqlx::PgConnection {
    sqlx::postgres::PgConnectOptions::from_str(url)
        .unwrap()
        .connect()
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL at {url} is needed by these tests: {e}"))
}

/// A scratch database holding a copy of the base; dropped at the end of `run`.
async fn on_postgres(
    name: &str,
    tamper: impl AsyncFnOnce(&dyn Store, &mut Sql),
    want: Vec<(FindingKind, i64)>,
) {
    let db = format!("gengxin_t_audit_{}_{name}", std::process::id());
    let mut admin = connect(&admin_url()).await;
    let run = |sql: String| sqlx::raw_sql(sqlx::AssertSqlSafe(sql));
    run(format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
        .execute(&mut admin)
        .await
        .unwrap();
    run(format!(
        "CREATE DATABASE {db} TEMPLATE template0 ENCODING 'UTF8'"
    ))
    .execute(&mut admin)
    .await
    .unwrap();
    let url = format!("{}/{db}", admin_url().rsplit_once('/').unwrap().0);
    let (dir, from) = copy(&base().full);
    let pg = gengxin_store::create_or_open(&url).await.unwrap();
    gengxin_store::copy(&*open(&from), &*pg).await.unwrap();
    let heads = dir.path().join("pg.audit-heads");
    std::fs::copy(self::heads(&from), &heads).unwrap();
    let a = app(pg.clone(), heads);
    let v = check(&a).await.unwrap();
    assert_eq!((kinds(&v), v.records, v.anchors), (vec![], 8, 5), "{v:?}");
    tamper(&*pg, &mut Sql::Pg(connect(&url).await)).await;
    let v = check(&a).await.unwrap();
    drop((a, pg));
    run(format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
        .execute(&mut admin)
        .await
        .unwrap();
    assert_eq!(kinds(&v), want, "{v:?}");
}

#[tokio::test]
async fn on_postgres_a_record_forged_with_plain_sha256_is_found() {
    on_postgres(
        "plain",
        async |s, sql| forge(s, sql, 5, chain).await,
        vec![(FindingKind::Unkeyed, 5), (FindingKind::Rewritten, 5)],
    )
    .await;
}

#[tokio::test]
async fn on_postgres_a_record_forged_with_a_guessed_key_is_found() {
    on_postgres(
        "guessed",
        async |s, sql| forge(s, sql, 5, |p, e| chain_keyed(&[0; 32], p, e)).await,
        vec![(FindingKind::Altered, 5), (FindingKind::Rewritten, 5)],
    )
    .await;
}

#[tokio::test]
async fn on_postgres_the_last_records_deleted_with_the_head_rolled_back_are_found() {
    on_postgres(
        "truncated",
        async |s, sql| truncate(s, sql, 5).await,
        vec![(FindingKind::RolledBack, 6)],
    )
    .await;
}
