//! Crash test of the reporting mechanism, on both backends: 200 clients submit reports at once
//! while the real server is killed with SIGKILL and restarted, several times. Clients retry with
//! their Idempotency-Key until they get an answer. Afterwards every submission that was
//! acknowledged is there, no key made two submissions, and the audit chain is whole.
//! `scripts/crash-test` runs this file alone.

mod common;
use common::run;

use std::collections::{BTreeMap, BTreeSet};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_gengxin");
const CLIENTS: usize = 200;
const KILLS: usize = 4;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn serve(store: &str, port: u16) -> Child {
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
    let deadline = Instant::now() + Duration::from_secs(60);
    while reqwest::blocking::get(format!("http://127.0.0.1:{port}/api/health"))
        .map(|r| !r.status().is_success())
        .unwrap_or(true)
    {
        assert!(Instant::now() < deadline, "the server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    child
}

fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

/// Sets up a store: an administrator with an API token, a district user, a project, the
/// progress form. Returns the two tokens.
fn prepare(store: &str, port: u16) -> (String, String) {
    run(&["migrate", "--store", store], "");
    run(
        &[
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
        ],
        "Crane-Tower-2026\n",
    );
    run(
        &[
            "user",
            "add",
            "--store",
            store,
            "--username",
            "wuchang",
            "--role",
            "district",
            "--organisation",
            "org-wuchang",
            "--district",
            "420106",
        ],
        "Han-River-2026\n",
    );
    let admin = run(
        &[
            "user",
            "token",
            "--store",
            store,
            "--username",
            "admin",
            "--name",
            "crash",
        ],
        "",
    );
    let district = run(
        &[
            "user",
            "token",
            "--store",
            store,
            "--username",
            "wuchang",
            "--name",
            "crash",
        ],
        "",
    );
    let mut server = serve(store, port);
    let base = format!("http://127.0.0.1:{port}");
    let c = client();
    let r = c
        .post(format!("{base}/api/layers/projects/features"))
        .bearer_auth(&admin)
        .json(
            &serde_json::json!({"type": "Feature", "id": "prj-1", "geometry": null, "properties": {
            "code": "GX-1", "name": "积玉桥旧城改造", "renewal_object_id": "ro-1",
            "district_code": "420106", "stage": "construction", "progress_pct": 10.0,
            "start_date": "2026-01-01", "planned_end_date": "2028-12-31"}}),
        )
        .send()
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().unwrap());
    let r = c
        .post(format!("{base}/api/forms"))
        .bearer_auth(&admin)
        .json(&serde_json::json!({
            "code": "progress", "name": "月度进度填报",
            "fields": [
                {"name": "progress_pct", "label": "总体进度", "kind": "number", "required": true,
                 "min": 0, "max": 100, "target": "progress_pct"},
                {"name": "note", "label": "说明", "kind": "text"}],
            "review_chain": "district_city", "cycle": "monthly", "deadline_day": 5, "remind_days": 3}))
        .send()
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().unwrap());
    server.kill().unwrap();
    server.wait().unwrap();
    (admin, district)
}

fn crash_cycles(store: &str) {
    let port = free_port();
    let (admin, district) = prepare(store, port);
    let base = format!("http://127.0.0.1:{port}");
    let period = chrono::Utc::now().format("%Y-%m").to_string();
    let server = Arc::new(Mutex::new(Some(serve(store, port))));
    // key → submission id, for every acknowledged submission.
    let acked: Arc<Mutex<BTreeMap<String, String>>> = Arc::default();
    // Requests that failed because the server died under them (then retried).
    let interrupted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let stop_at = Instant::now() + Duration::from_secs(240);
    let clients: Vec<_> = (0..CLIENTS)
        .map(|i| {
            let (base, district, period, acked, interrupted) = (
                base.clone(),
                district.clone(),
                period.clone(),
                acked.clone(),
                interrupted.clone(),
            );
            std::thread::spawn(move || {
                let key = format!("crash-{i}");
                let c = client();
                while Instant::now() < stop_at {
                    let r = c
                        .post(format!("{base}/api/submissions"))
                        .bearer_auth(&district)
                        .header("idempotency-key", &key)
                        .json(&serde_json::json!({
                            "form_id": "progress@1", "project_id": "prj-1", "period": period,
                            "values": {"progress_pct": (i % 100) as f64, "note": format!("客户端 {i}")},
                            "submit": true}))
                        .send();
                    match r {
                        Ok(r) if r.status().is_success() => {
                            let v: serde_json::Value = r.json().unwrap();
                            acked
                                .lock()
                                .unwrap()
                                .insert(key.clone(), v["id"].as_str().unwrap().to_owned());
                            return;
                        }
                        // The server is down or answered 5xx/409 while dying: try again.
                        _ => {
                            interrupted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            std::thread::sleep(Duration::from_millis(20 + (i as u64 % 7) * 10))
                        }
                    }
                }
            })
        })
        .collect();
    // Kill the server while the submissions arrive, then bring it back. The kills are paced by
    // the submissions acknowledged so far (after a third, …), not by the clock, so on any
    // machine each lands while clients are still submitting.
    for k in 0..KILLS {
        let due = (k + 1) * CLIENTS / (KILLS + 2);
        while acked.lock().unwrap().len() < due && Instant::now() < stop_at {
            std::thread::sleep(Duration::from_millis(2));
        }
        let mut s = server.lock().unwrap();
        let answered = acked.lock().unwrap().len();
        assert!(
            answered < CLIENTS,
            "kill {k} came after every client was answered"
        );
        if let Some(mut child) = s.take() {
            child.kill().unwrap(); // SIGKILL
            child.wait().unwrap();
        }
        *s = Some(serve(store, port));
    }
    for c in clients {
        c.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert_eq!(acked.len(), CLIENTS, "every client got an answer in time");
    let interrupted = interrupted.load(std::sync::atomic::Ordering::Relaxed);
    eprintln!("{store}: {interrupted} requests interrupted by {KILLS} kills");
    assert!(interrupted > 0, "the kills must hit requests in flight");
    // After one more crash and restart, everything acknowledged is there, once.
    {
        let mut s = server.lock().unwrap();
        let mut child = s.take().unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
        *s = Some(serve(store, port));
    }
    let c = client();
    let list: Vec<serde_json::Value> = c
        .get(format!("{base}/api/submissions?project_id=prj-1"))
        .bearer_auth(&admin)
        .send()
        .unwrap()
        .json()
        .unwrap();
    let stored: BTreeSet<String> = list
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(list.len(), stored.len());
    let missing: Vec<_> = acked.values().filter(|id| !stored.contains(*id)).collect();
    assert!(missing.is_empty(), "acknowledged but lost: {missing:?}");
    // One submission per key: no retry made a second one.
    assert_eq!(
        stored.len(),
        CLIENTS,
        "duplicates or strays: {}",
        stored.len()
    );
    for s in &list {
        assert_eq!(s["status"], "submitted");
        assert!(s["values"]["progress_pct"].is_number(), "half-written: {s}");
    }
    // The audit log is the audit administrator's (made at the command line, as only it can).
    run(
        &[
            "user",
            "add",
            "--store",
            store,
            "--username",
            "auditor",
            "--role",
            "audit_admin",
            "--organisation",
            "org-city",
        ],
        "Ledger-Bell-2026\n",
    );
    let auditor = run(
        &[
            "user",
            "token",
            "--store",
            store,
            "--username",
            "auditor",
            "--name",
            "crash",
        ],
        "",
    );
    let v: serde_json::Value = c
        .get(format!("{base}/api/audit/verify"))
        .bearer_auth(&auditor)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(v["ok"], true, "{v}");
    let mut s = server.lock().unwrap();
    if let Some(mut child) = s.take() {
        let _ = child.kill();
        let _ = child.wait();
    }
}

#[test]
fn submissions_survive_sigkill_on_a_geopackage() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("crash.gpkg");
    crash_cycles(store.to_str().unwrap());
    assert!(Path::new(&store).exists());
}

#[test]
fn submissions_survive_sigkill_on_postgis() {
    let admin = std::env::var("GENGXIN_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let name = format!("gengxin_t_crash_{}", std::process::id());
    let psql = |sql: &str| {
        let out = Command::new("psql")
            .args([admin.as_str(), "-XAtq", "-v", "ON_ERROR_STOP=1", "-c", sql])
            .output()
            .expect("psql runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    psql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
    psql(&format!("CREATE DATABASE {name}"));
    let url = format!("{}/{name}", admin.rsplit_once('/').unwrap().0);
    let result = std::panic::catch_unwind(|| crash_cycles(&url));
    psql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}
