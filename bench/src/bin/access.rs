//! The accessibility benchmark's Rust side (`bench/access.sh` drives it; `bench/access/harness.py`
//! runs pandana, cityseer and an exact scipy Dijkstra on the same files).
//!
//! - `access prep --pbf F --out DIR`: the walking network of an OpenStreetMap extract, read by
//!   Gengxin's own OSM reader (walkable ways, access tags), projected to transverse Mercator
//!   metres, every way vertex a node and every segment an edge (so that every tool sees the same
//!   straight-edged graph); the six most frequent `amenity` values of tagged nodes as the POI
//!   categories, each POI moved onto its nearest network node; POI weights are generated
//!   (1–9 from the OSM id), since OSM has no common numeric attribute.
//! - `access gen --nodes N --out DIR`: a generated city network of about N nodes (a jittered
//!   grid of 80 m blocks with missing and diagonal streets) with POIs, for scaling runs.
//! - `access run DIR OUT`: the suite on our engine — for every node and category the nearest POI
//!   (max 2000 m) and the count and weight sum within 300, 500 and 1000 m — written as raw
//!   float64 arrays with `time.json`.
//!
//! File formats: `nodes.csv` (`x,y`), `edges.csv` (`u,v,length`), `categories.txt`,
//! `pois.csv` (`category,node,x,y,weight`).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use gengxin_engine::access;
use gengxin_engine::network::{BuildOptions, Location, Network};
use gengxin_io::osm::OsmKind;
use geo_types::{Coord, Geometry, LineString};
use rand::{Rng, SeedableRng};
use rayon::prelude::*;

const RADII: [f64; 3] = [300.0, 500.0, 1000.0];
const MAX_NEAREST: f64 = 2000.0;
const CATEGORIES: usize = 6;

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    Prep {
        #[arg(long)]
        pbf: PathBuf,
        #[arg(long)]
        out: PathBuf,
    },
    Gen {
        #[arg(long)]
        nodes: usize,
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value_t = 7)]
        seed: u64,
    },
    Run {
        dir: PathBuf,
        out: PathBuf,
    },
}

fn main() -> Result<()> {
    match Cli::parse().cmd {
        Cmd::Prep { pbf, out } => prep(&pbf, &out),
        Cmd::Gen { nodes, out, seed } => gen_city(nodes, &out, seed),
        Cmd::Run { dir, out } => run(&dir, &out),
    }
}

struct Poi {
    category: usize,
    node: u32,
    weight: f64,
}

fn write_graph(out: &Path, net: &Network, names: &[String], pois: &[Poi]) -> Result<()> {
    fs::create_dir_all(out)?;
    let mut s = String::from("x,y\n");
    for v in 0..net.node_count() as u32 {
        let c = net.node(v);
        writeln!(s, "{:?},{:?}", c.x, c.y)?;
    }
    fs::write(out.join("nodes.csv"), s)?;
    let mut s = String::from("u,v,length\n");
    for e in net.edges() {
        writeln!(s, "{},{},{:?}", e.u, e.v, e.length)?;
    }
    fs::write(out.join("edges.csv"), s)?;
    fs::write(out.join("categories.txt"), names.join("\n") + "\n")?;
    let mut s = String::from("category,node,x,y,weight\n");
    for p in pois {
        let c = net.node(p.node);
        writeln!(
            s,
            "{},{},{:?},{:?},{:?}",
            p.category, p.node, c.x, c.y, p.weight
        )?;
    }
    fs::write(out.join("pois.csv"), s)?;
    Ok(())
}

fn prep(pbf: &Path, out: &Path) -> Result<()> {
    let opts = gengxin_io::ReadOptions {
        osm: Some(OsmKind::Walkways),
        ..Default::default()
    };
    let data = gengxin_io::osm::read(pbf, &opts).context("reading the walkable ways")?;
    let lines: Vec<LineString> = data
        .records
        .into_iter()
        .filter_map(|r| match r.geometry {
            Some(Geometry::LineString(l)) => Some(l),
            _ => None,
        })
        .collect();
    let lon0 = {
        let (sum, n) = lines
            .iter()
            .flat_map(|l| l.0.iter())
            .fold((0.0, 0usize), |(s, n), c| (s + c.x, n + 1));
        (sum / n.max(1) as f64).round()
    };
    let geographic = proj4rs::Proj::from_proj_string("+proj=longlat +ellps=WGS84 +no_defs")
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let tm = proj4rs::Proj::from_proj_string(&format!(
        "+proj=tmerc +lat_0=0 +lon_0={lon0} +k=1 +x_0=500000 +y_0=0 +ellps=WGS84 +units=m +no_defs"
    ))
    .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let project = |c: Coord| -> Coord {
        let mut p = (c.x.to_radians(), c.y.to_radians(), 0.0);
        proj4rs::transform::transform(&geographic, &tm, &mut p).expect("projectable");
        Coord { x: p.0, y: p.1 }
    };
    // Every segment its own line: every vertex becomes a node, every edge is straight.
    let segments: Vec<LineString> = lines
        .iter()
        .flat_map(|l| {
            l.lines()
                .map(|s| LineString::new(vec![project(s.start), project(s.end)]))
        })
        .collect();
    let (net, report) = Network::from_lines(
        &segments,
        BuildOptions {
            simplify: false,
            ..Default::default()
        },
    );
    eprintln!(
        "{}: {} ways, {} nodes, {} edges, {} components (largest {:.1}%)",
        pbf.display(),
        lines.len(),
        report.nodes,
        report.edges,
        report.components,
        report.largest_component_share * 100.0
    );

    // POIs: tagged nodes by amenity value.
    let mut found: Vec<(String, i64, Coord)> = Vec::new();
    osmpbf::ElementReader::from_path(pbf)?.for_each(|el| {
        let (id, lon, lat, amenity) = match &el {
            osmpbf::Element::Node(n) => (
                n.id(),
                n.lon(),
                n.lat(),
                n.tags().find(|t| t.0 == "amenity").map(|t| t.1.to_owned()),
            ),
            osmpbf::Element::DenseNode(n) => (
                n.id(),
                n.lon(),
                n.lat(),
                n.tags().find(|t| t.0 == "amenity").map(|t| t.1.to_owned()),
            ),
            _ => return,
        };
        if let Some(a) = amenity {
            found.push((a, id, project(Coord { x: lon, y: lat })));
        }
    })?;
    let mut freq: HashMap<&str, usize> = HashMap::new();
    for f in &found {
        *freq.entry(f.0.as_str()).or_default() += 1;
    }
    let mut top: Vec<(&str, usize)> = freq.into_iter().collect();
    top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let names: Vec<String> = top
        .iter()
        .take(CATEGORIES)
        .map(|t| t.0.to_owned())
        .collect();
    if names.len() < CATEGORIES {
        bail!("{}: fewer than {CATEGORIES} amenity values", pbf.display());
    }
    let tree = rstar::RTree::bulk_load(
        (0..net.node_count() as u32)
            .map(|v| rstar::primitives::GeomWithData::new([net.node(v).x, net.node(v).y], v))
            .collect(),
    );
    let mut pois = Vec::new();
    let mut far = 0;
    for (a, id, c) in &found {
        let Some(category) = names.iter().position(|n| n == a) else {
            continue;
        };
        let hit = tree.nearest_neighbor(&[c.x, c.y]).expect("a network");
        let d = (hit.geom()[0] - c.x).hypot(hit.geom()[1] - c.y);
        if d > 500.0 {
            far += 1;
            continue;
        }
        pois.push(Poi {
            category,
            node: hit.data,
            weight: (1 + id.rem_euclid(9)) as f64,
        });
    }
    for (i, n) in names.iter().enumerate() {
        eprintln!(
            "  {n}: {} POIs",
            pois.iter().filter(|p| p.category == i).count()
        );
    }
    eprintln!("  {far} POIs more than 500 m from the network left out");
    write_graph(out, &net, &names, &pois)
}

fn gen_city(nodes: usize, out: &Path, seed: u64) -> Result<()> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let side = (nodes as f64).sqrt().ceil() as usize;
    let block = 80.0;
    let mut xy = Vec::with_capacity(side * side);
    for j in 0..side {
        for i in 0..side {
            xy.push(Coord {
                x: i as f64 * block + rng.gen_range(-15.0..15.0),
                y: j as f64 * block + rng.gen_range(-15.0..15.0),
            });
        }
    }
    let id = |i: usize, j: usize| (j * side + i) as u32;
    let mut segs = Vec::new();
    for j in 0..side {
        for i in 0..side {
            // 8% of streets missing, a diagonal path in 5% of blocks.
            if i + 1 < side && rng.gen_bool(0.92) {
                segs.push((id(i, j), id(i + 1, j)));
            }
            if j + 1 < side && rng.gen_bool(0.92) {
                segs.push((id(i, j), id(i, j + 1)));
            }
            if i + 1 < side && j + 1 < side && rng.gen_bool(0.05) {
                segs.push((id(i, j), id(i + 1, j + 1)));
            }
        }
    }
    let net = Network::from_segments(xy, &segs);
    // Categories as dense as a city's: one per 150 … 3000 nodes.
    let per = [150, 300, 500, 800, 1500, 3000];
    let names: Vec<String> = ["restaurant", "shop", "bus_stop", "clinic", "school", "park"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let mut pois = Vec::new();
    for (c, p) in per.iter().enumerate() {
        for _ in 0..net.node_count() / p {
            pois.push(Poi {
                category: c,
                node: rng.gen_range(0..net.node_count() as u32),
                weight: rng.gen_range(1..10) as f64,
            });
        }
    }
    eprintln!(
        "generated {} nodes, {} edges, {} POIs",
        net.node_count(),
        net.edge_count(),
        pois.len()
    );
    write_graph(out, &net, &names, &pois)
}

/// The numeric rows of a CSV file with a header, `width` columns each, flattened.
fn read_rows(path: &Path, width: usize) -> Result<Vec<f64>> {
    let text = fs::read_to_string(path).with_context(|| path.display().to_string())?;
    let mut out = Vec::new();
    for l in text.lines().skip(1).filter(|l| !l.is_empty()) {
        let before = out.len();
        for v in l.split(',') {
            out.push(
                v.parse::<f64>()
                    .with_context(|| format!("{}: {l}", path.display()))?,
            );
        }
        if out.len() - before != width {
            bail!("{}: expected {width} columns: {l}", path.display());
        }
    }
    Ok(out)
}

fn run(dir: &Path, out: &Path) -> Result<()> {
    let t0 = Instant::now();
    let nodes: Vec<Coord> = read_rows(&dir.join("nodes.csv"), 2)?
        .chunks(2)
        .map(|r| Coord { x: r[0], y: r[1] })
        .collect();
    let edges: Vec<(u32, u32)> = read_rows(&dir.join("edges.csv"), 3)?
        .chunks(3)
        .map(|r| (r[0] as u32, r[1] as u32))
        .collect();
    let pois_flat = read_rows(&dir.join("pois.csv"), 5)?;
    let pois: Vec<&[f64]> = pois_flat.chunks(5).collect();
    let load_s = t0.elapsed().as_secs_f64();

    let t1 = Instant::now();
    let n = nodes.len();
    let net = Network::from_segments(nodes, &edges);
    let t_build = t1.elapsed().as_secs_f64();
    let origins: Vec<Option<Location>> = (0..n as u32).map(|v| net.node_location(v)).collect();
    let per_category: Vec<(Vec<Option<Location>>, Vec<f64>)> = (0..CATEGORIES)
        .map(|c| {
            let mine: Vec<&&[f64]> = pois.iter().filter(|p| p[0] as usize == c).collect();
            let targets = mine
                .iter()
                .map(|p| net.node_location(p[1] as u32))
                .collect();
            (targets, mine.iter().map(|p| p[4]).collect())
        })
        .collect();
    // Nearest: one search per category, categories in parallel; within: parallel over the
    // targets of one category at a time (so that only one set of per-thread counters lives).
    let nearest: Vec<Vec<f64>> = per_category
        .par_iter()
        .map(|(targets, _)| access::nearest(&net, targets, &origins, 1, MAX_NEAREST).distance)
        .collect();
    let t_near = t1.elapsed().as_secs_f64();
    let within: Vec<access::Within> = per_category
        .iter()
        .map(|(targets, weights)| access::within(&net, targets, weights, &origins, &RADII))
        .collect();
    let results: Vec<(Vec<f64>, access::Within)> = nearest.into_iter().zip(within).collect();
    let compute_s = t1.elapsed().as_secs_f64();

    fs::create_dir_all(out)?;
    let file = |name: &str| -> Result<std::io::BufWriter<fs::File>> {
        Ok(std::io::BufWriter::new(fs::File::create(out.join(name))?))
    };
    let (mut nearest, mut count, mut sum) =
        (file("nearest.f64")?, file("count.f64")?, file("sum.f64")?);
    for (near, w) in &results {
        for d in near {
            nearest.write_all(&d.to_le_bytes())?;
        }
        for c in &w.count {
            count.write_all(&(*c as f64).to_le_bytes())?;
        }
        for s in &w.sum {
            sum.write_all(&s.to_le_bytes())?;
        }
    }
    for mut f in [nearest, count, sum] {
        f.flush()?;
    }
    let mut f = fs::File::create(out.join("time.json"))?;
    writeln!(
        f,
        "{{\"load_s\": {load_s}, \"compute_s\": {compute_s}, \"nodes\": {n}, \"edges\": {}}}",
        net.edge_count()
    )?;
    eprintln!(
        "{n} nodes: load {load_s:.3} s, compute {compute_s:.3} s (build {t_build:.3} s, nearest {t_near:.3} s)"
    );
    Ok(())
}
