//! Attachments: uploads by those who report on a project (photos lose their EXIF metadata:
//! GPS position and device), and downloads checked against the reader's scope every time.

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use axum::Json;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use chrono::Utc;
use gengxin_model::{Feature, LayerId};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::extract::{ApiPath, ApiQuery};
use crate::{ApiError, AppState};

/// Percent-encodes a file name for `Content-Disposition: attachment; filename*=UTF-8''…`
/// (RFC 6266 / 8187), so no name can inject header syntax.
fn rfc8187(name: &str) -> String {
    name.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'.' | b'-' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// An attachment's bytes, as a download.
#[utoipa::path(get, path = "/api/attachments/{id}",
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "The file", content_type = "application/octet-stream"),
        (status = 404, description = "No such attachment", body = crate::error::ErrorBody),
    ))]
pub async fn download(
    State(s): State<AppState>,
    who: crate::who::Who,
    ApiPath(id): ApiPath<String>,
) -> Result<Response, ApiError> {
    let layer = gengxin_model::Layer::by_id(gengxin_model::LayerId::Attachments);
    let visible = gengxin_app::visibility::Visible::of(&s.app, &who.caller, layer).await?;
    let meta = s
        .store
        .get(layer.id, &id)
        .await?
        .filter(|m| visible.sees(m))
        .ok_or_else(|| ApiError::not_found(format!("no attachment {id}")))?;
    let (_, bytes) = s
        .store
        .attachment(&meta.id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no attachment {id}")))?;
    let media = meta
        .get("media_type")
        .as_str()
        .and_then(|m| HeaderValue::from_str(m).ok())
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    let name = rfc8187(meta.get("file_name").as_str().unwrap_or("attachment"));
    // Photos open in the browser (a report's thumbnail links to its full image); the rest are
    // downloads.
    let how = match media.to_str() {
        Ok("image/jpeg" | "image/png") => "inline",
        _ => "attachment",
    };
    let disposition =
        HeaderValue::from_str(&format!("{how}; filename*=UTF-8''{name}")).expect("ASCII only");
    Ok((
        [
            (header::CONTENT_TYPE, media),
            (header::CONTENT_DISPOSITION, disposition),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
        ],
        bytes,
    )
        .into_response())
}

/// The largest attachment accepted.
pub const MAX_ATTACHMENT: usize = 20 << 20;

/// JPEG and PNG photos without their EXIF block (GPS position, camera); other files as sent.
fn strip_exif(media_type: &str, bytes: Bytes) -> Result<Bytes, ApiError> {
    use img_parts::ImageEXIF;
    let bad = |e: img_parts::Error| ApiError::unprocessable(format!("not a readable image: {e}"));
    Ok(match media_type {
        "image/jpeg" => {
            let mut j = img_parts::jpeg::Jpeg::from_bytes(bytes).map_err(bad)?;
            j.set_exif(None);
            j.encoder().bytes()
        }
        "image/png" => {
            let mut p = img_parts::png::Png::from_bytes(bytes).map_err(bad)?;
            p.set_exif(None);
            p.encoder().bytes()
        }
        _ => bytes,
    })
}

/// What an uploaded file is attached to, and its name. Both are needed: without one the answer
/// is `422`.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AttachmentQuery {
    /// The project.
    #[serde(default)]
    #[param(required = true)]
    owner_id: String,
    /// The file's name (control characters and slashes are dropped; at most 200 characters).
    #[serde(default)]
    #[param(required = true)]
    file_name: String,
}

/// A stored attachment.
#[derive(Serialize, ToSchema)]
pub struct Attachment {
    /// The attachment's id, for the form's attachment field and `/api/attachments/{id}`.
    id: String,
    file_name: String,
    /// The media type it is served with (the upload's `Content-Type`).
    media_type: String,
    /// Its size as stored (after EXIF removal).
    size_bytes: usize,
}

/// Uploads a file attached to a project (`owner_id`), e.g. a report's photo; the answer's `id`
/// goes into the form's attachment field. Only those who may report on the project (and the
/// city administrator) upload; JPEG and PNG lose their EXIF metadata.
#[utoipa::path(post, path = "/api/attachments", operation_id = "upload_attachment",
    params(AttachmentQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses(
        (status = 201, description = "Stored", body = Attachment),
        (status = 403, description = "Not a reporter of this project", body = crate::error::ErrorBody),
        (status = 422, description = "Empty, or an unreadable image", body = crate::error::ErrorBody),
    ))]
pub async fn upload(
    State(s): State<AppState>,
    who: crate::who::Who,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<AttachmentQuery>,
    crate::extract::ApiBody(body): crate::extract::ApiBody,
) -> Result<(StatusCode, Json<Attachment>), ApiError> {
    let p = crate::who::allow(gengxin_auth::policy::require_login(&who.caller))?.clone();
    let AttachmentQuery {
        owner_id: owner,
        file_name: name,
    } = q;
    let name: String = name
        .chars()
        .filter(|c| !c.is_control() && !matches!(c, '/' | '\\'))
        .take(200)
        .collect();
    if owner.is_empty() || name.trim().is_empty() || body.is_empty() {
        return Err(ApiError::unprocessable(
            "send the file as the body, with owner_id and file_name",
        ));
    }
    let project = s
        .store
        .get(LayerId::Projects, &owner)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no project {owner:?}")))?;
    if !crate::reporting::may_report(&p, &project) {
        return Err(ApiError::from(gengxin_auth::Denied::Forbidden));
    }
    let media = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or(v).trim().to_ascii_lowercase())
        .filter(|m| !m.is_empty() && m.len() < 100)
        .unwrap_or_else(|| "application/octet-stream".into());
    let bytes = strip_exif(&media, body)?;
    let id = format!("att-{}", &gengxin_auth::secret::new_token("")[..24]);
    let meta = Feature::new(id.clone(), "upload", Utc::now())
        .set("owner_layer", "projects")
        .set("owner_id", owner.as_str())
        .set("file_name", name.trim())
        .set("media_type", media.as_str());
    s.store
        .add_attachments(vec![(meta, bytes.to_vec())])
        .await?;
    let mut rec = crate::audit::record(&who, "write", "ok");
    rec.target_layer = "attachments".into();
    rec.target_id = id.clone();
    rec.detail = format!("{} bytes for {owner}", bytes.len());
    crate::audit::append(&s, vec![rec]).await?;
    Ok((
        StatusCode::CREATED,
        Json(Attachment {
            id,
            file_name: name.trim().to_owned(),
            media_type: media,
            size_bytes: bytes.len(),
        }),
    ))
}
