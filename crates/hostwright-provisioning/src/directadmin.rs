//! The DirectAdmin module, through the legacy `CMD_API_*` commands with Basic authentication.
//! Answers are URL-encoded key/value pairs: an action says `error=0` or `error=1` with `text`
//! and `details` (HTTP 200 either way), a read gives its values, a list repeats `list[]`.
//!
//! The server's hostname is the DirectAdmin host, reached at `https://<hostname>:<port>`. A
//! hostname written as a full address (`https://da.example:2222`, or `http://127.0.0.1:8080`
//! for a local stand-in) is used as it is.

use url::Url;
use url::form_urlencoded;

use crate::{
    Account, Capabilities, Created, Exchange, Field, FieldKind, ModuleError, ModuleInfo, ProvisioningModule, Redactor,
    Server, Usage, excerpt, forget, panel_address, send,
};

/// DirectAdmin's own port.
const DEFAULT_PORT: u16 = 2222;

/// How long a one-time login address stays usable (DirectAdmin's default is three days).
const LOGIN_URL_EXPIRY: &str = "5m";

pub struct DirectAdmin {
    http: reqwest::Client,
}

/// One command as sent: GET for reads, POST for changes.
struct Command<'a> {
    name: &'a str,
    post: bool,
    fields: &'a [(&'a str, &'a str)],
    /// Runs the command as this user (`admin|user`), with the server's own credentials.
    login_as: Option<&'a str>,
}

impl<'a> Command<'a> {
    fn read(name: &'a str, fields: &'a [(&'a str, &'a str)]) -> Self {
        Command { name, post: false, fields, login_as: None }
    }

    fn change(name: &'a str, fields: &'a [(&'a str, &'a str)]) -> Self {
        Command { name, post: true, fields, login_as: None }
    }
}

/// An answer's key/value pairs in order, decoded.
struct Answer {
    pairs: Vec<(String, String)>,
    redactor: Redactor,
}

impl Answer {
    fn get(&self, key: &str) -> Option<&str> {
        self.pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// The values of `list[]`.
    fn list(&self) -> Vec<String> {
        self.pairs.iter().filter(|(k, _)| k == "list[]").map(|(_, v)| v.clone()).collect()
    }

    /// `text` and `details` as one message, without the HTML DirectAdmin puts in them.
    fn message(&self) -> String {
        let text = plain(self.get("text").unwrap_or_default());
        let details = plain(self.get("details").unwrap_or_default());
        let message = match (text.is_empty(), details.is_empty()) {
            (false, false) => format!("{text}: {details}"),
            (true, false) => details,
            _ => text,
        };
        self.redactor.redact(&message)
    }

    /// The answer to an action: done (`error=0`, its message) or refused in the panel's words.
    fn outcome(self) -> Result<String, ModuleError> {
        match self.get("error").map(str::trim) {
            Some("0") => Ok(self.message()),
            Some(_) => Err(self.refusal()),
            None => Err(ModuleError::Protocol("the answer has no error= field".into())),
        }
    }

    /// The answer to a read: its values, unless it is a refusal.
    fn values(self) -> Result<Answer, ModuleError> {
        match self.get("error").map(str::trim) {
            Some(code) if code != "0" => Err(self.refusal()),
            _ => Ok(self),
        }
    }

    fn refusal(&self) -> ModuleError {
        match self.message() {
            message if message.is_empty() => ModuleError::Refused("DirectAdmin gave no reason".into()),
            message => ModuleError::Refused(message),
        }
    }
}

impl DirectAdmin {
    pub fn new(http: reqwest::Client) -> Self {
        DirectAdmin { http }
    }

    /// The user packages of the server's admin or reseller, so staff pick a product's package
    /// from the server instead of typing its name.
    async fn list_packages(&self, server: &Server, log: &mut Vec<Exchange>) -> Result<Vec<String>, ModuleError> {
        let answer = self.call(server, None, Command::read("CMD_API_PACKAGES_USER", &[]), log).await?;
        Ok(answer.values()?.list())
    }

    /// Sends one command and reads its answer, logging the round trip.
    async fn call(
        &self,
        server: &Server,
        account: Option<&Account>,
        command: Command<'_>,
        log: &mut Vec<Exchange>,
    ) -> Result<Answer, ModuleError> {
        let mut url = panel_address(server, DEFAULT_PORT)?;
        url.set_path(&format!("/{}", command.name));
        let form = form_urlencoded::Serializer::new(String::new()).extend_pairs(command.fields).finish();
        let redactor = Redactor::for_call(server, account);
        let (request, shown) = if command.post {
            let request = self
                .http
                .post(url.clone())
                .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(form.clone());
            (request, format!("POST {url} {form}"))
        } else {
            url.set_query(Some(&form).filter(|f| !f.is_empty()).map(String::as_str));
            (self.http.get(url.clone()), format!("GET {url}"))
        };
        let user = match server.setting("username").trim() {
            "" => "admin",
            user => user,
        };
        let user = match command.login_as {
            Some(customer) => format!("{user}|{customer}"),
            None => user.to_owned(),
        };
        let request = request.basic_auth(user, Some(server.setting("password")));
        let mut exchange =
            Exchange { action: command.name.to_owned(), request: redactor.redact(&shown), ..Exchange::default() };
        let answer = send(request, server.timeout).await;
        exchange.response = match &answer {
            Ok((status, text)) => redactor.redact(&format!("{status} {}", excerpt(text, 2000))),
            Err(err) => err.to_string(),
        };
        log.push(exchange);
        let (status, text) = answer?;
        read_answer(status, &text, redactor)
    }

    /// The user's settings and state (`quota`, `bandwidth`, `suspended`, `package`, …).
    async fn user_config(
        &self,
        server: &Server,
        account: &Account,
        log: &mut Vec<Exchange>,
    ) -> Result<Answer, ModuleError> {
        let fields = [("user", account.username.as_str())];
        self.call(server, Some(account), Command::read("CMD_API_SHOW_USER_CONFIG", &fields), log).await?.values()
    }

    /// Presses the panel's Suspend or Unsuspend button, which some releases treat as a
    /// toggle: the account's state is read first, and nothing is sent if it is already there.
    async fn set_suspended(
        &self,
        server: &Server,
        account: &Account,
        suspended: bool,
        log: &mut Vec<Exchange>,
    ) -> Result<(), ModuleError> {
        let config = self.user_config(server, account, log).await?;
        let now = config.get("suspended").map(str::trim);
        if now == Some(if suspended { "yes" } else { "no" }) {
            return Ok(());
        }
        let button = if suspended { "Suspend" } else { "Unsuspend" };
        let fields = [("location", "CMD_SELECT_USERS"), ("suspend", button), ("select0", account.username.as_str())];
        self.call(server, Some(account), Command::change("CMD_API_SELECT_USERS", &fields), log)
            .await?
            .outcome()
            .map(|_| ())
    }
}

/// Reads an answer: key/value pairs, a refusal of the credentials, or something unreadable.
fn read_answer(status: u16, text: &str, redactor: Redactor) -> Result<Answer, ModuleError> {
    let said = |words: &str| redactor.redact(&excerpt(words, 300));
    if matches!(status, 401 | 403) {
        return Err(ModuleError::Unauthorized(format!("HTTP {status}: {}", said(text))));
    }
    let body = text.trim();
    if body.starts_with('<') {
        // Wrong credentials may get the HTML login form instead of an answer.
        return Err(if is_login_page(body) {
            ModuleError::Unauthorized("DirectAdmin answered with its login page".into())
        } else {
            ModuleError::Protocol(format!("HTTP {status}, an HTML page instead of an answer: {}", said(body)))
        });
    }
    // Some answers come HTML-escaped, with `&amp;` between the pairs.
    let body = body.replace("&amp;", "&");
    let pairs: Vec<(String, String)> =
        form_urlencoded::parse(body.as_bytes()).map(|(k, v)| (k.into_owned(), decode_entities(&v))).collect();
    if pairs.iter().any(|(key, _)| !is_key(key)) {
        return Err(ModuleError::Protocol(format!("HTTP {status}, not a DirectAdmin answer: {}", said(text))));
    }
    Ok(Answer { pairs, redactor })
}

/// Keys are names (`quota`, `list[]`, `select0`) or domains; prose is not an answer.
fn is_key(key: &str) -> bool {
    !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || "_-.[]@".contains(c))
}

fn is_login_page(html: &str) -> bool {
    let html = html.to_ascii_lowercase();
    html.contains("type=\"password\"") || html.contains("type='password'") || html.contains("type=password")
}

fn decode_entities(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#039;", "'")
        .replace("&amp;", "&")
}

/// Text without HTML tags (DirectAdmin ends details with `<br>`), whitespace collapsed.
fn plain(html: &str) -> String {
    let mut text = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => {
                in_tag = true;
                text.push(' ');
            }
            '>' if in_tag => in_tag = false,
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A size in MB as DirectAdmin writes it (`87.2`), or `None` for `unlimited`.
fn megabytes(answer: &Answer, key: &str) -> Result<Option<u64>, ModuleError> {
    let unreadable = |value: &str| ModuleError::Protocol(format!("{key}={value} is not a size"));
    match answer.get(key).map(str::trim) {
        None | Some("") => Ok(None),
        Some(value) if value.eq_ignore_ascii_case("unlimited") => Ok(None),
        Some(value) => match value.parse::<f64>() {
            Ok(mb) if mb.is_finite() && mb >= 0.0 => Ok(Some(mb.round() as u64)),
            _ => Err(unreadable(value)),
        },
    }
}

/// The one-time login address in a login-key answer. Clients disagree on which field carries
/// it, so any field holding an address will do, but only one on the panel's own host: a
/// client is never sent elsewhere.
fn login_address(answer: &Answer, panel: &Url) -> Result<String, ModuleError> {
    let preferred = ["details", "result", "url", "text"].iter().filter_map(|key| answer.get(key));
    let others = answer.pairs.iter().map(|(_, v)| v.as_str());
    let Some(found) =
        preferred.chain(others).map(str::trim).find(|v| v.starts_with("https://") || v.starts_with("http://"))
    else {
        return Err(ModuleError::Protocol("the login key answer holds no address".into()));
    };
    let url = Url::parse(found).map_err(|e| ModuleError::Protocol(format!("the login address is not usable: {e}")))?;
    let secure = url.scheme() == "https" || url.scheme() == panel.scheme();
    if !secure || url.host_str() != panel.host_str() {
        return Err(ModuleError::Protocol(format!(
            "the login address is not on this server ({})",
            url.host_str().unwrap_or_default()
        )));
    }
    Ok(url.to_string())
}

impl ProvisioningModule for DirectAdmin {
    fn info(&self) -> ModuleInfo {
        ModuleInfo {
            key: "directadmin",
            label: "DirectAdmin",
            server_fields: vec![
                Field::text(
                    "username",
                    "Admin or reseller",
                    "The DirectAdmin user accounts are made under. Empty means admin.",
                )
                .optional(),
                Field::secret(
                    "password",
                    "Login key",
                    "A login key of that user (DirectAdmin » Login Keys), limited to this server's IP; its \
                     password works too.",
                ),
                Field {
                    kind: FieldKind::Number,
                    ..Field::text(
                        "port",
                        "Port",
                        "DirectAdmin's port, 2222 when empty. Not used when the hostname is written as a full \
                         address (https://da.example:2222), which is then used as it is.",
                    )
                }
                .optional(),
            ],
            product_fields: vec![
                Field::text("package", "Package", "The DirectAdmin user package new accounts get, by its exact name."),
                Field::text(
                    "ip",
                    "IP address",
                    "An IP address for new accounts, or shared, server or assign to let DirectAdmin pick one. \
                     Empty means shared.",
                )
                .optional(),
            ],
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
        let packages = self.packages(server, log).await?;
        if packages.is_empty() {
            Ok("DirectAdmin answered; it has no user packages".into())
        } else {
            Ok(format!("DirectAdmin answered; packages: {}", packages.join(", ")))
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
        let setting = |key: &str| account.product.get(key).map(|v| v.trim()).filter(|v| !v.is_empty());
        let fields = [
            ("action", "create"),
            ("add", "Submit"),
            ("username", account.username.as_str()),
            ("email", account.email.as_str()),
            ("passwd", password.expose()),
            ("passwd2", password.expose()),
            ("domain", account.domain.as_str()),
            ("package", setting("package").unwrap_or_default()),
            ("ip", setting("ip").unwrap_or("shared")),
            ("notify", "no"),
        ];
        let answer = self.call(server, Some(account), Command::change("CMD_API_ACCOUNT_USER", &fields), log).await?;
        let message = answer.outcome()?;
        let message = if message.is_empty() { format!("created {}", account.username) } else { message };
        Ok(Created { username: account.username.clone(), message })
    }

    /// DirectAdmin's suspend form takes no reason.
    async fn suspend(
        &self,
        server: &Server,
        account: &Account,
        _reason: &str,
        log: &mut Vec<Exchange>,
    ) -> Result<(), ModuleError> {
        self.set_suspended(server, account, true, log).await
    }

    async fn unsuspend(&self, server: &Server, account: &Account, log: &mut Vec<Exchange>) -> Result<(), ModuleError> {
        self.set_suspended(server, account, false, log).await
    }

    async fn terminate(&self, server: &Server, account: &Account, log: &mut Vec<Exchange>) -> Result<(), ModuleError> {
        let fields = [("confirmed", "Confirm"), ("delete", "yes"), ("select0", account.username.as_str())];
        let answer = self.call(server, Some(account), Command::change("CMD_API_SELECT_USERS", &fields), log).await?;
        answer.outcome().map(|_| ())
    }

    async fn change_package(
        &self,
        server: &Server,
        account: &Account,
        log: &mut Vec<Exchange>,
    ) -> Result<(), ModuleError> {
        let Some(package) = account.product.get("package").map(|p| p.trim()).filter(|p| !p.is_empty()) else {
            return Err(ModuleError::Refused("the product names no package".into()));
        };
        let fields = [("action", "package"), ("user", account.username.as_str()), ("package", package)];
        let answer = self.call(server, Some(account), Command::change("CMD_API_MODIFY_USER", &fields), log).await?;
        answer.outcome().map(|_| ())
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
        let fields =
            [("username", account.username.as_str()), ("passwd", password.expose()), ("passwd2", password.expose())];
        let answer = self.call(server, Some(account), Command::change("CMD_API_USER_PASSWD", &fields), log).await?;
        answer.outcome().map(|_| ())
    }

    /// Use from `CMD_API_SHOW_USER_USAGE` (MB on disk, MB sent this month), limits from
    /// `CMD_API_SHOW_USER_CONFIG`.
    async fn usage(&self, server: &Server, account: &Account, log: &mut Vec<Exchange>) -> Result<Usage, ModuleError> {
        let fields = [("user", account.username.as_str())];
        let used =
            self.call(server, Some(account), Command::read("CMD_API_SHOW_USER_USAGE", &fields), log).await?.values()?;
        if used.get("quota").is_none() {
            return Err(ModuleError::Protocol("the usage answer has no quota".into()));
        }
        let limits = self.user_config(server, account, log).await?;
        Ok(Usage {
            disk_used_mb: megabytes(&used, "quota")?.unwrap_or(0),
            disk_limit_mb: megabytes(&limits, "quota")?,
            bandwidth_used_mb: megabytes(&used, "bandwidth")?.unwrap_or(0),
            bandwidth_limit_mb: megabytes(&limits, "bandwidth")?,
        })
    }

    /// A one-time login address, made as a login key of type `one_time_url` while logged in
    /// as the account (`admin|user`). It expires within minutes and is kept out of the log.
    async fn sso_url(
        &self,
        server: &Server,
        account: &Account,
        log: &mut Vec<Exchange>,
    ) -> Result<String, ModuleError> {
        let fields = [("action", "create"), ("type", "one_time_url"), ("expiry", LOGIN_URL_EXPIRY)];
        let command = Command { login_as: Some(&account.username), ..Command::change("CMD_API_LOGIN_KEYS", &fields) };
        let answer = self.call(server, Some(account), command, log).await?.values()?;
        let url = login_address(&answer, &panel_address(server, DEFAULT_PORT)?)?;
        let hash: Vec<String> = Url::parse(&url)
            .map(|u| u.query_pairs().filter(|(k, _)| k == "hash").map(|(_, v)| v.into_owned()).collect())
            .unwrap_or_default();
        let mut tokens: Vec<&str> = hash.iter().map(String::as_str).collect();
        tokens.push(&url);
        forget(log, &tokens);
        Ok(url)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use wiremock::matchers::{basic_auth, body_string_contains, method, path, query_param};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    use super::*;
    use crate::Secret;

    const KEY: &str = "LoginKey-5hY7u9Qw2Er4";
    const PASSWORD: &str = "Tr0ub4dor&3 xyz";
    const HASH: &str = "Rd5XcrGdmTjWDym8moaWPAbYTKBLIV7h9CEj1VMow3I904GmsqGIzroQCxlSTsAa4MH5pdrme9teDAO60eMxWANg888Z0G74dO8QzzCd95IKEg";

    fn server(address: &str, timeout: Duration) -> Server {
        let mut settings = BTreeMap::new();
        settings.insert("password".to_owned(), Secret::new(KEY));
        Server { hostname: address.to_owned(), settings, timeout }
    }

    fn quick(panel: &MockServer) -> Server {
        server(&panel.uri(), Duration::from_secs(5))
    }

    fn account() -> Account {
        Account {
            service_ref: "42".into(),
            username: "acme01".into(),
            domain: "acme.example".into(),
            email: "owner@acme.example".into(),
            password: Some(Secret::new(PASSWORD)),
            product: BTreeMap::from([("package".to_owned(), "gold".to_owned())]),
            client_ip: None,
        }
    }

    fn text(body: &str) -> ResponseTemplate {
        ResponseTemplate::new(200).insert_header("content-type", "text/plain").set_body_string(body)
    }

    /// Answers `command` (as admin with the login key) with `answer`.
    async fn answer(panel: &MockServer, command: &str, answer: ResponseTemplate) {
        Mock::given(path(format!("/{command}"))).and(basic_auth("admin", KEY)).respond_with(answer).mount(panel).await;
    }

    async fn bodies(panel: &MockServer) -> Vec<String> {
        let requests = panel.received_requests().await.unwrap_or_default();
        requests.iter().map(|r| String::from_utf8_lossy(&r.body).into_owned()).collect()
    }

    fn form(body: &str) -> BTreeMap<String, String> {
        form_urlencoded::parse(body.as_bytes()).into_owned().collect()
    }

    #[tokio::test]
    async fn a_create_posts_the_account_form() {
        let panel = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/CMD_API_ACCOUNT_USER"))
            .and(basic_auth("admin", KEY))
            .respond_with(text("error=0&text=User%20created&details=acme01%20was%20created%3Cbr%3E%0A"))
            .expect(1)
            .mount(&panel)
            .await;
        let mut log = Vec::new();
        let created = DirectAdmin::new(reqwest::Client::new()).create(&quick(&panel), &account(), &mut log).await;
        assert_eq!(
            created,
            Ok(Created { username: "acme01".into(), message: "User created: acme01 was created".into() })
        );
        let sent = form(&bodies(&panel).await[0]);
        let expected = [
            ("action", "create"),
            ("add", "Submit"),
            ("username", "acme01"),
            ("email", "owner@acme.example"),
            ("passwd", PASSWORD),
            ("passwd2", PASSWORD),
            ("domain", "acme.example"),
            ("package", "gold"),
            ("ip", "shared"),
            ("notify", "no"),
        ];
        assert_eq!(sent, expected.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect());
    }

    #[tokio::test]
    async fn a_taken_username_is_refused_in_directadmins_words() {
        let panel = MockServer::start().await;
        answer(
            &panel,
            "CMD_API_ACCOUNT_USER",
            text("error=1&text=Unable%20to%20create%20user&details=That%20user%20already%20exists%3Cbr%3E%0A"),
        )
        .await;
        let created =
            DirectAdmin::new(reqwest::Client::new()).create(&quick(&panel), &account(), &mut Vec::new()).await;
        assert_eq!(created, Err(ModuleError::Refused("Unable to create user: That user already exists".into())));
    }

    #[tokio::test]
    async fn wrong_credentials_are_unauthorized_whether_as_a_status_or_the_login_page() {
        let panel = MockServer::start().await;
        Mock::given(path("/CMD_API_PACKAGES_USER"))
            .respond_with(ResponseTemplate::new(200).insert_header("content-type", "text/html").set_body_string(
                "<html><body><form action=\"/CMD_LOGIN\" method=\"post\"><input type=\"text\" name=\"username\">\
                     <input type=\"password\" name=\"password\"></form></body></html>",
            ))
            .mount(&panel)
            .await;
        Mock::given(path("/CMD_API_MODIFY_USER"))
            .respond_with(ResponseTemplate::new(401).set_body_string("Unauthorized"))
            .mount(&panel)
            .await;
        let module = DirectAdmin::new(reqwest::Client::new());
        let mut log = Vec::new();
        let tested = module.test_connection(&quick(&panel), &mut log).await;
        assert!(matches!(tested, Err(ModuleError::Unauthorized(_))), "{tested:?}");
        let changed = module.change_package(&quick(&panel), &account(), &mut log).await;
        assert_eq!(changed, Err(ModuleError::Unauthorized("HTTP 401: Unauthorized".into())));
    }

    #[tokio::test]
    async fn another_html_page_or_prose_is_a_protocol_error() {
        let panel = MockServer::start().await;
        answer(
            &panel,
            "CMD_API_USER_PASSWD",
            ResponseTemplate::new(502)
                .insert_header("content-type", "text/html")
                .set_body_string("<html><body><h1>502 Bad Gateway</h1></body></html>"),
        )
        .await;
        answer(&panel, "CMD_API_SELECT_USERS", text("Something went wrong, please try again")).await;
        let module = DirectAdmin::new(reqwest::Client::new());
        let changed = module.change_password(&quick(&panel), &account(), &mut Vec::new()).await;
        assert!(matches!(&changed, Err(ModuleError::Protocol(t)) if t.contains("502 Bad Gateway")), "{changed:?}");
        let terminated = module.terminate(&quick(&panel), &account(), &mut Vec::new()).await;
        assert!(matches!(terminated, Err(ModuleError::Protocol(_))), "{terminated:?}");
    }

    #[tokio::test]
    async fn a_slow_panel_times_out() {
        let panel = MockServer::start().await;
        answer(&panel, "CMD_API_SELECT_USERS", text("error=0&text=Deleted").set_delay(Duration::from_secs(3))).await;
        let mut log = Vec::new();
        let slow = DirectAdmin::new(reqwest::Client::new())
            .terminate(&server(&panel.uri(), Duration::from_secs(1)), &account(), &mut log)
            .await;
        assert_eq!(slow, Err(ModuleError::Timeout(1)));
        assert_eq!(log.len(), 1);
    }

    #[tokio::test]
    async fn suspend_reads_the_state_first_and_does_not_toggle_it_back() {
        let panel = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/CMD_API_SHOW_USER_CONFIG"))
            .and(query_param("user", "acme01"))
            .respond_with(text("suspended=yes&package=gold&quota=1000&bandwidth=unlimited"))
            .mount(&panel)
            .await;
        Mock::given(path("/CMD_API_SELECT_USERS"))
            .and(body_string_contains("suspend=Unsuspend"))
            .respond_with(text("error=0&text=Success&details=User%20unsuspended"))
            .expect(1)
            .mount(&panel)
            .await;
        Mock::given(path("/CMD_API_SELECT_USERS"))
            .and(body_string_contains("suspend=Suspend"))
            .respond_with(text("error=0"))
            .expect(0)
            .mount(&panel)
            .await;
        let module = DirectAdmin::new(reqwest::Client::new());
        let mut log = Vec::new();
        assert_eq!(module.suspend(&quick(&panel), &account(), "Overdue", &mut log).await, Ok(()));
        assert_eq!(log.len(), 1, "already suspended: only the state was read");
        assert_eq!(module.unsuspend(&quick(&panel), &account(), &mut log).await, Ok(()));
        let sent = form(&bodies(&panel).await[2]);
        assert_eq!(sent.get("location").map(String::as_str), Some("CMD_SELECT_USERS"));
        assert_eq!(sent.get("select0").map(String::as_str), Some("acme01"));
    }

    #[tokio::test]
    async fn usage_combines_use_and_limits() {
        let panel = MockServer::start().await;
        answer(&panel, "CMD_API_SHOW_USER_USAGE", text("bandwidth=1234.5&quota=87.2&mysql=2&nemails=4")).await;
        answer(
            &panel,
            "CMD_API_SHOW_USER_CONFIG",
            text("bandwidth=unlimited&quota=1000&suspended=no&package=gold&domain=acme.example"),
        )
        .await;
        let usage = DirectAdmin::new(reqwest::Client::new()).usage(&quick(&panel), &account(), &mut Vec::new()).await;
        assert_eq!(
            usage,
            Ok(Usage {
                disk_used_mb: 87,
                disk_limit_mb: Some(1000),
                bandwidth_used_mb: 1235,
                bandwidth_limit_mb: None
            })
        );
    }

    #[tokio::test]
    async fn usage_of_an_unknown_user_is_refused() {
        let panel = MockServer::start().await;
        answer(
            &panel,
            "CMD_API_SHOW_USER_USAGE",
            text("error=1&text=Unable%20to%20show%20user&details=No%20such%20user"),
        )
        .await;
        let usage = DirectAdmin::new(reqwest::Client::new()).usage(&quick(&panel), &account(), &mut Vec::new()).await;
        assert_eq!(usage, Err(ModuleError::Refused("Unable to show user: No such user".into())));
    }

    #[tokio::test]
    async fn single_sign_on_makes_a_one_time_url_as_the_user() {
        let panel = MockServer::start().await;
        let url = format!("{}/CMD_LOGIN_URL?hash={HASH}", panel.uri());
        let encoded: String = form_urlencoded::byte_serialize(url.as_bytes()).collect();
        Mock::given(method("POST"))
            .and(path("/CMD_API_LOGIN_KEYS"))
            .and(basic_auth("admin|acme01", KEY))
            .and(body_string_contains("type=one_time_url"))
            .respond_with(text(&format!("error=0&text=Login%20URL%20created&details={encoded}")))
            .mount(&panel)
            .await;
        let mut log = Vec::new();
        let sso = DirectAdmin::new(reqwest::Client::new()).sso_url(&quick(&panel), &account(), &mut log).await;
        assert_eq!(sso, Ok(url));
        assert!(!format!("{log:?}").contains(&HASH[..40]), "{log:?}");
    }

    #[tokio::test]
    async fn a_login_address_on_another_host_is_not_passed_on() {
        let panel = MockServer::start().await;
        Mock::given(path("/CMD_API_LOGIN_KEYS"))
            .and(basic_auth("admin|acme01", KEY))
            .respond_with(text("error=0&result=https%3A%2F%2Fevil.example%3A2222%2FCMD_LOGIN_URL%3Fhash%3Dabc"))
            .mount(&panel)
            .await;
        let sso = DirectAdmin::new(reqwest::Client::new()).sso_url(&quick(&panel), &account(), &mut Vec::new()).await;
        assert!(matches!(&sso, Err(ModuleError::Protocol(t)) if t.contains("evil.example")), "{sso:?}");
    }

    #[tokio::test]
    async fn packages_come_from_the_list() {
        let panel = MockServer::start().await;
        answer(&panel, "CMD_API_PACKAGES_USER", text("list[]=basic&list[]=gold&list[]=reseller_pro")).await;
        let mut log = Vec::new();
        let tested = DirectAdmin::new(reqwest::Client::new()).test_connection(&quick(&panel), &mut log).await;
        assert_eq!(tested, Ok("DirectAdmin answered; packages: basic, gold, reseller_pro".into()));
        assert_eq!(log[0].request, format!("GET {}/CMD_API_PACKAGES_USER", panel.uri()));
    }

    #[tokio::test]
    async fn no_password_or_key_reaches_the_log() {
        let panel = MockServer::start().await;
        for command in ["CMD_API_ACCOUNT_USER", "CMD_API_USER_PASSWD", "CMD_API_MODIFY_USER", "CMD_API_SELECT_USERS"] {
            answer(&panel, command, text("error=0&text=Done")).await;
        }
        let module = DirectAdmin::new(reqwest::Client::new());
        let (server, account) = (quick(&panel), account());
        let mut log = Vec::new();
        assert!(module.create(&server, &account, &mut log).await.is_ok());
        assert_eq!(module.change_password(&server, &account, &mut log).await, Ok(()));
        assert_eq!(module.change_package(&server, &account, &mut log).await, Ok(()));
        assert_eq!(module.terminate(&server, &account, &mut log).await, Ok(()));
        let sent = bodies(&panel).await;
        assert!(sent[1].contains("passwd=Tr0ub4dor%263+xyz"), "{}", sent[1]);
        let logged = format!("{log:?}");
        for secret in [KEY, "Tr0ub4dor", "Tr0ub4dor%263+xyz"] {
            assert!(!logged.contains(secret), "{secret} in {logged}");
        }
        assert!(logged.contains("passwd=[redacted]&passwd2=[redacted]"), "{logged}");
    }

    #[test]
    fn answers_are_decoded_with_their_entities() {
        let answer = read_answer(200, "error=1&amp;text=Bad%20%26lt%3Bname%26gt%3B&amp;details=x", Redactor::default());
        let answer = answer.map(|a| (a.get("error").map(str::to_owned), a.get("text").map(str::to_owned)));
        assert_eq!(answer, Ok((Some("1".into()), Some("Bad <name>".into()))));
    }
}
