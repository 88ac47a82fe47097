//! The control thread: starts the data plane, the admin API and the health checker, then
//! waits for signals.
//!
//! SIGHUP reloads the config file in-process; SIGTERM and SIGINT stop gracefully (drain up to
//! `runtime.shutdown_timeout`); SIGQUIT stops at once; SIGUSR1 is acknowledged (logs go to
//! stderr, so there is nothing to reopen).

use crate::logging::{self, LevelHandle};
use anyhow::Context;
use fulcrum_config::Config;
use fulcrum_proxy::Server;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;
use tokio::signal::unix::{SignalKind, signal};

/// `fulcrum run -c FILE`.
pub fn run_file(path: &Path) -> anyhow::Result<()> {
    let config = fulcrum_config::load(path).map_err(|e| anyhow::anyhow!("{e}"))?;
    run(config, Some(path.to_path_buf()), |_| {})
}

/// Runs `config` until a stop signal. `ready` is called once the data plane and admin are up.
pub fn run(
    config: Config,
    path: Option<PathBuf>,
    ready: impl FnOnce(&Arc<Server>),
) -> anyhow::Result<()> {
    let levels = logging::init(&config.log);
    let admin = config.admin.clone();
    let server = Arc::new(Server::start(config)?);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .thread_name("fulcrum-control")
        .build()
        .context("cannot start the control runtime")?;
    runtime.block_on(async {
        let (stop_admin, admin_stopped) = tokio::sync::oneshot::channel::<()>();
        if let Some(admin) = admin {
            let listener = tokio::net::TcpListener::bind(admin.listen)
                .await
                .with_context(|| format!("cannot bind the admin listener on {}", admin.listen))?;
            let shutdown = async move {
                let _ = admin_stopped.await;
            };
            tokio::spawn(fulcrum_admin::serve(listener, Arc::clone(&server), shutdown));
            tracing::info!(listen = %admin.listen, "admin API listening");
        }
        // Active health checks: one prober per process, following reloads on its own.
        tokio::spawn(fulcrum_proxy::health::run(Arc::clone(&server)));
        tokio::spawn(watch_certificates(Arc::clone(&server)));
        ready(&server);
        let deadline = wait_for_stop(&server, path.as_deref(), &levels).await?;
        tracing::info!(deadline = ?deadline, open = server.active_connections(), "stopping: draining connections");
        let s = Arc::clone(&server);
        tokio::task::spawn_blocking(move || s.shutdown(deadline)).await?;
        let _ = stop_admin.send(());
        tracing::info!("stopped");
        Ok(())
    })
}

/// Reloads TLS certificates whose files changed, every few seconds.
async fn watch_certificates(server: Arc<Server>) {
    loop {
        tokio::time::sleep(Duration::from_secs(5)).await;
        for (listener, result) in server.reload_tls_if_changed() {
            match result {
                Ok(()) => tracing::info!(listener, "TLS certificates reloaded"),
                Err(e) => {
                    tracing::error!(listener, error = %e, "TLS reload failed, keeping the old certificates")
                }
            }
        }
    }
}

/// Handles signals until one asks to stop; returns how long to drain.
async fn wait_for_stop(
    server: &Server,
    path: Option<&Path>,
    levels: &LevelHandle,
) -> anyhow::Result<Duration> {
    let mut hup = signal(SignalKind::hangup())?;
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut quit = signal(SignalKind::quit())?;
    let mut usr1 = signal(SignalKind::user_defined1())?;
    loop {
        tokio::select! {
            _ = hup.recv() => reload(server, path, levels),
            _ = usr1.recv() => tracing::info!("SIGUSR1: logs go to stderr, nothing to reopen"),
            _ = term.recv() => return Ok(graceful(server)),
            _ = int.recv() => return Ok(graceful(server)),
            _ = quit.recv() => return Ok(Duration::ZERO),
        }
    }
}

fn graceful(server: &Server) -> Duration {
    server.snapshot().config.runtime.shutdown_timeout
}

/// SIGHUP: read, validate, diff and swap. Any error leaves the running config in place.
fn reload(server: &Server, path: Option<&Path>, levels: &LevelHandle) {
    let Some(path) = path else {
        tracing::warn!("SIGHUP: nothing to reload (no config file)");
        return;
    };
    let config = match fulcrum_config::load(path) {
        Ok(config) => config,
        Err(e) => {
            server.process_stats().reload_failures.fetch_add(1, Relaxed);
            tracing::error!("reload rejected, keeping the running config:\n{e}");
            return;
        }
    };
    let old = server.snapshot();
    if old.config.runtime.workers != config.runtime.workers
        || old.config.runtime.pin_workers != config.runtime.pin_workers
    {
        tracing::warn!("runtime.workers and runtime.pin_workers change only on restart");
    }
    if old.config.admin != config.admin {
        tracing::warn!("[admin] changes only on restart");
    }
    let level = config.log.level.clone();
    match server.reload(config) {
        Ok(diff) => {
            levels.set(&level);
            let generation = server.snapshot().generation;
            tracing::info!(generation, changes = %diff, "reload applied");
        }
        Err(e) => tracing::error!(error = %e, "reload rejected, keeping the running config"),
    }
}
