//! CQL2-JSON: `{"op": …, "args": […]}` expressions into the plan, with RFC 6901 pointers in errors.
//!
//! A JSON string is first scanned for its nesting (no recursion, no allocation per level), so a
//! deeply nested document is refused as too expensive before serde_json decodes it; the decoder
//! then checks the expression depth before every recursion, so an already-decoded deep
//! [`serde_json::Value`] cannot overflow the stack either.

use gengxin_model::Layer;
use geo_types::{
    Coord, Geometry, LineString, MultiLineString, MultiPoint, MultiPolygon, Point, Polygon,
};
use serde_json::{Map, Value};

use crate::geom::{self, SpatialArg};
use crate::plan::{self, Budget, CmpOp, Node, Problem, Raw, Side, SpatialOp};
use crate::{ErrorKind, Limits, QueryError};

type R<T> = Result<T, QueryError>;

fn err(pointer: &str, p: Problem) -> QueryError {
    QueryError {
        kind: p.kind,
        message: p.message,
        pointer: pointer.to_owned(),
        position: None,
    }
}

fn syntax(pointer: &str, message: impl Into<String>) -> QueryError {
    err(pointer, Problem::syntax(message))
}

fn semantic(pointer: &str, message: impl Into<String>) -> QueryError {
    err(pointer, Problem::semantic(message))
}

/// Escapes one reference token of a JSON Pointer (RFC 6901).
fn token(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

pub(crate) fn parse_str(src: &str, layer: &'static Layer, limits: &Limits) -> R<Node> {
    if src.trim().is_empty() {
        return Err(syntax(
            "",
            "the filter is empty; write a CQL2-JSON expression such as {\"op\": \">\", \"args\": [{\"property\": \"floors\"}, 3]}",
        ));
    }
    scan_depth(src, limits)?;
    let v: Value = serde_json::from_str(src).map_err(|e| {
        let kind = if e.to_string().contains("recursion limit") {
            ErrorKind::TooExpensive
        } else {
            ErrorKind::Syntax
        };
        QueryError::new(kind, format!("the filter is not valid JSON: {e}"))
    })?;
    parse_value(&v, layer, limits)
}

/// Refuses JSON nested deeper than any filter within `max_depth` can be (two JSON levels per
/// expression, plus geometry coordinates), with a pointer to where it happens.
fn scan_depth(src: &str, limits: &Limits) -> R<()> {
    enum Frame {
        Object { key: String, expect_key: bool },
        Array { index: usize },
    }
    let max = 2 * limits.max_depth + 16;
    let b = src.as_bytes();
    let mut stack: Vec<Frame> = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' => {
                // A string: find its end; remember it if it is an object key.
                let start = i + 1;
                let mut j = start;
                while j < b.len() && b[j] != b'"' {
                    j += if b[j] == b'\\' { 2 } else { 1 };
                }
                let end = j.min(b.len());
                if let Some(Frame::Object {
                    key,
                    expect_key: true,
                }) = stack.last_mut()
                {
                    *key = String::from_utf8_lossy(&b[start..end])
                        .replace("\\\"", "\"")
                        .replace("\\\\", "\\");
                }
                i = end + 1;
                continue;
            }
            open @ (b'{' | b'[') => {
                if stack.len() >= max {
                    let mut pointer = String::new();
                    for f in &stack {
                        pointer.push('/');
                        match f {
                            Frame::Object { key, .. } => pointer.push_str(&token(key)),
                            Frame::Array { index } => pointer.push_str(&index.to_string()),
                        }
                    }
                    return Err(err(
                        &pointer,
                        Problem::expensive(format!(
                            "the JSON filter is nested more than {max} levels deep; expressions may nest {} levels (max_depth)",
                            limits.max_depth
                        )),
                    ));
                }
                stack.push(if open == b'{' {
                    Frame::Object {
                        key: String::new(),
                        expect_key: true,
                    }
                } else {
                    Frame::Array { index: 0 }
                });
            }
            b'}' | b']' => {
                stack.pop();
            }
            b',' => match stack.last_mut() {
                Some(Frame::Object { expect_key, .. }) => *expect_key = true,
                Some(Frame::Array { index }) => *index += 1,
                None => {}
            },
            b':' => {
                if let Some(Frame::Object { expect_key, .. }) = stack.last_mut() {
                    *expect_key = false;
                }
            }
            _ => {}
        }
        i += 1;
    }
    Ok(())
}

pub(crate) fn parse_value(v: &Value, layer: &'static Layer, limits: &Limits) -> R<Node> {
    let mut p = Parser {
        layer,
        budget: Budget::new(limits),
    };
    p.expr(v, "")
}

struct Parser<'l> {
    layer: &'static Layer,
    budget: Budget<'l>,
}

const OPERATORS: &str = "and, or, not, =, <>, <, >, <=, >=, like, in, between, isNull, s_intersects, s_within, s_contains, s_disjoint, s_dwithin";

impl Parser<'_> {
    /// A boolean expression at `ptr`.
    fn expr(&mut self, v: &Value, ptr: &str) -> R<Node> {
        let obj = match v {
            Value::Object(o) => o,
            Value::Bool(_) => {
                return Err(semantic(
                    ptr,
                    "a filter must be a condition on the data; a bare true or false is refused",
                ));
            }
            other => {
                return Err(syntax(
                    ptr,
                    format!(
                        "expected an expression {{\"op\": …, \"args\": […]}}, found {}",
                        kind(other)
                    ),
                ));
            }
        };
        let Some(op) = obj.get("op") else {
            if obj.contains_key("property")
                || ["date", "timestamp", "bbox", "type"]
                    .iter()
                    .any(|k| obj.contains_key(*k))
            {
                return Err(semantic(
                    ptr,
                    "expected a condition {\"op\": …, \"args\": […]}, found a property or literal",
                ));
            }
            return Err(syntax(
                ptr,
                "expected an expression {\"op\": …, \"args\": […]}: the member \"op\" is missing",
            ));
        };
        if let Some(k) = obj.keys().find(|k| *k != "op" && *k != "args") {
            return Err(syntax(
                &format!("{ptr}/{}", token(k)),
                format!(
                    "unknown member {k:?} in an expression; an expression has \"op\" and \"args\""
                ),
            ));
        }
        let op_ptr = format!("{ptr}/op");
        let Value::String(op) = op else {
            return Err(syntax(
                &op_ptr,
                format!("\"op\" must be a string, found {}", kind(op)),
            ));
        };
        let args_ptr = format!("{ptr}/args");
        let args = match obj.get("args") {
            Some(Value::Array(a)) => a,
            Some(other) => {
                return Err(syntax(
                    &args_ptr,
                    format!("\"args\" must be an array, found {}", kind(other)),
                ));
            }
            None => {
                return Err(syntax(
                    ptr,
                    format!("the expression {op:?} has no \"args\" array"),
                ));
            }
        };
        let arg = |i: usize| format!("{ptr}/args/{i}");
        let lower = op.to_ascii_lowercase();
        let arity = |n: &[usize]| -> R<()> {
            if n.contains(&args.len()) {
                Ok(())
            } else {
                let want = match n {
                    [a] => a.to_string(),
                    [a, b] => format!("{a} or {b}"),
                    _ => format!("{n:?}"),
                };
                Err(syntax(
                    &args_ptr,
                    format!("\"{op}\" takes {want} arguments, found {}", args.len()),
                ))
            }
        };
        let blame = |s: Side| match s {
            Side::Left => arg(0),
            Side::Right(_) => arg(1),
        };
        match lower.as_str() {
            "and" | "or" => {
                if args.len() < 2 {
                    return Err(syntax(
                        &args_ptr,
                        format!("\"{op}\" takes at least 2 arguments, found {}", args.len()),
                    ));
                }
                let mut items = Vec::with_capacity(args.len());
                for (i, a) in args.iter().enumerate() {
                    let p = arg(i);
                    if i > 0 {
                        self.budget.node().map_err(|e| err(&p, e))?;
                    }
                    items.push(self.sub(a, &p)?);
                }
                Ok(if lower == "and" {
                    Node::and(items)
                } else {
                    Node::or(items)
                })
            }
            "not" => {
                arity(&[1])?;
                self.budget.node().map_err(|e| err(ptr, e))?;
                Ok(Node::Not(Box::new(self.sub(&args[0], &arg(0))?)))
            }
            "=" | "<>" | "<" | ">" | "<=" | ">=" => {
                arity(&[2])?;
                self.budget.node().map_err(|e| err(ptr, e))?;
                let op = CmpOp::from_symbol(&lower).expect("listed");
                let a = self.operand(&args[0], &arg(0))?;
                let b = self.operand(&args[1], &arg(1))?;
                plan::comparison(a, op, b).map_err(|(p, s)| err(&blame(s), p))
            }
            "like" => {
                arity(&[2])?;
                self.budget.node().map_err(|e| err(ptr, e))?;
                let a = self.operand(&args[0], &arg(0))?;
                let b = self.operand(&args[1], &arg(1))?;
                plan::like(a, b, self.budget.limits).map_err(|(p, s)| err(&blame(s), p))
            }
            "in" => {
                arity(&[2])?;
                self.budget.node().map_err(|e| err(ptr, e))?;
                let a = self.operand(&args[0], &arg(0))?;
                let list_ptr = arg(1);
                let Value::Array(list) = &args[1] else {
                    return Err(syntax(
                        &list_ptr,
                        format!(
                            "the second argument of \"in\" must be an array of values, found {}",
                            kind(&args[1])
                        ),
                    ));
                };
                if list.is_empty() {
                    return Err(syntax(&list_ptr, "an \"in\" list needs at least one value"));
                }
                let mut items = Vec::with_capacity(list.len().min(self.budget.limits.max_in_list));
                for (i, item) in list.iter().enumerate() {
                    let p = format!("{list_ptr}/{i}");
                    self.budget.in_list(i + 1).map_err(|e| err(&p, e))?;
                    items.push(self.operand(item, &p)?);
                }
                plan::in_list(a, items).map_err(|(p, s)| match s {
                    Side::Left => err(&arg(0), p),
                    Side::Right(i) => err(&format!("{list_ptr}/{i}"), p),
                })
            }
            "between" => {
                arity(&[3])?;
                self.budget.node().map_err(|e| err(ptr, e))?;
                let a = self.operand(&args[0], &arg(0))?;
                let lo = self.operand(&args[1], &arg(1))?;
                let hi = self.operand(&args[2], &arg(2))?;
                plan::between(a, lo, hi).map_err(|(p, s)| match s {
                    Side::Left => err(&arg(0), p),
                    Side::Right(1) => err(&arg(1), p),
                    Side::Right(_) => err(&arg(2), p),
                })
            }
            "isnull" => {
                arity(&[1])?;
                self.budget.node().map_err(|e| err(ptr, e))?;
                let a = self.operand(&args[0], &arg(0))?;
                plan::is_null(a).map_err(|(p, _)| err(&arg(0), p))
            }
            name => {
                let Some(sop) = SpatialOp::from_name(name) else {
                    return Err(semantic(
                        &op_ptr,
                        format!("unknown operator {op:?}; the operators are {OPERATORS}"),
                    ));
                };
                if sop == SpatialOp::DWithin {
                    arity(&[3, 4])?;
                } else {
                    arity(&[2])?;
                }
                self.budget.node().map_err(|e| err(ptr, e))?;
                let a = self.spatial_arg(&args[0], &arg(0))?;
                let b = self.spatial_arg(&args[1], &arg(1))?;
                let mut distance = 0.0;
                if sop == SpatialOp::DWithin {
                    let factor = match args.get(3) {
                        None => 1.0,
                        Some(Value::String(u)) => {
                            geom::unit_factor(u).map_err(|p| err(&arg(3), p))?
                        }
                        Some(other) => {
                            return Err(syntax(
                                &arg(3),
                                format!(
                                    "the S_DWITHIN unit must be a string (\"meters\" or \"kilometers\"), found {}",
                                    kind(other)
                                ),
                            ));
                        }
                    };
                    let d = match &args[2] {
                        Value::Number(n) => n.as_f64().unwrap_or(f64::NAN),
                        other => {
                            return Err(semantic(
                                &arg(2),
                                format!(
                                    "the S_DWITHIN distance must be a number of metres, found {}",
                                    kind(other)
                                ),
                            ));
                        }
                    };
                    distance = geom::check_distance(d * factor, self.budget.limits)
                        .map_err(|p| err(&arg(2), p))?;
                }
                geom::spatial_node(sop, a, b, distance).map_err(|(p, s)| err(&blame(s), p))
            }
        }
    }

    /// A nested expression: one level deeper, checked before recursing.
    fn sub(&mut self, v: &Value, ptr: &str) -> R<Node> {
        self.budget.enter().map_err(|p| err(ptr, p))?;
        let r = self.expr(v, ptr);
        self.budget.leave();
        r
    }

    /// A property or a scalar literal.
    fn operand(&mut self, v: &Value, ptr: &str) -> R<Raw> {
        match v {
            Value::String(s) => Ok(Raw::Text(s.clone())),
            Value::Number(n) => match n.as_i64() {
                Some(i) => Ok(Raw::Int(i)),
                None => match n.as_f64() {
                    Some(f) if f.is_finite() => Ok(Raw::Real(f)),
                    _ => Err(semantic(ptr, format!("the number {n} is out of range"))),
                },
            },
            Value::Bool(b) => Ok(Raw::Bool(*b)),
            Value::Null => Err(semantic(
                ptr,
                "null is not a value; test for null with {\"op\": \"isNull\", \"args\": [{\"property\": …}]}",
            )),
            Value::Array(_) => Err(semantic(
                ptr,
                "an array is only allowed as the list of \"in\"",
            )),
            Value::Object(o) => self.object_operand(o, ptr),
        }
    }

    fn object_operand(&mut self, o: &Map<String, Value>, ptr: &str) -> R<Raw> {
        let single = |key: &str| -> R<&str> {
            if let Some(k) = o.keys().find(|k| *k != key) {
                return Err(syntax(
                    &format!("{ptr}/{}", token(k)),
                    format!("unknown member {k:?} next to {key:?}"),
                ));
            }
            match &o[key] {
                Value::String(s) => Ok(s),
                other => Err(syntax(
                    &format!("{ptr}/{}", token(key)),
                    format!("{key:?} must be a string, found {}", kind(other)),
                )),
            }
        };
        if o.contains_key("property") {
            let name = single("property")?;
            return plan::resolve(self.layer, name)
                .map(Raw::Prop)
                .map_err(|p| err(ptr, p));
        }
        if o.contains_key("date") {
            let s = single("date")?;
            return plan::parse_date(s).map(Raw::Date).ok_or_else(|| {
                semantic(
                    ptr,
                    format!(
                        "{} is not a date: write {{\"date\": \"YYYY-MM-DD\"}}, e.g. {{\"date\": \"2024-01-31\"}}",
                        plan::quote(s)
                    ),
                )
            });
        }
        if o.contains_key("timestamp") {
            let s = single("timestamp")?;
            return plan::parse_timestamp(s).map(Raw::Timestamp).ok_or_else(|| {
                semantic(
                    ptr,
                    format!(
                        "{} is not an RFC 3339 timestamp: write e.g. {{\"timestamp\": \"2024-01-31T08:00:00Z\"}}",
                        plan::quote(s)
                    ),
                )
            });
        }
        if o.contains_key("bbox") || o.contains_key("type") {
            self.geometry(o, ptr)?;
            return Ok(Raw::Geom);
        }
        if let Some(Value::String(op)) = o.get("op") {
            return Err(semantic(
                ptr,
                format!(
                    "expected a property or a literal, found the expression {op:?}; there is no arithmetic and there are no functions in values"
                ),
            ));
        }
        if o.contains_key("interval") {
            return Err(semantic(ptr, "intervals are not supported"));
        }
        Err(syntax(
            ptr,
            "expected a property {\"property\": …}, a literal (string, number, boolean, {\"date\": …}, {\"timestamp\": …}) or a geometry",
        ))
    }

    fn spatial_arg(&mut self, v: &Value, ptr: &str) -> R<SpatialArg> {
        let expected = |found: &str| {
            format!(
                "expected {{\"property\": \"geom\"}}, a GeoJSON geometry or {{\"bbox\": […]}}, found {found}"
            )
        };
        let Value::Object(o) = v else {
            return Err(syntax(ptr, expected(kind(v))));
        };
        if o.contains_key("property") {
            let Raw::Prop(p) = self.object_operand(o, ptr)? else {
                unreachable!("a property object gives a property")
            };
            plan::geometry_property(p).map_err(|e| err(ptr, e))?;
            return Ok(SpatialArg::Geom);
        }
        if o.contains_key("bbox") || o.contains_key("type") {
            return Ok(SpatialArg::Lit(self.geometry(o, ptr)?));
        }
        let raw = self.object_operand(o, ptr)?;
        Err(semantic(ptr, expected(&raw.describe())))
    }

    // --- geometry -----------------------------------------------------------------------------

    fn geometry(&mut self, o: &Map<String, Value>, ptr: &str) -> R<Geometry<f64>> {
        if let Some(bbox) = o.get("bbox").filter(|_| !o.contains_key("type")) {
            if let Some(k) = o.keys().find(|k| *k != "bbox") {
                return Err(syntax(
                    &format!("{ptr}/{}", token(k)),
                    format!("unknown member {k:?} next to \"bbox\""),
                ));
            }
            let bptr = format!("{ptr}/bbox");
            let Value::Array(items) = bbox else {
                return Err(syntax(
                    &bptr,
                    format!(
                        "\"bbox\" must be an array of 4 or 6 numbers, found {}",
                        kind(bbox)
                    ),
                ));
            };
            if items.len() != 4 && items.len() != 6 {
                return Err(semantic(
                    &bptr,
                    format!(
                        "a bbox has 4 numbers (minx, miny, maxx, maxy) or 6 (with elevations); found {}",
                        items.len()
                    ),
                ));
            }
            let mut nums = Vec::with_capacity(items.len());
            for (i, n) in items.iter().enumerate() {
                nums.push(self.number(n, &format!("{bptr}/{i}"))?);
            }
            for _ in 0..2 {
                self.budget.coord().map_err(|p| err(&bptr, p))?;
            }
            return geom::bbox(&nums).map_err(|p| err(&bptr, p));
        }
        if let Some(k) = o
            .keys()
            .find(|k| !matches!(k.as_str(), "type" | "coordinates" | "bbox"))
        {
            return Err(syntax(
                &format!("{ptr}/{}", token(k)),
                format!("unknown member {k:?} in a GeoJSON geometry"),
            ));
        }
        let tptr = format!("{ptr}/type");
        let Some(Value::String(ty)) = o.get("type") else {
            return Err(syntax(&tptr, "a GeoJSON geometry needs a string \"type\""));
        };
        if ty == "GeometryCollection" {
            return Err(semantic(
                &tptr,
                "GeometryCollection literals are not supported; use a Multi… geometry, or several predicates joined with or",
            ));
        }
        let cptr = format!("{ptr}/coordinates");
        let Some(c) = o.get("coordinates") else {
            return Err(syntax(ptr, "a GeoJSON geometry needs \"coordinates\""));
        };
        Ok(match ty.as_str() {
            "Point" => Point(self.position(c, &cptr)?).into(),
            "LineString" => LineString(self.line(c, &cptr)?).into(),
            "Polygon" => self.polygon(c, &cptr)?.into(),
            "MultiPoint" => {
                let mut points = Vec::new();
                for (i, p) in self.array(c, &cptr)?.iter().enumerate() {
                    points.push(Point(self.position(p, &format!("{cptr}/{i}"))?));
                }
                MultiPoint(points).into()
            }
            "MultiLineString" => {
                let mut lines = Vec::new();
                for (i, l) in self.array(c, &cptr)?.iter().enumerate() {
                    lines.push(LineString(self.line(l, &format!("{cptr}/{i}"))?));
                }
                MultiLineString(lines).into()
            }
            "MultiPolygon" => {
                let mut polygons = Vec::new();
                for (i, p) in self.array(c, &cptr)?.iter().enumerate() {
                    polygons.push(self.polygon(p, &format!("{cptr}/{i}"))?);
                }
                MultiPolygon(polygons).into()
            }
            other => {
                return Err(semantic(
                    &tptr,
                    format!(
                        "unknown geometry type {other:?}; use Point, LineString, Polygon, MultiPoint, MultiLineString or MultiPolygon"
                    ),
                ));
            }
        })
    }

    fn array<'v>(&self, v: &'v Value, ptr: &str) -> R<&'v Vec<Value>> {
        match v {
            Value::Array(a) if !a.is_empty() => Ok(a),
            Value::Array(_) => Err(semantic(ptr, "empty geometries are not supported")),
            other => Err(syntax(
                ptr,
                format!("expected an array of coordinates, found {}", kind(other)),
            )),
        }
    }

    fn number(&self, v: &Value, ptr: &str) -> R<f64> {
        match v {
            Value::Number(n) => n
                .as_f64()
                .filter(|f| f.is_finite())
                .ok_or_else(|| semantic(ptr, format!("the number {n} is out of range"))),
            other => Err(syntax(
                ptr,
                format!("expected a number, found {}", kind(other)),
            )),
        }
    }

    /// `[x, y]` (a third and fourth number are allowed and ignored).
    fn position(&mut self, v: &Value, ptr: &str) -> R<Coord<f64>> {
        let Value::Array(a) = v else {
            return Err(syntax(
                ptr,
                format!("expected a position [x, y], found {}", kind(v)),
            ));
        };
        if !(2..=4).contains(&a.len()) {
            return Err(syntax(
                ptr,
                format!(
                    "a position is [x, y] (optionally with z); found {} numbers",
                    a.len()
                ),
            ));
        }
        let x = self.number(&a[0], &format!("{ptr}/0"))?;
        let y = self.number(&a[1], &format!("{ptr}/1"))?;
        for (i, z) in a.iter().enumerate().skip(2) {
            self.number(z, &format!("{ptr}/{i}"))?;
        }
        self.budget.coord().map_err(|p| err(ptr, p))?;
        geom::check_coord(x, y).map_err(|p| err(ptr, p))
    }

    fn positions(&mut self, v: &Value, ptr: &str) -> R<Vec<Coord<f64>>> {
        let a = self.array(v, ptr)?;
        let mut out = Vec::with_capacity(a.len().min(self.budget.limits.max_geometry_coords));
        for (i, p) in a.iter().enumerate() {
            out.push(self.position(p, &format!("{ptr}/{i}"))?);
        }
        Ok(out)
    }

    fn line(&mut self, v: &Value, ptr: &str) -> R<Vec<Coord<f64>>> {
        let pts = self.positions(v, ptr)?;
        geom::check_line(&pts).map_err(|p| err(ptr, p))?;
        Ok(pts)
    }

    fn polygon(&mut self, v: &Value, ptr: &str) -> R<Polygon<f64>> {
        let mut rings = Vec::new();
        for (i, r) in self.array(v, ptr)?.iter().enumerate() {
            let rptr = format!("{ptr}/{i}");
            let pts = self.positions(r, &rptr)?;
            geom::check_ring(&pts).map_err(|p| err(&rptr, p))?;
            rings.push(LineString(pts));
        }
        let exterior = rings.remove(0);
        Ok(Polygon::new(exterior, rings))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointer_tokens_are_escaped() {
        assert_eq!(token("a/b~c"), "a~1b~0c");
    }

    #[test]
    fn depth_scan_points_at_the_deep_element() {
        let limits = Limits {
            max_depth: 1,
            ..Limits::default()
        };
        // max JSON depth = 2 * 1 + 16 = 18.
        let deep = "[".repeat(18) + "{\"a/b\": [0, [[" + &"]".repeat(20);
        let e = scan_depth(&deep, &limits).unwrap_err();
        assert_eq!(e.kind, ErrorKind::TooExpensive);
        assert_eq!(e.pointer, "/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0");
        let deep = "[".repeat(17) + "{\"a/b\": [0, [[" + &"]".repeat(20);
        let e = scan_depth(&deep, &limits).unwrap_err();
        assert_eq!(e.pointer, "/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/a~1b");
        assert!(scan_depth("{\"s\": \"[[[[[[[[[[[[[[[[[[[[[[[[\"}", &limits).is_ok());
    }
}
