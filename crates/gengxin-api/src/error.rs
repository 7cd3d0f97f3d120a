//! The one error type at the HTTP edge: a status, a stable public code, and a message. Internal
//! details are logged, never sent.

use axum::extract::rejection::PathRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use gengxin_store::StoreError;
use serde::Serialize;
use utoipa::ToSchema;

/// Declares [`Code`] with its statuses and the list of all of them, in one place.
macro_rules! codes {
    ($($variant:ident = $text:literal, $status:ident;)*) => {
        /// The stable public error codes: each has one HTTP status. `README.md` documents them
        /// (a test keeps the two lists equal).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum Code {
            $($variant,)*
        }

        impl Code {
            /// Every code, in the documented order.
            pub const ALL: &[Code] = &[$(Code::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(Code::$variant => $text,)*
                }
            }

            pub fn status(self) -> StatusCode {
                match self {
                    $(Code::$variant => StatusCode::$status,)*
                }
            }
        }
    };
}

codes! {
    BadRequest = "bad_request", BAD_REQUEST;
    InvalidFilter = "invalid_filter", BAD_REQUEST;
    FilterTooExpensive = "filter_too_expensive", BAD_REQUEST;
    Unauthenticated = "unauthenticated", UNAUTHORIZED;
    TotpRequired = "totp_required", UNAUTHORIZED;
    Forbidden = "forbidden", FORBIDDEN;
    Csrf = "csrf", FORBIDDEN;
    NotFound = "not_found", NOT_FOUND;
    MethodNotAllowed = "method_not_allowed", METHOD_NOT_ALLOWED;
    Conflict = "conflict", CONFLICT;
    PayloadTooLarge = "payload_too_large", PAYLOAD_TOO_LARGE;
    UnsupportedMediaType = "unsupported_media_type", UNSUPPORTED_MEDIA_TYPE;
    InvalidFeature = "invalid_feature", UNPROCESSABLE_ENTITY;
    InvalidFile = "invalid_file", UNPROCESSABLE_ENTITY;
    Unprocessable = "unprocessable", UNPROCESSABLE_ENTITY;
    PreconditionRequired = "precondition_required", PRECONDITION_REQUIRED;
    TooManyRequests = "too_many_requests", TOO_MANY_REQUESTS;
    Internal = "internal", INTERNAL_SERVER_ERROR;
    StoreUnavailable = "store_unavailable", SERVICE_UNAVAILABLE;
}

/// An error answer: a stable public code (which decides the status) and a message meant for
/// the client.
#[derive(Debug)]
pub struct ApiError {
    code: Code,
    message: String,
    at: Option<Box<ErrorAt>>,
    /// Seconds for a `Retry-After` header.
    retry_after: Option<u64>,
}

/// The body of every error response.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    pub code: Code,
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
    /// An answer with `code` and `message`.
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
            at: None,
            retry_after: None,
        }
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(Code::BadRequest, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError::new(Code::NotFound, message)
    }
    /// Well-formed, but the data cannot answer it (no road near the point, no road layer).
    pub fn unprocessable(message: impl Into<String>) -> Self {
        ApiError::new(Code::Unprocessable, message)
    }
    pub fn precondition_required(message: impl Into<String>) -> Self {
        ApiError::new(Code::PreconditionRequired, message)
    }
    /// A fault on our side: the detail is logged, the client reads "internal error".
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "internal error");
        ApiError::new(Code::Internal, "internal error")
    }
    /// `409 conflict`: the object changed state under the request.
    pub fn conflict(message: impl Into<String>) -> Self {
        ApiError::new(Code::Conflict, message)
    }
    /// `429 too_many_requests`.
    pub fn too_many(message: impl Into<String>) -> Self {
        ApiError::new(Code::TooManyRequests, message)
    }
    /// `429 too_many_requests` with `Retry-After: seconds`: a class of work (or the imports
    /// run at once) is full.
    pub fn busy(message: impl Into<String>, seconds: u64) -> Self {
        ApiError {
            retry_after: Some(seconds),
            ..ApiError::too_many(message)
        }
    }

    pub fn method_not_allowed() -> Self {
        ApiError::new(
            Code::MethodNotAllowed,
            "this route does not answer that method; see /api/openapi.json",
        )
    }
}

impl From<gengxin_auth::policy::Denied> for ApiError {
    /// A policy refusal: not signed in (401), not allowed (403), or a layer that is not one
    /// (404, as for a missing one).
    fn from(d: gengxin_auth::policy::Denied) -> Self {
        use gengxin_auth::policy::Denied;
        match d {
            Denied::Unauthenticated => ApiError::new(
                Code::Unauthenticated,
                "sign in first (POST /api/auth/login)",
            ),
            Denied::Forbidden => {
                ApiError::new(Code::Forbidden, "your role or scope does not allow this")
            }
            Denied::Hidden => ApiError::not_found("no such layer; see /api/layers"),
        }
    }
}

impl From<gengxin_query::QueryError> for ApiError {
    /// `400 invalid_filter`, or `400 filter_too_expensive` when a limit is exceeded, pointing at
    /// the place in the `filter` parameter.
    fn from(e: gengxin_query::QueryError) -> Self {
        let code = match e.kind {
            gengxin_query::ErrorKind::TooExpensive => Code::FilterTooExpensive,
            _ => Code::InvalidFilter,
        };
        let (offset, line, column) = match e.position {
            Some((o, l, c)) => (Some(o), Some(l), Some(c)),
            None => (None, None, None),
        };
        ApiError {
            code,
            retry_after: None,
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
        let code = match &e {
            StoreError::Invalid(_) => Code::InvalidFeature,
            StoreError::Duplicate { .. }
            | StoreError::Conflict { .. }
            | StoreError::NotEmpty(_)
            | StoreError::AppendOnly { .. } => Code::Conflict,
            StoreError::NotFound { .. } => Code::NotFound,
            StoreError::UnknownField { .. } | StoreError::BadQuery(_) => Code::BadRequest,
            StoreError::Unavailable(_) => Code::StoreUnavailable,
            _ => Code::Internal,
        };
        let message = match code {
            Code::Internal => {
                tracing::error!(error = %e, "internal error");
                "internal error".to_owned()
            }
            Code::StoreUnavailable => {
                tracing::warn!(error = %e, "store unavailable");
                "the store is unavailable; try again later".to_owned()
            }
            _ => e.to_string(),
        };
        ApiError::new(code, message)
    }
}

impl From<gengxin_io::IoError> for ApiError {
    fn from(e: gengxin_io::IoError) -> Self {
        use gengxin_io::IoError;
        let code = match e {
            IoError::Store(se) => return se.into(),
            IoError::File { .. } => Code::InvalidFile,
            IoError::Usage(_) => Code::BadRequest,
            IoError::NotFound(_) => Code::NotFound,
            IoError::Conflict(_) => Code::Conflict,
        };
        ApiError::new(code, e.to_string())
    }
}

impl From<gengxin_app::AppError> for ApiError {
    /// The one place where a use case's error becomes a status and a public code.
    fn from(e: gengxin_app::AppError) -> Self {
        use gengxin_app::AppError;
        match e {
            AppError::Store(e) => e.into(),
            AppError::Io(e) => e.into(),
            AppError::Denied(d) => d.into(),
            AppError::Forbidden(m) => ApiError::new(Code::Forbidden, m),
            AppError::WrongPassword => ApiError::new(Code::Unauthenticated, e.to_string()),
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
        let mut r = (self.code.status(), axum::Json(body)).into_response();
        if let Some(s) = self.retry_after {
            r.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(s),
            );
        }
        r
    }
}
