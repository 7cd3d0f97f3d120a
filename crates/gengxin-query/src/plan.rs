//! The query plan, its evaluation, and the semantic checks both front ends share.
//!
//! The front ends (`text`, `json`) turn their syntax into [`Raw`] operands and call the builders
//! here ([`resolve`], [`comparison`], [`like`], [`in_list`], [`between`], [`is_null`]); these
//! return a [`Problem`] (with the [`Side`] to blame) that the front end locates in its input.

use std::cmp::Ordering;

use chrono::{DateTime, NaiveDate, Utc};
use gengxin_model::{Feature, FieldType, Layer, Value};
use geo::{BoundingRect, Contains, Intersects, Rect, Within};
use geo_types::Geometry;

use crate::geom::DWithin;
use crate::like::Pattern;
use crate::{ErrorKind, Limits};

/// A semantic or limit problem, before the front end says where it is.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Problem {
    pub kind: ErrorKind,
    pub message: String,
}

impl Problem {
    pub fn semantic(message: impl Into<String>) -> Self {
        Problem {
            kind: ErrorKind::Semantic,
            message: message.into(),
        }
    }
    pub fn expensive(message: impl Into<String>) -> Self {
        Problem {
            kind: ErrorKind::TooExpensive,
            message: message.into(),
        }
    }
    pub fn syntax(message: impl Into<String>) -> Self {
        Problem {
            kind: ErrorKind::Syntax,
            message: message.into(),
        }
    }
}

/// Which operand of a predicate a problem is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    /// The first operand (the property, usually).
    Left,
    /// The second operand (or, for IN, the item given by the index; for BETWEEN 1 = low, 2 = high).
    Right(usize),
}

/// The type of a property or literal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ty {
    Text,
    Int,
    Real,
    Bool,
    Date,
    Timestamp,
    Geometry,
}

impl Ty {
    fn of(ft: FieldType) -> Ty {
        match ft {
            FieldType::Text => Ty::Text,
            FieldType::Int => Ty::Int,
            FieldType::Real => Ty::Real,
            FieldType::Bool => Ty::Bool,
            FieldType::Date => Ty::Date,
            FieldType::DateTime => Ty::Timestamp,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Ty::Text => "text",
            Ty::Int => "an integer",
            Ty::Real => "a number",
            Ty::Bool => "a boolean",
            Ty::Date => "a date",
            Ty::Timestamp => "a timestamp",
            Ty::Geometry => "the geometry",
        }
    }

    fn numeric(self) -> bool {
        matches!(self, Ty::Int | Ty::Real)
    }

    fn ordered(self) -> bool {
        !matches!(self, Ty::Bool | Ty::Geometry)
    }

    /// How to write a literal of this type.
    fn hint(self) -> &'static str {
        match self {
            Ty::Text => "write text in single quotes, e.g. 'abc'",
            Ty::Int | Ty::Real => "write a number without quotes, e.g. 3 or 2.5",
            Ty::Bool => "write TRUE or FALSE",
            Ty::Date => "write DATE('2024-01-31') or '2024-01-31'",
            Ty::Timestamp => {
                "write TIMESTAMP('2024-01-31T08:00:00Z') or an RFC 3339 string such as '2024-01-31T08:00:00+08:00'"
            }
            Ty::Geometry => {
                "use it in S_INTERSECTS, S_WITHIN, S_CONTAINS, S_DISJOINT, S_DWITHIN or IS [NOT] NULL"
            }
        }
    }
}

/// Where a property's value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Src {
    Id,
    Provenance,
    Version,
    CreatedAt,
    UpdatedAt,
    Field,
    Geom,
}

/// A property resolved against the layer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Prop {
    pub name: &'static str,
    pub ty: Ty,
    pub src: Src,
}

const BUILTINS: [(&str, Ty, Src); 5] = [
    ("id", Ty::Text, Src::Id),
    ("provenance", Ty::Text, Src::Provenance),
    ("version", Ty::Int, Src::Version),
    ("created_at", Ty::Timestamp, Src::CreatedAt),
    ("updated_at", Ty::Timestamp, Src::UpdatedAt),
];

/// The names a filter on `layer` may use, for messages.
pub(crate) fn property_names(layer: &Layer) -> String {
    let mut names: Vec<&str> = BUILTINS.iter().map(|b| b.0).collect();
    names.extend(layer.fields.iter().map(|f| f.name));
    if layer.geometry.is_some() {
        names.push("geom");
    }
    names.join(", ")
}

/// Resolves a property name on `layer`.
pub(crate) fn resolve(layer: &'static Layer, name: &str) -> Result<Prop, Problem> {
    if let Some(&(n, ty, src)) = BUILTINS.iter().find(|b| b.0 == name) {
        return Ok(Prop { name: n, ty, src });
    }
    if let Some(f) = layer.field(name) {
        return Ok(Prop {
            name: f.name,
            ty: Ty::of(f.ty),
            src: Src::Field,
        });
    }
    if name == "geom" || name == "geometry" {
        if layer.geometry.is_none() {
            return Err(Problem::semantic(format!(
                "layer `{}` has no geometry, so `{name}` cannot be used; its properties are: {}",
                layer.name,
                property_names(layer)
            )));
        }
        return Ok(Prop {
            name: "geom",
            ty: Ty::Geometry,
            src: Src::Geom,
        });
    }
    let all: Vec<&str> = BUILTINS
        .iter()
        .map(|b| b.0)
        .chain(layer.fields.iter().map(|f| f.name))
        .chain(layer.geometry.map(|_| "geom"))
        .collect();
    let hint = match all.iter().find(|n| n.eq_ignore_ascii_case(name)) {
        Some(n) => format!(" (property names are case-sensitive: did you mean `{n}`?)"),
        None => String::new(),
    };
    Err(Problem::semantic(format!(
        "unknown property `{name}` on layer `{}`{hint}; its properties are: {}",
        layer.name,
        property_names(layer)
    )))
}

/// An operand as the front ends read it, before typing.
#[derive(Debug, Clone)]
pub(crate) enum Raw {
    Prop(Prop),
    Text(String),
    Int(i64),
    Real(f64),
    Bool(bool),
    Date(NaiveDate),
    Timestamp(DateTime<Utc>),
    /// A geometry literal outside a spatial predicate (always refused; kept to say so).
    Geom,
}

impl Raw {
    /// The literal as CQL2-Text would write it (the property name for a property).
    fn cql(&self) -> String {
        match self {
            Raw::Prop(p) => p.name.to_owned(),
            Raw::Text(s) => quote(s),
            Raw::Int(i) => i.to_string(),
            Raw::Real(r) => r.to_string(),
            Raw::Bool(b) => (if *b { "TRUE" } else { "FALSE" }).to_owned(),
            Raw::Date(d) => format!("DATE('{d}')"),
            Raw::Timestamp(t) => format!("TIMESTAMP('{}')", gengxin_model::timestamp(t)),
            Raw::Geom => "<geometry>".to_owned(),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Raw::Prop(p) => format!("property `{}` ({})", p.name, p.ty.name()),
            Raw::Text(s) => format!("the text {}", quote(s)),
            Raw::Int(i) => format!("the number {i}"),
            Raw::Real(r) => format!("the number {r}"),
            Raw::Bool(b) => format!("the boolean {}", if *b { "TRUE" } else { "FALSE" }),
            Raw::Date(d) => format!("the date {d}"),
            Raw::Timestamp(t) => format!("the timestamp {}", gengxin_model::timestamp(t)),
            Raw::Geom => "a geometry literal".into(),
        }
    }
}

/// A short, single-quoted rendering of user text for messages.
pub(crate) fn quote(s: &str) -> String {
    let mut out: String = s.chars().take(40).collect();
    if s.chars().count() > 40 {
        out.push('…');
    }
    format!("'{}'", out.replace('\'', "''"))
}

/// A literal typed for its property.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Lit {
    Text(String),
    Int(i64),
    Real(f64),
    Bool(bool),
    Date(NaiveDate),
    Instant(DateTime<Utc>),
}

/// A value read from a feature (or a literal, borrowed).
#[derive(Debug, Clone, Copy)]
pub(crate) enum V<'a> {
    Text(&'a str),
    Int(i64),
    Real(f64),
    Bool(bool),
    Date(NaiveDate),
    Instant(DateTime<Utc>),
}

impl Lit {
    fn v(&self) -> V<'_> {
        match self {
            Lit::Text(s) => V::Text(s),
            Lit::Int(i) => V::Int(*i),
            Lit::Real(r) => V::Real(*r),
            Lit::Bool(b) => V::Bool(*b),
            Lit::Date(d) => V::Date(*d),
            Lit::Instant(t) => V::Instant(*t),
        }
    }
}

impl Prop {
    /// The feature's value, `None` when null (or stored in a form the type cannot read).
    fn get<'f>(&self, f: &'f Feature) -> Option<V<'f>> {
        match self.src {
            Src::Id => Some(V::Text(&f.id)),
            Src::Provenance => Some(V::Text(&f.provenance)),
            Src::Version => Some(V::Int(f.version)),
            Src::CreatedAt => Some(V::Instant(f.created_at)),
            Src::UpdatedAt => Some(V::Instant(f.updated_at)),
            Src::Geom => None,
            Src::Field => match (self.ty, f.get(self.name)) {
                (_, Value::Null) => None,
                (Ty::Text, Value::Text(s)) => Some(V::Text(s)),
                (Ty::Int | Ty::Real, Value::Int(i)) => Some(V::Int(*i)),
                (Ty::Int | Ty::Real, Value::Real(r)) => Some(V::Real(*r)),
                (Ty::Bool, Value::Bool(b)) => Some(V::Bool(*b)),
                (Ty::Date, Value::Text(s)) => {
                    NaiveDate::parse_from_str(s, "%Y-%m-%d").ok().map(V::Date)
                }
                (Ty::Timestamp, Value::Text(s)) => DateTime::parse_from_rfc3339(s)
                    .ok()
                    .map(|t| V::Instant(t.with_timezone(&Utc))),
                _ => None,
            },
        }
    }

    fn is_null(&self, f: &Feature) -> bool {
        match self.src {
            Src::Geom => f.geometry.is_none(),
            Src::Field => matches!(f.get(self.name), Value::Null),
            _ => false,
        }
    }
}

fn compare(a: V<'_>, b: V<'_>) -> Option<Ordering> {
    match (a, b) {
        (V::Int(x), V::Int(y)) => Some(x.cmp(&y)),
        (V::Int(x), V::Real(y)) => (x as f64).partial_cmp(&y),
        (V::Real(x), V::Int(y)) => x.partial_cmp(&(y as f64)),
        (V::Real(x), V::Real(y)) => x.partial_cmp(&y),
        (V::Text(x), V::Text(y)) => Some(x.cmp(y)),
        (V::Bool(x), V::Bool(y)) => Some(x.cmp(&y)),
        (V::Date(x), V::Date(y)) => Some(x.cmp(&y)),
        (V::Instant(x), V::Instant(y)) => Some(x.cmp(&y)),
        _ => None,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CmpOp {
    Eq,
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
}

impl CmpOp {
    fn test(self, o: Ordering) -> bool {
        match self {
            CmpOp::Eq => o == Ordering::Equal,
            CmpOp::Ne => o != Ordering::Equal,
            CmpOp::Lt => o == Ordering::Less,
            CmpOp::Gt => o == Ordering::Greater,
            CmpOp::Le => o != Ordering::Greater,
            CmpOp::Ge => o != Ordering::Less,
        }
    }

    /// The operator with its operands swapped (`3 < x` is `x > 3`).
    fn flip(self) -> CmpOp {
        match self {
            CmpOp::Lt => CmpOp::Gt,
            CmpOp::Gt => CmpOp::Lt,
            CmpOp::Le => CmpOp::Ge,
            CmpOp::Ge => CmpOp::Le,
            o => o,
        }
    }

    pub fn symbol(self) -> &'static str {
        match self {
            CmpOp::Eq => "=",
            CmpOp::Ne => "<>",
            CmpOp::Lt => "<",
            CmpOp::Gt => ">",
            CmpOp::Le => "<=",
            CmpOp::Ge => ">=",
        }
    }

    pub fn from_symbol(s: &str) -> Option<CmpOp> {
        Some(match s {
            "=" => CmpOp::Eq,
            "<>" => CmpOp::Ne,
            "<" => CmpOp::Lt,
            ">" => CmpOp::Gt,
            "<=" => CmpOp::Le,
            ">=" => CmpOp::Ge,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone)]
pub(crate) enum Rhs {
    Lit(Lit),
    Prop(Prop),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SpatialOp {
    Intersects,
    Within,
    Contains,
    Disjoint,
    DWithin,
}

impl SpatialOp {
    pub fn from_name(s: &str) -> Option<SpatialOp> {
        Some(match s.to_ascii_uppercase().as_str() {
            "S_INTERSECTS" => SpatialOp::Intersects,
            "S_WITHIN" => SpatialOp::Within,
            "S_CONTAINS" => SpatialOp::Contains,
            "S_DISJOINT" => SpatialOp::Disjoint,
            "S_DWITHIN" => SpatialOp::DWithin,
            _ => return None,
        })
    }

    /// The operator seen from the other argument (`S_WITHIN(lit, geom)` is "geom contains lit").
    pub fn swapped(self) -> SpatialOp {
        match self {
            SpatialOp::Within => SpatialOp::Contains,
            SpatialOp::Contains => SpatialOp::Within,
            o => o,
        }
    }
}

/// A spatial predicate on the feature's geometry: "feature `op` literal".
#[derive(Debug, Clone)]
pub(crate) struct Spatial {
    pub op: SpatialOp,
    pub literal: Geometry<f64>,
    pub bbox: Rect<f64>,
    /// Set for [`SpatialOp::DWithin`].
    pub dwithin: Option<DWithin>,
}

/// A node of the plan.
#[derive(Debug, Clone)]
pub(crate) enum Node {
    And(Vec<Node>),
    Or(Vec<Node>),
    Not(Box<Node>),
    Cmp { prop: Prop, op: CmpOp, rhs: Rhs },
    Like { prop: Prop, pattern: Pattern },
    In { prop: Prop, list: Vec<Lit> },
    Between { prop: Prop, low: Lit, high: Lit },
    IsNull { prop: Prop },
    Spatial(Box<Spatial>),
}

fn rects_intersect(a: &Rect<f64>, b: &Rect<f64>) -> bool {
    a.min().x <= b.max().x
        && b.min().x <= a.max().x
        && a.min().y <= b.max().y
        && b.min().y <= a.max().y
}

fn rect_contains(outer: &Rect<f64>, inner: &Rect<f64>) -> bool {
    outer.min().x <= inner.min().x
        && outer.min().y <= inner.min().y
        && inner.max().x <= outer.max().x
        && inner.max().y <= outer.max().y
}

fn rect_finite(r: &Rect<f64>) -> bool {
    r.min().x.is_finite() && r.min().y.is_finite() && r.max().x.is_finite() && r.max().y.is_finite()
}

fn rect_area(r: &Rect<f64>) -> f64 {
    r.width() * r.height()
}

impl Node {
    /// See [`crate::Filter::cost`].
    pub fn cost(&self) -> u64 {
        match self {
            Node::And(items) | Node::Or(items) => items.iter().map(Node::cost).sum(),
            Node::Not(n) => n.cost(),
            Node::Cmp { .. } | Node::IsNull { .. } => 1,
            Node::Between { .. } => 2,
            Node::Like { .. } => 4,
            Node::In { list, .. } => 1 + list.len() as u64 / 8,
            Node::Spatial(s) => {
                use geo::CoordsIter;
                let coords = s.literal.coords_count() as u64;
                4 + coords / 8 + if s.dwithin.is_some() { 16 } else { 0 }
            }
        }
    }

    /// Combines nodes with AND, flattening nested ANDs.
    pub fn and(items: Vec<Node>) -> Node {
        Node::join(items, true)
    }

    /// Combines nodes with OR, flattening nested ORs.
    pub fn or(items: Vec<Node>) -> Node {
        Node::join(items, false)
    }

    fn join(items: Vec<Node>, and: bool) -> Node {
        let mut flat = Vec::with_capacity(items.len());
        for n in items {
            match (and, n) {
                (true, Node::And(inner)) | (false, Node::Or(inner)) => flat.extend(inner),
                (_, n) => flat.push(n),
            }
        }
        if flat.len() == 1 {
            return flat.pop().expect("one item");
        }
        if and { Node::And(flat) } else { Node::Or(flat) }
    }

    pub fn eval(&self, f: &Feature) -> bool {
        match self {
            Node::And(items) => items.iter().all(|n| n.eval(f)),
            Node::Or(items) => items.iter().any(|n| n.eval(f)),
            Node::Not(n) => !n.eval(f),
            Node::Cmp { prop, op, rhs } => {
                let Some(a) = prop.get(f) else { return false };
                let b = match rhs {
                    Rhs::Lit(l) => l.v(),
                    Rhs::Prop(p) => match p.get(f) {
                        Some(b) => b,
                        None => return false,
                    },
                };
                compare(a, b).is_some_and(|o| op.test(o))
            }
            Node::Like { prop, pattern } => match prop.get(f) {
                Some(V::Text(s)) => pattern.matches(s),
                _ => false,
            },
            Node::In { prop, list } => {
                let Some(a) = prop.get(f) else { return false };
                list.iter()
                    .any(|l| compare(a, l.v()) == Some(Ordering::Equal))
            }
            Node::Between { prop, low, high } => {
                let Some(a) = prop.get(f) else { return false };
                compare(a, low.v()).is_some_and(|o| o != Ordering::Less)
                    && compare(a, high.v()).is_some_and(|o| o != Ordering::Greater)
            }
            Node::IsNull { prop } => prop.is_null(f),
            Node::Spatial(s) => s.eval(f),
        }
    }

    pub fn envelope(&self) -> Option<Rect<f64>> {
        match self {
            // Every term must hold, so any term's envelope will do: take the smallest.
            Node::And(items) => items
                .iter()
                .filter_map(Node::envelope)
                .min_by(|a, b| rect_area(a).total_cmp(&rect_area(b))),
            Node::Or(items) => {
                let mut acc: Option<Rect<f64>> = None;
                for n in items {
                    let r = n.envelope()?;
                    acc = Some(match acc {
                        None => r,
                        Some(a) => Rect::new(
                            geo::coord! { x: a.min().x.min(r.min().x), y: a.min().y.min(r.min().y) },
                            geo::coord! { x: a.max().x.max(r.max().x), y: a.max().y.max(r.max().y) },
                        ),
                    });
                }
                acc
            }
            Node::Spatial(s) => match s.op {
                SpatialOp::Intersects | SpatialOp::Within | SpatialOp::Contains => Some(s.bbox),
                SpatialOp::DWithin => s.dwithin.as_ref().map(|d| d.envelope),
                SpatialOp::Disjoint => None,
            },
            _ => None,
        }
    }

    pub fn equalities(&self) -> Vec<(&'static str, Value)> {
        let terms: &[Node] = match self {
            Node::And(items) => items,
            n => std::slice::from_ref(n),
        };
        terms.iter().filter_map(Node::equality).collect()
    }

    fn equality(&self) -> Option<(&'static str, Value)> {
        let Node::Cmp {
            prop,
            op: CmpOp::Eq,
            rhs: Rhs::Lit(lit),
        } = self
        else {
            return None;
        };
        let v = match (prop.ty, lit) {
            (Ty::Text, Lit::Text(s)) => Value::Text(s.clone()),
            (Ty::Bool, Lit::Bool(b)) => Value::Bool(*b),
            (Ty::Int, Lit::Int(i)) => Value::Int(*i),
            (Ty::Int, Lit::Real(r)) if r.fract() == 0.0 && r.abs() < 9.0e15 => {
                Value::Int(*r as i64)
            }
            (Ty::Real, Lit::Real(r)) => Value::Real(*r),
            (Ty::Real, Lit::Int(i)) => Value::Real(*i as f64),
            (Ty::Date, Lit::Date(d)) => Value::Text(d.format("%Y-%m-%d").to_string()),
            (Ty::Timestamp, Lit::Instant(t)) => Value::Text(gengxin_model::timestamp(t)),
            _ => return None,
        };
        Some((prop.name, v))
    }

    pub fn properties(&self, out: &mut Vec<&'static str>) {
        let mut add = |p: &Prop| {
            if !out.contains(&p.name) {
                out.push(p.name);
            }
        };
        match self {
            Node::And(items) | Node::Or(items) => {
                for n in items {
                    n.properties(out);
                }
            }
            Node::Not(n) => n.properties(out),
            Node::Cmp { prop, rhs, .. } => {
                add(prop);
                if let Rhs::Prop(p) = rhs {
                    add(p);
                }
            }
            Node::Like { prop, .. }
            | Node::In { prop, .. }
            | Node::Between { prop, .. }
            | Node::IsNull { prop } => add(prop),
            Node::Spatial(_) => {
                if !out.contains(&"geom") {
                    out.push("geom");
                }
            }
        }
    }
}

impl Spatial {
    fn eval(&self, f: &Feature) -> bool {
        let Some(g) = &f.geometry else { return false };
        let Some(fb) = g.bounding_rect() else {
            return false;
        };
        if !rect_finite(&fb) {
            return false;
        }
        match self.op {
            SpatialOp::Intersects => {
                rects_intersect(&fb, &self.bbox) && g.intersects(&self.literal)
            }
            SpatialOp::Disjoint => {
                !rects_intersect(&fb, &self.bbox) || !g.intersects(&self.literal)
            }
            SpatialOp::Within => rect_contains(&self.bbox, &fb) && g.is_within(&self.literal),
            SpatialOp::Contains => rect_contains(&fb, &self.bbox) && g.contains(&self.literal),
            SpatialOp::DWithin => self.dwithin.as_ref().is_some_and(|d| d.matches(g, &fb)),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Builders shared by the front ends.

/// Types a literal for `prop`. Errors are about the literal (or, for the geometry, the property).
pub(crate) fn typed(prop: &Prop, raw: Raw) -> Result<Lit, Problem> {
    let mismatch = |raw: &Raw| {
        Problem::semantic(format!(
            "property `{}` is {}; it cannot be compared with {}: {}",
            prop.name,
            prop.ty.name(),
            raw.describe(),
            prop.ty.hint()
        ))
    };
    match (prop.ty, raw) {
        (_, Raw::Geom) => Err(Problem::semantic(
            "a geometry literal can only be an argument of S_INTERSECTS, S_WITHIN, S_CONTAINS, S_DISJOINT or S_DWITHIN",
        )),
        (Ty::Text, Raw::Text(s)) => Ok(Lit::Text(s)),
        (Ty::Int | Ty::Real, Raw::Int(i)) => Ok(Lit::Int(i)),
        (Ty::Int | Ty::Real, Raw::Real(r)) => Ok(Lit::Real(r)),
        (Ty::Bool, Raw::Bool(b)) => Ok(Lit::Bool(b)),
        (Ty::Date, Raw::Date(d)) => Ok(Lit::Date(d)),
        (Ty::Date, Raw::Text(s)) => {
            if gengxin_model::is_date(&s) {
                Ok(Lit::Date(
                    NaiveDate::parse_from_str(&s, "%Y-%m-%d").expect("checked by is_date"),
                ))
            } else {
                Err(Problem::semantic(format!(
                    "property `{}` is a date; {} is not a date YYYY-MM-DD: {}",
                    prop.name,
                    quote(&s),
                    prop.ty.hint()
                )))
            }
        }
        (Ty::Timestamp, Raw::Timestamp(t)) => Ok(Lit::Instant(t)),
        (Ty::Timestamp, Raw::Text(s)) => parse_timestamp(&s).map(Lit::Instant).ok_or_else(|| {
            Problem::semantic(format!(
                "property `{}` is a timestamp; {} is not an RFC 3339 timestamp: {}",
                prop.name,
                quote(&s),
                prop.ty.hint()
            ))
        }),
        (_, raw) => Err(mismatch(&raw)),
    }
}

/// An RFC 3339 timestamp in the years 0001–9999, as a UTC instant.
pub(crate) fn parse_timestamp(s: &str) -> Option<DateTime<Utc>> {
    if !gengxin_model::is_timestamp(s) {
        return None;
    }
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// A date written exactly `YYYY-MM-DD`.
pub(crate) fn parse_date(s: &str) -> Option<NaiveDate> {
    if !gengxin_model::is_date(s) {
        return None;
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
}

fn geometry_misuse(prop: &Prop) -> Problem {
    Problem::semantic(format!(
        "`{}` is the geometry; {}",
        prop.name,
        Ty::Geometry.hint()
    ))
}

/// The property on the left of a one-property predicate (LIKE, IN, BETWEEN, IS NULL).
fn subject(raw: Raw, what: &str) -> Result<Prop, (Problem, Side)> {
    match raw {
        Raw::Prop(p) => Ok(p),
        other => Err((
            Problem::semantic(format!(
                "{what} needs a property on its left, found {}",
                other.describe()
            )),
            Side::Left,
        )),
    }
}

/// `lhs op rhs`: at least one side must be a property.
pub(crate) fn comparison(lhs: Raw, op: CmpOp, rhs: Raw) -> Result<Node, (Problem, Side)> {
    match (lhs, rhs) {
        (Raw::Prop(p), _) if p.ty == Ty::Geometry => Err((geometry_misuse(&p), Side::Left)),
        (_, Raw::Prop(p)) if p.ty == Ty::Geometry => Err((geometry_misuse(&p), Side::Right(0))),
        (Raw::Prop(a), Raw::Prop(b)) => {
            let compatible = a.ty == b.ty || (a.ty.numeric() && b.ty.numeric());
            if !compatible {
                return Err((
                    Problem::semantic(format!(
                        "property `{}` is {} and property `{}` is {}; they cannot be compared",
                        a.name,
                        a.ty.name(),
                        b.name,
                        b.ty.name()
                    )),
                    Side::Right(0),
                ));
            }
            check_ordered(&a, op).map_err(|p| (p, Side::Left))?;
            Ok(Node::Cmp {
                prop: a,
                op,
                rhs: Rhs::Prop(b),
            })
        }
        (Raw::Prop(p), lit) => {
            check_ordered(&p, op).map_err(|e| (e, Side::Left))?;
            let lit = typed(&p, lit).map_err(|e| (e, Side::Right(0)))?;
            Ok(Node::Cmp {
                prop: p,
                op,
                rhs: Rhs::Lit(lit),
            })
        }
        (lit, Raw::Prop(p)) => {
            check_ordered(&p, op).map_err(|e| (e, Side::Right(0)))?;
            let lit = typed(&p, lit).map_err(|e| (e, Side::Left))?;
            Ok(Node::Cmp {
                prop: p,
                op: op.flip(),
                rhs: Rhs::Lit(lit),
            })
        }
        (a, b) => Err((
            Problem::semantic(format!(
                "a comparison needs a property on at least one side, e.g. floors > 3; `{} {} {}` compares two literals",
                a.cql(),
                op.symbol(),
                b.cql()
            )),
            Side::Left,
        )),
    }
}

fn check_ordered(p: &Prop, op: CmpOp) -> Result<(), Problem> {
    if matches!(op, CmpOp::Eq | CmpOp::Ne) || p.ty.ordered() {
        Ok(())
    } else {
        Err(Problem::semantic(format!(
            "property `{}` is {}; it can only be compared with = and <>, not {}",
            p.name,
            p.ty.name(),
            op.symbol()
        )))
    }
}

/// `prop LIKE pattern`.
pub(crate) fn like(lhs: Raw, pattern: Raw, limits: &Limits) -> Result<Node, (Problem, Side)> {
    let prop = subject(lhs, "LIKE")?;
    if prop.ty != Ty::Text {
        return Err((
            Problem::semantic(format!(
                "LIKE works on text properties; `{}` is {}",
                prop.name,
                prop.ty.name()
            )),
            Side::Left,
        ));
    }
    let Raw::Text(pat) = pattern else {
        return Err((
            Problem::semantic(format!(
                "a LIKE pattern must be text in single quotes, e.g. 'abc%'; found {}",
                pattern.describe()
            )),
            Side::Right(0),
        ));
    };
    let n = pat.chars().count();
    if n > limits.max_like_pattern {
        return Err((
            Problem::expensive(format!(
                "the LIKE pattern has {n} characters; the limit is {} (max_like_pattern)",
                limits.max_like_pattern
            )),
            Side::Right(0),
        ));
    }
    let pattern = Pattern::compile(&pat).map_err(|m| (Problem::semantic(m), Side::Right(0)))?;
    Ok(Node::Like { prop, pattern })
}

/// `prop IN (items)`; the caller has checked the list length.
pub(crate) fn in_list(lhs: Raw, items: Vec<Raw>) -> Result<Node, (Problem, Side)> {
    let prop = subject(lhs, "IN")?;
    if prop.ty == Ty::Geometry {
        return Err((geometry_misuse(&prop), Side::Left));
    }
    let mut list = Vec::with_capacity(items.len());
    for (i, raw) in items.into_iter().enumerate() {
        list.push(typed(&prop, raw).map_err(|e| (e, Side::Right(i)))?);
    }
    Ok(Node::In { prop, list })
}

/// `prop BETWEEN low AND high`.
pub(crate) fn between(lhs: Raw, low: Raw, high: Raw) -> Result<Node, (Problem, Side)> {
    let prop = subject(lhs, "BETWEEN")?;
    if prop.ty == Ty::Geometry {
        return Err((geometry_misuse(&prop), Side::Left));
    }
    if !prop.ty.ordered() {
        return Err((
            Problem::semantic(format!(
                "BETWEEN needs an ordered property (number, text, date or timestamp); `{}` is {}",
                prop.name,
                prop.ty.name()
            )),
            Side::Left,
        ));
    }
    let low = typed(&prop, low).map_err(|e| (e, Side::Right(1)))?;
    let high = typed(&prop, high).map_err(|e| (e, Side::Right(2)))?;
    Ok(Node::Between { prop, low, high })
}

/// `prop IS NULL`.
pub(crate) fn is_null(lhs: Raw) -> Result<Node, (Problem, Side)> {
    let prop = subject(lhs, "IS NULL")?;
    Ok(Node::IsNull { prop })
}

/// The property argument of a spatial predicate: it must be the geometry.
pub(crate) fn geometry_property(p: Prop) -> Result<Prop, Problem> {
    if p.ty == Ty::Geometry {
        Ok(p)
    } else {
        Err(Problem::semantic(format!(
            "spatial predicates take the geometry property `geom` and a geometry literal; `{}` is {}",
            p.name,
            p.ty.name()
        )))
    }
}

/// Counts against `max_nodes` and `max_depth`.
pub(crate) struct Budget<'l> {
    pub limits: &'l Limits,
    pub depth: usize,
    pub nodes: usize,
    pub coords: usize,
}

impl<'l> Budget<'l> {
    pub fn new(limits: &'l Limits) -> Self {
        Budget {
            limits,
            depth: 0,
            nodes: 0,
            coords: 0,
        }
    }

    /// One more node of the plan.
    pub fn node(&mut self) -> Result<(), Problem> {
        self.nodes += 1;
        if self.nodes > self.limits.max_nodes {
            return Err(Problem::expensive(format!(
                "the filter has more than {} predicates and logical operators (max_nodes)",
                self.limits.max_nodes
            )));
        }
        Ok(())
    }

    /// One level deeper; call before recursing, and [`Budget::leave`] after.
    pub fn enter(&mut self) -> Result<(), Problem> {
        if self.depth >= self.limits.max_depth {
            return Err(Problem::expensive(format!(
                "the filter is nested more than {} levels deep (max_depth)",
                self.limits.max_depth
            )));
        }
        self.depth += 1;
        Ok(())
    }

    pub fn leave(&mut self) {
        self.depth -= 1;
    }

    /// One more coordinate in a geometry literal.
    pub fn coord(&mut self) -> Result<(), Problem> {
        self.coords += 1;
        if self.coords > self.limits.max_geometry_coords {
            return Err(Problem::expensive(format!(
                "the geometry literals have more than {} coordinates (max_geometry_coords)",
                self.limits.max_geometry_coords
            )));
        }
        Ok(())
    }

    /// Checks an IN list that has reached `n` items.
    pub fn in_list(&self, n: usize) -> Result<(), Problem> {
        if n > self.limits.max_in_list {
            return Err(Problem::expensive(format!(
                "the IN list has more than {} values (max_in_list)",
                self.limits.max_in_list
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gengxin_model::LayerId;

    fn layer() -> &'static Layer {
        Layer::by_id(LayerId::Buildings)
    }

    #[test]
    fn resolve_knows_builtins_fields_and_geometry() {
        assert_eq!(resolve(layer(), "id").unwrap().src, Src::Id);
        assert_eq!(resolve(layer(), "floors").unwrap().ty, Ty::Int);
        assert_eq!(resolve(layer(), "geometry").unwrap().name, "geom");
        let e = resolve(layer(), "Floors").unwrap_err();
        assert!(e.message.contains("did you mean `floors`"), "{e:?}");
        let e = resolve(Layer::by_id(LayerId::Projects), "geom").unwrap_err();
        assert!(e.message.contains("has no geometry"), "{e:?}");
    }

    #[test]
    fn compare_mixes_int_and_real_but_not_types() {
        assert_eq!(compare(V::Int(3), V::Real(3.0)), Some(Ordering::Equal));
        assert_eq!(compare(V::Real(2.5), V::Int(3)), Some(Ordering::Less));
        assert_eq!(compare(V::Real(f64::NAN), V::Int(3)), None);
        assert_eq!(compare(V::Text("3"), V::Int(3)), None);
    }

    #[test]
    fn literal_on_the_left_flips_the_operator() {
        let p = resolve(layer(), "floors").unwrap();
        let n = comparison(Raw::Int(3), CmpOp::Lt, Raw::Prop(p)).unwrap();
        assert!(matches!(n, Node::Cmp { op: CmpOp::Gt, .. }), "{n:?}");
    }

    #[test]
    fn and_or_flatten() {
        let p = resolve(layer(), "floors").unwrap();
        let leaf = || Node::IsNull { prop: p };
        let n = Node::and(vec![Node::and(vec![leaf(), leaf()]), leaf()]);
        assert!(matches!(&n, Node::And(v) if v.len() == 3));
        let n = Node::or(vec![leaf()]);
        assert!(matches!(n, Node::IsNull { .. }));
    }
}
