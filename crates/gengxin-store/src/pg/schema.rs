//! The PostgreSQL schema: one schema per database of the catalogue (`renewal`, `community`), one
//! table per layer with a typed PostGIS geometry column (so `geometry_columns` lists it for QGIS
//! and GeoServer) and a GiST index, and Gengxin's own bookkeeping in schema `gengxin`.
//!
//! Migrations are versioned and append-only, like the GeoPackage's; each runs in one transaction
//! holding an advisory lock, so two servers starting at once migrate once.

use gengxin_model::{FieldType, GeometryType, Layer, STORAGE_SRID, catalogue};

use crate::{added_fields, created_fields, layer_version};

/// The oldest PostGIS Gengxin runs on (ST_AsMVT with feature ids, `geometry(…)` typmods).
pub const MIN_POSTGIS: (u32, u32) = (3, 0);

/// Key of the advisory lock held while migrating.
pub const MIGRATION_LOCK: i64 = 0x4745_4E47; // "GENG"

/// One migration per schema version, in order; each returns its SQL statements.
pub const MIGRATIONS: &[fn() -> Vec<String>] = &[
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

/// A layer's table, schema-qualified and quoted: `"renewal"."parcels"`.
pub fn table(layer: &Layer) -> String {
    format!("\"{}\".\"{}\"", layer.database.name(), layer.name)
}

pub fn sql_type(ty: FieldType) -> &'static str {
    match ty {
        FieldType::Text => "text",
        FieldType::Int => "bigint",
        FieldType::Real => "double precision",
        FieldType::Bool => "boolean",
        FieldType::Date => "date",
        FieldType::DateTime => "timestamptz",
    }
}

fn geometry_type(g: GeometryType) -> String {
    format!("geometry({}, {STORAGE_SRID})", g.ogc_name())
}

fn quote_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn core_and_layers_v1() -> Vec<String> {
    let mut sql = vec![
        "CREATE SCHEMA IF NOT EXISTS gengxin".to_owned(),
        "CREATE TABLE gengxin.meta (key text PRIMARY KEY, value text NOT NULL)".to_owned(),
        // Attachment bytes, content-addressed; rows of layer `attachments` name them by sha256.
        "CREATE TABLE gengxin.attachment_files (sha256 text PRIMARY KEY CHECK (sha256 ~ '^[0-9a-f]{64}$'), bytes bytea NOT NULL)".to_owned(),
    ];
    for db in ["renewal", "community"] {
        sql.push(format!("CREATE SCHEMA IF NOT EXISTS {db}"));
    }
    for layer in catalogue().iter().filter(|l| layer_version(l.id) == 1) {
        sql.extend(create_layer(layer));
    }
    sql
}

fn imports_and_custom_layers_v2() -> Vec<String> {
    catalogue()
        .iter()
        .filter(|l| layer_version(l.id) == 2)
        .flat_map(create_layer)
        .collect()
}

fn saved_queries_v3() -> Vec<String> {
    catalogue()
        .iter()
        .filter(|l| layer_version(l.id) == 3)
        .flat_map(create_layer)
        .collect()
}

fn life_circle_v4() -> Vec<String> {
    catalogue()
        .iter()
        .filter(|l| layer_version(l.id) == 4)
        .flat_map(create_layer)
        .collect()
}

fn accounts_and_reporting_v5() -> Vec<String> {
    catalogue()
        .iter()
        .filter(|l| layer_version(l.id) == 5)
        .flat_map(create_layer)
        .collect()
}

fn custom_layer_access_v6() -> Vec<String> {
    let mut sql = Vec::new();
    for (layer, f) in added_fields(6) {
        let t = table(layer);
        sql.push(format!(
            "ALTER TABLE {t} ADD COLUMN \"{}\" {}",
            f.name,
            sql_type(f.ty)
        ));
        sql.push(format!(
            "COMMENT ON COLUMN {t}.\"{}\" IS {}",
            f.name,
            quote_literal(f.zh)
        ));
        sql.extend(field_index(layer, f));
    }
    sql
}

fn password_history_v7() -> Vec<String> {
    add_columns(7)
}

fn submission_checks_v8() -> Vec<String> {
    add_columns(8)
}

/// Adds the fields a migration brings to tables made before it, with their comments.
fn add_columns(version: i64) -> Vec<String> {
    let mut sql = Vec::new();
    for (layer, f) in added_fields(version) {
        let t = table(layer);
        sql.push(format!(
            "ALTER TABLE {t} ADD COLUMN \"{}\" {}",
            f.name,
            sql_type(f.ty)
        ));
        sql.push(format!(
            "COMMENT ON COLUMN {t}.\"{}\" IS {}",
            f.name,
            quote_literal(f.zh)
        ));
    }
    sql
}

/// The index of a foreign-key field (named `*_id` or `*_code`).
fn field_index(layer: &Layer, f: &gengxin_model::Field) -> Option<String> {
    (f.name.ends_with("_id") || f.name.ends_with("_code")).then(|| {
        format!(
            "CREATE INDEX \"{0}_{1}_{2}\" ON {3} (\"{2}\")",
            layer.database.name(),
            layer.name,
            f.name,
            table(layer)
        )
    })
}

fn create_layer(layer: &Layer) -> Vec<String> {
    let mut sql = Vec::new();
    {
        let t = table(layer);
        let mut cols = vec!["fid bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY".to_owned()];
        if let Some(g) = layer.geometry {
            cols.push(format!("geom {} NOT NULL", geometry_type(g)));
        }
        cols.extend([
            // Byte order, as SQLite compares text: both backends list rows in the same order.
            "id text COLLATE \"C\" NOT NULL UNIQUE".to_owned(),
            "provenance text NOT NULL".to_owned(),
            "created_at timestamptz NOT NULL".to_owned(),
            "updated_at timestamptz NOT NULL".to_owned(),
            "version bigint NOT NULL DEFAULT 1 CHECK (version >= 1)".to_owned(),
        ]);
        cols.extend(created_fields(layer).map(|f| format!("\"{}\" {}", f.name, sql_type(f.ty))));
        sql.push(format!("CREATE TABLE {t} ({})", cols.join(", ")));
        sql.push(format!(
            "COMMENT ON TABLE {t} IS {}",
            quote_literal(&format!("{} / {}", layer.zh, layer.en))
        ));
        for f in created_fields(layer) {
            sql.push(format!(
                "COMMENT ON COLUMN {t}.\"{}\" IS {}",
                f.name,
                quote_literal(f.zh)
            ));
        }
        if layer.geometry.is_some() {
            sql.push(format!(
                "CREATE INDEX \"{0}_{1}_geom_gist\" ON {t} USING gist (geom)",
                layer.database.name(),
                layer.name
            ));
        }
        sql.extend(created_fields(layer).filter_map(|f| field_index(layer, f)));
    }
    sql
}
