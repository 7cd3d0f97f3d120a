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

/// Decodes a GeoPackage blob. The WKB's element counts are checked against the blob's length
/// first, so a damaged or hostile blob cannot make the decoder allocate beyond its size.
pub fn decode(blob: &[u8]) -> Result<Geometry<f64>, String> {
    if blob.len() < 8 || &blob[..2] != b"GP" {
        return Err("bad geometry blob: no GeoPackage header".into());
    }
    let envelope = match (blob[3] >> 1) & 0b111 {
        0 => 0,
        1 => 32,
        2 | 3 => 48,
        4 => 64,
        _ => return Err("bad geometry blob: invalid envelope code".into()),
    };
    let wkb = blob
        .get(8 + envelope..)
        .ok_or("bad geometry blob: shorter than its header")?;
    let mut at = 0;
    wkb_extent(wkb, &mut at, 0).map_err(|e| format!("bad geometry blob: {e}"))?;
    GpkgWkb(blob)
        .to_geo()
        .map_err(|e| format!("bad geometry blob: {e}"))
}

/// Walks one WKB geometry from `at`, checking every count against the bytes left.
fn wkb_extent(b: &[u8], at: &mut usize, depth: u32) -> Result<(), String> {
    if depth > 32 {
        return Err("geometry nested too deeply".into());
    }
    let order = *b.get(*at).ok_or("truncated WKB")?;
    let little = match order {
        0 => false,
        1 => true,
        _ => return Err("invalid WKB byte order".into()),
    };
    *at += 1;
    let u32_at = |at: &mut usize| -> Result<usize, String> {
        let bytes: [u8; 4] = b
            .get(*at..*at + 4)
            .ok_or("truncated WKB")?
            .try_into()
            .expect("4 bytes");
        *at += 4;
        Ok(if little {
            u32::from_le_bytes(bytes)
        } else {
            u32::from_be_bytes(bytes)
        } as usize)
    };
    let ty = u32_at(at)?;
    let dims = match ty / 1000 {
        0 => 2,
        1 | 2 => 3,
        3 => 4,
        _ => return Err(format!("unsupported WKB type {ty}")),
    };
    let point = 8 * dims;
    let need = |at: &mut usize, n: usize, each: usize| -> Result<(), String> {
        let len = n.checked_mul(each).ok_or("WKB count overflows")?;
        if b.len().saturating_sub(*at) < len {
            return Err(format!("WKB claims {n} elements, more than its bytes hold"));
        }
        *at += len;
        Ok(())
    };
    match ty % 1000 {
        1 => need(at, 1, point),
        2 => {
            let n = u32_at(at)?;
            need(at, n, point)
        }
        3 => {
            let rings = u32_at(at)?;
            need(&mut at.clone(), rings, 4)?;
            for _ in 0..rings {
                let n = u32_at(at)?;
                need(at, n, point)?;
            }
            Ok(())
        }
        4..=7 => {
            let n = u32_at(at)?;
            // Every part is at least a byte order and a type.
            need(&mut at.clone(), n, 5)?;
            for _ in 0..n {
                wkb_extent(b, at, depth + 1)?;
            }
            Ok(())
        }
        _ => Err(format!("unsupported WKB type {ty}")),
    }
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
    fn a_blob_claiming_more_points_than_it_holds_is_refused_before_allocating() {
        // Found by fuzzing: a line claiming 2^31 points made the decoder allocate 64 GB.
        let mut blob = b"GP\0\x01\xe6\x10\0\0".to_vec();
        blob.extend([1, 2, 0, 0, 0]);
        blob.extend(0x8000_0000u32.to_le_bytes());
        blob.extend([0u8; 32]);
        let err = decode(&blob).unwrap_err();
        assert!(err.contains("more than its bytes hold"), "{err}");
        let mut nested = b"GP\0\x01\xe6\x10\0\0".to_vec();
        for _ in 0..40 {
            nested.extend([1, 7, 0, 0, 0, 1, 0, 0, 0]);
        }
        assert!(decode(&nested).unwrap_err().contains("nested too deeply"));
    }

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
