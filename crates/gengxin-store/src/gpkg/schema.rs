//! The GeoPackage schema: the OGC core tables, one table per catalogue layer, and the versioned
//! migrations that create them.
//!
//! Feature tables follow GeoPackage 1.3: an `fid INTEGER PRIMARY KEY AUTOINCREMENT`, a `geom`
//! column registered in `gpkg_geometry_columns` with SRS 4490, and an R-tree index kept by the
//! `gpkg_rtree_index` triggers. Attribute layers are registered with data type `attributes`.
//! Fields whose name ends in `_id` or `_code` are foreign keys and get an index.

use gengxin_model::{FieldType, Layer, STORAGE_SRID, catalogue};

use crate::{added_fields, created_fields, layer_version};
use rusqlite::{Transaction, params};

/// `PRAGMA application_id` of every GeoPackage: ASCII "GPKG".
pub const APPLICATION_ID: i32 = 0x4750_4B47;
/// `PRAGMA user_version` for GeoPackage 1.3.0 (GDAL 3.6, Debian 12's, warns on 1.4).
pub const GPKG_USER_VERSION: i32 = 10300;

/// One migration per schema version, in order; the store's version is how many have run.
/// Append only: a released migration never changes.
pub const MIGRATIONS: &[fn(&Transaction) -> rusqlite::Result<()>] = &[
    core_and_layers_v1,
    imports_and_custom_layers_v2,
    saved_queries_v3,
    life_circle_v4,
    accounts_and_reporting_v5,
    custom_layer_access_v6,
    password_history_v7,
    submission_checks_v8,
];

pub fn latest_version() -> i64 {
    MIGRATIONS.len() as i64
}

const CGCS2000_WKT: &str = r#"GEOGCS["China Geodetic Coordinate System 2000",DATUM["China_2000",SPHEROID["CGCS2000",6378137,298.257222101,AUTHORITY["EPSG","1024"]],AUTHORITY["EPSG","1043"]],PRIMEM["Greenwich",0,AUTHORITY["EPSG","8901"]],UNIT["degree",0.0174532925199433,AUTHORITY["EPSG","9122"]],AUTHORITY["EPSG","4490"]]"#;
const WGS84_WKT: &str = r#"GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563,AUTHORITY["EPSG","7030"]],AUTHORITY["EPSG","6326"]],PRIMEM["Greenwich",0,AUTHORITY["EPSG","8901"]],UNIT["degree",0.0174532925199433,AUTHORITY["EPSG","9122"]],AUTHORITY["EPSG","4326"]]"#;

const CORE: &str = r#"
CREATE TABLE gpkg_spatial_ref_sys (
  srs_name TEXT NOT NULL, srs_id INTEGER PRIMARY KEY, organization TEXT NOT NULL,
  organization_coordsys_id INTEGER NOT NULL, definition TEXT NOT NULL, description TEXT);
CREATE TABLE gpkg_contents (
  table_name TEXT NOT NULL PRIMARY KEY, data_type TEXT NOT NULL, identifier TEXT UNIQUE,
  description TEXT DEFAULT '', last_change DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
  min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE, srs_id INTEGER,
  CONSTRAINT fk_gc_r_srs_id FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys(srs_id));
CREATE TABLE gpkg_geometry_columns (
  table_name TEXT NOT NULL, column_name TEXT NOT NULL, geometry_type_name TEXT NOT NULL,
  srs_id INTEGER NOT NULL, z TINYINT NOT NULL, m TINYINT NOT NULL,
  CONSTRAINT pk_geom_cols PRIMARY KEY (table_name, column_name),
  CONSTRAINT uk_gc_table_name UNIQUE (table_name),
  CONSTRAINT fk_gc_tn FOREIGN KEY (table_name) REFERENCES gpkg_contents(table_name),
  CONSTRAINT fk_gc_srs FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys (srs_id));
CREATE TABLE gpkg_extensions (
  table_name TEXT, column_name TEXT, extension_name TEXT NOT NULL, definition TEXT NOT NULL,
  scope TEXT NOT NULL, CONSTRAINT ge_tce UNIQUE (table_name, column_name, extension_name));
CREATE TABLE gpkg_tile_matrix_set (
  table_name TEXT NOT NULL PRIMARY KEY, srs_id INTEGER NOT NULL, min_x DOUBLE NOT NULL,
  min_y DOUBLE NOT NULL, max_x DOUBLE NOT NULL, max_y DOUBLE NOT NULL,
  CONSTRAINT fk_gtms_table_name FOREIGN KEY (table_name) REFERENCES gpkg_contents(table_name),
  CONSTRAINT fk_gtms_srs FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys (srs_id));
CREATE TABLE gpkg_tile_matrix (
  table_name TEXT NOT NULL, zoom_level INTEGER NOT NULL, matrix_width INTEGER NOT NULL,
  matrix_height INTEGER NOT NULL, tile_width INTEGER NOT NULL, tile_height INTEGER NOT NULL,
  pixel_x_size DOUBLE NOT NULL, pixel_y_size DOUBLE NOT NULL,
  CONSTRAINT pk_ttm PRIMARY KEY (table_name, zoom_level),
  CONSTRAINT fk_tmm_table_name FOREIGN KEY (table_name) REFERENCES gpkg_contents(table_name));
CREATE TABLE gengxin_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"#;

fn core_and_layers_v1(tx: &Transaction) -> rusqlite::Result<()> {
    tx.execute_batch(CORE)?;
    let mut srs = tx.prepare(
        "INSERT INTO gpkg_spatial_ref_sys (srs_name, srs_id, organization, organization_coordsys_id, definition, description) VALUES (?,?,?,?,?,?)",
    )?;
    srs.execute(params![
        "Undefined cartesian SRS",
        -1,
        "NONE",
        -1,
        "undefined",
        "undefined cartesian coordinate reference system"
    ])?;
    srs.execute(params![
        "Undefined geographic SRS",
        0,
        "NONE",
        0,
        "undefined",
        "undefined geographic coordinate reference system"
    ])?;
    srs.execute(params![
        "WGS 84 geodetic",
        4326,
        "EPSG",
        4326,
        WGS84_WKT,
        "longitude/latitude coordinates in decimal degrees on the WGS 84 spheroid"
    ])?;
    srs.execute(params![
        "China Geodetic Coordinate System 2000",
        STORAGE_SRID,
        "EPSG",
        STORAGE_SRID,
        CGCS2000_WKT,
        "CGCS2000 longitude/latitude; Gengxin's storage CRS"
    ])?;
    for layer in catalogue().iter().filter(|l| layer_version(l.id) == 1) {
        create_layer(tx, layer)?;
    }
    Ok(())
}

fn imports_and_custom_layers_v2(tx: &Transaction) -> rusqlite::Result<()> {
    for layer in catalogue().iter().filter(|l| layer_version(l.id) == 2) {
        create_layer(tx, layer)?;
    }
    Ok(())
}

fn saved_queries_v3(tx: &Transaction) -> rusqlite::Result<()> {
    for layer in catalogue().iter().filter(|l| layer_version(l.id) == 3) {
        create_layer(tx, layer)?;
    }
    Ok(())
}

fn life_circle_v4(tx: &Transaction) -> rusqlite::Result<()> {
    for layer in catalogue().iter().filter(|l| layer_version(l.id) == 4) {
        create_layer(tx, layer)?;
    }
    Ok(())
}

fn accounts_and_reporting_v5(tx: &Transaction) -> rusqlite::Result<()> {
    for layer in catalogue().iter().filter(|l| layer_version(l.id) == 5) {
        create_layer(tx, layer)?;
    }
    Ok(())
}

fn custom_layer_access_v6(tx: &Transaction) -> rusqlite::Result<()> {
    for (layer, f) in added_fields(6) {
        let t = layer.table();
        tx.execute_batch(&format!(
            "ALTER TABLE \"{t}\" ADD COLUMN \"{}\" {};",
            f.name,
            sql_type(f.ty)
        ))?;
        if f.name.ends_with("_id") || f.name.ends_with("_code") {
            tx.execute_batch(&format!(
                "CREATE INDEX \"idx_{t}_{0}\" ON \"{t}\" (\"{0}\");",
                f.name
            ))?;
        }
    }
    Ok(())
}

fn password_history_v7(tx: &Transaction) -> rusqlite::Result<()> {
    add_columns(tx, 7)
}

fn submission_checks_v8(tx: &Transaction) -> rusqlite::Result<()> {
    add_columns(tx, 8)
}

/// Adds the fields a migration brings to tables made before it.
fn add_columns(tx: &Transaction, version: i64) -> rusqlite::Result<()> {
    for (layer, f) in added_fields(version) {
        tx.execute_batch(&format!(
            "ALTER TABLE \"{}\" ADD COLUMN \"{}\" {};",
            layer.table(),
            f.name,
            sql_type(f.ty)
        ))?;
    }
    Ok(())
}

fn sql_type(ty: FieldType) -> &'static str {
    match ty {
        FieldType::Text => "TEXT",
        FieldType::Int => "INTEGER",
        FieldType::Real => "REAL",
        FieldType::Bool => "BOOLEAN",
        FieldType::Date => "DATE",
        FieldType::DateTime => "DATETIME",
    }
}

fn create_layer(tx: &Transaction, layer: &Layer) -> rusqlite::Result<()> {
    let t = layer.table();
    let mut cols = vec!["fid INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL".to_owned()];
    if let Some(g) = layer.geometry {
        cols.push(format!("geom {} NOT NULL", g.ogc_name()));
    }
    cols.extend([
        "id TEXT NOT NULL UNIQUE".to_owned(),
        "provenance TEXT NOT NULL".to_owned(),
        "created_at DATETIME NOT NULL".to_owned(),
        "updated_at DATETIME NOT NULL".to_owned(),
        "version INTEGER NOT NULL DEFAULT 1".to_owned(),
    ]);
    cols.extend(created_fields(layer).map(|f| format!("\"{}\" {}", f.name, sql_type(f.ty))));
    tx.execute_batch(&format!("CREATE TABLE \"{t}\" ({});", cols.join(", ")))?;
    for f in created_fields(layer).filter(|f| f.name.ends_with("_id") || f.name.ends_with("_code"))
    {
        tx.execute_batch(&format!(
            "CREATE INDEX \"idx_{t}_{0}\" ON \"{t}\" (\"{0}\");",
            f.name
        ))?;
    }
    let data_type = if layer.geometry.is_some() {
        "features"
    } else {
        "attributes"
    };
    let srs = layer.geometry.map(|_| STORAGE_SRID);
    tx.execute(
        "INSERT INTO gpkg_contents (table_name, data_type, identifier, description, last_change, srs_id) VALUES (?,?,?,?,?,?)",
        params![t, data_type, t, format!("{} / {} ({})", layer.zh, layer.en, layer.database.name()), "1970-01-01T00:00:00.000Z", srs],
    )?;
    let Some(g) = layer.geometry else {
        return Ok(());
    };
    tx.execute(
        "INSERT INTO gpkg_geometry_columns VALUES (?, 'geom', ?, ?, 0, 0)",
        params![t, g.ogc_name(), STORAGE_SRID],
    )?;
    tx.execute(
        "INSERT INTO gpkg_extensions VALUES (?, 'geom', 'gpkg_rtree_index', 'http://www.geopackage.org/spec120/#extension_rtree', 'write-only')",
        params![t],
    )?;
    // The triggers of the GeoPackage 1.3 R-tree extension (spec F.3), with t = table, c = geom, i = fid.
    let r = format!("rtree_{t}_geom");
    tx.execute_batch(&format!(
        r#"
CREATE VIRTUAL TABLE "{r}" USING rtree(id, minx, maxx, miny, maxy);
CREATE TRIGGER "{r}_insert" AFTER INSERT ON "{t}" WHEN (new.geom NOT NULL AND NOT ST_IsEmpty(NEW.geom))
BEGIN
  INSERT OR REPLACE INTO "{r}" VALUES (NEW.fid, ST_MinX(NEW.geom), ST_MaxX(NEW.geom), ST_MinY(NEW.geom), ST_MaxY(NEW.geom));
END;
CREATE TRIGGER "{r}_update1" AFTER UPDATE OF geom ON "{t}" WHEN OLD.fid = NEW.fid AND (NEW.geom NOTNULL AND NOT ST_IsEmpty(NEW.geom))
BEGIN
  INSERT OR REPLACE INTO "{r}" VALUES (NEW.fid, ST_MinX(NEW.geom), ST_MaxX(NEW.geom), ST_MinY(NEW.geom), ST_MaxY(NEW.geom));
END;
CREATE TRIGGER "{r}_update2" AFTER UPDATE OF geom ON "{t}" WHEN OLD.fid = NEW.fid AND (NEW.geom ISNULL OR ST_IsEmpty(NEW.geom))
BEGIN
  DELETE FROM "{r}" WHERE id = OLD.fid;
END;
CREATE TRIGGER "{r}_update3" AFTER UPDATE ON "{t}" WHEN OLD.fid != NEW.fid AND (NEW.geom NOTNULL AND NOT ST_IsEmpty(NEW.geom))
BEGIN
  DELETE FROM "{r}" WHERE id = OLD.fid;
  INSERT OR REPLACE INTO "{r}" VALUES (NEW.fid, ST_MinX(NEW.geom), ST_MaxX(NEW.geom), ST_MinY(NEW.geom), ST_MaxY(NEW.geom));
END;
CREATE TRIGGER "{r}_update4" AFTER UPDATE ON "{t}" WHEN OLD.fid != NEW.fid AND (NEW.geom ISNULL OR ST_IsEmpty(NEW.geom))
BEGIN
  DELETE FROM "{r}" WHERE id IN (OLD.fid, NEW.fid);
END;
CREATE TRIGGER "{r}_delete" AFTER DELETE ON "{t}" WHEN old.geom NOT NULL
BEGIN
  DELETE FROM "{r}" WHERE id = OLD.fid;
END;
"#
    ))
}
