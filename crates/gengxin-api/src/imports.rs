//! Import and export over HTTP: upload a file into a layer (the same import as the command
//! line: one transaction, a recorded report, undo), list and undo imports, and download a layer
//! or a filtered part of it in any export format.

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use gengxin_io::export::{Labels, Table};
use gengxin_io::import::{ImportOptions, Issue, Report};
use gengxin_io::{Format, ReadOptions};
use gengxin_model::{Feature, LayerId};
use gengxin_store::Query;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::{IntoParams, ToSchema};

use crate::audit::Record;
use crate::extract::{ApiPath, ApiQuery, params};
use crate::who::{Who, allow};
use crate::{ApiError, AppState};

/// The largest upload accepted by default, in bytes (`GENGXIN_MAX_UPLOAD_MB`).
pub const MAX_UPLOAD: usize = 512 << 20;

/// Imports run at once by default (`GENGXIN_IMPORTS_AT_ONCE`).
pub const AT_ONCE: usize = 2;

/// Seconds a client refused for a full import limit is asked to wait.
pub const RETRY_AFTER: u64 = 30;

/// Bounds on uploads: the largest file, and how many imports run at once (a further upload is
/// refused at once with `429` and `Retry-After`, before its body is read).
#[derive(Clone)]
pub struct ImportLimits {
    pub max_upload: u64,
    slots: Arc<tokio::sync::Semaphore>,
}

impl ImportLimits {
    pub fn new(max_upload: u64, at_once: usize) -> Self {
        ImportLimits {
            max_upload,
            slots: Arc::new(tokio::sync::Semaphore::new(at_once.max(1))),
        }
    }

    /// `GENGXIN_MAX_UPLOAD_MB` (default 512) and `GENGXIN_IMPORTS_AT_ONCE` (default 2).
    pub fn from_env() -> Self {
        let var = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<u64>().ok());
        ImportLimits::new(
            var("GENGXIN_MAX_UPLOAD_MB").map_or(MAX_UPLOAD as u64, |mb| mb << 20),
            var("GENGXIN_IMPORTS_AT_ONCE").map_or(AT_ONCE, |n| n as usize),
        )
    }
}

/// What to import a file into, and how.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UploadQuery {
    /// Model layer or custom layer name.
    layer: String,
    /// Original file name; its extension gives the format.
    file_name: String,
    /// Source CRS when the file does not declare one.
    crs: Option<String>,
    /// Text encoding when the file does not declare one, e.g. gbk.
    encoding: Option<String>,
    /// Table, sheet or shapefile inside the file.
    source_layer: Option<String>,
    /// Make invalid geometries valid instead of skipping them.
    repair: Option<bool>,
    /// Who reads a new custom layer: `public`, `staff` (signed-in users) or `organisation` (the
    /// importer's organisation and the city administrator; the default).
    access: Option<String>,
    /// Check and report only.
    dry_run: Option<bool>,
}

/// One feature's problems in an import.
#[derive(Serialize, ToSchema)]
pub struct ImportIssue {
    /// 1-based position in the source file.
    record: usize,
    /// The feature's id, when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    id: Option<String>,
    problems: Vec<String>,
    /// True when the feature was repaired and imported, false when it was skipped.
    repaired: bool,
}

/// What an import did (or, in a dry run, would do).
#[derive(Serialize, ToSchema)]
pub struct ImportReport {
    /// The import's id, for `/api/imports/{id}/undo`.
    import_id: String,
    file_name: String,
    /// SHA-256 of the file, hex.
    sha256: String,
    /// The format read, e.g. `geojson`.
    format: &'static str,
    /// The layer written.
    layer: String,
    /// The source CRS.
    #[schema(required)]
    crs: Option<String>,
    /// The source text encoding.
    #[schema(required)]
    encoding: Option<String>,
    /// Features read from the file.
    read: usize,
    imported: usize,
    skipped: usize,
    repaired: usize,
    issues: Vec<ImportIssue>,
    dry_run: bool,
    imported_by: String,
    /// Whether the import created a custom layer.
    new_custom_layer: bool,
}

impl From<Report> for ImportReport {
    fn from(r: Report) -> Self {
        let Report {
            import_id,
            file_name,
            sha256,
            format,
            layer,
            crs,
            encoding,
            read,
            imported,
            skipped,
            repaired,
            issues,
            dry_run,
            imported_by,
            new_custom_layer,
        } = r;
        ImportReport {
            import_id,
            file_name,
            sha256,
            format,
            layer,
            crs,
            encoding,
            read,
            imported,
            skipped,
            repaired,
            issues: issues
                .into_iter()
                .map(
                    |Issue {
                         record,
                         id,
                         problems,
                         repaired,
                     }| ImportIssue {
                        record,
                        id,
                        problems,
                        repaired,
                    },
                )
                .collect(),
            dry_run,
            imported_by,
            new_custom_layer,
        }
    }
}

/// Uploads a file (the request body) and imports it into a layer. `file_name` decides the
/// format by its extension (`.geojson`, `.zip` for a Shapefile, `.gpkg`, `.csv`, `.xlsx`,
/// `.osm.pbf`). Answers the import report: 201 when written, 200 for a dry run.
#[utoipa::path(post, path = "/api/imports",
    params(UploadQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses(
        (status = 201, description = "Imported; the report", body = ImportReport),
        (status = 200, description = "Dry run; the report", body = ImportReport),
        (status = 400, description = "Malformed request", body = crate::error::ErrorBody),
        (status = 413, description = "Upload too large", body = crate::error::ErrorBody),
        (status = 422, description = "The file cannot be imported, with why", body = crate::error::ErrorBody),
        (status = 429, description = "As many imports as allowed are running; retry after the \
            seconds of the `Retry-After` header", body = crate::error::ErrorBody),
    ))]
pub async fn upload(
    State(s): State<AppState>,
    who: Who,
    ApiQuery(q): ApiQuery<UploadQuery>,
    headers: axum::http::HeaderMap,
    body: axum::body::Body,
) -> Result<Response, ApiError> {
    let admin = allow(gengxin_auth::policy::require_admin(&who.caller))?;
    // Held until the import ends (the response is made).
    let _slot = s
        .limits
        .imports
        .slots
        .clone()
        .try_acquire_owned()
        .map_err(|_| {
            ApiError::busy(
                "as many imports as this server runs at once are running; try again shortly",
                RETRY_AFTER,
            )
        })?;
    let max = s.limits.imports.max_upload;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max) {
        return Err(too_large(max));
    }
    let mut opts = ImportOptions {
        user: admin.username.clone(),
        read: ReadOptions::default(),
        layer: q.layer,
        repair: q.repair.unwrap_or(false),
        access: q.access,
        organisation_id: Some(admin.organisation_id.clone()),
        ..ImportOptions::default()
    };
    if let Some(v) = &q.crs {
        opts.crs = Some(
            gengxin_engine::crs::Crs::parse(v).map_err(|e| ApiError::bad_request(e.to_string()))?,
        );
    }
    if let Some(v) = &q.encoding {
        opts.read.encoding = Some(gengxin_io::encoding_by_name(v).ok_or_else(|| {
            ApiError::bad_request(format!(
                "unknown encoding {v:?} (utf-8, gbk, gb18030, big5)"
            ))
        })?);
    }
    opts.read.source_layer = q.source_layer;
    let dry_run = q.dry_run.unwrap_or(false);
    if opts.layer.is_empty() {
        return Err(ApiError::bad_request("layer is required"));
    }
    let name = q.file_name;
    // Only the last path component, so a name cannot point outside the temporary folder.
    let base = std::path::Path::new(&name)
        .file_name()
        .and_then(|n| n.to_str())
        .filter(|n| !n.is_empty() && *n != "..")
        .ok_or_else(|| ApiError::bad_request(format!("file_name {name:?} is not a file name")))?
        .to_owned();
    if Format::of(std::path::Path::new(&base)).is_none() {
        return Err(ApiError::bad_request(format!(
            "{base}: unknown format; name the file .geojson, .zip (Shapefile), .gpkg, .csv, .xlsx or .osm.pbf"
        )));
    }
    let dir = tempfile::tempdir().map_err(|e| internal(&e))?;
    let path = dir.path().join(&base);
    receive(body, &path, max).await?;
    opts.file_name = Some(base);
    let report =
        gengxin_app::imports::import(&s.app, &who.actor(), &path, &opts, dry_run, &|_| {}).await?;
    let status = if dry_run {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(ImportReport::from(report))).into_response())
}

/// Writes a request body to a file as it arrives, so memory holds one chunk; more than `max`
/// bytes stops at once with `413` (the caller's temporary folder, with the part written, goes).
async fn receive(
    body: axum::body::Body,
    path: &std::path::Path,
    max: u64,
) -> Result<u64, ApiError> {
    use tokio::io::AsyncWriteExt;
    use tokio_stream::StreamExt;
    let mut file = tokio::fs::File::create(path)
        .await
        .map_err(|e| internal(&e))?;
    let mut chunks = body.into_data_stream();
    let mut n = 0u64;
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk
            .map_err(|e| ApiError::bad_request(format!("cannot read the request body: {e}")))?;
        n += chunk.len() as u64;
        if n > max {
            return Err(too_large(max));
        }
        file.write_all(&chunk).await.map_err(|e| internal(&e))?;
    }
    file.flush().await.map_err(|e| internal(&e))?;
    Ok(n)
}

fn too_large(max: u64) -> ApiError {
    ApiError::new(
        crate::error::Code::PayloadTooLarge,
        format!(
            "the upload is larger than the {} MiB this server accepts",
            max >> 20
        ),
    )
}

fn internal(e: &dyn std::fmt::Display) -> ApiError {
    ApiError::from(gengxin_store::StoreError::Internal(e.to_string()))
}

/// The record of an import (the `imports` layer, without the ids of the features written).
#[derive(Serialize, ToSchema)]
pub struct ImportRecord {
    id: String,
    /// The layer written.
    layer: String,
    file_name: String,
    /// SHA-256 of the file, hex.
    sha256: String,
    format: String,
    /// The source CRS.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    crs: Option<String>,
    /// The source text encoding.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    encoding: Option<String>,
    imported_by: String,
    /// RFC 3339.
    imported_at: String,
    read: i64,
    imported: i64,
    skipped: i64,
    repaired: i64,
    /// The features' problems, as JSON text.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    report: Option<String>,
    /// `applied` or `undone`.
    state: String,
    /// RFC 3339, once undone.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    undone_at: Option<String>,
}

impl ImportRecord {
    fn new(r: &Feature) -> Self {
        let text = |k: &str| r.get(k).as_str().map(str::to_owned);
        // Required fields of the layer: stored rows have them.
        let req = |k: &str| text(k).unwrap_or_default();
        let int = |k: &str| r.get(k).as_i64().unwrap_or_default();
        ImportRecord {
            id: r.id.clone(),
            layer: req("layer"),
            file_name: req("file_name"),
            sha256: req("sha256"),
            format: req("format"),
            crs: text("crs"),
            encoding: text("encoding"),
            imported_by: req("imported_by"),
            imported_at: req("imported_at"),
            read: int("read"),
            imported: int("imported"),
            skipped: int("skipped"),
            repaired: int("repaired"),
            report: text("report"),
            state: req("state"),
            undone_at: text("undone_at"),
        }
    }
}

/// Every recorded import, newest last (by id).
#[utoipa::path(get, path = "/api/imports", responses((status = 200, body = Vec<ImportRecord>)))]
pub async fn list(
    State(s): State<AppState>,
    who: Who,
) -> Result<Json<Vec<ImportRecord>>, ApiError> {
    allow(gengxin_auth::policy::require_admin(&who.caller))?;
    let rows = s.store.query(LayerId::Imports, Query::default()).await?;
    Ok(Json(rows.iter().map(ImportRecord::new).collect()))
}

/// An undone import.
#[derive(Serialize, ToSchema)]
pub struct ImportUndone {
    import_id: String,
    /// How many features it removed.
    removed: usize,
}

/// Undoes an import: removes its features; 409 if any was edited since or it is already undone.
#[utoipa::path(post, path = "/api/imports/{id}/undo",
    params(("id" = String, Path)),
    responses(
        (status = 200, body = ImportUndone),
        (status = 404, body = crate::error::ErrorBody),
        (status = 409, body = crate::error::ErrorBody),
    ))]
pub async fn undo(
    State(s): State<AppState>,
    who: Who,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<ImportUndone>, ApiError> {
    allow(gengxin_auth::policy::require_admin(&who.caller))?;
    let removed = gengxin_app::imports::undo(&s.app, &who.actor(), &id).await?;
    Ok(Json(ImportUndone {
        import_id: id,
        removed,
    }))
}

/// Downloads a layer, or the part matching `bbox` and field filters, as GeoJSON, CSV, Excel,
/// a zipped Shapefile or a GeoPackage. CSV and Excel are for people by default: field titles as
/// headings and code names as values (Chinese, or English for `lang=en` or an Accept-Language
/// preferring English; Excel adds a sheet 代码 with the codes); `codes=true` keeps field names and
/// codes, as the importer reads them.
#[utoipa::path(get, path = "/api/layers/{layer}/export",
    params(
        ("layer" = String, Path),
        ("format" = String, Query, description = "geojson, csv, xlsx, shp or gpkg"),
        ("bbox" = Option<String>, Query, description = "min_lon,min_lat,max_lon,max_lat in EPSG:4490"),
        ("codes" = Option<bool>, Query, description = "CSV and xlsx: true for field names and raw codes (machines); default false: field titles and code names"),
        ("lang" = Option<String>, Query, description = "CSV and xlsx headings and code names: zh (default) or en; without it, the Accept-Language header"),
    ),
    responses(
        (status = 200, description = "The file", content_type = "application/octet-stream"),
        (status = 400, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody),
    ))]
pub async fn export(
    State(s): State<AppState>,
    who: Who,
    headers: HeaderMap,
    ApiPath(layer): ApiPath<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let audit = export_allowed(&s, &who, &layer).await?;
    let mut format = None;
    let mut query = Query::default();
    let (mut codes, mut lang) = (None, None);
    for (k, v) in params(raw) {
        match k.as_str() {
            "format" => format = Some(export_format(&v)?),
            "codes" => codes = Some(v),
            "lang" => lang = Some(v),
            "bbox" => query.bbox = Some(crate::wire::parse_bbox(&v)?),
            field => query.equals.push((
                field.to_owned(),
                gengxin_io::export::filter_value(&layer, field, &v),
            )),
        }
    }
    let format = format.ok_or_else(|| ApiError::bad_request("format is required"))?;
    let labels = crate::wire::export_labels(codes.as_deref(), lang.as_deref(), &headers)?;
    let table = match gengxin_model::Layer::by_name(&layer) {
        // Positions the caller sees generalised are exported generalised.
        Some(l) if !gengxin_auth::policy::sees_exact_positions(&who.caller, l) => {
            let visible = gengxin_app::visibility::Visible::of(&s.app, &who.caller, l).await?;
            gengxin_io::export::Table::of_layer(l, visible.query(&s.app, query).await?)
        }
        _ => gengxin_io::export::load(&*s.store, &layer, query).await?,
    };
    audit_export(&s, audit, &table.rows).await?;
    file_response(table, format, labels).await
}

/// Exports of a layer: anyone for public layers; scoped and personal layers only for the city
/// roles that see every row of them (a partial export would look complete). Answers the audit
/// record to write with the rows exported ([`audit_export`]) for a non-public layer. A custom
/// layer is exported to whoever may read it.
pub(crate) async fn export_allowed(
    s: &AppState,
    who: &Who,
    name: &str,
) -> Result<Option<Record>, ApiError> {
    let Some(layer) = gengxin_model::Layer::by_name(name) else {
        crate::features::readable_custom(s, who, name).await?;
        return Ok(None);
    };
    allow(gengxin_auth::policy::can_read_layer(&who.caller, layer))?;
    if layer.access == gengxin_model::Access::Public {
        return Ok(None);
    }
    if !who.caller.as_ref().is_some_and(|p| p.role.citywide()) {
        return Err(ApiError::from(gengxin_auth::Denied::Forbidden));
    }
    let mut rec = crate::audit::record(who, "export", "ok");
    rec.target_layer = layer.name.into();
    if layer.personal() {
        rec.action = "read_personal";
    }
    Ok(Some(rec))
}

/// Writes an export's audit record: how many rows, and which for personal data.
pub(crate) async fn audit_export(
    s: &AppState,
    rec: Option<Record>,
    rows: &[Feature],
) -> Result<(), ApiError> {
    let Some(mut rec) = rec else { return Ok(()) };
    rec.detail = if rec.action == "read_personal" {
        crate::features::persons(rows)
    } else {
        format!("{} rows", rows.len())
    };
    crate::audit::append(s, vec![rec]).await
}

/// An export format named by a request (`geojson`, `csv`, `xlsx`, `shp`, `gpkg`).
pub(crate) fn export_format(v: &str) -> Result<Format, ApiError> {
    Format::parse(v)
        .filter(|f| *f != Format::OsmPbf)
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "format {v:?}: one of geojson, csv, xlsx, shp, gpkg"
            ))
        })
}

/// A table written in a format, as a download named after the table.
pub(crate) async fn file_response(
    table: Table,
    format: Format,
    labels: Labels,
) -> Result<Response, ApiError> {
    let (ext, mime) = match format {
        Format::GeoJson => ("geojson", "application/geo+json"),
        Format::Csv => ("csv", "text/csv; charset=utf-8"),
        Format::Xlsx => (
            "xlsx",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ),
        Format::Shapefile => ("zip", "application/zip"),
        Format::GeoPackage => ("gpkg", "application/geopackage+sqlite3"),
        Format::OsmPbf => return Err(ApiError::bad_request("OSM PBF is an import format only")),
    };
    let file_name = format!("{}.{ext}", table.name);
    let disposition = format!("attachment; filename=\"{file_name}\"");
    let bytes = tokio::task::spawn_blocking(move || -> Result<Vec<u8>, ApiError> {
        let dir = tempfile::tempdir().map_err(|e| internal(&e))?;
        let path = dir.path().join(&file_name);
        gengxin_io::export::write_for(&table, format, &path, labels)?;
        std::fs::read(&path).map_err(|e| internal(&e))
    })
    .await
    .map_err(|e| internal(&e))??;
    let mut resp = (StatusCode::OK, bytes).into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        resp.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(resp)
}
