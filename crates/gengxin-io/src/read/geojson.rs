//! GeoJSON (RFC 7946): a FeatureCollection, a Feature or a bare geometry. Coordinates are WGS 84
//! unless a legacy `crs` member names another system. serde_json refuses nesting deeper than
//! 128 levels, so a hostile file cannot exhaust the stack.
//!
//! Streamed: a FeatureCollection's `features` array is read one feature at a time from a
//! buffered file ([`stream`]), so memory holds one feature's JSON, not the file. Only a file in
//! a declared non-UTF-8 encoding (which RFC 7946 does not allow) is decoded whole first.

use std::fmt;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use gengxin_engine::crs::Crs;
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::Value as Json;

use crate::{Attr, Dataset, Format, IoError, ReadOptions, Record};

/// Reads the whole file into a [`Dataset`] (through [`stream`]).
pub fn read(path: &Path, opts: &ReadOptions) -> Result<Dataset, IoError> {
    let mut records = Vec::new();
    let mut ds = stream(path, opts, &mut |r| {
        records.push(r);
        Ok(())
    })?;
    ds.records = records;
    Ok(ds)
}

/// Reads the file feature by feature, handing each record to `each` in file order; answers the
/// dataset's description (CRS, fields) with no records. An error from `each` stops the read.
pub fn stream(
    path: &Path,
    opts: &ReadOptions,
    each: &mut dyn FnMut(Record) -> Result<(), IoError>,
) -> Result<Dataset, IoError> {
    let file = std::fs::File::open(path).map_err(|e| IoError::file(path, e))?;
    if let Some(enc) = opts.encoding.filter(|e| *e != encoding_rs::UTF_8) {
        let mut bytes = Vec::new();
        BufReader::new(file)
            .read_to_end(&mut bytes)
            .map_err(|e| IoError::file(path, e))?;
        let text = super::decode_text(path, &bytes, Some(enc))?;
        drop(bytes);
        let mut de = serde_json::Deserializer::from_str(&text);
        return run(path, &mut de, each);
    }
    let mut reader = BufReader::with_capacity(1 << 20, Utf8Checked::new(file));
    let head = reader.fill_buf().map_err(|e| IoError::file(path, e))?;
    if head.starts_with(b"\xef\xbb\xbf") {
        reader.consume(3);
    }
    let mut de = serde_json::Deserializer::from_reader(reader);
    run(path, &mut de, each)
}

/// Bytes passed through with a check that they are UTF-8 (serde_json's reader does not check
/// string contents it skips), so a GBK file is refused with what to pass, as before.
struct Utf8Checked<R> {
    inner: R,
    /// Bytes of an incomplete character at the end of the last read.
    pending: Vec<u8>,
    offset: u64,
}

impl<R: Read> Utf8Checked<R> {
    fn new(inner: R) -> Self {
        Utf8Checked {
            inner,
            pending: Vec::new(),
            offset: 0,
        }
    }
}

impl<R: Read> Read for Utf8Checked<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 {
            if !self.pending.is_empty() {
                return Err(not_utf8(self.offset));
            }
            return Ok(0);
        }
        let mut chunk = std::mem::take(&mut self.pending);
        let start = chunk.len();
        chunk.extend_from_slice(&buf[..n]);
        match std::str::from_utf8(&chunk) {
            Ok(_) => self.offset += (chunk.len() - start) as u64,
            Err(e) if e.error_len().is_none() => {
                // A character cut by the buffer's end: check it with the next read.
                self.pending = chunk[e.valid_up_to()..].to_vec();
                self.offset += n as u64;
            }
            Err(e) => {
                return Err(not_utf8(
                    self.offset + e.valid_up_to() as u64 - start as u64,
                ));
            }
        }
        Ok(n)
    }
}

/// The message [`super::decode_text`] gives for non-UTF-8 text.
fn not_utf8(offset: u64) -> std::io::Error {
    std::io::Error::other(format!(
        "the text is not UTF-8 (first bad byte at offset {offset}); if it is Chinese text saved by Excel or ArcGIS it is probably GBK: pass --encoding gbk"
    ))
}

/// Reads one GeoJSON document from `de`, records to `each`.
fn run<'de, R: serde_json::de::Read<'de>>(
    path: &Path,
    de: &mut serde_json::Deserializer<R>,
    each: &mut dyn FnMut(Record) -> Result<(), IoError>,
) -> Result<Dataset, IoError> {
    let mut top = Top {
        path,
        each,
        count: 0,
        fields: Vec::new(),
        rest: serde_json::Map::new(),
        features: false,
        failed: None,
    };
    let read = de::Deserializer::deserialize_any(&mut *de, &mut top).and_then(|()| de.end());
    if let Some(e) = top.failed.take() {
        return Err(e);
    }
    read.map_err(|e| match e.io_error_kind() {
        Some(_) => IoError::file(path, e.to_string().replace(" at line 0 column 0", "")),
        None => IoError::file(path, format!("not valid JSON: {e}")),
    })?;
    let Top {
        rest,
        features,
        mut fields,
        ..
    } = top;
    let rest = Json::Object(rest);
    let crs = crs(path, &rest)?;
    match rest.get("type").and_then(Json::as_str) {
        Some("FeatureCollection") if features => {}
        Some("FeatureCollection") => {
            return Err(IoError::file(
                path,
                "FeatureCollection without a `features` array",
            ));
        }
        _ if features => {
            return Err(IoError::file(
                path,
                "a `features` array outside a FeatureCollection",
            ));
        }
        Some("Feature") => {
            let r = record(path, 0, &rest)?;
            add_fields(&mut fields, &r);
            each(r)?;
        }
        Some(_) => {
            let f = serde_json::json!({"type": "Feature", "geometry": rest, "properties": {}});
            each(record(path, 0, &f)?)?;
        }
        None => {
            return Err(IoError::file(
                path,
                "not GeoJSON: the top-level object has no `type`",
            ));
        }
    }
    Ok(Dataset {
        format: Format::GeoJson,
        records: Vec::new(),
        crs: Some(crs),
        declared_crs: None,
        encoding: Some("UTF-8".into()),
        fields,
    })
}

/// The top-level object: `features` streamed, every other member kept.
struct Top<'a, 'p> {
    path: &'p Path,
    each: &'a mut dyn FnMut(Record) -> Result<(), IoError>,
    count: usize,
    fields: Vec<String>,
    rest: serde_json::Map<String, Json>,
    features: bool,
    /// Why `each` or a feature stopped the read (serde's error cannot carry it).
    failed: Option<IoError>,
}

impl<'de> Visitor<'de> for &mut Top<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a GeoJSON object")
    }

    /// Not GeoJSON; read on to its end first, so malformed JSON is refused as such.
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element::<Json>()?.is_some() {}
        self.failed = Some(IoError::file(
            self.path,
            "not GeoJSON: the top level is not an object",
        ));
        Err(de::Error::custom("stopped"))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            if key == "features" {
                map.next_value_seed(Features(&mut *self))?;
                self.features = true;
            } else {
                let v: Json = map.next_value()?;
                self.rest.insert(key, v);
            }
        }
        Ok(())
    }
}

struct Features<'t, 'a, 'p>(&'t mut Top<'a, 'p>);

impl<'de> DeserializeSeed<'de> for Features<'_, '_, '_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Features<'_, '_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a `features` array")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let top = self.0;
        while let Some(f) = seq.next_element::<Json>()? {
            let done = record(top.path, top.count, &f).and_then(|r| {
                add_fields(&mut top.fields, &r);
                (top.each)(r)
            });
            top.count += 1;
            if let Err(e) = done {
                top.failed = Some(e);
                return Err(de::Error::custom("stopped"));
            }
        }
        Ok(())
    }
}

fn add_fields(fields: &mut Vec<String>, r: &Record) {
    for (k, _) in &r.attrs {
        if !fields.contains(k) {
            fields.push(k.clone());
        }
    }
}

fn crs(path: &Path, json: &Json) -> Result<Crs, IoError> {
    match json.get("crs") {
        None | Some(Json::Null) => Ok(Crs::Wgs84),
        Some(c) => {
            let name = c
                .pointer("/properties/name")
                .and_then(Json::as_str)
                .unwrap_or_default();
            legacy_crs(name).ok_or_else(|| {
                IoError::file(
                    path,
                    format!(
                        "its `crs` member names {name:?}, which Gengxin does not support; {}",
                        gengxin_engine::crs::CRS_HINT
                    ),
                )
            })
        }
    }
}

/// The `i`-th (0-based) feature as a record.
fn record(path: &Path, i: usize, f: &Json) -> Result<Record, IoError> {
    let mut problems = Vec::new();
    let geometry = match f.get("geometry") {
        None | Some(Json::Null) => None,
        Some(g) => {
            if unclosed_ring(g) {
                problems.push("unclosed ring".to_owned());
            }
            Some(geometry(g).map_err(|e| {
                IoError::file(path, format!("feature {}: bad geometry: {e}", i + 1))
            })?)
        }
    };
    let mut attrs = Vec::new();
    if let Some(id) = f.get("id").filter(|v| !v.is_null()) {
        attrs.push(("id".to_owned(), attr(id)));
    }
    if let Some(Json::Object(props)) = f.get("properties") {
        for (k, v) in props {
            if k == "id" && !attrs.is_empty() {
                continue;
            }
            attrs.push((k.clone(), attr(v)));
        }
    }
    Ok(Record {
        geometry,
        attrs,
        problems,
    })
}

fn legacy_crs(name: &str) -> Option<Crs> {
    let n = name.to_ascii_uppercase();
    if n.ends_with("CRS84") {
        return Some(Crs::Wgs84);
    }
    let code = n.rsplit(':').next()?;
    code.parse().ok().and_then(Crs::from_epsg)
}

fn geometry(g: &Json) -> Result<geo_types::Geometry<f64>, String> {
    let g = geojson::Geometry::from_json_value(g.clone()).map_err(|e| e.to_string())?;
    geo_types::Geometry::<f64>::try_from(g).map_err(|e| e.to_string())
}

fn attr(v: &Json) -> Attr {
    match v {
        Json::Null => Attr::Null,
        Json::Bool(b) => Attr::Bool(*b),
        Json::Number(n) => match n.as_i64() {
            Some(i) => Attr::Int(i),
            None => Attr::Real(n.as_f64().unwrap_or(f64::NAN)),
        },
        Json::String(s) => Attr::Text(s.clone()),
        other => Attr::Text(other.to_string()),
    }
}

/// Whether a (Multi)Polygon's coordinates have a ring whose last position is not its first.
fn unclosed_ring(g: &Json) -> bool {
    let rings: Vec<&Json> = match (g.get("type").and_then(Json::as_str), g.get("coordinates")) {
        (Some("Polygon"), Some(Json::Array(rings))) => rings.iter().collect(),
        (Some("MultiPolygon"), Some(Json::Array(polys))) => {
            polys.iter().filter_map(Json::as_array).flatten().collect()
        }
        _ => return false,
    };
    rings.iter().any(|r| match r.as_array() {
        Some(pts) if pts.len() > 1 => pts.first() != pts.last(),
        _ => false,
    })
}
