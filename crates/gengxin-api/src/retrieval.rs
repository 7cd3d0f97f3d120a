//! The retrieval module's other questions: the one-click summary of a place
//! (`GET /api/summary/{layer}/{id}`), what is at a point (`GET /api/at`), what lies in a drawn
//! shape or within a distance of it (`POST /api/spatial`), and where projects stand against
//! plan, now or on a past date (`GET /api/progress`).
//!
//! All read the layers' in-memory [snapshots](gengxin_app::cache); spatial tests go through the
//! same CQL2 plan as `/ogc` (distances in metres, computed in the projected CRS); summaries
//! and project states are computed by [`gengxin_query`].

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use chrono::NaiveDate;
use gengxin_model::{Feature, Layer, LayerId};
use gengxin_query::progress::{ProjectStatus, status_at};
use gengxin_query::summary::{ClassStat as Stat, Inside, in_unit, summarize, unit_prefix};
use geo::{BoundingRect, Intersects};
use serde::{Deserialize, Serialize};
use serde_json::{Value as Json_, json};
use utoipa::{IntoParams, ToSchema};

use crate::extract::{ApiPath, ApiQuery};
use crate::who::Who;
use crate::wire::GeoFeature;
use crate::{ApiError, AppState};
use gengxin_app::cache::{Derived, Snapshot};

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
    /// Summaries per (layer, id, date, today, whose projects).
    summaries: Derived<(LayerId, String, NaiveDate, NaiveDate, ProjectScope), Summary>,
}

/// Whose projects a summary counts: none (the public and roles without project access), all
/// (the city roles), or those one user may see.
#[derive(Clone, PartialEq, Eq, Hash)]
enum ProjectScope {
    None,
    All,
    User(String),
}

/// The projects, milestones and reports, and the projects' states at a date.
struct Progress {
    projects: Arc<Snapshot>,
    statuses: Arc<HashMap<String, ProjectStatus>>,
}

async fn progress_at(s: &AppState, as_of: NaiveDate) -> Result<Progress, ApiError> {
    let projects = s.app.snapshot(LayerId::Projects).await?;
    let milestones = s.app.snapshot(LayerId::Milestones).await?;
    let reports = s.app.snapshot(LayerId::ProgressReports).await?;
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

/// Count and area of one class (a renewal kind, a land use, a facility category).
#[derive(Clone, Serialize, ToSchema)]
pub struct ClassStat {
    /// The class's code.
    code: String,
    /// The class's Chinese name.
    name: &'static str,
    count: usize,
    /// The summed area of its features, m².
    area_m2: f64,
}

fn classes(layer: LayerId, field: &str, v: &[Stat]) -> Vec<ClassStat> {
    v.iter()
        .map(|c| ClassStat {
            code: c.code.clone(),
            name: code_zh(layer, field, &c.code),
            count: c.count,
            area_m2: c.area_m2,
        })
        .collect()
}

/// How many projects are at one stage.
#[derive(Clone, Serialize, ToSchema)]
pub struct StageCount {
    /// The stage's code, e.g. `construction`.
    stage: String,
    /// The stage's Chinese name.
    name: &'static str,
    count: usize,
}

fn stages(by_stage: &[(String, usize)]) -> Vec<StageCount> {
    by_stage
        .iter()
        .map(|(st, n)| StageCount {
            stage: st.clone(),
            name: code_zh(LayerId::Projects, "stage", st),
            count: *n,
        })
        .collect()
}

/// How many features of each layer lie inside the place.
#[derive(Clone, Serialize, ToSchema)]
pub struct SummaryCounts {
    renewal_objects: usize,
    parcels: usize,
    buildings: usize,
    facilities: usize,
    grids: usize,
    /// The projects the caller may see; null for the public and roles without project access.
    #[schema(required)]
    projects: Option<usize>,
}

/// The buildings inside the place.
#[derive(Clone, Serialize, ToSchema)]
pub struct BuildingStats {
    count: usize,
    /// Summed footprint, m².
    footprint_m2: f64,
    /// Footprint × floors, for buildings with both, m².
    floor_area_m2: f64,
    /// Buildings built before 2000.
    before_2000: usize,
}

/// The population inside the place, in the latest year reported.
#[derive(Clone, Serialize, ToSchema)]
pub struct PopulationStats {
    year: i64,
    /// Communities reporting that year.
    communities: usize,
    total: i64,
    age_60_plus: i64,
    age_65_plus: i64,
    households: i64,
}

/// The projects inside the place, at the summary's date.
#[derive(Clone, Serialize, ToSchema)]
pub struct ProjectStats {
    count: usize,
    by_stage: Vec<StageCount>,
    /// Mean progress of the projects that report one, %.
    #[schema(required)]
    mean_progress_pct: Option<f64>,
    /// 万元.
    investment_total_wan: f64,
    /// 万元.
    investment_done_wan: f64,
    /// Projects with an overdue milestone.
    lagging: usize,
}

/// The one-click summary of a place.
#[derive(Clone, Serialize, ToSchema)]
pub struct Summary {
    /// `admin_units`, `renewal_objects` or `parcels`.
    layer: String,
    id: String,
    /// Its name (else its code, else its id).
    name: String,
    /// city, district, street or community for an administrative unit; else null.
    #[schema(required)]
    level: Option<String>,
    /// The date of the project figures, YYYY-MM-DD.
    as_of: String,
    #[schema(required)]
    area_m2: Option<f64>,
    /// Its extent to zoom to: [min_lon, min_lat, max_lon, max_lat]; null without geometry.
    #[schema(required)]
    bbox: Option<[f64; 4]>,
    /// The place itself, with its boundary.
    feature: GeoFeature,
    counts: SummaryCounts,
    renewal_by_kind: Vec<ClassStat>,
    land_use: Vec<ClassStat>,
    buildings: BuildingStats,
    facilities_by_category: Vec<ClassStat>,
    /// Grids inside it.
    grids: usize,
    /// Null when no population row lies inside it.
    #[schema(required)]
    population: Option<PopulationStats>,
    /// The projects the caller may see (a district's or an entity's own); null for the public
    /// and roles without project access.
    #[schema(required)]
    projects: Option<ProjectStats>,
}

/// The date of a summary's project figures.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SummaryQuery {
    /// Date of the project figures, YYYY-MM-DD (default today).
    as_of: Option<String>,
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
        SummaryQuery,
    ),
    responses(
        (status = 200, body = Summary),
        (status = 400, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody),
    ))]
pub async fn summary(
    State(s): State<AppState>,
    who: crate::who::Who,
    ApiPath((layer, id)): ApiPath<(String, String)>,
    ApiQuery(q): ApiQuery<SummaryQuery>,
) -> Result<Json<Summary>, ApiError> {
    let as_of = match &q.as_of {
        Some(v) => parse_date("as_of", v)?,
        None => today(),
    };
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
    let snap = |l| s.app.snapshot(l);
    let objects = snap(LayerId::RenewalObjects).await?;
    let parcels = snap(LayerId::Parcels).await?;
    let buildings = snap(LayerId::Buildings).await?;
    let facilities = snap(LayerId::Facilities).await?;
    let grids = snap(LayerId::Grids).await?;
    let population = snap(LayerId::Population).await?;
    let own = s.app.snapshot(kind).await?;
    let from = [
        own,
        objects.clone(),
        parcels.clone(),
        buildings.clone(),
        facilities.clone(),
        grids.clone(),
        population.clone(),
        s.app.snapshot(LayerId::Projects).await?,
        s.app.snapshot(LayerId::Milestones).await?,
        s.app.snapshot(LayerId::ProgressReports).await?,
    ];
    // Project figures are the projects the caller may see, and none for the public.
    let projects_visible = match gengxin_app::visibility::Visible::of(
        &s.app,
        &who.caller,
        Layer::by_id(LayerId::Projects),
    )
    .await
    {
        Ok(v) => Some(v),
        Err(gengxin_app::AppError::Denied(_)) => None,
        Err(e) => return Err(e.into()),
    };
    let scope = match (&projects_visible, &who.caller) {
        (None, _) => ProjectScope::None,
        (Some(v), _) if v.all() => ProjectScope::All,
        (Some(_), Some(p)) => ProjectScope::User(p.user_id.clone()),
        (Some(_), None) => ProjectScope::None,
    };
    let key = (kind, id.clone(), as_of, today(), scope);
    if let Some(v) = s.retrieval.summaries.get(&key, &from) {
        return Ok(Json(v));
    }
    let progress = progress_at(&s, as_of).await?;
    let subj = subject.clone();
    let shows_projects = projects_visible.is_some();
    let (summary, counts) = tokio::task::spawn_blocking(move || {
        let sees = |p: &Feature| projects_visible.as_ref().is_some_and(|v| v.sees(p));
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
                    .filter(|p| sees(p))
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
                    .filter(|p| sees(p))
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
                    .filter(|p| sees(p))
                    .filter_map(|p| Some((p, progress.statuses.get(&p.id)?.clone())))
                    .collect();
            }
        }
        let counts = SummaryCounts {
            renewal_objects: inside.renewal_objects.len(),
            parcels: inside.parcels.len(),
            buildings: inside.buildings.len(),
            facilities: inside.facilities.len(),
            grids: inside.grids.len(),
            projects: shows_projects.then_some(inside.projects.len()),
        };
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
    let b = &summary.buildings;
    let body = Summary {
        layer,
        id,
        name,
        level: subject.get("level").as_str().map(str::to_owned),
        as_of: as_of.to_string(),
        area_m2: area_m2(&subject),
        bbox,
        feature: GeoFeature::of(&subject),
        counts,
        renewal_by_kind: classes(LayerId::RenewalObjects, "kind", &summary.renewal_by_kind),
        land_use: classes(LayerId::Parcels, "land_use", &summary.land_use),
        buildings: BuildingStats {
            count: b.count,
            footprint_m2: b.footprint_m2,
            floor_area_m2: b.floor_area_m2,
            before_2000: b.before_2000,
        },
        facilities_by_category: classes(
            LayerId::Facilities,
            "category",
            &summary.facilities_by_category,
        ),
        grids: summary.grids,
        population: summary.population.as_ref().map(|p| PopulationStats {
            year: p.year,
            communities: p.communities,
            total: p.total,
            age_60_plus: p.age_60_plus,
            age_65_plus: p.age_65_plus,
            households: p.households,
        }),
        projects: shows_projects.then(|| ProjectStats {
            count: p.count,
            by_stage: stages(&p.by_stage),
            mean_progress_pct: p.mean_progress_pct,
            investment_total_wan: p.investment_total_wan,
            investment_done_wan: p.investment_done_wan,
            lagging: p.lagging,
        }),
    };
    s.retrieval.summaries.put(key, &from, body.clone());
    Ok(Json(body))
}

/// A project and where it stands at the date asked.
#[derive(Serialize, ToSchema)]
pub struct ProjectProgress {
    id: String,
    #[schema(required)]
    code: Option<String>,
    #[schema(required)]
    name: Option<String>,
    #[schema(required)]
    district_code: Option<String>,
    #[schema(required)]
    renewal_object_id: Option<String>,
    /// The stage at the date (code).
    stage: String,
    /// The stage's Chinese name.
    stage_name: &'static str,
    /// The stage the plan expects at the date.
    #[schema(required)]
    planned_stage: Option<String>,
    #[schema(required)]
    progress_pct: Option<f64>,
    /// 万元.
    #[schema(required)]
    investment_total_wan: Option<f64>,
    /// 万元, as last reported by the date.
    #[schema(required)]
    investment_done_wan: Option<f64>,
    /// The period (YYYY-MM) of the report the figures come from.
    #[schema(required)]
    report_period: Option<String>,
    #[schema(required)]
    start_date: Option<String>,
    #[schema(required)]
    planned_end_date: Option<String>,
    /// Milestones planned before the date and not done by it.
    overdue_milestones: usize,
    /// Days since the oldest overdue milestone was due; 0 when none is.
    lag_days: i64,
}

impl ProjectProgress {
    fn new(p: &Feature, st: &ProjectStatus) -> Self {
        let text = |k: &str| p.get(k).as_str().map(str::to_owned);
        ProjectProgress {
            id: p.id.clone(),
            code: text("code"),
            name: text("name"),
            district_code: text("district_code"),
            renewal_object_id: text("renewal_object_id"),
            stage: st.stage.clone(),
            stage_name: code_zh(LayerId::Projects, "stage", &st.stage),
            planned_stage: st.planned_stage.clone(),
            progress_pct: st.progress_pct,
            investment_total_wan: p.get("investment_total_wan").as_f64(),
            investment_done_wan: st.investment_done_wan,
            report_period: st.report_period.clone(),
            start_date: text("start_date"),
            planned_end_date: text("planned_end_date"),
            overdue_milestones: st.overdue_milestones,
            lag_days: st.lag_days,
        }
    }
}

/// Projects against plan: the counts over every matching project and a page of them.
#[derive(Serialize, ToSchema)]
pub struct ProgressPage {
    /// The date answered, YYYY-MM-DD.
    as_of: String,
    /// How many projects match.
    #[serde(rename = "numberMatched")]
    number_matched: usize,
    /// How many of them lag behind plan.
    lagging: usize,
    /// The matching projects per stage.
    by_stage: Vec<StageCount>,
    /// The page, longest lag first.
    projects: Vec<ProjectProgress>,
}

/// Which projects, at which date, which page.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ProgressQuery {
    /// YYYY-MM-DD, default today.
    as_of: Option<String>,
    /// Stage code at that date, e.g. construction.
    stage: Option<String>,
    /// District code, e.g. 420111.
    district: Option<String>,
    renewal_object: Option<String>,
    /// true: only projects with an overdue milestone; false: only those without.
    lagging: Option<bool>,
    min_lag_days: Option<i64>,
    /// Page size, default 100, at most 5000.
    limit: Option<usize>,
    offset: Option<usize>,
}

/// Projects and where they stand: filtered by `stage`, `district` (code), `renewal_object`,
/// `lagging` (true: with an overdue milestone), `min_lag_days`, and answered for a date
/// (`as_of`, default today) from the progress-report history. Sorted by lag, longest first;
/// `limit` (default 100, at most 5000) and `offset` page.
#[utoipa::path(get, path = "/api/progress",
    params(ProgressQuery),
    responses((status = 200, body = ProgressPage), (status = 400, body = crate::error::ErrorBody)))]
pub async fn progress(
    State(s): State<AppState>,
    who: crate::who::Who,
    ApiQuery(q): ApiQuery<ProgressQuery>,
) -> Result<Json<ProgressPage>, ApiError> {
    let visible =
        gengxin_app::visibility::Visible::of(&s.app, &who.caller, Layer::by_id(LayerId::Projects))
            .await?;
    let as_of = match &q.as_of {
        Some(v) => parse_date("as_of", v)?,
        None => today(),
    };
    if let Some(v) = &q.stage
        && code_zh(LayerId::Projects, "stage", v).is_empty()
    {
        return Err(ApiError::bad_request(format!(
            "stage {v:?} is not a project stage; see /api/layers"
        )));
    }
    let limit = q.limit.unwrap_or(100);
    if !(1..=5000).contains(&limit) {
        return Err(ApiError::bad_request("limit must be from 1 to 5000"));
    }
    let offset = q.offset.unwrap_or(0);
    let (stage, district, object) = (q.stage, q.district, q.renewal_object);
    let (lagging, min_lag) = (q.lagging, q.min_lag_days);
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
    Ok(Json(ProgressPage {
        as_of: as_of.to_string(),
        number_matched: rows.len(),
        lagging: rows.iter().filter(|(_, st)| st.lag_days > 0).count(),
        by_stage: stages(&by_stage),
        projects: rows
            .iter()
            .skip(offset)
            .take(limit)
            .map(|(p, st)| ProjectProgress::new(p, st))
            .collect(),
    }))
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

/// The features of one layer that answer a point or shape query.
#[derive(Serialize, ToSchema)]
pub struct LayerResult {
    /// The layer's name.
    layer: &'static str,
    /// The layer's Chinese name.
    title: &'static str,
    /// How many features match (the features are at most the limit).
    #[serde(rename = "numberMatched")]
    number_matched: usize,
    /// In id order; `geometry` is null unless asked for.
    features: Vec<GeoFeature>,
}

/// What a point or shape query found, per layer in the order asked.
#[derive(Serialize, ToSchema)]
pub struct SpatialResults {
    results: Vec<LayerResult>,
}

/// Features of the layers that satisfy a spatial filter, each layer at most `limit`.
async fn spatial_select(
    s: &AppState,
    who: &Who,
    layers: &[&'static Layer],
    filter: impl Fn(&'static Layer) -> Result<gengxin_query::Filter, ApiError>,
    limit: usize,
    geometry: bool,
) -> Result<SpatialResults, ApiError> {
    let mut out = Vec::new();
    for &l in layers {
        let flt = filter(l)?;
        // Only rows the caller may see, in the shape it sees them (positions the public sees
        // generalised are matched generalised).
        let snap = gengxin_app::visibility::Visible::of(&s.app, &who.caller, l)
            .await?
            .snapshot(&s.app)
            .await?;
        let (cancel, budget) = (crate::limits::Cancel::default(), s.limits.cql2_budget);
        let stop = cancel.flag();
        let found = tokio::task::spawn_blocking(move || {
            crate::ogc::select(&snap, None, Some(&flt), &[], 0, limit, budget, &stop)
        })
        .await
        .map_err(ApiError::internal)?;
        drop(cancel);
        let (matched, page) = found?;
        out.push(LayerResult {
            layer: l.name,
            title: l.zh,
            number_matched: matched,
            features: page.iter().map(|f| GeoFeature::with(f, geometry)).collect(),
        });
    }
    Ok(SpatialResults { results: out })
}

/// A point, and what to look for around it.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AtQuery {
    lon: f64,
    lat: f64,
    /// Comma-separated layer names.
    layers: Option<String>,
    /// For points and lines, default 15, at most 500.
    tolerance_m: Option<f64>,
    /// Whether the features carry their geometry (default false).
    geometry: Option<bool>,
}

/// What is at a point (the hover/click query): per layer, the features containing the point,
/// and points and lines within `tolerance_m` metres of it (default 15). `layers` narrows the
/// layers (comma-separated); geometry is left out unless `geometry=true`.
#[utoipa::path(get, path = "/api/at",
    params(AtQuery),
    responses((status = 200, body = SpatialResults), (status = 400, body = crate::error::ErrorBody)))]
pub async fn at(
    State(s): State<AppState>,
    who: Who,
    ApiQuery(q): ApiQuery<AtQuery>,
) -> Result<Json<SpatialResults>, ApiError> {
    let (lon, lat, geometry) = (q.lon, q.lat, q.geometry.unwrap_or(false));
    let tol = q.tolerance_m.unwrap_or(15.0);
    if !(0.0..=500.0).contains(&tol) {
        return Err(ApiError::bad_request("tolerance_m must be from 0 to 500"));
    }
    let layers: Vec<&'static Layer> = match &q.layers {
        Some(v) => v.split(',').map(spatial_layer).collect::<Result<_, _>>()?,
        None => AT_LAYERS.iter().map(|&l| Layer::by_id(l)).collect(),
    };
    if !(-180.0..=180.0).contains(&lon) || !(-90.0..=90.0).contains(&lat) {
        return Err(ApiError::bad_request(
            "lon must be within ±180 and lat within ±90",
        ));
    }
    let point = json!({"type": "Point", "coordinates": [lon, lat]});
    let body = spatial_select(
        &s,
        &who,
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

/// A shape query.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SpatialBody {
    /// The layers to look in (collection names with geometry), at least one.
    layers: Vec<String>,
    /// A GeoJSON geometry in lon/lat (EPSG:4490 / CRS84).
    #[schema(value_type = Object)]
    geometry: Json_,
    /// Distance around the geometry, metres; 0 (the default) for the geometry itself.
    #[serde(default)]
    buffer_m: f64,
    /// `intersects` (the default) or `within` (features wholly inside the geometry).
    #[serde(default)]
    relation: Option<String>,
    /// The most features per layer, default 1000, at most 10000.
    #[serde(default)]
    limit: Option<usize>,
    /// Whether the features carry their geometry (default true).
    #[serde(default)]
    geometries: Option<bool>,
}

/// What lies in a drawn shape (a polygon, a line, a point, a box as a polygon), or within
/// `buffer_m` metres of it (computed in the projected CRS), per layer. Errors in the
/// geometry point into the request body.
#[utoipa::path(post, path = "/api/spatial",
    request_body(content = SpatialBody, description = "{\"layers\": [\"parcels\"], \"geometry\": {GeoJSON}, \"buffer_m\": 500, \"relation\": \"intersects\", \"limit\": 1000}"),
    responses((status = 200, body = SpatialResults), (status = 400, body = crate::error::ErrorBody)))]
pub async fn spatial(
    State(s): State<AppState>,
    who: Who,
    crate::extract::ApiJson(b): crate::extract::ApiJson<SpatialBody>,
) -> Result<Json<SpatialResults>, ApiError> {
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
        &who,
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
