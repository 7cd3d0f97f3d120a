//! The `gengxin` binary on the machine's real PostgreSQL/PostGIS: migrate, copy the demo there
//! and back losslessly, two servers on one database seeing each other's writes, and a database
//! that goes away and comes back while a server runs.
//!
//! The server is found at `GENGXIN_TEST_PG` (an admin URL), by default
//! `postgres://postgres@127.0.0.1:5432/postgres`; each test makes its own scratch database.

mod common;

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_gengxin");

fn gengxin(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env("RUST_LOG", "warn")
        .env("GENGXIN_KEY_FILE", common::key_file())
        .output()
        .expect("gengxin runs")
}

fn ok(args: &[&str]) -> String {
    let out = gengxin(args);
    assert!(
        out.status.success(),
        "gengxin {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn admin_url() -> String {
    std::env::var("GENGXIN_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// Runs SQL with psql on a database URL and returns its unaligned output.
fn psql(url: &str, sql: &str) -> String {
    let out = Command::new("psql")
        .args([url, "-XAtq", "-v", "ON_ERROR_STOP=1", "-c", sql])
        .output()
        .expect("psql runs");
    assert!(
        out.status.success(),
        "psql {sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A scratch database, dropped when the test ends (also on failure).
struct Db {
    name: String,
    url: String,
}

impl Db {
    fn new() -> Db {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "gengxin_t_cli_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        psql(
            &admin_url(),
            &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        );
        psql(&admin_url(), &format!("CREATE DATABASE {name}"));
        let (prefix, _) = admin_url()
            .rsplit_once('/')
            .map(|(a, b)| (a.to_owned(), b.to_owned()))
            .unwrap();
        Db {
            url: format!("{prefix}/{name}"),
            name,
        }
    }

    fn allow_connections(&self, allow: bool) {
        psql(
            &admin_url(),
            &format!("ALTER DATABASE {} ALLOW_CONNECTIONS {allow}", self.name),
        );
        if !allow {
            psql(
                &admin_url(),
                &format!(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '{}'",
                    self.name
                ),
            );
        }
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        let _ = Command::new("psql")
            .args([
                &admin_url(),
                "-XAtq",
                "-c",
                &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
            ])
            .output();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A server process, killed when dropped.
struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(store: &str) -> Server {
    let port = free_port();
    let child = Command::new(BIN)
        .args([
            "serve",
            "--store",
            store,
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .env("RUST_LOG", "warn")
        .env("GENGXIN_KEY_FILE", common::key_file())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut server = Server {
        child,
        base: format!("http://127.0.0.1:{port}"),
    };
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        if reqwest::blocking::get(format!("{}/api/health", server.base))
            .is_ok_and(|r| r.status().is_success())
        {
            return server;
        }
        if let Some(status) = server.child.try_wait().unwrap() {
            panic!("server exited early: {status}");
        }
        assert!(Instant::now() < deadline, "server did not answer in time");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn demo() -> PathBuf {
    let dir =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("pg-demo-{}", std::process::id()));
    PathBuf::from(ok(&[
        "demo",
        "--build-only",
        "--data-dir",
        dir.to_str().unwrap(),
    ]))
}

#[test]
fn the_demo_copies_to_postgis_and_back_losslessly() {
    let demo = demo();
    let demo = demo.to_str().unwrap();
    let hash = ok(&["hash", "--store", demo]);
    let db = Db::new();
    // copy creates the schema (and PostGIS) itself, then checks both hashes.
    assert_eq!(ok(&["copy", "--from", demo, "--to", &db.url]), hash);
    assert_eq!(ok(&["hash", "--store", &db.url]), hash);
    let back =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("back-{}.gpkg", std::process::id()));
    let _ = std::fs::remove_file(&back);
    assert_eq!(
        ok(&["copy", "--from", &db.url, "--to", back.to_str().unwrap()]),
        hash
    );
    assert_eq!(ok(&["hash", "--store", back.to_str().unwrap()]), hash);
    // QGIS and GeoServer find every feature layer, typed, in SRID 4490.
    let listed = psql(
        &db.url,
        "SELECT f_table_schema || '.' || f_table_name || ' ' || srid || ' ' || type FROM geometry_columns ORDER BY 1",
    );
    let expected: Vec<String> = {
        let mut v: Vec<String> = gengxin_model::catalogue()
            .iter()
            .filter_map(|l| {
                l.geometry
                    .map(|g| format!("{}.{} 4490 {}", l.database.name(), l.name, g.ogc_name()))
            })
            .collect();
        v.sort();
        v
    };
    assert_eq!(listed.lines().collect::<Vec<_>>(), expected);
    let buildings: u64 = psql(&db.url, "SELECT count(*) FROM renewal.buildings")
        .trim()
        .parse()
        .unwrap();
    assert!(
        buildings > 200_000,
        "plain SQL sees the buildings: {buildings}"
    );
    // A store with rows is never a copy target.
    let out = gengxin(&["copy", "--from", demo, "--to", &db.url]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("already has rows"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    let _ = std::fs::remove_file(&back);

    // Both backends serve the same vector tiles, byte for byte.
    let (from_gpkg, from_pg) = (serve(demo), serve(&db.url));
    let mut non_empty = 0;
    for (layer, z) in [
        ("admin_units", 8),
        ("admin_units", 12),
        ("roads", 13),
        ("renewal_objects", 12),
        ("parcels", 14),
        ("buildings", 15),
        ("facilities", 13),
    ] {
        let t = gengxin_engine::tile::TileId::containing(114.30, 30.58, z);
        let path = format!("/tiles/{layer}/{}/{}/{}.mvt", t.z, t.x, t.y);
        let get = |base: &str| {
            let r = reqwest::blocking::get(format!("{base}{path}")).unwrap();
            assert_eq!(r.status(), 200, "{path}");
            r.bytes().unwrap()
        };
        let a = get(&from_gpkg.base);
        assert_eq!(a, get(&from_pg.base), "{path} differs between backends");
        non_empty += usize::from(!a.is_empty());
    }
    assert!(non_empty >= 6, "only {non_empty} tiles had content");

    // ... and the same retrieval answers: CQL2 filters, summaries, progress on a past date.
    // As the demo's city leader (project records are not public), signed in once per server:
    // a TOTP code signs in once.
    let cookies: std::collections::HashMap<String, String> = [&from_gpkg.base, &from_pg.base]
        .into_iter()
        .map(|b| (b.clone(), leader_cookie(b)))
        .collect();
    for path in [
        "/ogc/collections/parcels/items?limit=50&filter=land_use%20IN%20(%271001%27%2C%270901%27)%20AND%20S_DWITHIN(geom%2C%20POINT(114.3%2030.58)%2C%201500)",
        "/ogc/collections/projects/items?limit=50&filter=stage%20%3D%20%27construction%27%20AND%20progress_pct%20%3C%2060",
        "/api/summary/admin_units/420106",
        "/api/progress?as_of=2024-03-31&lagging=true&limit=50",
        "/api/life-circle/communities/420102002003",
        "/ogc/collections/life_circle_parcels/items?limit=50&filter=score_15min%20%3C%2050",
    ] {
        let get = |base: &str| {
            let mut v: serde_json::Value = reqwest::blocking::Client::new()
                .get(format!("{base}{path}"))
                .header("cookie", &cookies[base])
                .send()
                .unwrap()
                .json()
                .unwrap();
            // Links and stamps name the server, not the data.
            if let Some(o) = v.as_object_mut() {
                o.remove("links");
                o.remove("timeStamp");
            }
            v
        };
        let a = get(&from_gpkg.base);
        assert!(a.get("error").is_none(), "{path}: {a}");
        assert_eq!(a, get(&from_pg.base), "{path} differs between backends");
    }
    drop((from_gpkg, from_pg));

    // The life-circle evaluation reads the same from both and finds nothing to change.
    let evaluate = |store: &str| {
        let mut v: serde_json::Value =
            serde_json::from_str(&ok(&["evaluate", "life-circle", "--store", store])).unwrap();
        v.as_object_mut().unwrap().remove("seconds");
        v
    };
    let on_pg = evaluate(&db.url);
    assert_eq!(
        (&on_pg["inserted"], &on_pg["updated"], &on_pg["deleted"]),
        (&0.into(), &0.into(), &0.into()),
        "{on_pg}"
    );
    assert_eq!(on_pg, evaluate(demo));
}

fn feature(id: &str) -> serde_json::Value {
    serde_json::json!({
        "type": "Feature", "id": id,
        "geometry": {"type": "Point", "coordinates": [114.3, 30.55]},
        "properties": {"name": "社区卫生服务站", "category": "community_health_station", "tier": "15min"}
    })
}

fn count(base: &str, layer: &str) -> u64 {
    let v: serde_json::Value = reqwest::blocking::get(format!("{base}/api/layers"))
        .unwrap()
        .json()
        .unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .find(|l| l["name"] == layer)
        .unwrap()["count"]
        .as_u64()
        .unwrap()
}

/// A session cookie of the demo's city leader on a server.
fn leader_cookie(base: &str) -> String {
    let r = common::demo_sign_in(base, "leader", "East-Lake-2026");
    assert!(r.status().is_success(), "login: {}", r.status());
    r.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned()
}

/// An HTTP client acting as a new city administrator of a store (made with `gengxin user add`,
/// authenticated by an API token from `gengxin user token`).
fn admin_client(store: &str) -> reqwest::blocking::Client {
    use std::io::Write;
    let mut add = Command::new(env!("CARGO_BIN_EXE_gengxin"))
        .args([
            "user",
            "add",
            "--store",
            store,
            "--username",
            "admin",
            "--role",
            "city_admin",
            "--organisation",
            "org-city",
        ])
        .env("GENGXIN_KEY_FILE", common::key_file())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    add.stdin
        .take()
        .unwrap()
        .write_all(b"Crane-Tower-2026\n")
        .unwrap();
    assert!(add.wait().unwrap().success());
    let token = ok(&[
        "user",
        "token",
        "--store",
        store,
        "--username",
        "admin",
        "--name",
        "t",
    ]);
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        "authorization",
        format!("Bearer {}", token.trim()).parse().unwrap(),
    );
    reqwest::blocking::Client::builder()
        .default_headers(headers)
        .build()
        .unwrap()
}

#[test]
fn two_servers_on_one_database_see_each_others_writes() {
    let db = Db::new();
    ok(&["migrate", "--store", &db.url]);
    let http = admin_client(&db.url);
    let a = serve(&db.url);
    let b = serve(&db.url);
    // B caches the count, and listens to the change stream.
    assert_eq!(count(&b.base, "facilities"), 0);
    let events = http
        .get(format!("{}/api/changes", b.base))
        .timeout(Duration::from_secs(60))
        .send()
        .unwrap();
    // B subscribed before it answered the headers: no pause is needed before A writes.
    let mut events = BufReader::new(events);
    let r = http
        .post(format!("{}/api/layers/facilities/features", a.base))
        .json(&feature("f-cli-1"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().unwrap());
    // B hears of A's write...
    let mut line = String::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !line.starts_with("data:") {
        line.clear();
        events.read_line(&mut line).unwrap();
        assert!(Instant::now() < deadline);
    }
    assert_eq!(
        line.trim(),
        r#"data: {"layer":"facilities","ids":["f-cli-1"]}"#
    );
    // ... serves it, and its cached count has followed, without a restart.
    let got = http
        .get(format!("{}/api/layers/facilities/features/f-cli-1", b.base))
        .send()
        .unwrap();
    assert_eq!(got.status(), 200);
    assert_eq!(got.headers()["etag"], "\"1\"");
    assert_eq!(count(&b.base, "facilities"), 1);
    // An edit through B, then a stale edit through A: refused, nothing lost.
    let mut edit = feature("f-cli-1");
    edit["properties"]["capacity"] = 30.into();
    let r = http
        .put(format!("{}/api/layers/facilities/features/f-cli-1", b.base))
        .header("If-Match", "\"1\"")
        .json(&edit)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = http
        .put(format!("{}/api/layers/facilities/features/f-cli-1", a.base))
        .header("If-Match", "\"1\"")
        .json(&feature("f-cli-1"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 409);
    let now: serde_json::Value = http
        .get(format!("{}/api/layers/facilities/features/f-cli-1", a.base))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(now["properties"]["capacity"], 30);
    assert_eq!(now["properties"]["version"], 2);
}

#[test]
fn a_server_answers_503_while_postgres_is_away_and_recovers_by_itself() {
    let db = Db::new();
    ok(&["migrate", "--store", &db.url]);
    let http = admin_client(&db.url);
    let s = serve(&db.url);
    let features = format!("{}/api/layers/facilities/features", s.base);
    let r = http.post(&features).json(&feature("f1")).send().unwrap();
    assert_eq!(r.status(), 201);
    db.allow_connections(false);
    for url in [features.clone(), format!("{}/api/health", s.base)] {
        let r = http.get(&url).send().unwrap();
        assert_eq!(r.status(), 503, "{url}");
        let v: serde_json::Value = r.json().unwrap();
        assert_eq!(v["error"]["code"], "store_unavailable", "{v}");
    }
    let r = http.post(&features).json(&feature("f2")).send().unwrap();
    assert_eq!(r.status(), 503);
    db.allow_connections(true);
    let v: serde_json::Value = http.get(&features).send().unwrap().json().unwrap();
    assert_eq!(
        v["numberReturned"], 1,
        "served again, and the refused write left nothing"
    );
    let r = http.post(&features).json(&feature("f2")).send().unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(
        http.get(format!("{}/api/health", s.base))
            .send()
            .unwrap()
            .status(),
        200
    );
}

#[test]
fn a_database_without_postgis_or_gengxin_is_refused_in_one_line() {
    let db = Db::new();
    let out = gengxin(&[
        "serve",
        "--store",
        &db.url,
        "--listen",
        &format!("127.0.0.1:{}", free_port()),
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("has no PostGIS extension") && err.contains("gengxin migrate"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    let out = gengxin(&[
        "serve",
        "--store",
        "postgres://nobody:hunter2@127.0.0.1:1/x",
        "--listen",
        &format!("127.0.0.1:{}", free_port()),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("cannot connect"),
        "{err}"
    );
    assert!(!err.contains("hunter2"), "{err}");
    let latest = gengxin_store::pg::latest_version();
    assert!(ok(&["migrate", "--store", &db.url]).contains(&format!("schema version {latest}")));
}
