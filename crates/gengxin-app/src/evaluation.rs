//! Evaluations run against a store: read the input layers, call the pure engine, write the
//! result layers. Today: the GB 50180-2018 life-circle evaluation (rules seeded from
//! `life-circle-rules.toml`, GB 50180-2018 附录 B/C, each row citing its clause).
//!
//! Coordinates: features are stored in EPSG:4490 lon/lat; everything metric here happens in the
//! CGCS2000 3° Gauss–Krüger zone of the road network's centre ([`Walk::gk`]), and result
//! geometries are the stored parcel and community geometries, untouched.
//!
//! Writes are minimal: a run computes every result, compares each with the stored row and
//! writes only the rows that changed, appeared or disappeared, in one transaction. A run on
//! unchanged data writes nothing.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use gengxin_engine::crs::GaussKruger;
use gengxin_engine::lifecircle::{self, Report, Rule};
use gengxin_engine::network::{BuildOptions, BuildReport, Location, Network, Snapper};
use gengxin_model::{Feature, LayerId, Value, vocab};
use gengxin_store::{Edit, Query, Store};

use crate::audit::Record;
use crate::{Actor, App, AppError};
use geo::{Centroid, MapCoords};
use geo_types::{Coord, Geometry, LineString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The default rule table, seeded into an empty `life_circle_rules` layer.
pub const DEFAULT_RULES: &str = include_str!("../life-circle-rules.toml");

/// Provenance of seeded rules and of results.
pub const PROVENANCE: &str = "gengxin life-circle evaluation";

/// Homes and facilities farther than this from every road are not on the network.
pub const MAX_ACCESS_M: f64 = 300.0;

/// The walking network of a store's road layer, in Gauss–Krüger metres.
pub struct Walk {
    pub net: Network,
    pub snapper: Snapper,
    pub gk: GaussKruger,
    pub report: BuildReport,
}

impl Walk {
    /// The place on the network nearest a lon/lat point, within [`MAX_ACCESS_M`].
    pub fn locate(&self, lonlat: Coord) -> Option<Location> {
        // A point outside the zone's domain is as far from every road as one can be.
        let p = self.gk.try_project(lonlat)?;
        self.snapper.snap(p, MAX_ACCESS_M)
    }
}

fn lines_of(g: &Geometry) -> Vec<LineString> {
    match g {
        Geometry::LineString(l) => vec![l.clone()],
        Geometry::MultiLineString(m) => m.0.clone(),
        _ => Vec::new(),
    }
}

/// Builds the walking network from road features. Road layers are often drawn without
/// topology, so lines that cross get a junction (an OpenStreetMap bridge over a road becomes
/// one too), and line ends within 2 m of another line join it.
pub fn walking_network(roads: &[Feature]) -> Result<Walk, AppError> {
    let lines: Vec<LineString> = roads
        .iter()
        .filter_map(|f| f.geometry.as_ref())
        .flat_map(lines_of)
        .collect();
    let (sum, n) = lines
        .iter()
        .flat_map(|l| l.0.iter())
        .fold((0.0, 0usize), |(s, n), c| (s + c.x, n + 1));
    if n == 0 {
        return Err(AppError::Unprocessable(
            "the roads layer is empty: import a road network (a road layer or an OpenStreetMap file into roads) first".into(),
        ));
    }
    let cm = ((sum / n as f64) / 3.0).round() * 3.0;
    let gk = GaussKruger::with_central_meridian(cm as u16).map_err(|e| {
        AppError::Unprocessable(format!(
            "the walking network is measured in a CGCS2000 Gauss–Krüger zone, and the roads lie outside them: {e}"
        ))
    })?;
    let projected: Vec<LineString> = lines.iter().map(|l| gk.project_geometry(l)).collect();
    let (net, report) = Network::from_lines(
        &projected,
        BuildOptions {
            split_crossings: true,
            snap_tolerance_m: 2.0,
            simplify: true,
        },
    );
    let snapper = net.snapper();
    Ok(Walk {
        net,
        snapper,
        gk,
        report,
    })
}

#[derive(Debug, Deserialize)]
struct RuleFile {
    rule: Vec<RuleRow>,
}

#[derive(Debug, Deserialize)]
struct RuleRow {
    category: String,
    tier: String,
    radius_m: f64,
    obligation: String,
    clause: String,
    value_source: String,
}

/// The default rule table as features of `life_circle_rules`.
pub fn default_rule_features(at: DateTime<Utc>) -> Vec<Feature> {
    let file: RuleFile = toml::from_str(DEFAULT_RULES).expect("the built-in rule table parses");
    file.rule
        .into_iter()
        .map(|r| {
            Feature::new(format!("lcr-{}-{}", r.tier, r.category), PROVENANCE, at)
                .set("category", r.category)
                .set("tier", r.tier)
                .set("radius_m", r.radius_m)
                .set("obligation", r.obligation)
                .set("clause", r.clause)
                .set("value_source", r.value_source)
                .set("enabled", true)
        })
        .collect()
}

/// The rules in force (enabled rows, ordered by tier then category) and their version: a hash
/// of their content, so that any edit makes a new version.
pub fn rules_of(rows: &[Feature]) -> Result<(Vec<Rule>, String), AppError> {
    let mut rules = Vec::new();
    for f in rows {
        if matches!(f.get("enabled"), Value::Bool(false)) {
            continue;
        }
        let text = |k: &str| f.get(k).as_str().unwrap_or("").to_owned();
        let radius_m = f.get("radius_m").as_f64().unwrap_or(f64::NAN);
        if !(radius_m.is_finite() && radius_m > 0.0) {
            return Err(AppError::Unprocessable(format!(
                "life-circle rule {} has no positive radius_m",
                f.id
            )));
        }
        rules.push(Rule {
            category: text("category"),
            tier: text("tier"),
            radius_m,
            required: text("obligation") == "required",
            clause: text("clause"),
        });
    }
    if rules.is_empty() {
        return Err(AppError::Unprocessable(
            "the life-circle rule table has no enabled rule".into(),
        ));
    }
    let order = |t: &str| {
        lifecircle::SCORED_TIERS
            .iter()
            .position(|s| *s == t)
            .unwrap_or(9)
    };
    rules.sort_by(|a, b| {
        (order(&a.tier), &a.category, a.radius_m.to_bits()).cmp(&(
            order(&b.tier),
            &b.category,
            b.radius_m.to_bits(),
        ))
    });
    let mut h = Sha256::new();
    for r in &rules {
        h.update(format!(
            "{}|{}|{}|{}|{}\n",
            r.category, r.tier, r.radius_m, r.required, r.clause
        ));
    }
    let hash: String = h.finalize()[..4]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let version = format!("{}-{hash}", rules.len());
    Ok((rules, version))
}

/// The layers the evaluation reads.
pub struct Inputs<'a> {
    pub roads: &'a [Feature],
    pub facilities: &'a [Feature],
    pub buildings: &'a [Feature],
    pub population: &'a [Feature],
    pub admin_units: &'a [Feature],
    pub parcels: &'a [Feature],
    pub rules: &'a [Feature],
}

/// A finished evaluation, before it is written.
pub struct Evaluation {
    pub rules: Vec<Rule>,
    pub rules_version: String,
    pub network: BuildReport,
    pub homes: usize,
    pub unplaced_homes: usize,
    pub facilities_used: usize,
    pub residents: f64,
    pub parcels: Vec<Feature>,
    pub communities: Vec<Feature>,
    /// The whole city, as one report.
    pub city: Report,
}

struct Home {
    residents: f64,
    parcel: String,
    community: String,
    district: String,
    location: Option<Location>,
}

/// Floor area a building offers to residents: residential in full, mixed use in half.
fn dwelling_area(b: &Feature) -> f64 {
    let share = match b.get("use").as_str() {
        Some("residential") => 1.0,
        Some("mixed") => 0.5,
        _ => return 0.0,
    };
    let floors = b.get("floors").as_f64().unwrap_or(1.0).max(1.0);
    let footprint = b.get("footprint_m2").as_f64().unwrap_or(0.0);
    share * floors * footprint.max(1.0)
}

/// Runs the evaluation on in-memory layers (pure but for the clock passed in).
pub fn evaluate(input: &Inputs, at: DateTime<Utc>) -> Result<Evaluation, AppError> {
    let (rules, rules_version) = rules_of(input.rules)?;
    let walk = walking_network(input.roads)?;
    let project = |g: &Geometry| -> Option<Coord> { g.centroid().map(|p| walk.gk.project(p.0)) };

    // Residents of each community (its latest population year), spread over its dwellings by
    // floor area.
    let mut latest: HashMap<&str, (i64, f64)> = HashMap::new();
    for p in input.population {
        let (Some(code), Some(year), Some(total)) = (
            p.get("community_code").as_str(),
            p.get("year").as_i64(),
            p.get("total").as_f64(),
        ) else {
            continue;
        };
        let e = latest.entry(code).or_insert((i64::MIN, 0.0));
        if year > e.0 {
            *e = (year, total);
        }
    }
    let mut area_in: HashMap<&str, f64> = HashMap::new();
    for b in input.buildings {
        if let Some(c) = b.get("community_code").as_str() {
            *area_in.entry(c).or_default() += dwelling_area(b);
        }
    }
    let homes: Vec<Home> = input
        .buildings
        .iter()
        .filter(|b| dwelling_area(b) > 0.0)
        .map(|b| {
            let community = b.get("community_code").as_str().unwrap_or("").to_owned();
            let pop = latest.get(community.as_str()).map_or(0.0, |p| p.1);
            let total = area_in.get(community.as_str()).copied().unwrap_or(0.0);
            Home {
                residents: if total > 0.0 {
                    pop * dwelling_area(b) / total
                } else {
                    0.0
                },
                parcel: b.get("parcel_id").as_str().unwrap_or("").to_owned(),
                district: b.get("district_code").as_str().unwrap_or("").to_owned(),
                community,
                location: b
                    .geometry
                    .as_ref()
                    .and_then(project)
                    .and_then(|c| walk.snapper.snap(c, MAX_ACCESS_M)),
            }
        })
        .collect();
    let facilities: Vec<(String, Option<Location>)> = input
        .facilities
        .iter()
        .filter_map(|f| {
            let cat = f.get("category").as_str()?;
            rules.iter().any(|r| r.category == cat).then(|| {
                let at = f
                    .geometry
                    .as_ref()
                    .and_then(project)
                    .and_then(|c| walk.snapper.snap(c, MAX_ACCESS_M));
                (cat.to_owned(), at)
            })
        })
        .collect();
    let locations: Vec<Option<Location>> = homes.iter().map(|h| h.location).collect();
    let d = lifecircle::distances(&walk.net, &rules, &facilities, &locations);
    let nr = rules.len();
    let row = |i: usize| {
        (
            homes[i].residents,
            homes[i].location.is_some(),
            &d[i * nr..(i + 1) * nr],
        )
    };

    // Group homes by parcel and by community.
    let mut by_parcel: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    let mut by_community: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, h) in homes.iter().enumerate() {
        if !h.parcel.is_empty() {
            by_parcel.entry(&h.parcel).or_default().push(i);
        }
        if !h.community.is_empty() {
            by_community.entry(&h.community).or_default().push(i);
        }
    }
    let parcel_geom: HashMap<&str, &Feature> =
        input.parcels.iter().map(|p| (p.id.as_str(), p)).collect();
    let units: HashMap<&str, &Feature> = input
        .admin_units
        .iter()
        .filter(|u| u.get("level").as_str() == Some("community"))
        .map(|u| (u.get("code").as_str().unwrap_or(&u.id), u))
        .collect();
    let stamp = gengxin_model::timestamp(&at);
    let result = |id: &str, idx: &[usize], geometry: Option<Geometry>, name: Option<&str>| {
        let first = &homes[idx[0]];
        let rep = lifecircle::report(&rules, idx.iter().map(|&i| row(i)));
        result_feature(
            id,
            name,
            &first.district,
            &first.community,
            &rules,
            &rules_version,
            &rep,
            geometry,
            &stamp,
            at,
        )
    };
    let parcels: Vec<Feature> = by_parcel
        .iter()
        .filter_map(|(pid, idx)| {
            let p = parcel_geom.get(pid)?;
            Some(result(pid, idx, p.geometry.clone(), p.get("code").as_str()))
        })
        .collect();
    let communities: Vec<Feature> = by_community
        .iter()
        .map(|(code, idx)| {
            let u = units.get(code);
            result(
                code,
                idx,
                u.and_then(|u| u.geometry.clone()),
                u.and_then(|u| u.get("name").as_str()),
            )
        })
        .filter(|f| f.geometry.is_some())
        .collect();
    let city = lifecircle::report(&rules, (0..homes.len()).map(row));
    Ok(Evaluation {
        rules_version,
        network: walk.report,
        homes: homes.len(),
        unplaced_homes: homes.iter().filter(|h| h.location.is_none()).count(),
        facilities_used: facilities.iter().filter(|f| f.1.is_some()).count(),
        residents: city.residents,
        parcels,
        communities,
        city,
        rules,
    })
}

fn round(x: f64, digits: i32) -> f64 {
    let m = 10f64.powi(digits);
    (x * m).round() / m
}

fn tier_zh(tier: &str) -> &'static str {
    vocab::find(vocab::FACILITY_TIERS, tier).map_or("", |c| c.zh)
}

fn category_zh(category: &str) -> String {
    vocab::find(vocab::FACILITY_CATEGORIES, category)
        .map_or_else(|| category.to_owned(), |c| c.zh.to_owned())
}

/// The gap sentences of a report, in Chinese: "十五分钟生活圈：38% 的居民步行 1000 米内没有社区卫生服务中心".
pub fn gap_sentences(rules: &[Rule], rep: &Report) -> Vec<String> {
    rep.gaps
        .iter()
        .map(|&(j, share)| {
            let r = &rules[j];
            format!(
                "{}：{}% 的居民步行 {} 米内没有{}",
                tier_zh(&r.tier),
                (share * 100.0).round(),
                r.radius_m,
                category_zh(&r.category)
            )
        })
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn result_feature(
    id: &str,
    name: Option<&str>,
    district: &str,
    community: &str,
    rules: &[Rule],
    rules_version: &str,
    rep: &Report,
    geometry: Option<Geometry>,
    stamp: &str,
    at: DateTime<Utc>,
) -> Feature {
    let score = |t: &str| {
        rep.tiers
            .iter()
            .find(|s| s.tier == t)
            .map_or(100.0, |s| round(s.score, 1))
    };
    let mut coverage = serde_json::Map::new();
    let mut nearest = serde_json::Map::new();
    for (j, r) in rules.iter().enumerate() {
        let key = format!("{}:{}", r.tier, r.category);
        coverage.insert(key.clone(), round(rep.coverage[j].share, 3).into());
        nearest.insert(
            key,
            rep.coverage[j]
                .median_m
                .map_or(serde_json::Value::Null, |m| round(m, 0).into()),
        );
    }
    let missing: Vec<&str> = rep
        .missing
        .iter()
        .map(|&j| rules[j].category.as_str())
        .collect();
    let mut f = Feature::new(format!("lc-{id}"), PROVENANCE, at)
        .set("area_id", id)
        .set("name", name)
        .set("district_code", (!district.is_empty()).then_some(district))
        .set(
            "community_code",
            (!community.is_empty()).then_some(community),
        )
        .set("residents", round(rep.residents, 1))
        .set("homes", rep.homes as i64)
        .set("unplaced", rep.unplaced as i64)
        .set("score_5min", score("5min"))
        .set("score_10min", score("10min"))
        .set("score_15min", score("15min"))
        .set("missing", missing.join(","))
        .set("gaps", gap_sentences(rules, rep).join("；"))
        .set("coverage", serde_json::Value::Object(coverage).to_string())
        .set("nearest_m", serde_json::Value::Object(nearest).to_string())
        .set("rules_version", rules_version)
        .set("evaluated_at", stamp);
    f.geometry = geometry;
    f
}

/// What a run did.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub rules_version: String,
    pub rules: usize,
    pub rules_seeded: usize,
    pub network_nodes: usize,
    pub network_edges: usize,
    pub network_components: usize,
    pub largest_component_share: f64,
    pub homes: usize,
    pub unplaced_homes: usize,
    pub facilities: usize,
    pub residents: f64,
    pub parcels: usize,
    pub communities: usize,
    /// City-wide scores per tier (0–100), in [`lifecircle::SCORED_TIERS`] order.
    pub city_scores: Vec<(String, f64)>,
    /// City-wide gap sentences.
    pub city_gaps: Vec<String>,
    pub inserted: usize,
    pub updated: usize,
    pub deleted: usize,
    pub unchanged: usize,
    pub seconds: f64,
}

/// Seeds the default rules into an empty rule layer; returns how many were added.
pub async fn seed_rules(store: &dyn Store, at: DateTime<Utc>) -> Result<usize, AppError> {
    if store.count(LayerId::LifeCircleRules).await? > 0 {
        return Ok(0);
    }
    let rows = default_rule_features(at);
    let n = rows.len();
    store.insert(vec![(LayerId::LifeCircleRules, rows)]).await?;
    Ok(n)
}

/// Whether a stored result row says the same as a fresh one (all but the evaluation time).
fn same(a: &Feature, b: &Feature) -> bool {
    let strip = |f: &Feature| {
        let mut p = f.properties.clone();
        p.remove("evaluated_at");
        p
    };
    a.geometry == b.geometry && strip(a) == strip(b)
}

/// Reads the store, evaluates, and writes the rows that changed (one transaction), stamped
/// with `at`. Unaudited: for the demo build and tests; users run [`run_life_circle`].
pub async fn life_circle(store: &dyn Store, at: DateTime<Utc>) -> Result<Outcome, AppError> {
    let (edit, out) = life_circle_edit(store, at).await?;
    if out.inserted + out.updated + out.deleted > 0 {
        store.apply(edit).await?;
    }
    Ok(out)
}

/// The life-circle evaluation as a use case, audited as `actor`'s: on a blocking thread (it is
/// seconds of CPU work), its result rows and its audit record in one transaction. The API runs
/// it as a job ([`crate::jobs::evaluate_life_circle`]), one at a time across servers.
pub async fn run_life_circle(app: &App, actor: &Actor) -> Result<Outcome, AppError> {
    run_life_circle_with(app, Record::by(actor, "write", "ok"), |_, _| {}).await
}

/// [`run_life_circle`] with the audit record given, and `also` adding to the transaction that
/// writes the results (the job's `done` mark).
pub async fn run_life_circle_with(
    app: &App,
    record: Record,
    also: impl FnOnce(&mut Edit, &Outcome),
) -> Result<Outcome, AppError> {
    let store = app.store.clone();
    let at = app.now();
    let (mut edit, out) = tokio::task::spawn_blocking(move || {
        tokio::runtime::Handle::current().block_on(life_circle_edit(&*store, at))
    })
    .await
    .map_err(|e| AppError::internal(format!("the evaluation failed: {e}")))??;
    also(&mut edit, &out);
    let rec = record
        .on("life_circle_communities", "")
        .detail("life-circle evaluation");
    app.apply(edit, vec![rec]).await?;
    Ok(out)
}

/// Reads the store and evaluates: the edit that writes the rows that changed, and the summary.
async fn life_circle_edit(
    store: &dyn Store,
    at: DateTime<Utc>,
) -> Result<(Edit, Outcome), AppError> {
    let started = std::time::Instant::now();
    let seeded = seed_rules(store, at).await?;
    let all = |l: LayerId| async move { store.query(l, Query::default()).await };
    let roads = all(LayerId::Roads).await?;
    let facilities = all(LayerId::Facilities).await?;
    let buildings = all(LayerId::Buildings).await?;
    let population = all(LayerId::Population).await?;
    let admin_units = all(LayerId::AdminUnits).await?;
    let parcels = all(LayerId::Parcels).await?;
    let rules = all(LayerId::LifeCircleRules).await?;
    let input = Inputs {
        roads: &roads,
        facilities: &facilities,
        buildings: &buildings,
        population: &population,
        admin_units: &admin_units,
        parcels: &parcels,
        rules: &rules,
    };
    let eval = evaluate(&input, at)?;
    let mut edit = Edit::default();
    let mut counts = (0, 0, 0, 0);
    for (layer, fresh) in [
        (LayerId::LifeCircleParcels, &eval.parcels),
        (LayerId::LifeCircleCommunities, &eval.communities),
    ] {
        let stored = all(layer).await?;
        let mut old: HashMap<&str, &Feature> = stored.iter().map(|f| (f.id.as_str(), f)).collect();
        let (mut ins, mut upd) = (Vec::new(), Vec::new());
        for f in fresh.iter() {
            match old.remove(f.id.as_str()) {
                None => ins.push(f.clone()),
                Some(o) if same(o, f) => counts.3 += 1,
                Some(o) => {
                    let mut f = f.clone();
                    f.version = o.version;
                    f.created_at = o.created_at;
                    upd.push(f);
                }
            }
        }
        let del: Vec<(String, i64)> = old.values().map(|f| (f.id.clone(), f.version)).collect();
        counts.0 += ins.len();
        counts.1 += upd.len();
        counts.2 += del.len();
        // Only non-empty lists: an empty one would stamp the layer's gpkg_contents with "now".
        if !ins.is_empty() {
            edit.insert.push((layer, ins));
        }
        if !upd.is_empty() {
            edit.update.push((layer, upd));
        }
        if !del.is_empty() {
            edit.delete.push((layer, del));
        }
    }
    let out = Outcome {
        rules_version: eval.rules_version.clone(),
        rules: eval.rules.len(),
        rules_seeded: seeded,
        network_nodes: eval.network.nodes,
        network_edges: eval.network.edges,
        network_components: eval.network.components,
        largest_component_share: eval.network.largest_component_share,
        homes: eval.homes,
        unplaced_homes: eval.unplaced_homes,
        facilities: eval.facilities_used,
        residents: round(eval.residents, 0),
        parcels: eval.parcels.len(),
        communities: eval.communities.len(),
        city_scores: eval
            .city
            .tiers
            .iter()
            .map(|t| (t.tier.to_owned(), round(t.score, 1)))
            .collect(),
        city_gaps: gap_sentences(&eval.rules, &eval.city),
        inserted: counts.0,
        updated: counts.1,
        deleted: counts.2,
        unchanged: counts.3,
        seconds: started.elapsed().as_secs_f64(),
    };
    Ok((edit, out))
}

/// A Gauss–Krüger geometry back to lon/lat.
pub fn to_lonlat<G: MapCoords<f64, f64, Output = G>>(walk: &Walk, g: &G) -> G {
    walk.gk.unproject_geometry(g)
}

/// The walking network of the roads as the store holds them now: built on first use (on a
/// blocking thread) and kept while the roads are unchanged.
pub async fn walk(app: &App) -> Result<std::sync::Arc<Walk>, AppError> {
    let roads = app.snapshot(LayerId::Roads).await?;
    let from = [roads.clone()];
    if let Some(w) = app.walks.get(&(), &from) {
        return Ok(w);
    }
    let built = tokio::task::spawn_blocking(move || walking_network(&roads.features))
        .await
        .map_err(|e| AppError::Internal(format!("building the walking network failed: {e}")))??;
    let w = std::sync::Arc::new(built);
    app.walks.put((), &from, w.clone());
    Ok(w)
}

/// The area walked within some minutes.
#[derive(Debug, Clone)]
pub struct Reach {
    pub minutes: f64,
    pub distance_m: f64,
    /// Square metres, rounded.
    pub area_m2: f64,
    /// In lon/lat (EPSG:4490).
    pub area: geo_types::MultiPolygon,
}

/// Isochrones from a point.
#[derive(Debug, Clone)]
pub struct Walked {
    /// Longest first.
    pub reaches: Vec<Reach>,
    /// Where the walk starts: the nearest point of the network (lon/lat) …
    pub start: Coord,
    /// … and the straight way to it, in metres.
    pub access_m: f64,
}

/// Walks from a point for each of `minutes` at `speed_m_min`, each walked network buffered by
/// `buffer_m` (`gengxin_engine::access::isochrone`). A point farther than [`MAX_ACCESS_M`] from
/// any road is refused.
pub async fn isochrones(
    app: &App,
    lonlat: Coord,
    mut minutes: Vec<f64>,
    speed_m_min: f64,
    buffer_m: f64,
) -> Result<Walked, AppError> {
    let w = walk(app).await?;
    let Some(from) = w.locate(lonlat) else {
        return Err(AppError::Unprocessable(format!(
            "no road within {MAX_ACCESS_M} m of {}, {}",
            lonlat.x, lonlat.y
        )));
    };
    minutes.sort_by(|a, b| b.total_cmp(a));
    minutes.dedup();
    let start = w.gk.unproject(w.net.point_at(from.edge, from.offset));
    let reaches = tokio::task::spawn_blocking(move || {
        minutes
            .iter()
            .map(|&m| {
                let area =
                    gengxin_engine::access::isochrone(&w.net, from, m * speed_m_min, buffer_m);
                Reach {
                    minutes: m,
                    distance_m: m * speed_m_min,
                    area_m2: geo::Area::unsigned_area(&area).round(),
                    area: to_lonlat(&w, &area),
                }
            })
            .collect()
    })
    .await
    .map_err(|e| AppError::Internal(format!("the isochrone failed: {e}")))?;
    Ok(Walked {
        reaches,
        start,
        access_m: from.access,
    })
}
