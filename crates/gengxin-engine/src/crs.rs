//! Reprojection between the storage CRS and metric planes.
//!
//! Every geometry is *stored* in EPSG:4490 (CGCS2000 lon/lat, degrees). Areas, distances and
//! generated shapes are computed in a CGCS2000 3° Gauss–Krüger zone without false-easting zone
//! prefix (EPSG:4534–4554; Wuhan is EPSG:4547, central meridian 114°E). This module is the only
//! place that converts between the two; it uses `proj4rs` (a Rust port of PROJ.4's transverse
//! Mercator) with the CGCS2000 ellipsoid.

use geo::{Coord, MapCoords};
use proj4rs::Proj;

/// A CGCS2000 3° Gauss–Krüger zone (EPSG:4534 + n for central meridians 75°E … 135°E).
pub struct GaussKruger {
    epsg: u16,
    geographic: Proj,
    projected: Proj,
}

/// Why a reprojection failed.
#[derive(Debug, Clone, PartialEq)]
pub struct CrsError(pub String);

impl std::fmt::Display for CrsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for CrsError {}

const CGCS2000: &str = "+proj=longlat +ellps=GRS80 +no_defs";

impl GaussKruger {
    /// The zone with the given central meridian (a multiple of 3 between 75 and 135).
    pub fn with_central_meridian(cm: u16) -> Result<Self, CrsError> {
        if !(75..=135).contains(&cm) || !cm.is_multiple_of(3) {
            return Err(CrsError(format!(
                "no CGCS2000 3° Gauss–Krüger zone has central meridian {cm}°E (75–135, multiples of 3)"
            )));
        }
        let epsg = 4534 + (cm - 75) / 3;
        // CGCS2000's ellipsoid differs from GRS80 only in the 10th significant digit of 1/f.
        let def = format!(
            "+proj=tmerc +lat_0=0 +lon_0={cm} +k=1 +x_0=500000 +y_0=0 +ellps=GRS80 +units=m +no_defs"
        );
        let err = |e: proj4rs::errors::Error| CrsError(format!("EPSG:{epsg}: {e:?}"));
        Ok(GaussKruger {
            epsg,
            geographic: Proj::from_proj_string(CGCS2000).map_err(err)?,
            projected: Proj::from_proj_string(&def).map_err(err)?,
        })
    }

    /// The zone of Wuhan, EPSG:4547 (central meridian 114°E).
    pub fn wuhan() -> Self {
        Self::with_central_meridian(114).expect("114 is a valid central meridian")
    }

    pub fn epsg(&self) -> u16 {
        self.epsg
    }

    /// EPSG:4490 lon/lat degrees → zone metres (easting, northing).
    pub fn project(&self, c: Coord) -> Coord {
        let mut p = (c.x.to_radians(), c.y.to_radians(), 0.0);
        proj4rs::transform::transform(&self.geographic, &self.projected, &mut p)
            .expect("transverse Mercator is defined within a zone's range");
        Coord { x: p.0, y: p.1 }
    }

    /// Zone metres → EPSG:4490 lon/lat degrees.
    pub fn unproject(&self, c: Coord) -> Coord {
        let mut p = (c.x, c.y, 0.0);
        proj4rs::transform::transform(&self.projected, &self.geographic, &mut p)
            .expect("inverse transverse Mercator is defined within a zone's range");
        Coord {
            x: p.0.to_degrees(),
            y: p.1.to_degrees(),
        }
    }

    pub fn project_geometry<G: MapCoords<f64, f64, Output = G>>(&self, g: &G) -> G {
        g.map_coords(|c| self.project(c))
    }

    pub fn unproject_geometry<G: MapCoords<f64, f64, Output = G>>(&self, g: &G) -> G {
        g.map_coords(|c| self.unproject(c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference values computed independently with pyproj (PROJ):
    /// `Transformer.from_crs(4490, 4547, always_xy=True).transform(lon, lat)`.
    #[test]
    fn wuhan_zone_matches_proj() {
        let gk = GaussKruger::wuhan();
        assert_eq!(gk.epsg(), 4547);
        for (lon, lat, e, n) in [
            (114.3, 30.6, 528_770.237_3, 3_386_666.250_6),
            (114.0, 30.0, 500_000.0, 3_320_113.397_8),
        ] {
            let p = gk.project(Coord { x: lon, y: lat });
            assert!(
                (p.x - e).abs() < 0.001 && (p.y - n).abs() < 0.001,
                "{lon},{lat} -> {p:?}"
            );
        }
        let p = gk.project(Coord { x: 114.3, y: 30.6 });
        let back = gk.unproject(p);
        assert!(
            (back.x - 114.3).abs() < 1e-9 && (back.y - 30.6).abs() < 1e-9,
            "{back:?}"
        );
    }

    #[test]
    fn unknown_zone_is_refused() {
        assert!(GaussKruger::with_central_meridian(113).is_err());
        assert!(GaussKruger::with_central_meridian(138).is_err());
    }
}
