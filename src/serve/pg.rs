//! The PostgreSQL wire protocol of `meshlog serve` (`[server] postgres_listen`),
//! for Grafana's PostgreSQL data source, psql and any PostgreSQL driver: the same
//! tables and the same rows in memory as `POST /api/v1/query`, read-only, under the
//! same limits. pgwire speaks the protocol; [`statements`] runs what clients send
//! ([`protocol`] for the simple and extended protocols, [`settings`] for `SET`,
//! `SHOW` and `current_setting()`, [`catalog`] for `pg_catalog`, [`text_rows`]
//! for rows in the text format); [`auth`] decides who gets in. [`PgListener`]
//! binds at start (a taken address stops the server before it is ready), accepts
//! sessions up to `postgres_max_connections`, and on stop closes them: they only
//! read, so nothing is lost.

mod auth;
mod catalog;
mod protocol;
mod search_path;
mod settings;
mod statements;
mod text_rows;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use datafusion_postgres::pgwire::api::auth::StartupHandler;
use datafusion_postgres::pgwire::api::cancel::{CancelHandler, DefaultCancelHandler};
use datafusion_postgres::pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler};
use datafusion_postgres::pgwire::api::{
    ClientInfo, ConnectionManager, ErrorHandler, PgWireServerHandlers,
};
use datafusion_postgres::pgwire::error::PgWireError;
use datafusion_postgres::pgwire::tokio::process_socket;
use datafusion_postgres::pgwire::tokio::tokio_rustls::TlsAcceptor;
use datafusion_postgres::pgwire::tokio::tokio_rustls::rustls;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use super::ServeError;
use super::http::AppState;
use crate::config::postgres::PostgresSettings;
use crate::query::fresh::FreshRows;
use crate::query::{QueryEngine, TimeWindow};
use auth::PgUsers;
use catalog::PgCompat;
use protocol::PgService;
use statements::PgQueries;

/// The PostgreSQL listener, bound and ready to run.
pub struct PgListener {
    listener: TcpListener,
    address: SocketAddr,
    tls: Option<TlsAcceptor>,
    handlers: Arc<PgHandlers>,
    max_connections: usize,
}

impl PgListener {
    /// Binds `settings.listen`, reads the TLS certificate and key, and builds the
    /// catalog clients see: any of them failing stops the server's start.
    pub async fn bind(
        settings: &PostgresSettings,
        app: Arc<AppState>,
    ) -> Result<PgListener, ServeError> {
        let tls = settings.tls.as_ref().map(|(cert, key)| tls_acceptor(cert, key)).transpose()?;
        let limits = app.query_limits;
        let fresh = FreshRows::default();
        let template = QueryEngine::open_fresh(
            &app.data_dir,
            TimeWindow::ALL,
            limits,
            &fresh,
            &app.visible_files,
        )
        .map_err(|source| start_error("the tables do not open", source))?;
        let compat = PgCompat::new(template.context())
            .map_err(|source| start_error("pg_catalog cannot be built", source))?;
        let address = settings.listen;
        let listener = TcpListener::bind(address)
            .await
            .map_err(|source| ServeError::Listen { address, source })?;
        let address = listener.local_addr().unwrap_or(address);
        let connections = Arc::new(ConnectionManager::new());
        let handlers = PgHandlers {
            service: Arc::new(PgService::new(Arc::new(PgQueries::new(app, compat)))),
            users: Arc::new(PgUsers::new(settings)),
            cancel: Arc::new(DefaultCancelHandler::new(connections.clone())),
            connections,
        };
        Ok(PgListener {
            listener,
            address,
            tls,
            handlers: Arc::new(handlers),
            max_connections: settings.max_connections,
        })
    }

    /// Accepts sessions until `stop` turns `true`, then closes them.
    pub async fn run(self, mut stop: watch::Receiver<bool>) -> Result<(), ServeError> {
        tracing::info!(address = %self.address, "serving the PostgreSQL protocol");
        let permits = Arc::new(Semaphore::new(self.max_connections));
        let mut sessions = JoinSet::new();
        loop {
            tokio::select! {
                () = stopped(&mut stop) => break,
                accepted = self.listener.accept() => match accepted {
                    Ok((socket, peer)) => {
                        let Ok(permit) = permits.clone().try_acquire_owned() else {
                            tracing::warn!(%peer, limit = self.max_connections, "PostgreSQL session refused: too many open");
                            continue;
                        };
                        let (tls, handlers) = (self.tls.clone(), self.handlers.clone());
                        sessions.spawn(async move {
                            if let Err(error) = process_socket(socket, tls, handlers).await {
                                tracing::debug!(%peer, %error, "PostgreSQL session ended");
                            }
                            drop(permit);
                        });
                    }
                    Err(error) => {
                        // Out of file descriptors, say: wait rather than spin.
                        tracing::warn!(%error, "cannot accept a PostgreSQL session");
                        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    }
                },
                Some(_) = sessions.join_next(), if !sessions.is_empty() => {}
            }
        }
        sessions.shutdown().await;
        Ok(())
    }
}

async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stopped| *stopped).await;
}

/// The TLS set-up from a PEM certificate chain and private key (any key type).
fn tls_acceptor(cert: &Path, key: &Path) -> Result<TlsAcceptor, ServeError> {
    let files = format!("TLS from {} and {}", cert.display(), key.display());
    let tls_error = |problem: &str, source: Box<dyn std::error::Error + Send + Sync>| {
        start_error(&format!("{files}: {problem}"), source)
    };
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|error| tls_error("the certificate does not read", error.into()))?;
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|error| tls_error("the key does not read", error.into()))?;
    // pgwire's TLS is built on ring; rustls deprecates ring's provider only for
    // lacking post-quantum key exchange.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|builder| builder.with_no_client_auth().with_single_cert(chain, key))
        .map_err(|error| {
            tls_error("the certificate and key do not make a TLS set-up", error.into())
        })?;
    // PostgreSQL 17's direct TLS asks for this protocol name.
    config.alpn_protocols = vec![b"postgresql".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

fn start_error(
    what: &str,
    source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
) -> ServeError {
    ServeError::Postgres { what: what.to_owned(), source: source.into() }
}

/// What pgwire asks for, for each connection.
struct PgHandlers {
    service: Arc<PgService>,
    users: Arc<PgUsers>,
    connections: Arc<ConnectionManager>,
    cancel: Arc<DefaultCancelHandler>,
}

impl PgWireServerHandlers for PgHandlers {
    fn simple_query_handler(&self) -> Arc<impl SimpleQueryHandler> {
        self.service.clone()
    }

    fn extended_query_handler(&self) -> Arc<impl ExtendedQueryHandler> {
        self.service.clone()
    }

    fn startup_handler(&self) -> Arc<impl StartupHandler> {
        Arc::new(self.users.startup(&self.connections))
    }

    fn cancel_handler(&self) -> Arc<impl CancelHandler> {
        self.cancel.clone()
    }

    fn error_handler(&self) -> Arc<impl ErrorHandler> {
        Arc::new(LogErrors)
    }
}

/// Logs what a session is told went wrong.
struct LogErrors;

impl ErrorHandler for LogErrors {
    fn on_error<C: ClientInfo>(&self, client: &C, error: &mut PgWireError) {
        tracing::debug!(peer = %client.socket_addr(), %error, "PostgreSQL error");
    }
}
