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
    #[error("{0} is a GeoPackage but not a Gengxin store (it has no gengxin_meta table)")]
    NotGengxin(PathBuf),
    #[error(
        "{path} has schema version {found}, newer than this gengxin supports ({supported}); upgrade gengxin"
    )]
    TooNew {
        path: PathBuf,
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
    #[error("store unavailable: {0}")]
    Unavailable(String),
    #[error("store error: {0}")]
    Internal(String),
}
