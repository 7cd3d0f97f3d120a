//! Who is calling: the extractor every handler takes, put into the request by
//! `auth::resolve` (the public when absent), and policy answers as HTTP refusals.

use std::net::IpAddr;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use gengxin_auth::Caller;
use gengxin_auth::policy::Denied;

use crate::ApiError;

/// The caller of a request; the public when nobody signed in.
#[derive(Debug, Clone, Default)]
pub struct Who {
    pub caller: Caller,
    /// The source address, for the audit log.
    pub ip: Option<IpAddr>,
}

impl<S: Send + Sync> FromRequestParts<S> for Who {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts.extensions.get::<Who>().cloned().unwrap_or_default())
    }
}

impl Who {
    /// The caller as the application's actor (audit log, history).
    pub fn actor(&self) -> gengxin_app::Actor {
        gengxin_app::Actor::caller(self.caller.clone(), self.ip)
    }
}

/// `Ok` or the HTTP refusal.
pub fn allow<T>(r: Result<T, Denied>) -> Result<T, ApiError> {
    r.map_err(ApiError::from)
}
