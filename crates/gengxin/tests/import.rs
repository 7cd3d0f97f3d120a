//! The importer killed with SIGKILL while it writes leaves the store exactly as it was, on both
//! backends: an import is one transaction.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

fn gengxin(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_gengxin"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "gengxin {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn shared(rel: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data")
        .join(rel);
    assert!(
        p.exists(),
        "{} is needed: ../shared/data beside the checkout",
        p.display()
    );
    p.display().to_string()
}

fn psql(url: &str, sql: &str) {
    let out = Command::new("psql")
        .args([url, "-XAtq", "-v", "ON_ERROR_STOP=1", "-c", sql])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Starts an import of 15,809 buildings, waits until it writes, kills it after `delay`, and
/// returns whether it had finished before the kill.
fn kill_during_write(store: &str, delay: Duration) -> bool {
    let mut child = Command::new(env!("CARGO_BIN_EXE_gengxin"))
        .args(["import", "--store", store, "--layer", "buildings"])
        .arg(shared("osm/liechtenstein-2021-10.osm.pbf"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    loop {
        line.clear();
        assert!(
            err.read_line(&mut line).unwrap() > 0,
            "the importer ended before writing"
        );
        if line.contains("writing 15809 features") {
            break;
        }
    }
    std::thread::sleep(delay);
    child.kill().unwrap(); // SIGKILL
    let status = child.wait().unwrap();
    status.success()
}

fn killed_imports_leave_the_store_unchanged(store: &str) {
    gengxin(&[
        "import",
        "--store",
        store,
        "--layer",
        "districts",
        &shared("wuhan/districts.geojson"),
    ]);
    let before = gengxin(&["hash", "--store", store]);
    let mut killed = 0;
    for ms in [0, 5, 20, 50, 120, 250] {
        if !kill_during_write(store, Duration::from_millis(ms)) {
            killed += 1;
        }
        assert_eq!(
            gengxin(&["hash", "--store", store]),
            before,
            "killed after {ms} ms"
        );
    }
    assert!(
        killed >= 3,
        "the importer should mostly be killed mid-write ({killed} of 6)"
    );
    // The same import left alone changes the store: the comparison above could fail.
    gengxin(&[
        "import",
        "--store",
        store,
        "--layer",
        "buildings",
        &shared("osm/liechtenstein-2021-10.osm.pbf"),
    ]);
    assert_ne!(gengxin(&["hash", "--store", store]), before);
}

#[test]
fn a_killed_import_leaves_a_geopackage_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("k.gpkg");
    killed_imports_leave_the_store_unchanged(store.to_str().unwrap());
}

#[test]
fn a_killed_import_leaves_postgis_unchanged() {
    let admin = std::env::var("GENGXIN_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let name = format!("gengxin_t_kill_{}", std::process::id());
    psql(
        &admin,
        &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
    );
    psql(&admin, &format!("CREATE DATABASE {name}"));
    let url = format!("{}/{name}", admin.rsplit_once('/').unwrap().0);
    killed_imports_leave_the_store_unchanged(&url);
    psql(
        &admin,
        &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
    );
}
