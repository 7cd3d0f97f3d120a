//! `gengxin`: the one binary. Parses the command line, opens the store, and serves the API.
//! Every failure ends in one line on stderr (`error: …`) and a non-zero exit code.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use gengxin_store::Store;

#[derive(Parser)]
#[command(
    name = "gengxin",
    version,
    about = "Gengxin (更新): urban renewal and community governance decision support"
)]
struct Cli {
    /// Who acts, for the audit log and import records (default: the OS user). Every write a
    /// command makes is audited as the same write over HTTP would be, with role `operator`.
    #[arg(long = "as", global = true, value_name = "NAME")]
    actor: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API and web pages from a store.
    Serve {
        /// The store: a GeoPackage file (`.gpkg`) or a PostgreSQL database
        /// (`postgres://user@host:port/db`), created by `gengxin migrate` or `gengxin demo`.
        #[arg(long)]
        store: String,
        /// Address to listen on, e.g. 127.0.0.1:8080.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
    },
    /// Build the Wuhan demo store on first run (deterministic from the seed), then serve it.
    Demo {
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Where the demo store is kept.
        #[arg(long, default_value = "demo-data")]
        data_dir: PathBuf,
        #[arg(long, default_value_t = gengxin_demo::DEFAULT_SEED)]
        seed: u64,
        /// Build the store (if missing), print its path and exit without serving.
        #[arg(long)]
        build_only: bool,
    },
    /// Create a store (a GeoPackage file, or the schema in a PostgreSQL database, with PostGIS),
    /// or bring an existing one to the current schema version.
    Migrate {
        #[arg(long)]
        store: String,
    },
    /// Print the SHA-256 of a store's canonical content (equal content, equal hash).
    Hash {
        #[arg(long)]
        store: String,
    },
    /// Copy a whole store into an empty one (GeoPackage ↔ PostgreSQL), then check that both have
    /// the same canonical hash.
    Copy {
        #[arg(long)]
        from: String,
        /// Created if it does not exist; must hold no rows.
        #[arg(long)]
        to: String,
    },
    /// Import a file into a layer, all or nothing: GeoJSON, Shapefile (.shp or .zip),
    /// GeoPackage, CSV, Excel .xlsx, OpenStreetMap .osm.pbf. Prints the report as JSON.
    Import(ImportArgs),
    /// List the imports recorded in a store.
    Imports {
        #[arg(long)]
        store: String,
    },
    /// Undo an import: remove its features (refused if any was edited since).
    Undo {
        #[arg(long)]
        store: String,
        import_id: String,
    },
    /// Run an evaluation and store its results as layers (only rows that changed are written).
    Evaluate {
        #[command(subcommand)]
        what: Evaluation,
    },
    /// Manage accounts.
    User {
        #[command(subcommand)]
        what: UserCommand,
    },
    /// Export a layer (or the features in a box / with field values) as GeoJSON, CSV, Excel,
    /// zipped Shapefile or GeoPackage, chosen by the output file's extension or --format.
    Export {
        #[arg(long)]
        store: String,
        #[arg(long)]
        layer: String,
        out: PathBuf,
        #[arg(long)]
        format: Option<String>,
        /// min_lon,min_lat,max_lon,max_lat in EPSG:4490.
        #[arg(long)]
        bbox: Option<String>,
        /// field=value; repeat for several (all must hold).
        #[arg(long = "where")]
        filters: Vec<String>,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create an account (to bootstrap the first city administrator, or any other; the security
    /// and audit administrators are made only here). The password is read from standard input
    /// (one line), never from the command line. Every account gets a TOTP secret, printed once
    /// as an otpauth:// URI.
    Add {
        #[arg(long)]
        store: String,
        #[arg(long)]
        username: String,
        /// city_admin, city_leader, district, entity, community_worker, security_admin or
        /// audit_admin.
        #[arg(long)]
        role: String,
        /// The organisation's id; created (named by --organisation-name) when it does not exist.
        #[arg(long)]
        organisation: String,
        #[arg(long)]
        organisation_name: Option<String>,
        #[arg(long)]
        display_name: Option<String>,
        /// The district (6-digit code) of a district user.
        #[arg(long)]
        district: Option<String>,
        /// The community (12-digit code) of a community worker.
        #[arg(long)]
        community: Option<String>,
        /// The projects of an entity, comma-separated ids.
        #[arg(long, value_delimiter = ',')]
        projects: Vec<String>,
    },
    /// Create an API token for a user (for machine clients: `Authorization: Bearer …`); printed
    /// once, stored only as its SHA-256.
    Token {
        #[arg(long)]
        store: String,
        #[arg(long)]
        username: String,
        #[arg(long)]
        name: String,
        #[arg(long, default_value_t = 90)]
        days: i64,
    },
    /// Print the current 6-digit TOTP code of a user of the store (read with the key file): for
    /// the demo's generated accounts and for tests; a real user has an authenticator app.
    Totp {
        #[arg(long)]
        store: String,
        #[arg(long)]
        username: String,
    },
}

#[derive(Subcommand)]
enum Evaluation {
    /// GB 50180-2018 5/10/15-minute life circles: walking distance from every home to each
    /// required facility, coverage and gaps per residential parcel and community (layers
    /// life_circle_parcels and life_circle_communities; rules in life_circle_rules). Prints the
    /// run's summary as JSON.
    LifeCircle {
        #[arg(long)]
        store: String,
    },
}

#[derive(clap::Args)]
struct ImportArgs {
    #[arg(long)]
    store: String,
    /// A model layer (buildings, parcels, roads, facilities …) or a custom layer name.
    #[arg(long)]
    layer: String,
    file: PathBuf,
    /// Field mapping (TOML); see the README.
    #[arg(long)]
    mapping: Option<PathBuf>,
    /// Source CRS when the file does not say: EPSG:4490, 4326, 3857, 4534–4554, GCJ-02, BD-09.
    #[arg(long)]
    crs: Option<String>,
    /// Text encoding when the file does not say (e.g. gbk).
    #[arg(long)]
    encoding: Option<String>,
    /// The table of a GeoPackage, sheet of a workbook or shapefile in a zip.
    #[arg(long)]
    source_layer: Option<String>,
    /// OSM tag → facility category table (TOML) instead of the built-in one.
    #[arg(long)]
    tag_map: Option<PathBuf>,
    /// Make invalid geometries valid instead of skipping them.
    #[arg(long)]
    repair: bool,
    /// Who reads a new custom layer: public, staff (signed-in users) or organisation (the
    /// default; from the command line, which acts for no organisation, the city administrator
    /// only).
    #[arg(long)]
    access: Option<String>,
    /// Check and report only; change nothing.
    #[arg(long)]
    dry_run: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let actor = gengxin_app::Actor::operator(cli.actor.unwrap_or_else(os_user));
    match runtime.block_on(run(cli.command, actor)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The OS user running the command.
fn os_user() -> String {
    ["USER", "LOGNAME"]
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
        .unwrap_or_else(|| "operator".to_owned())
}

/// The application over a store, with the command line's clock (`SOURCE_DATE_EPOCH` if set).
async fn app(store: &str, create: bool) -> Result<gengxin_app::App> {
    let s = if create {
        gengxin_store::create_or_open(store).await?
    } else {
        gengxin_store::open(store).await?
    };
    let clock = match source_date_epoch()? {
        Some(t) => gengxin_app::Clock::Fixed(t),
        None => gengxin_app::Clock::System,
    };
    let keys = gengxin_app::keys::Keys::for_store(&s.info().await?.location)?;
    Ok(gengxin_app::App::new(s).with_clock(clock).with_keys(keys))
}

async fn run(command: Command, actor: gengxin_app::Actor) -> Result<()> {
    match command {
        Command::Serve { store, listen } => {
            // Bind first: a busy port must fail before the store is touched.
            let listener = bind(listen).await?;
            serve(listener, gengxin_store::open(&store).await?).await
        }
        Command::Demo {
            listen,
            data_dir,
            seed,
            build_only,
        } => {
            let listener = if build_only {
                None
            } else {
                Some(bind(listen).await?)
            };
            if !gengxin_demo::store_path(&data_dir, seed).is_file() {
                eprintln!(
                    "building the Wuhan demo store in {} (first run only; real admin codes and outlines, generated parcels and buildings)…",
                    data_dir.display()
                );
            }
            let started = std::time::Instant::now();
            let (path, built) = gengxin_demo::ensure(&data_dir, seed)
                .await
                .with_context(|| {
                    format!("cannot build the demo store in {}", data_dir.display())
                })?;
            if built {
                eprintln!("built {} in {:.1?}", path.display(), started.elapsed());
            }
            match listener {
                None => {
                    println!("{}", path.display());
                    Ok(())
                }
                Some(listener) => {
                    let store = gengxin_store::open(&path.display().to_string()).await?;
                    serve(listener, store).await
                }
            }
        }
        Command::Migrate { store } => {
            let s = gengxin_store::create_or_open(&store).await?;
            let info = s.info().await?;
            println!(
                "{} is at schema version {}",
                info.location, info.schema_version
            );
            Ok(())
        }
        Command::Hash { store } => {
            let s = gengxin_store::open(&store).await?;
            println!("{}", gengxin_store::canonical_hash(&*s).await?);
            Ok(())
        }
        Command::Copy { from, to } => {
            let started = std::time::Instant::now();
            let source = gengxin_store::open(&from).await?;
            let target = gengxin_store::create_or_open(&to).await?;
            let report = gengxin_store::copy(&*source, &*target)
                .await
                .with_context(|| format!("cannot copy {from} to {to}"))?;
            let (a, b) = tokio::try_join!(
                gengxin_store::canonical_hash(&*source),
                gengxin_store::canonical_hash(&*target)
            )?;
            if a != b {
                anyhow::bail!("the copy differs from its source (canonical hashes {a} and {b})");
            }
            eprintln!(
                "copied {} rows in {} layers and {} files in {:.1?}",
                report.rows(),
                report.layers.len(),
                report.files,
                started.elapsed()
            );
            println!("{a}");
            Ok(())
        }
        Command::Import(args) => import(args, &actor).await,
        Command::User { what } => user(what, &actor).await,
        Command::Evaluate {
            what: Evaluation::LifeCircle { store },
        } => {
            let app = app(&store, false).await?;
            let out = gengxin_app::evaluation::run_life_circle(&app, &actor).await?;
            eprintln!(
                "{} homes ({} residents) in {} parcels and {} communities; scores 5/10/15 min: {}; {} rows written, {} unchanged, {:.1} s",
                out.homes,
                out.residents,
                out.parcels,
                out.communities,
                out.city_scores
                    .iter()
                    .map(|(_, s)| format!("{s:.1}"))
                    .collect::<Vec<_>>()
                    .join(" / "),
                out.inserted + out.updated + out.deleted,
                out.unchanged,
                out.seconds
            );
            println!("{}", serde_json::to_string_pretty(&out)?);
            Ok(())
        }
        Command::Imports { store } => {
            let s = gengxin_store::open(&store).await?;
            for r in s
                .query(gengxin_model::LayerId::Imports, Default::default())
                .await?
            {
                println!(
                    "{}\t{}\t{}\t{}\t{} imported, {} skipped\t{}\t{}",
                    r.id,
                    r.get("imported_at").as_str().unwrap_or_default(),
                    r.get("layer").as_str().unwrap_or_default(),
                    r.get("file_name").as_str().unwrap_or_default(),
                    r.get("imported").as_i64().unwrap_or_default(),
                    r.get("skipped").as_i64().unwrap_or_default(),
                    r.get("imported_by").as_str().unwrap_or_default(),
                    r.get("state").as_str().unwrap_or_default(),
                );
            }
            Ok(())
        }
        Command::Undo { store, import_id } => {
            let app = app(&store, false).await?;
            let n = gengxin_app::imports::undo(&app, &actor, &import_id).await?;
            eprintln!("undid import {import_id}: removed {n} features");
            Ok(())
        }
        Command::Export {
            store,
            layer,
            out,
            format,
            bbox,
            filters,
        } => export(store, layer, out, format, bbox, filters).await,
    }
}

/// The time named by `SOURCE_DATE_EPOCH` (seconds since 1970, the reproducible-builds
/// convention), if set: an import stamped with it gives the same store on every run.
fn source_date_epoch() -> Result<Option<chrono::DateTime<chrono::Utc>>> {
    let Ok(v) = std::env::var("SOURCE_DATE_EPOCH") else {
        return Ok(None);
    };
    v.trim()
        .parse::<i64>()
        .ok()
        .and_then(|s| chrono::DateTime::from_timestamp(s, 0))
        .map(Some)
        .ok_or_else(|| {
            anyhow::anyhow!("SOURCE_DATE_EPOCH={v:?} is not a number of seconds since 1970")
        })
}

async fn import(args: ImportArgs, actor: &gengxin_app::Actor) -> Result<()> {
    let ImportArgs {
        store,
        layer,
        file,
        mapping,
        crs,
        encoding,
        source_layer,
        tag_map,
        repair,
        access,
        dry_run,
    } = args;
    let mapping = match mapping {
        Some(m) => {
            let text = std::fs::read_to_string(&m)
                .with_context(|| format!("cannot read mapping {}", m.display()))?;
            Some(
                gengxin_io::mapping::Mapping::parse(&text)
                    .map_err(|e| anyhow::anyhow!("{}: {e}", m.display()))?,
            )
        }
        None => None,
    };
    let crs = crs
        .map(|c| gengxin_engine::crs::Crs::parse(&c))
        .transpose()
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let encoding = match encoding {
        Some(e) => Some(gengxin_io::encoding_by_name(&e).ok_or_else(|| {
            anyhow::anyhow!("unknown encoding {e:?} (try utf-8, gbk, gb18030, big5)")
        })?),
        None => None,
    };
    let opts = gengxin_io::import::ImportOptions {
        layer,
        crs,
        mapping,
        repair,
        access,
        user: actor.name(),
        read: gengxin_io::ReadOptions {
            encoding,
            source_layer,
            osm_tags: tag_map,
            ..Default::default()
        },
        ..Default::default()
    };
    let app = app(&store, true).await?;
    let report =
        gengxin_app::imports::import(&app, actor, &file, &opts, dry_run, &|m| eprintln!("{m} …"))
            .await?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    eprintln!(
        "{}{}: read {}, imported {}, skipped {}, repaired {} into {} (import {})",
        if dry_run {
            "dry run, nothing written: "
        } else {
            ""
        },
        report.file_name,
        report.read,
        report.imported,
        report.skipped,
        report.repaired,
        report.layer,
        report.import_id
    );
    Ok(())
}

async fn export(
    store: String,
    layer: String,
    out: PathBuf,
    format: Option<String>,
    bbox: Option<String>,
    filters: Vec<String>,
) -> Result<()> {
    let format = match format {
        Some(f) => gengxin_io::Format::parse(&f).ok_or_else(|| {
            anyhow::anyhow!("unknown format {f:?} (geojson, csv, xlsx, shp, gpkg)")
        })?,
        None => gengxin_io::Format::of(&out).ok_or_else(|| {
            anyhow::anyhow!(
                "cannot tell the format from {}; pass --format",
                out.display()
            )
        })?,
    };
    let mut query = gengxin_store::Query::default();
    if let Some(b) = bbox {
        let v: Vec<f64> = b
            .split(',')
            .map(|x| x.trim().parse::<f64>())
            .collect::<Result<_, _>>()
            .map_err(|_| {
                anyhow::anyhow!("--bbox must be four numbers min_lon,min_lat,max_lon,max_lat")
            })?;
        if v.len() != 4 {
            anyhow::bail!("--bbox must be four numbers min_lon,min_lat,max_lon,max_lat");
        }
        query.bbox =
            Some(gengxin_store::Bbox::new(v[0], v[1], v[2], v[3]).map_err(|e| anyhow::anyhow!(e))?);
    }
    for f in filters {
        let (k, v) = f
            .split_once('=')
            .ok_or_else(|| anyhow::anyhow!("--where takes field=value, got {f:?}"))?;
        query
            .equals
            .push((k.to_owned(), gengxin_io::export::filter_value(&layer, k, v)));
    }
    let s = gengxin_store::open(&store).await?;
    let table = gengxin_io::export::load(&*s, &layer, query).await?;
    let n = table.rows.len();
    let path = out.clone();
    tokio::task::spawn_blocking(move || gengxin_io::export::write(&table, format, &path)).await??;
    eprintln!("exported {n} features of {layer} to {}", out.display());
    Ok(())
}

async fn bind(addr: SocketAddr) -> Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))
}

async fn serve(listener: tokio::net::TcpListener, store: Arc<dyn Store>) -> Result<()> {
    let info = store.info().await?;
    let addr = listener.local_addr()?;
    tracing::info!(backend = info.backend, store = %info.location, schema = info.schema_version, "store open");
    eprintln!("Gengxin serving {} on http://{addr}/", info.location);
    // The job queue runs beside the server, on the same application (one audit writer).
    let app = gengxin_app::App::new(store);
    // The key file (made beside a new GeoPackage store), and the TOTP secrets sealed with it.
    match app.keys().await {
        Ok(keys) => {
            tracing::info!(heads = %keys.heads().display(), "audit heads anchored outside the store");
            let sealed = app.seal_totp_secrets().await?;
            if sealed > 0 {
                tracing::info!(sealed, "TOTP secrets sealed with the key file");
            }
        }
        Err(e) => tracing::warn!("serving read-only: {e}"),
    }
    let jobs = gengxin_app::jobs::Runner::start(app.clone());
    let served = axum::serve(
        listener,
        gengxin_api::router_for(app).into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown())
    .await
    .context("server failed");
    jobs.stop().await;
    served
}

async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

async fn user(what: UserCommand, actor: &gengxin_app::Actor) -> Result<()> {
    match what {
        UserCommand::Add {
            store,
            username,
            role,
            organisation,
            organisation_name,
            display_name,
            district,
            community,
            projects,
        } => {
            let mut password = String::new();
            std::io::stdin()
                .read_line(&mut password)
                .context("reading the password from standard input")?;
            let password = password.trim_end_matches(['\r', '\n']).to_owned();
            let app = app(&store, false).await?;
            let (_, totp) = gengxin_app::accounts::add_user(
                &app,
                actor,
                gengxin_auth::account::NewUser {
                    username: username.clone(),
                    display_name,
                    role: role.clone(),
                    organisation_id: organisation.clone(),
                    district_code: district,
                    community_code: community,
                    project_ids: projects,
                    password,
                },
                Some(gengxin_app::accounts::NewOrganisation {
                    name: organisation_name.unwrap_or_else(|| organisation.clone()),
                }),
            )
            .await?;
            eprintln!("user {username} ({role}) created");
            println!("{}", gengxin_auth::totp::uri(&totp, "Gengxin", &username));
            Ok(())
        }
        UserCommand::Totp { store, username } => {
            let app = app(&store, false).await?;
            let user = app
                .store
                .get(gengxin_model::LayerId::Users, &username)
                .await?
                .with_context(|| format!("no user {username:?}"))?;
            let secret = app
                .totp_secret(&user)
                .await?
                .with_context(|| format!("{username} has no TOTP secret"))?;
            let code = gengxin_auth::totp::code_at(&secret, chrono::Utc::now().timestamp() as u64)
                .context("the stored TOTP secret is not base32")?;
            println!("{code}");
            Ok(())
        }
        UserCommand::Token {
            store,
            username,
            name,
            days,
        } => {
            let app = app(&store, false).await?;
            let (_, token) =
                gengxin_app::accounts::create_token(&app, actor, &username, &name, days).await?;
            println!("{token}");
            Ok(())
        }
    }
}
