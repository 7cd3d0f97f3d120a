//! Export → import round trips: for every format that can carry a layer, importing its export
//! into an empty store gives back the same features (ids, geometry, every property), on both
//! backends. Exports are also opened by GDAL (`ogrinfo`), an independent reader.

#[path = "../../gengxin-store/tests/support/mod.rs"]
mod support;

use std::path::Path;

use chrono::Utc;
use gengxin_engine::crs::Crs;
use gengxin_io::Format;
use gengxin_io::export::{load, write};
use gengxin_io::import::{ImportOptions, import};
use gengxin_model::{Feature, LayerId, Value};
use gengxin_store::{Query, Store};
use geo::Orient;
use geo::orient::Direction;
use geo_types::{Geometry, LineString, MultiLineString, MultiPolygon, Point, Polygon};
use support::Backend;

fn building(i: usize) -> Feature {
    let x = 114.3 + i as f64 * 0.001_234_567_891;
    let outer = LineString::from(vec![
        (x, 30.5),
        (x + 0.0007, 30.5),
        (x + 0.0007, 30.5006),
        (x, 30.5006),
        (x, 30.5),
    ]);
    let hole = LineString::from(vec![
        (x + 0.0002, 30.5002),
        (x + 0.0002, 30.5004),
        (x + 0.0004, 30.5004),
        (x + 0.0002, 30.5002),
    ]);
    let mut f = Feature::new(format!("b{i:03}"), "OpenStreetMap", Utc::now())
        .with_geometry(MultiPolygon(vec![Polygon::new(
            outer,
            if i.is_multiple_of(2) {
                vec![hole]
            } else {
                vec![]
            },
        )]))
        .set(
            "name",
            [
                "汉口里 3 栋",
                "=HYPERLINK(\"http://x\")",
                "-5 层",
                "@cmd",
                "plain, \"quoted\"\nline",
            ][i % 5],
        )
        .set("floors", (i % 33) as i64 + 1)
        .set(
            "height_m",
            [0.1 + 0.2, 12.345678901234567, 100.0, 3.0e-3, 7.0 / 3.0][i % 5],
        )
        .set("use", ["residential", "commercial", "industrial"][i % 3])
        .set("district_code", "420102");
    if !i.is_multiple_of(4) {
        f = f.set("year_built", 1950 + i as i64);
    }
    f
}

fn facility(i: usize) -> Feature {
    Feature::new(format!("f{i}"), "OpenStreetMap", Utc::now())
        .with_geometry(Point::new(
            114.25 + i as f64 * 0.013_579,
            30.55 - i as f64 * 0.002_468,
        ))
        .set("name", format!("社区卫生服务站 {i}"))
        .set("category", "community_health_station")
        .set("tier", "5min")
        .set("capacity", i as i64 * 10)
}

fn road(i: usize) -> Feature {
    let x = 114.2 + i as f64 * 0.01;
    Feature::new(format!("r{i}"), "OpenStreetMap", Utc::now())
        .with_geometry(MultiLineString(vec![LineString::from(vec![
            (x, 30.4),
            (x + 0.003, 30.41),
            (x + 0.004, 30.405),
        ])]))
        .set("name", format!("解放大道{i}段"))
        .set("class", "arterial")
        .set("width_m", 24.5)
}

fn project(i: usize) -> Feature {
    Feature::new(format!("P{i}"), "generated", Utc::now())
        .set("code", format!("WH-2026-{i:04}"))
        .set("name", format!("老旧小区改造项目 {i}"))
        .set("renewal_object_id", format!("ro{i}"))
        .set("district_code", "420106")
        .set("stage", "construction")
        .set("progress_pct", 37.5 + i as f64 / 7.0)
        .set("start_date", "2025-03-01")
        .set("planned_end_date", "2027-12-31")
        .set("plan_year", 2026i64)
}

/// The same geometry whatever its ring orientation (a Shapefile stores outer rings clockwise).
fn normal(g: &Option<Geometry>) -> Option<Geometry> {
    g.as_ref().map(|g| match g {
        Geometry::MultiPolygon(mp) => Geometry::MultiPolygon(mp.orient(Direction::Default)),
        other => other.clone(),
    })
}

fn essence(f: &Feature) -> (String, Option<Geometry>, Vec<(String, Value)>) {
    (
        f.id.clone(),
        normal(&f.geometry),
        f.properties
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    )
}

async fn round_trip(
    source: &dyn Store,
    target: &dyn Store,
    layer: &str,
    format: Format,
    dir: &Path,
) {
    let table = load(source, layer, Query::default()).await.unwrap();
    let ext = match format {
        Format::GeoJson => "geojson",
        Format::Csv => "csv",
        Format::Xlsx => "xlsx",
        Format::Shapefile => "zip",
        Format::GeoPackage => "gpkg",
        Format::OsmPbf => unreachable!(),
    };
    let file = dir.join(format!("{layer}.{ext}"));
    write(&table, format, &file).unwrap();
    // An independent reader opens it.
    let ogr_path = if format == Format::Shapefile {
        format!("/vsizip/{}", file.display())
    } else {
        file.display().to_string()
    };
    let out = std::process::Command::new("ogrinfo")
        .args(["-ro", "-so", "-al", &ogr_path])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "ogrinfo {ogr_path}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains(&format!("Feature Count: {}", table.rows.len())),
        "{ogr_path}: {text}"
    );
    let opts = ImportOptions {
        layer: layer.into(),
        // Table coordinates do not declare a CRS: say it.
        crs: matches!(format, Format::Csv | Format::Xlsx).then_some(Crs::Cgcs2000),
        ..Default::default()
    };
    let r = import(target, &file, &opts, false).await.unwrap();
    assert_eq!(
        (r.imported, r.skipped),
        (table.rows.len(), 0),
        "{layer} as {format:?}: {:?}",
        r.issues
    );
    let back = load(target, layer, Query::default()).await.unwrap();
    let a: Vec<_> = table.rows.iter().map(essence).collect();
    let b: Vec<_> = back.rows.iter().map(essence).collect();
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x, y, "{layer} via {format:?}");
    }
}

#[tokio::test]
async fn every_format_round_trips_on_both_backends() {
    let dir = tempfile::tempdir().unwrap();
    for source in [Backend::geopackage().await, Backend::postgis().await] {
        let s = source.store();
        s.insert(vec![
            (LayerId::Buildings, (0..40).map(building).collect()),
            (LayerId::Facilities, (0..12).map(facility).collect()),
            (LayerId::Roads, (0..6).map(road).collect()),
            (LayerId::Projects, (0..9).map(project).collect()),
        ])
        .await
        .unwrap();
        // A custom layer with every attribute of a real file.
        let optics = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/data/wuhan/optics_valley_buildings_osm.geojson");
        let o = ImportOptions {
            layer: "optics".into(),
            ..Default::default()
        };
        import(s, &optics, &o, false).await.unwrap();

        let spatial = [
            Format::GeoJson,
            Format::Csv,
            Format::Xlsx,
            Format::Shapefile,
            Format::GeoPackage,
        ];
        let cases: Vec<(&str, &[Format])> = vec![
            ("buildings", &spatial),
            ("facilities", &spatial),
            ("roads", &spatial),
            // A table without geometry: not a Shapefile.
            (
                "projects",
                &[
                    Format::GeoJson,
                    Format::Csv,
                    Format::Xlsx,
                    Format::GeoPackage,
                ],
            ),
            // Mixed geometry types (points and polygons): not a Shapefile.
            (
                "optics",
                &[Format::GeoJson, Format::Csv, Format::GeoPackage],
            ),
        ];
        for (layer, formats) in cases {
            for format in formats {
                let target = Backend::geopackage().await;
                round_trip(s, target.store(), layer, *format, dir.path()).await;
                target.finish().await;
            }
        }
        source.finish().await;
    }
}

#[tokio::test]
async fn csv_cells_that_look_like_formulas_are_escaped() {
    let b = Backend::geopackage().await;
    b.store()
        .insert(vec![(LayerId::Buildings, (0..5).map(building).collect())])
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("b.csv");
    let table = load(b.store(), "buildings", Query::default())
        .await
        .unwrap();
    write(&table, Format::Csv, &file).unwrap();
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.starts_with('\u{feff}'), "a BOM for Excel");
    assert!(text.contains("\"'=HYPERLINK(\"\"http://x\"\")\""), "{text}");
    assert!(text.contains(",'-5 层,"), "{text}");
    assert!(text.contains(",'@cmd,"), "{text}");
    // Numbers are never escaped (a negative number stays a number).
    assert!(!text.contains("'0.3"));
    b.finish().await;
}

#[tokio::test]
async fn layers_that_a_format_cannot_carry_are_refused_clearly() {
    let b = Backend::geopackage().await;
    let s = b.store();
    s.insert(vec![(LayerId::Projects, (0..2).map(project).collect())])
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let table = load(s, "projects", Query::default()).await.unwrap();
    let err = write(&table, Format::Shapefile, &dir.path().join("p.zip"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("needs geometry"), "{err}");
    // A polygon too big for one Excel cell.
    let ring: Vec<(f64, f64)> = (0..3000)
        .map(|k| {
            let a = k as f64 / 3000.0 * std::f64::consts::TAU;
            (114.3 + 0.01 * a.cos(), 30.5 + 0.01 * a.sin())
        })
        .chain(std::iter::once((114.31, 30.5)))
        .collect();
    let big = Feature::new("big", "test", Utc::now())
        .with_geometry(Polygon::new(LineString::from(ring), vec![]));
    s.insert(vec![(LayerId::Buildings, vec![big])])
        .await
        .unwrap();
    let table = load(s, "buildings", Query::default()).await.unwrap();
    let err = write(&table, Format::Xlsx, &dir.path().join("b.xlsx"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("big") && err.contains("Excel cell"), "{err}");
    let err = load(s, "nonexistent", Query::default())
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("no layer nonexistent"), "{err}");
    b.finish().await;
}
