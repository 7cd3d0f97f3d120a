//! The retrieval module's other questions: the one-click summary of a place
//! (`GET /api/summary/{layer}/{id}`), what is at a point (`GET /api/at`), what lies in a drawn
//! shape or within a distance of it (`POST /api/spatial`), and where projects stand against
//! plan, now or on a past date (`GET /api/progress`).
//!
//! All read the layers' in-memory [snapshots](crate::snapshots); spatial tests go through the
//! same CQL2 plan as `/ogc` (distances in metres, computed in the projected CRS); summaries
//! and project states are computed by [`gengxin_query`].

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use axum::Json;
use axum::extract::{RawQuery, State};
use chrono::NaiveDate;
use gengxin_model::{Feature, Layer, LayerId};
use gengxin_query::progress::{ProjectStatus, status_at};
use gengxin_query::summary::{ClassStat, Inside, in_unit, summarize, unit_prefix};
use geo::{BoundingRect, Intersects};
use serde::Deserialize;
use serde_json::{Value as Json_, json};

use crate::extract::{ApiPath, params};
use crate::snapshots::{Derived, Snapshot};
use crate::wire::{feature_json, feature_json_with};
use crate::{ApiError, AppState};

fn today() -> NaiveDate {
    chrono::Utc::now().date_naive()
}

fn parse_date(name: &str, v: &str) -> Result<NaiveDate, ApiError> {
    NaiveDate::parse_from_str(v, "%Y-%m-%d")
        .map_err(|_| ApiError::bad_request(format!("{name} {v:?} must be a date YYYY-MM-DD")))
}

fn code_zh(layer: LayerId, field: &str, code: &str) -> &'static str {
    Layer::by_id(layer)
        .field(field)
        .and_then(|f| f.codes)
        .and_then(|cs| gengxin_model::vocab::find(cs, code))
        .map_or("", |c| c.zh)
}

/// Answers kept while the layers they were made from are unchanged.
#[derive(Default)]
pub struct Caches {
    /// Project states per (date, today).
    statuses: Derived<(NaiveDate, NaiveDate), Arc<HashMap<String, ProjectStatus>>>,
    /// Summaries per (layer, id, date, today).
    summaries: Derived<(LayerId, String, NaiveDate, NaiveDate), Json_>,
}

/// The projects, milestones and reports, and the projects' states at a date.
struct Progress {
    projects: Arc<Snapshot>,
    statuses: Arc<HashMap<String, ProjectStatus>>,
}

async fn progress_at(s: &AppState, as_of: NaiveDate) -> Result<Progress, ApiError> {
    let projects = s.snapshots.get(&*s.store, LayerId::Projects).await?;
    let milestones = s.snapshots.get(&*s.store, LayerId::Milestones).await?;
    let reports = s.snapshots.get(&*s.store, LayerId::ProgressReports).await?;
    let from = [projects.clone(), milestones.clone(), reports.clone()];
    let key = (as_of, today());
    if let Some(statuses) = s.retrieval.statuses.get(&key, &from) {
        return Ok(Progress { projects, statuses });
    }
    let p = projects.clone();
    let statuses: HashMap<String, ProjectStatus> = tokio::task::spawn_blocking(move || {
        let (ms, rs) = (by_project(&milestones), by_project(&reports));
        let today = today();
        p.features
            .iter()
            .filter_map(|f| {
                let none = Vec::new();
                let st = status_at(
                    f,
                    ms.get(f.id.as_str()).unwrap_or(&none),
                    rs.get(f.id.as_str()).unwrap_or(&none),
                    as_of,
                    today,
                )?;
                Some((f.id.clone(), st))
            })
            .collect()
    })
    .await
    .map_err(ApiError::internal)?;
    let statuses = Arc::new(statuses);
    s.retrieval.statuses.put(key, &from, statuses.clone());
    Ok(Progress { projects, statuses })
}

/// Rows of a layer by the project they belong to.
fn by_project(snap: &Snapshot) -> HashMap<&str, Vec<&Feature>> {
    let mut m: HashMap<&str, Vec<&Feature>> = HashMap::new();
    for f in &snap.features {
        if let Some(id) = f.get("project_id").as_str() {
            m.entry(id).or_default().push(f);
        }
    }
    m
}

/// The features of a layer whose geometry intersects `g`.
fn within<'a>(snap: &'a Snapshot, g: Option<&geo::Geometry>) -> Vec<&'a Feature> {
    let Some((g, r)) = g.and_then(|g| Some((g, g.bounding_rect()?))) else {
        return Vec::new();
    };
    snap.in_envelope(r)
        .into_iter()
        .filter(|f| f.geometry.as_ref().is_some_and(|fg| fg.intersects(g)))
        .collect()
}

/// The features of a layer in the administrative unit with this code prefix.
fn pick<'a>(snap: &'a Snapshot, prefix: &str) -> Vec<&'a Feature> {
    snap.features
        .iter()
        .filter(|f| in_unit(f, prefix))
        .collect()
}

fn classes_json(layer: LayerId, field: &str, v: &[ClassStat]) -> Json_ {
    json!(
        v.iter()
            .map(|c| json!({
                "code": c.code,
                "name": code_zh(layer, field, &c.code),
                "count": c.count,
                "area_m2": c.area_m2,
            }))
            .collect::<Vec<_>>()
    )
}

fn area_m2(f: &Feature) -> Option<f64> {
    f.get("area_m2").as_f64()
}

/// The one-click summary of a place: for an administrative unit (`admin_units`, the city,
/// a district, street or community), a renewal object (`renewal_objects`) or a parcel
/// (`parcels`): what lies inside it — renewal objects by kind, parcels by land use, buildings
/// and floor area, facilities by category, grids, population (latest year), projects by stage
/// with progress, investment and how many lag behind plan — with its boundary and extent to
/// zoom to. `as_of` (YYYY-MM-DD, default today) answers the projects from their history.
#[utoipa::path(get, path = "/api/summary/{layer}/{id}",
    params(
        ("layer" = String, Path, description = "admin_units, renewal_objects or parcels"),
        ("id" = String, Path, description = "e.g. 420111 (洪山区)"),
        ("as_of" = Option<String>, Query, description = "Date of the project figures, YYYY-MM-DD"),
    ),
    responses(
        (status = 200, body = Object),
        (status = 400, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody),
    ))]
pub async fn summary(
    State(s): State<AppState>,
    ApiPath((layer, id)): ApiPath<(String, String)>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Json_>, ApiError> {
    let mut as_of = today();
    for (k, v) in params(raw) {
        match k.as_str() {
            "as_of" => as_of = parse_date("as_of", &v)?,
            other => {
                return Err(ApiError::bad_request(format!(
                    "unknown parameter {other:?}: only as_of"
                )));
            }
        }
    }
    let kind = match layer.as_str() {
        "admin_units" => LayerId::AdminUnits,
        "renewal_objects" => LayerId::RenewalObjects,
        "parcels" => LayerId::Parcels,
        other => {
            return Err(ApiError::not_found(format!(
                "no summary for {other:?}: admin_units, renewal_objects or parcels"
            )));
        }
    };
    let subject = s
        .store
        .get(kind, &id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("{layer}/{id} does not exist")))?;
    let snap = |l| s.snapshots.get(&*s.store, l);
    let objects = snap(LayerId::RenewalObjects).await?;
    let parcels = snap(LayerId::Parcels).await?;
    let buildings = snap(LayerId::Buildings).await?;
    let facilities = snap(LayerId::Facilities).await?;
    let grids = snap(LayerId::Grids).await?;
    let population = snap(LayerId::Population).await?;
    let own = s.snapshots.get(&*s.store, kind).await?;
    let from = [
        own,
        objects.clone(),
        parcels.clone(),
        buildings.clone(),
        facilities.clone(),
        grids.clone(),
        population.clone(),
        s.snapshots.get(&*s.store, LayerId::Projects).await?,
        s.snapshots.get(&*s.store, LayerId::Milestones).await?,
        s.snapshots.get(&*s.store, LayerId::ProgressReports).await?,
    ];
    let key = (kind, id.clone(), as_of, today());
    if let Some(v) = s.retrieval.summaries.get(&key, &from) {
        return Ok(Json(v));
    }
    let progress = progress_at(&s, as_of).await?;
    let subj = subject.clone();
    let (summary, counts) = tokio::task::spawn_blocking(move || {
        let mut inside = Inside::default();
        match kind {
            LayerId::AdminUnits => {
                let level = subj.get("level").as_str().unwrap_or_default();
                let prefix = unit_prefix(&subj.id, level);
                inside.renewal_objects = pick(&objects, prefix);
                inside.parcels = pick(&parcels, prefix);
                inside.buildings = pick(&buildings, prefix);
                inside.facilities = pick(&facilities, prefix);
                inside.grids = pick(&grids, prefix);
                inside.population = pick(&population, prefix);
                let object_ids: HashSet<&str> = inside
                    .renewal_objects
                    .iter()
                    .map(|f| f.id.as_str())
                    .collect();
                inside.projects = progress
                    .projects
                    .features
                    .iter()
                    .filter(|p| {
                        in_unit(p, prefix)
                            && (level == "city"
                                || level == "district"
                                || p.get("renewal_object_id")
                                    .as_str()
                                    .is_some_and(|o| object_ids.contains(o)))
                    })
                    .filter_map(|p| Some((p, progress.statuses.get(&p.id)?.clone())))
                    .collect();
            }
            LayerId::RenewalObjects => {
                inside.renewal_objects = vec![&subj];
                inside.parcels = parcels
                    .features
                    .iter()
                    .filter(|p| p.get("renewal_object_id").as_str() == Some(&subj.id))
                    .collect();
                let ids: HashSet<&str> = inside.parcels.iter().map(|p| p.id.as_str()).collect();
                inside.buildings = buildings
                    .features
                    .iter()
                    .filter(|b| b.get("parcel_id").as_str().is_some_and(|p| ids.contains(p)))
                    .collect();
                inside.facilities = within(&facilities, subj.geometry.as_ref());
                inside.grids = within(&grids, subj.geometry.as_ref());
                inside.projects = progress
                    .projects
                    .features
                    .iter()
                    .filter(|p| p.get("renewal_object_id").as_str() == Some(&subj.id))
                    .filter_map(|p| Some((p, progress.statuses.get(&p.id)?.clone())))
                    .collect();
            }
            _ => {
                inside.parcels = vec![&subj];
                inside.buildings = buildings
                    .features
                    .iter()
                    .filter(|b| b.get("parcel_id").as_str() == Some(&subj.id))
                    .collect();
                inside.facilities = within(&facilities, subj.geometry.as_ref());
                let quoted = format!("\"{}\"", subj.id);
                inside.projects = progress
                    .projects
                    .features
                    .iter()
                    .filter(|p| {
                        p.get("parcel_ids")
                            .as_str()
                            .is_some_and(|ids| ids.contains(&quoted))
                    })
                    .filter_map(|p| Some((p, progress.statuses.get(&p.id)?.clone())))
                    .collect();
            }
        }
        let counts = json!({
            "renewal_objects": inside.renewal_objects.len(),
            "parcels": inside.parcels.len(),
            "buildings": inside.buildings.len(),
            "facilities": inside.facilities.len(),
            "grids": inside.grids.len(),
            "projects": inside.projects.len(),
        });
        (summarize(&inside), counts)
    })
    .await
    .map_err(ApiError::internal)?;
    let bbox = subject
        .geometry
        .as_ref()
        .and_then(|g| g.bounding_rect())
        .map(|r| [r.min().x, r.min().y, r.max().x, r.max().y]);
    let name = subject
        .get("name")
        .as_str()
        .or(subject.get("code").as_str())
        .unwrap_or(&subject.id)
        .to_owned();
    let p = &summary.projects;
    let body = json!({
        "layer": layer,
        "id": id,
        "name": name,
        "level": subject.get("level").as_str(),
        "as_of": as_of.to_string(),
        "area_m2": area_m2(&subject),
        "bbox": bbox,
        "feature": feature_json(&subject),
        "counts": counts,
        "renewal_by_kind": classes_json(LayerId::RenewalObjects, "kind", &summary.renewal_by_kind),
        "land_use": classes_json(LayerId::Parcels, "land_use", &summary.land_use),
        "buildings": {
            "count": summary.buildings.count,
            "footprint_m2": summary.buildings.footprint_m2,
            "floor_area_m2": summary.buildings.floor_area_m2,
            "before_2000": summary.buildings.before_2000,
        },
        "facilities_by_category": classes_json(LayerId::Facilities, "category", &summary.facilities_by_category),
        "grids": summary.grids,
        "population": summary.population.as_ref().map(|p| json!({
            "year": p.year,
            "communities": p.communities,
            "total": p.total,
            "age_60_plus": p.age_60_plus,
            "age_65_plus": p.age_65_plus,
            "households": p.households,
        })),
        "projects": {
            "count": p.count,
            "by_stage": p.by_stage.iter().map(|(st, n)| json!({
                "stage": st, "name": code_zh(LayerId::Projects, "stage", st), "count": n,
            })).collect::<Vec<_>>(),
            "mean_progress_pct": p.mean_progress_pct,
            "investment_total_wan": p.investment_total_wan,
            "investment_done_wan": p.investment_done_wan,
            "lagging": p.lagging,
        },
    });
    s.retrieval.summaries.put(key, &from, body.clone());
    Ok(Json(body))
}

fn status_json(p: &Feature, st: &ProjectStatus) -> Json_ {
    json!({
        "id": p.id,
        "code": p.get("code").as_str(),
        "name": p.get("name").as_str(),
        "district_code": p.get("district_code").as_str(),
        "renewal_object_id": p.get("renewal_object_id").as_str(),
        "stage": st.stage,
        "stage_name": code_zh(LayerId::Projects, "stage", &st.stage),
        "planned_stage": st.planned_stage,
        "progress_pct": st.progress_pct,
        "investment_total_wan": p.get("investment_total_wan").as_f64(),
        "investment_done_wan": st.investment_done_wan,
        "report_period": st.report_period,
        "start_date": p.get("start_date").as_str(),
        "planned_end_date": p.get("planned_end_date").as_str(),
        "overdue_milestones": st.overdue_milestones,
        "lag_days": st.lag_days,
    })
}

/// Projects and where they stand: filtered by `stage`, `district` (code), `renewal_object`,
/// `lagging` (true: with an overdue milestone), `min_lag_days`, and answered for a date
/// (`as_of`, default today) from the progress-report history. Sorted by lag, longest first;
/// `limit` (default 100, at most 5000) and `offset` page.
#[utoipa::path(get, path = "/api/progress",
    params(
        ("as_of" = Option<String>, Query, description = "YYYY-MM-DD, default today"),
        ("stage" = Option<String>, Query, description = "Stage code at that date, e.g. construction"),
        ("district" = Option<String>, Query, description = "District code, e.g. 420111"),
        ("renewal_object" = Option<String>, Query),
        ("lagging" = Option<bool>, Query),
        ("min_lag_days" = Option<i64>, Query),
        ("limit" = Option<usize>, Query), ("offset" = Option<usize>, Query),
    ),
    responses((status = 200, body = Object), (status = 400, body = crate::error::ErrorBody)))]
pub async fn progress(
    State(s): State<AppState>,
    who: crate::who::Who,
    RawQuery(raw): RawQuery,
) -> Result<Json<Json_>, ApiError> {
    let visible = crate::guard::Visible::of(&s, &who, Layer::by_id(LayerId::Projects)).await?;
    let (mut as_of, mut stage, mut district, mut object) = (today(), None, None, None);
    let (mut lagging, mut min_lag, mut limit, mut offset) = (None, None, 100usize, 0usize);
    for (k, v) in params(raw) {
        match k.as_str() {
            "as_of" => as_of = parse_date("as_of", &v)?,
            "stage" => {
                if code_zh(LayerId::Projects, "stage", &v).is_empty() {
                    return Err(ApiError::bad_request(format!(
                        "stage {v:?} is not a project stage; see /api/layers"
                    )));
                }
                stage = Some(v)
            }
            "district" => district = Some(v),
            "renewal_object" => object = Some(v),
            "lagging" => {
                lagging = Some(
                    v.parse::<bool>()
                        .map_err(|_| ApiError::bad_request("lagging must be true or false"))?,
                )
            }
            "min_lag_days" => {
                min_lag = Some(
                    v.parse::<i64>()
                        .map_err(|_| ApiError::bad_request("min_lag_days must be an integer"))?,
                )
            }
            "limit" => {
                limit = v
                    .parse()
                    .ok()
                    .filter(|n| (1..=5000).contains(n))
                    .ok_or_else(|| ApiError::bad_request("limit must be from 1 to 5000"))?
            }
            "offset" => {
                offset = v
                    .parse()
                    .map_err(|_| ApiError::bad_request("offset must be a non-negative integer"))?
            }
            other => {
                return Err(ApiError::bad_request(format!(
                    "unknown parameter {other:?}: as_of, stage, district, renewal_object, lagging, min_lag_days, limit, offset"
                )));
            }
        }
    }
    let pr = progress_at(&s, as_of).await?;
    let mut rows: Vec<(&Feature, &ProjectStatus)> = pr
        .projects
        .features
        .iter()
        .filter(|p| visible.sees(p))
        .filter_map(|p| Some((p, pr.statuses.get(&p.id)?)))
        .filter(|(p, st)| {
            stage.as_ref().is_none_or(|s| &st.stage == s)
                && district
                    .as_ref()
                    .is_none_or(|d| p.get("district_code").as_str() == Some(d))
                && object
                    .as_ref()
                    .is_none_or(|o| p.get("renewal_object_id").as_str() == Some(o))
                && lagging.is_none_or(|l| (st.lag_days > 0) == l)
                && min_lag.is_none_or(|m| st.lag_days >= m)
        })
        .collect();
    rows.sort_by(|a, b| b.1.lag_days.cmp(&a.1.lag_days).then(a.0.id.cmp(&b.0.id)));
    let mut by_stage: Vec<(String, usize)> = Vec::new();
    for (_, st) in &rows {
        match by_stage.iter_mut().find(|(s, _)| *s == st.stage) {
            Some(e) => e.1 += 1,
            None => by_stage.push((st.stage.clone(), 1)),
        }
    }
    by_stage.sort();
    Ok(Json(json!({
        "as_of": as_of.to_string(),
        "numberMatched": rows.len(),
        "lagging": rows.iter().filter(|(_, st)| st.lag_days > 0).count(),
        "by_stage": by_stage.iter().map(|(st, n)| json!({
            "stage": st, "name": code_zh(LayerId::Projects, "stage", st), "count": n,
        })).collect::<Vec<_>>(),
        "projects": rows.iter().skip(offset).take(limit).map(|(p, st)| status_json(p, st)).collect::<Vec<_>>(),
    })))
}

/// Layers answered by the point query, in the order they are listed.
const AT_LAYERS: &[LayerId] = &[
    LayerId::AdminUnits,
    LayerId::RenewalObjects,
    LayerId::Parcels,
    LayerId::Buildings,
    LayerId::PlanZones,
    LayerId::Grids,
    LayerId::Facilities,
    LayerId::Roads,
];

fn spatial_layer(name: &str) -> Result<&'static Layer, ApiError> {
    let l = crate::ogc::collection(name)?;
    if l.geometry.is_none() {
        return Err(ApiError::bad_request(format!(
            "layer {name} has no geometry"
        )));
    }
    Ok(l)
}

/// Features of the layers that satisfy a spatial filter, each layer at most `limit`.
async fn spatial_select(
    s: &AppState,
    layers: &[&'static Layer],
    filter: impl Fn(&'static Layer) -> Result<gengxin_query::Filter, ApiError>,
    limit: usize,
    geometry: bool,
) -> Result<Json_, ApiError> {
    let mut out = Vec::new();
    for &l in layers {
        let flt = filter(l)?;
        let snap = s.snapshots.get(&*s.store, l.id).await?;
        let (matched, page) = tokio::task::spawn_blocking(move || {
            crate::ogc::select(&snap, None, Some(&flt), &[], 0, limit)
        })
        .await
        .map_err(ApiError::internal)?;
        out.push(json!({
            "layer": l.name,
            "title": l.zh,
            "numberMatched": matched,
            "features": page.iter().map(|f| feature_json_with(f, geometry)).collect::<Vec<_>>(),
        }));
    }
    Ok(json!({ "results": out }))
}

/// What is at a point (the hover/click query): per layer, the features containing the point,
/// and points and lines within `tolerance_m` metres of it (default 15). `layers` narrows the
/// layers (comma-separated); geometry is left out unless `geometry=true`.
#[utoipa::path(get, path = "/api/at",
    params(
        ("lon" = f64, Query), ("lat" = f64, Query),
        ("layers" = Option<String>, Query, description = "Comma-separated layer names"),
        ("tolerance_m" = Option<f64>, Query, description = "For points and lines, default 15, at most 500"),
        ("geometry" = Option<bool>, Query),
    ),
    responses((status = 200, body = Object), (status = 400, body = crate::error::ErrorBody)))]
pub async fn at(
    State(s): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Json_>, ApiError> {
    let (mut lon, mut lat, mut tol, mut geometry) = (None, None, 15.0f64, false);
    let mut layers: Vec<&'static Layer> = AT_LAYERS.iter().map(|&l| Layer::by_id(l)).collect();
    let num = |k: &str, v: &str| {
        v.parse::<f64>()
            .ok()
            .filter(|x| x.is_finite())
            .ok_or_else(|| ApiError::bad_request(format!("{k} {v:?} must be a number")))
    };
    for (k, v) in params(raw) {
        match k.as_str() {
            "lon" => lon = Some(num("lon", &v)?),
            "lat" => lat = Some(num("lat", &v)?),
            "tolerance_m" => {
                tol = num("tolerance_m", &v)?;
                if !(0.0..=500.0).contains(&tol) {
                    return Err(ApiError::bad_request("tolerance_m must be from 0 to 500"));
                }
            }
            "geometry" => {
                geometry = v
                    .parse()
                    .map_err(|_| ApiError::bad_request("geometry must be true or false"))?
            }
            "layers" => layers = v.split(',').map(spatial_layer).collect::<Result<_, _>>()?,
            other => {
                return Err(ApiError::bad_request(format!(
                    "unknown parameter {other:?}: lon, lat, layers, tolerance_m, geometry"
                )));
            }
        }
    }
    let (Some(lon), Some(lat)) = (lon, lat) else {
        return Err(ApiError::bad_request("lon and lat are required"));
    };
    if !(-180.0..=180.0).contains(&lon) || !(-90.0..=90.0).contains(&lat) {
        return Err(ApiError::bad_request(
            "lon must be within ±180 and lat within ±90",
        ));
    }
    let point = json!({"type": "Point", "coordinates": [lon, lat]});
    let body = spatial_select(
        &s,
        &layers,
        |l| {
            let polygons = l.geometry == Some(gengxin_model::GeometryType::MultiPolygon);
            let v = if polygons || tol == 0.0 {
                json!({"op": "s_intersects", "args": [{"property": "geom"}, point]})
            } else {
                json!({"op": "s_dwithin", "args": [{"property": "geom"}, point, tol]})
            };
            Ok(gengxin_query::parse_json_value(&v, l)?)
        },
        50,
        geometry,
    )
    .await?;
    Ok(Json(body))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpatialBody {
    layers: Vec<String>,
    /// A GeoJSON geometry in lon/lat (EPSG:4490 / CRS84).
    geometry: Json_,
    /// Distance around the geometry, metres; 0 (the default) for the geometry itself.
    #[serde(default)]
    buffer_m: f64,
    /// `intersects` (the default) or `within` (features wholly inside the geometry).
    #[serde(default)]
    relation: Option<String>,
    #[serde(default)]
    limit: Option<usize>,
    #[serde(default)]
    geometries: Option<bool>,
}

/// What lies in a drawn shape (a polygon, a line, a point, a box as a polygon), or within
/// `buffer_m` metres of it (computed in the projected CRS), per layer. Errors in the
/// geometry point into the request body.
#[utoipa::path(post, path = "/api/spatial",
    request_body(content = Object, description = "{\"layers\": [\"parcels\"], \"geometry\": {GeoJSON}, \"buffer_m\": 500, \"relation\": \"intersects\", \"limit\": 1000}"),
    responses((status = 200, body = Object), (status = 400, body = crate::error::ErrorBody)))]
pub async fn spatial(
    State(s): State<AppState>,
    body: Result<Json<SpatialBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Json_>, ApiError> {
    let Json(b) =
        body.map_err(|e| ApiError::bad_request(format!("malformed body: {}", e.body_text())))?;
    if b.layers.is_empty() {
        return Err(ApiError::bad_request("layers must name at least one layer"));
    }
    let layers: Vec<&'static Layer> = b
        .layers
        .iter()
        .map(|n| spatial_layer(n))
        .collect::<Result<_, _>>()?;
    let limit = b.limit.unwrap_or(1000);
    if !(1..=10_000).contains(&limit) {
        return Err(ApiError::bad_request("limit must be from 1 to 10000"));
    }
    if !b.buffer_m.is_finite() || b.buffer_m < 0.0 {
        return Err(ApiError::bad_request(
            "buffer_m must be a non-negative number",
        ));
    }
    let op = match (b.relation.as_deref(), b.buffer_m > 0.0) {
        (None | Some("intersects"), false) => "s_intersects",
        (None | Some("intersects"), true) => "s_dwithin",
        (Some("within"), false) => "s_within",
        (Some("within"), true) => {
            return Err(ApiError::bad_request(
                "relation within takes no buffer_m: use intersects with a buffer",
            ));
        }
        (Some(other), _) => {
            return Err(ApiError::bad_request(format!(
                "relation {other:?}: intersects or within"
            )));
        }
    };
    let mut args = vec![json!({"property": "geom"}), b.geometry.clone()];
    if op == "s_dwithin" {
        args.push(json!(b.buffer_m));
    }
    let v = json!({"op": op, "args": args});
    let body = spatial_select(
        &s,
        &layers,
        |l| {
            gengxin_query::parse_json_value(&v, l).map_err(|mut e| {
                // Point into the request body, not into the filter built from it.
                e.pointer = match e.pointer.strip_prefix("/args/1") {
                    Some(rest) => format!("/geometry{rest}"),
                    None if e.pointer.starts_with("/args/2") => "/buffer_m".into(),
                    None => String::new(),
                };
                ApiError::from(e)
            })
        },
        limit,
        b.geometries.unwrap_or(true),
    )
    .await?;
    Ok(Json(body))
}
