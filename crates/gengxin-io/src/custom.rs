//! Custom layers: data that fits no model layer (plan layers, ad-hoc tables) keeps every source
//! attribute. A custom layer is a row of `custom_layers` (id = its name; its fields and their
//! types as JSON) and its features are rows of `custom_features` (any geometry) or `custom_rows`
//! (tables without geometry), each with `layer_id` and its properties as one JSON object. Both
//! backends store them like every other row (versions, hash, copy); [`features`] reads them back
//! typed.

use std::collections::BTreeMap;

use gengxin_model::{Feature, FieldType, Layer, LayerId, Value};
use gengxin_store::{Query, Store, StoreError};
use serde_json::{Map, Value as Json};

use crate::{Attr, Dataset, IoError};

/// A custom layer's definition.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomLayer {
    pub name: String,
    pub title: String,
    /// Whether features have geometry (`custom_features`) or not (`custom_rows`).
    pub spatial: bool,
    pub fields: Vec<(String, FieldType)>,
    pub import_id: Option<String>,
    /// Who reads it: a code of `vocab::CUSTOM_ACCESS`.
    pub access: String,
    /// The importing organisation, for `organisation` access.
    pub organisation_id: Option<String>,
}

impl CustomLayer {
    /// The store layer holding this custom layer's features.
    pub fn rows_layer(&self) -> LayerId {
        if self.spatial {
            LayerId::CustomFeatures
        } else {
            LayerId::CustomRows
        }
    }

    pub fn field_type(&self, name: &str) -> Option<FieldType> {
        self.fields.iter().find(|(n, _)| n == name).map(|(_, t)| *t)
    }

    pub fn to_row(&self, at: chrono::DateTime<chrono::Utc>, provenance: &str) -> Feature {
        let fields: Vec<Json> = self
            .fields
            .iter()
            .map(|(n, t)| serde_json::json!({"name": n, "type": t.code()}))
            .collect();
        let mut f = Feature::new(&self.name, provenance, at)
            .set("title", self.title.clone())
            .set("fields", Json::Array(fields).to_string());
        if self.spatial {
            f = f.set("geometry_type", "GEOMETRY");
        }
        if let Some(i) = &self.import_id {
            f = f.set("import_id", i.clone());
        }
        f = f.set("access", self.access.clone());
        if let Some(o) = &self.organisation_id {
            f = f.set("organisation_id", o.clone());
        }
        f
    }

    fn from_row(f: &Feature) -> Result<CustomLayer, StoreError> {
        let bad = || StoreError::Internal(format!("custom layer {}: damaged definition", f.id));
        let fields: Vec<Json> =
            serde_json::from_str(f.get("fields").as_str().unwrap_or("[]")).map_err(|_| bad())?;
        let fields = fields
            .iter()
            .map(|j| {
                let name = j.get("name")?.as_str()?.to_owned();
                let ty = FieldType::from_code(j.get("type")?.as_str()?)?;
                Some((name, ty))
            })
            .collect::<Option<Vec<_>>>()
            .ok_or_else(bad)?;
        Ok(CustomLayer {
            name: f.id.clone(),
            title: f.get("title").as_str().unwrap_or_default().to_owned(),
            spatial: f.get("geometry_type").as_str().is_some(),
            fields,
            import_id: f.get("import_id").as_str().map(str::to_owned),
            // Definitions made before access classes: signed-in users only.
            access: f.get("access").as_str().unwrap_or("staff").to_owned(),
            organisation_id: f.get("organisation_id").as_str().map(str::to_owned),
        })
    }
}

/// A custom layer name: 1–63 of `a-z 0-9 _`, starting with a letter, not a model layer's name.
pub fn check_name(name: &str) -> Result<(), IoError> {
    let ok = name.len() <= 63
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !ok {
        return Err(IoError::Usage(format!(
            "{name:?} is neither a model layer nor a valid custom layer name (1–63 of a-z, 0-9, _, starting with a letter)"
        )));
    }
    if Layer::by_name(name).is_some() {
        return Err(IoError::Usage(format!(
            "{name} is a model layer, not a custom one"
        )));
    }
    Ok(())
}

/// The access class asked for a new custom layer (default `organisation`).
pub fn check_access(asked: Option<&str>) -> Result<String, IoError> {
    let code = asked.unwrap_or("organisation");
    if gengxin_model::vocab::find(gengxin_model::vocab::CUSTOM_ACCESS, code).is_none() {
        return Err(IoError::Usage(format!(
            "access {code:?}: one of public, staff, organisation"
        )));
    }
    Ok(code.to_owned())
}

/// The definition of a new custom layer for a dataset: every source attribute, each with the
/// narrowest type that holds all its values (integer, number, true/false, date, else text; text
/// with a leading zero such as a code `0701` stays text).
pub fn infer(name: &str, ds: &Dataset, import_id: &str) -> CustomLayer {
    let mut inference = Inference::default();
    for r in &ds.records {
        inference.add(r);
    }
    inference.layer(name, &ds.fields, import_id)
}

/// What [`infer`] learns from the records, one record at a time (for a file read as a stream).
#[derive(Debug, Default)]
pub struct Inference {
    /// The narrowest type of each field's non-null values so far.
    types: BTreeMap<String, FieldType>,
    spatial: bool,
}

impl Inference {
    /// Whether any record had a geometry.
    pub fn spatial(&self) -> bool {
        self.spatial
    }

    pub fn add(&mut self, r: &crate::Record) {
        self.spatial |= r.geometry.is_some();
        for (k, a) in &r.attrs {
            let t = match a {
                Attr::Int(_) => FieldType::Int,
                Attr::Real(_) => FieldType::Real,
                Attr::Bool(_) => FieldType::Bool,
                Attr::Date(_) => FieldType::Date,
                Attr::Text(s) => text_type(s),
                Attr::Null => continue,
            };
            let merged = match self.types.get(k) {
                None => t,
                Some(a) if *a == t => t,
                Some(FieldType::Int | FieldType::Real)
                    if matches!(t, FieldType::Int | FieldType::Real) =>
                {
                    FieldType::Real
                }
                // Text takes anything: a field of mixed types is text.
                Some(_) => FieldType::Text,
            };
            self.types.insert(k.clone(), merged);
        }
    }

    /// The layer: `fields` (in source order) with their inferred types (text when only nulls
    /// were seen).
    pub fn layer(&self, name: &str, fields: &[String], import_id: &str) -> CustomLayer {
        CustomLayer {
            name: name.to_owned(),
            title: name.to_owned(),
            spatial: self.spatial,
            fields: fields
                .iter()
                .filter(|f| f.as_str() != "id")
                .map(|f| {
                    (
                        f.clone(),
                        self.types.get(f).copied().unwrap_or(FieldType::Text),
                    )
                })
                .collect(),
            import_id: Some(import_id.to_owned()),
            access: "organisation".to_owned(),
            organisation_id: None,
        }
    }
}

fn text_type(s: &str) -> FieldType {
    let t = s.trim();
    let leading_zero = t.len() > 1 && t.starts_with('0') && !t.starts_with("0.");
    if t != s || t.is_empty() || leading_zero {
        FieldType::Text
    } else if t.parse::<i64>().is_ok() {
        FieldType::Int
    } else if t.parse::<f64>().is_ok_and(f64::is_finite) {
        FieldType::Real
    } else if gengxin_model::is_date(t) {
        FieldType::Date
    } else if t == "true" || t == "false" {
        FieldType::Bool
    } else {
        FieldType::Text
    }
}

/// A record's properties converted to the custom layer's field types; `None` for empty values.
pub fn properties(
    layer: &CustomLayer,
    attrs: &[(String, Attr)],
) -> Result<Map<String, Json>, String> {
    let mut out = Map::new();
    for (name, ty) in &layer.fields {
        let Some(a) = attrs.iter().find(|(n, _)| n == name).map(|(_, a)| a) else {
            continue;
        };
        let bad = || {
            format!(
                "field `{name}`: cannot read {a:?} as {}",
                gengxin_model::type_name(*ty)
            )
        };
        let v = match (ty, a) {
            (_, Attr::Null) => continue,
            (FieldType::Int, Attr::Int(i)) => Json::from(*i),
            (FieldType::Int, Attr::Text(t)) => {
                Json::from(t.trim().parse::<i64>().map_err(|_| bad())?)
            }
            (FieldType::Real, Attr::Int(i)) => Json::from(*i as f64),
            (FieldType::Real, Attr::Real(r)) if r.is_finite() => Json::from(*r),
            (FieldType::Real, Attr::Text(t)) => Json::from(
                t.trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|x| x.is_finite())
                    .ok_or_else(bad)?,
            ),
            (FieldType::Bool, Attr::Bool(b)) => Json::from(*b),
            (FieldType::Bool, Attr::Text(t)) if t == "true" || t == "false" => {
                Json::from(t == "true")
            }
            (FieldType::Date, Attr::Date(d) | Attr::Text(d))
                if gengxin_model::is_date(d.trim()) =>
            {
                Json::from(d.trim())
            }
            (FieldType::Text, a) => Json::from(crate::mapping::unescape_formula(
                &a.to_text().unwrap_or_default(),
            )),
            _ => return Err(bad()),
        };
        out.insert(name.clone(), v);
    }
    Ok(out)
}

/// Every custom layer, by name.
pub async fn list(store: &dyn Store) -> Result<Vec<CustomLayer>, StoreError> {
    store
        .query(LayerId::CustomLayers, Query::default())
        .await?
        .iter()
        .map(CustomLayer::from_row)
        .collect()
}

/// One custom layer by name.
pub async fn get(store: &dyn Store, name: &str) -> Result<Option<CustomLayer>, StoreError> {
    match store.get(LayerId::CustomLayers, name).await? {
        Some(f) => Ok(Some(CustomLayer::from_row(&f)?)),
        None => Ok(None),
    }
}

/// The number of a custom layer's features.
pub async fn count(store: &dyn Store, layer: &CustomLayer) -> Result<u64, StoreError> {
    let rows = store
        .query(
            layer.rows_layer(),
            Query {
                equals: vec![("layer_id".into(), Value::Text(layer.name.clone()))],
                ..Query::default()
            },
        )
        .await?;
    Ok(rows.len() as u64)
}

/// A custom layer's features matching a query (its `equals` are ignored), with typed
/// properties and ids without the layer prefix, ordered by id.
pub async fn features(
    store: &dyn Store,
    layer: &CustomLayer,
    mut query: Query,
) -> Result<Vec<Feature>, StoreError> {
    let prefix = format!("{}:", layer.name);
    query.equals = vec![("layer_id".into(), Value::Text(layer.name.clone()))];
    query.after_id = query.after_id.map(|a| format!("{prefix}{a}"));
    let rows = store.query(layer.rows_layer(), query).await?;
    rows.into_iter().map(|f| typed(layer, f)).collect()
}

/// One feature of a custom layer by its id (without the layer prefix).
pub async fn feature(
    store: &dyn Store,
    layer: &CustomLayer,
    id: &str,
) -> Result<Option<Feature>, StoreError> {
    match store
        .get(layer.rows_layer(), &format!("{}:{id}", layer.name))
        .await?
    {
        Some(f) => Ok(Some(typed(layer, f)?)),
        None => Ok(None),
    }
}

/// A stored row as the custom layer's feature: properties typed, id without the prefix.
fn typed(layer: &CustomLayer, mut f: Feature) -> Result<Feature, StoreError> {
    let props: Map<String, Json> =
        serde_json::from_str(f.get("properties").as_str().unwrap_or("{}")).map_err(|_| {
            StoreError::Internal(format!("custom feature {}: damaged properties", f.id))
        })?;
    f.properties = props
        .into_iter()
        .map(|(k, v)| {
            let v = match (layer.field_type(&k), v) {
                (Some(FieldType::Int), Json::Number(n)) => {
                    n.as_i64().map_or(Value::Null, Value::Int)
                }
                (Some(FieldType::Real), Json::Number(n)) => {
                    n.as_f64().map_or(Value::Null, Value::Real)
                }
                (_, Json::Bool(b)) => Value::Bool(b),
                (_, Json::String(s)) => Value::Text(s),
                (_, Json::Null) => Value::Null,
                (_, other) => Value::Text(other.to_string()),
            };
            (k, v)
        })
        .collect::<BTreeMap<_, _>>();
    let prefix = format!("{}:", layer.name);
    f.id = f.id.strip_prefix(&prefix).unwrap_or(&f.id).to_owned();
    Ok(f)
}
