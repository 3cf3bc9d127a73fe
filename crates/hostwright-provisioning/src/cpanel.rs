//! The cPanel & WHM module, through WHM API 1: one authenticated GET per call, whose answer's
//! `metadata.result` says whether it was done. WHM refuses with HTTP 200 and `result: 0`, so
//! the status code alone says nothing.
//!
//! The server's hostname is the WHM host, reached at `https://<hostname>:<port>`. A hostname
//! written as a full address (`https://whm.example:2087`, or `http://127.0.0.1:8080` for a
//! local stand-in) is used as it is.

use serde_json::Value;

use crate::{
    Account, Capabilities, Created, Exchange, Field, FieldKind, ModuleError, ModuleInfo, ProvisioningModule, Redactor,
    Server, Usage, excerpt, forget, panel_address, send,
};

/// WHM over TLS; 2086 is plain HTTP, and cPanel's own ports (2082/2083) refuse WHM calls.
const DEFAULT_PORT: u16 = 2087;

/// What `suspendacct` records when no reason was given: the docs advise always sending one.
const DEFAULT_SUSPEND_REASON: &str = "Suspended by Hostwright";

pub struct Cpanel {
    http: reqwest::Client,
}

/// What WHM said and returned when it did what was asked.
struct Answer {
    reason: String,
    data: Value,
}

impl Cpanel {
    pub fn new(http: reqwest::Client) -> Self {
        Cpanel { http }
    }

    /// The packages (hosting plans) the WHM user can see, so staff pick a product's package
    /// from the server instead of typing its name.
    async fn list_packages(&self, server: &Server, log: &mut Vec<Exchange>) -> Result<Vec<String>, ModuleError> {
        let answer = self.call(server, None, "listpkgs", &[], log).await?;
        let packages = answer.data["pkg"].as_array().map(Vec::as_slice).unwrap_or_default();
        Ok(packages.iter().filter_map(|p| p["name"].as_str()).map(str::to_owned).collect())
    }

    /// Calls WHM API 1 function `function` and reads its answer, logging the round trip.
    async fn call(
        &self,
        server: &Server,
        account: Option<&Account>,
        function: &str,
        params: &[(&str, &str)],
        log: &mut Vec<Exchange>,
    ) -> Result<Answer, ModuleError> {
        let mut url = panel_address(server, DEFAULT_PORT)?;
        url.set_path(&format!("/json-api/{function}"));
        // Without api.version=1 the call runs as WHM API 0, which answers in another shape.
        url.query_pairs_mut().append_pair("api.version", "1").extend_pairs(params);
        let user = match server.setting("username").trim() {
            "" => "root",
            user => user,
        };
        let redactor = Redactor::for_call(server, account);
        let request = self
            .http
            .get(url.clone())
            .header(reqwest::header::AUTHORIZATION, format!("whm {user}:{}", server.setting("api_token")));
        let mut exchange = Exchange {
            action: function.to_owned(),
            request: redactor.redact(&format!("GET {url}")),
            ..Exchange::default()
        };
        let answer = send(request, server.timeout).await;
        exchange.response = match &answer {
            Ok((status, text)) => redactor.redact(&format!("{status} {}", excerpt(text, 2000))),
            Err(err) => err.to_string(),
        };
        log.push(exchange);
        let (status, text) = answer?;
        read_answer(status, &text, &redactor)
    }
}

/// Reads a WHM API 1 answer: `metadata.result` 1 is done, 0 is a refusal in WHM's words.
fn read_answer(status: u16, text: &str, redactor: &Redactor) -> Result<Answer, ModuleError> {
    let said = |words: &str| redactor.redact(&excerpt(words, 300));
    let body: Option<Value> = serde_json::from_str(text).ok();
    if matches!(status, 401 | 403) {
        let words = body.as_ref().and_then(denial).unwrap_or(text);
        return Err(ModuleError::Unauthorized(said(words)));
    }
    let Some(mut body) = body else {
        return Err(ModuleError::Protocol(format!("HTTP {status}, not a WHM API 1 answer: {}", said(text))));
    };
    if let Some(words) = denial(&body) {
        return Err(ModuleError::Unauthorized(said(words)));
    }
    let reason = body["metadata"]["reason"].as_str().unwrap_or_default().to_owned();
    match flag(&body["metadata"]["result"]) {
        Some(true) => Ok(Answer { reason, data: body["data"].take() }),
        Some(false) if reason.is_empty() => Err(ModuleError::Refused("WHM gave no reason".into())),
        Some(false) => Err(ModuleError::Refused(said(&reason))),
        None => Err(ModuleError::Protocol(format!("HTTP {status}, no metadata.result: {}", said(text)))),
    }
}

/// cpsrvd's own refusal of the credentials, which comes in the older `cpanelresult` shape
/// ("Access denied") whatever API version was asked for.
fn denial(body: &Value) -> Option<&str> {
    body["cpanelresult"]["error"].as_str().or_else(|| body["cpanelresult"]["data"]["reason"].as_str())
}

/// WHM's booleans: `1`/`0`, sometimes as strings.
fn flag(value: &Value) -> Option<bool> {
    match value {
        Value::Number(n) => n.as_i64().map(|n| n == 1),
        Value::String(s) => s.trim().parse::<i64>().ok().map(|n| n == 1),
        Value::Bool(b) => Some(*b),
        _ => None,
    }
}

/// A WHM size in MB: `"14M"`, `"1.5G"`, `"512K"`, a bare number of MB, or `"unlimited"`
/// (`None`).
fn megabytes(value: &Value) -> Result<Option<u64>, ModuleError> {
    let unreadable = || ModuleError::Protocol(format!("WHM gave a size that is not one: {value}"));
    let text = match value {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.trim().to_owned(),
        Value::Null => return Ok(None),
        _ => return Err(unreadable()),
    };
    if text.is_empty() || text.eq_ignore_ascii_case("unlimited") {
        return Ok(None);
    }
    let (number, scale) = match text.char_indices().last() {
        Some((i, 'K' | 'k')) => (&text[..i], 1.0 / 1024.0),
        Some((i, 'M' | 'm')) => (&text[..i], 1.0),
        Some((i, 'G' | 'g')) => (&text[..i], 1024.0),
        Some((i, 'T' | 't')) => (&text[..i], 1024.0 * 1024.0),
        _ => (text.as_str(), 1.0),
    };
    let number: f64 = number.trim().parse().map_err(|_| unreadable())?;
    if !number.is_finite() || number < 0.0 {
        return Err(unreadable());
    }
    Ok(Some((number * scale).round() as u64))
}

impl ProvisioningModule for Cpanel {
    fn info(&self) -> ModuleInfo {
        ModuleInfo {
            key: "cpanel",
            label: "cPanel & WHM",
            server_fields: vec![
                Field::text(
                    "username",
                    "WHM user",
                    "root, or the reseller the API token belongs to. Empty means root.",
                )
                .optional(),
                Field::secret("api_token", "API token", "Made in WHM under Development » Manage API Tokens."),
                Field {
                    kind: FieldKind::Number,
                    ..Field::text(
                        "port",
                        "Port",
                        "WHM's TLS port, 2087 when empty. Not used when the hostname is written as a full \
                         address (https://whm.example:2087), which is then used as it is.",
                    )
                }
                .optional(),
            ],
            product_fields: vec![Field::text(
                "package",
                "Package",
                "The WHM package (hosting plan) new accounts get, by its exact name.",
            )],
            capabilities: Capabilities {
                test_connection: true,
                change_package: true,
                change_password: true,
                usage: true,
                single_sign_on: true,
                packages: true,
            },
            client_actions: Vec::new(),
        }
    }

    async fn packages(&self, server: &Server, log: &mut Vec<Exchange>) -> Result<Vec<String>, ModuleError> {
        self.list_packages(server, log).await
    }

    async fn test_connection(&self, server: &Server, log: &mut Vec<Exchange>) -> Result<String, ModuleError> {
        let answer = self.call(server, None, "version", &[], log).await?;
        match answer.data["version"].as_str() {
            Some(version) => Ok(format!("WHM {version} answered")),
            None => Ok("WHM answered".into()),
        }
    }

    async fn create(
        &self,
        server: &Server,
        account: &Account,
        log: &mut Vec<Exchange>,
    ) -> Result<Created, ModuleError> {
        let Some(password) = &account.password else {
            return Err(ModuleError::Refused("no password was given for the new account".into()));
        };
        let mut params = vec![
            ("username", account.username.as_str()),
            ("domain", account.domain.as_str()),
            ("password", password.expose()),
        ];
        // `plan` picks an existing package; `pkgname` would make a new one from the call.
        if let Some(package) = account.product.get("package").filter(|p| !p.is_empty()) {
            params.push(("plan", package));
        }
        if !account.email.is_empty() {
            params.push(("contactemail", &account.email));
        }
        let answer = self.call(server, Some(account), "createacct", &params, log).await?;
        let message = if answer.reason.is_empty() { "Account Creation Ok".to_owned() } else { answer.reason };
        Ok(Created { username: account.username.clone(), message })
    }

    async fn suspend(
        &self,
        server: &Server,
        account: &Account,
        reason: &str,
        log: &mut Vec<Exchange>,
    ) -> Result<(), ModuleError> {
        let reason = if reason.trim().is_empty() { DEFAULT_SUSPEND_REASON } else { reason };
        let params = [("user", account.username.as_str()), ("reason", reason)];
        self.call(server, Some(account), "suspendacct", &params, log).await.map(|_| ())
    }

    async fn unsuspend(&self, server: &Server, account: &Account, log: &mut Vec<Exchange>) -> Result<(), ModuleError> {
        let params = [("user", account.username.as_str())];
        self.call(server, Some(account), "unsuspendacct", &params, log).await.map(|_| ())
    }

    async fn terminate(&self, server: &Server, account: &Account, log: &mut Vec<Exchange>) -> Result<(), ModuleError> {
        // `user` is the deprecated name of this parameter.
        let params = [("username", account.username.as_str())];
        self.call(server, Some(account), "removeacct", &params, log).await.map(|_| ())
    }

    async fn change_package(
        &self,
        server: &Server,
        account: &Account,
        log: &mut Vec<Exchange>,
    ) -> Result<(), ModuleError> {
        let Some(package) = account.product.get("package").filter(|p| !p.is_empty()) else {
            return Err(ModuleError::Refused("the product names no package".into()));
        };
        let params = [("user", account.username.as_str()), ("pkg", package.as_str())];
        self.call(server, Some(account), "changepackage", &params, log).await.map(|_| ())
    }

    async fn change_password(
        &self,
        server: &Server,
        account: &Account,
        log: &mut Vec<Exchange>,
    ) -> Result<(), ModuleError> {
        let Some(password) = &account.password else {
            return Err(ModuleError::Refused("no new password was given".into()));
        };
        // WHM API 0 called this parameter `pass`; API 1 calls it `password`.
        let params = [("user", account.username.as_str()), ("password", password.expose())];
        self.call(server, Some(account), "passwd", &params, log).await.map(|_| ())
    }

    /// Disk use and limit from `accountsummary`. It carries no bandwidth, so bandwidth is
    /// reported as none used and no limit.
    async fn usage(&self, server: &Server, account: &Account, log: &mut Vec<Exchange>) -> Result<Usage, ModuleError> {
        let params = [("user", account.username.as_str())];
        let answer = self.call(server, Some(account), "accountsummary", &params, log).await?;
        let summary = &answer.data["acct"][0];
        if !summary.is_object() {
            return Err(ModuleError::Protocol("accountsummary returned no account".into()));
        }
        Ok(Usage {
            disk_used_mb: megabytes(&summary["diskused"])?.unwrap_or(0),
            // A quota of 0 is cPanel's way of writing "no quota".
            disk_limit_mb: megabytes(&summary["disklimit"])?.filter(|limit| *limit > 0),
            ..Usage::default()
        })
    }

    /// A cPanel session for the account. It starts when the browser first opens the address
    /// and ends after 15 minutes without use; the session is kept out of the log.
    async fn sso_url(
        &self,
        server: &Server,
        account: &Account,
        log: &mut Vec<Exchange>,
    ) -> Result<String, ModuleError> {
        let params = [("user", account.username.as_str()), ("service", "cpaneld")];
        let answer = self.call(server, Some(account), "create_user_session", &params, log).await?;
        let tokens: Vec<&str> =
            ["session", "cp_security_token", "url"].iter().filter_map(|key| answer.data[*key].as_str()).collect();
        forget(log, &tokens);
        match answer.data["url"].as_str() {
            Some(url) if url.starts_with("https://") || url.starts_with("http://") => Ok(url.to_owned()),
            _ => Err(ModuleError::Protocol("create_user_session returned no login address".into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use serde_json::json;
    use wiremock::matchers::{header, method, path, query_param};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    use super::*;
    use crate::Secret;

    const TOKEN: &str = "WHMTOKEN9Z8Y7X6W5V4U";
    const PASSWORD: &str = "Tr0ub4dor&3 xyz";
    const SESSION: &str = "acme01:f7XgR2kQpL0wZs9mN3bV";

    fn server(address: &str, timeout: Duration) -> Server {
        let mut settings = BTreeMap::new();
        settings.insert("username".to_owned(), Secret::new("root"));
        settings.insert("api_token".to_owned(), Secret::new(TOKEN));
        Server { hostname: address.to_owned(), settings, timeout }
    }

    fn account() -> Account {
        Account {
            service_ref: "42".into(),
            username: "acme01".into(),
            domain: "acme.example".into(),
            email: "owner@acme.example".into(),
            password: Some(Secret::new(PASSWORD)),
            product: BTreeMap::from([("package".to_owned(), "reseller_gold".to_owned())]),
            client_ip: None,
        }
    }

    fn ok(command: &str, reason: &str, data: Value) -> ResponseTemplate {
        ResponseTemplate::new(200).set_body_json(json!({
            "metadata": { "command": command, "version": 1, "result": 1, "reason": reason },
            "data": data,
        }))
    }

    fn refused(command: &str, reason: &str) -> ResponseTemplate {
        ResponseTemplate::new(200)
            .set_body_json(json!({ "metadata": { "command": command, "version": 1, "result": 0, "reason": reason } }))
    }

    /// Answers `function` (with the token's Authorization and api.version=1) with `answer`.
    async fn answer(panel: &MockServer, function: &str, answer: ResponseTemplate) {
        Mock::given(method("GET"))
            .and(path(format!("/json-api/{function}")))
            .and(query_param("api.version", "1"))
            .and(header("authorization", format!("whm root:{TOKEN}").as_str()))
            .respond_with(answer)
            .mount(panel)
            .await;
    }

    fn quick(panel: &MockServer) -> Server {
        server(&panel.uri(), Duration::from_secs(5))
    }

    #[tokio::test]
    async fn a_create_sends_the_account_to_createacct() {
        let panel = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/json-api/createacct"))
            .and(query_param("api.version", "1"))
            .and(query_param("username", "acme01"))
            .and(query_param("domain", "acme.example"))
            .and(query_param("plan", "reseller_gold"))
            .and(query_param("contactemail", "owner@acme.example"))
            .and(query_param("password", PASSWORD))
            .and(header("authorization", format!("whm root:{TOKEN}").as_str()))
            .respond_with(ok(
                "createacct",
                "Account Creation Ok",
                json!({ "ip": "203.0.113.10", "nameserver": "ns1.host.example", "package": "reseller_gold" }),
            ))
            .expect(1)
            .mount(&panel)
            .await;
        let mut log = Vec::new();
        let created = Cpanel::new(reqwest::Client::new()).create(&quick(&panel), &account(), &mut log).await;
        assert_eq!(created, Ok(Created { username: "acme01".into(), message: "Account Creation Ok".into() }));
        assert_eq!(log.len(), 1);
        assert_eq!(log[0].action, "createacct");
        assert!(log[0].request.starts_with("GET http://"), "{:?}", log[0]);
    }

    #[tokio::test]
    async fn a_taken_username_is_refused_in_whms_own_words() {
        let panel = MockServer::start().await;
        answer(&panel, "createacct", refused("createacct", "Sorry, a group for that username already exists.")).await;
        let mut log = Vec::new();
        let created = Cpanel::new(reqwest::Client::new()).create(&quick(&panel), &account(), &mut log).await;
        assert_eq!(created, Err(ModuleError::Refused("Sorry, a group for that username already exists.".into())));
        assert_eq!(log.len(), 1, "a refusal is logged too");
    }

    #[tokio::test]
    async fn a_missing_package_is_refused() {
        let panel = MockServer::start().await;
        // Any `result: 0` is a refusal; WHM's wording for a missing package is not documented.
        answer(&panel, "changepackage", refused("changepackage", "The package “platinum” does not exist.")).await;
        let mut mine = account();
        mine.product.insert("package".into(), "platinum".into());
        let changed = Cpanel::new(reqwest::Client::new()).change_package(&quick(&panel), &mine, &mut Vec::new()).await;
        assert_eq!(changed, Err(ModuleError::Refused("The package “platinum” does not exist.".into())));
    }

    #[tokio::test]
    async fn a_rejected_token_is_unauthorized() {
        let panel = MockServer::start().await;
        Mock::given(path("/json-api/version"))
            .respond_with(ResponseTemplate::new(403).set_body_json(json!({
                "cpanelresult": { "apiversion": "2", "error": "Access denied",
                                  "data": { "reason": "Access denied", "result": "0" }, "type": "text" }
            })))
            .mount(&panel)
            .await;
        let tested = Cpanel::new(reqwest::Client::new()).test_connection(&quick(&panel), &mut Vec::new()).await;
        assert_eq!(tested, Err(ModuleError::Unauthorized("Access denied".into())));
    }

    #[tokio::test]
    async fn a_login_page_instead_of_json_is_a_protocol_error() {
        let panel = MockServer::start().await;
        answer(
            &panel,
            "suspendacct",
            ResponseTemplate::new(200)
                .insert_header("content-type", "text/html")
                .set_body_string("<!DOCTYPE html><html><body><form action=\"/login/\">WHM Login</form></body></html>"),
        )
        .await;
        let suspended =
            Cpanel::new(reqwest::Client::new()).suspend(&quick(&panel), &account(), "Overdue", &mut Vec::new()).await;
        assert!(matches!(&suspended, Err(ModuleError::Protocol(text)) if text.contains("WHM Login")), "{suspended:?}");
    }

    #[tokio::test]
    async fn a_slow_panel_times_out_and_an_absent_one_is_unreachable() {
        let panel = MockServer::start().await;
        answer(&panel, "removeacct", ok("removeacct", "OK", Value::Null).set_delay(Duration::from_secs(3))).await;
        let module = Cpanel::new(reqwest::Client::new());
        let mut log = Vec::new();
        let slow = module.terminate(&server(&panel.uri(), Duration::from_secs(1)), &account(), &mut log).await;
        assert_eq!(slow, Err(ModuleError::Timeout(1)));
        assert_eq!(log[0].response, "the server did not answer within 1 seconds");
        let closed =
            module.terminate(&server("http://127.0.0.1:9", Duration::from_secs(2)), &account(), &mut log).await;
        assert!(matches!(closed, Err(ModuleError::Unreachable(_))), "{closed:?}");
    }

    #[tokio::test]
    async fn usage_reads_sizes_with_their_units() {
        let panel = MockServer::start().await;
        answer(
            &panel,
            "accountsummary",
            ok(
                "accountsummary",
                "OK",
                json!({ "acct": [{ "user": "acme01", "plan": "reseller_gold", "diskused": "14M",
                                   "disklimit": "unlimited", "suspended": 0, "suspendreason": "not suspended" }] }),
            ),
        )
        .await;
        let usage = Cpanel::new(reqwest::Client::new()).usage(&quick(&panel), &account(), &mut Vec::new()).await;
        assert_eq!(usage, Ok(Usage { disk_used_mb: 14, disk_limit_mb: None, ..Usage::default() }));
        assert_eq!(megabytes(&json!("1.5G")), Ok(Some(1536)));
        assert_eq!(megabytes(&json!("2048K")), Ok(Some(2)));
        assert_eq!(megabytes(&json!("500")), Ok(Some(500)));
        assert!(megabytes(&json!("lots")).is_err());
    }

    #[tokio::test]
    async fn single_sign_on_returns_the_session_address_and_keeps_the_session_out_of_the_log() {
        let panel = MockServer::start().await;
        let url = format!("https://host.example:2083/cpsess1234567890/login/?session={SESSION}");
        Mock::given(path("/json-api/create_user_session"))
            .and(query_param("user", "acme01"))
            .and(query_param("service", "cpaneld"))
            .respond_with(ok(
                "create_user_session",
                "Created session",
                json!({ "service": "cpaneld", "expires": 1401993893, "cp_security_token": "/cpsess1234567890",
                        "session": SESSION, "url": url }),
            ))
            .mount(&panel)
            .await;
        let mut log = Vec::new();
        let sso = Cpanel::new(reqwest::Client::new()).sso_url(&quick(&panel), &account(), &mut log).await;
        assert_eq!(sso, Ok(url));
        let logged = format!("{log:?}");
        assert!(!logged.contains("f7XgR2kQ") && !logged.contains("cpsess1234567890"), "{logged}");
    }

    #[tokio::test]
    async fn packages_are_listed_by_name() {
        let panel = MockServer::start().await;
        answer(
            &panel,
            "listpkgs",
            ok(
                "listpkgs",
                "OK",
                json!({ "pkg": [{ "name": "basic", "QUOTA": 1000, "BWLIMIT": "unlimited" },
                                { "name": "reseller_gold", "QUOTA": "unlimited", "MAXPOP": 50 }] }),
            ),
        )
        .await;
        let packages = Cpanel::new(reqwest::Client::new()).packages(&quick(&panel), &mut Vec::new()).await;
        assert_eq!(packages, Ok(vec!["basic".to_owned(), "reseller_gold".to_owned()]));
    }

    #[tokio::test]
    async fn every_call_sends_its_parameters_and_no_secret_reaches_the_log() {
        let panel = MockServer::start().await;
        for (function, param, value) in [
            ("version", "api.version", "1"),
            ("createacct", "password", PASSWORD),
            ("suspendacct", "reason", "Overdue invoice"),
            ("unsuspendacct", "user", "acme01"),
            ("removeacct", "username", "acme01"),
            ("changepackage", "pkg", "reseller_gold"),
            ("passwd", "password", PASSWORD),
            ("accountsummary", "user", "acme01"),
            ("create_user_session", "service", "cpaneld"),
        ] {
            let data = match function {
                "version" => json!({ "version": "11.110.0.5" }),
                "accountsummary" => json!({ "acct": [{ "diskused": "1M", "disklimit": "100M" }] }),
                "create_user_session" => json!({
                    "session": SESSION, "url": format!("https://host.example:2083/cpsess1/login/?session={SESSION}")
                }),
                _ => Value::Null,
            };
            Mock::given(path(format!("/json-api/{function}")))
                .and(query_param(param, value))
                .and(header("authorization", format!("whm root:{TOKEN}").as_str()))
                .respond_with(ok(function, "OK", data))
                .expect(1)
                .mount(&panel)
                .await;
        }
        let module = Cpanel::new(reqwest::Client::new());
        let (server, account) = (quick(&panel), account());
        let mut log = Vec::new();
        assert_eq!(module.test_connection(&server, &mut log).await, Ok("WHM 11.110.0.5 answered".into()));
        assert!(module.create(&server, &account, &mut log).await.is_ok());
        assert_eq!(module.suspend(&server, &account, "Overdue invoice", &mut log).await, Ok(()));
        assert_eq!(module.unsuspend(&server, &account, &mut log).await, Ok(()));
        assert_eq!(module.terminate(&server, &account, &mut log).await, Ok(()));
        assert_eq!(module.change_package(&server, &account, &mut log).await, Ok(()));
        assert_eq!(module.change_password(&server, &account, &mut log).await, Ok(()));
        let usage = module.usage(&server, &account, &mut log).await;
        assert_eq!(usage, Ok(Usage { disk_used_mb: 1, disk_limit_mb: Some(100), ..Usage::default() }));
        assert!(module.sso_url(&server, &account, &mut log).await.is_ok());
        assert_eq!(log.len(), 9);
        let logged = format!("{log:?}");
        for secret in [TOKEN, "Tr0ub4dor", "Tr0ub4dor%263+xyz", "f7XgR2kQ"] {
            assert!(!logged.contains(secret), "{secret} in {logged}");
        }
        assert!(logged.contains("password=[redacted]"), "{logged}");
    }
}
