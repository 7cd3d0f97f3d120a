//! Conditional queries as OGC API – Features: Part 1 (Core, GeoJSON) and Part 3 (Filtering,
//! Queryables) with CQL2 text and JSON, under `/ogc`.
//!
//! A filter is parsed by [`gengxin_query`] into Gengxin's own plan and evaluated in memory on
//! the layer's [`Snapshot`](gengxin_app::cache::Snapshot) — it never reaches SQL. Malformed
//! filters and filters over a limit answer `400` with where the error is (`error.at`).
//! Collections are the layers of both databases except those holding personal information and
//! the bookkeeping layers.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use gengxin_model::{Access, Feature, FieldType, Layer, LayerId, Value, catalogue};
use gengxin_query::{Filter, Lang};
use geo::Intersects;
use serde::Serialize;
use utoipa::ToSchema;

use crate::extract::{ApiPath, params};
use crate::tiles::origin;
use crate::who::Who;
use crate::wire::{FeatureCollectionType, GeoFeature, Link};
use crate::{ApiError, AppState};
use gengxin_app::visibility::Visible;

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

/// A GeoJSON answer: JSON with the media type `application/geo+json`.
fn geo_json(v: impl Serialize) -> Response {
    let mut r = Json(v).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/geo+json"),
    );
    r
}

/// The landing page of the OGC API.
#[derive(Serialize, ToSchema)]
pub struct Landing {
    pub title: &'static str,
    pub description: &'static str,
    /// `self`, `service-desc` (this OpenAPI document), `conformance` and `data` (the
    /// collections).
    pub links: Vec<Link>,
}

/// The landing page of the OGC API.
#[utoipa::path(get, path = "/ogc", responses((status = 200, body = Landing)))]
pub async fn landing(headers: HeaderMap) -> Json<Landing> {
    let o = origin(&headers);
    Json(Landing {
        title: "Gengxin (更新) OGC API – Features",
        description: "城市更新库与社区治理库的要素服务; CQL2 text and JSON filters.",
        links: vec![
            Link::new("self", "application/json", format!("{o}/ogc")),
            Link::new(
                "service-desc",
                "application/vnd.oai.openapi+json;version=3.0",
                format!("{o}/api/openapi.json"),
            ),
            Link::new(
                "conformance",
                "application/json",
                format!("{o}/ogc/conformance"),
            ),
            Link::new("data", "application/json", format!("{o}/ogc/collections")),
        ],
    })
}

/// The conformance classes this API implements.
#[derive(Serialize, ToSchema)]
pub struct Conformance {
    /// The URIs of the conformance classes.
    #[serde(rename = "conformsTo")]
    pub conforms_to: &'static [&'static str],
}

/// The conformance classes this API implements.
#[utoipa::path(get, path = "/ogc/conformance", responses((status = 200, body = Conformance)))]
pub async fn conformance() -> Json<Conformance> {
    Json(Conformance {
        conforms_to: CONFORMANCE,
    })
}

/// A collection: one layer.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Collection {
    /// The layer's name.
    pub id: &'static str,
    /// The layer's Chinese name.
    pub title: &'static str,
    pub description: String,
    /// Always `feature`.
    pub item_type: &'static str,
    /// The CRS of the answers: CRS84 (lon/lat).
    pub crs: [&'static str; 1],
    /// The CRS the data is kept in: EPSG:4490 (CGCS2000).
    pub storage_crs: &'static str,
    /// POINT, MULTILINESTRING or MULTIPOLYGON; null for attribute layers.
    #[schema(required)]
    pub geometry_type: Option<&'static str>,
    pub number_of_features: u64,
    /// `self`, `items` and the queryables.
    pub links: Vec<Link>,
}

impl Collection {
    fn new(l: &'static Layer, o: &str, count: u64) -> Self {
        let base = format!("{o}/ogc/collections/{}", l.name);
        Collection {
            id: l.name,
            title: l.zh,
            description: format!("{} / {} ({} database)", l.zh, l.en, l.database.name()),
            item_type: "feature",
            crs: ["http://www.opengis.net/def/crs/OGC/1.3/CRS84"],
            storage_crs: "http://www.opengis.net/def/crs/EPSG/0/4490",
            geometry_type: l.geometry.map(|g| g.ogc_name()),
            number_of_features: count,
            links: vec![
                Link::new("self", "application/json", base.clone()),
                Link::new("items", "application/geo+json", format!("{base}/items")),
                Link::new(
                    "http://www.opengis.net/def/rel/ogc/1.0/queryables",
                    "application/schema+json",
                    format!("{base}/queryables"),
                ),
            ],
        }
    }
}

/// The collections the caller may read.
#[derive(Serialize, ToSchema)]
pub struct Collections {
    pub links: Vec<Link>,
    pub collections: Vec<Collection>,
}

/// Every collection.
#[utoipa::path(get, path = "/ogc/collections", responses((status = 200, body = Collections)))]
pub async fn collections(
    State(s): State<AppState>,
    who: Who,
    headers: HeaderMap,
) -> Result<Json<Collections>, ApiError> {
    let o = origin(&headers);
    let mut out = Vec::new();
    for l in
        collection_layers().filter(|l| gengxin_auth::policy::can_read_layer(&who.caller, l).is_ok())
    {
        let visible = Visible::of(&s.app, &who.caller, l).await?;
        out.push(Collection::new(
            l,
            &o,
            crate::features::visible_count(&s, &visible).await?,
        ));
    }
    Ok(Json(Collections {
        links: vec![Link::new(
            "self",
            "application/json",
            format!("{o}/ogc/collections"),
        )],
        collections: out,
    }))
}

/// One collection.
#[utoipa::path(get, path = "/ogc/collections/{collection}",
    params(("collection" = String, Path, description = "A layer name, e.g. parcels")),
    responses((status = 200, body = Collection), (status = 404, body = crate::error::ErrorBody)))]
pub async fn one_collection(
    State(s): State<AppState>,
    who: Who,
    headers: HeaderMap,
    ApiPath(name): ApiPath<String>,
) -> Result<Json<Collection>, ApiError> {
    let l = collection(&name)?;
    let visible = Visible::of(&s.app, &who.caller, l).await?;
    let count = crate::features::visible_count(&s, &visible).await?;
    Ok(Json(Collection::new(l, &origin(&headers), count)))
}

/// One property a filter may use, as a JSON Schema.
#[derive(Serialize, ToSchema)]
pub struct Queryable {
    /// `string`, `integer`, `number` or `boolean`; absent for the geometry.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub kind: Option<&'static str>,
    /// `date` or `date-time` for dates and timestamps, `geometry-any` for the geometry.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub format: Option<&'static str>,
    /// The property's Chinese name.
    pub title: &'static str,
    /// The GeoJSON schema of the geometry.
    #[serde(rename = "$ref", skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub reference: Option<&'static str>,
    /// The codes of a coded field.
    #[serde(rename = "enum", skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub codes: Option<Vec<&'static str>>,
    /// The Chinese names of those codes, in the same order.
    #[serde(rename = "x-enum-titles", skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub code_titles: Option<Vec<&'static str>>,
}

impl Queryable {
    fn of(kind: &'static str, format: Option<&'static str>, title: &'static str) -> Self {
        Queryable {
            kind: Some(kind),
            format,
            title,
            reference: None,
            codes: None,
            code_titles: None,
        }
    }
}

/// The properties of a collection that a filter may use: a JSON Schema (OGC API – Features
/// Part 3).
#[derive(Serialize, ToSchema)]
pub struct Queryables {
    /// The JSON Schema dialect (2019-09).
    #[serde(rename = "$schema")]
    pub schema: &'static str,
    /// This document's URL.
    #[serde(rename = "$id")]
    pub id: String,
    /// Always `object`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The collection's Chinese name.
    pub title: &'static str,
    /// The queryable properties by name: `id`, `geom` (for layers with geometry), the layer's
    /// fields, `provenance`, `version`, `created_at` and `updated_at`.
    pub properties: BTreeMap<&'static str, Queryable>,
    /// Always false: only these properties exist.
    #[serde(rename = "additionalProperties")]
    pub additional_properties: bool,
}

/// The properties a filter may use, as a JSON Schema (OGC API – Features Part 3).
#[utoipa::path(get, path = "/ogc/collections/{collection}/queryables",
    params(("collection" = String, Path)),
    responses((status = 200, description = "JSON Schema", content_type = "application/schema+json", body = Queryables),
        (status = 404, body = crate::error::ErrorBody)))]
pub async fn queryables(
    State(s): State<AppState>,
    who: Who,
    headers: HeaderMap,
    ApiPath(name): ApiPath<String>,
) -> Result<Response, ApiError> {
    let l = collection(&name)?;
    Visible::of(&s.app, &who.caller, l).await?;
    let mut props = BTreeMap::new();
    props.insert("id", Queryable::of("string", None, "标识"));
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
            "geom",
            Queryable {
                kind: None,
                format: Some("geometry-any"),
                title: "几何",
                reference: Some(schema),
                codes: None,
                code_titles: None,
            },
        );
    }
    for f in l.fields {
        let (kind, format) = match f.ty {
            FieldType::Text => ("string", None),
            FieldType::Int => ("integer", None),
            FieldType::Real => ("number", None),
            FieldType::Bool => ("boolean", None),
            FieldType::Date => ("string", Some("date")),
            FieldType::DateTime => ("string", Some("date-time")),
        };
        let mut p = Queryable::of(kind, format, f.zh);
        if let Some(codes) = f.codes {
            p.codes = Some(codes.iter().map(|c| c.code).collect());
            p.code_titles = Some(codes.iter().map(|c| c.zh).collect());
        }
        props.insert(f.name, p);
    }
    props.insert("provenance", Queryable::of("string", None, "来源"));
    props.insert("version", Queryable::of("integer", None, "版本"));
    props.insert(
        "created_at",
        Queryable::of("string", Some("date-time"), "创建时间"),
    );
    props.insert(
        "updated_at",
        Queryable::of("string", Some("date-time"), "更新时间"),
    );
    let body = Queryables {
        schema: "https://json-schema.org/draft/2019-09/schema",
        id: format!("{}/ogc/collections/{}/queryables", origin(&headers), l.name),
        kind: "object",
        title: l.zh,
        properties: props,
        additional_properties: false,
    };
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
    /// `codes` and `lang` of an export.
    codes: Option<String>,
    lang: Option<String>,
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
        codes: None,
        lang: None,
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
            "codes" => q.codes = Some(v.clone()),
            "lang" => q.lang = Some(v.clone()),
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
                        "unknown parameter {name:?}: use limit, offset, bbox, bbox-crs, properties, filter, filter-lang, filter-crs, f, codes, lang, or a property of {} (see its queryables)",
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
/// `skip..skip + take`. A filter whose cost (per feature, times the features visited) is over
/// `budget` is refused before it runs; the work stops (and answers nothing) once `stop` is set.
#[allow(clippy::too_many_arguments)]
pub(crate) fn select(
    snapshot: &gengxin_app::cache::Snapshot,
    bbox: Option<geo::Rect<f64>>,
    filter: Option<&Filter>,
    equals: &[(&'static str, Value)],
    skip: usize,
    take: usize,
    budget: u64,
    stop: &std::sync::atomic::AtomicBool,
) -> Result<(usize, Vec<Feature>), ApiError> {
    let envelope = match (bbox, filter.and_then(Filter::envelope)) {
        (Some(a), Some(b)) => match intersection(a, b) {
            Some(r) => Some(r),
            None => return Ok((0, Vec::new())),
        },
        (a, b) => a.or(b),
    };
    let candidates: Vec<&Feature> = match envelope {
        Some(r) => snapshot.in_envelope(r),
        None => snapshot.features.iter().collect(),
    };
    if let Some(flt) = filter {
        let cost = flt.cost().saturating_mul(candidates.len() as u64);
        if cost > budget {
            return Err(ApiError::new(
                crate::Code::FilterTooExpensive,
                format!(
                    "the filter would cost about {cost} comparisons ({} per feature over {} features of {}); \
                     the budget is {budget} (GENGXIN_CQL2_BUDGET): add a bbox or an equality term, or use fewer OR terms",
                    flt.cost(),
                    candidates.len(),
                    flt.layer().name
                ),
            ));
        }
    }
    let keep = |f: &Feature| {
        bbox.is_none_or(|b| f.geometry.as_ref().is_some_and(|g| g.intersects(&b)))
            && equals.iter().all(|(k, v)| f.get(k) == v)
            && filter.is_none_or(|flt| flt.matches(f))
    };
    let mut matched = 0;
    let mut page = Vec::new();
    for (i, f) in candidates.into_iter().enumerate() {
        if i % 1024 == 0 && crate::limits::cancelled(stop) {
            return Err(ApiError::new(
                crate::Code::TooManyRequests,
                "the client went away",
            ));
        }
        if keep(f) {
            if matched >= skip && page.len() < take {
                page.push(f.clone());
            }
            matched += 1;
        }
    }
    Ok((matched, page))
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
pub(crate) fn feature_out(f: &Feature, properties: Option<&[String]>) -> GeoFeature {
    let mut j = GeoFeature::of(f);
    if let Some(keep) = properties {
        j.properties.retain(|k, _| keep.iter().any(|p| p == k));
    }
    j
}

/// A page of a collection's features as a GeoJSON FeatureCollection (OGC API – Features).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ItemsPage {
    #[serde(rename = "type")]
    pub kind: FeatureCollectionType,
    /// How many features match the query.
    pub number_matched: usize,
    /// How many features this page holds.
    pub number_returned: usize,
    /// When the answer was made (RFC 3339).
    pub time_stamp: String,
    pub features: Vec<GeoFeature>,
    /// `self` and `collection`; `next` and `prev` where there are more.
    pub links: Vec<Link>,
}

/// A feature of a collection with its links.
#[derive(Serialize, ToSchema)]
pub struct Item {
    #[serde(flatten)]
    pub feature: GeoFeature,
    /// `self` and `collection`.
    pub links: Vec<Link>,
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
        ("codes" = Option<bool>, Query, description = "f=csv or xlsx: true for field names and raw codes (machines); default false: field titles and code names"),
        ("lang" = Option<String>, Query, description = "f=csv or xlsx headings and code names: zh (default) or en; without it, the Accept-Language header"),
    ),
    responses(
        (status = 200, description = "GeoJSON FeatureCollection (or a file for f)", content_type = "application/geo+json", body = ItemsPage),
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
    let visible = Visible::of(&s.app, &who.caller, l).await?;
    let q = parse_items_query(l, raw)?;
    let audit = match q.format {
        Some(_) => crate::imports::export_allowed(&s, &who, l.name).await?,
        None => None,
    };
    // A scoped caller queries only the rows it may see, in the shape it sees them.
    let snapshot = visible.snapshot(&s.app).await?;
    let (skip, take) = match q.format {
        Some(_) => (0, MAX_EXPORT),
        None => (q.offset, q.limit),
    };
    let q = Arc::new(q);
    let (matched, page) = {
        let q = q.clone();
        let (cancel, budget) = (crate::limits::Cancel::default(), s.limits.cql2_budget);
        let stop = cancel.flag();
        let found = tokio::task::spawn_blocking(move || {
            select(
                &snapshot,
                q.bbox,
                q.filter.as_ref(),
                &q.equals,
                skip,
                take,
                budget,
                &stop,
            )
        })
        .await
        .map_err(ApiError::internal)?;
        drop(cancel);
        found?
    };
    if let Some(format) = q.format {
        if matched > MAX_EXPORT {
            return Err(ApiError::bad_request(format!(
                "{matched} features match; an export carries at most {MAX_EXPORT}: narrow the filter"
            )));
        }
        let labels = crate::wire::export_labels(q.codes.as_deref(), q.lang.as_deref(), &headers)?;
        crate::imports::audit_export(&s, audit, &page).await?;
        let table = gengxin_io::export::Table::of_layer(l, page);
        return crate::imports::file_response(table, format, labels).await;
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
        Link::new("self", "application/geo+json", link(q.offset)),
        Link::new(
            "collection",
            "application/json",
            format!("{o}/ogc/collections/{}", l.name),
        ),
    ];
    if q.offset + page.len() < matched {
        links.push(Link::new(
            "next",
            "application/geo+json",
            link(q.offset + q.limit),
        ));
    }
    if q.offset > 0 {
        links.push(Link::new(
            "prev",
            "application/geo+json",
            link(q.offset.saturating_sub(q.limit)),
        ));
    }
    Ok(geo_json(ItemsPage {
        kind: FeatureCollectionType::FeatureCollection,
        number_matched: matched,
        number_returned: page.len(),
        time_stamp: gengxin_model::timestamp(&chrono::Utc::now()),
        features: page
            .iter()
            .map(|f| feature_out(f, q.properties.as_deref()))
            .collect(),
        links,
    }))
}

/// One feature of a collection.
#[utoipa::path(get, path = "/ogc/collections/{collection}/items/{id}",
    params(("collection" = String, Path), ("id" = String, Path)),
    responses((status = 200, description = "GeoJSON Feature", content_type = "application/geo+json", body = Item),
        (status = 404, body = crate::error::ErrorBody)))]
pub async fn item(
    State(s): State<AppState>,
    who: Who,
    headers: HeaderMap,
    ApiPath((name, id)): ApiPath<(String, String)>,
) -> Result<Response, ApiError> {
    let l = collection(&name)?;
    let visible = Visible::of(&s.app, &who.caller, l).await?;
    let f = s
        .store
        .get(l.id, &id)
        .await?
        .filter(|f| visible.sees(f))
        .map(|f| visible.shape(f))
        .ok_or_else(|| ApiError::not_found(format!("{name}/{id} does not exist")))?;
    let o = origin(&headers);
    let escaped: String = form_urlencoded::byte_serialize(id.as_bytes()).collect();
    Ok(geo_json(Item {
        feature: GeoFeature::of(&f),
        links: vec![
            Link::new(
                "self",
                "application/geo+json",
                format!("{o}/ogc/collections/{name}/items/{escaped}"),
            ),
            Link::new(
                "collection",
                "application/json",
                format!("{o}/ogc/collections/{name}"),
            ),
        ],
    }))
}
