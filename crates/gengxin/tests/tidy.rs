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

/// The modules of `gengxin-api/src` (the crate root aside) and, for each, the sibling modules
/// its code names (`crate::x` paths, also inside `use crate::{x, y::z}` groups).
fn api_modules() -> BTreeMap<String, (String, Vec<String>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../gengxin-api/src");
    let sources: BTreeMap<String, String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "rs") && !p.ends_with("lib.rs"))
        .map(|p| {
            let name = p.file_stem().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&p).unwrap())
        })
        .collect();
    let names: Vec<String> = sources.keys().cloned().collect();
    sources
        .into_iter()
        .map(|(name, text)| {
            let mut used = Vec::new();
            for (at, _) in text.match_indices("crate::") {
                let rest = &text[at + "crate::".len()..];
                // `crate::{a, b::c}` names every first segment in the group.
                let firsts: Vec<&str> = match rest.strip_prefix('{') {
                    Some(group) => group[..group.find('}').unwrap_or(group.len())]
                        .split(',')
                        .map(|s| s.trim().split("::").next().unwrap_or("").trim())
                        .collect(),
                    None => vec![
                        rest.split(|c: char| !c.is_alphanumeric() && c != '_')
                            .next()
                            .unwrap(),
                    ],
                };
                for m in firsts {
                    if m != name && names.iter().any(|n| n == m) && !used.iter().any(|u| u == m) {
                        used.push(m.to_owned());
                    }
                }
            }
            (name, (text, used))
        })
        .collect()
}

#[test]
fn the_api_modules_import_each_other_without_a_circle() {
    let modules = api_modules();
    assert!(
        modules["reporting"].1.iter().any(|m| m == "who"),
        "the scan must see reporting's use of crate::who"
    );
    // Depth-first search for a back edge; report the circle it closes.
    fn visit<'a>(
        m: &'a str,
        modules: &'a BTreeMap<String, (String, Vec<String>)>,
        path: &mut Vec<&'a str>,
        done: &mut Vec<&'a str>,
    ) -> Option<String> {
        if let Some(i) = path.iter().position(|p| *p == m) {
            let mut circle = path[i..].to_vec();
            circle.push(m);
            return Some(circle.join(" → "));
        }
        if done.contains(&m) {
            return None;
        }
        path.push(m);
        for next in &modules[m].1 {
            if let Some(c) = visit(next, modules, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.push(m);
        None
    }
    let mut done = Vec::new();
    for m in modules.keys() {
        if let Some(circle) = visit(m, &modules, &mut Vec::new(), &mut done) {
            panic!("gengxin-api modules import each other in a circle: {circle}");
        }
    }
}

#[test]
fn every_api_module_has_a_wire_reason_to_be_there() {
    // A module of the API speaks HTTP (axum) or describes the wire format (utoipa DTOs);
    // anything else is a use case and belongs in gengxin-app.
    let lazy: Vec<String> = api_modules()
        .into_iter()
        .filter(|(_, (text, _))| !text.contains("axum") && !text.contains("ToSchema"))
        .map(|(name, _)| name)
        .collect();
    assert!(
        lazy.is_empty(),
        "gengxin-api modules with neither axum nor a DTO: {lazy:?} (move them to gengxin-app)"
    );
}
