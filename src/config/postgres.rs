//! The PostgreSQL wire protocol's keys of `[server]` (`postgres_listen` and its
//! `postgres_*` companions), checked into [`PostgresSettings`]: where it listens,
//! who may log in and how, TLS, and how many sessions at once. Off when
//! `postgres_listen` is absent. As for HTTP, an address off loopback without users
//! is refused unless `insecure = true`; cleartext passwords are allowed only on
//! loopback or over TLS; a password is never printed.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;
use toml::Spanned;

use super::server::ServerConfig;
use super::{ConfigError, ConfigFile};

/// One `postgres_users` entry as written: a name and its password, given inline
/// or through an environment variable.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostgresUserConfig {
    pub name: String,
    pub password: Option<String>,
    pub password_env: Option<String>,
}

/// How clients prove who they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PostgresAuth {
    /// Anyone who can connect (loopback, or `insecure = true`).
    Trust,
    /// SCRAM-SHA-256, as PostgreSQL does by default.
    Scram,
    /// The password in clear: loopback or TLS only.
    Cleartext,
}

/// A user who may log in.
#[derive(Clone)]
pub struct PostgresUser {
    pub name: String,
    pub password: String,
}

/// Checked settings of the PostgreSQL listener.
#[derive(Clone)]
pub struct PostgresSettings {
    pub listen: SocketAddr,
    pub auth: PostgresAuth,
    pub users: Vec<PostgresUser>,
    /// A PEM certificate chain and its private key.
    pub tls: Option<(PathBuf, PathBuf)>,
    pub max_connections: usize,
}

impl std::fmt::Debug for PostgresSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresSettings")
            .field("listen", &self.listen)
            .field("auth", &self.auth)
            .field("users", &self.users.iter().map(|user| &user.name).collect::<Vec<_>>())
            .field("tls", &self.tls)
            .finish()
    }
}

impl PostgresSettings {
    /// The listener `[server]` configures, if any.
    pub fn from_server(
        file: &ConfigFile,
        server: &ServerConfig,
    ) -> Result<Option<PostgresSettings>, ConfigError> {
        let Some(listen) = &server.postgres_listen else { return Ok(None) };
        let address = listen.get_ref().parse().map_err(|_| {
            file.value_error(
                "postgres_listen",
                listen.span(),
                "not an address such as \"127.0.0.1:5432\"",
            )
        })?;
        let users = server
            .postgres_users
            .iter()
            .map(|user| resolve_user(file, user))
            .collect::<Result<Vec<_>, _>>()?;
        let tls = tls_paths(file, server)?;
        let auth = auth(file, server, !users.is_empty())?;
        let settings = PostgresSettings {
            listen: address,
            auth,
            users,
            tls,
            max_connections: server.postgres_max_connections.unwrap_or(64).max(1),
        };
        settings.check_exposure(file, listen, server.insecure)?;
        Ok(Some(settings))
    }

    /// Refuses logins anyone on the network could make or read.
    fn check_exposure(
        &self,
        file: &ConfigFile,
        listen: &Spanned<String>,
        insecure: bool,
    ) -> Result<(), ConfigError> {
        let loopback = self.listen.ip().is_loopback();
        let problem = match self.auth {
            PostgresAuth::Trust if !loopback && !insecure => format!(
                "{} is reachable from other hosts: set `postgres_users` (SCRAM passwords), or \
                 `insecure = true` to serve without them",
                self.listen
            ),
            PostgresAuth::Cleartext if !loopback && self.tls.is_none() => format!(
                "{} is reachable from other hosts: cleartext passwords need TLS \
                 (`postgres_tls_cert`, `postgres_tls_key`) or `postgres_auth = \"scram\"`",
                self.listen
            ),
            _ => return Ok(()),
        };
        Err(file.value_error("postgres_listen", listen.span(), problem))
    }
}

fn resolve_user(file: &ConfigFile, user: &PostgresUserConfig) -> Result<PostgresUser, ConfigError> {
    let error = |message: String| ConfigError::Syntax {
        path: file.path.clone(),
        message: format!("[server] postgres_users {:?}: {message}", user.name),
    };
    let password = match (&user.password, &user.password_env) {
        (Some(password), None) => password.clone(),
        (None, Some(variable)) => std::env::var(variable)
            .map_err(|_| error(format!("the environment variable {variable} is not set")))?,
        _ => return Err(error("give exactly one of `password` and `password_env`".into())),
    };
    if password.is_empty() {
        return Err(error("the password is empty".into()));
    }
    Ok(PostgresUser { name: user.name.clone(), password })
}

fn tls_paths(
    file: &ConfigFile,
    server: &ServerConfig,
) -> Result<Option<(PathBuf, PathBuf)>, ConfigError> {
    match (&server.postgres_tls_cert, &server.postgres_tls_key) {
        (Some(cert), Some(key)) => Ok(Some((file.relative(cert), file.relative(key)))),
        (None, None) => Ok(None),
        _ => Err(ConfigError::Syntax {
            path: file.path.clone(),
            message: "[server] postgres_tls_cert and postgres_tls_key go together".into(),
        }),
    }
}

fn auth(
    file: &ConfigFile,
    server: &ServerConfig,
    has_users: bool,
) -> Result<PostgresAuth, ConfigError> {
    let Some(written) = &server.postgres_auth else {
        return Ok(if has_users { PostgresAuth::Scram } else { PostgresAuth::Trust });
    };
    let (auth, needs_users) = match written.get_ref().as_str() {
        "scram" => (PostgresAuth::Scram, true),
        "cleartext" => (PostgresAuth::Cleartext, true),
        "trust" => (PostgresAuth::Trust, false),
        _ => {
            let message = "one of \"scram\", \"cleartext\" or \"trust\"";
            return Err(file.value_error("postgres_auth", written.span(), message));
        }
    };
    if needs_users != has_users {
        let message = match needs_users {
            true => "needs `postgres_users`",
            false => "\"trust\" lets anyone in: remove `postgres_users` or choose \"scram\"",
        };
        return Err(file.value_error("postgres_auth", written.span(), message));
    }
    Ok(auth)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn settings(text: &str) -> Result<Option<PostgresSettings>, ConfigError> {
        let file = ConfigFile::parse(Path::new("mesh.toml"), text.into())?;
        let default = ServerConfig::default();
        let server = file.config.server.as_ref().unwrap_or(&default);
        PostgresSettings::from_server(&file, server)
    }

    fn error(text: &str) -> String {
        settings(text).unwrap_err().to_string()
    }

    #[test]
    fn off_unless_an_address_is_given() {
        assert!(settings("").unwrap().is_none());
        let on = settings("[server]\npostgres_listen = \"127.0.0.1:5432\"\n").unwrap().unwrap();
        assert_eq!(on.auth, PostgresAuth::Trust);
        assert_eq!(on.max_connections, 64);
    }

    #[test]
    fn users_mean_scram_by_default() {
        let text = "[server]\npostgres_listen = \"0.0.0.0:5432\"\n\
                    postgres_users = [{ name = \"grafana\", password = \"s3cret\" }]\n";
        let on = settings(text).unwrap().unwrap();
        assert_eq!(on.auth, PostgresAuth::Scram);
        assert!(!format!("{on:?}").contains("s3cret"));
    }

    #[test]
    fn refuses_an_open_address_without_users() {
        let message = error("[server]\npostgres_listen = \"0.0.0.0:5432\"\n");
        assert!(message.contains("mesh.toml:2: `postgres_listen`"), "{message}");
        assert!(message.contains("postgres_users"), "{message}");
        settings("[server]\npostgres_listen = \"0.0.0.0:5432\"\ninsecure = true\n").unwrap();
    }

    #[test]
    fn refuses_cleartext_off_loopback_without_tls() {
        let text = "[server]\npostgres_listen = \"0.0.0.0:5432\"\npostgres_auth = \"cleartext\"\n\
                    postgres_users = [{ name = \"g\", password = \"p\" }]\n";
        assert!(error(text).contains("need TLS"), "{}", error(text));
        let loopback = text.replace("0.0.0.0", "127.0.0.1");
        assert_eq!(settings(&loopback).unwrap().unwrap().auth, PostgresAuth::Cleartext);
    }

    #[test]
    fn refuses_contradictions() {
        let scram_without_users =
            "[server]\npostgres_listen = \"127.0.0.1:5432\"\npostgres_auth = \"scram\"\n";
        assert!(error(scram_without_users).contains("needs `postgres_users`"));
        let no_password = "[server]\npostgres_listen = \"127.0.0.1:5432\"\n\
                           postgres_users = [{ name = \"g\" }]\n";
        assert!(error(no_password).contains("exactly one of"), "{}", error(no_password));
        let half_tls =
            "[server]\npostgres_listen = \"127.0.0.1:5432\"\npostgres_tls_cert = \"c\"\n";
        assert!(error(half_tls).contains("go together"));
        let missing_env = "[server]\npostgres_listen = \"127.0.0.1:5432\"\n\
                           postgres_users = [{ name = \"g\", password_env = \"MESHLOG_NO_SUCH_VAR\" }]\n";
        assert!(error(missing_env).contains("MESHLOG_NO_SUCH_VAR is not set"));
    }
}
