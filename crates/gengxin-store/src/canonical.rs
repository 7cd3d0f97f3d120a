//! The canonical content hash of a store: every layer of the catalogue in order, every feature in
//! id order, every value in an exact, typed encoding (reals by their bits, geometry as ISO WKB).
//! Attachment rows are followed by their files' bytes, read back (and checked) through the store.
//! Two stores with the same content have the same hash whatever their backend or file layout.

use gengxin_model::{LayerId, Value, catalogue, timestamp};
use geozero::{CoordDimensions, ToWkb};
use sha2::{Digest, Sha256};

use crate::{Query, Store, StoreError};

const PAGE: usize = 10_000;

/// SHA-256 (hex) of the store's canonical content.
pub async fn canonical_hash(store: &dyn Store) -> Result<String, StoreError> {
    let mut h = Sha256::new();
    for layer in catalogue() {
        h.update(format!("layer {}\n", layer.name));
        let mut after = None;
        loop {
            let page = store
                .query(
                    layer.id,
                    Query {
                        after_id: after.clone(),
                        limit: Some(PAGE),
                        ..Query::default()
                    },
                )
                .await?;
            for f in &page {
                h.update(format!(
                    "{:?}|{:?}|{}|{}|{}\n",
                    f.id,
                    f.provenance,
                    timestamp(&f.created_at),
                    timestamp(&f.updated_at),
                    f.version
                ));
                for (k, v) in &f.properties {
                    let v = match v {
                        Value::Null => "null".to_owned(),
                        Value::Bool(b) => format!("b:{b}"),
                        Value::Int(i) => format!("i:{i}"),
                        Value::Real(r) => format!("r:{:016x}", r.to_bits()),
                        Value::Text(s) => format!("t:{s:?}"),
                    };
                    h.update(format!("{k:?}={v}\n"));
                }
                if let Some(g) = &f.geometry {
                    let wkb = g
                        .to_wkb(CoordDimensions::xy())
                        .map_err(|e| StoreError::Internal(e.to_string()))?;
                    h.update(&wkb);
                }
                if layer.id == LayerId::Attachments {
                    let (_, bytes) = store.attachment(&f.id).await?.ok_or_else(|| {
                        StoreError::Internal(format!("attachment {} vanished", f.id))
                    })?;
                    h.update(format!("bytes {}\n", bytes.len()));
                    h.update(&bytes);
                }
            }
            match page.last() {
                Some(last) if page.len() == PAGE => after = Some(last.id.clone()),
                _ => break,
            }
        }
    }
    Ok(format!("{:x}", h.finalize()))
}
