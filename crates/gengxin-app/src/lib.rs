//! Gengxin's application layer: the use cases, over one `Arc<dyn Store>`, shared by the HTTP API
//! and the command line. It knows transactions, the audit chain, record history, the job queue
//! and evaluation runs; it knows nothing of HTTP (no axum, no utoipa, no status codes: the
//! tidy test in `gengxin-api` holds every crate to its allowed dependencies).
//!
//! A module of the product is a pure crate or engine module (rules, no I/O), a module here (use
//! cases, transactions, jobs) and a router in `gengxin-api` (the wire format).

pub mod accounts;
pub mod audit;
pub mod cache;
mod error;
pub mod evaluation;
pub mod history;
pub mod imports;
pub mod jobs;
pub mod keys;
pub mod reporting;
pub mod sessions;
pub mod visibility;

use std::net::IpAddr;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use gengxin_auth::Caller;
use gengxin_store::Store;

pub use error::AppError;

/// The application over one store: what every use case needs.
#[derive(Clone)]
pub struct App {
    pub store: Arc<dyn Store>,
    /// Whole layers in memory, current with the store's announcements.
    pub snapshots: Arc<cache::Snapshots>,
    /// One audit-log writer at a time in this process (other processes retry on the chain head).
    audit_lock: Arc<tokio::sync::Mutex<()>>,
    /// The walking network, kept while the roads are unchanged.
    walks: Arc<cache::Derived<(), Arc<evaluation::Walk>>>,
    /// Requests of this process start or join the evaluation job one at a time (the job itself
    /// is claimed in the store: one run across servers).
    evaluating: Arc<tokio::sync::Mutex<()>>,
    clock: Clock,
    /// The key outside the store: given, or found from the store's location on first use.
    keys: Arc<tokio::sync::OnceCell<keys::Keys>>,
}

/// Where "now" comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clock {
    System,
    /// One fixed time (`SOURCE_DATE_EPOCH` at the command line): the same command gives the
    /// same store on every run.
    Fixed(DateTime<Utc>),
}

impl App {
    pub fn new(store: Arc<dyn Store>) -> App {
        App {
            snapshots: Arc::new(cache::Snapshots::new(&*store)),
            store,
            audit_lock: Arc::default(),
            walks: Arc::default(),
            evaluating: Arc::default(),
            clock: Clock::System,
            keys: Arc::default(),
        }
    }

    /// The same application with these keys (else they are found from the store's location,
    /// see [`keys`]).
    pub fn with_keys(mut self, k: keys::Keys) -> App {
        self.keys = Arc::new(tokio::sync::OnceCell::new_with(Some(k)));
        self
    }

    /// The store's keys; a store without one (PostgreSQL without `GENGXIN_KEY_FILE`) refuses
    /// every write that needs them.
    pub async fn keys(&self) -> Result<&keys::Keys, gengxin_store::StoreError> {
        self.keys
            .get_or_try_init(|| async {
                let location = self.store.info().await?.location;
                keys::Keys::for_store(&location)
                    .map_err(|e| gengxin_store::StoreError::Unavailable(e.to_string()))
            })
            .await
    }

    pub fn with_clock(mut self, clock: Clock) -> App {
        self.clock = clock;
        self
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// A layer as the store holds it now (or as of the last announcement received).
    pub async fn snapshot(
        &self,
        layer: gengxin_model::LayerId,
    ) -> Result<Arc<cache::Snapshot>, AppError> {
        self.snapshots.get(&*self.store, layer).await
    }
}

impl Clock {
    pub fn now(self) -> DateTime<Utc> {
        match self {
            Clock::System => Utc::now(),
            Clock::Fixed(t) => t,
        }
    }
}

/// Who acts, for the audit log and the record history: a signed-in user or the public (with the
/// address the request came from), the system (jobs), or an operator at the command line.
#[derive(Debug, Clone, Default)]
pub struct Actor {
    pub caller: Caller,
    pub ip: Option<IpAddr>,
    /// The operator's name, for work done at the command line (which has the store itself and
    /// so every right).
    pub operator: Option<String>,
}

impl Actor {
    /// A caller of the API.
    pub fn caller(caller: Caller, ip: Option<IpAddr>) -> Actor {
        Actor {
            caller,
            ip,
            operator: None,
        }
    }

    /// An operator at the command line.
    pub fn operator(name: impl Into<String>) -> Actor {
        Actor {
            operator: Some(name.into()),
            ..Actor::default()
        }
    }

    /// The actor's name for the audit log (`-` for the public).
    pub fn name(&self) -> String {
        match (&self.operator, &self.caller) {
            (Some(o), _) => o.clone(),
            (None, Some(p)) => p.username.clone(),
            (None, None) => "-".to_owned(),
        }
    }

    /// The role recorded: the principal's, `operator` at the command line, else `public`.
    pub fn role(&self) -> &'static str {
        match (&self.operator, &self.caller) {
            (Some(_), _) => "operator",
            (None, Some(p)) => p.role.code(),
            (None, None) => "public",
        }
    }
}
