//! OpenStreetMap `.osm.pbf`: walkable ways for the road/walk network, buildings with their
//! levels and height, and POIs as GB 50180 facilities through an editable tag table
//! (`osm-facilities.toml`). Records carry model-ready attributes (`name`, `class`, `floors`,
//! `height_m`, `category`, `tier` …) plus `osm_id`; their CRS is WGS 84.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use gengxin_engine::crs::Crs;
use geo::Centroid;
use geo_types::{Coord, Geometry, LineString, Point, Polygon};
use osmpbf::{Element, ElementReader};
use serde::Deserialize;

use crate::{Attr, Dataset, Format, IoError, ReadOptions, Record};

/// What to extract from an OpenStreetMap file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OsmKind {
    /// Ways a pedestrian may walk, as lines (layer `roads`).
    Walkways,
    /// Closed ways tagged `building` (layer `buildings`).
    Buildings,
    /// Nodes and ways whose tags the facility table maps to a category (layer `facilities`).
    Facilities,
}

/// The built-in facility tag table.
pub const DEFAULT_TAGS: &str = include_str!("../osm-facilities.toml");

#[derive(Debug, Deserialize)]
struct TagTable {
    rule: Vec<Rule>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Rule {
    pub key: String,
    pub value: String,
    pub category: String,
    #[serde(default)]
    pub note: Option<String>,
}

/// Reads and checks a facility tag table: every category must be a GB 50180 category code.
pub fn tag_rules(text: &str) -> Result<Vec<Rule>, String> {
    let t: TagTable = toml::from_str(text).map_err(|e| format!("bad tag table: {e}"))?;
    for r in &t.rule {
        if gengxin_model::vocab::find(gengxin_model::vocab::FACILITY_CATEGORIES, &r.category)
            .is_none()
        {
            return Err(format!(
                "tag table: {}={} maps to {:?}, which is not a GB 50180 facility category",
                r.key, r.value, r.category
            ));
        }
    }
    Ok(t.rule)
}

/// Highway types a pedestrian may use (motorways, construction and the like are not).
const WALKABLE: &[&str] = &[
    "trunk",
    "trunk_link",
    "primary",
    "primary_link",
    "secondary",
    "secondary_link",
    "tertiary",
    "tertiary_link",
    "unclassified",
    "residential",
    "living_street",
    "service",
    "pedestrian",
    "footway",
    "path",
    "steps",
    "track",
    "cycleway",
    "bridleway",
    "corridor",
    "road",
];

fn road_class(highway: &str) -> &'static str {
    match highway {
        "trunk" | "trunk_link" => "expressway",
        "primary" | "primary_link" => "arterial",
        "secondary" | "secondary_link" => "secondary",
        "tertiary" | "tertiary_link" | "unclassified" | "residential" | "living_street"
        | "service" | "road" => "branch",
        _ => "walkway",
    }
}

/// Whether a way with these tags may be walked: a walkable highway type, not `foot=no`, and not
/// closed to the public unless pedestrians are let in. One-way restrictions do not apply on foot.
pub fn walkable(tags: &HashMap<String, String>) -> bool {
    let Some(h) = tags.get("highway") else {
        return false;
    };
    if !WALKABLE.contains(&h.as_str()) || tags.get("area").is_some_and(|a| a == "yes") {
        return false;
    }
    let foot = tags.get("foot").map(String::as_str);
    if matches!(foot, Some("no") | Some("private") | Some("use_sidepath")) {
        return false;
    }
    let open_to_foot = matches!(foot, Some("yes" | "designated" | "permissive"));
    let closed = tags
        .get("access")
        .is_some_and(|a| matches!(a.as_str(), "no" | "private"));
    !closed || open_to_foot
}

struct Way {
    id: i64,
    refs: Vec<i64>,
    tags: HashMap<String, String>,
}

pub fn read(path: &Path, opts: &ReadOptions) -> Result<Dataset, IoError> {
    let kind = opts.osm.ok_or_else(|| {
        IoError::file(
            path,
            "an OpenStreetMap file imports into roads (walkable ways), buildings or facilities; pass one of those as --layer",
        )
    })?;
    let rules = match &opts.osm_tags {
        Some(p) => {
            let text = std::fs::read_to_string(p).map_err(|e| IoError::file(p, e))?;
            tag_rules(&text).map_err(|e| IoError::file(p, e))?
        }
        None => tag_rules(DEFAULT_TAGS).expect("the built-in tag table is valid"),
    };
    let pbf_err =
        |e: osmpbf::Error| IoError::file(path, format!("not a readable OSM PBF file: {e}"));
    let mut records = Vec::new();
    let mut ways = Vec::new();
    // A tagged node that the table maps to a category is a facility.
    let poi =
        |records: &mut Vec<Record>, id: i64, lon: f64, lat: f64, tags: HashMap<String, String>| {
            if let Some(r) = category(&rules, &tags) {
                records.push(facility(format!("n{id}"), Point::new(lon, lat), &tags, r));
            }
        };
    // Pass 1: the ways wanted (and, for facilities, tagged nodes directly).
    ElementReader::from_path(path)
        .map_err(pbf_err)?
        .for_each(|el| match el {
            Element::Way(w) => {
                let tags = owned(w.tags());
                let wanted = match kind {
                    OsmKind::Walkways => walkable(&tags),
                    OsmKind::Buildings => tags.contains_key("building"),
                    OsmKind::Facilities => category(&rules, &tags).is_some(),
                };
                if wanted {
                    ways.push(Way {
                        id: w.id(),
                        refs: w.refs().collect(),
                        tags,
                    });
                }
            }
            Element::Node(n) if kind == OsmKind::Facilities => {
                poi(&mut records, n.id(), n.lon(), n.lat(), owned(n.tags()));
            }
            Element::DenseNode(n) if kind == OsmKind::Facilities => {
                poi(&mut records, n.id(), n.lon(), n.lat(), owned(n.tags()));
            }
            _ => {}
        })
        .map_err(pbf_err)?;
    // Pass 2: the coordinates of the nodes those ways use.
    let needed: HashSet<i64> = ways.iter().flat_map(|w| w.refs.iter().copied()).collect();
    let mut coords: HashMap<i64, Coord> = HashMap::with_capacity(needed.len());
    ElementReader::from_path(path)
        .map_err(pbf_err)?
        .for_each(|el| {
            let (id, x, y) = match el {
                Element::Node(n) => (n.id(), n.lon(), n.lat()),
                Element::DenseNode(n) => (n.id(), n.lon(), n.lat()),
                _ => return,
            };
            if needed.contains(&id) {
                coords.insert(id, Coord { x, y });
            }
        })
        .map_err(pbf_err)?;
    for w in ways {
        // Extracts cut ways at their border: keep the nodes present.
        let line: Vec<Coord> = w
            .refs
            .iter()
            .filter_map(|r| coords.get(r).copied())
            .collect();
        match kind {
            OsmKind::Walkways => {
                if line.len() < 2 {
                    continue;
                }
                let h = w.tags.get("highway").map(String::as_str).unwrap_or("");
                let mut attrs = vec![
                    ("id".to_owned(), Attr::Text(format!("osm-w{}", w.id))),
                    ("osm_id".to_owned(), Attr::Text(format!("w{}", w.id))),
                    ("class".to_owned(), Attr::Text(road_class(h).into())),
                    ("highway".to_owned(), Attr::Text(h.into())),
                ];
                push_name(&mut attrs, &w.tags);
                if let Some(width) = w.tags.get("width").and_then(|v| metres(v)) {
                    attrs.push(("width_m".into(), Attr::Real(width)));
                }
                records.push(Record {
                    geometry: Some(LineString(line).into()),
                    attrs,
                    problems: Vec::new(),
                });
            }
            OsmKind::Buildings => {
                let closed = w.refs.len() >= 4 && w.refs.first() == w.refs.last();
                if !closed || line.len() != w.refs.len() {
                    continue;
                }
                let mut attrs = vec![
                    ("id".to_owned(), Attr::Text(format!("osm-w{}", w.id))),
                    ("osm_id".to_owned(), Attr::Text(format!("w{}", w.id))),
                    (
                        "building".to_owned(),
                        Attr::Text(w.tags["building"].clone()),
                    ),
                ];
                push_name(&mut attrs, &w.tags);
                if let Some(l) = w
                    .tags
                    .get("building:levels")
                    .and_then(|v| v.trim().parse::<f64>().ok())
                {
                    attrs.push(("floors".into(), Attr::Int(l.round() as i64)));
                }
                if let Some(h) = w.tags.get("height").and_then(|v| metres(v)) {
                    attrs.push(("height_m".into(), Attr::Real(h)));
                }
                if let Some(u) = building_use(&w.tags["building"]) {
                    attrs.push(("use".into(), Attr::Text(u.into())));
                }
                records.push(Record {
                    geometry: Some(Polygon::new(LineString(line), vec![]).into()),
                    attrs,
                    problems: Vec::new(),
                });
            }
            OsmKind::Facilities => {
                if line.is_empty() {
                    continue;
                }
                let ls = LineString(line);
                let Some(c) = ls.centroid() else { continue };
                let r = category(&rules, &w.tags).expect("selected in pass 1");
                records.push(facility(format!("w{}", w.id), c, &w.tags, r));
            }
        }
    }
    let mut fields: Vec<String> = Vec::new();
    for r in &records {
        for (k, _) in &r.attrs {
            if !fields.contains(k) {
                fields.push(k.clone());
            }
        }
    }
    Ok(Dataset {
        format: Format::OsmPbf,
        records,
        crs: Some(Crs::Wgs84),
        declared_crs: None,
        encoding: Some("UTF-8".into()),
        fields,
    })
}

fn owned<'a>(tags: impl Iterator<Item = (&'a str, &'a str)>) -> HashMap<String, String> {
    tags.map(|(k, v)| (k.to_owned(), v.to_owned())).collect()
}

fn category<'r>(rules: &'r [Rule], tags: &HashMap<String, String>) -> Option<&'r Rule> {
    rules.iter().find(|r| {
        tags.get(&r.key)
            .is_some_and(|v| r.value == "*" || *v == r.value)
    })
}

fn facility(osm_id: String, at: Point, tags: &HashMap<String, String>, rule: &Rule) -> Record {
    let cat = gengxin_model::vocab::find(gengxin_model::vocab::FACILITY_CATEGORIES, &rule.category)
        .expect("checked when the table was read");
    let mut attrs = vec![
        ("id".to_owned(), Attr::Text(format!("osm-{osm_id}"))),
        ("osm_id".to_owned(), Attr::Text(osm_id)),
        ("category".to_owned(), Attr::Text(rule.category.clone())),
        (
            "osm_tag".to_owned(),
            Attr::Text(format!("{}={}", rule.key, tags[&rule.key])),
        ),
    ];
    if let Some(t) = gengxin_model::vocab::facility_tier(&rule.category) {
        attrs.push(("tier".into(), Attr::Text(t.into())));
    }
    push_name(&mut attrs, tags);
    if !attrs.iter().any(|(k, _)| k == "name") {
        // Facilities need a name; an unnamed POI is called by its category.
        attrs.push(("name".into(), Attr::Text(format!("{}（未命名）", cat.zh))));
    }
    Record {
        geometry: Some(Geometry::Point(at)),
        attrs,
        problems: Vec::new(),
    }
}

fn push_name(attrs: &mut Vec<(String, Attr)>, tags: &HashMap<String, String>) {
    if let Some(n) = tags.get("name:zh").or_else(|| tags.get("name")) {
        attrs.push(("name".into(), Attr::Text(n.clone())));
    }
}

fn building_use(building: &str) -> Option<&'static str> {
    Some(match building {
        "residential" | "apartments" | "house" | "detached" | "terrace" | "dormitory" => {
            "residential"
        }
        "commercial" | "retail" | "supermarket" | "hotel" => "commercial",
        "office" => "office",
        "industrial" | "factory" | "manufacture" => "industrial",
        "warehouse" | "storage_tank" => "warehouse",
        "school" | "hospital" | "public" | "civic" | "government" | "university"
        | "kindergarten" => "public",
        _ => return None,
    })
}

/// A length tag in metres: `12`, `12 m`, `12.5m`, `40'` (feet).
fn metres(v: &str) -> Option<f64> {
    let v = v.trim();
    if let Some(ft) = v.strip_suffix('\'') {
        return ft.trim().parse::<f64>().ok().map(|f| f * 0.3048);
    }
    let n = v.trim_end_matches('m').trim();
    n.parse::<f64>().ok().filter(|x| x.is_finite() && *x >= 0.0)
}
