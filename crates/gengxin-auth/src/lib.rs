//! Who may do what: roles and scopes, the access policy over the catalogue's layers, password
//! rules and argon2id hashes, TOTP second factors, opaque tokens, the keyed audit hash chain and
//! secrets sealed at rest.
//!
//! Pure: no I/O, no SQL, no HTTP. The API crate resolves the caller (session cookie or API token)
//! and asks [`policy`] before it reads or writes; the same answers hold for every endpoint.

pub mod account;
pub mod audit;
pub mod password;
pub mod policy;
pub mod seal;
pub mod secret;
pub mod totp;

pub use policy::{Caller, Denied, Principal, Role};
