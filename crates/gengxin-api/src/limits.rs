//! Bounded work per request: a concurrency limit per class of work, and a cost budget for CQL2.
//!
//! Every request is classed by its method and path ([`Class::of`]). Light requests (health,
//! the page and its assets, fonts, the OpenAPI document, sign-in) are never limited, so they
//! stay fast whatever else runs. Each other class has a semaphore; a request takes a permit or,
//! when the class is full, is answered at once `429 too_many_requests` with `Retry-After` —
//! nothing queues without bound. Tiles take a `tiles` permit only when they are cut (a cached
//! tile is light). Sizes come from the cores, or from `GENGXIN_LIMIT_HEAVY`, `_READ`, `_WRITE`
//! and `_TILES`.
//!
//! A CQL2 filter is refused before it runs when its cost (what testing one feature costs,
//! `gengxin_query::Filter::cost`, times the features the query visits) is over
//! `GENGXIN_CQL2_BUDGET` ([`DEFAULT_CQL2_BUDGET`]), with `400 filter_too_expensive`. A running
//! selection stops when its client is gone ([`Cancel`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::ApiError;

/// The default CQL2 budget: comparisons (see `gengxin_query::Filter::cost`) per request, about
/// a tenth of a second of one core.
pub const DEFAULT_CQL2_BUDGET: u64 = 20_000_000;

/// Seconds a client told `429` is asked to wait.
pub const RETRY_AFTER_S: u64 = 1;

/// A class of work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Never limited: health, the page, assets, fonts, the OpenAPI document, sign-in, tile
    /// listings (tiles limit themselves when cut).
    Light,
    /// Ordinary reads.
    Read,
    /// CPU-heavy reads: CQL2 and bbox queries, spatial and point queries, search, exports,
    /// summaries, walks, the audit export and verification.
    Heavy,
    /// Writes.
    Write,
    /// Cutting a tile not in the cache.
    Tiles,
}

impl Class {
    /// The class of a request.
    pub fn of(method: &Method, path: &str, query: Option<&str>) -> Class {
        let seg: Vec<&str> = path.trim_matches('/').split('/').collect();
        let has = |k: &str| {
            query.is_some_and(|q| form_urlencoded::parse(q.as_bytes()).any(|(name, _)| name == k))
        };
        match seg.as_slice() {
            [""] | ["assets", ..] | ["fonts", ..] | ["tiles", ..] => Class::Light,
            ["api", "health" | "openapi.json"] => Class::Light,
            ["api", "auth", ..] => Class::Light,
            // Reads that carry their question in a POST body.
            ["api", "spatial"] => Class::Heavy,
            _ if method != Method::GET && method != Method::HEAD => Class::Write,
            ["ogc", "collections", _, "items"] | ["api", "layers", _, "features"]
                if has("filter") || has("bbox") || has("f") =>
            {
                Class::Heavy
            }
            ["api", "at" | "search" | "isochrone" | "progress"]
            | ["api", "summary", ..]
            | ["api", "layers", _, "export"]
            | ["api", "saved-queries", _, "run"]
            | ["api", "audit", "export" | "verify"] => Class::Heavy,
            _ => Class::Read,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Class::Light => "light",
            Class::Read => "read",
            Class::Heavy => "heavy",
            Class::Write => "write",
            Class::Tiles => "tiles",
        }
    }
}

/// The semaphores of the limited classes, and the CQL2 budget.
pub struct Limits {
    read: Arc<Semaphore>,
    heavy: Arc<Semaphore>,
    write: Arc<Semaphore>,
    tiles: Arc<Semaphore>,
    /// See [`DEFAULT_CQL2_BUDGET`].
    pub cql2_budget: u64,
    /// The largest upload and the imports run at once.
    pub imports: crate::imports::ImportLimits,
}

/// Concurrent requests per class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sizes {
    pub read: usize,
    pub heavy: usize,
    pub write: usize,
    pub tiles: usize,
}

impl Sizes {
    /// From the cores: heavy work, reads and tiles 4 per core, writes 2 per core. Heavy work
    /// runs on blocking threads, so light requests keep the async workers; the web application
    /// itself sends a few heavy requests at once (search suggestions, a query's count and
    /// page), which one permit per two cores refused.
    pub fn for_cores(cores: usize) -> Sizes {
        let cores = cores.max(1);
        Sizes {
            read: 4 * cores,
            heavy: 4 * cores,
            write: 2 * cores,
            tiles: 4 * cores,
        }
    }

    /// [`Sizes::for_cores`] of this machine, each overridden by its `GENGXIN_LIMIT_*` variable.
    pub fn from_env() -> Sizes {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let d = Sizes::for_cores(cores);
        let var = |k: &str, v: usize| {
            std::env::var(k)
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(v)
        };
        Sizes {
            read: var("GENGXIN_LIMIT_READ", d.read),
            heavy: var("GENGXIN_LIMIT_HEAVY", d.heavy),
            write: var("GENGXIN_LIMIT_WRITE", d.write),
            tiles: var("GENGXIN_LIMIT_TILES", d.tiles),
        }
    }
}

impl Limits {
    pub fn new(sizes: Sizes, cql2_budget: u64) -> Limits {
        let s = |n: usize| Arc::new(Semaphore::new(n));
        Limits {
            read: s(sizes.read),
            heavy: s(sizes.heavy),
            write: s(sizes.write),
            tiles: s(sizes.tiles),
            cql2_budget,
            imports: crate::imports::ImportLimits::from_env(),
        }
    }

    /// These limits with other import limits.
    pub fn with_imports(mut self, imports: crate::imports::ImportLimits) -> Limits {
        self.imports = imports;
        self
    }

    /// [`Sizes::from_env`], and the budget from `GENGXIN_CQL2_BUDGET`.
    pub fn from_env() -> Limits {
        let budget = std::env::var("GENGXIN_CQL2_BUDGET")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(DEFAULT_CQL2_BUDGET);
        Limits::new(Sizes::from_env(), budget)
    }

    /// A permit of the class, or `None` when it is full (always one for [`Class::Light`]).
    pub fn try_acquire(&self, class: Class) -> Option<Option<OwnedSemaphorePermit>> {
        let sem = match class {
            Class::Light => return Some(None),
            Class::Read => &self.read,
            Class::Heavy => &self.heavy,
            Class::Write => &self.write,
            Class::Tiles => &self.tiles,
        };
        sem.clone().try_acquire_owned().ok().map(Some)
    }

    /// A permit of the class, or the `429` answer.
    pub fn permit(&self, class: Class) -> Result<Option<OwnedSemaphorePermit>, ApiError> {
        self.try_acquire(class).ok_or_else(|| busy(class))
    }
}

/// `429 too_many_requests` with `Retry-After`, in the JSON error shape.
pub fn busy(class: Class) -> ApiError {
    ApiError::busy(
        format!(
            "the server is busy with {} requests; try again in {RETRY_AFTER_S} s",
            class.name()
        ),
        RETRY_AFTER_S,
    )
}

/// The middleware: a permit of the request's class for as long as its handler runs.
pub async fn limit(State(limits): State<Arc<Limits>>, req: Request, next: Next) -> Response {
    let class = Class::of(req.method(), req.uri().path(), req.uri().query());
    match limits.permit(class) {
        Ok(_permit) => next.run(req).await,
        Err(busy) => busy.into_response(),
    }
}

/// Set when dropped: a handler holds it while its blocking work runs, so the work stops when the
/// client goes (axum drops the handler's future).
#[derive(Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    /// The flag the blocking work reads.
    pub fn flag(&self) -> Arc<AtomicBool> {
        self.0.clone()
    }
}

impl Drop for Cancel {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Whether the work should stop.
pub fn cancelled(flag: &AtomicBool) -> bool {
    flag.load(Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_classed_by_method_and_path() {
        let get = Method::GET;
        assert_eq!(Class::of(&get, "/api/health", None), Class::Light);
        assert_eq!(Class::of(&get, "/assets/app.js", None), Class::Light);
        assert_eq!(
            Class::of(&get, "/ogc/collections/parcels/items", Some("limit=5")),
            Class::Read
        );
        assert_eq!(
            Class::of(
                &get,
                "/ogc/collections/parcels/items",
                Some("filter=area_m2%3E1")
            ),
            Class::Heavy
        );
        assert_eq!(Class::of(&Method::POST, "/api/spatial", None), Class::Heavy);
        assert_eq!(
            Class::of(&Method::POST, "/api/layers/parcels/features", None),
            Class::Write
        );
        assert_eq!(
            Class::of(&Method::POST, "/api/auth/login", None),
            Class::Light
        );
        assert_eq!(Class::of(&get, "/api/search", Some("q=a")), Class::Heavy);
    }

    #[test]
    fn heavy_work_is_sized_from_the_cores() {
        assert_eq!(Sizes::for_cores(2).heavy, 8);
        assert_eq!(Sizes::for_cores(0).heavy, 4);
        assert_eq!(Sizes::for_cores(16).write, 32);
    }
}
