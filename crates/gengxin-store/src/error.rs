use std::path::PathBuf;

use gengxin_model::ValidationError;

/// Every way a store can fail. The binary prints these as one line; the API maps each variant to
/// one HTTP status and public code.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store file {0} does not exist (create one with `gengxin migrate --store FILE`)")]
    Missing(PathBuf),
    #[error("{path} is not a GeoPackage: {reason}")]
    NotGeoPackage { path: PathBuf, reason: String },
    #[error(
        "{0} is not a Gengxin store (it has no Gengxin schema; create one with `gengxin migrate --store …`)"
    )]
    NotGengxin(String),
    #[error(
        "{path} has schema version {found}, newer than this gengxin supports ({supported}); upgrade gengxin"
    )]
    TooNew {
        path: String,
        found: i64,
        supported: i64,
    },
    #[error("{path} is corrupt: {detail}")]
    Corrupt { path: PathBuf, detail: String },
    #[error("invalid feature: {0}")]
    Invalid(#[from] ValidationError),
    #[error("{layer}/{id} already exists")]
    Duplicate { layer: &'static str, id: String },
    #[error("layer {layer} has no field `{field}`")]
    UnknownField { layer: &'static str, field: String },
    #[error(
        "{layer}/{id} was changed by someone else: the edit is based on version {expected}, the store holds version {found}"
    )]
    Conflict {
        layer: &'static str,
        id: String,
        expected: i64,
        found: i64,
    },
    #[error("{layer}/{id} does not exist")]
    NotFound { layer: &'static str, id: String },
    #[error("{layer} is append-only: rows cannot be changed or deleted")]
    AppendOnly { layer: &'static str },
    #[error("bad query: {0}")]
    BadQuery(String),
    #[error("{0}")]
    NoPostgis(String),
    #[error("{0}")]
    NotEmpty(String),
    #[error("store unavailable: {0}")]
    Unavailable(String),
    #[error("store error: {0}")]
    Internal(String),
}
