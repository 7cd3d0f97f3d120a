//! Conditional queries as OGC API – Features: Part 1 (Core, GeoJSON) and Part 3 (Filtering,
//! Queryables) with CQL2 text and JSON, under `/ogc`.
//!
//! A filter is parsed by [`gengxin_query`] into Gengxin's own plan and evaluated in memory on
//! the layer's [`Snapshot`](crate::snapshots::Snapshot) — it never reaches SQL. Malformed
//! filters and filters over a limit answer `400` with where the error is (`error.at`).
//! Collections are the layers of both databases except those holding personal information and
//! the bookkeeping layers.

use std::sync::Arc;

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use gengxin_model::{Access, Feature, FieldType, Layer, LayerId, Value, catalogue};
use gengxin_query::{Filter, Lang};
use geo::Intersects;
use serde_json::{Value as Json_, json};

use crate::extract::{ApiPath, params};
use crate::guard::Visible;
use crate::tiles::origin;
use crate::who::Who;
use crate::wire::feature_json;
use crate::{ApiError, AppState};

const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 10_000;
/// The most features one export carries.
const MAX_EXPORT: usize = 200_000;

const CONFORMANCE: &[&str] = &[
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions-plus",
];

/// The layers served as collections.
pub fn collection_layers() -> impl Iterator<Item = &'static Layer> {
    catalogue().iter().filter(|l| {
        !matches!(l.access, Access::Personal | Access::System)
            && !matches!(
                l.id,
                LayerId::CustomLayers | LayerId::CustomFeatures | LayerId::CustomRows
            )
    })
}

pub fn collection(name: &str) -> Result<&'static Layer, ApiError> {
    collection_layers()
        .find(|l| l.name == name)
        .ok_or_else(|| ApiError::not_found(format!("no collection {name:?}; see /ogc/collections")))
}

fn geo_json(v: Json_) -> Response {
    let mut r = Json(v).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/geo+json"),
    );
    r
}

/// The landing page of the OGC API.
#[utoipa::path(get, path = "/ogc", responses((status = 200, body = Object)))]
pub async fn landing(headers: HeaderMap) -> Json<Json_> {
    let o = origin(&headers);
    Json(json!({
        "title": "Gengxin (更新) OGC API – Features",
        "description": "城市更新库与社区治理库的要素服务; CQL2 text and JSON filters.",
        "links": [
            {"rel": "self", "type": "application/json", "href": format!("{o}/ogc")},
            {"rel": "service-desc", "type": "application/vnd.oai.openapi+json;version=3.0", "href": format!("{o}/api/openapi.json")},
            {"rel": "conformance", "type": "application/json", "href": format!("{o}/ogc/conformance")},
            {"rel": "data", "type": "application/json", "href": format!("{o}/ogc/collections")},
        ],
    }))
}

/// The conformance classes this API implements.
#[utoipa::path(get, path = "/ogc/conformance", responses((status = 200, body = Object)))]
pub async fn conformance() -> Json<Json_> {
    Json(json!({ "conformsTo": CONFORMANCE }))
}

fn collection_json(l: &Layer, o: &str, count: u64) -> Json_ {
    let base = format!("{o}/ogc/collections/{}", l.name);
    json!({
        "id": l.name,
        "title": l.zh,
        "description": format!("{} / {} ({} database)", l.zh, l.en, l.database.name()),
        "itemType": "feature",
        "crs": ["http://www.opengis.net/def/crs/OGC/1.3/CRS84"],
        "storageCrs": "http://www.opengis.net/def/crs/EPSG/0/4490",
        "geometryType": l.geometry.map(|g| g.ogc_name()),
        "numberOfFeatures": count,
        "links": [
            {"rel": "self", "type": "application/json", "href": base},
            {"rel": "items", "type": "application/geo+json", "href": format!("{base}/items")},
            {"rel": "http://www.opengis.net/def/rel/ogc/1.0/queryables", "type": "application/schema+json", "href": format!("{base}/queryables")},
        ],
    })
}

/// Every collection.
#[utoipa::path(get, path = "/ogc/collections", responses((status = 200, body = Object)))]
pub async fn collections(
    State(s): State<AppState>,
    who: Who,
    headers: HeaderMap,
) -> Result<Json<Json_>, ApiError> {
    let o = origin(&headers);
    let mut out = Vec::new();
    for l in
        collection_layers().filter(|l| gengxin_auth::policy::can_read_layer(&who.caller, l).is_ok())
    {
        out.push(collection_json(
            l,
            &o,
            s.counts.count(&*s.store, l.id).await?,
        ));
    }
    Ok(Json(json!({
        "links": [{"rel": "self", "type": "application/json", "href": format!("{o}/ogc/collections")}],
        "collections": out,
    })))
}

/// One collection.
#[utoipa::path(get, path = "/ogc/collections/{collection}",
    params(("collection" = String, Path, description = "A layer name, e.g. parcels")),
    responses((status = 200, body = Object), (status = 404, body = crate::error::ErrorBody)))]
pub async fn one_collection(
    State(s): State<AppState>,
    who: Who,
    headers: HeaderMap,
    ApiPath(name): ApiPath<String>,
) -> Result<Json<Json_>, ApiError> {
    let l = collection(&name)?;
    Visible::of(&s, &who, l).await?;
    let count = s.counts.count(&*s.store, l.id).await?;
    Ok(Json(collection_json(l, &origin(&headers), count)))
}

/// The properties a filter may use, as a JSON Schema (OGC API – Features Part 3).
#[utoipa::path(get, path = "/ogc/collections/{collection}/queryables",
    params(("collection" = String, Path)),
    responses((status = 200, description = "JSON Schema", content_type = "application/schema+json", body = Object),
        (status = 404, body = crate::error::ErrorBody)))]
pub async fn queryables(
    State(s): State<AppState>,
    who: Who,
    headers: HeaderMap,
    ApiPath(name): ApiPath<String>,
) -> Result<Response, ApiError> {
    let l = collection(&name)?;
    Visible::of(&s, &who, l).await?;
    let mut props = serde_json::Map::new();
    props.insert("id".into(), json!({"type": "string", "title": "标识"}));
    if let Some(g) = l.geometry {
        let schema = match g {
            gengxin_model::GeometryType::Point => "https://geojson.org/schema/Point.json",
            gengxin_model::GeometryType::MultiLineString => {
                "https://geojson.org/schema/MultiLineString.json"
            }
            gengxin_model::GeometryType::MultiPolygon => {
                "https://geojson.org/schema/MultiPolygon.json"
            }
            gengxin_model::GeometryType::Any => "https://geojson.org/schema/Geometry.json",
        };
        props.insert(
            "geom".into(),
            json!({"title": "几何", "format": "geometry-any", "$ref": schema}),
        );
    }
    for f in l.fields {
        let mut p = match f.ty {
            FieldType::Text => json!({"type": "string"}),
            FieldType::Int => json!({"type": "integer"}),
            FieldType::Real => json!({"type": "number"}),
            FieldType::Bool => json!({"type": "boolean"}),
            FieldType::Date => json!({"type": "string", "format": "date"}),
            FieldType::DateTime => json!({"type": "string", "format": "date-time"}),
        };
        p["title"] = json!(f.zh);
        if let Some(codes) = f.codes {
            p["enum"] = json!(codes.iter().map(|c| c.code).collect::<Vec<_>>());
            p["x-enum-titles"] = json!(codes.iter().map(|c| c.zh).collect::<Vec<_>>());
        }
        props.insert(f.name.into(), p);
    }
    props.insert(
        "provenance".into(),
        json!({"type": "string", "title": "来源"}),
    );
    props.insert(
        "version".into(),
        json!({"type": "integer", "title": "版本"}),
    );
    props.insert(
        "created_at".into(),
        json!({"type": "string", "format": "date-time", "title": "创建时间"}),
    );
    props.insert(
        "updated_at".into(),
        json!({"type": "string", "format": "date-time", "title": "更新时间"}),
    );
    let body = json!({
        "$schema": "https://json-schema.org/draft/2019-09/schema",
        "$id": format!("{}/ogc/collections/{}/queryables", origin(&headers), l.name),
        "type": "object",
        "title": l.zh,
        "properties": props,
        "additionalProperties": false,
    });
    let mut r = Json(body).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/schema+json"),
    );
    Ok(r)
}

/// What an items request asks for.
struct ItemsQuery {
    bbox: Option<geo::Rect<f64>>,
    filter: Option<Filter>,
    equals: Vec<(&'static str, Value)>,
    limit: usize,
    offset: usize,
    properties: Option<Vec<String>>,
    format: Option<gengxin_io::Format>,
    /// The parameters to repeat in paging links.
    passthrough: Vec<(String, String)>,
}

fn parse_items_query(l: &'static Layer, raw: Option<String>) -> Result<ItemsQuery, ApiError> {
    let mut q = ItemsQuery {
        bbox: None,
        filter: None,
        equals: Vec::new(),
        limit: DEFAULT_LIMIT,
        offset: 0,
        properties: None,
        format: None,
        passthrough: Vec::new(),
    };
    let mut filter_text = None;
    let mut lang = Lang::Text;
    for (k, v) in params(raw) {
        match k.as_str() {
            "limit" => {
                q.limit = v
                    .parse()
                    .ok()
                    .filter(|n| (1..=MAX_LIMIT).contains(n))
                    .ok_or_else(|| {
                        ApiError::bad_request(format!(
                            "limit {v:?} must be an integer from 1 to {MAX_LIMIT}"
                        ))
                    })?;
                continue;
            }
            "offset" => {
                q.offset = v.parse().map_err(|_| {
                    ApiError::bad_request(format!("offset {v:?} must be a non-negative integer"))
                })?;
                continue;
            }
            "f" => {
                q.format = match v.as_str() {
                    "json" => None,
                    other => Some(crate::imports::export_format(other)?),
                };
                continue;
            }
            "bbox" => {
                if l.geometry.is_none() {
                    return Err(ApiError::bad_request(format!(
                        "collection {} has no geometry; bbox does not apply",
                        l.name
                    )));
                }
                let b = crate::wire::parse_bbox(&v)?;
                q.bbox = Some(geo::Rect::new(
                    geo::coord! { x: b.min_x, y: b.min_y },
                    geo::coord! { x: b.max_x, y: b.max_y },
                ));
            }
            "bbox-crs" | "filter-crs" | "crs" => {
                gengxin_query::check_filter_crs(&v)
                    .map_err(|e| ApiError::bad_request(format!("{k}: {e}")))?;
            }
            "properties" => {
                let names: Vec<String> = v
                    .split(',')
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty())
                    .collect();
                for n in &names {
                    if l.field(n).is_none()
                        && !matches!(
                            n.as_str(),
                            "provenance" | "created_at" | "updated_at" | "version"
                        )
                    {
                        return Err(ApiError::bad_request(format!(
                            "properties: {} has no property {n:?}; see /ogc/collections/{}/queryables",
                            l.name, l.name
                        )));
                    }
                }
                q.properties = Some(names);
            }
            "filter" => filter_text = Some(v.clone()),
            "filter-lang" => {
                lang = match v.as_str() {
                    "cql2-text" => Lang::Text,
                    "cql2-json" => Lang::Json,
                    other => {
                        return Err(ApiError::bad_request(format!(
                            "filter-lang {other:?}: cql2-text or cql2-json"
                        )));
                    }
                }
            }
            "datetime" => {
                return Err(ApiError::bad_request(
                    "datetime is not supported: the collections have no temporal extent; filter on a date property with CQL2, e.g. start_date >= DATE('2024-01-01')",
                ));
            }
            name => match l.field(name) {
                Some(f) => q
                    .equals
                    .push((f.name, crate::wire::parse_value(l, name, &v)?)),
                None => {
                    return Err(ApiError::bad_request(format!(
                        "unknown parameter {name:?}: use limit, offset, bbox, bbox-crs, properties, filter, filter-lang, filter-crs, f, or a property of {} (see its queryables)",
                        l.name
                    )));
                }
            },
        }
        q.passthrough.push((k, v));
    }
    if let Some(text) = filter_text {
        q.filter = Some(gengxin_query::parse(&text, lang, l)?);
    }
    Ok(q)
}

/// The features matching a query, in id order: how many there are, and clones of those in
/// `skip..skip + take`.
pub(crate) fn select(
    snapshot: &crate::snapshots::Snapshot,
    bbox: Option<geo::Rect<f64>>,
    filter: Option<&Filter>,
    equals: &[(&'static str, Value)],
    skip: usize,
    take: usize,
) -> (usize, Vec<Feature>) {
    let envelope = match (bbox, filter.and_then(Filter::envelope)) {
        (Some(a), Some(b)) => match intersection(a, b) {
            Some(r) => Some(r),
            None => return (0, Vec::new()),
        },
        (a, b) => a.or(b),
    };
    let keep = |f: &&Feature| {
        bbox.is_none_or(|b| f.geometry.as_ref().is_some_and(|g| g.intersects(&b)))
            && equals.iter().all(|(k, v)| f.get(k) == v)
            && filter.is_none_or(|flt| flt.matches(f))
    };
    let mut matched = 0;
    let mut page = Vec::new();
    let mut visit = |f: &Feature| {
        if keep(&f) {
            if matched >= skip && page.len() < take {
                page.push(f.clone());
            }
            matched += 1;
        }
    };
    match envelope {
        Some(r) => snapshot.in_envelope(r).into_iter().for_each(&mut visit),
        None => snapshot.features.iter().for_each(&mut visit),
    }
    (matched, page)
}

fn intersection(a: geo::Rect<f64>, b: geo::Rect<f64>) -> Option<geo::Rect<f64>> {
    let (min_x, min_y) = (a.min().x.max(b.min().x), a.min().y.max(b.min().y));
    let (max_x, max_y) = (a.max().x.min(b.max().x), a.max().y.min(b.max().y));
    (min_x <= max_x && min_y <= max_y).then(|| {
        geo::Rect::new(
            geo::coord! {x: min_x, y: min_y},
            geo::coord! {x: max_x, y: max_y},
        )
    })
}

/// A feature as GeoJSON with only the asked properties.
pub(crate) fn feature_out(f: &Feature, properties: Option<&[String]>) -> Json_ {
    let mut j = feature_json(f);
    if let (Some(keep), Some(props)) = (properties, j["properties"].as_object_mut()) {
        props.retain(|k, _| keep.iter().any(|p| p == k));
    }
    j
}

/// The features of a collection: `bbox`, `limit`/`offset` paging, `properties`, equality on
/// any property, and a CQL2 `filter` (`filter-lang` `cql2-text`, the default, or `cql2-json`).
/// `f` = `csv`, `xlsx`, `shp`, `gpkg` or `geojson` downloads every matching feature (at most
/// 200,000) in that format instead of a page.
#[utoipa::path(get, path = "/ogc/collections/{collection}/items",
    params(
        ("collection" = String, Path, description = "A layer name, e.g. parcels"),
        ("filter" = Option<String>, Query, description = "CQL2 filter, e.g. land_use = '1001' AND area_m2 > 20000"),
        ("filter-lang" = Option<String>, Query, description = "cql2-text (default) or cql2-json"),
        ("bbox" = Option<String>, Query, description = "min_lon,min_lat,max_lon,max_lat"),
        ("limit" = Option<usize>, Query, description = "Page size, default 100, at most 10000"),
        ("offset" = Option<usize>, Query, description = "Features to skip"),
        ("properties" = Option<String>, Query, description = "Comma-separated properties to return"),
        ("f" = Option<String>, Query, description = "json (default), geojson, csv, xlsx, shp or gpkg"),
    ),
    responses(
        (status = 200, description = "GeoJSON FeatureCollection (or a file for f)", content_type = "application/geo+json", body = Object),
        (status = 400, description = "Malformed parameter or filter; `error.at` points into the filter", body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody),
    ))]
pub async fn items(
    State(s): State<AppState>,
    who: Who,
    headers: HeaderMap,
    ApiPath(name): ApiPath<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let l = collection(&name)?;
    let visible = Visible::of(&s, &who, l).await?;
    let q = parse_items_query(l, raw)?;
    if q.format.is_some() {
        crate::imports::export_allowed(&s, &who, l.name).await?;
    }
    let mut snapshot = s.snapshots.get(&*s.store, l.id).await?;
    if !visible.all() {
        // A scoped caller queries only the rows it may see.
        let rows = snapshot
            .features
            .iter()
            .filter(|f| visible.sees(f))
            .cloned()
            .collect();
        snapshot = Arc::new(crate::snapshots::Snapshot::new(rows));
    }
    let (skip, take) = match q.format {
        Some(_) => (0, MAX_EXPORT),
        None => (q.offset, q.limit),
    };
    let q = Arc::new(q);
    let (matched, page) = {
        let q = q.clone();
        tokio::task::spawn_blocking(move || {
            select(&snapshot, q.bbox, q.filter.as_ref(), &q.equals, skip, take)
        })
        .await
        .map_err(ApiError::internal)?
    };
    if let Some(format) = q.format {
        if matched > MAX_EXPORT {
            return Err(ApiError::bad_request(format!(
                "{matched} features match; an export carries at most {MAX_EXPORT}: narrow the filter"
            )));
        }
        let table = gengxin_io::export::Table {
            name: l.name.to_owned(),
            geometry: l.geometry,
            columns: l.fields.iter().map(|f| (f.name.to_owned(), f.ty)).collect(),
            rows: page,
        };
        return crate::imports::file_response(table, format).await;
    }
    let o = origin(&headers);
    let link = |offset: usize| {
        let mut qs = form_urlencoded::Serializer::new(String::new());
        qs.extend_pairs(q.passthrough.iter());
        qs.append_pair("limit", &q.limit.to_string());
        qs.append_pair("offset", &offset.to_string());
        format!("{o}/ogc/collections/{}/items?{}", l.name, qs.finish())
    };
    let mut links = vec![
        json!({"rel": "self", "type": "application/geo+json", "href": link(q.offset)}),
        json!({"rel": "collection", "type": "application/json", "href": format!("{o}/ogc/collections/{}", l.name)}),
    ];
    if q.offset + page.len() < matched {
        links.push(json!({"rel": "next", "type": "application/geo+json", "href": link(q.offset + q.limit)}));
    }
    if q.offset > 0 {
        links.push(json!({"rel": "prev", "type": "application/geo+json", "href": link(q.offset.saturating_sub(q.limit))}));
    }
    Ok(geo_json(json!({
        "type": "FeatureCollection",
        "numberMatched": matched,
        "numberReturned": page.len(),
        "timeStamp": gengxin_model::timestamp(&chrono::Utc::now()),
        "features": page.iter().map(|f| feature_out(f, q.properties.as_deref())).collect::<Vec<_>>(),
        "links": links,
    })))
}

/// One feature of a collection.
#[utoipa::path(get, path = "/ogc/collections/{collection}/items/{id}",
    params(("collection" = String, Path), ("id" = String, Path)),
    responses((status = 200, description = "GeoJSON Feature", content_type = "application/geo+json", body = Object),
        (status = 404, body = crate::error::ErrorBody)))]
pub async fn item(
    State(s): State<AppState>,
    who: Who,
    headers: HeaderMap,
    ApiPath((name, id)): ApiPath<(String, String)>,
) -> Result<Response, ApiError> {
    let l = collection(&name)?;
    let visible = Visible::of(&s, &who, l).await?;
    let f = s
        .store
        .get(l.id, &id)
        .await?
        .filter(|f| visible.sees(f))
        .ok_or_else(|| ApiError::not_found(format!("{name}/{id} does not exist")))?;
    let o = origin(&headers);
    let mut j = feature_json(&f);
    j["links"] = json!([
        {"rel": "self", "type": "application/geo+json", "href": format!("{o}/ogc/collections/{name}/items/{}", form_urlencoded::byte_serialize(id.as_bytes()).collect::<String>())},
        {"rel": "collection", "type": "application/json", "href": format!("{o}/ogc/collections/{name}")},
    ]);
    Ok(geo_json(j))
}
