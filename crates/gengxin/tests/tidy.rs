//! Architecture invariants, read from the crates' `Cargo.toml` files: dependencies point one way
//! (api → app → pure crates and store → model), the engine uses only geometry, maths and
//! parallelism crates, the pure crates do no I/O, and only the API and the binary speak HTTP.

use std::collections::BTreeMap;
use std::path::Path;

/// Each workspace crate's rank: a crate may depend only on crates of a lower rank.
const RANKS: &[(&str, u8)] = &[
    ("gengxin-model", 0),
    ("gengxin-engine", 1),
    ("gengxin-auth", 1),
    ("gengxin-report", 1),
    ("gengxin-fonts", 1),
    ("gengxin-search", 1),
    ("gengxin-web", 1),
    ("gengxin-query", 2),
    ("gengxin-store", 2),
    ("gengxin-io", 3),
    ("gengxin-app", 4),
    ("gengxin-demo", 5),
    ("gengxin-api", 5),
    ("gengxin", 6),
    ("gengxin-bench", 6),
];

/// The crates that do no I/O: rules and computations only.
const PURE: &[&str] = &[
    "gengxin-model",
    "gengxin-engine",
    "gengxin-auth",
    "gengxin-report",
    "gengxin-fonts",
    "gengxin-search",
    "gengxin-query",
];

/// What the engine may use: geometry, projections, spatial indexes, parallelism.
const ENGINE: &[&str] = &["geo", "geo-types", "proj4rs", "rayon", "rstar"];

/// Crates that speak HTTP or describe it: only the API and the binary.
const HTTP: &[&str] = &[
    "axum",
    "axum-extra",
    "cookie",
    "http",
    "hyper",
    "reqwest",
    "tower",
    "tower-http",
    "utoipa",
];
const HTTP_ALLOWED: &[&str] = &["gengxin-api", "gengxin"];

/// Crates that do I/O (files, databases, sockets, async runtimes): never in a pure crate.
const IO: &[&str] = &[
    "tokio",
    "tokio-stream",
    "sqlx",
    "rusqlite",
    "r2d2",
    "r2d2_sqlite",
    "reqwest",
    "tempfile",
    "async-trait",
];

/// Every workspace crate and the names of its normal (not dev-) dependencies.
fn crates() -> BTreeMap<String, Vec<String>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut manifests: Vec<_> = std::fs::read_dir(root.join("crates"))
        .unwrap()
        .map(|e| e.unwrap().path().join("Cargo.toml"))
        .filter(|p| p.is_file())
        .collect();
    manifests.push(root.join("bench/Cargo.toml"));
    manifests
        .iter()
        .map(|p| {
            let doc: toml::Table = std::fs::read_to_string(p).unwrap().parse().unwrap();
            let name = doc["package"]["name"].as_str().unwrap().to_owned();
            let deps = doc
                .get("dependencies")
                .and_then(|d| d.as_table())
                .map(|t| t.keys().cloned().collect())
                .unwrap_or_default();
            (name, deps)
        })
        .collect()
}

fn rank(name: &str) -> Option<u8> {
    RANKS.iter().find(|(n, _)| *n == name).map(|(_, r)| *r)
}

#[test]
fn every_crate_has_a_rank_and_depends_only_downwards() {
    let mut wrong = Vec::new();
    for (name, deps) in crates() {
        let Some(r) = rank(&name) else {
            wrong.push(format!("{name} has no rank in tests/tidy.rs"));
            continue;
        };
        for d in deps.iter().filter(|d| d.starts_with("gengxin")) {
            match rank(d) {
                Some(dr) if dr < r => {}
                _ => wrong.push(format!("{name} (rank {r}) depends on {d} (not below it)")),
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_engine_uses_only_geometry_maths_and_parallelism() {
    let all = crates();
    let extra: Vec<_> = all["gengxin-engine"]
        .iter()
        .filter(|d| !ENGINE.contains(&d.as_str()))
        .collect();
    assert!(extra.is_empty(), "gengxin-engine depends on {extra:?}");
}

#[test]
fn pure_crates_do_no_io_and_only_the_api_speaks_http() {
    let mut wrong = Vec::new();
    for (name, deps) in crates() {
        for d in &deps {
            if PURE.contains(&name.as_str()) && IO.contains(&d.as_str()) {
                wrong.push(format!("{name} is pure but depends on {d}"));
            }
            if HTTP.contains(&d.as_str()) && !HTTP_ALLOWED.contains(&name.as_str()) {
                wrong.push(format!(
                    "{name} depends on {d}; only {HTTP_ALLOWED:?} speak HTTP"
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_rules_above_can_fail() {
    // The checks read real manifests: the API does depend on axum and the app, and the
    // application does depend on the store.
    let all = crates();
    assert!(all["gengxin-api"].iter().any(|d| d == "axum"));
    assert!(all["gengxin-api"].iter().any(|d| d == "gengxin-app"));
    assert!(all["gengxin-app"].iter().any(|d| d == "gengxin-store"));
    assert!(rank("gengxin-app") > rank("gengxin-store"));
}
