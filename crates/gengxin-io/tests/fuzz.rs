//! Fuzzing every reader with proptest: real files with random bytes overwritten and random
//! truncation, plus random bytes alone. Every input must give `Ok` or a clear `Err`, never a
//! panic. The number of cases per reader is fixed (`CASES`), so CI time is bounded; raise it
//! locally with `PROPTEST_CASES=5000 cargo test -p gengxin-io --test fuzz`.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use gengxin_io::export::{Table, write};
use gengxin_io::{Format, ReadOptions};
use gengxin_model::{Feature, FieldType, GeometryType};
use proptest::prelude::*;

const CASES: u32 = 48;

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(CASES)
}

fn shared(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data")
        .join(rel)
}

/// Small valid files of each binary format, written once by Gengxin's own exporters.
fn seeds() -> &'static (tempfile::TempDir, Vec<(Format, PathBuf)>) {
    static SEEDS: OnceLock<(tempfile::TempDir, Vec<(Format, PathBuf)>)> = OnceLock::new();
    SEEDS.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let rows = (0..3)
            .map(|i| {
                Feature::new(format!("s{i}"), "fuzz", chrono::Utc::now())
                    .with_geometry(geo_types::Polygon::new(
                        geo_types::LineString::from(vec![
                            (114.0 + i as f64, 30.0),
                            (114.5, 30.0),
                            (114.5, 30.5),
                            (114.0 + i as f64, 30.0),
                        ]),
                        vec![],
                    ))
                    .set("name", format!("名称{i}"))
                    .set("n", i as i64)
            })
            .map(|mut f| {
                if let Some(geo_types::Geometry::Polygon(p)) = f.geometry.take() {
                    f.geometry = Some(geo_types::MultiPolygon(vec![p]).into());
                }
                f
            })
            .collect();
        let table = Table {
            name: "seed".into(),
            geometry: Some(GeometryType::MultiPolygon),
            columns: vec![
                ("name".into(), FieldType::Text),
                ("n".into(), FieldType::Int),
            ],
            rows,
        };
        let mut out = Vec::new();
        for (f, ext) in [
            (Format::Shapefile, "zip"),
            (Format::GeoPackage, "gpkg"),
            (Format::Xlsx, "xlsx"),
            (Format::Csv, "csv"),
            (Format::GeoJson, "geojson"),
        ] {
            let p = dir.path().join(format!("seed.{ext}"));
            write(&table, f, &p).unwrap();
            out.push((f, p));
        }
        (dir, out)
    })
}

fn seed(format: Format) -> Vec<u8> {
    let p = &seeds().1.iter().find(|(f, _)| *f == format).unwrap().1;
    std::fs::read(p).unwrap()
}

/// A seed with up to 24 bytes overwritten and maybe cut short.
fn mutated(seed: Vec<u8>) -> impl Strategy<Value = Vec<u8>> {
    let len = seed.len();
    (
        prop::collection::vec((0..len, any::<u8>()), 0..24),
        prop::option::of(0..len),
    )
        .prop_map(move |(edits, cut)| {
            let mut b = seed.clone();
            for (i, v) in edits {
                b[i] = v;
            }
            if let Some(c) = cut {
                b.truncate(c);
            }
            b
        })
}

fn read_bytes(bytes: &[u8], name: &str, format: Format, opts: &ReadOptions) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join(name);
    std::fs::write(&p, bytes).unwrap();
    // Ok or Err: both are fine; a panic fails the test.
    let _ = gengxin_io::read::read(&p, format, opts);
}

fn osm_opts() -> ReadOptions {
    ReadOptions {
        osm: Some(gengxin_io::osm::OsmKind::Buildings),
        ..ReadOptions::default()
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn geojson_reader_never_panics(b in mutated(seed(Format::GeoJson))) {
        read_bytes(&b, "x.geojson", Format::GeoJson, &ReadOptions::default());
    }

    #[test]
    fn csv_reader_never_panics(b in mutated(seed(Format::Csv))) {
        read_bytes(&b, "x.csv", Format::Csv, &ReadOptions::default());
    }

    #[test]
    fn shapefile_zip_reader_never_panics(b in mutated(seed(Format::Shapefile))) {
        read_bytes(&b, "x.zip", Format::Shapefile, &ReadOptions::default());
    }

    #[test]
    fn geopackage_reader_never_panics(b in mutated(seed(Format::GeoPackage))) {
        read_bytes(&b, "x.gpkg", Format::GeoPackage, &ReadOptions::default());
    }

    #[test]
    fn xlsx_reader_never_panics(b in mutated(seed(Format::Xlsx))) {
        read_bytes(&b, "x.xlsx", Format::Xlsx, &ReadOptions::default());
    }

    #[test]
    fn osm_reader_never_panics(b in mutated(std::fs::read(shared("osm/helsinki.osm.pbf")).unwrap())) {
        read_bytes(&b, "x.osm.pbf", Format::OsmPbf, &osm_opts());
    }

    #[test]
    fn every_reader_survives_random_bytes(b in prop::collection::vec(any::<u8>(), 0..4096)) {
        for (name, f) in [("r.geojson", Format::GeoJson), ("r.csv", Format::Csv), ("r.zip", Format::Shapefile), ("r.gpkg", Format::GeoPackage), ("r.xlsx", Format::Xlsx), ("r.osm.pbf", Format::OsmPbf)] {
            read_bytes(&b, name, f, &osm_opts());
        }
    }

    #[test]
    fn text_parsers_never_panic(s in ".{0,400}") {
        let _ = gengxin_io::mapping::Mapping::parse(&s);
        let _ = gengxin_io::osm::tag_rules(&s);
        let _ = gengxin_engine::crs::Crs::from_wkt(&s);
        let _ = gengxin_engine::crs::Crs::parse(&s);
    }
}
