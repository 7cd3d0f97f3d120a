//! Feature filters: OGC CQL2 (OGC API – Features – Part 3, standard 21-065r2) parsed into
//! Gengxin's own query plan and evaluated in Rust.
//!
//! The crate is pure: no I/O, no SQL, no async. A filter string (CQL2-Text or CQL2-JSON) is parsed
//! for one [`Layer`] by [`parse`] (or [`parse_json_value`] for already-decoded JSON) into a
//! [`Filter`]; [`Filter::matches`] evaluates it on a [`Feature`]. Nothing in the input is ever
//! passed on as text: the parser resolves every property against the layer, types every literal
//! to its property and builds a closed plan, so a filter can only do what the plan can.
//!
//! # Language
//!
//! The conformance classes *Basic CQL2*, *Advanced Comparison Operators* and *Basic Spatial
//! Functions* (with `S_INTERSECTS`, `S_WITHIN`, `S_CONTAINS`, `S_DISJOINT`), plus `S_DWITHIN`:
//!
//! * logic: `AND`, `OR`, `NOT`, parentheses; precedence `NOT` > `AND` > `OR`;
//! * comparisons `=`, `<>`, `<`, `>`, `<=`, `>=`; `[NOT] LIKE` (`%`, `_`, escape `\`, case-sensitive);
//!   `[NOT] IN (…)`; `[NOT] BETWEEN … AND …`; `IS [NOT] NULL`;
//! * literals: `'text'` (`''` escapes a quote), numbers (`-3`, `2.5`, `1e3`), `TRUE`/`FALSE`,
//!   `DATE('2024-01-31')`, `TIMESTAMP('2024-01-31T08:00:00Z')`; geometries as WKT (`POINT`,
//!   `LINESTRING`, `POLYGON`, `MULTIPOINT`, `MULTILINESTRING`, `MULTIPOLYGON`) or
//!   `BBOX(minx, miny, maxx, maxy)` (alias `ENVELOPE`, same order) in text; GeoJSON geometry
//!   objects or `{"bbox": [...]}` in JSON;
//! * spatial predicates `S_INTERSECTS(geom, <literal>)`, `S_WITHIN`, `S_CONTAINS`, `S_DISJOINT`
//!   (the literal may come first: `S_WITHIN(<literal>, geom)` means the feature contains the
//!   literal) and `S_DWITHIN(geom, <literal>, <distance>[, meters|kilometers])`.
//!
//! Keywords are case-insensitive; property names are case-sensitive, bare
//! (`[A-Za-z_][A-Za-z0-9_:.]*`, not a keyword) or double-quoted (`"use"`). Geometries are lon/lat
//! in EPSG:4490; CRS84 and EPSG:4326 are accepted as the same (see [`check_filter_crs`]).
//!
//! # Properties and types
//!
//! A filter reads `id`, `provenance` (text), `version` (integer), `created_at`, `updated_at`
//! (timestamps), the layer's declared fields with their [`FieldType`](gengxin_model::FieldType),
//! and the geometry `geom` (alias `geometry`) in spatial predicates and `IS [NOT] NULL`. Anything
//! else is a semantic error that lists what the layer has. Types are strict: a number property
//! compares with numbers (integers and reals compare numerically), a text property with text, a
//! boolean with `TRUE`/`FALSE`, a date with `DATE('…')` or a `'YYYY-MM-DD'` string, a timestamp
//! with `TIMESTAMP('…')` or an RFC 3339 string (instants compared in UTC). A comparison needs a
//! property on at least one side: `1 = 1` or `'a' = 'a'` is refused (CQL2 would allow it, but a
//! filter that does not read the data is either a mistake or an attempt to bypass it). Two
//! properties of compatible types may be compared (`far > planned_far`). A value outside a
//! field's code list is accepted and simply matches nothing. A filter must be a predicate: a bare
//! `TRUE` is refused too.
//!
//! # Nulls
//!
//! Two-valued logic, kept simple: every predicate that reads a null (absent) property value is
//! false, and `NOT` — in any spelling: `NOT (x = 1)`, `x NOT IN (…)`, `x NOT LIKE …`,
//! `x NOT BETWEEN …` — negates the boolean. So `x <> 1` is false for a null `x` while
//! `NOT x = 1` is true. Use `IS [NOT] NULL` to say what you mean. Features without a geometry never
//! match a spatial predicate (not even `S_DISJOINT`).
//!
//! # The plan
//!
//! The plan is a tree of `AND`/`OR`/`NOT` over predicates whose operands are resolved properties
//! and typed literals (`AND`/`OR` chains are flattened). Everything costly happens once, at parse
//! time: LIKE patterns are compiled; geometry literals are checked (finite, within lon/lat range,
//! rings closed with at least 4 points, lines with at least 2) and their envelopes computed; for
//! `S_DWITHIN` the literal is projected into the CGCS2000 3° Gauss–Krüger zone of its centroid
//! (central meridian `3 * round(lon / 3)`, clamped to 75..=135) and its envelope is grown by the
//! distance (in degrees, generously). [`Filter::matches`] then compares envelopes first and runs
//! the exact test (`geo`'s `Intersects`, `Contains`/`Within`; for `S_DWITHIN` the feature is
//! projected into the same zone and its Euclidean distance in metres compared) only when they
//! meet. [`Filter::envelope`] and [`Filter::equalities`] expose what a store can use to
//! pre-select rows; [`Filter::properties`] lists what the filter reads.
//!
//! LIKE is matched over characters by a greedy algorithm that only ever backs up to the last `%`
//! (no exponential backtracking): at most O(text × pattern) steps, with the pattern bounded.
//!
//! # Limits
//!
//! Hostile input is bounded by [`Limits`] (defaults in brackets); every refusal is a
//! [`ErrorKind::TooExpensive`] error that names the limit and its value:
//!
//! * `max_input_bytes` (16 KiB): checked before parsing a string;
//! * `max_depth` (20): nesting of parentheses and `NOT` in text, of expressions in JSON. The
//!   parsers check the depth *before* recursing, so even 100,000 nested parentheses fail at the
//!   21st without deep recursion; a JSON string is also scanned for its nesting before serde_json
//!   decodes it;
//! * `max_nodes` (256): predicates plus logical operators (each `AND`/`OR` joining two operands
//!   and each `NOT` counts one);
//! * `max_in_list` (1000) values in one `IN` list;
//! * `max_like_pattern` (256) characters in one LIKE pattern;
//! * `max_geometry_coords` (10,000) coordinates over all geometry literals of a filter;
//! * `max_distance_m` (50 km) for `S_DWITHIN` (a negative or non-finite distance is a semantic error).
//!
//! Literal polygons are not checked for self-intersection (that test is quadratic in the number of
//! coordinates); an invalid literal gets whatever answer `geo`'s predicates give, without failing.
//!
//! # Errors
//!
//! A [`QueryError`] has a kind ([`ErrorKind::Syntax`], [`ErrorKind::Semantic`],
//! [`ErrorKind::TooExpensive`]), an English message saying what is wrong and what is accepted, and
//! where: for text the byte offset with 1-based line and column (columns count characters) of the
//! offending token, for JSON an RFC 6901 pointer to the offending element (e.g.
//! `/args/1/args/0`). Errors about the input as a whole (its size, malformed JSON) have neither a
//! pointer nor a position; a malformed JSON message gives serde_json's line and column.

mod geom;
mod json;
mod like;
mod plan;
mod text;

pub mod progress;
pub mod summary;

use gengxin_model::{Feature, Layer, Value};
use geo::Rect;

/// The language of a filter (the `filter-lang` parameter of OGC API – Features).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// CQL2-Text, `filter-lang=cql2-text`.
    Text,
    /// CQL2-JSON, `filter-lang=cql2-json`.
    Json,
}

impl Lang {
    /// The language named by a `filter-lang` value (`cql2-text`, `cql2-json`), case-insensitive.
    pub fn from_filter_lang(s: &str) -> Option<Lang> {
        if s.eq_ignore_ascii_case("cql2-text") {
            Some(Lang::Text)
        } else if s.eq_ignore_ascii_case("cql2-json") {
            Some(Lang::Json)
        } else {
            None
        }
    }
}

/// What kind of problem a [`QueryError`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The input is not well-formed CQL2 (or JSON).
    Syntax,
    /// Well-formed, but meaningless for the layer: unknown property, function or operator, type
    /// mismatch, invalid literal.
    Semantic,
    /// Over one of the [`Limits`].
    TooExpensive,
}

/// Why a filter was refused. See the crate docs for `pointer` and `position`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct QueryError {
    pub kind: ErrorKind,
    /// English, specific: what is wrong and what is accepted.
    pub message: String,
    /// For JSON: a JSON Pointer (RFC 6901) into the input, e.g. `/args/1/args/0`. For text: "".
    pub pointer: String,
    /// For text: the byte offset and 1-based (line, column) of the error; `None` for JSON and for
    /// errors about the whole input (its size).
    pub position: Option<(usize, usize, usize)>,
}

impl QueryError {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        QueryError {
            kind,
            message: message.into(),
            pointer: String::new(),
            position: None,
        }
    }
}

/// Bounds on what one filter may cost. See the crate docs.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// Size of a filter string in bytes (16 KiB).
    pub max_input_bytes: usize,
    /// Nesting of parentheses / `NOT` (text) and of expressions (JSON) (20).
    pub max_depth: usize,
    /// Predicates and logical operators (256).
    pub max_nodes: usize,
    /// Values in one `IN` list (1000).
    pub max_in_list: usize,
    /// Characters in one LIKE pattern (256).
    pub max_like_pattern: usize,
    /// Coordinates over all geometry literals of a filter (10,000).
    pub max_geometry_coords: usize,
    /// Largest `S_DWITHIN` distance in metres (50,000).
    pub max_distance_m: f64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_input_bytes: 16 * 1024,
            max_depth: 20,
            max_nodes: 256,
            max_in_list: 1000,
            max_like_pattern: 256,
            max_geometry_coords: 10_000,
            max_distance_m: 50_000.0,
        }
    }
}

/// A parsed filter: the query plan for one layer.
#[derive(Clone)]
pub struct Filter {
    root: plan::Node,
    layer: &'static Layer,
}

impl std::fmt::Debug for Filter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Filter")
            .field("layer", &self.layer.name)
            .field("plan", &self.root)
            .finish()
    }
}

/// Parses a filter for `layer` with the default [`Limits`].
///
/// Geometry literals are read as lon/lat (EPSG:4490; CRS84 and EPSG:4326 are treated as the
/// same); check a `filter-crs` parameter with [`check_filter_crs`] first.
pub fn parse(input: &str, lang: Lang, layer: &'static Layer) -> Result<Filter, QueryError> {
    parse_with_limits(input, lang, layer, &Limits::default())
}

/// Same as [`parse`] with explicit limits.
pub fn parse_with_limits(
    input: &str,
    lang: Lang,
    layer: &'static Layer,
    limits: &Limits,
) -> Result<Filter, QueryError> {
    if input.len() > limits.max_input_bytes {
        return Err(QueryError::new(
            ErrorKind::TooExpensive,
            format!(
                "the filter is {} bytes long; the limit is {} bytes (max_input_bytes)",
                input.len(),
                limits.max_input_bytes
            ),
        ));
    }
    let root = match lang {
        Lang::Text => text::parse(input, layer, limits)?,
        Lang::Json => json::parse_str(input, layer, limits)?,
    };
    Ok(Filter { root, layer })
}

/// Parses an already-decoded CQL2-JSON value for `layer` with the default [`Limits`].
pub fn parse_json_value(
    v: &serde_json::Value,
    layer: &'static Layer,
) -> Result<Filter, QueryError> {
    parse_json_value_with_limits(v, layer, &Limits::default())
}

/// Same as [`parse_json_value`] with explicit limits (`max_input_bytes` does not apply).
pub fn parse_json_value_with_limits(
    v: &serde_json::Value,
    layer: &'static Layer,
    limits: &Limits,
) -> Result<Filter, QueryError> {
    let root = json::parse_value(v, layer, limits)?;
    Ok(Filter { root, layer })
}

/// Checks a `filter-crs` value: only lon/lat CRSs equivalent to the storage CRS are accepted —
/// EPSG:4490 (storage), OGC CRS84 and EPSG:4326 (treated as identical; they differ by
/// centimetres), as URIs (`http://www.opengis.net/def/crs/EPSG/0/4490`,
/// `http://www.opengis.net/def/crs/OGC/1.3/CRS84`), URNs (`urn:ogc:def:crs:EPSG::4490`) or short
/// codes (`EPSG:4490`, `CRS84`).
pub fn check_filter_crs(crs: &str) -> Result<(), QueryError> {
    let c = crs.trim();
    let c = c
        .strip_prefix("[")
        .and_then(|c| c.strip_suffix("]"))
        .unwrap_or(c);
    let lower = c.to_ascii_lowercase();
    let tail = lower
        .strip_prefix("http://www.opengis.net/def/crs/")
        .or_else(|| lower.strip_prefix("https://www.opengis.net/def/crs/"))
        .map(|t| t.replace('/', ":"))
        .or_else(|| {
            lower
                .strip_prefix("urn:ogc:def:crs:")
                .map(|t| t.replace("::", ":0:"))
        })
        .unwrap_or_else(|| lower.clone());
    let ok = matches!(
        tail.as_str(),
        "epsg:0:4490"
            | "epsg:0:4326"
            | "ogc:1.3:crs84"
            | "epsg:4490"
            | "epsg:4326"
            | "crs84"
            | "ogc:crs84"
    );
    if ok {
        Ok(())
    } else {
        Err(QueryError::new(
            ErrorKind::Semantic,
            format!(
                "filter-crs {crs:?} is not supported; use http://www.opengis.net/def/crs/EPSG/0/4490 \
                 (the storage CRS), http://www.opengis.net/def/crs/OGC/1.3/CRS84 or \
                 http://www.opengis.net/def/crs/EPSG/0/4326, all lon/lat"
            ),
        ))
    }
}

impl Filter {
    /// The layer the filter was parsed for.
    pub fn layer(&self) -> &'static Layer {
        self.layer
    }

    /// Whether `f` satisfies the filter (see the crate docs for nulls).
    pub fn matches(&self, f: &Feature) -> bool {
        self.root.eval(f)
    }

    /// An envelope (lon/lat) that the geometry of every feature that can match intersects (and,
    /// for `S_WITHIN`, lies in), when the filter implies one: `S_INTERSECTS`, `S_WITHIN`,
    /// `S_CONTAINS` give the literal's envelope, `S_DWITHIN` the literal's envelope grown by the
    /// distance; an `AND` gives the smallest of its terms' envelopes, an `OR` of terms that all
    /// have one their union; anything else (`NOT`, `S_DISJOINT`, attribute predicates alone) `None`.
    /// For index pre-selection: rows whose envelope does not intersect it cannot match.
    pub fn envelope(&self) -> Option<Rect<f64>> {
        self.root.envelope()
    }

    /// The top-level `AND` terms `property = literal` (also `literal = property`), usable as
    /// equality pre-filters: the field name and the literal converted to the field's stored type
    /// (dates as `YYYY-MM-DD` text, timestamps as RFC 3339 UTC text with milliseconds, numbers as
    /// `Int`/`Real` as the field is). A literal that the field cannot hold exactly (2.5 for an
    /// integer field) is left out. A filter that is itself such a term gives that one term.
    pub fn equalities(&self) -> Vec<(&'static str, Value)> {
        self.root.equalities()
    }

    /// What testing one feature costs, in units of one attribute comparison: a comparison or
    /// `IS NULL` 1, `BETWEEN` 2, `LIKE` 4, `IN` 1 per 8 values, a spatial predicate 4 plus one
    /// per 8 literal coordinates (`S_DWITHIN` 16 more: it projects the feature); logical
    /// operators the sum of their operands. Times the rows a query visits, it is the query's cost
    /// (the API refuses filters over a budget before running them).
    pub fn cost(&self) -> u64 {
        self.root.cost()
    }

    /// The distinct names of the properties the filter reads, in order of first use (the
    /// geometry as `geom`).
    pub fn properties(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        self.root.properties(&mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_is_send_sync_clone_debug() {
        fn check<T: Send + Sync + Clone + std::fmt::Debug + 'static>() {}
        check::<Filter>();
        check::<QueryError>();
    }

    #[test]
    fn limits_default_to_the_documented_numbers() {
        let l = Limits::default();
        assert_eq!(l.max_input_bytes, 16384);
        assert_eq!(l.max_depth, 20);
        assert_eq!(l.max_nodes, 256);
        assert_eq!(l.max_in_list, 1000);
        assert_eq!(l.max_like_pattern, 256);
        assert_eq!(l.max_geometry_coords, 10_000);
        assert_eq!(l.max_distance_m, 50_000.0);
    }

    #[test]
    fn filter_crs_accepts_lon_lat_only() {
        for ok in [
            "http://www.opengis.net/def/crs/OGC/1.3/CRS84",
            "http://www.opengis.net/def/crs/EPSG/0/4490",
            "https://www.opengis.net/def/crs/EPSG/0/4326",
            "EPSG:4490",
            "epsg:4326",
            "CRS84",
            "urn:ogc:def:crs:EPSG::4490",
            "[EPSG:4490]",
        ] {
            assert!(check_filter_crs(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://www.opengis.net/def/crs/EPSG/0/4547",
            "EPSG:3857",
            "",
            "4490",
        ] {
            let e = check_filter_crs(bad).unwrap_err();
            assert_eq!(e.kind, ErrorKind::Semantic, "{bad}");
            assert!(e.message.contains("EPSG/0/4490"), "{e}");
        }
    }

    #[test]
    fn filter_lang_names() {
        assert_eq!(Lang::from_filter_lang("cql2-text"), Some(Lang::Text));
        assert_eq!(Lang::from_filter_lang("CQL2-JSON"), Some(Lang::Json));
        assert_eq!(Lang::from_filter_lang("ecql"), None);
    }
}
