//! Location generalisation: positions shown to the public where the exact position would
//! point at a person (a resident's report made from their doorstep).
//!
//! A point becomes the centre of its cell in a grid of about [`CELL_M`] metres: rows of equal
//! latitude step, and in each row a longitude step widened by 1/cos(latitude) so cells are
//! square on the ground. Every point of a cell gives the same answer, so nothing finer than
//! the cell can be read back, whatever filter or box is asked. Written here because it is
//! a dozen lines over `geo`'s `MapCoords`; no crate does exactly this.

use geo::{Coord, Geometry, MapCoords};

/// The side of a generalisation cell, metres.
pub const CELL_M: f64 = 50.0;

/// Metres per degree of latitude (mean, CGCS2000 ellipsoid; enough for a 50 m cell).
const M_PER_DEG_LAT: f64 = 111_132.0;

/// The centre of the cell holding `c`.
pub fn generalise_coord(c: Coord<f64>) -> Coord<f64> {
    let dlat = CELL_M / M_PER_DEG_LAT;
    let lat = ((c.y / dlat).floor() + 0.5) * dlat;
    let dlon = dlat / lat.to_radians().cos().max(1e-6);
    let lon = ((c.x / dlon).floor() + 0.5) * dlon;
    Coord { x: lon, y: lat }
}

/// The geometry with every coordinate moved to its cell's centre.
pub fn generalise(g: &Geometry<f64>) -> Geometry<f64> {
    g.map_coords(generalise_coord)
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{Distance, Haversine, Point};

    fn metres(a: Coord<f64>, b: Coord<f64>) -> f64 {
        Haversine.distance(Point::from(a), Point::from(b))
    }

    #[test]
    fn points_of_one_cell_give_one_position_within_half_a_diagonal() {
        // Around Wuhan (30.6°N): a 10 × 10 grid of points 4 m apart.
        let base = Coord {
            x: 114.30531,
            y: 30.59272,
        };
        let centre = generalise_coord(base);
        let mut moved = 0.0f64;
        for i in 0..200 {
            let c = Coord {
                x: base.x + (i % 13) as f64 * 3e-6,
                y: base.y + (i / 13) as f64 * 3e-6,
            };
            let g = generalise_coord(c);
            moved = moved.max(metres(c, g));
            // Either the same cell, or a neighbour exactly one cell away.
            let d = metres(g, centre);
            assert!(
                d < 1e-6 || (d - CELL_M).abs() < 1.5 || (d - CELL_M * 2f64.sqrt()).abs() < 2.0,
                "{d}"
            );
        }
        // A point moves at most half the cell's diagonal (≈35.4 m).
        assert!(moved <= CELL_M / 2f64.sqrt() + 0.5, "{moved}");
    }

    #[test]
    fn neighbouring_cells_are_fifty_metres_apart_on_the_ground() {
        for lat in [22.5, 30.6, 40.0, 45.8] {
            let c = generalise_coord(Coord { x: 114.3, y: lat });
            let dlat = CELL_M / M_PER_DEG_LAT;
            let north = generalise_coord(Coord {
                x: 114.3,
                y: c.y + dlat,
            });
            let dlon = dlat / c.y.to_radians().cos();
            let east = generalise_coord(Coord {
                x: c.x + dlon,
                y: c.y,
            });
            // Rows have their own longitude step, so the row above is measured along the
            // meridian. Haversine on a sphere of 6,371 km vs the ellipsoid's degree: within 1 %.
            let north = Coord { x: c.x, y: north.y };
            assert!(
                (metres(c, north) - CELL_M).abs() < 0.5,
                "{lat}: {}",
                metres(c, north)
            );
            assert!(
                (metres(c, east) - CELL_M).abs() < 0.5,
                "{lat}: {}",
                metres(c, east)
            );
            // Idempotent: a centre stays where it is.
            assert_eq!(generalise_coord(c), c);
        }
    }
}
