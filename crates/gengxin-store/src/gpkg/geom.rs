//! GeoPackage geometry blobs (the `GP` header + ISO WKB) and the SQL functions the
//! `gpkg_rtree_index` triggers call (`ST_MinX` … `ST_IsEmpty`).

use geo::BoundingRect;
use geo_types::Geometry;
use geozero::wkb::GpkgWkb;
use geozero::{CoordDimensions, ToGeo, ToWkb};
use rusqlite::Connection;
use rusqlite::functions::FunctionFlags;
use rusqlite::types::ValueRef;

use gengxin_model::STORAGE_SRID;

/// Encodes a geometry as a GeoPackage blob with its envelope, in EPSG:4490.
pub fn encode(g: &Geometry<f64>) -> Result<Vec<u8>, String> {
    let r = g.bounding_rect().ok_or("geometry is empty")?;
    let env = vec![r.min().x, r.max().x, r.min().y, r.max().y];
    g.to_gpkg_wkb(CoordDimensions::xy(), Some(STORAGE_SRID), env)
        .map_err(|e| e.to_string())
}

/// Decodes a GeoPackage blob.
pub fn decode(blob: &[u8]) -> Result<Geometry<f64>, String> {
    GpkgWkb(blob)
        .to_geo()
        .map_err(|e| format!("bad geometry blob: {e}"))
}

/// The envelope [min_x, max_x, min_y, max_y] of a blob, read from its header when present,
/// computed from the geometry otherwise; `None` for an empty geometry.
fn envelope(blob: &[u8]) -> Result<Option<[f64; 4]>, String> {
    if blob.len() < 8 || &blob[..2] != b"GP" {
        return Err("not a GeoPackage geometry blob".into());
    }
    let flags = blob[3];
    if flags & 0b1_0000 != 0 {
        return Ok(None);
    }
    let little = flags & 1 == 1;
    if (flags >> 1) & 0b111 != 0 && blob.len() >= 40 {
        let mut e = [0.0; 4];
        for (i, v) in e.iter_mut().enumerate() {
            let b: [u8; 8] = blob[8 + 8 * i..16 + 8 * i].try_into().expect("8 bytes");
            *v = if little {
                f64::from_le_bytes(b)
            } else {
                f64::from_be_bytes(b)
            };
        }
        return Ok(Some(e));
    }
    Ok(decode(blob)?
        .bounding_rect()
        .map(|r| [r.min().x, r.max().x, r.min().y, r.max().y]))
}

/// Registers `ST_MinX`, `ST_MaxX`, `ST_MinY`, `ST_MaxY` and `ST_IsEmpty` on a connection, as the
/// GeoPackage R-tree extension's triggers require.
pub fn register_functions(conn: &Connection) -> rusqlite::Result<()> {
    let flags = FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC;
    for (name, idx) in [
        ("ST_MinX", 0),
        ("ST_MaxX", 1),
        ("ST_MinY", 2),
        ("ST_MaxY", 3),
    ] {
        conn.create_scalar_function(name, 1, flags, move |ctx| match ctx.get_raw(0) {
            ValueRef::Blob(b) => Ok(envelope(b)
                .map_err(|e| rusqlite::Error::UserFunctionError(e.into()))?
                .map(|e| e[idx])),
            _ => Ok(None),
        })?;
    }
    conn.create_scalar_function("ST_IsEmpty", 1, flags, |ctx| match ctx.get_raw(0) {
        ValueRef::Blob(b) => Ok(Some(
            envelope(b)
                .map_err(|e| rusqlite::Error::UserFunctionError(e.into()))?
                .is_none(),
        )),
        _ => Ok(None),
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo_types::{Point, polygon};

    #[test]
    fn blob_round_trips_and_carries_its_envelope() {
        let g: Geometry<f64> =
            polygon![(x: 114.1, y: 30.2), (x: 114.3, y: 30.2), (x: 114.3, y: 30.5)].into();
        let blob = encode(&g).unwrap();
        assert_eq!(&blob[..2], b"GP");
        assert_eq!(i32::from_le_bytes(blob[4..8].try_into().unwrap()), 4490);
        assert_eq!(envelope(&blob).unwrap(), Some([114.1, 114.3, 30.2, 30.5]));
        assert_eq!(decode(&blob).unwrap(), g);
        let p: Geometry<f64> = Point::new(114.0, 30.0).into();
        assert_eq!(decode(&encode(&p).unwrap()).unwrap(), p);
        assert!(envelope(b"nonsense").is_err());
    }
}
