//! Extractors whose rejections are [`ApiError`]s, so malformed requests get the same JSON error
//! body as every other failure instead of axum's plain-text rejections.

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::ApiError;

/// [`axum::extract::Path`] that rejects with `400 bad_request` in the API's error shape.
pub struct ApiPath<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(t) = Path::<T>::from_request_parts(parts, state).await?;
        Ok(ApiPath(t))
    }
}

/// A fixed parameter set: [`axum::extract::Query`] of a struct that declares
/// `#[serde(deny_unknown_fields)]`, rejecting an unknown or malformed parameter with
/// `400 bad_request` in the API's error shape, naming the parameters it takes.
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(t)) => Ok(ApiQuery(t)),
            Err(e) => {
                let text = e.body_text();
                let why = text
                    .strip_prefix("Failed to deserialize query string: ")
                    .unwrap_or(&text);
                Err(ApiError::bad_request(format!("bad query parameter: {why}")))
            }
        }
    }
}

/// A raw query string as decoded name/value pairs, in order.
pub fn params(raw: Option<String>) -> Vec<(String, String)> {
    form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The request body as bytes; a body over the route's limit answers `413 payload_too_large`
/// in the API's error shape (axum's own rejection is plain text).
pub struct ApiBody(pub axum::body::Bytes);

impl<S: Send + Sync> axum::extract::FromRequest<S> for ApiBody {
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::body::Bytes::from_request(req, state).await {
            Ok(b) => Ok(ApiBody(b)),
            Err(e) if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE => {
                Err(ApiError::new(
                    crate::error::Code::PayloadTooLarge,
                    "the upload is larger than this endpoint accepts",
                ))
            }
            Err(e) => Err(ApiError::bad_request(format!(
                "cannot read the request body: {}",
                e.body_text()
            ))),
        }
    }
}

/// [`axum::Json`] that rejects in the API's error shape: `415 unsupported_media_type` without a
/// JSON content type, `413 payload_too_large` over the route's limit, `400 bad_request` for a
/// body that is not JSON or not the documented shape (axum's own rejections are plain text).
pub struct ApiJson<T>(pub T);

impl<S, T> axum::extract::FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        use axum::extract::rejection::JsonRejection;
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(t)) => Ok(ApiJson(t)),
            Err(JsonRejection::MissingJsonContentType(_)) => Err(ApiError::new(
                crate::error::Code::UnsupportedMediaType,
                "send the body as JSON, with Content-Type: application/json",
            )),
            Err(e) if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE => {
                Err(ApiError::new(
                    crate::error::Code::PayloadTooLarge,
                    "the body is larger than this endpoint accepts",
                ))
            }
            Err(e) => Err(ApiError::bad_request(format!(
                "malformed body: {}",
                e.body_text()
            ))),
        }
    }
}
