//! The life-circle evaluation over HTTP: run it (`POST /api/life-circle/evaluate`), read a
//! community's report (`GET /api/life-circle/communities/{code}`) and walk from a point
//! (`GET /api/isochrone`). The rule table is the layer `life_circle_rules`, read and edited
//! through the ordinary feature endpoints; results are the layers `life_circle_parcels` and
//! `life_circle_communities` (tiles, OGC items, exports).

use std::sync::Arc;

use axum::Json;
use axum::extract::{RawQuery, State};
use gengxin_app::evaluation::Walk;
use gengxin_model::{LayerId, vocab};
use geo::{Area, Point};
use serde_json::{Value as Json_, json};

use crate::extract::{ApiPath, params};
use crate::snapshots::Derived;
use crate::{ApiError, AppState};

/// The walking network, kept while the roads are unchanged.
#[derive(Default)]
pub struct LifeCircle {
    walk: Derived<(), Arc<Walk>>,
}

async fn walk(s: &AppState) -> Result<Arc<Walk>, ApiError> {
    let roads = s.snapshots.get(&*s.store, LayerId::Roads).await?;
    let from = [roads.clone()];
    if let Some(w) = s.life_circle.walk.get(&(), &from) {
        return Ok(w);
    }
    let built = tokio::task::spawn_blocking(move || {
        gengxin_app::evaluation::walking_network(&roads.features)
    })
    .await
    .map_err(|e| ApiError::internal(format!("building the walking network failed: {e}")))??;
    let w = Arc::new(built);
    s.life_circle.walk.put((), &from, w.clone());
    Ok(w)
}

/// Runs the life-circle evaluation on the whole store and writes the result layers (only rows
/// that changed). Returns the run's summary: city scores per tier, gaps, rows written.
#[utoipa::path(post, path = "/api/life-circle/evaluate",
    responses((status = 200, body = Object), (status = 422, body = crate::error::ErrorBody)))]
pub async fn evaluate(
    State(s): State<AppState>,
    who: crate::who::Who,
) -> Result<Json<Json_>, ApiError> {
    crate::who::allow(gengxin_auth::policy::require_admin(&who.caller))?;
    let out = gengxin_app::evaluation::run_life_circle(&s.app, &who.actor()).await?;
    Ok(Json(serde_json::to_value(out).expect("serialisable")))
}

/// A community's life-circle report: residents, scores per tier, and for every rule the share
/// of residents within its radius, the median walk to the nearest one and the clause.
#[utoipa::path(get, path = "/api/life-circle/communities/{code}",
    params(("code" = String, Path, description = "12-digit community code")),
    responses((status = 200, body = Object), (status = 404, body = crate::error::ErrorBody)))]
pub async fn community(
    State(s): State<AppState>,
    ApiPath(code): ApiPath<String>,
) -> Result<Json<Json_>, ApiError> {
    let row = s
        .store
        .get(LayerId::LifeCircleCommunities, &format!("lc-{code}"))
        .await?
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "community {code} has no life-circle evaluation (no homes, or not evaluated yet)"
            ))
        })?;
    let rules = s.snapshots.get(&*s.store, LayerId::LifeCircleRules).await?;
    let (rules, _) = gengxin_app::evaluation::rules_of(&rules.features)?;
    let parse = |k: &str| -> serde_json::Map<String, Json_> {
        row.get(k)
            .as_str()
            .and_then(|t| serde_json::from_str(t).ok())
            .unwrap_or_default()
    };
    let (coverage, nearest) = (parse("coverage"), parse("nearest_m"));
    let items: Vec<Json_> = rules
        .iter()
        .map(|r| {
            let key = format!("{}:{}", r.tier, r.category);
            json!({
                "tier": r.tier,
                "tier_zh": vocab::find(vocab::FACILITY_TIERS, &r.tier).map(|c| c.zh),
                "category": r.category,
                "category_zh": vocab::find(vocab::FACILITY_CATEGORIES, &r.category).map(|c| c.zh),
                "radius_m": r.radius_m,
                "required": r.required,
                "clause": r.clause,
                "share": coverage.get(&key).cloned().unwrap_or(Json_::Null),
                "median_m": nearest.get(&key).cloned().unwrap_or(Json_::Null),
            })
        })
        .collect();
    let p = |k: &str| crate::wire::value_json(row.get(k));
    Ok(Json(json!({
        "code": code,
        "name": p("name"),
        "district_code": p("district_code"),
        "residents": p("residents"),
        "homes": p("homes"),
        "unplaced": p("unplaced"),
        "scores": {
            "5min": p("score_5min"),
            "10min": p("score_10min"),
            "15min": p("score_15min"),
        },
        "missing": row.get("missing").as_str().map(|m| m.split(',').filter(|s| !s.is_empty()).collect::<Vec<_>>()),
        "gaps": row.get("gaps").as_str().map(|g| g.split('；').filter(|s| !s.is_empty()).collect::<Vec<_>>()),
        "rules": items,
        "rules_version": p("rules_version"),
        "evaluated_at": p("evaluated_at"),
    })))
}

/// The areas reachable on foot from a point within each number of minutes: the walked network
/// buffered by `buffer_m` on each side, as GeoJSON polygons (largest first).
#[utoipa::path(get, path = "/api/isochrone",
    params(
        ("lon" = f64, Query), ("lat" = f64, Query),
        ("minutes" = Option<String>, Query, description = "Comma-separated, default 5,10,15; each 1–60"),
        ("speed_m_min" = Option<f64>, Query, description = "Walking speed in metres per minute, default 80 (GB 50180 tiers: 300/500/1000 m ≈ 5/10/15 min at 60–80 m/min), 30–120"),
        ("buffer_m" = Option<f64>, Query, description = "Half-width around the walked streets, default 40, 5–200"),
    ),
    responses((status = 200, body = Object), (status = 400, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ErrorBody)))]
pub async fn isochrone(
    State(s): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Json_>, ApiError> {
    let (mut lon, mut lat) = (None, None);
    let mut minutes: Vec<f64> = vec![5.0, 10.0, 15.0];
    let (mut speed, mut buffer) = (80.0, 40.0);
    let num = |k: &str, v: &str, lo: f64, hi: f64| {
        v.trim()
            .parse::<f64>()
            .ok()
            .filter(|x| x.is_finite() && (lo..=hi).contains(x))
            .ok_or_else(|| {
                ApiError::bad_request(format!("{k} {v:?} must be a number from {lo} to {hi}"))
            })
    };
    for (k, v) in params(raw) {
        match k.as_str() {
            "lon" => lon = Some(num("lon", &v, -180.0, 180.0)?),
            "lat" => lat = Some(num("lat", &v, -90.0, 90.0)?),
            "minutes" => {
                minutes = v
                    .split(',')
                    .map(|m| num("minutes", m, 1.0, 60.0))
                    .collect::<Result<_, _>>()?;
                if minutes.len() > 6 {
                    return Err(ApiError::bad_request("at most 6 values of minutes"));
                }
            }
            "speed_m_min" => speed = num("speed_m_min", &v, 30.0, 120.0)?,
            "buffer_m" => buffer = num("buffer_m", &v, 5.0, 200.0)?,
            other => {
                return Err(ApiError::bad_request(format!(
                    "unknown parameter {other:?}: lon, lat, minutes, speed_m_min, buffer_m"
                )));
            }
        }
    }
    let (Some(lon), Some(lat)) = (lon, lat) else {
        return Err(ApiError::bad_request("lon and lat are required"));
    };
    let w = walk(&s).await?;
    let Some(from) = w.locate(geo::Coord { x: lon, y: lat }) else {
        return Err(ApiError::unprocessable(format!(
            "no road within {} m of {lon}, {lat}",
            gengxin_app::evaluation::MAX_ACCESS_M
        )));
    };
    minutes.sort_by(|a, b| b.total_cmp(a));
    minutes.dedup();
    let features = tokio::task::spawn_blocking(move || {
        minutes
            .iter()
            .map(|&m| {
                let area = gengxin_engine::access::isochrone(&w.net, from, m * speed, buffer);
                let m2 = area.unsigned_area();
                let g = gengxin_app::evaluation::to_lonlat(&w, &area);
                json!({
                    "type": "Feature",
                    "geometry": geojson::Geometry::from(&g),
                    "properties": {"minutes": m, "distance_m": m * speed, "area_m2": m2.round()},
                })
            })
            .collect::<Vec<_>>()
    })
    .await
    .map_err(|e| ApiError::internal(format!("the isochrone failed: {e}")))?;
    let start = Point::from(lonlat_of(&s, from).await?);
    Ok(Json(json!({
        "type": "FeatureCollection",
        "features": features,
        "start": {"lon": start.x(), "lat": start.y(), "access_m": from.access},
        "speed_m_min": speed,
    })))
}

async fn lonlat_of(
    s: &AppState,
    at: gengxin_engine::network::Location,
) -> Result<geo::Coord, ApiError> {
    let w = walk(s).await?;
    Ok(w.gk.unproject(w.net.point_at(at.edge, at.offset)))
}
