//! The Plesk module, through the XML API: each call posts one `<packet>` to
//! `/enterprise/control/agent.php` and reads a `<result>` per affected object. Plesk refuses
//! with HTTP 200, so every result's `<status>` is checked; a failure before anything ran
//! (credentials, packet) comes back in a `<system>` block instead.
//!
//! A hosting account is a customer (its login is the account's username) owning one
//! subscription (named after the account's domain), so a create adds both and a terminate
//! removes both, the customer only when nothing else is left on it.
//!
//! The server's hostname is the Plesk host, reached at `https://<hostname>:<port>`. A hostname
//! written as a full address (`https://plesk.example:8443`, or `http://127.0.0.1:8080` for a
//! local stand-in) is used as it is.

use std::net::IpAddr;

use base64::Engine;
use roxmltree::{Document, Node};

use crate::{
    Account, Capabilities, Created, Exchange, Field, FieldKind, ModuleError, ModuleInfo, ProvisioningModule, Redactor,
    Server, Usage, excerpt, forget, panel_address, send,
};

/// Plesk's panel and API port over TLS.
const DEFAULT_PORT: u16 = 8443;

const AGENT_PATH: &str = "/enterprise/control/agent.php";

/// Error codes by which Plesk says it did not accept who is asking: wrong password, access
/// denied, account disabled, login locked, unknown authentication method, secret key refused
/// (a key only works from the IP address it was made for).
const UNAUTHORIZED_CODES: [u32; 6] = [1001, 1010, 1011, 1012, 1029, 11003];

/// "Object does not exist".
const NOT_FOUND: u32 = 1013;

/// "Object owner not found".
const OWNER_NOT_FOUND: u32 = 1015;

/// A subscription's status: active, or disabled by the administrator.
const ACTIVE: &str = "0";
const SUSPENDED_BY_ADMIN: &str = "16";

const BYTES_PER_MB: u64 = 1024 * 1024;

pub struct Plesk {
    http: reqwest::Client,
}

/// A packet's answer that Plesk accepted as a packet: its text, and each `<result>` that
/// failed (code, text), to check per operation.
struct Answer {
    text: String,
    failures: Vec<(u32, String)>,
}

impl Answer {
    /// The answer, if every result succeeded or failed only with a code in `tolerated`.
    fn ok_unless(self, tolerated: &[u32]) -> Result<Answer, ModuleError> {
        match self.failures.iter().find(|(code, _)| !tolerated.contains(code)) {
            Some((code, text)) => Err(failure(*code, text)),
            None => Ok(self),
        }
    }

    fn ok(self) -> Result<Answer, ModuleError> {
        self.ok_unless(&[])
    }

    /// The text of the first element called `tag`.
    fn first(&self, tag: &str) -> Option<String> {
        let doc = Document::parse(&self.text).ok()?;
        let found = doc.descendants().find(|n| n.has_tag_name(tag)).and_then(|n| n.text()).map(str::trim);
        found.filter(|t| !t.is_empty()).map(str::to_owned)
    }

    /// The text of `tag` directly inside each successful `<result>`.
    fn in_each_result(&self, tag: &str) -> Vec<String> {
        let Ok(doc) = Document::parse(&self.text) else { return Vec::new() };
        doc.descendants()
            .filter(|n| n.has_tag_name("result") && child_text(*n, "status") == Some("ok"))
            .filter_map(|n| child_text(n, tag).map(str::to_owned))
            .collect()
    }
}

/// Every secret of the call, plain and as it is written inside XML (`&` as `&amp;`), which is
/// how the packets carry them.
struct XmlRedactor {
    plain: Redactor,
    escaped: Redactor,
}

impl XmlRedactor {
    fn for_call(server: &Server, account: Option<&Account>) -> Self {
        let password = account.and_then(|a| a.password.as_ref());
        let secrets = server.settings.values().chain(password).map(|s| xml_escape(s.expose()));
        XmlRedactor { plain: Redactor::for_call(server, account), escaped: Redactor::new(secrets) }
    }

    fn redact(&self, text: &str) -> String {
        self.plain.redact(&self.escaped.redact(text))
    }
}

impl Plesk {
    pub fn new(http: reqwest::Client) -> Self {
        Plesk { http }
    }

    /// The service plans the API user owns, so staff pick a product's plan from the server
    /// instead of typing its name.
    pub async fn plans(&self, server: &Server, log: &mut Vec<Exchange>) -> Result<Vec<String>, ModuleError> {
        // An empty filter matches every plan; for a get that is what is meant.
        let packet = "<service-plan><get><filter/></get></service-plan>";
        Ok(self.call(server, None, "service-plan get", packet, log).await?.ok()?.in_each_result("name"))
    }

    /// A single-use address that signs the client into Plesk. Plesk ties the session to the
    /// client's IP address, so it must be the browser's address, not this server's.
    pub async fn sso_url_for(
        &self,
        server: &Server,
        account: &Account,
        client_ip: IpAddr,
        log: &mut Vec<Exchange>,
    ) -> Result<String, ModuleError> {
        let user_ip = base64::engine::general_purpose::STANDARD.encode(client_ip.to_string());
        let packet = format!(
            "<server><create_session>{}<data>{}<source_server></source_server></data></create_session></server>",
            el("login", &account.username),
            el("user_ip", &user_ip),
        );
        let answer = self.call(server, Some(account), "server create_session", &packet, log).await?.ok()?;
        let Some(session) = answer.first("id") else {
            return Err(ModuleError::Protocol("create_session returned no session id".into()));
        };
        forget(log, &[&session]);
        let mut url = panel_address(server, DEFAULT_PORT)?;
        url.set_path("/enterprise/rsession_init.php");
        url.query_pairs_mut().append_pair("PLESKSESSID", &session);
        Ok(url.to_string())
    }

    /// Sets the subscription's status (active, or disabled by the administrator).
    async fn set_status(
        &self,
        server: &Server,
        account: &Account,
        status: &str,
        log: &mut Vec<Exchange>,
    ) -> Result<(), ModuleError> {
        let packet = format!(
            "<webspace><set>{}<values><gen_setup>{}</gen_setup></values></set></webspace>",
            subscription_filter(account)?,
            el("status", status)
        );
        self.call(server, Some(account), "webspace set", &packet, log).await?.ok().map(|_| ())
    }

    /// Posts `operations` as one packet and reads the answer, logging the round trip. A
    /// failure of the packet as a whole is an error here; each result's is the caller's to
    /// judge (see [`Answer::ok`]).
    async fn call(
        &self,
        server: &Server,
        account: Option<&Account>,
        action: &str,
        operations: &str,
        log: &mut Vec<Exchange>,
    ) -> Result<Answer, ModuleError> {
        let mut url = panel_address(server, DEFAULT_PORT)?;
        url.set_path(AGENT_PATH);
        let packet = format!(r#"<?xml version="1.0" encoding="UTF-8"?><packet>{operations}</packet>"#);
        let redactor = XmlRedactor::for_call(server, account);
        let request =
            self.http.post(url.clone()).header(reqwest::header::CONTENT_TYPE, "text/xml").body(packet.clone());
        let request = match server.setting("api_key").trim() {
            "" => request
                .header("HTTP_AUTH_LOGIN", server.setting("login").trim())
                .header("HTTP_AUTH_PASSWD", server.setting("password")),
            key => request.header("KEY", key),
        };
        let mut exchange = Exchange {
            action: action.to_owned(),
            request: redactor.redact(&format!("POST {url} {packet}")),
            ..Exchange::default()
        };
        let answer = send(request, server.timeout).await;
        exchange.response = match &answer {
            Ok((status, text)) => redactor.redact(&format!("{status} {}", excerpt(text, 2000))),
            Err(err) => err.to_string(),
        };
        log.push(exchange);
        let (status, text) = answer?;
        read_answer(status, text, &redactor)
    }
}

/// Reads an answer packet: its system-level failure, if any, and each result's.
fn read_answer(status: u16, text: String, redactor: &XmlRedactor) -> Result<Answer, ModuleError> {
    let said = |words: &str| redactor.redact(&excerpt(words, 300));
    if matches!(status, 401 | 403) {
        return Err(ModuleError::Unauthorized(format!("HTTP {status}: {}", said(&text))));
    }
    let failures = {
        let doc = match Document::parse(&text) {
            Ok(doc) if doc.root_element().has_tag_name("packet") => doc,
            _ => return Err(ModuleError::Protocol(format!("HTTP {status}, not an XML API answer: {}", said(&text)))),
        };
        let root = doc.root_element();
        if let Some(system) = root.children().find(|n| n.has_tag_name("system"))
            && child_text(system, "status") != Some("ok")
        {
            let (code, words) = error_of(system);
            return Err(failure(code, &said(&words)));
        }
        root.descendants()
            .filter(|n| n.has_tag_name("result") && child_text(*n, "status") != Some("ok"))
            .map(|n| {
                let (code, words) = error_of(n);
                (code, said(&words))
            })
            .collect()
    };
    Ok(Answer { text, failures })
}

/// A failed node's `errcode` (0 when absent) and `errtext`.
fn error_of(node: Node) -> (u32, String) {
    let code = child_text(node, "errcode").and_then(|c| c.trim().parse().ok()).unwrap_or(0);
    let words = child_text(node, "errtext").map(str::trim).filter(|t| !t.is_empty());
    (code, words.map_or_else(|| format!("error {code}"), str::to_owned))
}

fn failure(code: u32, words: &str) -> ModuleError {
    if UNAUTHORIZED_CODES.contains(&code) {
        ModuleError::Unauthorized(words.to_owned())
    } else {
        ModuleError::Refused(words.to_owned())
    }
}

fn child_text<'a>(node: Node<'a, '_>, tag: &str) -> Option<&'a str> {
    node.children().find(|n| n.has_tag_name(tag)).and_then(|n| n.text())
}

/// Text as it may stand inside an XML element. Control characters XML 1.0 cannot carry are
/// dropped rather than sent as a packet Plesk would reject whole.
fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if c < ' ' => {}
            c => out.push(c),
        }
    }
    out
}

/// `<tag>value</tag>`, the value escaped.
fn el(tag: &str, value: &str) -> String {
    format!("<{tag}>{}</{tag}>", xml_escape(value))
}

/// A hosting property (`<property><name>…</name><value>…</value></property>`).
fn property(name: &str, value: &str) -> String {
    format!("<property>{}{}</property>", el("name", name), el("value", value))
}

/// The filter naming the account's subscription. Never empty: an empty filter matches every
/// subscription on the server.
fn subscription_filter(account: &Account) -> Result<String, ModuleError> {
    match account.domain.trim() {
        "" => Err(ModuleError::Refused("the service has no domain, which names its Plesk subscription".into())),
        domain => Ok(format!("<filter>{}</filter>", el("name", domain))),
    }
}

fn customer_filter(account: &Account) -> Result<String, ModuleError> {
    match account.username.trim() {
        "" => Err(ModuleError::Refused("the service has no username, which is its Plesk login".into())),
        login => Ok(format!("<filter>{}</filter>", el("login", login))),
    }
}

fn megabytes(bytes: u64) -> u64 {
    bytes.saturating_add(BYTES_PER_MB / 2) / BYTES_PER_MB
}

/// What the subscription uses, from a `get` with the limits, stat and disk_usage datasets.
fn read_usage(text: &str) -> Result<Usage, ModuleError> {
    let doc = Document::parse(text).map_err(|e| ModuleError::Protocol(e.to_string()))?;
    let Some(disk) = doc.descendants().find(|n| n.has_tag_name("disk_usage")) else {
        return Err(ModuleError::Protocol("the answer has no disk_usage".into()));
    };
    // Bytes per area (httpdocs, dbases, mailboxes, logs, …); the whole is their sum.
    let disk_bytes: u64 =
        disk.children().filter(Node::is_element).filter_map(|n| n.text()?.trim().parse::<u64>().ok()).sum();
    let traffic = doc
        .descendants()
        .find(|n| n.has_tag_name("stat"))
        .and_then(|stat| child_text(stat, "traffic"))
        .and_then(|t| t.trim().parse::<u64>().ok())
        .unwrap_or(0);
    // A limit is bytes; -1 is unlimited.
    let limit = |name: &str| {
        doc.descendants()
            .filter(|n| n.has_tag_name("limit"))
            .find(|n| child_text(*n, "name").map(str::trim) == Some(name))
            .and_then(|n| child_text(n, "value"))
            .and_then(|v| v.trim().parse::<i64>().ok())
            .and_then(|v| u64::try_from(v).ok())
            .map(megabytes)
    };
    Ok(Usage {
        disk_used_mb: megabytes(disk_bytes),
        disk_limit_mb: limit("disk_space"),
        bandwidth_used_mb: megabytes(traffic),
        bandwidth_limit_mb: limit("max_traffic"),
    })
}

impl ProvisioningModule for Plesk {
    fn info(&self) -> ModuleInfo {
        ModuleInfo {
            key: "plesk",
            label: "Plesk",
            server_fields: vec![
                Field::secret(
                    "api_key",
                    "Secret key",
                    "An XML API secret key (Plesk binds it to this server's IP address). Leave empty to \
                     sign in with the login and password below.",
                )
                .optional(),
                Field::text("login", "Login", "The Plesk login to use without a secret key, usually admin.").optional(),
                Field::secret("password", "Password", "The password of that login, when no secret key is set.")
                    .optional(),
                Field::text("ip", "Shared IP address", "The IP address new subscriptions are hosted on."),
                Field {
                    kind: FieldKind::Number,
                    ..Field::text(
                        "port",
                        "Port",
                        "Plesk's TLS port, 8443 when empty. Not used when the hostname is written as a full \
                         address (https://plesk.example:8443), which is then used as it is.",
                    )
                }
                .optional(),
            ],
            product_fields: vec![
                Field::text("plan", "Service plan", "The Plesk service plan new subscriptions get, by its exact name."),
                Field::text("ip", "IP address", "Hosts this product's subscriptions on another IP than the server's.")
                    .optional(),
            ],
            capabilities: Capabilities {
                test_connection: true,
                change_package: true,
                change_password: true,
                usage: true,
                // Plesk ties the session to the client's IP address (`Account::client_ip`).
                single_sign_on: true,
                packages: true,
            },
            client_actions: Vec::new(),
        }
    }

    async fn packages(&self, server: &Server, log: &mut Vec<Exchange>) -> Result<Vec<String>, ModuleError> {
        self.plans(server, log).await
    }

    async fn test_connection(&self, server: &Server, log: &mut Vec<Exchange>) -> Result<String, ModuleError> {
        let plans = self.plans(server, log).await?;
        if plans.is_empty() {
            Ok("Plesk answered; it has no service plans".into())
        } else {
            Ok(format!("Plesk answered; service plans: {}", plans.join(", ")))
        }
    }

    /// Adds the customer, then its subscription. When Plesk refuses the subscription the
    /// customer is removed again, so that trying again (perhaps with another username) starts
    /// clean.
    async fn create(
        &self,
        server: &Server,
        account: &Account,
        log: &mut Vec<Exchange>,
    ) -> Result<Created, ModuleError> {
        let Some(password) = &account.password else {
            return Err(ModuleError::Refused("no password was given for the new account".into()));
        };
        let ip = match account.product.get("ip").map(|ip| ip.trim()).filter(|ip| !ip.is_empty()) {
            Some(ip) => ip,
            None => server.setting("ip").trim(),
        };
        if ip.is_empty() {
            return Err(ModuleError::Refused("no IP address is set for new subscriptions".into()));
        }
        customer_filter(account)?;
        subscription_filter(account)?;
        let email = if account.email.is_empty() { String::new() } else { el("email", &account.email) };
        // The contact name is required; the domain is what staff will look for.
        let customer = format!(
            "<customer><add><gen_info>{}{}{}{}{email}</gen_info></add></customer>",
            el("pname", &account.domain),
            el("login", &account.username),
            el("passwd", password.expose()),
            el("status", ACTIVE),
        );
        let customer_id = self.call(server, Some(account), "customer add", &customer, log).await?.ok()?.first("id");
        let plan = match account.product.get("plan").map(|p| p.trim()).filter(|p| !p.is_empty()) {
            Some(plan) => el("plan-name", plan),
            None => String::new(),
        };
        // Element order is the schema's: the plan comes after the hosting settings.
        let webspace = format!(
            "<webspace><add><gen_setup>{}{}{}{}</gen_setup><hosting><vrt_hst>{}{}{}</vrt_hst></hosting>{plan}</add></webspace>",
            el("name", &account.domain),
            el("owner-login", &account.username),
            el("htype", "vrt_hst"),
            el("ip_address", ip),
            property("ftp_login", &account.username),
            property("ftp_password", password.expose()),
            el("ip_address", ip),
        );
        let added = self.call(server, Some(account), "webspace add", &webspace, log).await.and_then(Answer::ok);
        let subscription_id = match added {
            Ok(answer) => answer.first("id"),
            Err(refusal @ ModuleError::Refused(_)) => {
                let undo = format!("<customer><del>{}</del></customer>", customer_filter(account)?);
                // Logged; the refusal of the subscription is what the caller needs to know.
                let _ = self.call(server, Some(account), "customer del", &undo, log).await;
                return Err(refusal);
            }
            // Perhaps done, perhaps not: the customer stays for a retry or for staff to see.
            Err(err) => return Err(err),
        };
        let id = |id: Option<String>| id.unwrap_or_else(|| "?".into());
        Ok(Created {
            username: account.username.clone(),
            message: format!("customer {} with subscription {}", id(customer_id), id(subscription_id)),
        })
    }

    /// Disables the subscription as the administrator (status 16). Plesk keeps no reason.
    async fn suspend(
        &self,
        server: &Server,
        account: &Account,
        _reason: &str,
        log: &mut Vec<Exchange>,
    ) -> Result<(), ModuleError> {
        self.set_status(server, account, SUSPENDED_BY_ADMIN, log).await
    }

    async fn unsuspend(&self, server: &Server, account: &Account, log: &mut Vec<Exchange>) -> Result<(), ModuleError> {
        self.set_status(server, account, ACTIVE, log).await
    }

    /// Removes the subscription, then the customer unless it still owns another one. Either
    /// being gone already counts as done, so a repeated terminate succeeds.
    async fn terminate(&self, server: &Server, account: &Account, log: &mut Vec<Exchange>) -> Result<(), ModuleError> {
        let (subscription, customer) = (subscription_filter(account)?, customer_filter(account)?);
        let del = format!("<webspace><del>{subscription}</del></webspace>");
        self.call(server, Some(account), "webspace del", &del, log).await?.ok_unless(&[NOT_FOUND])?;
        let others = format!(
            "<webspace><get><filter>{}</filter><dataset><gen_info/></dataset></get></webspace>",
            el("owner-login", &account.username)
        );
        let left = self.call(server, Some(account), "webspace get", &others, log).await?;
        if !left.ok_unless(&[NOT_FOUND, OWNER_NOT_FOUND])?.in_each_result("id").is_empty() {
            return Ok(());
        }
        let del = format!("<customer><del>{customer}</del></customer>");
        self.call(server, Some(account), "customer del", &del, log).await?.ok_unless(&[NOT_FOUND]).map(|_| ())
    }

    /// Switches the subscription to the product's plan. Plesk switches by the plan's GUID, so
    /// the plan is looked up by name first.
    async fn change_package(
        &self,
        server: &Server,
        account: &Account,
        log: &mut Vec<Exchange>,
    ) -> Result<(), ModuleError> {
        let Some(plan) = account.product.get("plan").map(|p| p.trim()).filter(|p| !p.is_empty()) else {
            return Err(ModuleError::Refused("the product names no service plan".into()));
        };
        let subscription = subscription_filter(account)?;
        let find = format!("<service-plan><get><filter>{}</filter></get></service-plan>", el("name", plan));
        let found = self.call(server, Some(account), "service-plan get", &find, log).await?.ok()?;
        let Some(guid) = found.in_each_result("guid").into_iter().next() else {
            return Err(ModuleError::Refused(format!("Plesk has no service plan named {plan:?}")));
        };
        let switch = format!(
            "<webspace><switch-subscription>{subscription}{}</switch-subscription></webspace>",
            el("plan-guid", &guid)
        );
        // A success may carry <problems> (limits that could not be applied); the log keeps it.
        self.call(server, Some(account), "webspace switch-subscription", &switch, log).await?.ok().map(|_| ())
    }

    /// Sets the password of both logins the create made: the customer's panel login and the
    /// subscription's FTP (system) user, in one packet.
    async fn change_password(
        &self,
        server: &Server,
        account: &Account,
        log: &mut Vec<Exchange>,
    ) -> Result<(), ModuleError> {
        let Some(password) = &account.password else {
            return Err(ModuleError::Refused("no new password was given".into()));
        };
        let (customer, subscription) = (customer_filter(account)?, subscription_filter(account)?);
        let packet = format!(
            "<customer><set>{customer}<values><gen_info>{}</gen_info></values></set></customer>\
             <webspace><set>{subscription}<values><hosting><vrt_hst>{}</vrt_hst></hosting></values></set></webspace>",
            el("passwd", password.expose()),
            property("ftp_password", password.expose()),
        );
        self.call(server, Some(account), "customer set, webspace set", &packet, log).await?.ok().map(|_| ())
    }

    async fn usage(&self, server: &Server, account: &Account, log: &mut Vec<Exchange>) -> Result<Usage, ModuleError> {
        // Datasets in the schema's order.
        let packet = format!(
            "<webspace><get>{}<dataset><limits/><stat/><disk_usage/></dataset></get></webspace>",
            subscription_filter(account)?
        );
        let answer = self.call(server, Some(account), "webspace get", &packet, log).await?.ok()?;
        read_usage(&answer.text)
    }

    /// Not offered: Plesk's session must name the client's IP address, which this call does
    /// not have. [`Plesk::sso_url_for`] takes it.
    async fn sso_url(
        &self,
        server: &Server,
        account: &Account,
        log: &mut Vec<Exchange>,
    ) -> Result<String, ModuleError> {
        match account.client_ip {
            Some(ip) => self.sso_url_for(server, account, ip, log).await,
            None => Err(ModuleError::Refused("Plesk's sign-in needs the client's IP address".into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use wiremock::matchers::{body_string_contains, header, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    use super::*;
    use crate::Secret;

    const KEY: &str = "PLESKKEY-0c1d2e3f4a5b";
    const PASSWORD: &str = "Tr0ub4dor&3<xyz>";
    const SESSION: &str = "ede520d0fc93ae7aa0524076d631fba2";

    fn server(address: &str, timeout: Duration) -> Server {
        let mut settings = BTreeMap::new();
        settings.insert("api_key".to_owned(), Secret::new(KEY));
        settings.insert("ip".to_owned(), Secret::new("203.0.113.10"));
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
            product: BTreeMap::from([("plan".to_owned(), "Gold".to_owned())]),
            client_ip: None,
        }
    }

    fn packet(inner: &str) -> ResponseTemplate {
        ResponseTemplate::new(200).insert_header("content-type", "text/xml").set_body_string(format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><packet version="1.6.9.1">{inner}</packet>"#
        ))
    }

    /// Answers packets that contain `marker` (and carry the secret key) with `answer`.
    async fn answer(panel: &MockServer, marker: &str, answer: ResponseTemplate) {
        Mock::given(method("POST"))
            .and(path(AGENT_PATH))
            .and(header("key", KEY))
            .and(body_string_contains(marker))
            .respond_with(answer)
            .mount(panel)
            .await;
    }

    async fn bodies(panel: &MockServer) -> Vec<String> {
        let requests = panel.received_requests().await.unwrap_or_default();
        requests.iter().map(|r| String::from_utf8_lossy(&r.body).into_owned()).collect()
    }

    #[tokio::test]
    async fn a_create_adds_the_customer_then_its_subscription_on_the_plan() {
        let panel = MockServer::start().await;
        answer(
            &panel,
            "<customer><add>",
            packet("<customer><add><result><status>ok</status><id>3</id><guid>d7914f79-0001</guid></result></add></customer>"),
        )
        .await;
        answer(
            &panel,
            "<webspace><add>",
            packet("<webspace><add><result><status>ok</status><id>12</id><guid>a1b2c3d4-0002</guid></result></add></webspace>"),
        )
        .await;
        let mut log = Vec::new();
        let created = Plesk::new(reqwest::Client::new()).create(&quick(&panel), &account(), &mut log).await;
        assert_eq!(
            created,
            Ok(Created { username: "acme01".into(), message: "customer 3 with subscription 12".into() })
        );
        let sent = bodies(&panel).await;
        assert_eq!(sent.len(), 2);
        assert!(sent[0].contains("<login>acme01</login><passwd>Tr0ub4dor&amp;3&lt;xyz&gt;</passwd>"), "{}", sent[0]);
        assert!(sent[0].contains("<email>owner@acme.example</email>"), "{}", sent[0]);
        assert!(
            sent[1].contains(
                "<gen_setup><name>acme.example</name><owner-login>acme01</owner-login><htype>vrt_hst</htype>\
                 <ip_address>203.0.113.10</ip_address></gen_setup>"
            ),
            "{}",
            sent[1]
        );
        assert!(sent[1].contains("</hosting><plan-name>Gold</plan-name></add>"), "{}", sent[1]);
        assert_eq!(log.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(), ["customer add", "webspace add"]);
    }

    #[tokio::test]
    async fn a_taken_login_is_refused_in_plesks_words() {
        let panel = MockServer::start().await;
        answer(
            &panel,
            "<customer><add>",
            packet(
                "<customer><add><result><status>error</status><errcode>1007</errcode>\
                 <errtext>Inserted data already exists.</errtext></result></add></customer>",
            ),
        )
        .await;
        let mut log = Vec::new();
        let created = Plesk::new(reqwest::Client::new()).create(&quick(&panel), &account(), &mut log).await;
        assert_eq!(created, Err(ModuleError::Refused("Inserted data already exists.".into())));
        assert_eq!(log.len(), 1, "no subscription is tried without its customer");
    }

    #[tokio::test]
    async fn a_refused_subscription_takes_its_new_customer_away_again() {
        let panel = MockServer::start().await;
        answer(
            &panel,
            "<customer><add>",
            packet("<customer><add><result><status>ok</status><id>3</id></result></add></customer>"),
        )
        .await;
        answer(
            &panel,
            "<webspace><add>",
            packet(
                "<webspace><add><result><status>error</status><errcode>1013</errcode>\
                 <errtext>Service plan Gold does not exist.</errtext></result></add></webspace>",
            ),
        )
        .await;
        Mock::given(body_string_contains("<customer><del><filter><login>acme01</login></filter></del></customer>"))
            .respond_with(packet(
                "<customer><del><result><status>ok</status><filter-id>acme01</filter-id><id>3</id></result></del></customer>",
            ))
            .expect(1)
            .mount(&panel)
            .await;
        let mut log = Vec::new();
        let created = Plesk::new(reqwest::Client::new()).create(&quick(&panel), &account(), &mut log).await;
        assert_eq!(created, Err(ModuleError::Refused("Service plan Gold does not exist.".into())));
        assert_eq!(log.len(), 3);
    }

    #[tokio::test]
    async fn wrong_credentials_are_unauthorized() {
        let panel = MockServer::start().await;
        answer(
            &panel,
            "<packet>",
            packet(
                "<system><status>error</status><errcode>1001</errcode>\
                 <errtext>Authentication failed - wrong password.</errtext></system>",
            ),
        )
        .await;
        let tested = Plesk::new(reqwest::Client::new()).test_connection(&quick(&panel), &mut Vec::new()).await;
        assert_eq!(tested, Err(ModuleError::Unauthorized("Authentication failed - wrong password.".into())));
    }

    #[tokio::test]
    async fn a_system_error_that_is_not_about_credentials_is_a_refusal() {
        let panel = MockServer::start().await;
        answer(
            &panel,
            "<packet>",
            packet(
                "<system><status>error</status><errcode>1005</errcode>\
                 <errtext>XML API protocol version not supported.</errtext></system>",
            ),
        )
        .await;
        let suspended =
            Plesk::new(reqwest::Client::new()).suspend(&quick(&panel), &account(), "Overdue", &mut Vec::new()).await;
        assert_eq!(suspended, Err(ModuleError::Refused("XML API protocol version not supported.".into())));
    }

    #[tokio::test]
    async fn an_html_page_is_a_protocol_error() {
        let panel = MockServer::start().await;
        answer(
            &panel,
            "<packet>",
            ResponseTemplate::new(200).insert_header("content-type", "text/html").set_body_string(
                "<!DOCTYPE html><html><head><title>Plesk Obsidian</title></head><body>Log in</body></html>",
            ),
        )
        .await;
        let unsuspended =
            Plesk::new(reqwest::Client::new()).unsuspend(&quick(&panel), &account(), &mut Vec::new()).await;
        assert!(matches!(&unsuspended, Err(ModuleError::Protocol(text)) if text.contains("Plesk Obsidian")));
    }

    #[tokio::test]
    async fn a_slow_panel_times_out() {
        let panel = MockServer::start().await;
        answer(&panel, "<packet>", packet("").set_delay(Duration::from_secs(3))).await;
        let mut log = Vec::new();
        let slow = Plesk::new(reqwest::Client::new())
            .terminate(&server(&panel.uri(), Duration::from_secs(1)), &account(), &mut log)
            .await;
        assert_eq!(slow, Err(ModuleError::Timeout(1)));
        assert_eq!(log.len(), 1);
    }

    #[tokio::test]
    async fn suspend_and_unsuspend_set_the_subscription_status() {
        let panel = MockServer::start().await;
        let done = packet(
            "<webspace><set><result><status>ok</status><filter-id>acme.example</filter-id><id>12</id></result></set></webspace>",
        );
        answer(&panel, "<gen_setup><status>16</status></gen_setup>", done.clone()).await;
        answer(&panel, "<gen_setup><status>0</status></gen_setup>", done).await;
        let module = Plesk::new(reqwest::Client::new());
        let mut log = Vec::new();
        assert_eq!(module.suspend(&quick(&panel), &account(), "Overdue", &mut log).await, Ok(()));
        assert_eq!(module.unsuspend(&quick(&panel), &account(), &mut log).await, Ok(()));
        let sent = bodies(&panel).await;
        assert!(sent[0].contains("<webspace><set><filter><name>acme.example</name></filter><values>"), "{}", sent[0]);
    }

    #[tokio::test]
    async fn terminate_keeps_a_customer_that_still_owns_a_subscription() {
        let panel = MockServer::start().await;
        answer(
            &panel,
            "<webspace><del>",
            packet("<webspace><del><result><status>ok</status><filter-id>acme.example</filter-id><id>12</id></result></del></webspace>"),
        )
        .await;
        answer(
            &panel,
            "<owner-login>acme01</owner-login>",
            packet("<webspace><get><result><status>ok</status><filter-id>acme01</filter-id><id>14</id><data><gen_info><name>other.example</name></gen_info></data></result></get></webspace>"),
        )
        .await;
        Mock::given(body_string_contains("<customer><del>")).respond_with(packet("")).expect(0).mount(&panel).await;
        let terminated =
            Plesk::new(reqwest::Client::new()).terminate(&quick(&panel), &account(), &mut Vec::new()).await;
        assert_eq!(terminated, Ok(()));
    }

    #[tokio::test]
    async fn terminate_removes_a_customer_left_with_nothing_and_repeats_harmlessly() {
        let panel = MockServer::start().await;
        answer(
            &panel,
            "<webspace><del>",
            packet("<webspace><del><result><status>error</status><errcode>1013</errcode><errtext>Object not found.</errtext></result></del></webspace>"),
        )
        .await;
        answer(
            &panel,
            "<owner-login>acme01</owner-login>",
            packet("<webspace><get><result><status>ok</status><filter-id>acme01</filter-id></result></get></webspace>"),
        )
        .await;
        Mock::given(body_string_contains("<customer><del><filter><login>acme01</login></filter></del></customer>"))
            .respond_with(packet("<customer><del><result><status>ok</status><id>3</id></result></del></customer>"))
            .expect(1)
            .mount(&panel)
            .await;
        let mut log = Vec::new();
        let terminated = Plesk::new(reqwest::Client::new()).terminate(&quick(&panel), &account(), &mut log).await;
        assert_eq!(terminated, Ok(()));
        assert_eq!(log.len(), 3);
    }

    #[tokio::test]
    async fn a_plan_change_looks_the_plan_up_and_switches_by_its_guid() {
        let panel = MockServer::start().await;
        answer(
            &panel,
            "<service-plan><get><filter><name>Gold</name></filter>",
            packet("<service-plan><get><result><status>ok</status><id>5</id><guid>cc982f71-aaaa</guid><name>Gold</name></result></get></service-plan>"),
        )
        .await;
        answer(
            &panel,
            "<switch-subscription><filter><name>acme.example</name></filter><plan-guid>cc982f71-aaaa</plan-guid>",
            packet("<webspace><switch-subscription><result><status>ok</status><id>12</id></result></switch-subscription></webspace>"),
        )
        .await;
        let changed =
            Plesk::new(reqwest::Client::new()).change_package(&quick(&panel), &account(), &mut Vec::new()).await;
        assert_eq!(changed, Ok(()));
    }

    #[tokio::test]
    async fn a_missing_plan_is_refused() {
        let panel = MockServer::start().await;
        answer(
            &panel,
            "<service-plan><get>",
            packet("<service-plan><get><result><status>error</status><errcode>1013</errcode><errtext>Service plan does not exist.</errtext></result></get></service-plan>"),
        )
        .await;
        let changed =
            Plesk::new(reqwest::Client::new()).change_package(&quick(&panel), &account(), &mut Vec::new()).await;
        assert_eq!(changed, Err(ModuleError::Refused("Service plan does not exist.".into())));
    }

    #[tokio::test]
    async fn usage_adds_up_the_disk_areas_and_reads_the_limits() {
        let panel = MockServer::start().await;
        answer(
            &panel,
            "<dataset><limits/><stat/><disk_usage/></dataset>",
            packet(
                "<webspace><get><result><status>ok</status><filter-id>acme.example</filter-id><id>12</id><data>\
                 <limits><overuse>block</overuse>\
                 <limit><name>disk_space</name><value>1073741824</value></limit>\
                 <limit><name>max_traffic</name><value>-1</value></limit></limits>\
                 <stat><traffic>10485760</traffic><subdom>0</subdom></stat>\
                 <disk_usage><httpdocs>2097152</httpdocs><dbases>1048576</dbases><mailboxes>1048576</mailboxes>\
                 <logs>0</logs></disk_usage></data></result></get></webspace>",
            ),
        )
        .await;
        let usage = Plesk::new(reqwest::Client::new()).usage(&quick(&panel), &account(), &mut Vec::new()).await;
        assert_eq!(
            usage,
            Ok(Usage { disk_used_mb: 4, disk_limit_mb: Some(1024), bandwidth_used_mb: 10, bandwidth_limit_mb: None })
        );
    }

    #[tokio::test]
    async fn single_sign_on_makes_a_session_for_the_clients_ip_and_keeps_it_out_of_the_log() {
        let panel = MockServer::start().await;
        answer(
            &panel,
            "<create_session><login>acme01</login><data><user_ip>MTkyLjAuMi40Mg==</user_ip>",
            packet(&format!(
                "<server><create_session><result><status>ok</status><id>{SESSION}</id></result></create_session></server>"
            )),
        )
        .await;
        let module = Plesk::new(reqwest::Client::new());
        let mut log = Vec::new();
        let ip: IpAddr = [192, 0, 2, 42].into();
        let url = module.sso_url_for(&quick(&panel), &account(), ip, &mut log).await;
        assert_eq!(url, Ok(format!("{}/enterprise/rsession_init.php?PLESKSESSID={SESSION}", panel.uri())));
        assert!(!format!("{log:?}").contains(SESSION), "{log:?}");
        assert!(module.info().capabilities.single_sign_on);
        let through_the_trait = Account { client_ip: Some(ip), ..account() };
        assert!(module.sso_url(&quick(&panel), &through_the_trait, &mut log).await.is_ok());
        assert!(matches!(module.sso_url(&quick(&panel), &account(), &mut log).await, Err(ModuleError::Refused(_))));
    }

    #[tokio::test]
    async fn plans_are_listed_and_a_login_can_stand_in_for_the_key() {
        let panel = MockServer::start().await;
        Mock::given(path(AGENT_PATH))
            .and(header("http_auth_login", "admin"))
            .and(header("http_auth_passwd", "s3cret-admin-pw"))
            .respond_with(packet(
                "<service-plan><get><result><status>ok</status><id>1</id><guid>g-1</guid><name>Default Domain</name></result>\
                 <result><status>ok</status><id>5</id><guid>g-5</guid><name>Gold</name></result></get></service-plan>",
            ))
            .mount(&panel)
            .await;
        let mut settings = BTreeMap::new();
        settings.insert("login".to_owned(), Secret::new("admin"));
        settings.insert("password".to_owned(), Secret::new("s3cret-admin-pw"));
        let server = Server { hostname: panel.uri(), settings, timeout: Duration::from_secs(5) };
        let mut log = Vec::new();
        let plans = Plesk::new(reqwest::Client::new()).plans(&server, &mut log).await;
        assert_eq!(plans, Ok(vec!["Default Domain".to_owned(), "Gold".to_owned()]));
        assert!(!format!("{log:?}").contains("s3cret-admin-pw"));
    }

    #[tokio::test]
    async fn no_password_or_key_reaches_the_log() {
        let panel = MockServer::start().await;
        answer(&panel, "<customer><set>", packet("<customer><set><result><status>ok</status><id>3</id></result></set></customer><webspace><set><result><status>ok</status><id>12</id></result></set></webspace>")).await;
        answer(
            &panel,
            "<customer><add>",
            packet("<customer><add><result><status>ok</status><id>3</id></result></add></customer>"),
        )
        .await;
        answer(
            &panel,
            "<webspace><add>",
            packet("<webspace><add><result><status>ok</status><id>12</id></result></add></webspace>"),
        )
        .await;
        let module = Plesk::new(reqwest::Client::new());
        let mut log = Vec::new();
        assert!(module.create(&quick(&panel), &account(), &mut log).await.is_ok());
        assert_eq!(module.change_password(&quick(&panel), &account(), &mut log).await, Ok(()));
        let sent = bodies(&panel).await;
        assert!(
            sent[2].contains("<property><name>ftp_password</name><value>Tr0ub4dor&amp;3&lt;xyz&gt;</value></property>")
        );
        let logged = format!("{log:?}");
        for secret in [KEY, "Tr0ub4dor", "3&lt;xyz", "3<xyz"] {
            assert!(!logged.contains(secret), "{secret} in {logged}");
        }
        assert!(logged.contains("<passwd>[redacted]</passwd>"), "{logged}");
    }

    #[test]
    fn values_are_escaped_for_xml() {
        assert_eq!(
            el("pname", "A & B <C> \"D\" 'E'\u{1}"),
            "<pname>A &amp; B &lt;C&gt; &quot;D&quot; &apos;E&apos;</pname>"
        );
    }
}
