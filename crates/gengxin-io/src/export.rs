//! Export of a layer or a query result: GeoJSON, CSV, Excel `.xlsx`, zipped Shapefile (with
//! `.prj` and `.cpg`) and GeoPackage. Every file carries the feature id and every field, so that
//! importing an export gives back the same features.
//!
//! CSV and xlsx are opened by people in Excel: [`write_for`] with [`Labels::Zh`] or
//! [`Labels::En`] heads the columns with the fields' titles and writes code names instead of codes
//! (xlsx adds a second sheet, 代码, with every field's name and every code); [`Labels::Codes`]
//! (what [`write`] does) keeps field names and codes, which the importer reads back.
//!
//! CSV cells of text that begin with `=`, `+`, `-`, `@`, tab or carriage return are prefixed with
//! `'` so a spreadsheet never runs them as formulas (OWASP CSV injection); Gengxin's importer
//! removes that prefix again. Numbers are written as numbers and never escaped.

use std::io::Write;
use std::path::Path;

use gengxin_model::{Feature, FieldType, GeometryType, Layer, Value};
use gengxin_store::{Query, Store};
use geo_types::Geometry;
use serde_json::{Map, Value as Json};
use wkt::ToWkt;

use crate::{Format, IoError, custom};

/// Rows to export, with their columns.
#[derive(Debug, Clone)]
pub struct Table {
    pub name: String,
    pub geometry: Option<GeometryType>,
    /// Columns after `id`.
    pub columns: Vec<(String, FieldType)>,
    pub rows: Vec<Feature>,
}

impl Table {
    /// Rows of a model layer, with the layer's columns.
    pub fn of_layer(l: &Layer, rows: Vec<Feature>) -> Table {
        Table {
            name: l.name.to_owned(),
            geometry: l.geometry,
            columns: l.fields.iter().map(|f| (f.name.to_owned(), f.ty)).collect(),
            rows,
        }
    }
}

/// The rows of a model or custom layer matching a query.
pub async fn load(store: &dyn Store, layer: &str, query: Query) -> Result<Table, IoError> {
    if let Some(l) = Layer::by_name(layer) {
        return Ok(Table::of_layer(l, store.query(l.id, query).await?));
    }
    let c = custom::get(store, layer)
        .await?
        .ok_or_else(|| IoError::NotFound(format!("no layer {layer}")))?;
    let rows = custom::features(store, &c, query).await?;
    Ok(Table {
        name: c.name.clone(),
        geometry: c.spatial.then_some(GeometryType::Any),
        columns: c.fields.clone(),
        rows,
    })
}

/// How a CSV or xlsx export names its columns and coded values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Labels {
    /// Field names and stored codes: what machines and the importer read.
    #[default]
    Codes,
    /// Chinese field titles and code names.
    Zh,
    /// English field titles and code names.
    En,
}

impl Labels {
    /// The column heading of a field of a layer (a custom layer's fields are named by their
    /// importer: their names).
    pub fn heading(self, layer: Option<&Layer>, field: &str) -> String {
        let zh = layer.and_then(|l| l.field(field)).map(|f| f.zh);
        match (self, zh) {
            (Labels::Codes, _) | (_, None) => field.to_owned(),
            // A title's storage note, e.g. 关联地块(JSON), is not for people.
            (Labels::Zh, Some(zh)) => zh.trim_end_matches("(JSON)").to_owned(),
            (Labels::En, Some(_)) => english_title(field),
        }
    }

    fn id_heading(self) -> &'static str {
        match self {
            Labels::Codes => "id",
            Labels::Zh => "编号",
            Labels::En => "ID",
        }
    }

    fn wkt_heading(self, columns: &[(String, FieldType)]) -> String {
        match self {
            Labels::Codes => free_name("wkt", columns),
            Labels::Zh => "几何(WKT)".into(),
            Labels::En => "Geometry (WKT)".into(),
        }
    }

    /// A value as people read it: a code's name, 是/否 for a boolean, a time in Beijing time as
    /// Excel reads it (`2026-12-07 14:05:00`); otherwise the value.
    pub fn value(self, layer: Option<&Layer>, field: &str, v: &Value) -> Value {
        if self == Labels::Codes {
            return v.clone();
        }
        let def = layer.and_then(|l| l.field(field));
        if let (Some(f), Value::Text(t)) = (def, v)
            && f.ty == FieldType::DateTime
            && let Ok(at) = chrono::DateTime::parse_from_rfc3339(t)
        {
            let beijing = chrono::FixedOffset::east_opt(8 * 3600).expect("a valid offset");
            return Value::Text(
                at.with_timezone(&beijing)
                    .format("%Y-%m-%d %H:%M:%S")
                    .to_string(),
            );
        }
        match v {
            Value::Text(code) => {
                let named = layer
                    .and_then(|l| l.field(field))
                    .and_then(|f| f.codes)
                    .and_then(|list| gengxin_model::vocab::find(list, code));
                match named {
                    Some(c) => Value::Text(self.name_of(c).to_owned()),
                    None => v.clone(),
                }
            }
            Value::Bool(b) => Value::Text(
                match (self, b) {
                    (Labels::En, true) => "yes",
                    (Labels::En, false) => "no",
                    (_, true) => "是",
                    (_, false) => "否",
                }
                .to_owned(),
            ),
            other => other.clone(),
        }
    }

    pub fn name_of(self, c: &gengxin_model::vocab::Code) -> &'static str {
        if self == Labels::En { c.en } else { c.zh }
    }
}

/// A field's English title from its name: `investment_total_wan` → `Investment total wan`.
fn english_title(field: &str) -> String {
    let words = field.replace('_', " ");
    let mut cs = words.chars();
    match cs.next() {
        Some(first) => first.to_uppercase().chain(cs).collect(),
        None => words,
    }
}

/// Writes a table in a format, with field names and codes (see [`write_for`]).
pub fn write(table: &Table, format: Format, path: &Path) -> Result<(), IoError> {
    write_for(table, format, path, Labels::Codes)
}

/// Writes a table in a format; CSV and xlsx with the given [`Labels`] (the other formats are
/// for machines and always carry field names and codes).
pub fn write_for(
    table: &Table,
    format: Format,
    path: &Path,
    labels: Labels,
) -> Result<(), IoError> {
    match format {
        Format::GeoJson => write_geojson(table, path),
        Format::Csv => write_csv(table, path, labels),
        Format::Xlsx => write_xlsx(table, path, labels),
        Format::Shapefile => write_shapefile_zip(table, path),
        Format::GeoPackage => write_gpkg(table, path),
        Format::OsmPbf => Err(IoError::Usage(
            "Gengxin does not write OpenStreetMap files".into(),
        )),
    }
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> IoError + '_ {
    move |e| IoError::file(path, e)
}

fn json_value(v: &Value) -> Json {
    match v {
        Value::Null => Json::Null,
        Value::Text(s) => Json::from(s.clone()),
        Value::Int(i) => Json::from(*i),
        Value::Real(r) => Json::from(*r),
        Value::Bool(b) => Json::from(*b),
    }
}

fn write_geojson(table: &Table, path: &Path) -> Result<(), IoError> {
    let features: Vec<Json> = table
        .rows
        .iter()
        .map(|f| {
            let props: Map<String, Json> = table
                .columns
                .iter()
                .map(|(c, _)| (c.clone(), json_value(f.get(c))))
                .collect();
            let geometry = match &f.geometry {
                Some(g) => serde_json::to_value(geojson::Geometry::from(g)).expect("serialisable"),
                None => Json::Null,
            };
            serde_json::json!({"type": "Feature", "id": f.id, "geometry": geometry, "properties": props})
        })
        .collect();
    let doc =
        serde_json::json!({"type": "FeatureCollection", "name": table.name, "features": features});
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).map_err(io(path))?);
    serde_json::to_writer(&mut out, &doc).map_err(|e| IoError::file(path, e))?;
    out.flush().map_err(io(path))
}

/// A text cell safe from spreadsheet formula injection.
pub fn escape_formula(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_owned()
    }
}

fn text_cell(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::Text(s) => escape_formula(s),
        Value::Int(i) => i.to_string(),
        // Debug keeps `.0` on whole numbers, so a reader can tell a real from an integer; both
        // forms are the shortest that read back to the same f64.
        Value::Real(r) => format!("{r:?}"),
        Value::Bool(b) => b.to_string(),
    }
}

fn write_csv(table: &Table, path: &Path, labels: Labels) -> Result<(), IoError> {
    let layer = Layer::by_name(&table.name);
    let file = std::fs::File::create(path).map_err(io(path))?;
    // A UTF-8 byte order mark, so that Excel opens Chinese text correctly.
    let mut file = std::io::BufWriter::new(file);
    file.write_all(b"\xef\xbb\xbf").map_err(io(path))?;
    let mut w = csv::Writer::from_writer(file);
    let err = |e: csv::Error| IoError::file(path, e);
    w.write_record(headings(table, layer, labels))
        .map_err(err)?;
    for f in &table.rows {
        let mut row = vec![escape_formula(&f.id)];
        row.extend(
            table
                .columns
                .iter()
                .map(|(c, _)| text_cell(&labels.value(layer, c, f.get(c)))),
        );
        if table.geometry.is_some() {
            row.push(
                f.geometry
                    .as_ref()
                    .map(|g| g.wkt_string())
                    .unwrap_or_default(),
            );
        }
        w.write_record(&row).map_err(err)?;
    }
    w.flush().map_err(io(path))
}

/// Excel's limit on the characters of one cell.
const XLSX_CELL: usize = 32_767;

/// The heading row: the id, the columns, the geometry as WKT.
fn headings(table: &Table, layer: Option<&Layer>, labels: Labels) -> Vec<String> {
    let mut header = vec![labels.id_heading().to_owned()];
    header.extend(table.columns.iter().map(|(c, _)| labels.heading(layer, c)));
    if table.geometry.is_some() {
        header.push(labels.wkt_heading(&table.columns));
    }
    header
}

fn write_xlsx(table: &Table, path: &Path, labels: Labels) -> Result<(), IoError> {
    let xerr = |e: rust_xlsxwriter::XlsxError| IoError::file(path, e);
    let layer = Layer::by_name(&table.name);
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    let title = match (labels, layer) {
        (Labels::Zh, Some(l)) => l.zh,
        (Labels::En, Some(l)) => l.en,
        _ => &table.name,
    };
    let name: String = title.chars().take(31).collect();
    sheet.set_name(&name).map_err(xerr)?;
    let header = headings(table, layer, labels);
    for (j, h) in header.iter().enumerate() {
        sheet.write_string(0, j as u16, h).map_err(xerr)?;
    }
    for (i, f) in table.rows.iter().enumerate() {
        let r = i as u32 + 1;
        sheet.write_string(r, 0, &f.id).map_err(xerr)?;
        for (j, (c, _)) in table.columns.iter().enumerate() {
            let col = j as u16 + 1;
            match &labels.value(layer, c, f.get(c)) {
                Value::Null => {}
                Value::Text(s) => {
                    sheet.write_string(r, col, s).map_err(xerr)?;
                }
                Value::Int(v) if v.unsigned_abs() < (1 << 53) => {
                    sheet.write_number(r, col, *v as f64).map_err(xerr)?;
                }
                Value::Int(v) => {
                    sheet.write_string(r, col, v.to_string()).map_err(xerr)?;
                }
                Value::Real(v) => {
                    sheet.write_number(r, col, *v).map_err(xerr)?;
                }
                Value::Bool(b) => {
                    sheet.write_boolean(r, col, *b).map_err(xerr)?;
                }
            }
        }
        if let Some(g) = &f.geometry {
            let w = g.wkt_string();
            if w.len() > XLSX_CELL {
                return Err(IoError::file(
                    path,
                    format!(
                        "feature {}: its geometry needs {} characters, more than an Excel cell holds ({XLSX_CELL}); export as GeoPackage or Shapefile",
                        f.id,
                        w.len()
                    ),
                ));
            }
            sheet
                .write_string(r, header.len() as u16 - 1, &w)
                .map_err(xerr)?;
        }
    }
    if labels != Labels::Codes {
        write_code_sheet(&mut book, table, layer, labels).map_err(xerr)?;
    }
    book.save(path).map_err(xerr)
}

/// The second sheet of an xlsx for people, 代码 (Codes): each column's title and field name,
/// and under a coded field each code with its name.
fn write_code_sheet(
    book: &mut rust_xlsxwriter::Workbook,
    table: &Table,
    layer: Option<&Layer>,
    labels: Labels,
) -> Result<(), rust_xlsxwriter::XlsxError> {
    let en = labels == Labels::En;
    let sheet = book.add_worksheet();
    sheet.set_name(if en { "Codes" } else { "代码" })?;
    let head: [&str; 4] = if en {
        ["Column", "Field", "Code", "Name"]
    } else {
        ["列", "字段", "代码", "名称"]
    };
    for (j, h) in head.iter().enumerate() {
        sheet.write_string(0, j as u16, *h)?;
    }
    let mut r = 1;
    for (c, _) in &table.columns {
        let title = labels.heading(layer, c);
        sheet.write_string(r, 0, &title)?;
        sheet.write_string(r, 1, c)?;
        r += 1;
        let codes = layer.and_then(|l| l.field(c)).and_then(|f| f.codes);
        for code in codes.unwrap_or_default() {
            sheet.write_string(r, 0, &title)?;
            sheet.write_string(r, 1, c)?;
            sheet.write_string(r, 2, code.code)?;
            sheet.write_string(r, 3, labels.name_of(code))?;
            r += 1;
        }
    }
    Ok(())
}

/// ESRI WKT of EPSG:4490, as ArcGIS writes it in a `.prj`.
pub const PRJ_4490: &str = r#"GEOGCS["China Geodetic Coordinate System 2000",DATUM["China_2000",SPHEROID["CGCS2000",6378137,298.257222101]],PRIMEM["Greenwich",0],UNIT["Degree",0.017453292519943295],AUTHORITY["EPSG","4490"]]"#;

/// dBase field names: at most 10 bytes (cut at a character boundary), unique, never `id`.
pub fn short_names(columns: &[(String, FieldType)]) -> Vec<String> {
    let mut out: Vec<String> = vec!["id".into()];
    for (c, _) in columns {
        let mut name = prefix_bytes(c, 10);
        let mut k = 1;
        while out.iter().any(|o| o.eq_ignore_ascii_case(&name)) {
            let suffix = format!("_{k}");
            name = format!("{}{suffix}", prefix_bytes(c, 10 - suffix.len()));
            k += 1;
        }
        out.push(name);
    }
    out.remove(0);
    out
}

fn prefix_bytes(s: &str, max: usize) -> String {
    let mut out = String::new();
    for ch in s.chars() {
        if out.len() + ch.len_utf8() > max {
            break;
        }
        out.push(ch);
    }
    out
}

/// `base`, or `base_1`, `base_2` … whichever no column uses.
fn free_name(base: &str, columns: &[(String, FieldType)]) -> String {
    let taken = |n: &str| n == "id" || columns.iter().any(|(c, _)| c.eq_ignore_ascii_case(n));
    let mut name = base.to_owned();
    let mut k = 1;
    while taken(&name) {
        name = format!("{base}_{k}");
        k += 1;
    }
    name
}

fn write_shapefile_zip(table: &Table, path: &Path) -> Result<(), IoError> {
    let dir = tempfile::tempdir().map_err(io(path))?;
    let stem = table.name.clone();
    let shp = dir.path().join(format!("{stem}.shp"));
    let kind = shape_kind(table).map_err(|e| IoError::file(path, e))?;
    let names = short_names(&table.columns);
    let mut builder = dbase::TableWriterBuilder::with_encoding(dbase::encoding::Unicode)
        .add_character_field(fname(path, "id")?, 254);
    for ((_, ty), short) in table.columns.iter().zip(&names) {
        let n = fname(path, short)?;
        builder = match ty {
            FieldType::Int => builder.add_numeric_field(n, 20, 0),
            FieldType::Real => builder.add_numeric_field(n, 38, 18),
            FieldType::Bool => builder.add_logical_field(n),
            FieldType::Date => builder.add_date_field(n),
            FieldType::Text | FieldType::DateTime => builder.add_character_field(n, 254),
        };
    }
    let mut records = Vec::with_capacity(table.rows.len());
    for f in &table.rows {
        let mut r = dbase::Record::default();
        r.insert(
            "id".into(),
            dbase::FieldValue::Character(Some(text254(path, f, "id", &f.id)?)),
        );
        for ((c, ty), short) in table.columns.iter().zip(&names) {
            let v = f.get(c);
            let fv = match (ty, v) {
                (FieldType::Int, Value::Int(i)) => dbase::FieldValue::Numeric(Some(*i as f64)),
                (FieldType::Int, _) => dbase::FieldValue::Numeric(None),
                (FieldType::Real, Value::Real(x)) => {
                    if x.abs() >= 1e19 {
                        return Err(IoError::file(
                            path,
                            format!("{}: {c} = {x} is too large for a dBase number", f.id),
                        ));
                    }
                    dbase::FieldValue::Numeric(Some(*x))
                }
                (FieldType::Real, _) => dbase::FieldValue::Numeric(None),
                (FieldType::Bool, Value::Bool(b)) => dbase::FieldValue::Logical(Some(*b)),
                (FieldType::Bool, _) => dbase::FieldValue::Logical(None),
                (FieldType::Date, Value::Text(d)) => {
                    let p = |a: usize, b: usize| {
                        d.get(a..b).and_then(|s| s.parse::<u32>().ok()).unwrap_or(0)
                    };
                    dbase::FieldValue::Date(dbase::Date::new(p(8, 10), p(5, 7), p(0, 4)).ok())
                }
                (FieldType::Date, _) => dbase::FieldValue::Date(None),
                (_, Value::Null) => dbase::FieldValue::Character(None),
                (_, v) => {
                    dbase::FieldValue::Character(Some(text254(path, f, c, &text_cell_raw(v))?))
                }
            };
            r.insert(short.clone(), fv);
        }
        records.push(r);
    }
    let shp_err = |e: shapefile::Error| IoError::file(path, e);
    match kind {
        ShapeKind::Point => {
            let shapes: Vec<shapefile::Point> = table
                .rows
                .iter()
                .map(|f| match &f.geometry {
                    Some(Geometry::Point(p)) => (*p).into(),
                    _ => unreachable!("checked by shape_kind"),
                })
                .collect();
            write_shapes(&shp, builder, &shapes, &records).map_err(shp_err)?;
        }
        ShapeKind::Polyline => {
            let shapes: Vec<shapefile::Polyline> = table
                .rows
                .iter()
                .map(|f| match f.geometry.clone() {
                    Some(Geometry::MultiLineString(m)) => m.into(),
                    _ => unreachable!("checked by shape_kind"),
                })
                .collect();
            write_shapes(&shp, builder, &shapes, &records).map_err(shp_err)?;
        }
        ShapeKind::Polygon => {
            let shapes: Vec<shapefile::Polygon> = table
                .rows
                .iter()
                .map(|f| match f.geometry.clone() {
                    Some(Geometry::MultiPolygon(m)) => m.into(),
                    _ => unreachable!("checked by shape_kind"),
                })
                .collect();
            write_shapes(&shp, builder, &shapes, &records).map_err(shp_err)?;
        }
    }
    std::fs::write(shp.with_extension("prj"), PRJ_4490).map_err(io(path))?;
    std::fs::write(shp.with_extension("cpg"), "UTF-8").map_err(io(path))?;
    let out = std::fs::File::create(path).map_err(io(path))?;
    let mut zip = zip::ZipWriter::new(out);
    let zerr = |e: zip::result::ZipError| IoError::file(path, e);
    for ext in ["shp", "shx", "dbf", "prj", "cpg"] {
        let p = shp.with_extension(ext);
        zip.start_file(
            format!("{stem}.{ext}"),
            zip::write::SimpleFileOptions::default(),
        )
        .map_err(zerr)?;
        zip.write_all(&std::fs::read(&p).map_err(io(path))?)
            .map_err(io(path))?;
    }
    zip.finish().map_err(zerr)?;
    Ok(())
}

fn write_shapes<S: shapefile::record::EsriShape>(
    shp: &Path,
    builder: dbase::TableWriterBuilder,
    shapes: &[S],
    records: &[dbase::Record],
) -> Result<(), shapefile::Error> {
    let mut w = shapefile::Writer::from_path(shp, builder)?;
    for (s, r) in shapes.iter().zip(records) {
        w.write_shape_and_record(s, r)?;
    }
    Ok(())
}

fn text_cell_raw(v: &Value) -> String {
    match v {
        Value::Text(s) => s.clone(),
        other => text_cell(other),
    }
}

fn fname(path: &Path, n: &str) -> Result<dbase::FieldName, IoError> {
    dbase::FieldName::try_from(n)
        .map_err(|e| IoError::file(path, format!("field name {n:?}: {e:?}")))
}

fn text254(path: &Path, f: &Feature, field: &str, s: &str) -> Result<String, IoError> {
    if s.len() > 254 {
        return Err(IoError::file(
            path,
            format!(
                "{}: {field} holds {} bytes, more than a Shapefile text field holds (254); export as GeoPackage",
                f.id,
                s.len()
            ),
        ));
    }
    Ok(s.to_owned())
}

enum ShapeKind {
    Point,
    Polyline,
    Polygon,
}

fn shape_kind(table: &Table) -> Result<ShapeKind, String> {
    let of = |g: &Geometry| match g {
        Geometry::Point(_) => Some(ShapeKind::Point),
        Geometry::MultiLineString(_) => Some(ShapeKind::Polyline),
        Geometry::MultiPolygon(_) => Some(ShapeKind::Polygon),
        _ => None,
    };
    if table.geometry.is_none() {
        return Err("a Shapefile needs geometry; export a table as CSV or Excel".into());
    }
    let mut kind: Option<(ShapeKind, u8)> = None;
    for f in &table.rows {
        let g = f
            .geometry
            .as_ref()
            .ok_or_else(|| format!("{}: no geometry", f.id))?;
        let k =
            of(g).ok_or_else(|| format!("{}: a Shapefile cannot hold this geometry type", f.id))?;
        let tag = k as u8;
        match &kind {
            None => kind = Some((of(g).expect("known"), tag)),
            Some((_, t)) if *t == tag => {}
            Some(_) => return Err("a Shapefile holds one geometry type; this layer mixes several: export as GeoPackage".into()),
        }
    }
    Ok(kind.map(|(k, _)| k).unwrap_or(match table.geometry {
        Some(GeometryType::Point) => ShapeKind::Point,
        Some(GeometryType::MultiLineString) => ShapeKind::Polyline,
        _ => ShapeKind::Polygon,
    }))
}

fn write_gpkg(table: &Table, path: &Path) -> Result<(), IoError> {
    if path.exists() {
        std::fs::remove_file(path).map_err(io(path))?;
    }
    let err = |e: rusqlite::Error| IoError::file(path, e);
    let mut conn = rusqlite::Connection::open(path).map_err(err)?;
    let tx = conn.transaction().map_err(err)?;
    tx.execute_batch(&format!(
        "PRAGMA application_id = 1196444487; PRAGMA user_version = 10300;
         CREATE TABLE gpkg_spatial_ref_sys (srs_name TEXT NOT NULL, srs_id INTEGER PRIMARY KEY, organization TEXT NOT NULL, organization_coordsys_id INTEGER NOT NULL, definition TEXT NOT NULL, description TEXT);
         INSERT INTO gpkg_spatial_ref_sys VALUES ('Undefined cartesian SRS', -1, 'NONE', -1, 'undefined', NULL), ('Undefined geographic SRS', 0, 'NONE', 0, 'undefined', NULL),
           ('China Geodetic Coordinate System 2000', 4490, 'EPSG', 4490, '{}', 'CGCS2000 longitude/latitude');
         CREATE TABLE gpkg_contents (table_name TEXT NOT NULL PRIMARY KEY, data_type TEXT NOT NULL, identifier TEXT UNIQUE, description TEXT DEFAULT '', last_change DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')), min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE, srs_id INTEGER REFERENCES gpkg_spatial_ref_sys(srs_id));
         CREATE TABLE gpkg_geometry_columns (table_name TEXT NOT NULL, column_name TEXT NOT NULL, geometry_type_name TEXT NOT NULL, srs_id INTEGER NOT NULL, z TINYINT NOT NULL, m TINYINT NOT NULL, CONSTRAINT pk_geom_cols PRIMARY KEY (table_name, column_name));",
        PRJ_4490.replace('\'', "''")
    ))
    .map_err(err)?;
    let q = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    let fid = free_name("fid", &table.columns);
    let geom = free_name("geom", &table.columns);
    let mut cols = vec![format!(
        "{} INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL",
        q(&fid)
    )];
    if let Some(g) = table.geometry {
        cols.push(format!("{} {}", q(&geom), g.ogc_name()));
    }
    cols.push("id TEXT NOT NULL UNIQUE".into());
    for (c, ty) in &table.columns {
        let t = match ty {
            FieldType::Text => "TEXT",
            FieldType::Int => "INTEGER",
            FieldType::Real => "REAL",
            FieldType::Bool => "BOOLEAN",
            FieldType::Date => "DATE",
            FieldType::DateTime => "DATETIME",
        };
        cols.push(format!("{} {t}", q(c)));
    }
    tx.execute(
        &format!("CREATE TABLE {} ({})", q(&table.name), cols.join(", ")),
        [],
    )
    .map_err(err)?;
    let data_type = if table.geometry.is_some() {
        "features"
    } else {
        "attributes"
    };
    tx.execute(
        "INSERT INTO gpkg_contents (table_name, data_type, identifier, srs_id) VALUES (?1, ?2, ?1, ?3)",
        rusqlite::params![table.name, data_type, table.geometry.map(|_| 4490)],
    )
    .map_err(err)?;
    if let Some(g) = table.geometry {
        tx.execute(
            "INSERT INTO gpkg_geometry_columns VALUES (?1, ?2, ?3, 4490, 0, 0)",
            rusqlite::params![table.name, geom, g.ogc_name()],
        )
        .map_err(err)?;
    }
    let mut names = Vec::new();
    if table.geometry.is_some() {
        names.push(q(&geom));
    }
    names.push("id".into());
    names.extend(table.columns.iter().map(|(c, _)| q(c)));
    let marks: Vec<String> = (1..=names.len()).map(|i| format!("?{i}")).collect();
    {
        let mut stmt = tx
            .prepare(&format!(
                "INSERT INTO {} ({}) VALUES ({})",
                q(&table.name),
                names.join(", "),
                marks.join(", ")
            ))
            .map_err(err)?;
        for f in &table.rows {
            let mut vals: Vec<rusqlite::types::Value> = Vec::with_capacity(names.len());
            if table.geometry.is_some() {
                let g = f
                    .geometry
                    .as_ref()
                    .ok_or_else(|| IoError::file(path, format!("{}: no geometry", f.id)))?;
                vals.push(rusqlite::types::Value::Blob(
                    gengxin_store::gpkg::geom::encode(g).map_err(|e| IoError::file(path, e))?,
                ));
            }
            vals.push(rusqlite::types::Value::Text(f.id.clone()));
            for (c, _) in &table.columns {
                vals.push(match f.get(c) {
                    Value::Null => rusqlite::types::Value::Null,
                    Value::Text(s) => rusqlite::types::Value::Text(s.clone()),
                    Value::Int(i) => rusqlite::types::Value::Integer(*i),
                    Value::Real(r) => rusqlite::types::Value::Real(*r),
                    Value::Bool(b) => rusqlite::types::Value::Integer(i64::from(*b)),
                });
            }
            stmt.execute(rusqlite::params_from_iter(vals))
                .map_err(err)?;
        }
    }
    tx.commit().map_err(err)
}

/// A `field=value` filter's value typed by the model layer's field (text for custom layers).
pub fn filter_value(layer: &str, field: &str, v: &str) -> Value {
    let ty = Layer::by_name(layer)
        .and_then(|l| l.field(field))
        .map(|f| f.ty);
    match ty {
        Some(FieldType::Int) => v.parse().map_or(Value::Text(v.into()), Value::Int),
        Some(FieldType::Real) => v.parse().map_or(Value::Text(v.into()), Value::Real),
        Some(FieldType::Bool) => v.parse().map_or(Value::Text(v.into()), Value::Bool),
        _ => Value::Text(v.to_owned()),
    }
}
