//! Gengxin's spatial analysis engine.
//!
//! Pure, synchronous and deterministic: it takes geometries and numbers and returns results
//! (with diagnostics where input is messy); it never reads files, databases or the network, and
//! it never knows the wire format. Storage and the HTTP layer call it; it calls neither.
//!
//! Today it holds the one place where coordinates are reprojected for metric work ([`crs`]) and
//! the projection of geometries into vector-tile coordinates ([`tile`]).
//! The walking network ([`network`]), accessibility on it ([`access`]) and the GB 50180
//! life-circle evaluation ([`lifecircle`]) live here too, and the generalisation of positions
//! shown to the public ([`privacy`]); indicators come later.

pub mod access;
pub mod crs;
pub mod lifecircle;
pub mod network;
pub mod privacy;
pub mod tile;
