//! The one error type at the HTTP edge: a status, a stable public code, and a message. Internal
//! details are logged, never sent.

use axum::extract::rejection::PathRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use gengxin_store::StoreError;
use serde::Serialize;
use utoipa::ToSchema;

/// An error answer: HTTP status, stable public code and a message meant for the client.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    at: Option<Box<ErrorAt>>,
}

/// The body of every error response.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable: `bad_request`, `not_found`, `method_not_allowed`, `invalid_feature`,
    /// `invalid_file`, `invalid_filter`, `filter_too_expensive`, `conflict`, `precondition_required`, `payload_too_large`,
    /// `store_unavailable`, `unauthenticated`, `totp_required`, `forbidden`, `csrf`,
    /// `too_many_requests`, `internal`.
    pub code: &'static str,
    pub message: String,
    /// Where in the request the error is, when it is inside a parameter (a query filter).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at: Option<Box<ErrorAt>>,
}

/// A place in a request parameter.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorAt {
    /// The parameter, e.g. `filter`.
    pub parameter: &'static str,
    /// A JSON Pointer (RFC 6901) into the parameter's JSON value, for JSON parameters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pointer: Option<String>,
    /// Byte offset, line and column (1-based) in the parameter's text, for text parameters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<usize>,
}

impl ApiError {
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            code: "bad_request",
            message: message.into(),
            at: None,
        }
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::NOT_FOUND,
            code: "not_found",
            message: message.into(),
            at: None,
        }
    }
    /// Well-formed, but the data cannot answer it (no road near the point, no road layer).
    pub fn unprocessable(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: "unprocessable",
            message: message.into(),
            at: None,
        }
    }
    pub fn precondition_required(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::PRECONDITION_REQUIRED,
            code: "precondition_required",
            message: message.into(),
            at: None,
        }
    }
    /// A fault on our side: the detail is logged, the client reads "internal error".
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "internal error");
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "internal",
            message: "internal error".to_owned(),
            at: None,
        }
    }
    /// Not signed in (or the credentials are wrong): `401 unauthenticated`, or another code
    /// that says what is missing (`totp_required`).
    pub fn unauthenticated(code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::UNAUTHORIZED,
            code,
            message: message.into(),
            at: None,
        }
    }
    /// Signed in, but not allowed: `403 forbidden` (or `csrf` for a missing CSRF token).
    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::FORBIDDEN,
            code,
            message: message.into(),
            at: None,
        }
    }
    /// `409 conflict`: the object changed state under the request.
    pub fn conflict(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::CONFLICT,
            code: "conflict",
            message: message.into(),
            at: None,
        }
    }
    /// `429 too_many_requests`.
    pub fn too_many(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::TOO_MANY_REQUESTS,
            code: "too_many_requests",
            message: message.into(),
            at: None,
        }
    }
    pub fn method_not_allowed() -> Self {
        ApiError {
            status: StatusCode::METHOD_NOT_ALLOWED,
            code: "method_not_allowed",
            message: "this route does not answer that method; see /api/openapi.json".into(),
            at: None,
        }
    }
}

impl From<gengxin_query::QueryError> for ApiError {
    /// `400 invalid_filter`, or `400 filter_too_expensive` when a limit is exceeded, pointing at
    /// the place in the `filter` parameter.
    fn from(e: gengxin_query::QueryError) -> Self {
        let code = match e.kind {
            gengxin_query::ErrorKind::TooExpensive => "filter_too_expensive",
            _ => "invalid_filter",
        };
        let (offset, line, column) = match e.position {
            Some((o, l, c)) => (Some(o), Some(l), Some(c)),
            None => (None, None, None),
        };
        ApiError {
            status: StatusCode::BAD_REQUEST,
            code,
            message: e.message,
            at: Some(Box::new(ErrorAt {
                parameter: "filter",
                pointer: e.position.is_none().then_some(e.pointer),
                offset,
                line,
                column,
            })),
        }
    }
}

/// A path segment that does not decode (e.g. invalid percent-encoded UTF-8) is the client's
/// fault; anything else axum's `Path` can refuse is a routing bug on our side.
impl From<PathRejection> for ApiError {
    fn from(e: PathRejection) -> Self {
        if e.status().is_client_error() {
            ApiError::bad_request(format!("malformed path: {}", e.body_text()))
        } else {
            ApiError::internal(format!("path extraction failed: {}", e.body_text()))
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        let (status, code) = match &e {
            StoreError::Invalid(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_feature"),
            StoreError::Duplicate { .. }
            | StoreError::Conflict { .. }
            | StoreError::NotEmpty(_)
            | StoreError::AppendOnly { .. } => (StatusCode::CONFLICT, "conflict"),
            StoreError::NotFound { .. } => (StatusCode::NOT_FOUND, "not_found"),
            StoreError::UnknownField { .. } | StoreError::BadQuery(_) => {
                (StatusCode::BAD_REQUEST, "bad_request")
            }
            StoreError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "store_unavailable"),
            _ => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        };
        let message = match status {
            StatusCode::INTERNAL_SERVER_ERROR => {
                tracing::error!(error = %e, "internal error");
                "internal error".to_owned()
            }
            StatusCode::SERVICE_UNAVAILABLE => {
                tracing::warn!(error = %e, "store unavailable");
                "the store is unavailable; try again later".to_owned()
            }
            _ => e.to_string(),
        };
        ApiError {
            status,
            code,
            message,
            at: None,
        }
    }
}

impl From<gengxin_io::IoError> for ApiError {
    fn from(e: gengxin_io::IoError) -> Self {
        use gengxin_io::IoError;
        let (status, code) = match &e {
            IoError::Store(_) => {
                let IoError::Store(se) = e else {
                    unreachable!()
                };
                return se.into();
            }
            IoError::File { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_file"),
            IoError::Usage(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            IoError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            IoError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
        };
        ApiError {
            status,
            code,
            message: e.to_string(),
            at: None,
        }
    }
}

impl From<gengxin_app::AppError> for ApiError {
    /// The one place where a use case's error becomes a status and a public code.
    fn from(e: gengxin_app::AppError) -> Self {
        use gengxin_app::AppError;
        match e {
            AppError::Store(e) => e.into(),
            AppError::Io(e) => e.into(),
            AppError::Denied(d) => crate::auth::denied(d),
            AppError::BadRequest(m) => ApiError::bad_request(m),
            AppError::NotFound(m) => ApiError::not_found(m),
            AppError::Unprocessable(m) => ApiError::unprocessable(m),
            AppError::Conflict(m) => ApiError::conflict(m),
            AppError::Internal(m) => ApiError::internal(m),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code,
                message: self.message,
                at: self.at,
            },
        };
        (self.status, axum::Json(body)).into_response()
    }
}
