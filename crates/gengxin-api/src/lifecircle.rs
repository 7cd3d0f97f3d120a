//! The life-circle evaluation over HTTP: run it (`POST /api/life-circle/evaluate`), read a
//! community's report (`GET /api/life-circle/communities/{code}`) and walk from a point
//! (`GET /api/isochrone`). The rule table is the layer `life_circle_rules`, read and edited
//! through the ordinary feature endpoints; results are the layers `life_circle_parcels` and
//! `life_circle_communities` (tiles, OGC items, exports).

use axum::Json;
use axum::extract::State;
use gengxin_app::evaluation::Outcome;
use gengxin_model::{LayerId, vocab};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json_;
use utoipa::{IntoParams, ToSchema};

use crate::extract::{ApiPath, ApiQuery};
use crate::wire::{FeatureCollectionType, FeatureType};
use crate::{ApiError, AppState};

/// What a life-circle evaluation did.
#[derive(Serialize, ToSchema)]
pub struct LifeCircleRun {
    /// The version of the rule table used.
    rules_version: String,
    /// Rules evaluated.
    rules: usize,
    /// Default rules added to an empty rule table first.
    rules_seeded: usize,
    network_nodes: usize,
    network_edges: usize,
    network_components: usize,
    /// The share of the walking network in its largest connected part, 0–1.
    largest_component_share: f64,
    /// Residential buildings evaluated.
    homes: usize,
    /// Homes with no road near enough to reach.
    unplaced_homes: usize,
    facilities: usize,
    residents: f64,
    /// Result rows per parcel and per community.
    parcels: usize,
    communities: usize,
    /// [tier, score 0–100] per scored tier, e.g. ["5min", 30.5].
    city_scores: Vec<(String, f64)>,
    /// Chinese sentences, the largest gaps first.
    city_gaps: Vec<String>,
    /// Result rows written or left as they were.
    inserted: usize,
    updated: usize,
    deleted: usize,
    unchanged: usize,
    seconds: f64,
}

impl From<Outcome> for LifeCircleRun {
    fn from(o: Outcome) -> Self {
        let Outcome {
            rules_version,
            rules,
            rules_seeded,
            network_nodes,
            network_edges,
            network_components,
            largest_component_share,
            homes,
            unplaced_homes,
            facilities,
            residents,
            parcels,
            communities,
            city_scores,
            city_gaps,
            inserted,
            updated,
            deleted,
            unchanged,
            seconds,
        } = o;
        LifeCircleRun {
            rules_version,
            rules,
            rules_seeded,
            network_nodes,
            network_edges,
            network_components,
            largest_component_share,
            homes,
            unplaced_homes,
            facilities,
            residents,
            parcels,
            communities,
            city_scores,
            city_gaps,
            inserted,
            updated,
            deleted,
            unchanged,
            seconds,
        }
    }
}

/// Starts the life-circle evaluation on the whole store as a job, or joins the one pending or
/// running (on any server of the store): `202 Accepted` with `Location: /api/jobs/{id}` and the
/// job. The job goes on whether or not the client waits; once `done` its `result` is a
/// `LifeCircleRun` (city scores per tier, gaps, rows written), once `failed` its `error` says why.
#[utoipa::path(post, path = "/api/life-circle/evaluate",
    responses((status = 202, body = crate::jobs::JobBody,
        headers(("Location" = String, description = "The job: GET it until done or failed")))))]
pub async fn evaluate(
    State(s): State<AppState>,
    who: crate::who::Who,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    crate::who::allow(gengxin_auth::policy::require_admin(&who.caller))?;
    let (job, _started) = gengxin_app::jobs::evaluate_life_circle(&s.app, &who.actor()).await?;
    let location = format!("/api/jobs/{}", job.id);
    Ok((
        axum::http::StatusCode::ACCEPTED,
        [(axum::http::header::LOCATION, location)],
        Json(crate::jobs::JobBody::from(job)),
    )
        .into_response())
}

/// One rule of a community's report: how well the community's residents reach the facilities
/// of its category.
#[derive(Serialize, ToSchema)]
pub struct RuleCoverage {
    /// `5min`, `10min`, `15min` or another tier (reported only).
    tier: String,
    #[schema(required)]
    tier_zh: Option<&'static str>,
    /// The facility category.
    category: String,
    #[schema(required)]
    category_zh: Option<&'static str>,
    /// The service radius, m.
    radius_m: f64,
    /// Required (scored) by the standard; else reported only.
    required: bool,
    /// The clause of GB 50180-2018 it comes from.
    clause: String,
    /// The share of residents within the radius, 0–1; null when not evaluated.
    #[schema(required)]
    share: Option<f64>,
    /// The median walk to the nearest one, m; null when none is within reach.
    #[schema(required)]
    median_m: Option<f64>,
}

/// A community's scores per scored tier, 0–100.
#[derive(Serialize, ToSchema)]
pub struct TierScores {
    #[serde(rename = "5min")]
    #[schema(required)]
    five: Option<f64>,
    #[serde(rename = "10min")]
    #[schema(required)]
    ten: Option<f64>,
    #[serde(rename = "15min")]
    #[schema(required)]
    fifteen: Option<f64>,
}

/// A community's life-circle report.
#[derive(Serialize, ToSchema)]
pub struct LifeCircleReport {
    /// The 12-digit community code.
    code: String,
    #[schema(required)]
    name: Option<String>,
    #[schema(required)]
    district_code: Option<String>,
    /// Estimated residents.
    #[schema(required)]
    residents: Option<f64>,
    /// Residential buildings.
    #[schema(required)]
    homes: Option<i64>,
    /// Homes with no road near enough to reach.
    #[schema(required)]
    unplaced: Option<i64>,
    scores: TierScores,
    /// The required categories missing within reach.
    #[schema(required)]
    missing: Option<Vec<String>>,
    /// Chinese sentences naming its gaps.
    #[schema(required)]
    gaps: Option<Vec<String>>,
    /// Every rule of the rule table, in order.
    rules: Vec<RuleCoverage>,
    #[schema(required)]
    rules_version: Option<String>,
    /// RFC 3339.
    #[schema(required)]
    evaluated_at: Option<String>,
}

/// A community's life-circle report: residents, scores per tier, and for every rule the share
/// of residents within its radius, the median walk to the nearest one and the clause.
#[utoipa::path(get, path = "/api/life-circle/communities/{code}",
    params(("code" = String, Path, description = "12-digit community code")),
    responses((status = 200, body = LifeCircleReport), (status = 404, body = crate::error::ErrorBody)))]
pub async fn community(
    State(s): State<AppState>,
    ApiPath(code): ApiPath<String>,
) -> Result<Json<LifeCircleReport>, ApiError> {
    let row = s
        .store
        .get(LayerId::LifeCircleCommunities, &format!("lc-{code}"))
        .await?
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "community {code} has no life-circle evaluation (no homes, or not evaluated yet)"
            ))
        })?;
    let rules = s.app.snapshot(LayerId::LifeCircleRules).await?;
    let (rules, _) = gengxin_app::evaluation::rules_of(&rules.features)?;
    let parse = |k: &str| -> serde_json::Map<String, Json_> {
        row.get(k)
            .as_str()
            .and_then(|t| serde_json::from_str(t).ok())
            .unwrap_or_default()
    };
    let (coverage, nearest) = (parse("coverage"), parse("nearest_m"));
    let items = rules
        .iter()
        .map(|r| {
            let key = format!("{}:{}", r.tier, r.category);
            RuleCoverage {
                tier: r.tier.clone(),
                tier_zh: vocab::find(vocab::FACILITY_TIERS, &r.tier).map(|c| c.zh),
                category: r.category.clone(),
                category_zh: vocab::find(vocab::FACILITY_CATEGORIES, &r.category).map(|c| c.zh),
                radius_m: r.radius_m,
                required: r.required,
                clause: r.clause.clone(),
                share: coverage.get(&key).and_then(Json_::as_f64),
                median_m: nearest.get(&key).and_then(Json_::as_f64),
            }
        })
        .collect();
    let text = |k: &str| row.get(k).as_str().map(str::to_owned);
    let real = |k: &str| row.get(k).as_f64();
    let list = |k: &str, sep: char| {
        row.get(k).as_str().map(|t| {
            t.split(sep)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
    };
    Ok(Json(LifeCircleReport {
        name: text("name"),
        district_code: text("district_code"),
        residents: real("residents"),
        homes: row.get("homes").as_i64(),
        unplaced: row.get("unplaced").as_i64(),
        scores: TierScores {
            five: real("score_5min"),
            ten: real("score_10min"),
            fifteen: real("score_15min"),
        },
        missing: list("missing", ','),
        gaps: list("gaps", '；'),
        rules: items,
        rules_version: text("rules_version"),
        evaluated_at: text("evaluated_at"),
        code,
    }))
}

/// The area reachable on foot within some minutes.
#[derive(Serialize, ToSchema)]
pub struct Isochrone {
    #[serde(rename = "type")]
    kind: FeatureType,
    /// A GeoJSON (Multi)Polygon in lon/lat.
    #[schema(value_type = Object)]
    geometry: geojson::Geometry,
    properties: IsochroneProperties,
}

#[derive(Serialize, ToSchema)]
pub struct IsochroneProperties {
    minutes: f64,
    /// The distance walked in that time, m.
    distance_m: f64,
    /// The area, m².
    area_m2: f64,
}

/// Where the walks start: the nearest point of the walking network.
#[derive(Serialize, ToSchema)]
pub struct WalkStart {
    lon: f64,
    lat: f64,
    /// The distance from the point asked to the network, m.
    access_m: f64,
}

/// The areas reachable on foot from a point, as a GeoJSON FeatureCollection, largest first.
#[derive(Serialize, ToSchema)]
pub struct Isochrones {
    #[serde(rename = "type")]
    kind: FeatureCollectionType,
    features: Vec<Isochrone>,
    start: WalkStart,
    /// The walking speed used, m/min.
    speed_m_min: f64,
}

/// Where to walk from, for how long, how fast.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct IsochroneQuery {
    lon: f64,
    lat: f64,
    /// Comma-separated, default 5,10,15; each 1–60.
    minutes: Option<String>,
    /// Walking speed in metres per minute, default 80 (GB 50180 tiers: 300/500/1000 m ≈
    /// 5/10/15 min at 60–80 m/min), 30–120.
    speed_m_min: Option<f64>,
    /// Half-width around the walked streets, default 40, 5–200.
    buffer_m: Option<f64>,
}

/// The areas reachable on foot from a point within each number of minutes: the walked network
/// buffered by `buffer_m` on each side, as GeoJSON polygons (largest first).
#[utoipa::path(get, path = "/api/isochrone",
    params(IsochroneQuery),
    responses((status = 200, body = Isochrones), (status = 400, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ErrorBody)))]
pub async fn isochrone(
    State(s): State<AppState>,
    ApiQuery(q): ApiQuery<IsochroneQuery>,
) -> Result<Json<Isochrones>, ApiError> {
    let within = |k: &str, v: f64, lo: f64, hi: f64| {
        if v.is_finite() && (lo..=hi).contains(&v) {
            Ok(v)
        } else {
            Err(ApiError::bad_request(format!(
                "{k} {v} must be a number from {lo} to {hi}"
            )))
        }
    };
    let lon = within("lon", q.lon, -180.0, 180.0)?;
    let lat = within("lat", q.lat, -90.0, 90.0)?;
    let speed = within("speed_m_min", q.speed_m_min.unwrap_or(80.0), 30.0, 120.0)?;
    let buffer = within("buffer_m", q.buffer_m.unwrap_or(40.0), 5.0, 200.0)?;
    let minutes: Vec<f64> = match &q.minutes {
        None => vec![5.0, 10.0, 15.0],
        Some(v) => v
            .split(',')
            .map(|m| {
                let bad = || {
                    ApiError::bad_request(format!("minutes {m:?} must be a number from 1 to 60"))
                };
                within(
                    "minutes",
                    m.trim().parse::<f64>().map_err(|_| bad())?,
                    1.0,
                    60.0,
                )
            })
            .collect::<Result<_, _>>()?,
    };
    if minutes.len() > 6 {
        return Err(ApiError::bad_request("at most 6 values of minutes"));
    }
    let walked = gengxin_app::evaluation::isochrones(
        &s.app,
        geo::Coord { x: lon, y: lat },
        minutes,
        speed,
        buffer,
    )
    .await?;
    Ok(Json(Isochrones {
        kind: FeatureCollectionType::FeatureCollection,
        features: walked
            .reaches
            .iter()
            .map(|r| Isochrone {
                kind: FeatureType::Feature,
                geometry: geojson::Geometry::from(&r.area),
                properties: IsochroneProperties {
                    minutes: r.minutes,
                    distance_m: r.distance_m,
                    area_m2: r.area_m2,
                },
            })
            .collect(),
        start: WalkStart {
            lon: walked.start.x,
            lat: walked.start.y,
            access_m: walked.access_m,
        },
        speed_m_min: speed,
    }))
}
