//! Attachment downloads.

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::extract::ApiPath;
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
    who: crate::auth::Who,
    ApiPath(id): ApiPath<String>,
) -> Result<Response, ApiError> {
    let layer = gengxin_model::Layer::by_id(gengxin_model::LayerId::Attachments);
    let visible = crate::guard::Visible::of(&s, &who, layer).await?;
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
    let disposition =
        HeaderValue::from_str(&format!("attachment; filename*=UTF-8''{name}")).expect("ASCII only");
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
