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

    /// EPSG:4490 lon/lat degrees → zone metres (easting, northing), for points within the
    /// zone's range (the store's own data).
    pub fn project(&self, c: Coord) -> Coord {
        self.try_project(c)
            .expect("transverse Mercator is defined within a zone's range")
    }

    /// [`project`](Self::project) for a point a client names: `None` outside the projection's
    /// domain (e.g. half a world away from the zone's meridian).
    pub fn try_project(&self, c: Coord) -> Option<Coord> {
        let mut p = (c.x.to_radians(), c.y.to_radians(), 0.0);
        proj4rs::transform::transform(&self.geographic, &self.projected, &mut p).ok()?;
        (p.0.is_finite() && p.1.is_finite()).then_some(Coord { x: p.0, y: p.1 })
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

/// A coordinate reference system that Gengxin can read data in. Everything is converted to the
/// storage CRS, EPSG:4490, on the way in ([`Crs::to_storage`]) and may be converted back out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Crs {
    /// EPSG:4490, CGCS2000 lon/lat: the storage CRS.
    Cgcs2000,
    /// EPSG:4326, WGS 84 lon/lat. CGCS2000 and WGS 84 agree to a few centimetres, below the
    /// accuracy of the data; PROJ registers no transformation between them, and neither do we.
    Wgs84,
    /// EPSG:3857, web (spherical) Mercator over WGS 84.
    WebMercator,
    /// EPSG:4534–4554, a CGCS2000 3° Gauss–Krüger zone without zone prefix; holds the EPSG code.
    GaussKruger(u16),
    /// GCJ-02, the obfuscated WGS 84 of Chinese web maps (AMap/Gaode, Tencent). Never inferred.
    Gcj02,
    /// BD-09, Baidu's further obfuscation of GCJ-02. Never inferred.
    Bd09,
}

/// What to pass when a file's CRS is missing or not understood.
pub const CRS_HINT: &str = "pass --crs with one of EPSG:4490, EPSG:4326, EPSG:3857, EPSG:4534 … EPSG:4554 (CGCS2000 3° Gauss–Krüger, e.g. EPSG:4547 for Wuhan), GCJ-02 or BD-09";

const WEB_MERCATOR_R: f64 = 6_378_137.0;

impl Crs {
    /// An EPSG code Gengxin supports.
    pub fn from_epsg(code: u32) -> Option<Crs> {
        match code {
            4490 => Some(Crs::Cgcs2000),
            4326 => Some(Crs::Wgs84),
            3857 | 900913 => Some(Crs::WebMercator),
            4534..=4554 => Some(Crs::GaussKruger(code as u16)),
            _ => None,
        }
    }

    /// Parses a CRS given by a user: `EPSG:4547`, `4547`, `GCJ-02`/`gcj02`, `BD-09`/`bd09`,
    /// `WGS84`, `CGCS2000`.
    pub fn parse(s: &str) -> Result<Crs, CrsError> {
        let t = s.trim().to_ascii_lowercase().replace(['-', '_', ' '], "");
        let code = t.strip_prefix("epsg:").unwrap_or(&t);
        let crs = match code {
            "gcj02" => Some(Crs::Gcj02),
            "bd09" | "bd09ll" => Some(Crs::Bd09),
            "wgs84" => Some(Crs::Wgs84),
            "cgcs2000" => Some(Crs::Cgcs2000),
            _ => code.parse().ok().and_then(Crs::from_epsg),
        };
        crs.ok_or_else(|| CrsError(format!("unsupported CRS {s:?}: {CRS_HINT}")))
    }

    /// The name users see (`EPSG:4547`, `GCJ-02`).
    pub fn name(self) -> String {
        match self {
            Crs::Gcj02 => "GCJ-02".into(),
            Crs::Bd09 => "BD-09".into(),
            other => format!("EPSG:{}", other.epsg().expect("EPSG systems have a code")),
        }
    }

    pub fn epsg(self) -> Option<u32> {
        match self {
            Crs::Cgcs2000 => Some(4490),
            Crs::Wgs84 => Some(4326),
            Crs::WebMercator => Some(3857),
            Crs::GaussKruger(c) => Some(c.into()),
            Crs::Gcj02 | Crs::Bd09 => None,
        }
    }

    /// Recognises the CRS of an OGC or ESRI WKT definition (a `.prj` file, a GeoPackage SRS):
    /// an `AUTHORITY["EPSG", …]` of the whole system first, else the names and parameters that
    /// ESRI and GDAL write for the supported systems. `None` when it is anything else.
    pub fn from_wkt(wkt: &str) -> Option<Crs> {
        let flat: String = wkt.chars().filter(|c| !c.is_whitespace()).collect();
        let up = flat.to_ascii_uppercase();
        // The outermost AUTHORITY/ID is the last one in WKT1 and WKT2.
        let authority = ["AUTHORITY[\"EPSG\",\"", "ID[\"EPSG\","]
            .iter()
            .filter_map(|k| up.rfind(k).map(|i| (i, k.len())))
            .max();
        if let Some((i, len)) = authority {
            let digits: String = up[i + len..]
                .chars()
                .skip_while(|c| *c == '"')
                .take_while(char::is_ascii_digit)
                .collect();
            if let Some(crs) = digits.parse().ok().and_then(Crs::from_epsg) {
                return Some(crs);
            }
        }
        let projected = up.starts_with("PROJCS[") || up.starts_with("PROJCRS[");
        let cgcs = up.contains("CGCS2000") || up.contains("CHINA_2000") || up.contains("CHINA2000");
        let wgs = up.contains("WGS_1984") || up.contains("WGS84") || up.contains("WGS1984");
        if !projected {
            return match (cgcs, wgs) {
                (true, _) => Some(Crs::Cgcs2000),
                (false, true) => Some(Crs::Wgs84),
                _ => None,
            };
        }
        if up.contains("MERCATOR_AUXILIARY_SPHERE")
            || up.contains("PSEUDO-MERCATOR")
            || up.contains("PSEUDO_MERCATOR")
        {
            return Some(Crs::WebMercator);
        }
        let tm = up.contains("TRANSVERSE_MERCATOR") || up.contains("GAUSS_KRUGER");
        if cgcs && tm {
            let param = |name: &str| -> Option<f64> {
                let k = format!("PARAMETER[\"{name}\",");
                let i = up.find(&k)? + k.len();
                up[i..].split(']').next()?.parse().ok()
            };
            let cm = param("CENTRAL_MERIDIAN")?;
            let fe = param("FALSE_EASTING")?;
            let scale = param("SCALE_FACTOR").unwrap_or(1.0);
            let lat0 = param("LATITUDE_OF_ORIGIN").unwrap_or(0.0);
            let zoneless = fe == 500_000.0 && scale == 1.0 && lat0 == 0.0;
            if zoneless && cm.fract() == 0.0 && (75.0..=135.0).contains(&cm) {
                return Crs::from_epsg(4534 + (cm as u32 - 75) / 3)
                    .filter(|_| (cm as u32).is_multiple_of(3));
            }
        }
        None
    }

    /// A converter from this CRS to EPSG:4490.
    pub fn to_storage(self) -> Result<ToStorage, CrsError> {
        Ok(match self {
            Crs::GaussKruger(epsg) => ToStorage::Zone(Box::new(
                GaussKruger::with_central_meridian(75 + 3 * (epsg - 4534))?,
            )),
            other => ToStorage::Formula(other),
        })
    }
}

/// Converts coordinates of one CRS to EPSG:4490 lon/lat degrees.
pub enum ToStorage {
    Zone(Box<GaussKruger>),
    Formula(Crs),
}

impl ToStorage {
    pub fn convert(&self, c: Coord) -> Coord {
        match self {
            ToStorage::Zone(gk) => gk.unproject(c),
            ToStorage::Formula(Crs::WebMercator) => Coord {
                x: (c.x / WEB_MERCATOR_R).to_degrees(),
                y: (c.y / WEB_MERCATOR_R).sinh().atan().to_degrees(),
            },
            ToStorage::Formula(Crs::Gcj02) => gcj02_to_wgs84(c),
            ToStorage::Formula(Crs::Bd09) => gcj02_to_wgs84(bd09_to_gcj02(c)),
            ToStorage::Formula(_) => c,
        }
    }

    pub fn convert_geometry<G: MapCoords<f64, f64, Output = G>>(&self, g: &G) -> G {
        g.map_coords(|c| self.convert(c))
    }
}

/// Krasovsky 1940, the ellipsoid of the GCJ-02 formula.
const KRASOVSKY_A: f64 = 6_378_245.0;
const KRASOVSKY_EE: f64 = 0.006_693_421_622_965_943;

/// Outside this box GCJ-02 equals WGS 84 (the published rule of thumb every implementation uses).
fn outside_china(c: Coord) -> bool {
    !(72.004..=137.8347).contains(&c.x) || !(0.8293..=55.8271).contains(&c.y)
}

/// The GCJ-02 offset of a WGS 84 point (the published formula).
fn gcj02_offset(c: Coord) -> Coord {
    let (x, y) = (c.x - 105.0, c.y - 35.0);
    let pi = std::f64::consts::PI;
    let mut dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * x.abs().sqrt();
    dlat += (20.0 * (6.0 * x * pi).sin() + 20.0 * (2.0 * x * pi).sin()) * 2.0 / 3.0;
    dlat += (20.0 * (y * pi).sin() + 40.0 * (y / 3.0 * pi).sin()) * 2.0 / 3.0;
    dlat += (160.0 * (y / 12.0 * pi).sin() + 320.0 * (y * pi / 30.0).sin()) * 2.0 / 3.0;
    let mut dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * x.abs().sqrt();
    dlon += (20.0 * (6.0 * x * pi).sin() + 20.0 * (2.0 * x * pi).sin()) * 2.0 / 3.0;
    dlon += (20.0 * (x * pi).sin() + 40.0 * (x / 3.0 * pi).sin()) * 2.0 / 3.0;
    dlon += (150.0 * (x / 12.0 * pi).sin() + 300.0 * (x / 30.0 * pi).sin()) * 2.0 / 3.0;
    let rad = c.y.to_radians();
    let magic = 1.0 - KRASOVSKY_EE * rad.sin() * rad.sin();
    let sqrt_magic = magic.sqrt();
    Coord {
        x: (dlon * 180.0) / (KRASOVSKY_A / sqrt_magic * rad.cos() * pi),
        y: (dlat * 180.0) / ((KRASOVSKY_A * (1.0 - KRASOVSKY_EE)) / (magic * sqrt_magic) * pi),
    }
}

/// WGS 84 → GCJ-02.
pub fn wgs84_to_gcj02(c: Coord) -> Coord {
    if outside_china(c) {
        return c;
    }
    c + gcj02_offset(c)
}

/// GCJ-02 → WGS 84, inverted by fixed-point iteration to 1e-10° (about 0.01 mm).
pub fn gcj02_to_wgs84(g: Coord) -> Coord {
    if outside_china(g) {
        return g;
    }
    let mut w = g - gcj02_offset(g);
    for _ in 0..30 {
        let d = wgs84_to_gcj02(w) - g;
        w = w - d;
        if d.x.abs() < 1e-10 && d.y.abs() < 1e-10 {
            break;
        }
    }
    w
}

const BD_X_PI: f64 = std::f64::consts::PI * 3000.0 / 180.0;

/// BD-09 → GCJ-02 (Baidu's published inverse).
pub fn bd09_to_gcj02(b: Coord) -> Coord {
    let (x, y) = (b.x - 0.0065, b.y - 0.006);
    let z = (x * x + y * y).sqrt() - 0.00002 * (y * BD_X_PI).sin();
    let theta = y.atan2(x) - 0.000003 * (x * BD_X_PI).cos();
    Coord {
        x: z * theta.cos(),
        y: z * theta.sin(),
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
    fn a_point_outside_the_zones_domain_is_none_not_a_panic() {
        let gk = GaussKruger::wuhan();
        // Found by schemathesis: /api/isochrone?lat=0&lon=15 panicked the server.
        assert_eq!(gk.try_project(Coord { x: 15.0, y: 0.0 }), None);
        assert!(gk.try_project(Coord { x: 114.3, y: 30.6 }).is_some());
    }

    #[test]
    fn unknown_zone_is_refused() {
        assert!(GaussKruger::with_central_meridian(113).is_err());
        assert!(GaussKruger::with_central_meridian(138).is_err());
    }
}
