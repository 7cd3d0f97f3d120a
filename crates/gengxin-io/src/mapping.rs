//! Field mapping: from a source file's attributes to a layer's fields, with type conversion,
//! units and value tables.
//!
//! A mapping file (TOML) names, per field, the source attribute, its unit, a table of values and
//! a default:
//!
//! ```toml
//! id = "BLDG_NO"                       # the source attribute holding the feature id
//! [fields]
//! name = "NAME"                        # shorthand: just the source attribute
//! height_m = { from = "HGT_FT", unit = "ft" }
//! land_use = { from = "fclass", values = { residential = "0701", industrial = "1001" } }
//! district_code = { default = "420111" }
//! ```
//!
//! Without a mapping, each field takes the source attribute of the same name (ignoring case),
//! else the one named by the field's first 10 characters (a Shapefile's limit), else the one
//! named by the field's Chinese name (`名称`, `层数` …). A code-list field also accepts a code's
//! Chinese or English name (`住宅` → `residential`). The id comes from an attribute `id`.

use std::collections::BTreeMap;

use gengxin_model::{Field, FieldType, Layer, Value, vocab};
use serde::Deserialize;

use crate::{Attr, Record};

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    /// The source attribute with the feature id.
    pub id: Option<String>,
    #[serde(default)]
    pub fields: BTreeMap<String, FieldMap>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum FieldMap {
    From(String),
    Spec(Spec),
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    pub from: Option<String>,
    /// The source unit: `m`, `km`, `ft` for lengths, `m2`, `ha`, `mu`, `km2` for areas, `%`.
    pub unit: Option<String>,
    #[serde(default)]
    pub values: BTreeMap<String, String>,
    pub default: Option<toml::Value>,
}

impl Mapping {
    pub fn parse(text: &str) -> Result<Mapping, String> {
        toml::from_str(text).map_err(|e| format!("bad mapping: {e}"))
    }

    /// Checks the mapping against a layer: known fields, known units.
    pub fn check(&self, layer: &Layer) -> Result<(), String> {
        for (name, m) in &self.fields {
            if layer.field(name).is_none() {
                let known: Vec<&str> = layer.fields.iter().map(|f| f.name).collect();
                return Err(format!(
                    "mapping names field `{name}`, which layer {} does not have (it has {})",
                    layer.name,
                    known.join(", ")
                ));
            }
            if let FieldMap::Spec(Spec { unit: Some(u), .. }) = m {
                unit_factor(u).ok_or_else(|| {
                    format!(
                        "mapping of `{name}`: unknown unit {u:?} (m, km, ft, m2, ha, mu, km2, %)"
                    )
                })?;
            }
        }
        Ok(())
    }

    fn spec(&self, field: &str) -> Spec {
        match self.fields.get(field) {
            Some(FieldMap::From(s)) => Spec {
                from: Some(s.clone()),
                ..Spec::default()
            },
            Some(FieldMap::Spec(s)) => s.clone(),
            None => Spec::default(),
        }
    }

    /// The feature id of a record: the mapped attribute, else `id`, else none.
    pub fn id_of(&self, r: &Record) -> Option<String> {
        let name = self.id.as_deref().unwrap_or("id");
        find(r, name)
            .and_then(Attr::to_text)
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
    }

    /// The layer's properties from a record; errors name the field and the value.
    pub fn properties(&self, layer: &Layer, r: &Record) -> Result<BTreeMap<String, Value>, String> {
        let mut out = BTreeMap::new();
        for field in layer.fields {
            let spec = self.spec(field.name);
            let source = match &spec.from {
                Some(from) => find(r, from).cloned(),
                None => default_source(field, r).cloned(),
            };
            let source = source.filter(|a| *a != Attr::Null && *a != Attr::Text(String::new()));
            let value = match source {
                Some(a) => convert(field, &spec, a)?,
                None => match &spec.default {
                    Some(d) => toml_value(field, d)?,
                    None => continue,
                },
            };
            out.insert(field.name.to_owned(), value);
        }
        Ok(out)
    }
}

fn find<'r>(r: &'r Record, name: &str) -> Option<&'r Attr> {
    r.attr(name).or_else(|| {
        r.attrs
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}

fn default_source<'r>(field: &Field, r: &'r Record) -> Option<&'r Attr> {
    let short: String = field.name.chars().take(10).collect();
    find(r, field.name)
        .or_else(|| find(r, &short))
        .or_else(|| r.attr(field.zh))
}

/// The factor that converts a value in `unit` to the model's unit (metres, square metres).
pub fn unit_factor(unit: &str) -> Option<f64> {
    Some(match unit.to_ascii_lowercase().as_str() {
        "m" | "m2" | "%" => 1.0,
        "km" => 1000.0,
        "ft" => 0.3048,
        "ha" => 10_000.0,
        "mu" | "亩" => 10_000.0 / 15.0,
        "km2" => 1_000_000.0,
        _ => return None,
    })
}

fn convert(field: &Field, spec: &Spec, a: Attr) -> Result<Value, String> {
    let bad = |a: &Attr| {
        format!(
            "field `{}`: cannot read {} as {}",
            field.name,
            a.to_text().map(|t| format!("{t:?}")).unwrap_or_default(),
            gengxin_model::type_name(field.ty)
        )
    };
    // Value tables apply to the source text.
    let a = match a.to_text().and_then(|t| spec.values.get(&t)) {
        Some(v) => Attr::Text(v.clone()),
        None => a,
    };
    let factor = spec.unit.as_deref().and_then(unit_factor).unwrap_or(1.0);
    Ok(match field.ty {
        FieldType::Text => {
            let t = a.to_text().ok_or_else(|| bad(&a))?;
            let t = unescape_formula(&t);
            match field.codes {
                Some(codes) => Value::Text(code_of(codes, &t).unwrap_or(t)),
                None => Value::Text(t),
            }
        }
        FieldType::Int => match &a {
            Attr::Int(i) if factor == 1.0 => Value::Int(*i),
            _ => {
                let x = number(&a).ok_or_else(|| bad(&a))? * factor;
                if x.fract() != 0.0 || x.abs() > 9.0e15 {
                    return Err(bad(&a));
                }
                Value::Int(x as i64)
            }
        },
        FieldType::Real => Value::Real(number(&a).ok_or_else(|| bad(&a))? * factor),
        FieldType::Bool => match &a {
            Attr::Bool(b) => Value::Bool(*b),
            Attr::Int(0) => Value::Bool(false),
            Attr::Int(1) => Value::Bool(true),
            Attr::Text(t) => match t.trim().to_lowercase().as_str() {
                "true" | "t" | "yes" | "y" | "1" | "是" => Value::Bool(true),
                "false" | "f" | "no" | "n" | "0" | "否" => Value::Bool(false),
                _ => return Err(bad(&a)),
            },
            _ => return Err(bad(&a)),
        },
        FieldType::Date => {
            let t = a.to_text().ok_or_else(|| bad(&a))?;
            let t = t.trim().replace(['/', '.'], "-");
            let d = chrono::NaiveDate::parse_from_str(&t, "%Y-%m-%d").map_err(|_| bad(&a))?;
            Value::Text(d.format("%Y-%m-%d").to_string())
        }
        FieldType::DateTime => {
            let t = a.to_text().ok_or_else(|| bad(&a))?;
            if !gengxin_model::is_timestamp(t.trim()) {
                return Err(bad(&a));
            }
            Value::Text(t.trim().to_owned())
        }
    })
}

fn number(a: &Attr) -> Option<f64> {
    match a {
        Attr::Int(i) => Some(*i as f64),
        Attr::Real(r) => Some(*r),
        Attr::Text(t) => t.trim().parse::<f64>().ok().filter(|x| x.is_finite()),
        _ => None,
    }
}

fn code_of(codes: &[vocab::Code], t: &str) -> Option<String> {
    codes
        .iter()
        .find(|c| c.code == t || c.zh == t || c.en.eq_ignore_ascii_case(t))
        .map(|c| c.code.to_owned())
}

fn toml_value(field: &Field, d: &toml::Value) -> Result<Value, String> {
    let a = match d {
        toml::Value::String(s) => Attr::Text(s.clone()),
        toml::Value::Integer(i) => Attr::Int(*i),
        toml::Value::Float(f) => Attr::Real(*f),
        toml::Value::Boolean(b) => Attr::Bool(*b),
        other => {
            return Err(format!(
                "field `{}`: default {other} is not a plain value",
                field.name
            ));
        }
    };
    convert(field, &Spec::default(), a)
}

/// Undoes the formula-injection escape of Gengxin's CSV export (a `'` before `= + - @`).
pub fn unescape_formula(t: &str) -> String {
    match t.strip_prefix('\'') {
        Some(rest) if rest.starts_with(['=', '+', '-', '@', '\t', '\r']) => rest.to_owned(),
        _ => t.to_owned(),
    }
}
