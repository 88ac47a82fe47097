//! The handle the binary holds: starts the workers, applies reloads, stops gracefully.

use crate::listener::ListenerSlot;
use crate::snapshot::Snapshot;
use crate::stats::ProcessStats;
use crate::tls::TlsSet;
use crate::worker::{self, Command, SocketKey, Spec};
use arc_swap::ArcSwap;
use fulcrum_config::{Config, ConfigDiff};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::mpsc::{UnboundedSender, unbounded_channel};

/// Why the data plane could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot bind listener `{listener}` on {addr}: {source}")]
    Bind {
        listener: String,
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("TLS: {0}")]
    Tls(String),
    #[error("cannot read the CPU affinity mask: {0}")]
    Affinity(std::io::Error),
    #[error("cannot start worker thread: {0}")]
    Thread(std::io::Error),
}

/// Why a reload was rejected (the old config keeps serving).
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    #[error("cannot bind listener `{listener}` on {addr}: {source}")]
    Bind {
        listener: String,
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("TLS: {0}")]
    Tls(String),
    #[error("the data plane is shutting down")]
    ShuttingDown,
}

struct Worker {
    commands: UnboundedSender<Command>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// The running data plane.
pub struct Server {
    current: ArcSwap<Snapshot>,
    stats: ProcessStats,
    workers: Mutex<Vec<Worker>>,
    worker_count: usize,
    /// Listening sockets by key; held across reloads while a listener keeps its key.
    slots: Mutex<HashMap<SocketKey, Arc<ListenerSlot>>>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("workers", &self.worker_count)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Server {
    /// Binds every listener (one socket per worker), then starts the workers.
    pub fn start(config: Config) -> Result<Server, StartError> {
        let cpus = fulcrum_sys::affinity::allowed_cpus().map_err(StartError::Affinity)?;
        let count = config.runtime.workers.unwrap_or(cpus.len()).max(1);
        let pin = config.runtime.pin_workers;
        let tls = TlsSet::build(&config, None).map_err(StartError::Tls)?;
        let snapshot = Snapshot::build_with_tls(config, None, &tls);
        let mut pending = Vec::new();
        for listener in &snapshot.listeners {
            let sockets = bind_all(&listener.config, count).map_err(|source| StartError::Bind {
                listener: listener.config.name.clone(),
                addr: listener.config.bind,
                source,
            })?;
            pending.push((ListenerSlot::new(Arc::clone(listener)), listener, sockets));
        }
        let (max_pipes, pipe_capacity) = pipe_budget(&snapshot, count);
        let mut workers = Vec::with_capacity(count);
        for index in 0..count {
            let (tx, rx) = unbounded_channel();
            let cpu = pin.then(|| cpus[index % cpus.len()]);
            let spec = Spec {
                index,
                cpu,
                max_pipes,
                pipe_capacity,
            };
            let thread = worker::spawn(spec, rx).map_err(StartError::Thread)?;
            workers.push(Worker {
                commands: tx,
                thread: Some(thread),
            });
        }
        let mut slots = HashMap::new();
        for (slot, listener, sockets) in pending {
            let key = listener.config.socket_key();
            send_listen(&workers, key, &slot, sockets);
            slots.insert(key, slot);
        }
        tracing::info!(
            workers = count,
            pinned = pin,
            listeners = slots.len(),
            "fulcrum started"
        );
        Ok(Server {
            current: ArcSwap::from_pointee(snapshot),
            stats: ProcessStats::default(),
            workers: Mutex::new(workers),
            worker_count: count,
            slots: Mutex::new(slots),
        })
    }

    /// The snapshot workers are using now.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    pub fn process_stats(&self) -> &ProcessStats {
        &self.stats
    }

    /// Number of worker threads.
    pub fn workers(&self) -> usize {
        self.worker_count
    }

    /// Applies a new validated config: binds new listeners (all or nothing), swaps the
    /// snapshot, then tells workers to start and stop listeners. Listeners whose address and
    /// backlog are unchanged keep their sockets; open connections keep the config they started
    /// with. On error nothing changes.
    pub fn reload(&self, config: Config) -> Result<ConfigDiff, ReloadError> {
        let result = self.try_reload(config);
        let counter = if result.is_ok() {
            &self.stats.reloads
        } else {
            &self.stats.reload_failures
        };
        counter.fetch_add(1, Relaxed);
        result
    }

    fn try_reload(&self, config: Config) -> Result<ConfigDiff, ReloadError> {
        let mut slots = lock(&self.slots);
        let workers = lock(&self.workers);
        if workers.is_empty() {
            return Err(ReloadError::ShuttingDown);
        }
        let old = self.current.load_full();
        let diff = fulcrum_config::diff(&old.config, &config);
        let tls = TlsSet::build(&config, Some(&old)).map_err(ReloadError::Tls)?;
        let snapshot = Snapshot::build_with_tls(config, Some(&old), &tls);
        let mut kept = HashMap::new();
        let mut fresh = Vec::new();
        for listener in &snapshot.listeners {
            let key = listener.config.socket_key();
            match slots.get(&key) {
                Some(slot) => {
                    kept.insert(key, (Arc::clone(slot), Arc::clone(listener)));
                }
                None => {
                    let sockets =
                        bind_all(&listener.config, self.worker_count).map_err(|source| {
                            ReloadError::Bind {
                                listener: listener.config.name.clone(),
                                addr: listener.config.bind,
                                source,
                            }
                        })?;
                    fresh.push((key, Arc::clone(listener), sockets));
                }
            }
        }
        // Past this point nothing can fail: commit.
        self.current.store(Arc::new(snapshot));
        for (slot, listener) in kept.values() {
            slot.current.store(Arc::clone(listener));
        }
        for key in slots.keys().filter(|k| !kept.contains_key(*k)) {
            for w in workers.iter() {
                let _ = w.commands.send(Command::Unlisten { key: *key });
            }
        }
        let mut next: HashMap<_, _> = kept.into_iter().map(|(k, (s, _))| (k, s)).collect();
        for (key, listener, sockets) in fresh {
            let slot = ListenerSlot::new(listener);
            send_listen(&workers, key, &slot, sockets);
            next.insert(key, slot);
        }
        *slots = next;
        Ok(diff)
    }

    /// Stops accepting on every listener, lets open connections finish for up to `deadline`,
    /// closes what is left, and waits for the workers to exit. Later calls do nothing.
    pub fn shutdown(&self, deadline: Duration) {
        let mut workers = std::mem::take(&mut *lock(&self.workers));
        for w in &workers {
            let _ = w.commands.send(Command::Shutdown { deadline });
        }
        for w in &mut workers {
            if let Some(thread) = w.thread.take() {
                let _ = thread.join();
            }
        }
        lock(&self.slots).clear();
    }

    /// Re-reads certificates, keys and OCSP responses whose files changed, for every TLS
    /// listener; a bad new file keeps the old ones serving. Returns what happened, by
    /// listener, for the log.
    pub fn reload_tls_if_changed(&self) -> Vec<(String, Result<(), String>)> {
        self.snapshot()
            .listeners
            .iter()
            .filter_map(|l| {
                let result = l.tls.as_ref()?.reload_if_changed()?;
                Some((l.config.name.clone(), result.map_err(|e| e.to_string())))
            })
            .collect()
    }

    /// Connections open now, over all listeners.
    pub fn active_connections(&self) -> u64 {
        self.snapshot()
            .listeners
            .iter()
            .map(|l| l.stats.active.load(Relaxed))
            .sum()
    }
}

fn send_listen(
    workers: &[Worker],
    key: SocketKey,
    slot: &Arc<ListenerSlot>,
    sockets: Vec<std::net::TcpListener>,
) {
    for (w, socket) in workers.iter().zip(sockets) {
        let slot = Arc::clone(slot);
        let _ = w.commands.send(Command::Listen { key, slot, socket });
    }
}

/// One `SO_REUSEPORT` socket per worker on the listener's address.
fn bind_all(
    l: &fulcrum_config::ListenerConfig,
    count: usize,
) -> std::io::Result<Vec<std::net::TcpListener>> {
    (0..count)
        .map(|_| fulcrum_sys::socket::bind_reuseport(l.bind, l.backlog))
        .collect()
}

/// How many splice pipes each worker may hold, and their size: a quarter of the open-file
/// limit goes to pipes (two descriptors each), shared among workers. Past that, connections
/// use the copying relay.
fn pipe_budget(snapshot: &Snapshot, workers: usize) -> (usize, usize) {
    let (soft, _) = fulcrum_sys::limits::nofile_limit();
    let fds = soft.unwrap_or(1024).min(1 << 20) as usize;
    let pipes = (fds / 8 / workers).max(2);
    (pipes, snapshot.config.runtime.buffer_size)
}
