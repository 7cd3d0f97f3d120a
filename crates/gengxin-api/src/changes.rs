//! Keeping clients current: the stream of committed writes (`GET /api/changes`, as server-sent
//! events), fed by `Store::changes` — which, on PostgreSQL, includes the writes of every other
//! server on the same database. The caches it also feeds are `gengxin_app::cache`.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use gengxin_model::Layer;
use gengxin_store::Change;
use serde::Serialize;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::BroadcastStream;
use utoipa::ToSchema;

use crate::AppState;

/// One announced write.
#[derive(Serialize, ToSchema)]
pub struct ChangeEvent {
    /// The layer written, or null when changes may have been missed (drop every cache).
    layer: Option<&'static str>,
    /// Ids written; empty when there were too many to list (the whole layer may have changed).
    ids: Vec<String>,
}

impl From<Change> for ChangeEvent {
    fn from(c: Change) -> Self {
        match c {
            Change::Features { layer, ids } => ChangeEvent {
                layer: Some(Layer::by_id(layer).name),
                ids,
            },
            Change::Unknown => ChangeEvent {
                layer: None,
                ids: vec![],
            },
        }
    }
}

/// Committed writes as they happen, as server-sent events named `change` with a
/// [`ChangeEvent`] as data.
#[utoipa::path(get, path = "/api/changes", responses(
    (status = 200, description = "Server-sent events", content_type = "text/event-stream", body = ChangeEvent),
))]
pub async fn stream(
    State(s): State<AppState>,
    who: crate::who::Who,
) -> Sse<impl tokio_stream::Stream<Item = Result<Event, Infallible>>> {
    let events = BroadcastStream::new(s.store.changes()).filter_map(move |c| {
        // A client too slow to keep up has missed some: tell it so.
        let c = match c.unwrap_or(Change::Unknown) {
            // Only layers the caller may read, and ids only where it sees every row.
            Change::Features { layer, ids } => {
                let l = gengxin_model::Layer::by_id(layer);
                gengxin_auth::policy::can_read_layer(&who.caller, l).ok()?;
                let all = l.access == gengxin_model::Access::Public
                    || who.caller.as_ref().is_some_and(|p| p.role.citywide());
                Change::Features {
                    layer,
                    ids: if all { ids } else { Vec::new() },
                }
            }
            Change::Unknown => Change::Unknown,
        };
        let data = serde_json::to_string(&ChangeEvent::from(c)).expect("serialisable");
        Some(Ok(Event::default().event("change").data(data)))
    });
    Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}
