//! Bounding-box query latency on both storage backends, in one run, on the same data.
//!
//! Generates N building footprints (default 1,000,000; generated, not real: rectangles of
//! 8–40 m, denser towards the centre of Wuhan's extent), loads them through the `Store` trait
//! into a new GeoPackage and into a scratch PostgreSQL/PostGIS database, then asks both the same
//! bounding boxes (map views of about 250 m, 500 m and 2 km) through the `Store` trait and prints
//! load time and query latency p50/p99 per backend.
//!
//! `cargo run --release -p gengxin-bench --bin store_bbox -- [--buildings N] [--queries Q] [--pg URL]`

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use chrono::{TimeZone, Utc};
use clap::Parser;
use gengxin_model::{Feature, GENERATED, LayerId};
use gengxin_store::{Bbox, Query, Store};
use geo_types::polygon;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

#[derive(Parser)]
struct Args {
    /// Buildings to load.
    #[arg(long, default_value_t = 1_000_000)]
    buildings: usize,
    /// Queries per box size and backend.
    #[arg(long, default_value_t = 1000)]
    queries: usize,
    /// A superuser URL of the PostgreSQL server to make the scratch database on.
    #[arg(
        long,
        env = "GENGXIN_TEST_PG",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    pg: String,
}

/// Wuhan's extent (EPSG:4490 degrees) and its centre.
const MIN: (f64, f64) = (113.70, 29.97);
const MAX: (f64, f64) = (115.08, 31.36);
const CENTRE: (f64, f64) = (114.30, 30.58);
/// Metres per degree near 30.5° N.
const M_LON: f64 = 96_000.0;
const M_LAT: f64 = 111_000.0;

fn point(rng: &mut ChaCha8Rng) -> (f64, f64) {
    // Half of all buildings within ~15 km of the centre, the rest anywhere.
    if rng.gen_bool(0.5) {
        let r = rng.gen_range(0.0f64..1.0).sqrt() * 15_000.0;
        let a = rng.gen_range(0.0..std::f64::consts::TAU);
        (
            CENTRE.0 + r * a.cos() / M_LON,
            CENTRE.1 + r * a.sin() / M_LAT,
        )
    } else {
        (rng.gen_range(MIN.0..MAX.0), rng.gen_range(MIN.1..MAX.1))
    }
}

fn building(i: usize, rng: &mut ChaCha8Rng) -> Feature {
    let (x, y) = point(rng);
    let (w, h) = (
        rng.gen_range(8.0..40.0) / M_LON,
        rng.gen_range(8.0..40.0) / M_LAT,
    );
    let at = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    Feature::new(format!("b{i:07}"), GENERATED, at)
        .with_geometry(
            polygon![(x: x, y: y), (x: x + w, y: y), (x: x + w, y: y + h), (x: x, y: y + h)],
        )
        .set("floors", rng.gen_range(1..34_i64))
        .set("footprint_m2", w * M_LON * h * M_LAT)
}

fn boxes(n: usize, size_m: f64, seed: u64) -> Vec<Bbox> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            let (x, y) = point(&mut rng);
            let (dx, dy) = (size_m / 2.0 / M_LON, size_m / 2.0 / M_LAT);
            Bbox::new(x - dx, y - dy, x + dx, y + dy).expect("inside lon/lat")
        })
        .collect()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

async fn load(store: &dyn Store, n: usize) -> Result<Duration> {
    let mut rng = ChaCha8Rng::seed_from_u64(4201);
    let started = Instant::now();
    let mut i = 0;
    while i < n {
        let chunk: Vec<Feature> = (i..(i + 100_000).min(n))
            .map(|k| building(k, &mut rng))
            .collect();
        i += chunk.len();
        store.insert(vec![(LayerId::Buildings, chunk)]).await?;
    }
    Ok(started.elapsed())
}

struct Row {
    backend: &'static str,
    size_m: f64,
    p50: Duration,
    p99: Duration,
    mean_hits: f64,
}

async fn run_queries(
    store: &dyn Store,
    backend: &'static str,
    boxes: &[Bbox],
    size_m: f64,
) -> Result<Row> {
    // Warm up caches with a tenth of the boxes, then time all.
    for b in boxes.iter().take(boxes.len() / 10) {
        store
            .query(
                LayerId::Buildings,
                Query {
                    bbox: Some(*b),
                    ..Query::default()
                },
            )
            .await?;
    }
    let mut times = Vec::with_capacity(boxes.len());
    let mut hits = 0usize;
    for b in boxes {
        let t = Instant::now();
        let found = store
            .query(
                LayerId::Buildings,
                Query {
                    bbox: Some(*b),
                    ..Query::default()
                },
            )
            .await?;
        times.push(t.elapsed());
        hits += found.len();
    }
    times.sort();
    Ok(Row {
        backend,
        size_m,
        p50: percentile(&times, 0.5),
        p99: percentile(&times, 0.99),
        mean_hits: hits as f64 / boxes.len() as f64,
    })
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let dir = tempfile::tempdir()?;
    let gpkg_path = dir.path().join("bench.gpkg").display().to_string();
    let db = format!("gengxin_bench_{}", std::process::id());
    let (prefix, _) = args
        .pg
        .rsplit_once('/')
        .context("the PostgreSQL URL names a database")?;
    let pg_url = format!("{prefix}/{db}");
    let psql = |sql: String| -> Result<()> {
        let out = std::process::Command::new("psql")
            .args([
                args.pg.as_str(),
                "-XAtq",
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                &sql,
            ])
            .output()
            .context("psql runs")?;
        anyhow::ensure!(
            out.status.success(),
            "{sql}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(())
    };
    psql(format!("CREATE DATABASE {db}"))?;
    let result = async {
        let gpkg = gengxin_store::create_or_open(&gpkg_path).await?;
        let pg = gengxin_store::create_or_open(&pg_url).await?;
        println!(
            "store_bbox: {} generated buildings, {} queries per box size and backend",
            args.buildings, args.queries
        );
        let mut rows = Vec::new();
        for (name, store) in [("geopackage", &gpkg), ("postgis", &pg)] {
            let took = load(&**store, args.buildings).await?;
            println!(
                "load {name:<10} {:>8.1} s  {:>9.0} buildings/s",
                took.as_secs_f64(),
                args.buildings as f64 / took.as_secs_f64()
            );
        }
        for (k, size_m) in [250.0, 500.0, 2000.0].into_iter().enumerate() {
            let bs = boxes(args.queries, size_m, 7 + k as u64);
            for (name, store) in [("geopackage", &gpkg), ("postgis", &pg)] {
                rows.push(run_queries(&**store, name, &bs, size_m).await?);
            }
        }
        println!("\n| backend | box | mean hits | p50 | p99 |\n|---|---|---|---|---|");
        for r in &rows {
            println!(
                "| {} | {} m | {:.0} | {:.2} ms | {:.2} ms |",
                r.backend,
                r.size_m,
                r.mean_hits,
                r.p50.as_secs_f64() * 1e3,
                r.p99.as_secs_f64() * 1e3
            );
        }
        println!("\nratio postgis/geopackage (p50, p99):");
        for pair in rows.chunks(2) {
            anyhow::ensure!(
                pair[0].mean_hits == pair[1].mean_hits,
                "the backends found different buildings for {} m boxes",
                pair[0].size_m
            );
            println!(
                "  {} m: {:.2}x, {:.2}x",
                pair[0].size_m,
                pair[1].p50.as_secs_f64() / pair[0].p50.as_secs_f64(),
                pair[1].p99.as_secs_f64() / pair[0].p99.as_secs_f64()
            );
        }
        anyhow::Ok(())
    }
    .await;
    psql(format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))?;
    result
}
