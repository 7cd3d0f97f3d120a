//! GeoPackage (OGC 12-128): one feature or attribute table of any GeoPackage, opened read-only.

use std::path::Path;

use gengxin_engine::crs::Crs;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};

use crate::{Attr, Dataset, Format, IoError, ReadOptions, Record};

pub fn read(path: &Path, opts: &ReadOptions) -> Result<Dataset, IoError> {
    let err = |e: rusqlite::Error| IoError::file(path, format!("not a readable GeoPackage: {e}"));
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(err)?;
    let tables: Vec<(String, String)> = conn
        .prepare("SELECT table_name, data_type FROM gpkg_contents WHERE data_type IN ('features', 'attributes') ORDER BY table_name")
        .and_then(|mut s| {
            s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<Vec<_>, _>>()
        })
        .map_err(err)?;
    let count = |t: &str| -> Result<i64, IoError> {
        conn.query_row(
            &format!("SELECT count(*) FROM \"{}\"", t.replace('"', "\"\"")),
            [],
            |r| r.get(0),
        )
        .map_err(err)
    };
    let table = match &opts.source_layer {
        Some(name) => tables
            .iter()
            .find(|(t, _)| t == name)
            .map(|(t, _)| t.clone())
            .ok_or_else(|| IoError::file(path, format!("has no table {name:?}")))?,
        None => {
            let mut non_empty = Vec::new();
            for (t, _) in &tables {
                let n = count(t)?;
                if n > 0 {
                    non_empty.push((t.clone(), n));
                }
            }
            match non_empty.as_slice() {
                [(one, _)] => one.clone(),
                [] if tables.len() == 1 => tables[0].0.clone(),
                [] => return Err(IoError::file(path, "has no table with rows")),
                many => {
                    let list: Vec<String> =
                        many.iter().map(|(t, n)| format!("{t} ({n})")).collect();
                    return Err(IoError::file(
                        path,
                        format!(
                            "has several tables: {}; pass --source-layer with one",
                            list.join(", ")
                        ),
                    ));
                }
            }
        }
    };
    let geom: Option<(String, i64)> = conn
        .query_row(
            "SELECT column_name, srs_id FROM gpkg_geometry_columns WHERE table_name = ?1",
            [&table],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .ok();
    let (crs, declared) = match &geom {
        None => (None, None),
        Some((_, srs)) => {
            let (org, code, def): (String, i64, String) = conn
                .query_row(
                    "SELECT organization, organization_coordsys_id, definition FROM gpkg_spatial_ref_sys WHERE srs_id = ?1",
                    [srs],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .map_err(err)?;
            let crs = if org.eq_ignore_ascii_case("EPSG") {
                u32::try_from(code).ok().and_then(Crs::from_epsg)
            } else {
                None
            }
            .or_else(|| Crs::from_wkt(&def));
            let declared = crs.is_none().then(|| format!("{org}:{code}"));
            (crs, declared)
        }
    };
    let columns: Vec<(String, String, bool)> = conn
        .prepare(&format!(
            "PRAGMA table_info(\"{}\")",
            table.replace('"', "\"\"")
        ))
        .and_then(|mut s| {
            s.query_map([], |r| {
                Ok((
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(5)? > 0,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()
        })
        .map_err(err)?;
    let geom_col = geom.as_ref().map(|(c, _)| c.clone());
    let attr_cols: Vec<(String, String)> = columns
        .iter()
        .filter(|(name, ty, pk)| {
            Some(name) != geom_col.as_ref() && !(*pk && ty.eq_ignore_ascii_case("INTEGER"))
        })
        .map(|(n, t, _)| (n.clone(), t.to_ascii_uppercase()))
        .collect();
    let q = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    let mut select: Vec<String> = attr_cols.iter().map(|(n, _)| q(n)).collect();
    if let Some(g) = &geom_col {
        select.push(q(g));
    }
    if select.is_empty() {
        return Err(IoError::file(path, format!("table {table} has no columns")));
    }
    let sql = format!(
        "SELECT {} FROM {} ORDER BY rowid",
        select.join(", "),
        q(&table)
    );
    let mut stmt = conn.prepare(&sql).map_err(err)?;
    let mut rows = stmt.query([]).map_err(err)?;
    let mut records = Vec::new();
    while let Some(row) = rows.next().map_err(err)? {
        let mut attrs = Vec::with_capacity(attr_cols.len());
        for (i, (name, ty)) in attr_cols.iter().enumerate() {
            let v = match row.get_ref(i).map_err(err)? {
                ValueRef::Null | ValueRef::Blob(_) => Attr::Null,
                ValueRef::Integer(n) if ty == "BOOLEAN" => Attr::Bool(n != 0),
                ValueRef::Integer(n) => Attr::Int(n),
                ValueRef::Real(r) => Attr::Real(r),
                ValueRef::Text(t) => {
                    let s = String::from_utf8_lossy(t).into_owned();
                    if ty == "DATE" {
                        Attr::Date(s)
                    } else {
                        Attr::Text(s)
                    }
                }
            };
            attrs.push((name.clone(), v));
        }
        let geometry = match geom_col {
            None => None,
            Some(_) => match row.get_ref(attr_cols.len()).map_err(err)? {
                ValueRef::Blob(b) => Some(gengxin_store::gpkg::geom::decode(b).map_err(|e| {
                    IoError::file(path, format!("{table} row {}: {e}", records.len() + 1))
                })?),
                _ => None,
            },
        };
        records.push(Record {
            geometry,
            attrs,
            problems: Vec::new(),
        });
    }
    Ok(Dataset {
        format: Format::GeoPackage,
        records,
        crs,
        declared_crs: declared,
        encoding: None,
        fields: attr_cols.into_iter().map(|(n, _)| n).collect(),
    })
}
