//! Gengxin's HTTP API: JSON over HTTP, GeoJSON for features, an OpenAPI document, and a plain
//! landing page.
//!
//! This is the only crate that knows the wire format: domain types from `gengxin-model` become
//! DTOs and GeoJSON here, and store errors become HTTP statuses with stable public error codes
//! ([`error::ApiError`]). It holds no SQL (that is `gengxin-store`) and no analysis (that is
//! `gengxin-engine`); handlers parse, call the store, and shape the answer.

mod attachments;
mod audit;
mod auth;
mod changes;
mod edit;
mod error;
mod extract;
mod features;
mod fonts;
mod headers;
mod history;
mod imports;
mod jobs;
mod lifecircle;
pub mod limits;
mod ogc;
mod reporting;
mod retrieval;
mod saved;
mod search;
mod tiles;
mod units;
mod who;
mod wire;

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use gengxin_store::Store;
use serde::Serialize;
use utoipa::{OpenApi, ToSchema};

pub use error::{ApiError, Code};
pub use imports::ImportLimits;

/// Shared state of every handler.
#[derive(Clone)]
pub struct AppState {
    /// The use cases (audit chain, history, accounts, imports, evaluations).
    pub app: gengxin_app::App,
    /// The application's store.
    pub store: Arc<dyn Store>,
    /// Layer counts, forgotten when a write to the layer is announced.
    pub counts: Arc<gengxin_app::cache::Counts>,
    /// Vector tiles, forgotten when a write to their layer is announced.
    pub tiles: Arc<gengxin_app::cache::LayerCache<gengxin_engine::tile::TileId, axum::body::Bytes>>,
    /// Map label glyphs.
    pub glyphs: Arc<fonts::Glyphs>,
    /// The search index, built on first use.
    pub search: Arc<search::Search>,
    /// Summaries and project states made from the snapshots.
    pub retrieval: Arc<retrieval::Caches>,
    /// Login throttling and cookie settings.
    pub auth: Arc<auth::Auth>,
    /// Concurrency per class of work and the CQL2 budget.
    pub limits: Arc<limits::Limits>,
}

/// Memory kept for cached tiles: `GENGXIN_TILE_CACHE_MB` (0 turns the cache off), else 256 MiB.
fn tile_cache_bytes() -> usize {
    std::env::var("GENGXIN_TILE_CACHE_MB")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(256)
        << 20
}

/// The whole HTTP application over one store. Unknown routes answer `404 not_found` and known
/// routes asked with another method `405 method_not_allowed`, both in the JSON error shape.
pub fn app(store: Arc<dyn Store>) -> Router {
    router_for(gengxin_app::App::new(store))
}

/// [`app`] over an application shared with other work of the process (`gengxin serve` runs
/// the job runner, `gengxin_app::jobs::Runner`, beside it).
pub fn router_for(app: gengxin_app::App) -> Router {
    router(state(app))
}

/// [`router_for`] with these limits (else from the environment: see [`limits`]).
pub fn router_with(app: gengxin_app::App, limits: Arc<limits::Limits>) -> Router {
    let mut s = state(app);
    s.limits = limits;
    router(s)
}

fn state(app: gengxin_app::App) -> AppState {
    let store = app.store.clone();
    AppState {
        counts: Arc::new(gengxin_app::cache::Counts::new(&*store, usize::MAX)),
        tiles: Arc::new(gengxin_app::cache::LayerCache::new(
            &*store,
            tile_cache_bytes(),
        )),
        glyphs: Arc::default(),
        search: Arc::default(),
        retrieval: Arc::default(),
        auth: Arc::default(),
        limits: Arc::new(limits::Limits::from_env()),
        app,
        store,
    }
}

fn router(state: AppState) -> Router {
    let hsts = std::env::var("GENGXIN_SECURE_COOKIES").is_ok_and(|v| v == "1");
    Router::new()
        .route("/", get(page))
        .route("/assets/{*path}", get(asset))
        .route("/api/health", get(health))
        .route("/api/auth/login", post(auth::login))
        .route("/api/auth/logout", post(auth::logout))
        .route("/api/auth/me", get(auth::me))
        .route("/api/auth/password", post(auth::change_password))
        .route(
            "/api/auth/tokens",
            get(auth::tokens).post(auth::create_token),
        )
        .route(
            "/api/auth/tokens/{id}",
            axum::routing::delete(auth::revoke_token),
        )
        .route("/api/admin/users", get(auth::users).post(auth::create_user))
        .route("/api/admin/users/{username}/totp", post(auth::reset_totp))
        .route(
            "/api/admin/users/{username}",
            axum::routing::put(auth::change_user),
        )
        .route(
            "/api/admin/organisations",
            get(auth::organisations).post(auth::create_organisation),
        )
        .route("/api/history/{layer}/{id}", get(history::history))
        .route(
            "/api/forms",
            get(reporting::forms).post(reporting::create_form),
        )
        .route("/api/forms/{id}", get(reporting::one_form))
        .route("/api/forms/{id}/template", get(reporting::template))
        .route("/api/forms/{id}/check", post(reporting::check))
        .route(
            "/api/forms/{id}/upload",
            post(reporting::upload)
                .layer(axum::extract::DefaultBodyLimit::max(imports::MAX_UPLOAD)),
        )
        .route(
            "/api/submissions",
            get(reporting::submissions).post(reporting::create_submission),
        )
        .route(
            "/api/submissions/{id}",
            get(reporting::submission).put(reporting::edit_submission),
        )
        .route("/api/submissions/{id}/review", post(reporting::review))
        .route("/api/tasks", get(reporting::tasks))
        .route("/api/reporting/status", get(reporting::status))
        .route("/api/audit", get(audit::list))
        .route("/api/audit/export", get(audit::export))
        .route("/api/audit/verify", get(audit::check))
        .route("/api/openapi.json", get(openapi))
        .route("/api/units/{code}", get(units::unit))
        .route("/api/units/{code}/children", get(units::children))
        .route("/api/layers", get(features::layers))
        .route(
            "/api/layers/{layer}/features",
            get(features::features).post(edit::create),
        )
        .route(
            "/api/layers/{layer}/features/{id}",
            get(features::feature)
                .put(edit::replace)
                .delete(edit::delete),
        )
        .route("/api/layers/{layer}/export", get(imports::export))
        .route(
            "/api/imports",
            get(imports::list)
                .post(imports::upload)
                .layer(axum::extract::DefaultBodyLimit::max(imports::MAX_UPLOAD)),
        )
        .route("/api/imports/{id}/undo", post(imports::undo))
        .route("/api/changes", get(changes::stream))
        .route("/api/search", get(search::search))
        .route("/api/summary/{layer}/{id}", get(retrieval::summary))
        .route("/api/progress", get(retrieval::progress))
        .route("/api/at", get(retrieval::at))
        .route("/api/spatial", post(retrieval::spatial))
        .route("/api/saved-queries", get(saved::list).post(saved::create))
        .route("/api/life-circle/evaluate", post(lifecircle::evaluate))
        .route("/api/jobs/{id}", get(jobs::job))
        .route(
            "/api/life-circle/communities/{code}",
            get(lifecircle::community),
        )
        .route("/api/isochrone", get(lifecircle::isochrone))
        .route(
            "/api/saved-queries/{id}",
            get(saved::get).delete(saved::delete),
        )
        .route("/api/saved-queries/{id}/run", get(saved::run))
        .route("/ogc", get(ogc::landing))
        .route("/ogc/conformance", get(ogc::conformance))
        .route("/ogc/collections", get(ogc::collections))
        .route("/ogc/collections/{collection}", get(ogc::one_collection))
        .route(
            "/ogc/collections/{collection}/queryables",
            get(ogc::queryables),
        )
        .route("/ogc/collections/{collection}/items", get(ogc::items))
        .route("/ogc/collections/{collection}/items/{id}", get(ogc::item))
        .route("/api/attachments/{id}", get(attachments::download))
        .route(
            "/api/attachments",
            post(attachments::upload).layer(axum::extract::DefaultBodyLimit::max(
                attachments::MAX_ATTACHMENT,
            )),
        )
        .route("/fonts/{fontstack}/{range}", get(fonts::glyphs))
        .route("/tiles", get(tiles::list))
        .route("/tiles/{file}", get(tiles::tilejson))
        .route("/tiles/{layer}/{z}/{x}/{y}", get(tiles::tile))
        // After the routes, which it applies to: refusals on guarded layers are audited.
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            audit::refusals,
        ))
        // After the routes: it applies to the routes registered so far.
        .method_not_allowed_fallback(|| async { ApiError::method_not_allowed() })
        .fallback(|| async { ApiError::not_found("no such route; see /api/openapi.json") })
        // Every request, routed or not, learns its caller first.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::resolve,
        ))
        // Before everything else: a full class is answered before any other work.
        .layer(axum::middleware::from_fn_with_state(
            state.limits.clone(),
            limits::limit,
        ))
        .with_state(state)
        // gzip for clients that accept it (tiles, scripts, JSON; never the event stream).
        .layer(tower_http::compression::CompressionLayer::new())
        // Outermost: every answer, refusals and fallbacks included, carries them.
        .layer(axum::middleware::from_fn(move |req, next| {
            headers::secure(hsts, req, next)
        }))
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Gengxin (更新) API",
        description = "Urban renewal and community governance decision support."
    ),
    paths(
        page,
        asset,
        health,
        openapi,
        auth::login,
        auth::logout,
        auth::me,
        auth::change_password,
        auth::create_token,
        auth::tokens,
        auth::revoke_token,
        auth::users,
        auth::create_user,
        auth::change_user,
        auth::reset_totp,
        auth::organisations,
        auth::create_organisation,
        audit::list,
        audit::export,
        audit::check,
        history::history,
        reporting::forms,
        reporting::one_form,
        reporting::create_form,
        reporting::template,
        reporting::check,
        reporting::upload,
        reporting::submissions,
        reporting::create_submission,
        reporting::submission,
        reporting::edit_submission,
        reporting::review,
        reporting::tasks,
        reporting::status,
        units::children,
        units::unit,
        features::layers,
        features::features,
        features::feature,
        edit::create,
        edit::replace,
        edit::delete,
        changes::stream,
        attachments::download,
        attachments::upload,
        imports::upload,
        imports::list,
        imports::undo,
        imports::export,
        search::search,
        retrieval::summary,
        retrieval::progress,
        retrieval::at,
        retrieval::spatial,
        saved::list,
        lifecircle::evaluate,
        jobs::job,
        lifecircle::community,
        lifecircle::isochrone,
        saved::create,
        saved::get,
        saved::delete,
        saved::run,
        ogc::landing,
        ogc::conformance,
        ogc::collections,
        ogc::one_collection,
        ogc::queryables,
        ogc::items,
        ogc::item,
        tiles::list,
        tiles::tilejson,
        tiles::tile,
        fonts::glyphs
    ),
    components(schemas(
        Health,
        auth::Login,
        auth::MeBody,
        auth::NewTokenBody,
        auth::TokenBody,
        auth::UserBody,
        auth::OrganisationBody,
        auth::PasswordChange,
        auth::NewToken,
        auth::NewUserBody,
        auth::UserChange,
        auth::NewOrganisation,
        reporting::NewForm,
        reporting::NewSubmission,
        reporting::SubmissionEdit,
        reporting::Review,
        reporting::FormBody,
        reporting::FormFieldBody,
        reporting::Scalar,
        reporting::ReviewBody,
        reporting::SubmissionBody,
        reporting::FindingBody,
        reporting::CheckRequest,
        reporting::CheckBody,
        reporting::BaselineBody,
        reporting::SubmissionDetailBody,
        reporting::DiffBody,
        reporting::TaskBody,
        reporting::TasksBody,
        reporting::PeriodStatusBody,
        reporting::UploadBody,
        reporting::UploadRowBody,
        reporting::FieldErrorBody,
        units::UnitItem,
        features::LayerInfo,
        features::FieldInfo,
        wire::CodeInfo,
        changes::ChangeEvent,
        tiles::TileLayerInfo,
        search::SearchHit,
        error::ErrorBody,
        error::ErrorDetail,
        error::ErrorAt,
        OpenApiDocument,
        wire::GeoFeature,
        wire::FeatureType,
        wire::FeatureCollection,
        wire::FeatureCollectionType,
        wire::Link,
        ogc::Landing,
        ogc::Conformance,
        ogc::Collection,
        ogc::Collections,
        ogc::Queryable,
        ogc::Queryables,
        ogc::ItemsPage,
        ogc::Item,
        retrieval::Summary,
        retrieval::SummaryCounts,
        retrieval::ClassStat,
        retrieval::BuildingStats,
        retrieval::PopulationStats,
        retrieval::ProjectStats,
        retrieval::StageCount,
        retrieval::ProgressPage,
        retrieval::ProjectProgress,
        retrieval::SpatialResults,
        retrieval::LayerResult,
        retrieval::SpatialBody,
        saved::SavedQuery,
        saved::NewQuery,
        imports::ImportReport,
        imports::ImportIssue,
        imports::ImportRecord,
        imports::ImportUndone,
        lifecircle::LifeCircleRun,
        jobs::JobBody,
        lifecircle::LifeCircleReport,
        lifecircle::TierScores,
        lifecircle::RuleCoverage,
        lifecircle::Isochrones,
        lifecircle::Isochrone,
        lifecircle::IsochroneProperties,
        lifecircle::WalkStart,
        history::History,
        history::RecordChange,
        tiles::TileJson,
        tiles::VectorLayer,
        audit::AuditPage,
        audit::AuditRecord,
        audit::LocalName,
        audit::ChainState,
        audit::ChainFinding,
        attachments::Attachment
    ))
)]
struct ApiDoc;

/// The OpenAPI document of this API.
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// An OpenAPI 3.1 document (<https://spec.openapis.org/oas/v3.1.0>): this one.
#[derive(Serialize, ToSchema)]
#[serde(transparent)]
#[schema(value_type = Object)]
struct OpenApiDocument(utoipa::openapi::OpenApi);

/// This document.
#[utoipa::path(get, path = "/api/openapi.json", responses(
    (status = 200, description = "The OpenAPI 3 document of this API", body = OpenApiDocument),
))]
async fn openapi() -> axum::Json<OpenApiDocument> {
    axum::Json(OpenApiDocument(openapi_document()))
}

#[derive(Serialize, ToSchema)]
struct Health {
    /// `ok` when the store answers.
    status: &'static str,
    /// `geopackage` (embedded) or another backend.
    backend: &'static str,
    /// Where the store is (a file path or a database address): for the city administrator
    /// only; absent for everyone else.
    #[serde(skip_serializing_if = "Option::is_none")]
    location: Option<String>,
    schema_version: i64,
}

/// Whether the server and its store answer.
#[utoipa::path(get, path = "/api/health", responses(
    (status = 200, description = "The store answers", body = Health),
    (status = 503, description = "The store does not answer", body = error::ErrorBody),
))]
async fn health(State(s): State<AppState>, who: who::Who) -> Result<axum::Json<Health>, ApiError> {
    let info = s.store.info().await.map_err(|e| match e {
        gengxin_store::StoreError::Unavailable(_) => ApiError::from(e),
        other => ApiError::from(gengxin_store::StoreError::Unavailable(other.to_string())),
    })?;
    Ok(axum::Json(Health {
        status: "ok",
        backend: info.backend,
        location: gengxin_auth::policy::require_admin(&who.caller)
            .is_ok()
            .then_some(info.location),
        schema_version: info.schema_version,
    }))
}

/// The web application (一张图, the one map): Simplified Chinese first, English by a switch.
#[utoipa::path(get, path = "/", responses(
    (status = 200, description = "HTML page", content_type = "text/html; charset=utf-8", body = String),
))]
async fn page() -> Response {
    embedded("index.html")
}

/// The web application's scripts and stylesheets (names carry a content hash; cached for a year).
#[utoipa::path(get, path = "/assets/{path}",
    params(("path" = String, Path)),
    responses(
        (status = 200, description = "A built asset"),
        (status = 404, description = "No such asset", body = error::ErrorBody),
    ))]
async fn asset(extract::ApiPath(path): extract::ApiPath<String>) -> Response {
    embedded(&format!("assets/{path}"))
}

fn embedded(path: &str) -> Response {
    let Some((bytes, media_type)) = gengxin_web::file(path) else {
        return ApiError::not_found(format!("no {path}")).into_response();
    };
    let cache = if path.starts_with("assets/") {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    (
        [
            (header::CONTENT_TYPE, media_type),
            (header::CACHE_CONTROL, cache),
        ],
        bytes,
    )
        .into_response()
}
