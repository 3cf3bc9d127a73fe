//! Builders for the data most tests start from: billing set up, a client, a product with its
//! prices, an issued invoice, an order placed and paid at the store. Each posts the forms staff
//! or a client would post, so whatever a test builds went through the application.

use hostwright::ids::{ClientId, InvoiceId, OrderId, ProductId, ServiceId};

use super::{TestApp, TestResponse};

/// A form's idempotency key: `c`, 24 times.
pub fn key(c: char) -> String {
    c.to_string().repeat(24)
}

/// The year invoices issued now are numbered in (`{YYYY}`).
pub fn year() -> String {
    chrono::Utc::now().format("%Y").to_string()
}

// --- billing ------------------------------------------------------------------------------

/// Billing as a German business, "Acme Hosting GmbH": 19 % VAT in Germany, invoices numbered
/// `{YYYY}-{SEQ:5}` from 1 every year, due in 14 days, and euros (at 0.92) besides the default
/// US dollar.
pub fn billing(app: &mut TestApp) -> BillingBuilder<'_> {
    BillingBuilder { app, proforma: false }
}

pub struct BillingBuilder<'a> {
    app: &'a mut TestApp,
    proforma: bool,
}

impl BillingBuilder<'_> {
    /// Issued invoices carry a proforma number (`PF-{SEQ:6}`); the legal number comes with
    /// payment.
    pub fn proforma(mut self) -> Self {
        self.proforma = true;
        self
    }

    pub async fn set_up(self) {
        let app = self.app;
        let mut form = vec![
            ("company_name", "Acme Hosting GmbH"),
            ("address", "Hauptstraße 1\n10115 Berlin"),
            ("country", "DE"),
            ("tax_id", "DE123456789"),
            ("registration", "HRB 12345"),
            ("email", "billing@acme.test"),
            ("invoice_pattern", "{YYYY}-{SEQ:5}"),
            ("invoice_yearly_reset", "on"),
            ("credit_note_pattern", "CN-{YYYY}-{SEQ:5}"),
            ("proforma_pattern", "PF-{SEQ:6}"),
            ("default_due_days", "14"),
        ];
        if self.proforma {
            form.push(("proforma_mode", "on"));
        }
        app.post_form("/admin/settings/billing", &form).await.assert_redirect_to("/admin/settings/billing");
        app.post_form("/admin/tax-rules", &[("name", "VAT"), ("country", "DE"), ("rate", "19"), ("level", "1")]).await;
        app.post_form("/admin/currencies", &[("code", "EUR"), ("rate", "0.92")]).await;
    }
}

// --- clients ------------------------------------------------------------------------------

/// An active client "Zoë Ørsted" at `email`, created by the signed-in staff member; in
/// Germany unless [`ClientBuilder::country`] says otherwise.
pub fn client<'a>(app: &'a mut TestApp, email: &str) -> ClientBuilder<'a> {
    ClientBuilder { app, email: email.to_owned(), country: "DE".to_owned(), tax_id: None, currency: None }
}

pub struct ClientBuilder<'a> {
    app: &'a mut TestApp,
    email: String,
    country: String,
    tax_id: Option<String>,
    currency: Option<String>,
}

impl ClientBuilder<'_> {
    pub fn country(mut self, code: &str) -> Self {
        self.country = code.to_owned();
        self
    }

    /// The client's VAT or tax number, sent with the form (empty for none).
    pub fn tax_id(mut self, tax_id: &str) -> Self {
        self.tax_id = Some(tax_id.to_owned());
        self
    }

    /// The currency the client is billed in.
    pub fn currency(mut self, code: &str) -> Self {
        self.currency = Some(code.to_owned());
        self
    }

    pub async fn create(self) -> ClientId {
        let mut form = vec![
            ("first_name", "Zoë"),
            ("last_name", "Ørsted"),
            ("email", self.email.as_str()),
            ("country", self.country.as_str()),
        ];
        if let Some(tax_id) = &self.tax_id {
            form.push(("tax_id", tax_id));
        }
        if let Some(currency) = &self.currency {
            form.push(("currency_code", currency));
        }
        form.push(("status", "active"));
        let created = self.app.post_form("/admin/clients", &form).await;
        created
            .location()
            .trim_start_matches("/admin/clients/")
            .parse()
            .unwrap_or_else(|_| panic!("a new client: {} {}", created.status, created.body))
    }
}

/// A client registered at `/register` on a node of its own, signed in there; returns the node
/// and the client's id.
pub async fn signed_in_client(app: &TestApp, email: &str, password: &str) -> (TestApp, ClientId) {
    let mut node = app.second_node().await;
    let registered = node.register_client(email, password).await;
    assert!(registered.status.is_redirection(), "{}", registered.body);
    let id = app.scalar(&format!("SELECT id FROM clients WHERE email = '{email}'")).await;
    (node, ClientId(id))
}

/// A client registered at the store on `app` (its own cookie jar), signed in there.
pub async fn shopper(app: &mut TestApp, email: &str) {
    let registered = app.register_client(email, "correct horse battery 9").await;
    assert_eq!(registered.status, 303, "{}", registered.body);
}

// --- catalog ------------------------------------------------------------------------------

/// A recurring product `name` in product group 1, a shared-hosting plan unless
/// [`ProductBuilder::product_type`] says otherwise, with the prices given.
pub fn product<'a>(app: &'a mut TestApp, name: &str) -> ProductBuilder<'a> {
    ProductBuilder {
        app,
        name: name.to_owned(),
        product_type: "shared_hosting",
        taxable: false,
        retired: false,
        module: None,
        stock: None,
        prices: Vec::new(),
    }
}

pub struct ProductBuilder<'a> {
    app: &'a mut TestApp,
    name: String,
    product_type: &'static str,
    taxable: bool,
    retired: bool,
    module: Option<&'static str>,
    stock: Option<i32>,
    prices: Vec<(String, String)>,
}

impl ProductBuilder<'_> {
    pub fn product_type(mut self, kind: &'static str) -> Self {
        self.product_type = kind;
        self
    }

    pub fn taxable(mut self) -> Self {
        self.taxable = true;
        self
    }

    /// No longer sold.
    pub fn retired(mut self) -> Self {
        self.retired = true;
        self
    }

    /// The provisioning module (`none`: set up by hand).
    pub fn module(mut self, module: &'static str) -> Self {
        self.module = Some(module);
        self
    }

    /// Stock kept, `units` in it.
    pub fn stock(mut self, units: i32) -> Self {
        self.stock = Some(units);
        self
    }

    /// The price in `currency` per `cycle` (`monthly`, `annually`, ...).
    pub fn price(mut self, currency: &str, cycle: &str, amount: &str) -> Self {
        self.prices.push((format!("price.{currency}.{cycle}"), amount.to_owned()));
        self
    }

    /// The setup fee in `currency` with the first payment on `cycle`.
    pub fn setup_fee(mut self, currency: &str, cycle: &str, amount: &str) -> Self {
        self.prices.push((format!("setup.{currency}.{cycle}"), amount.to_owned()));
        self
    }

    pub async fn create(self) -> ProductId {
        let stock = self.stock.map(|s| s.to_string()).unwrap_or_default();
        let mut form = vec![
            ("group_id", "1"),
            ("name", self.name.as_str()),
            ("product_type", self.product_type),
            ("payment_type", "recurring"),
        ];
        if self.taxable {
            form.push(("taxable", "on"));
        }
        if self.retired {
            form.push(("retired", "on"));
        }
        if let Some(module) = self.module {
            form.push(("module", module));
        }
        if self.stock.is_some() {
            form.push(("stock_enabled", "on"));
            form.push(("stock_quantity", &stock));
        }
        let created = self.app.post_form("/admin/catalog/products", &form).await;
        let path = created.location().to_owned();
        let id: ProductId = path
            .strip_prefix("/admin/catalog/products/")
            .and_then(|id| id.parse().ok())
            .unwrap_or_else(|| panic!("a new product: {} {}", created.status, created.body));
        if !self.prices.is_empty() {
            let prices: Vec<(&str, &str)> = self.prices.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            self.app.post_form(&format!("{path}/prices"), &prices).await.assert_redirect_to(&path);
        }
        id
    }
}

/// The store: a shared-hosting product "Web Starter" (id 1) at 10.00 EUR a month + 5.00
/// setup, 100.00 a year; an add-on "Daily backups" (id 1) at 2.50 EUR a month; euros the
/// default currency; billing as [`billing`] sets it up; the administrator signed in on `app`.
pub fn store(app: &mut TestApp) -> StoreBuilder<'_> {
    StoreBuilder { app, stock: None }
}

pub struct StoreBuilder<'a> {
    app: &'a mut TestApp,
    stock: Option<i32>,
}

impl StoreBuilder<'_> {
    /// Web Starter's stock: `units` left.
    pub fn stock(mut self, units: i32) -> Self {
        self.stock = Some(units);
        self
    }

    pub async fn open(self) {
        let app = self.app;
        app.signed_in_admin().await;
        billing(app).set_up().await;
        app.post_form("/admin/catalog/groups", &[("name", "Hosting"), ("headline", "Fast hosting"), ("visible", "on")])
            .await;
        let mut starter = product(app, "Web Starter")
            .taxable()
            .module("none")
            .price("EUR", "monthly", "10.00")
            .setup_fee("EUR", "monthly", "5")
            .price("EUR", "annually", "100");
        if let Some(units) = self.stock {
            starter = starter.stock(units);
        }
        assert_eq!(starter.create().await, ProductId(1));
        app.post_form(
            "/admin/catalog/addons",
            &[("name", "Daily backups"), ("payment_type", "recurring"), ("taxable", "on"), ("welcome_email", "none")],
        )
        .await
        .assert_redirect_to("/admin/catalog/addons/1");
        app.post_form("/admin/catalog/addons/1/prices", &[("price.EUR.monthly", "2.50")])
            .await
            .assert_redirect_to("/admin/catalog/addons/1");
        app.post_form("/admin/catalog/addons/1/products", &[("product", "1")]).await;
        // Shop in euros by default.
        app.post_form("/admin/currencies/EUR/default", &[]).await;
    }
}

/// Billing as [`billing`] sets it up, a product group and three recurring VPS products:
/// "Cloud VPS" (1) at 10.00 a month plus 5.00 setup (EUR and USD), 100.00 a year; "Other
/// plan" (2); "Old plan" (3), retired. Option group 1 (with Cloud VPS): option 1 "Operating
/// system", a dropdown of value 1 "Debian" (free) and value 2 "Windows" (15.00 a month).
/// Option group 2 (with Other plan): option 2 "Daily backups", yes/no, value 3.
pub async fn vps_catalog(app: &mut TestApp) {
    billing(app).set_up().await;
    app.post_form("/admin/catalog/groups", &[("name", "VPS"), ("visible", "on")]).await;
    for (id, name) in [(1, "Cloud VPS"), (2, "Other plan"), (3, "Old plan")] {
        let mut vps = product(app, name)
            .product_type("vps")
            .taxable()
            .price("EUR", "monthly", "10.00")
            .setup_fee("EUR", "monthly", "5.00")
            .price("EUR", "annually", "100")
            .price("USD", "monthly", "10.00")
            .price("USD", "annually", "100");
        if id == 3 {
            vps = vps.retired();
        }
        assert_eq!(vps.create().await, ProductId(id));
    }
    app.post_form("/admin/catalog/option-groups", &[("name", "VPS resources"), ("description", "")])
        .await
        .assert_redirect_to("/admin/catalog/option-groups/1");
    app.post_form("/admin/catalog/option-groups/1/options", &[("name", "Operating system"), ("kind", "dropdown")])
        .await
        .assert_redirect_to("/admin/catalog/options/1");
    for (id, label, monthly, annually) in [(1, "Debian", "0", "0"), (2, "Windows", "15", "150")] {
        app.post_form("/admin/catalog/options/1/values", &[("label", label), ("sort_order", &id.to_string())])
            .await
            .assert_redirect_to(&format!("/admin/catalog/option-values/{id}"));
        app.post_form(
            &format!("/admin/catalog/option-values/{id}/prices"),
            &[
                ("price.EUR.monthly", monthly),
                ("price.EUR.annually", annually),
                ("price.USD.monthly", monthly),
                ("price.USD.annually", annually),
            ],
        )
        .await
        .assert_redirect_to(&format!("/admin/catalog/option-values/{id}"));
    }
    app.post_form("/admin/catalog/option-groups/1/products", &[("product", "1")])
        .await
        .assert_redirect_to("/admin/catalog/option-groups/1");
    app.post_form("/admin/catalog/option-groups", &[("name", "Extras"), ("description", "")])
        .await
        .assert_redirect_to("/admin/catalog/option-groups/2");
    app.post_form("/admin/catalog/option-groups/2/options", &[("name", "Daily backups"), ("kind", "yesno")])
        .await
        .assert_redirect_to("/admin/catalog/option-values/3");
    app.post_form("/admin/catalog/option-values/3/prices", &[("price.EUR.monthly", "2"), ("price.USD.monthly", "2")])
        .await
        .assert_redirect_to("/admin/catalog/option-values/3");
    app.post_form("/admin/catalog/option-groups/2/products", &[("product", "2")])
        .await
        .assert_redirect_to("/admin/catalog/option-groups/2");
}

/// An active Cloud VPS of [`vps_catalog`] (monthly, Debian) that staff add for `client` and
/// have the module create, without an invoice; the form's key is `k`, 24 times.
pub async fn active_service(app: &mut TestApp, client: ClientId, k: char) -> ServiceId {
    let key = key(k);
    let added = app
        .post_form(
            &format!("/admin/clients/{client}/services/new"),
            &[
                ("product_id", "1"),
                ("billing_cycle", "monthly"),
                ("option.1", "1"),
                ("run_create", "on"),
                ("key", &key),
            ],
        )
        .await;
    assert!(added.location().starts_with("/admin/services/"), "{}", added.body);
    app.run_jobs().await;
    added.location().trim_start_matches("/admin/services/").parse().unwrap()
}

// --- invoices -----------------------------------------------------------------------------

/// An invoice in euros for `client` with the lines given, drafted by the signed-in staff
/// member (and issued, with [`InvoiceBuilder::issue`]).
pub fn invoice(app: &mut TestApp, client: ClientId) -> InvoiceBuilder<'_> {
    InvoiceBuilder { app, client, lines: Vec::new() }
}

pub struct InvoiceBuilder<'a> {
    app: &'a mut TestApp,
    client: ClientId,
    /// (description, quantity, unit price, taxed)
    lines: Vec<(String, String, String, bool)>,
}

/// An invoice and its page in the admin area.
#[derive(Debug, Clone)]
pub struct Invoice {
    pub id: InvoiceId,
    /// `/admin/invoices/{id}`
    pub path: String,
}

impl<'a> InvoiceBuilder<'a> {
    /// A line the tax rules apply to.
    pub fn taxed(mut self, description: &str, quantity: &str, unit_price: &str) -> Self {
        self.lines.push((description.to_owned(), quantity.to_owned(), unit_price.to_owned(), true));
        self
    }

    /// A line without tax.
    pub fn untaxed(mut self, description: &str, quantity: &str, unit_price: &str) -> Self {
        self.lines.push((description.to_owned(), quantity.to_owned(), unit_price.to_owned(), false));
        self
    }

    pub async fn draft(self) -> Invoice {
        self.post().await.1
    }

    /// The draft, issued: numbered, and sent to the client.
    pub async fn issue(self) -> Invoice {
        let (app, invoice) = self.post().await;
        app.post_form(&format!("{}/issue", invoice.path), &[]).await.assert_redirect_to(&invoice.path);
        invoice
    }

    async fn post(self) -> (&'a mut TestApp, Invoice) {
        let mut form: Vec<(String, String)> =
            vec![("client_id".into(), self.client.to_string()), ("currency_code".into(), "EUR".into())];
        for (i, (description, quantity, price, taxed)) in self.lines.iter().enumerate() {
            form.push((format!("line.{i}.description"), description.clone()));
            form.push((format!("line.{i}.quantity"), quantity.clone()));
            form.push((format!("line.{i}.unit_price"), price.clone()));
            if *taxed {
                form.push((format!("line.{i}.taxed"), "on".into()));
            }
        }
        let fields: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let response = self.app.post_form("/admin/invoices", &fields).await;
        let path = response.location().to_owned();
        let id = path
            .strip_prefix("/admin/invoices/")
            .and_then(|id| id.parse().ok())
            .unwrap_or_else(|| panic!("a new invoice: {} {}", response.status, response.body));
        (self.app, Invoice { id, path })
    }
}

// --- orders -------------------------------------------------------------------------------

/// An order of [`store`]'s Web Starter (one, monthly) for `domain`, placed at checkout by the
/// client signed in on `buyer` to pay by bank transfer.
pub fn order<'a>(buyer: &'a mut TestApp, domain: &str) -> OrderBuilder<'a> {
    OrderBuilder { buyer, domain: domain.to_owned(), cycle: "monthly".to_owned(), coupon: None, key: "o".repeat(20) }
}

pub struct OrderBuilder<'a> {
    buyer: &'a mut TestApp,
    domain: String,
    cycle: String,
    coupon: Option<String>,
    key: String,
}

/// An order placed at checkout.
#[derive(Debug, Clone, Copy)]
pub struct Order {
    pub id: OrderId,
}

impl OrderBuilder<'_> {
    pub fn cycle(mut self, cycle: &str) -> Self {
        self.cycle = cycle.to_owned();
        self
    }

    /// A promotion code entered in the cart.
    pub fn coupon(mut self, code: &str) -> Self {
        self.coupon = Some(code.to_owned());
        self
    }

    /// The checkout form's idempotency key.
    pub fn key(mut self, key: &str) -> Self {
        self.key = key.to_owned();
        self
    }

    pub async fn place(self) -> Order {
        let buyer = self.buyer;
        buyer
            .post_form(
                "/cart/items",
                &[("product_id", "1"), ("cycle", &self.cycle), ("quantity", "1"), ("domain", &self.domain)],
            )
            .await
            .assert_redirect_to("/cart");
        if let Some(code) = &self.coupon {
            buyer.post_form("/cart/coupon", &[("code", code)]).await.assert_redirect_to("/cart");
        }
        let placed = buyer.post_form("/checkout", &[("payment_method", "bank_transfer"), ("key", &self.key)]).await;
        let id = order_path(&placed).trim_start_matches("/account/orders/").parse().unwrap();
        Order { id }
    }

    /// The order placed, then paid in full by bank transfer as `staff` record it (the
    /// payment form's key `payment_key`), and the jobs that follow run: the order is accepted
    /// and its service set up. Returns the service.
    pub async fn paid(self, staff: &mut TestApp, payment_key: &str) -> ServiceId {
        let order = self.place().await;
        order.pay(staff, payment_key).await;
        staff.run_jobs().await;
        order.service(staff).await
    }
}

impl Order {
    /// The order's first invoice.
    pub async fn invoice(&self, app: &TestApp) -> InvoiceId {
        InvoiceId(app.scalar(&format!("SELECT invoice_id FROM orders WHERE id = {}", self.id)).await)
    }

    /// The service the order made (an order of one product).
    pub async fn service(&self, app: &TestApp) -> ServiceId {
        ServiceId(app.scalar(&format!("SELECT id FROM services WHERE order_id = {}", self.id)).await)
    }

    /// `staff` record the invoice's whole total received by bank transfer; returns the invoice.
    pub async fn pay(&self, staff: &mut TestApp, key: &str) -> InvoiceId {
        let invoice = self.invoice(staff).await;
        let total = staff.scalar(&format!("SELECT total_minor FROM invoices WHERE id = {invoice}")).await;
        let amount = format!("{}.{:02}", total / 100, total % 100);
        staff
            .post_form(
                &format!("/admin/invoices/{invoice}/payments"),
                &[("amount", &amount), ("method", "bank_transfer"), ("key", key)],
            )
            .await
            .assert_redirect_to(&format!("/admin/invoices/{invoice}"));
        invoice
    }
}

/// The order page a placed order leads to.
#[track_caller]
pub fn order_path(response: &TestResponse) -> String {
    assert_eq!(response.status, 303, "{}", response.body);
    assert!(response.location().starts_with("/account/orders/"), "{}", response.location());
    response.location().to_owned()
}
