//! Imports and their undoing, audited: the features, the import record and the audit record are
//! one transaction, whether the file came over HTTP or from the command line.

use std::path::Path;

use gengxin_io::import::{ImportOptions, Report};

use crate::audit::Record;
use crate::{Actor, App, AppError};

/// Imports a file (see `gengxin_io::import`): reads, converts and validates it on a blocking
/// thread, then writes it with its audit record; a dry run writes nothing. `progress` hears
/// what it does (the command line prints it).
pub async fn import(
    app: &App,
    actor: &Actor,
    path: &Path,
    opts: &ImportOptions,
    dry_run: bool,
    progress: &(dyn Fn(&str) + Send + Sync),
) -> Result<Report, AppError> {
    let mut opts = opts.clone();
    opts.at.get_or_insert_with(|| app.now());
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
    let rec = Record::by(actor, "write", "ok")
        .on("imports", &report.import_id)
        .detail(format!(
            "{} features imported into {} from {}",
            report.imported, report.layer, report.file_name
        ));
    app.apply(edit, vec![rec]).await?;
    Ok(report)
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
