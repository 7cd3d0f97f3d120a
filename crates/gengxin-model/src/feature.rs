use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use geo_types::Geometry;

/// One typed property value. Dates and timestamps travel as ISO 8601 text.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Real(f64),
    Text(String),
}

impl Value {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Text(s) => Some(s),
            _ => None,
        }
    }
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(*i as f64),
            Value::Real(r) => Some(*r),
            _ => None,
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Text(s.to_owned())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Text(s)
    }
}
impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Int(i)
    }
}
impl From<f64> for Value {
    fn from(r: f64) -> Self {
        Value::Real(r)
    }
}
impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(o: Option<T>) -> Self {
        o.map_or(Value::Null, Into::into)
    }
}

/// One row of a layer. See the crate docs for the meaning of each part.
#[derive(Debug, Clone, PartialEq)]
pub struct Feature {
    /// Stable id, unique within its layer (administrative units use their statistics code).
    pub id: String,
    /// In EPSG:4490 lon/lat; `None` for rows of attribute layers.
    pub geometry: Option<Geometry<f64>>,
    /// Only fields declared by the layer; absent fields are null.
    pub properties: BTreeMap<String, Value>,
    /// The real source's name (e.g. `OpenStreetMap`) or [`crate::GENERATED`].
    pub provenance: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Starts at 1; every accepted update increments it.
    pub version: i64,
}

impl Feature {
    /// A new feature at version 1, created and updated at `at`.
    pub fn new(id: impl Into<String>, provenance: impl Into<String>, at: DateTime<Utc>) -> Self {
        Feature {
            id: id.into(),
            geometry: None,
            properties: BTreeMap::new(),
            provenance: provenance.into(),
            created_at: at,
            updated_at: at,
            version: 1,
        }
    }

    pub fn with_geometry(mut self, g: impl Into<Geometry<f64>>) -> Self {
        self.geometry = Some(g.into());
        self
    }

    /// Sets a property; `None` values are not stored (absent means null).
    pub fn set(mut self, name: &str, v: impl Into<Value>) -> Self {
        match v.into() {
            Value::Null => {}
            v => {
                self.properties.insert(name.to_owned(), v);
            }
        }
        self
    }

    pub fn get(&self, name: &str) -> &Value {
        self.properties.get(name).unwrap_or(&Value::Null)
    }
}

/// The one text form of timestamps in every store and on the wire: RFC 3339, UTC, milliseconds.
pub fn timestamp(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}
