//! Imports and their undoing, audited: the features, the import record and the audit record are
//! one transaction, whether the file came over HTTP or from the command line.

use std::path::Path;

use gengxin_io::IoError;
use gengxin_io::import::{ImportOptions, Report};
use gengxin_store::{Edit, StoreError};

use crate::audit::{Record, Step};
use crate::{Actor, App, AppError};

/// Features per write of a streamed import.
pub const BATCH: usize = 10_000;

/// Imports a file (see `gengxin_io::import`): reads, converts and validates it on a blocking
/// thread, then writes it with its audit record; a dry run writes nothing. `progress` hears
/// what it does (the command line prints it).
///
/// A format read as a stream (`gengxin_io::read::streams`: GeoJSON) is written as it is
/// converted, [`BATCH`] features at a time, in one transaction with the import and audit
/// records (`App::apply_streamed`): memory holds a few batches, not the file. Other formats are
/// converted whole, then written in one transaction.
pub async fn import(
    app: &App,
    actor: &Actor,
    path: &Path,
    opts: &ImportOptions,
    dry_run: bool,
    progress: &(dyn Fn(&str) + Send + Sync),
) -> Result<Report, AppError> {
    let mut opts = opts.clone();
    let at = *opts.at.get_or_insert_with(|| app.now());
    let streamed = opts
        .format
        .or_else(|| gengxin_io::Format::of(path))
        .is_some_and(gengxin_io::read::streams);
    if streamed {
        return import_streamed(app, actor, path, opts, at, dry_run, progress).await;
    }
    let plan = gengxin_io::import::prepare(&*app.store, path, &opts).await?;
    if dry_run {
        return Ok(plan.dry_run());
    }
    progress(&format!(
        "writing {} features to {} in one transaction",
        plan.feature_count(),
        opts.layer
    ));
    let (edit, report) = plan.into_edit();
    app.apply(edit, vec![record(actor, &report)]).await?;
    Ok(report)
}

/// The audit record of an import.
fn record(actor: &Actor, report: &Report) -> Record {
    Record::by(actor, "write", "ok")
        .on("imports", &report.import_id)
        .detail(format!(
            "{} features imported into {} from {}",
            report.imported, report.layer, report.file_name
        ))
}

async fn import_streamed(
    app: &App,
    actor: &Actor,
    path: &Path,
    opts: ImportOptions,
    at: chrono::DateTime<chrono::Utc>,
    dry_run: bool,
    progress: &(dyn Fn(&str) + Send + Sync),
) -> Result<Report, AppError> {
    let existing = gengxin_io::import::existing_custom(&*app.store, &opts.layer).await?;
    let path = path.to_owned();
    if dry_run {
        let plan = tokio::task::spawn_blocking(move || {
            gengxin_io::import::plan_streamed(&path, &opts, existing, at, BATCH, &mut |_, _| Ok(()))
        })
        .await
        .map_err(|e| StoreError::Internal(format!("import failed: {e}")))??;
        return Ok(plan.dry_run());
    }
    progress(&format!(
        "writing to {} as the file is read, {BATCH} features at a time, in one transaction",
        opts.layer
    ));
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Step, StoreError>>(1);
    let batches = tx.clone();
    let producer = tokio::task::spawn_blocking(move || {
        let mut stopped = false;
        let plan = gengxin_io::import::plan_streamed(
            &path,
            &opts,
            existing,
            at,
            BATCH,
            &mut |layer, rows| {
                let edit = Edit {
                    insert: vec![(layer, rows)],
                    ..Edit::default()
                };
                batches.blocking_send(Ok(Step::Edit(edit))).map_err(|_| {
                    stopped = true;
                    IoError::Store(StoreError::Internal("the write stopped".into()))
                })
            },
        );
        (plan, stopped)
    });
    let finish = async move {
        let plan = match producer.await {
            Ok((Ok(plan), _)) => plan,
            // The store stopped the transaction: its error is the one answered.
            Ok((Err(_), true)) => return Ok(None),
            // Dropping `tx` aborts the transaction.
            Ok((Err(e), false)) => return Err(AppError::from(e)),
            Err(e) => return Err(StoreError::Internal(format!("import failed: {e}")).into()),
        };
        let (edit, report) = plan.into_edit();
        let rec = record(actor, &report);
        // A send fails only when the store stopped the transaction; it says why.
        if tx.send(Ok(Step::Edit(edit))).await.is_ok() {
            let _ = tx.send(Ok(Step::Commit(vec![rec]))).await;
        }
        Ok(Some(report))
    };
    let (finished, applied) = tokio::join!(finish, app.apply_streamed(rx));
    // The import's own error (a broken feature) before the store's "ended before its commit".
    let report = finished?;
    applied?;
    report.ok_or_else(|| StoreError::Internal("the write stopped".into()).into())
}

/// Undoes an import with its audit record, in one transaction; returns how many features it
/// removed.
pub async fn undo(app: &App, actor: &Actor, import_id: &str) -> Result<usize, AppError> {
    let (edit, removed) = gengxin_io::import::undo_edit(&*app.store, import_id, app.now()).await?;
    let rec = Record::by(actor, "write", "ok")
        .on("imports", import_id)
        .detail(format!("import undone, {removed} features removed"));
    app.apply(edit, vec![rec]).await?;
    Ok(removed)
}
