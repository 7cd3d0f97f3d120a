//! Copying a whole store into an empty one, any backend to any backend, losslessly: every row of
//! every layer (attribute tables included) with its ids, versions and timestamps, and every
//! attachment file. The files go first, then all rows in one transaction, so a failed copy leaves
//! the target's rows empty as they were.

use gengxin_model::{Feature, LayerId, catalogue};

use crate::{Query, Store, StoreError};

const PAGE: usize = 10_000;

/// How many rows each layer received.
#[derive(Debug, Clone, PartialEq)]
pub struct CopyReport {
    pub layers: Vec<(LayerId, usize)>,
    pub files: usize,
}

impl CopyReport {
    pub fn rows(&self) -> usize {
        self.layers.iter().map(|(_, n)| n).sum()
    }
}

/// Every row of a layer, in id order.
pub async fn read_layer(store: &dyn Store, layer: LayerId) -> Result<Vec<Feature>, StoreError> {
    let mut out = Vec::new();
    loop {
        let page = store
            .query(
                layer,
                Query {
                    after_id: out.last().map(|f: &Feature| f.id.clone()),
                    limit: Some(PAGE),
                    ..Query::default()
                },
            )
            .await?;
        let full = page.len() == PAGE;
        out.extend(page);
        if !full {
            return Ok(out);
        }
    }
}

/// Copies everything in `from` into `to`, which must hold no rows.
pub async fn copy(from: &dyn Store, to: &dyn Store) -> Result<CopyReport, StoreError> {
    for layer in catalogue() {
        if to.count(layer.id).await? > 0 {
            return Err(StoreError::NotEmpty(format!(
                "{} already has rows in layer {}; copy only into an empty store",
                to.info().await?.location,
                layer.name
            )));
        }
    }
    let mut batch = Vec::new();
    let mut files = Vec::new();
    for layer in catalogue() {
        let rows = read_layer(from, layer.id).await?;
        if layer.id == LayerId::Attachments {
            for f in &rows {
                let (_, bytes) = from.attachment(&f.id).await?.ok_or_else(|| {
                    StoreError::Internal(format!("attachment {} vanished during the copy", f.id))
                })?;
                files.push(bytes);
            }
        }
        batch.push((layer.id, rows));
    }
    let report = CopyReport {
        layers: batch.iter().map(|(l, rows)| (*l, rows.len())).collect(),
        files: files.len(),
    };
    to.put_files(files).await?;
    to.insert(batch).await?;
    Ok(report)
}
