//! Versioned changes: every write through the application (direct edits, merged submissions)
//! leaves a `record_history` row with who, when, and the row before and after. An object's
//! history and its state "as of" a time are read from them.
//!
//! The stored format of a row's state is this module's own (a GeoJSON Feature object whose
//! properties hold the fields and the bookkeeping — provenance, timestamps, version), written
//! and read here, so the wire format of the API can change without touching stored history.

use chrono::{DateTime, Utc};
use gengxin_model::{Feature, Layer, LayerId, Value};
use gengxin_store::{Query, Store, StoreError};
use serde_json::{Map, json};

/// A row's state as history stores it.
pub fn stored(f: &Feature) -> serde_json::Value {
    let mut props: Map<String, serde_json::Value> = f
        .properties
        .iter()
        .map(|(k, v)| (k.clone(), value(v)))
        .collect();
    props.insert("provenance".into(), json!(f.provenance));
    props.insert(
        "created_at".into(),
        json!(gengxin_model::timestamp(&f.created_at)),
    );
    props.insert(
        "updated_at".into(),
        json!(gengxin_model::timestamp(&f.updated_at)),
    );
    props.insert("version".into(), json!(f.version));
    let geometry = f
        .geometry
        .as_ref()
        .map(|g| geojson::Geometry::new(geojson::Value::from(g)));
    json!({ "type": "Feature", "id": f.id, "geometry": geometry, "properties": props })
}

fn value(v: &Value) -> serde_json::Value {
    match v {
        Value::Null => serde_json::Value::Null,
        Value::Bool(b) => json!(b),
        Value::Int(i) => json!(i),
        Value::Real(r) => json!(r),
        Value::Text(t) => json!(t),
    }
}

/// A history row for a change of `layer/id` from `before` to `after` (`None`: created / deleted)
/// at `now`.
pub fn entry(
    layer: &Layer,
    id: &str,
    before: Option<&Feature>,
    after: Option<&Feature>,
    actor: &str,
    submission: Option<&str>,
    now: DateTime<Utc>,
) -> Feature {
    let version = match (before, after) {
        (None, Some(a)) => a.version,
        (Some(b), _) => b.version + 1,
        (None, None) => 1,
    };
    // Time first, so a record's rows list in order (a re-created id starts again at version 1).
    let key = format!(
        "{}:{}:{}:{version:08}",
        layer.name,
        id,
        now.format("%Y%m%dT%H%M%S%.3fZ")
    );
    let mut after_json = after.map_or(serde_json::Value::Null, stored);
    if let Some(a) = after_json.get_mut("properties") {
        a["version"] = json!(version);
    }
    Feature::new(key, "gengxin", now)
        .set("layer", layer.name)
        .set("record_id", id)
        .set("record_version", version)
        .set("at", gengxin_model::timestamp(&now))
        .set("actor", actor)
        .set("submission_id", submission.map(str::to_owned))
        .set("before", before.map(|b| stored(b).to_string()))
        .set("after", after_json.to_string())
}

/// One change of an object, as stored.
#[derive(Debug, Clone)]
pub struct Change {
    pub version: Option<i64>,
    /// RFC 3339 UTC with milliseconds.
    pub at: Option<String>,
    pub actor: Option<String>,
    pub submission_id: Option<String>,
    /// The state before (`null` when created) and after (`null` when deleted), in the stored
    /// format.
    pub before: serde_json::Value,
    pub after: serde_json::Value,
}

impl Change {
    /// The fields of the state before the change that decide its scope (district, project …),
    /// as a feature, for deciding who may see a deleted object's history.
    pub fn scope_before(&self) -> Option<Feature> {
        let props = self.before.get("properties")?.as_object()?;
        let mut f = Feature::new(self.before.get("id")?.as_str()?, "x", Utc::now());
        for (k, v) in props {
            if let Some(t) = v.as_str() {
                f.properties.insert(k.clone(), Value::Text(t.to_owned()));
            }
        }
        Some(f)
    }
}

fn parse(v: &Value) -> serde_json::Value {
    v.as_str()
        .and_then(|t| serde_json::from_str(t).ok())
        .unwrap_or(serde_json::Value::Null)
}

/// The changes of one object, oldest first.
pub async fn changes(
    store: &dyn Store,
    layer: &Layer,
    id: &str,
) -> Result<Vec<Change>, StoreError> {
    let rows = store
        .query(
            LayerId::RecordHistory,
            Query {
                equals: vec![
                    ("layer".into(), Value::Text(layer.name.into())),
                    ("record_id".into(), Value::Text(id.to_owned())),
                ],
                ..Query::default()
            },
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| Change {
            version: r.get("record_version").as_i64(),
            at: r.get("at").as_str().map(str::to_owned),
            actor: r.get("actor").as_str().map(str::to_owned),
            submission_id: r.get("submission_id").as_str().map(str::to_owned),
            before: parse(r.get("before")),
            after: parse(r.get("after")),
        })
        .collect())
}

/// The state after the last change at or before `stamp` (RFC 3339 UTC), `null` when the object
/// did not exist then or was deleted.
pub fn state_at(changes: &[Change], stamp: &str) -> serde_json::Value {
    changes
        .iter()
        .rfind(|c| c.at.as_deref().is_some_and(|a| a <= stamp))
        .map_or(serde_json::Value::Null, |c| c.after.clone())
}
