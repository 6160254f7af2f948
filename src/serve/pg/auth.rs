//! Who may open a PostgreSQL session, with pgwire's start-up handlers: `trust`
//! (anyone who can connect), SCRAM-SHA-256, or a cleartext password. Each
//! connection gets its own start-up handler (SCRAM keeps the exchange's state).
//! The configured passwords are salted and hashed once at start; an unknown user
//! is asked for a password like a known one and always refused, so a login attempt
//! does not tell which users exist. Every session is registered with one
//! connection manager, so a client's cancel request reaches its query.

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion_postgres::pgwire::api::auth::cleartext::CleartextPasswordAuthStartupHandler;
use datafusion_postgres::pgwire::api::auth::noop::NoopStartupHandler;
use datafusion_postgres::pgwire::api::auth::sasl::SASLAuthStartupHandler;
use datafusion_postgres::pgwire::api::auth::sasl::scram::{
    SCRAM_ITERATIONS, ScramAuth, gen_salted_password, random_nonce,
};
use datafusion_postgres::pgwire::api::auth::{
    AuthSource, DefaultServerParameterProvider, LoginInfo, Password, StartupHandler,
};
use datafusion_postgres::pgwire::api::{ClientInfo, ConnectionManager};
use datafusion_postgres::pgwire::error::{PgWireError, PgWireResult};
use datafusion_postgres::pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};
use futures::Sink;

use crate::config::postgres::{PostgresAuth, PostgresSettings};

/// The users who may log in, each password as the configured method checks it.
#[derive(Debug)]
pub struct PgUsers {
    method: PostgresAuth,
    /// SCRAM: the salt and salted password; cleartext: no salt, the password.
    passwords: HashMap<String, Password>,
}

impl PgUsers {
    pub fn new(settings: &PostgresSettings) -> PgUsers {
        let passwords = settings
            .users
            .iter()
            .map(|user| (user.name.clone(), stored(settings.auth, &user.password)))
            .collect();
        PgUsers { method: settings.auth, passwords }
    }

    /// A start-up handler for one new connection.
    pub fn startup(self: &Arc<Self>, connections: &Arc<ConnectionManager>) -> PgStartup {
        let parameters = DefaultServerParameterProvider::default();
        match self.method {
            PostgresAuth::Trust => {
                PgStartup::Trust(TrustStartup { connections: connections.clone() })
            }
            PostgresAuth::Scram => {
                let mut scram = ScramAuth::new(self.clone());
                scram.set_iterations(SCRAM_ITERATIONS);
                let handler = SASLAuthStartupHandler::new(Arc::new(parameters))
                    .with_scram(scram)
                    .with_connection_manager(connections.clone());
                PgStartup::Scram(Box::new(handler))
            }
            PostgresAuth::Cleartext => {
                let handler =
                    CleartextPasswordAuthStartupHandler::new(SharedUsers(self.clone()), parameters)
                        .with_connection_manager(connections.clone());
                PgStartup::Cleartext(Box::new(handler))
            }
        }
    }
}

/// A password as `method` compares it.
fn stored(method: PostgresAuth, password: &str) -> Password {
    match method {
        PostgresAuth::Scram => {
            let salt = random_nonce().into_bytes();
            let salted = gen_salted_password(password, &salt, SCRAM_ITERATIONS);
            Password::new(Some(salt), salted)
        }
        PostgresAuth::Cleartext | PostgresAuth::Trust => {
            Password::new(None, password.as_bytes().to_vec())
        }
    }
}

#[async_trait]
impl AuthSource for PgUsers {
    async fn get_password(&self, login: &LoginInfo) -> PgWireResult<Password> {
        let known = login.user().and_then(|user| self.passwords.get(user));
        // An unknown user gets a random password no one can give.
        Ok(known.cloned().unwrap_or_else(|| stored(self.method, &random_nonce())))
    }
}

/// [`PgUsers`] shared with each connection's cleartext handler.
#[derive(Debug)]
pub struct SharedUsers(Arc<PgUsers>);

#[async_trait]
impl AuthSource for SharedUsers {
    async fn get_password(&self, login: &LoginInfo) -> PgWireResult<Password> {
        self.0.get_password(login).await
    }
}

/// No password asked.
pub struct TrustStartup {
    connections: Arc<ConnectionManager>,
}

impl NoopStartupHandler for TrustStartup {
    fn connection_manager(&self) -> Option<Arc<ConnectionManager>> {
        Some(self.connections.clone())
    }
}

/// One connection's start-up, by the configured method.
pub enum PgStartup {
    Trust(TrustStartup),
    Scram(Box<SASLAuthStartupHandler<DefaultServerParameterProvider>>),
    Cleartext(
        Box<CleartextPasswordAuthStartupHandler<SharedUsers, DefaultServerParameterProvider>>,
    ),
}

#[async_trait]
impl StartupHandler for PgStartup {
    async fn on_startup<C>(
        &self,
        client: &mut C,
        message: PgWireFrontendMessage,
    ) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        match self {
            PgStartup::Trust(handler) => handler.on_startup(client, message).await,
            PgStartup::Scram(handler) => handler.on_startup(client, message).await,
            PgStartup::Cleartext(handler) => handler.on_startup(client, message).await,
        }
    }
}
