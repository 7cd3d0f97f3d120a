//! Gengxin's spatial analysis engine.
//!
//! Pure, synchronous and deterministic: it takes geometries and numbers and returns results
//! (with diagnostics where input is messy); it never reads files, databases or the network, and
//! it never knows the wire format. Storage and the HTTP layer call it; it calls neither.
//!
//! Today it holds the one place where coordinates are reprojected for metric work ([`crs`]) and
//! the projection of geometries into vector-tile coordinates ([`tile`]).
//! Later issues add the walking network, accessibility, indicators and evaluation here.

pub mod crs;
pub mod tile;
