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
    match runtime.block_on(run(cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> Result<()> {
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
    }
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
    axum::serve(listener, gengxin_api::app(store))
        .with_graceful_shutdown(shutdown())
        .await
        .context("server failed")
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
