//! Every supported CRS converted to EPSG:4490 and compared with reference coordinates computed
//! by independent tools (pyproj/PROJ, coord-convert): `scripts/crs-vectors.py` wrote
//! `tests/data/crs_vectors.csv`.

use gengxin_engine::crs::Crs;
use geo::Coord;

#[test]
fn every_supported_crs_matches_the_reference_tools() {
    let text = include_str!("data/crs_vectors.csv");
    let mut seen = std::collections::BTreeSet::new();
    for line in text.lines().skip(1) {
        let cols: Vec<&str> = line.split(',').collect();
        let num = |i: usize| cols[i].parse::<f64>().unwrap();
        let crs = Crs::parse(cols[0]).unwrap();
        let got = crs.to_storage().unwrap().convert(Coord {
            x: num(1),
            y: num(2),
        });
        // GCJ-02 and BD-09 are inverted numerically; BD-09's published inverse is itself an
        // approximation (~1e-6°, 0.1 m). The EPSG systems match PROJ to a micro-metre.
        let tol = match crs {
            Crs::Bd09 => 2e-6,
            Crs::Gcj02 => 1e-8,
            _ => 1e-8,
        };
        assert!(
            (got.x - num(3)).abs() < tol && (got.y - num(4)).abs() < tol,
            "{line}: got {got:?}"
        );
        seen.insert(crs.name());
    }
    // 4326, 3857, GCJ-02, BD-09 and all 21 Gauss–Krüger zones.
    assert_eq!(seen.len(), 25, "{seen:?}");
}

#[test]
fn prj_files_are_recognised_and_unknown_ones_are_not_guessed() {
    let beijing = r#"GEOGCS["GCS_WGS_1984",DATUM["D_WGS_1984",SPHEROID["WGS_1984",6378137.0,298.257223563]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]]"#;
    assert_eq!(Crs::from_wkt(beijing), Some(Crs::Wgs84));
    let esri_4547 = r#"PROJCS["CGCS2000_3_Degree_GK_CM_114E",GEOGCS["GCS_China_Geodetic_Coordinate_System_2000",DATUM["D_China_2000",SPHEROID["CGCS2000",6378137.0,298.257222101]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]],PROJECTION["Gauss_Kruger"],PARAMETER["False_Easting",500000.0],PARAMETER["False_Northing",0.0],PARAMETER["Central_Meridian",114.0],PARAMETER["Scale_Factor",1.0],PARAMETER["Latitude_Of_Origin",0.0],UNIT["Meter",1.0]]"#;
    assert_eq!(Crs::from_wkt(esri_4547), Some(Crs::GaussKruger(4547)));
    // The same zone with the zone number prefixed to the easting (EPSG:4526) is a different CRS.
    let prefixed = esri_4547.replace("500000.0", "38500000.0");
    assert_eq!(Crs::from_wkt(&prefixed), None);
    let mercator = r#"PROJCS["WGS_1984_Web_Mercator_Auxiliary_Sphere",GEOGCS["GCS_WGS_1984",DATUM["D_WGS_1984",SPHEROID["WGS_1984",6378137.0,298.257223563]]],PROJECTION["Mercator_Auxiliary_Sphere"]]"#;
    assert_eq!(Crs::from_wkt(mercator), Some(Crs::WebMercator));
    let gdal_4490 = r#"GEOGCS["China Geodetic Coordinate System 2000",DATUM["China_2000",SPHEROID["CGCS2000",6378137,298.257222101,AUTHORITY["EPSG","1024"]],AUTHORITY["EPSG","1043"]],PRIMEM["Greenwich",0],UNIT["degree",0.0174532925199433],AUTHORITY["EPSG","4490"]]"#;
    assert_eq!(Crs::from_wkt(gdal_4490), Some(Crs::Cgcs2000));
    let xian80 = r#"PROJCS["Xian_1980_3_Degree_GK_CM_114E",GEOGCS["GCS_Xian_1980",DATUM["D_Xian_1980",SPHEROID["Xian_1980",6378140.0,298.257]]],PROJECTION["Gauss_Kruger"],PARAMETER["Central_Meridian",114.0]]"#;
    assert_eq!(Crs::from_wkt(xian80), None);
    assert!(Crs::parse("EPSG:2385").unwrap_err().0.contains("--crs"));
    assert_eq!(Crs::parse("gcj02").unwrap(), Crs::Gcj02);
    assert_eq!(Crs::parse("4547").unwrap(), Crs::GaussKruger(4547));
}
