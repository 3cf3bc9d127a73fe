//! The PostgreSQL hosting module: an account is a login role and a database it owns, on a
//! PostgreSQL server Hostwright reaches with an administrative role (one that may create
//! roles and databases).
//!
//! A role this module made carries the comment `hostwright service <id>`. That is how a
//! repeated create (after a timeout, say) recognises its own role and finishes the job instead
//! of failing, and how terminate refuses to drop a role someone else made with the same name.
//! Suspension takes the role's LOGIN away and ends its sessions.

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgSslMode};
use sqlx::{Connection, PgConnection, Row};

use crate::{
    Account, Capabilities, Created, Exchange, Field, FieldKind, ModuleError, ModuleInfo, ProvisioningModule, Redactor,
    Server, Usage, excerpt,
};

pub struct Postgres;

/// The comment that marks a role as the one of service `service_ref`.
fn marker(service_ref: &str) -> String {
    format!("hostwright service {service_ref}")
}

/// A role and database name this module accepts: it is also the username rule it announces.
fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && name.len() <= 63
}

fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// One connection to the server for one call, logging each statement it runs.
struct Session<'a> {
    conn: PgConnection,
    redactor: Redactor,
    timeout: Duration,
    log: &'a mut Vec<Exchange>,
}

impl<'a> Session<'a> {
    async fn open(server: &Server, account: Option<&Account>, log: &'a mut Vec<Exchange>) -> Result<Self, ModuleError> {
        let redactor = Redactor::for_call(server, account);
        let port = match server.setting("port").trim() {
            "" => 5432,
            p => p.parse().map_err(|_| ModuleError::Refused(format!("the port \"{p}\" is not a number")))?,
        };
        let ssl = match server.setting("tls") {
            "require" => PgSslMode::Require,
            "disable" => PgSslMode::Disable,
            _ => PgSslMode::Prefer,
        };
        let user = match server.setting("username").trim() {
            "" => "postgres",
            u => u,
        };
        let database = match server.setting("database").trim() {
            "" => "postgres",
            d => d,
        };
        let mut options = PgConnectOptions::new()
            .host(&server.hostname)
            .port(port)
            .username(user)
            .database(database)
            .ssl_mode(ssl)
            .application_name("hostwright");
        if !server.setting("password").is_empty() {
            options = options.password(server.setting("password"));
        }
        let mut exchange = Exchange {
            action: "connect".into(),
            request: format!("connect {user}@{}:{port}/{database}", server.hostname),
            ..Exchange::default()
        };
        let connected = tokio::time::timeout(server.timeout, PgConnection::connect_with(&options)).await;
        let result = match connected {
            Err(_) => Err(ModuleError::Timeout(server.timeout.as_secs())),
            Ok(Err(err)) => Err(connect_error(&err, &redactor)),
            Ok(Ok(conn)) => Ok(conn),
        };
        exchange.response = match &result {
            Ok(_) => "connected".into(),
            Err(err) => err.to_string(),
        };
        log.push(exchange);
        Ok(Session { conn: result?, redactor, timeout: server.timeout, log })
    }

    /// Runs a statement without parameters (DDL cannot take any).
    async fn execute(&mut self, action: &str, sql: &str) -> Result<u64, ModuleError> {
        let timeout = self.timeout;
        let outcome =
            tokio::time::timeout(timeout, sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned())).execute(&mut self.conn))
                .await;
        let result = match outcome {
            Err(_) => Err(ModuleError::Timeout(timeout.as_secs())),
            Ok(Err(err)) => Err(statement_error(&err, &self.redactor)),
            Ok(Ok(done)) => Ok(done.rows_affected()),
        };
        self.record(action, sql, result.as_ref().map(|n| format!("OK {n}")));
        result
    }

    /// Runs a query with text parameters and returns its rows' first columns as text.
    async fn lookup(&mut self, action: &str, sql: &str, params: &[&str]) -> Result<Vec<Option<String>>, ModuleError> {
        let timeout = self.timeout;
        let query = params
            .iter()
            .fold(sqlx::query(sqlx::AssertSqlSafe(sql.to_owned())), |q, p| q.bind(*p))
            .fetch_all(&mut self.conn);
        let result = match tokio::time::timeout(timeout, query).await {
            Err(_) => Err(ModuleError::Timeout(timeout.as_secs())),
            Ok(Err(err)) => Err(statement_error(&err, &self.redactor)),
            Ok(Ok(rows)) => rows
                .iter()
                .map(|row| row.try_get::<Option<String>, _>(0))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| ModuleError::Protocol(e.to_string())),
        };
        self.record(action, &format!("{sql} {params:?}"), result.as_ref().map(|rows| format!("{rows:?}")));
        result
    }

    fn record(&mut self, action: &str, sql: &str, result: Result<String, &ModuleError>) {
        let response = match result {
            Ok(text) => excerpt(&text, 500),
            Err(err) => err.to_string(),
        };
        self.log.push(Exchange {
            action: action.to_owned(),
            request: self.redactor.redact(sql),
            response: self.redactor.redact(&response),
        });
    }

    /// The comment on role `name`: `None` when there is no such role, `Some("")` when it has
    /// none.
    async fn role_marker(&mut self, name: &str) -> Result<Option<String>, ModuleError> {
        let rows = self
            .lookup(
                "find role",
                "SELECT coalesce(shobj_description(oid, 'pg_authid'), '') FROM pg_roles WHERE rolname = $1",
                &[name],
            )
            .await?;
        Ok(rows.into_iter().next().map(Option::unwrap_or_default))
    }

    /// The owner of database `name`, if it exists.
    async fn database_owner(&mut self, name: &str) -> Result<Option<String>, ModuleError> {
        let rows = self
            .lookup(
                "find database",
                "SELECT pg_get_userbyid(datdba)::text FROM pg_database WHERE datname = $1",
                &[name],
            )
            .await?;
        Ok(rows.into_iter().next().map(Option::unwrap_or_default))
    }

    /// Refuses unless role `account.username` exists and is the account's own.
    async fn own_role(&mut self, account: &Account) -> Result<(), ModuleError> {
        match self.role_marker(&account.username).await? {
            Some(comment) if comment == marker(&account.service_ref) => Ok(()),
            Some(_) => Err(ModuleError::Refused(format!(
                "the role {} on this server belongs to something else",
                account.username
            ))),
            None => Err(ModuleError::Refused(format!("there is no role {} on this server", account.username))),
        }
    }

    async fn end_sessions(&mut self, name: &str) -> Result<(), ModuleError> {
        self.lookup(
            "end sessions",
            "SELECT count(pg_terminate_backend(pid))::text FROM pg_stat_activity WHERE usename = $1",
            &[name],
        )
        .await
        .map(|_| ())
    }
}

fn connect_error(err: &sqlx::Error, redactor: &Redactor) -> ModuleError {
    match err {
        sqlx::Error::Io(e) => ModuleError::Unreachable(e.to_string()),
        sqlx::Error::Tls(e) => ModuleError::Unreachable(format!("TLS: {e}")),
        sqlx::Error::Database(e) if matches!(e.code().as_deref(), Some("28P01" | "28000")) => {
            ModuleError::Unauthorized(redactor.redact(e.message()))
        }
        other => statement_error(other, redactor),
    }
}

fn statement_error(err: &sqlx::Error, redactor: &Redactor) -> ModuleError {
    match err {
        sqlx::Error::Database(e) => ModuleError::Refused(redactor.redact(e.message())),
        sqlx::Error::Io(e) => ModuleError::Unreachable(e.to_string()),
        other => ModuleError::Protocol(redactor.redact(&other.to_string())),
    }
}

fn checked_name(account: &Account) -> Result<&str, ModuleError> {
    if valid_name(&account.username) {
        Ok(&account.username)
    } else {
        Err(ModuleError::Refused(format!(
            "\"{}\" is not a valid role name (a lowercase letter, then lowercase letters, digits or _)",
            account.username
        )))
    }
}

/// `CONNECTION LIMIT n` from the product's setting; -1 (none) when unset.
fn connection_limit(account: &Account) -> Result<i64, ModuleError> {
    match account.product.get("connection_limit").map(|v| v.trim()).unwrap_or("") {
        "" => Ok(-1),
        n => n
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| ModuleError::Refused(format!("the connection limit \"{n}\" is not a positive number"))),
    }
}

fn password(account: &Account) -> Result<&str, ModuleError> {
    account
        .password
        .as_ref()
        .map(|p| p.expose())
        .filter(|p| !p.is_empty() && !p.contains('\0'))
        .ok_or_else(|| ModuleError::Refused("no password was given".into()))
}

impl ProvisioningModule for Postgres {
    fn info(&self) -> ModuleInfo {
        ModuleInfo {
            key: "postgres",
            label: "PostgreSQL database",
            server_fields: vec![
                Field::text("port", "Port", "5432 when empty.").optional(),
                Field::text("username", "Administrative role", "A role that may create roles and databases.")
                    .optional(),
                Field::secret("password", "Its password", "Empty when the server trusts this host.").optional(),
                Field::text("database", "Database to connect to", "postgres when empty.").optional(),
                Field {
                    key: "tls",
                    label: "TLS",
                    kind: FieldKind::Choice(vec!["prefer".into(), "require".into(), "disable".into()]),
                    required: false,
                    help: "require refuses a server without TLS.",
                },
            ],
            product_fields: vec![
                Field::text("connection_limit", "Connection limit", "Sessions the role may hold at once.").optional(),
                Field::text("quota_mb", "Size shown as the limit (MB)", "Shown to the client beside the size.")
                    .optional(),
            ],
            capabilities: Capabilities {
                test_connection: true,
                change_package: true,
                change_password: true,
                usage: true,
                single_sign_on: false,
                packages: false,
            },
            client_actions: Vec::new(),
        }
    }

    async fn test_connection(&self, server: &Server, log: &mut Vec<Exchange>) -> Result<String, ModuleError> {
        let mut s = Session::open(server, None, log).await?;
        let version = s.lookup("version", "SELECT version()", &[]).await?;
        let rights = s
            .lookup(
                "rights",
                "SELECT (rolsuper OR (rolcreaterole AND rolcreatedb))::text FROM pg_roles \
                 WHERE rolname = current_user",
                &[],
            )
            .await?;
        if rights.first().and_then(Option::as_deref) != Some("true") {
            return Err(ModuleError::Refused("the role may not create roles and databases".into()));
        }
        Ok(version.into_iter().flatten().next().unwrap_or_default())
    }

    async fn create(
        &self,
        server: &Server,
        account: &Account,
        log: &mut Vec<Exchange>,
    ) -> Result<Created, ModuleError> {
        let name = checked_name(account)?;
        let password = password(account)?;
        let limit = connection_limit(account)?;
        let mut s = Session::open(server, Some(account), log).await?;
        let mine = marker(&account.service_ref);
        match s.role_marker(name).await? {
            None => {
                // Role and comment together: a role without its mark is never left behind.
                let sql = format!(
                    "BEGIN; CREATE ROLE {r} LOGIN PASSWORD {p} CONNECTION LIMIT {limit}; \
                     COMMENT ON ROLE {r} IS {c}; COMMIT;",
                    r = ident(name),
                    p = literal(password),
                    c = literal(&mine),
                );
                s.execute("create role", &sql).await?;
            }
            Some(comment) if comment == mine => {
                let sql =
                    format!("ALTER ROLE {} LOGIN PASSWORD {} CONNECTION LIMIT {limit}", ident(name), literal(password));
                s.execute("update role", &sql).await?;
            }
            Some(_) => return Err(ModuleError::Refused(format!("a role named {name} already exists"))),
        }
        match s.database_owner(name).await? {
            None => {
                s.execute("create database", &format!("CREATE DATABASE {n} OWNER {n}", n = ident(name))).await?;
            }
            Some(owner) if owner == name => {}
            Some(_) => return Err(ModuleError::Refused(format!("a database named {name} already exists"))),
        }
        s.execute("restrict database", &format!("REVOKE ALL ON DATABASE {n} FROM PUBLIC", n = ident(name))).await?;
        Ok(Created { username: name.to_owned(), message: format!("role and database {name} ready") })
    }

    async fn suspend(
        &self,
        server: &Server,
        account: &Account,
        _reason: &str,
        log: &mut Vec<Exchange>,
    ) -> Result<(), ModuleError> {
        let name = checked_name(account)?;
        let mut s = Session::open(server, Some(account), log).await?;
        s.own_role(account).await?;
        s.execute("no login", &format!("ALTER ROLE {} NOLOGIN", ident(name))).await?;
        s.end_sessions(name).await
    }

    async fn unsuspend(&self, server: &Server, account: &Account, log: &mut Vec<Exchange>) -> Result<(), ModuleError> {
        let name = checked_name(account)?;
        let mut s = Session::open(server, Some(account), log).await?;
        s.own_role(account).await?;
        s.execute("login", &format!("ALTER ROLE {} LOGIN", ident(name))).await.map(|_| ())
    }

    async fn terminate(&self, server: &Server, account: &Account, log: &mut Vec<Exchange>) -> Result<(), ModuleError> {
        let name = checked_name(account)?;
        let mut s = Session::open(server, Some(account), log).await?;
        match s.role_marker(name).await? {
            // Already gone: terminating again changes nothing.
            None => return Ok(()),
            Some(comment) if comment != marker(&account.service_ref) => {
                return Err(ModuleError::Refused(format!("the role {name} on this server belongs to something else")));
            }
            Some(_) => {}
        }
        s.execute("no login", &format!("ALTER ROLE {} NOLOGIN", ident(name))).await?;
        s.end_sessions(name).await?;
        if s.database_owner(name).await?.is_some_and(|owner| owner == name) {
            s.execute("drop database", &format!("DROP DATABASE IF EXISTS {}", ident(name))).await?;
        }
        s.execute("drop role", &format!("DROP ROLE IF EXISTS {}", ident(name))).await.map(|_| ())
    }

    async fn change_package(
        &self,
        server: &Server,
        account: &Account,
        log: &mut Vec<Exchange>,
    ) -> Result<(), ModuleError> {
        let name = checked_name(account)?;
        let limit = connection_limit(account)?;
        let mut s = Session::open(server, Some(account), log).await?;
        s.own_role(account).await?;
        s.execute("connection limit", &format!("ALTER ROLE {} CONNECTION LIMIT {limit}", ident(name))).await.map(|_| ())
    }

    async fn change_password(
        &self,
        server: &Server,
        account: &Account,
        log: &mut Vec<Exchange>,
    ) -> Result<(), ModuleError> {
        let name = checked_name(account)?;
        let password = password(account)?;
        let mut s = Session::open(server, Some(account), log).await?;
        s.own_role(account).await?;
        let sql = format!("ALTER ROLE {} PASSWORD {}", ident(name), literal(password));
        s.execute("password", &sql).await.map(|_| ())
    }

    async fn usage(&self, server: &Server, account: &Account, log: &mut Vec<Exchange>) -> Result<Usage, ModuleError> {
        let name = checked_name(account)?;
        let mut s = Session::open(server, Some(account), log).await?;
        let size = s
            .lookup("size", "SELECT pg_database_size(datname)::text FROM pg_database WHERE datname = $1", &[name])
            .await?;
        let bytes: u64 = size
            .into_iter()
            .flatten()
            .next()
            .ok_or_else(|| ModuleError::Refused(format!("there is no database {name} on this server")))?
            .parse()
            .map_err(|_| ModuleError::Protocol("the size is not a number".into()))?;
        let limit = account.product.get("quota_mb").and_then(|q| q.trim().parse::<u64>().ok()).filter(|q| *q > 0);
        Ok(Usage {
            disk_used_mb: bytes.div_ceil(1024 * 1024),
            disk_limit_mb: limit,
            bandwidth_used_mb: 0,
            bandwidth_limit_mb: None,
        })
    }

    async fn sso_url(&self, _: &Server, _: &Account, _: &mut Vec<Exchange>) -> Result<String, ModuleError> {
        Err(ModuleError::Unsupported)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_literals_are_quoted() {
        assert!(valid_name("acme01") && valid_name("a_b") && !valid_name("1abc") && !valid_name("Acme"));
        assert!(!valid_name("a\"; DROP ROLE x; --"));
        assert_eq!(ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(literal("it's"), "'it''s'");
    }
}
