//! Security headers on every answer (SECURITY.md, 等保 2.0 level 3 web baseline): a content
//! security policy that lets the page run only its own scripts and be framed by no one,
//! `nosniff`, no referrer, and `Cache-Control: no-store` on every answer that may carry a
//! signed-in caller's data (personal and scoped rows, accounts, the audit log), so neither a
//! shared browser cache nor a proxy keeps it. HSTS is sent when the deployment says it is
//! behind TLS (`GENGXIN_SECURE_COOKIES=1`, the same switch as the cookie's `Secure`).

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

/// The web application's policy: its own scripts, styles (MapLibre and Vue set inline styles),
/// images and fonts, MapLibre's workers from `blob:` URLs, and requests only to this origin.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; \
     worker-src 'self' blob:; child-src 'self' blob:; object-src 'none'; base-uri 'self'; \
     form-action 'self'; frame-ancestors 'none'";

/// Adds the headers; `hsts` when served behind TLS.
pub async fn secure(hsts: bool, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    let private =
        !same_for_everyone(path) && (carries_credentials(req.headers()) || private_path(path));
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    let set = |h: &mut HeaderMap, name, value: &'static str| {
        h.insert(name, HeaderValue::from_static(value));
    };
    set(h, header::CONTENT_SECURITY_POLICY, CSP);
    set(h, header::X_FRAME_OPTIONS, "DENY");
    set(h, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(h, header::REFERRER_POLICY, "no-referrer");
    set(
        h,
        header::HeaderName::from_static("cross-origin-opener-policy"),
        "same-origin",
    );
    set(
        h,
        header::HeaderName::from_static("permissions-policy"),
        "camera=(), microphone=(), geolocation=(self), payment=()",
    );
    if hsts {
        set(
            h,
            header::STRICT_TRANSPORT_SECURITY,
            "max-age=31536000; includeSubDomains",
        );
    }
    if private || h.contains_key(header::SET_COOKIE) {
        set(h, header::CACHE_CONTROL, "no-store, private");
        set(h, header::PRAGMA, "no-cache");
    }
    res
}

/// A session cookie or a bearer token: the answer may hold what only this caller may see.
fn carries_credentials(h: &HeaderMap) -> bool {
    h.contains_key(header::AUTHORIZATION)
        || h.get_all(header::COOKIE)
            .iter()
            .any(|v| v.to_str().is_ok_and(|c| c.contains(crate::auth::COOKIE)))
}

/// Paths whose answers are the same whoever asks (the built scripts, whose names carry a content
/// hash, and the label glyphs): they keep their own `Cache-Control` even for a signed-in
/// caller, whose browser sends the session cookie with them — otherwise every load of the map
/// downloads the application and its glyphs again.
fn same_for_everyone(path: &str) -> bool {
    ["/assets/", "/fonts/"].iter().any(|p| path.starts_with(p))
}

/// Paths whose answers are about accounts or the audit log whoever asks.
fn private_path(path: &str) -> bool {
    ["/api/auth/", "/api/admin/", "/api/audit"]
        .iter()
        .any(|p| path.starts_with(p))
}
