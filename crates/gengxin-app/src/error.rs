//! The one error of the use cases. The API maps each variant to one status and public code in
//! one place (`gengxin_api::ApiError: From<AppError>`); the command line prints it as one line.

use gengxin_auth::policy::Denied;
use gengxin_io::IoError;
use gengxin_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A file that cannot be read or imported, and the other failures of `gengxin-io`.
    #[error(transparent)]
    Io(#[from] IoError),
    /// The caller's role or scope does not allow it.
    #[error("not allowed: {0:?}")]
    Denied(Denied),
    /// The role and scope would allow it, but not for this user: separation of duties (nobody
    /// reviews their own submission).
    #[error("{0}")]
    Forbidden(String),
    /// The caller's current password, asked again before a change, is wrong.
    #[error("the current password is wrong")]
    WrongPassword,
    /// Malformed input: a missing or wrong argument.
    #[error("{0}")]
    BadRequest(String),
    /// No such object (or not one the caller may see).
    #[error("{0}")]
    NotFound(String),
    /// Well-formed, but the data or the rules refuse it (a password breaking the policy, a
    /// store without roads to walk on).
    #[error("{0}")]
    Unprocessable(String),
    /// The object changed state under the request: nothing was applied.
    #[error("{0}")]
    Conflict(String),
    /// A fault on our side (a task that panicked, stored data that cannot be read).
    #[error("{0}")]
    Internal(String),
}

impl From<Denied> for AppError {
    fn from(d: Denied) -> Self {
        AppError::Denied(d)
    }
}

impl AppError {
    pub fn internal(e: impl std::fmt::Display) -> AppError {
        AppError::Internal(e.to_string())
    }
}
