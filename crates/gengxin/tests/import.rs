//! The importer killed with SIGKILL while it writes leaves the store either exactly as it was or
//! exactly as a complete import leaves it, never anything in between, on both backends: an
//! import is one transaction.
//!
//! Nothing here depends on the machine's speed. A complete import is timed first (from the
//! "writing" line to its exit); kills then land at fractions of that time, each in a fresh
//! store, and the fractions shrink until at least [`MID_WRITE`] kills have landed before the
//! commit. Every import is stamped with one fixed time (`SOURCE_DATE_EPOCH`), so a committed
//! import gives the same hash as the complete one.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Kills that must land while the transaction is open.
const MID_WRITE: usize = 3;
/// 2026-11-01T00:00:00Z: the time every import here is stamped with.
const EPOCH: &str = "1793491200";

fn gengxin(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_gengxin"))
        .args(args)
        .env("SOURCE_DATE_EPOCH", EPOCH)
        .env("GENGXIN_KEY_FILE", common::key_file())
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

/// How one import ended.
struct Ended {
    /// It exited by itself, successfully (else it was killed).
    finished: bool,
    /// From its "writing" line to its end.
    writing: Duration,
}

/// Imports 15,809 buildings; once the importer says it writes, kills it after `kill_after`
/// (or, with `None`, lets it finish).
fn import_buildings(store: &str, kill_after: Option<Duration>) -> Ended {
    let mut child = Command::new(env!("CARGO_BIN_EXE_gengxin"))
        .args(["import", "--store", store, "--layer", "buildings"])
        .arg(shared("osm/liechtenstein-2021-10.osm.pbf"))
        .env("SOURCE_DATE_EPOCH", EPOCH)
        .env("GENGXIN_KEY_FILE", common::key_file())
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
    let started = Instant::now();
    if let Some(d) = kill_after {
        std::thread::sleep(d);
        child.kill().unwrap(); // SIGKILL; a no-op on a process that has already exited
    }
    // Keep reading so a chatty importer never blocks on a full pipe.
    std::io::copy(&mut err, &mut std::io::sink()).unwrap();
    let status = child.wait().unwrap();
    Ended {
        finished: status.success(),
        writing: started.elapsed(),
    }
}

/// `fresh(n)` makes the n-th empty store and returns its location.
fn killed_imports_leave_nothing_half_written(fresh: &dyn Fn(usize) -> String) {
    let districts = shared("wuhan/districts.geojson");
    let prepared = |n: usize| {
        let store = fresh(n);
        gengxin(&[
            "import",
            "--store",
            &store,
            "--layer",
            "districts",
            &districts,
        ]);
        store
    };
    // The two states a kill may leave: before the import, and after it completed.
    let reference = prepared(0);
    let before = gengxin(&["hash", "--store", &reference]);
    let complete = import_buildings(&reference, None);
    assert!(complete.finished, "the import left alone completes");
    let after = gengxin(&["hash", "--store", &reference]);
    assert_ne!(after, before, "the import changes the store");
    // Same time stamp, same content: a second complete import gives the same hash, so a kill
    // after the commit is recognised as "complete" rather than "in between".
    let again = prepared(1);
    assert!(import_buildings(&again, None).finished);
    assert_eq!(gengxin(&["hash", "--store", &again]), after);

    let write = complete.writing.as_secs_f64();
    let mut fractions = vec![0.05, 0.2, 0.35, 0.5, 0.65, 0.8, 1.5];
    let (mut mid_write, mut trials) = (0, 0);
    for _round in 0..4 {
        for &f in &fractions {
            trials += 1;
            let store = prepared(1 + trials);
            let ended = import_buildings(&store, Some(Duration::from_secs_f64(write * f)));
            let hash = gengxin(&["hash", "--store", &store]);
            assert!(
                hash == before || hash == after,
                "killed at {f} of the write time ({:.0} ms): the store is neither as before nor as after the import",
                write * f * 1000.0
            );
            if ended.finished {
                assert_eq!(hash, after, "an import that exited by itself is complete");
            } else if hash == before {
                mid_write += 1;
            }
        }
        if mid_write >= MID_WRITE {
            break;
        }
        // Too few kills landed before the commit: aim earlier.
        fractions = fractions.iter().map(|f| f / 4.0).collect();
    }
    eprintln!(
        "{mid_write} of {trials} kills landed before the commit (write time {:.0} ms)",
        write * 1000.0
    );
    assert!(
        mid_write >= MID_WRITE,
        "only {mid_write} of {trials} kills landed while the import was writing"
    );
}

#[test]
fn a_killed_import_leaves_a_geopackage_before_or_after() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_owned();
    killed_imports_leave_nothing_half_written(&|n| {
        path.join(format!("k{n}.gpkg")).to_str().unwrap().to_owned()
    });
}

#[test]
fn a_killed_import_leaves_postgis_before_or_after() {
    let admin = std::env::var("GENGXIN_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let prefix = format!("gengxin_t_kill_{}", std::process::id());
    let made = std::sync::Mutex::new(Vec::new());
    let server = admin.rsplit_once('/').unwrap().0.to_owned();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        killed_imports_leave_nothing_half_written(&|n| {
            let name = format!("{prefix}_{n}");
            psql(
                &admin,
                &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            );
            psql(&admin, &format!("CREATE DATABASE {name}"));
            made.lock().unwrap().push(name.clone());
            format!("{server}/{name}")
        })
    }));
    for name in made.into_inner().unwrap() {
        psql(
            &admin,
            &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        );
    }
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}
