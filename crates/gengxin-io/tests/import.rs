//! Importing real files (every file of `../shared/data/SOURCES.md`), encodings, CRS, validation,
//! dry runs, undo and hostile input, against real stores.

#[path = "../../gengxin-store/tests/support/mod.rs"]
mod support;

use std::path::{Path, PathBuf};

use gengxin_engine::crs::Crs;
use gengxin_io::import::{ImportOptions, Report, import, undo};
use gengxin_io::{IoError, Limits, ReadOptions};
use gengxin_model::LayerId;
use gengxin_store::{Query, Store, canonical_hash};
use support::Backend;

/// The real data beside the checkout (see `../shared/data/SOURCES.md`).
fn shared(rel: &str) -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data")
        .join(rel);
    assert!(
        p.exists(),
        "{} is needed by this test: the real data folder ../shared/data must be beside the checkout",
        p.display()
    );
    p
}

fn opts(layer: &str) -> ImportOptions {
    ImportOptions {
        layer: layer.into(),
        user: "tester".into(),
        ..Default::default()
    }
}

async fn run(store: &dyn Store, file: &Path, o: ImportOptions) -> Result<Report, IoError> {
    import(store, file, &o, false).await
}

#[tokio::test]
async fn every_source_file_imports_with_its_documented_count() {
    let b = Backend::geopackage().await;
    let s = b.store();
    // (layer, file, features SOURCES.md documents)
    let cases: &[(&str, &str, usize)] = &[
        (
            "hangzhou_landuse",
            "china/hangzhou_landuse_osm.geojson",
            8_707,
        ),
        ("beijing_streets", "china/beijing_streets/beijing.shp", 331),
        (
            "beijing_worldpop",
            "china/beijing_streets/worldpop_by_feature.csv",
            331,
        ),
        ("buildings", "osm/andorra-2021-10.osm.pbf", 5_019),
        (
            "helsinki_population",
            "osm/helsinki_population_grid_2020.gpkg",
            92,
        ),
        ("wuhan_districts", "wuhan/districts.geojson", 13),
        (
            "wuhan_division_districts",
            "wuhan/divisions_districts.csv",
            13,
        ),
        ("wuhan_streets", "wuhan/divisions_streets.csv", 193),
        (
            "wuhan_communities",
            "wuhan/divisions_communities.csv",
            3_495,
        ),
        ("wuhan_census", "wuhan/census2020_districts.csv", 15),
        (
            "optics_valley_osm",
            "wuhan/optics_valley_buildings_osm.geojson",
            355,
        ),
    ];
    for (layer, file, want) in cases {
        let r = run(s, &shared(file), opts(layer)).await.unwrap();
        assert_eq!(
            (r.read, r.imported, r.skipped),
            (*want, *want, 0),
            "{file}: {:?}",
            r.issues
        );
    }
    // The Liechtenstein buildings go to the same model layer: ids differ, counts add up.
    let r = run(
        s,
        &shared("osm/liechtenstein-2021-10.osm.pbf"),
        opts("buildings"),
    )
    .await
    .unwrap();
    assert_eq!(r.imported, 15_809);
    assert_eq!(s.count(LayerId::Buildings).await.unwrap(), 5_019 + 15_809);
    // Walkable ways and GB 50180 facilities from the same OSM file.
    let roads = run(s, &shared("osm/andorra-2021-10.osm.pbf"), opts("roads"))
        .await
        .unwrap();
    assert!(roads.imported > 4_000, "{}", roads.imported);
    let fac = run(
        s,
        &shared("osm/andorra-2021-10.osm.pbf"),
        opts("facilities"),
    )
    .await
    .unwrap();
    assert!(fac.imported > 100, "{}", fac.imported);
    let schools = s
        .query(
            LayerId::Facilities,
            Query {
                equals: vec![("category".into(), "primary_school".into())],
                ..Query::default()
            },
        )
        .await
        .unwrap();
    assert!(!schools.is_empty());
    assert!(
        schools
            .iter()
            .all(|f| f.get("tier").as_str() == Some("10min"))
    );

    // Chinese attribute text is read correctly (UTF-8 by the .cpg).
    let streets = gengxin_io::custom::get(s, "beijing_streets")
        .await
        .unwrap()
        .unwrap();
    let rows = gengxin_io::custom::features(s, &streets, Query::default())
        .await
        .unwrap();
    assert_eq!(rows.len(), 331);
    let names: Vec<&str> = rows.iter().filter_map(|f| f.get("乡").as_str()).collect();
    assert!(names.contains(&"东华门街道"), "{:?}", &names[..5]);
    assert!(rows.iter().all(|f| f.get("市").as_str() == Some("北京市")));
    // Andorra buildings keep levels and heights where OSM has them.
    let b1 = s.query(LayerId::Buildings, Query::default()).await.unwrap();
    assert!(b1.iter().any(|f| f.get("floors").as_i64().is_some()));
    // Every import is recorded with its file's SHA-256.
    let records = s.query(LayerId::Imports, Query::default()).await.unwrap();
    assert_eq!(records.len(), cases.len() + 3);
    assert!(
        records
            .iter()
            .all(|r| r.get("sha256").as_str().map(str::len) == Some(64))
    );
    b.finish().await;
}

/// The real Beijing shapefile with its attribute table re-encoded as GBK by
/// `scripts/gbk-dbf.py` (committed), with or without a `.cpg`.
fn gbk_shapefile(with_cpg: bool) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for ext in ["shp", "shx", "prj"] {
        std::fs::copy(
            shared(&format!("china/beijing_streets/beijing.{ext}")),
            dir.path().join(format!("streets.{ext}")),
        )
        .unwrap();
    }
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/beijing_gbk.dbf"),
        dir.path().join("streets.dbf"),
    )
    .unwrap();
    if with_cpg {
        std::fs::write(dir.path().join("streets.cpg"), "GBK").unwrap();
    }
    dir
}

#[tokio::test]
async fn a_gbk_shapefile_reads_chinese_names_and_explains_itself_without_cpg() {
    let b = Backend::geopackage().await;
    let s = b.store();
    let before = canonical_hash(s).await.unwrap();
    let bare = gbk_shapefile(false);
    let err = run(s, &bare.path().join("streets.shp"), opts("streets"))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("streets.dbf"), "{err}");
    assert!(err.contains("not UTF-8"), "{err}");
    assert!(
        err.contains("streets.cpg") && err.contains("--encoding gbk"),
        "{err}"
    );
    assert_eq!(
        canonical_hash(s).await.unwrap(),
        before,
        "a refused import writes nothing"
    );

    // With --encoding gbk, and with a .cpg saying GBK: the same, correct names.
    let mut o = opts("streets");
    o.read.encoding = gengxin_io::encoding_by_name("gbk");
    let r = run(s, &bare.path().join("streets.shp"), o).await.unwrap();
    assert_eq!((r.imported, r.encoding.as_deref()), (331, Some("GBK")));
    let with = gbk_shapefile(true);
    let r = run(s, &with.path().join("streets.shp"), opts("streets2"))
        .await
        .unwrap();
    assert_eq!(r.imported, 331);
    for layer in ["streets", "streets2"] {
        let l = gengxin_io::custom::get(s, layer).await.unwrap().unwrap();
        let rows = gengxin_io::custom::features(s, &l, Query::default())
            .await
            .unwrap();
        let names: Vec<&str> = rows.iter().filter_map(|f| f.get("乡").as_str()).collect();
        assert!(names.contains(&"东华门街道"), "{layer}: {:?}", &names[..3]);
        assert!(rows.iter().all(|f| f.get("省").as_str() == Some("北京市")));
    }
    b.finish().await;
}

#[tokio::test]
async fn the_crs_is_read_from_the_file_or_the_flag_and_never_guessed() {
    let b = Backend::geopackage().await;
    let s = b.store();
    let dir = tempfile::tempdir().unwrap();
    // A shapefile without .prj.
    for ext in ["shp", "shx", "dbf", "cpg"] {
        std::fs::copy(
            shared(&format!("china/beijing_streets/beijing.{ext}")),
            dir.path().join(format!("noprj.{ext}")),
        )
        .unwrap();
    }
    let err = run(s, &dir.path().join("noprj.shp"), opts("noprj"))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("noprj.shp:"), "{err}");
    assert!(
        err.contains("no .prj") && err.contains("--crs") && err.contains("EPSG:4547"),
        "{err}"
    );
    let mut o = opts("noprj");
    o.crs = Some(Crs::Wgs84);
    assert_eq!(
        run(s, &dir.path().join("noprj.shp"), o)
            .await
            .unwrap()
            .imported,
        331
    );

    // A .prj naming a system Gengxin does not know is refused with its name.
    std::fs::write(
        dir.path().join("xian.prj"),
        r#"PROJCS["Xian_1980_3_Degree_GK_CM_114E",GEOGCS["GCS_Xian_1980"]]"#,
    )
    .unwrap();
    for ext in ["shp", "shx", "dbf", "cpg"] {
        std::fs::copy(
            dir.path().join(format!("noprj.{ext}")),
            dir.path().join(format!("xian.{ext}")),
        )
        .unwrap();
    }
    let err = run(s, &dir.path().join("xian.shp"), opts("xian"))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("Xian_1980_3_Degree_GK_CM_114E") && err.contains("--crs"),
        "{err}"
    );

    // CSV points in Gauss–Krüger metres (EPSG:4547) and in GCJ-02, converted to EPSG:4490.
    let csv = dir.path().join("points.csv");
    std::fs::write(&csv, "id,name,x,y\np1,武汉站,528770.2373,3386666.2506\n").unwrap();
    let err = run(s, &csv, opts("gk_points"))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("--crs"), "{err}");
    let mut o = opts("gk_points");
    o.crs = Some(Crs::parse("EPSG:4547").unwrap());
    run(s, &csv, o).await.unwrap();
    let l = gengxin_io::custom::get(s, "gk_points")
        .await
        .unwrap()
        .unwrap();
    let f = &gengxin_io::custom::features(s, &l, Query::default())
        .await
        .unwrap()[0];
    let geo_types::Geometry::Point(p) = f.geometry.clone().unwrap() else {
        panic!()
    };
    assert!(
        (p.x() - 114.3).abs() < 1e-8 && (p.y() - 30.6).abs() < 1e-8,
        "{p:?}"
    );
    assert_eq!(f.id, "p1");
    assert_eq!(f.get("name").as_str(), Some("武汉站"));

    let gcj = dir.path().join("gcj.csv");
    // coord-convert: WGS 84 (114.3055, 30.5928) is GCJ-02 (114.31094488843175, 30.590390564305725).
    std::fs::write(
        &gcj,
        "id,lng,lat\nq,114.31094488843175,30.590390564305725\n",
    )
    .unwrap();
    let mut o = opts("gcj_points");
    o.crs = Some(Crs::Gcj02);
    run(s, &gcj, o).await.unwrap();
    let l = gengxin_io::custom::get(s, "gcj_points")
        .await
        .unwrap()
        .unwrap();
    let f = &gengxin_io::custom::features(s, &l, Query::default())
        .await
        .unwrap()[0];
    let geo_types::Geometry::Point(p) = f.geometry.clone().unwrap() else {
        panic!()
    };
    assert!(
        (p.x() - 114.3055).abs() < 1e-8 && (p.y() - 30.5928).abs() < 1e-8,
        "{p:?}"
    );
    b.finish().await;
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[tokio::test]
async fn invalid_features_are_listed_skipped_or_repaired_and_dry_runs_change_nothing() {
    let b = Backend::geopackage().await;
    let s = b.store();
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "mixed.geojson",
        r#"{"type":"FeatureCollection","features":[
        {"type":"Feature","id":"ok","properties":{"floors":5,"name":"好楼"},"geometry":{"type":"Polygon","coordinates":[[[114.30,30.50],[114.31,30.50],[114.31,30.51],[114.30,30.51],[114.30,30.50]]]}},
        {"type":"Feature","id":"bowtie","properties":{},"geometry":{"type":"Polygon","coordinates":[[[114.30,30.50],[114.31,30.51],[114.31,30.50],[114.30,30.51],[114.30,30.50]]]}},
        {"type":"Feature","id":"open","properties":{},"geometry":{"type":"Polygon","coordinates":[[[114.30,30.50],[114.31,30.50],[114.31,30.51],[114.30,30.51]]]}},
        {"type":"Feature","id":"far","properties":{},"geometry":{"type":"Polygon","coordinates":[[[1e300,30.50],[114.31,30.50],[114.31,30.51],[1e300,30.50]]]}},
        {"type":"Feature","id":"point","properties":{},"geometry":{"type":"Point","coordinates":[114.3,30.5]}},
        {"type":"Feature","id":"badfloors","properties":{"floors":"five"},"geometry":{"type":"Polygon","coordinates":[[[114.30,30.50],[114.31,30.50],[114.31,30.51],[114.30,30.50]]]}},
        {"type":"Feature","id":"nogeom","properties":{},"geometry":null}
        ]}"#,
    );
    let before = canonical_hash(s).await.unwrap();
    let dry = import(s, &file, &opts("buildings"), true).await.unwrap();
    assert!(dry.dry_run);
    assert_eq!((dry.read, dry.imported, dry.skipped), (7, 1, 6));
    let problems = |id: &str| -> String {
        dry.issues
            .iter()
            .find(|i| i.id.as_deref() == Some(id))
            .unwrap()
            .problems
            .join("; ")
    };
    assert!(
        problems("bowtie").contains("self-intersection"),
        "{}",
        problems("bowtie")
    );
    assert!(problems("open").contains("unclosed ring"));
    assert!(problems("far").contains("outside longitude/latitude"));
    assert!(problems("point").contains("wrong geometry type"));
    assert!(problems("badfloors").contains("floors") && problems("badfloors").contains("five"));
    assert!(problems("nogeom").contains("geometry is missing"));
    assert_eq!(
        canonical_hash(s).await.unwrap(),
        before,
        "a dry run writes nothing"
    );

    let mut o = opts("buildings");
    o.repair = true;
    let r = run(s, &file, o).await.unwrap();
    assert_eq!((r.imported, r.repaired), (3, 2), "{:?}", r.issues);
    let bowtie = s.get(LayerId::Buildings, "bowtie").await.unwrap().unwrap();
    use geo::Validation;
    assert!(bowtie.geometry.unwrap().is_valid());
    assert_eq!(
        s.get(LayerId::Buildings, "ok")
            .await
            .unwrap()
            .unwrap()
            .get("name")
            .as_str(),
        Some("好楼")
    );
    // The record keeps the report.
    let rec = s
        .get(LayerId::Imports, &r.import_id)
        .await
        .unwrap()
        .unwrap();
    assert!(
        rec.get("report")
            .as_str()
            .unwrap()
            .contains("self-intersection")
    );
    assert_eq!(rec.get("imported_by").as_str(), Some("tester"));
    b.finish().await;
}

#[tokio::test]
async fn an_import_can_be_undone_unless_its_features_were_edited_since() {
    for b in [Backend::geopackage().await, Backend::postgis().await] {
        let s = b.store();
        let before = canonical_hash(s).await.unwrap();
        let r = run(
            s,
            &shared("wuhan/districts.geojson"),
            opts("districts_custom"),
        )
        .await
        .unwrap();
        let r2 = run(s, &shared("wuhan/optics_valley_buildings_osm.geojson"), {
            let mut o = opts("buildings");
            o.mapping = Some(
                gengxin_io::mapping::Mapping::parse("[fields]\nheight_m = \"height\"\n").unwrap(),
            );
            o
        })
        .await
        .unwrap();
        assert_eq!(r2.imported, 265, "{:?}", &r2.issues[..1]);
        assert_eq!(undo(s, &r.import_id).await.unwrap(), 13);
        assert!(
            gengxin_io::custom::get(s, "districts_custom")
                .await
                .unwrap()
                .is_none()
        );
        let again = undo(s, &r.import_id).await.unwrap_err().to_string();
        assert!(again.contains("already undone"), "{again}");
        // Edit one imported building: undoing would lose it, so it is refused.
        let mut f = s
            .query(
                LayerId::Buildings,
                Query {
                    limit: Some(1),
                    ..Query::default()
                },
            )
            .await
            .unwrap()
            .remove(0);
        f.properties.insert("floors".into(), 9i64.into());
        s.update(vec![(LayerId::Buildings, vec![f.clone()])])
            .await
            .unwrap();
        let err = undo(s, &r2.import_id).await.unwrap_err().to_string();
        assert!(err.contains("edited since") && err.contains(&f.id), "{err}");
        assert_eq!(s.count(LayerId::Buildings).await.unwrap(), 265);
        // Put the edit back out of the way, then undo: the store is as before both imports,
        // apart from the two import records (kept, marked undone).
        s.delete(vec![(LayerId::Buildings, vec![(f.id.clone(), 2)])])
            .await
            .unwrap();
        assert_eq!(undo(s, &r2.import_id).await.unwrap(), 264);
        assert_eq!(s.count(LayerId::Buildings).await.unwrap(), 0);
        let records = s.query(LayerId::Imports, Query::default()).await.unwrap();
        assert!(
            records
                .iter()
                .all(|r| r.get("state").as_str() == Some("undone"))
        );
        s.delete(vec![(
            LayerId::Imports,
            records.iter().map(|r| (r.id.clone(), r.version)).collect(),
        )])
        .await
        .unwrap();
        assert_eq!(canonical_hash(s).await.unwrap(), before);
        b.finish().await;
    }
}

#[tokio::test]
async fn field_mapping_converts_types_units_and_values() {
    let b = Backend::geopackage().await;
    let s = b.store();
    let dir = tempfile::tempdir().unwrap();
    let csv = write(
        dir.path(),
        "bldg.csv",
        "BLDG_NO,名称,层数,HGT_FT,用途,wkt\nB1,一号楼,6,100,住宅,\"POLYGON((114.3 30.5,114.31 30.5,114.31 30.51,114.3 30.5))\"\nB2,二号楼,,32.8,shop,\"POLYGON((114.4 30.5,114.41 30.5,114.41 30.51,114.4 30.5))\"\n",
    );
    let mapping = gengxin_io::mapping::Mapping::parse(
        r#"id = "BLDG_NO"
[fields]
height_m = { from = "HGT_FT", unit = "ft" }
use = { from = "用途", values = { shop = "commercial" } }
district_code = { default = "420111" }
"#,
    )
    .unwrap();
    let mut o = opts("buildings");
    o.mapping = Some(mapping);
    o.crs = Some(Crs::Cgcs2000);
    let r = run(s, &csv, o).await.unwrap();
    assert_eq!(r.imported, 2, "{:?}", r.issues);
    let b1 = s.get(LayerId::Buildings, "B1").await.unwrap().unwrap();
    assert_eq!(b1.get("name").as_str(), Some("一号楼"));
    assert_eq!(b1.get("floors").as_i64(), Some(6));
    assert!((b1.get("height_m").as_f64().unwrap() - 30.48).abs() < 1e-9);
    assert_eq!(
        b1.get("use").as_str(),
        Some("residential"),
        "住宅 is the code's Chinese name"
    );
    assert_eq!(b1.get("district_code").as_str(), Some("420111"));
    let b2 = s.get(LayerId::Buildings, "B2").await.unwrap().unwrap();
    assert_eq!(b2.get("use").as_str(), Some("commercial"));
    assert!(b2.get("floors").as_i64().is_none());
    // A feature missing a required field is skipped and listed with the field's name.
    let fac = write(
        dir.path(),
        "fac.csv",
        "id,lng,lat,category,tier\nF1,114.3,30.5,park,city\n",
    );
    let mut o = opts("facilities");
    o.crs = Some(Crs::Cgcs2000);
    let r = import(s, &fac, &o, true).await.unwrap();
    assert_eq!((r.imported, r.skipped), (0, 1));
    let p = r.issues[0].problems.join("; ");
    assert!(p.contains("required field `name` is missing"), "{p}");
    // A mapping naming a field the layer lacks is refused before reading.
    let mut o = opts("buildings");
    o.mapping = Some(gengxin_io::mapping::Mapping::parse("[fields]\nheight = \"HGT\"\n").unwrap());
    let err = run(s, &csv, o).await.unwrap_err().to_string();
    assert!(
        err.contains("`height`") && err.contains("height_m"),
        "{err}"
    );
    b.finish().await;
}

#[tokio::test]
async fn hostile_files_are_refused_with_clear_errors_and_change_nothing() {
    use std::io::Write;
    let b = Backend::geopackage().await;
    let s = b.store();
    let before = canonical_hash(s).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // A zip entry that escapes the archive.
    let slip = d.join("slip.zip");
    {
        let mut z = zip::ZipWriter::new(std::fs::File::create(&slip).unwrap());
        z.start_file("../../evil.shp", zip::write::SimpleFileOptions::default())
            .unwrap();
        z.write_all(b"x").unwrap();
        z.finish().unwrap();
    }
    // A zip bomb: 300 MB of zeros deflate to ~300 KB.
    let bomb = d.join("bomb.zip");
    {
        let mut z = zip::ZipWriter::new(std::fs::File::create(&bomb).unwrap());
        z.start_file("a.shp", zip::write::SimpleFileOptions::default())
            .unwrap();
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..300 {
            z.write_all(&zeros).unwrap();
        }
        z.finish().unwrap();
    }
    // JSON nested 100,000 levels deep.
    let deep = write(
        d,
        "deep.geojson",
        &format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)),
    );
    let garbage_gpkg = write(d, "garbage.gpkg", "this is not a database");
    let garbage_xlsx = write(d, "garbage.xlsx", "PK nope");
    let truncated = d.join("cut.shp");
    let shp = std::fs::read(shared("china/beijing_streets/beijing.shp")).unwrap();
    std::fs::write(&truncated, &shp[..5_000]).unwrap();
    for ext in ["dbf", "prj", "cpg"] {
        std::fs::copy(
            shared(&format!("china/beijing_streets/beijing.{ext}")),
            d.join(format!("cut.{ext}")),
        )
        .unwrap();
    }
    let unknown = write(d, "data.kml", "<kml/>");
    let cases: Vec<(PathBuf, &str)> = vec![
        (slip, "outside the archive"),
        (bomb, "zip bomb"),
        (deep, "recursion limit"),
        (garbage_gpkg, "not a readable GeoPackage"),
        (garbage_xlsx, "not a readable .xlsx"),
        (truncated, "cut.shp"),
        (unknown, "unknown format"),
    ];
    for (file, needle) in cases {
        let err = run(s, &file, opts("hostile"))
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains(needle), "{}: {err}", file.display());
        assert!(!err.contains('\n'), "one line: {err}");
    }
    // A file over the size limit.
    let mut o = opts("hostile");
    o.read = ReadOptions {
        limits: Limits {
            max_bytes: 1_000,
            ..Limits::default()
        },
        ..ReadOptions::default()
    };
    let err = run(s, &shared("wuhan/districts.geojson"), o)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("limit"), "{err}");
    // A layer name that is neither a model layer nor a valid custom one.
    let err = run(
        s,
        &shared("wuhan/districts.geojson"),
        opts("Robert'); DROP TABLE"),
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(err.contains("valid custom layer name"), "{err}");
    assert_eq!(canonical_hash(s).await.unwrap(), before);
    b.finish().await;
}

/// The streamed GeoJSON reader reads what GDAL reads (`ogr2ogr` to CSV with WKT geometry, the
/// oracle): the same features in the same order, the same coordinates and attribute values.
#[test]
fn the_streamed_geojson_reader_reads_what_gdal_reads() {
    use gengxin_io::{Attr, Format};
    use geo::CoordsIter;
    for file in [
        "china/hangzhou_landuse_osm.geojson",
        "wuhan/optics_valley_buildings_osm.geojson",
        "wuhan/districts.geojson",
    ] {
        let path = shared(file);
        let mut ours = Vec::new();
        gengxin_io::read::stream(&path, Format::GeoJson, &ReadOptions::default(), &mut |r| {
            ours.push(r);
            Ok(())
        })
        .unwrap();
        let out = std::process::Command::new("ogr2ogr")
            .args(["-f", "CSV", "/vsistdout/"])
            .arg(&path)
            .args(["-lco", "GEOMETRY=AS_WKT"])
            .output()
            .expect("ogr2ogr (apt-get install gdal-bin)");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut csv = csv::Reader::from_reader(&out.stdout[..]);
        let headers = csv.headers().unwrap().clone();
        let rows: Vec<csv::StringRecord> = csv.records().map(Result::unwrap).collect();
        assert_eq!(ours.len(), rows.len(), "{file}");
        let mut compared = 0;
        for (n, (r, row)) in ours.iter().zip(&rows).enumerate() {
            let g: geo_types::Geometry<f64> = wkt::TryFromWkt::try_from_wkt_str(&row[0]).unwrap();
            let mine = r.geometry.as_ref().unwrap();
            assert_eq!(mine.coords_count(), g.coords_count(), "{file} #{n}");
            for (a, b) in mine.coords_iter().zip(g.coords_iter()) {
                assert!(
                    (a.x - b.x).abs() < 1e-9 && (a.y - b.y).abs() < 1e-9,
                    "{file} #{n}"
                );
            }
            for (name, gdal) in headers.iter().zip(row.iter()).skip(1) {
                // GDAL takes `id` (member or property) as the FID; the reader keeps a member
                // `id` and a property `id` only when it comes first: compared by the import
                // tests, not here.
                if name == "id" {
                    continue;
                }
                let Some(a) = r.attr(name) else {
                    assert_eq!(gdal, "", "{file} #{n} {name}");
                    continue;
                };
                match a {
                    Attr::Text(t) => assert_eq!(t, gdal, "{file} #{n} {name}"),
                    Attr::Int(i) => assert_eq!(i.to_string(), gdal, "{file} #{n} {name}"),
                    Attr::Real(x) => {
                        let y: f64 = gdal.parse().unwrap();
                        assert!(
                            (x - y).abs() <= 1e-9 * x.abs().max(1.0),
                            "{file} #{n} {name}"
                        );
                    }
                    Attr::Null => assert_eq!(gdal, "", "{file} #{n} {name}"),
                    // GDAL's Integer(Boolean) prints as 1 or 0.
                    Attr::Bool(b) => {
                        assert_eq!(gdal, if *b { "1" } else { "0" }, "{file} #{n} {name}")
                    }
                    other => panic!("{file} #{n} {name}: {other:?}"),
                }
                compared += 1;
            }
        }
        assert!(compared > ours.len(), "{file}: attributes compared");
    }
}
