//! Logging: tracing to stderr, text or JSON, with a level that a reload can change.

use fulcrum_config::{LogConfig, LogFormat};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry, reload};

/// Changes the log filter of the running process.
pub struct LevelHandle(reload::Handle<EnvFilter, Registry>);

impl LevelHandle {
    /// Applies `level`; a filter that does not parse is reported and the old one kept.
    pub fn set(&self, level: &str) {
        match filter(level) {
            Ok(filter) => {
                if let Err(e) = self.0.reload(filter) {
                    tracing::warn!(error = %e, "cannot change the log level");
                }
            }
            Err(e) => tracing::warn!(level, error = %e, "bad log level, keeping the old one"),
        }
    }
}

/// The filter for `level`. The TLS library's own messages are kept to errors unless `level`
/// names it: it warns about what clients send (an IP address as SNI, for one), once per
/// handshake, which is noise in a server's log and costs time under load.
fn filter(level: &str) -> Result<EnvFilter, tracing_subscriber::filter::ParseError> {
    let filter = EnvFilter::try_new(level)?;
    if level.contains("rustls") {
        return Ok(filter);
    }
    Ok(filter.add_directive("rustls=error".parse()?))
}

/// Installs the global subscriber. `FULCRUM_LOG` in the environment overrides `log.level`.
pub fn init(config: &LogConfig) -> LevelHandle {
    let level = std::env::var("FULCRUM_LOG").unwrap_or_else(|_| config.level.clone());
    let filter = filter(&level).unwrap_or_else(|_| EnvFilter::new("info"));
    let (filter, handle) = reload::Layer::new(filter);
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .with_target(false);
    let fmt = match config.format {
        LogFormat::Text => fmt.boxed(),
        LogFormat::Json => fmt.json().flatten_event(true).boxed(),
    };
    // A second init (tests, demo after run) keeps the first subscriber.
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(fmt)
        .try_init();
    LevelHandle(handle)
}

#[cfg(test)]
mod tests {
    use super::filter;

    #[test]
    fn the_tls_library_logs_errors_only_unless_asked_for() {
        let quiet = filter("warn").unwrap().to_string();
        assert!(quiet.contains("rustls=error"), "{quiet}");
        let asked = filter("info,rustls=debug").unwrap().to_string();
        assert!(!asked.contains("rustls=error"), "{asked}");
        assert!(filter("no such=level=x").is_err());
    }
}
