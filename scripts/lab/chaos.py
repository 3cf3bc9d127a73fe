#!/usr/bin/env python3
"""The chaos lab's load and checks.

Many customers register, order hosting and pay by card (a Stripe double answers the API
calls; the customer's payment arrives as a webhook signed as Stripe signs it), and browse
their client area and invoice PDFs, while the daily run and the workers operate. Meanwhile
the lab kills, in turn: an app node, the node holding the scheduler lease, the PostgreSQL
primary, every app node one by one (a rolling restart), and a Garage node when there are
three. After each step it prints what clients saw and checks the database: every
acknowledged order and payment present exactly once, no (service, period) invoiced twice,
no payment applied twice. Exits 1 if anything acknowledged was lost or doubled.
"""

import argparse
import hashlib
import hmac
import html.parser
import http.server
import json
import os
import random
import re
import subprocess
import sys
import threading
import time
import urllib.parse
from collections import Counter, defaultdict

import psycopg2
import requests

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
INFRA = os.path.join(REPO, "scripts", "lab", "infra.sh")
WEBHOOK_SECRET = "whsec_lab_endpoint_secret"
STAFF = ("ops@lab.example", "lab staff password 71")
PASSWORD = "lab customer password 33"


def hostwright(*args, capture=False):
    """Runs the hostwright command line with the app nodes' environment."""
    command = ["bash", "-c", 'set -a; source "$HWLAB/app.env"; set +a; exec "$HWLAB_BIN" "$@"', "_", *args]
    if capture:
        return subprocess.run(command, check=True, capture_output=True, text=True).stdout.strip()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return ""


def infra(*args, capture=False):
    """Runs one of infra.sh's functions."""
    command = ["bash", "-c", 'source "$1"; shift; "$@"', "_", INFRA, *args]
    if capture:
        return subprocess.run(command, check=True, capture_output=True, text=True).stdout.strip()
    subprocess.run(command, check=True)
    return ""


# --- Stripe's double --------------------------------------------------------------------


class Stripe:
    """What the double was asked: checkout sessions by id."""

    lock = threading.Lock()
    sessions = {}
    customers = 0


class StripeHandler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def handle(self):
        # A node killed mid-call leaves the double writing to a closed connection.
        try:
            super().handle()
        except (BrokenPipeError, ConnectionResetError):
            pass

    def reply(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        length = int(self.headers.get("content-length") or 0)
        form = urllib.parse.parse_qs(self.rfile.read(length).decode())
        one = lambda k, d="": form.get(k, [d])[0]
        if self.path == "/v1/customers":
            with Stripe.lock:
                Stripe.customers += 1
                n = Stripe.customers
            return self.reply(200, {"id": f"cus_lab_{n}", "object": "customer"})
        if self.path == "/v1/checkout/sessions":
            payment = one("metadata[hostwright_payment]")
            session = {
                "payment": payment,
                "invoice": one("metadata[hostwright_invoice]"),
                "amount": int(one("line_items[0][price_data][unit_amount]", "0")),
                "currency": one("line_items[0][price_data][currency]", "eur"),
                "customer": one("customer"),
            }
            sid = f"cs_lab_{payment}"
            with Stripe.lock:
                Stripe.sessions[sid] = session
            return self.reply(200, {
                "id": sid, "object": "checkout.session", "status": "open", "payment_status": "unpaid",
                "url": f"https://checkout.stripe.com/c/pay/{sid}",
            })
        self.reply(404, {"error": {"type": "invalid_request_error", "message": f"no such route {self.path}"}})

    def do_GET(self):
        self.reply(404, {"error": {"type": "invalid_request_error", "message": f"no such route {self.path}"}})


def stripe_event(sid, session):
    event = {
        "id": f"evt_{sid}", "object": "event", "type": "checkout.session.completed", "created": int(time.time()),
        "livemode": False, "api_version": "2024-06-20",
        "data": {"object": {
            "id": sid, "object": "checkout.session", "mode": "payment", "status": "complete",
            "payment_status": "paid", "amount_total": session["amount"], "currency": session["currency"],
            "customer": session["customer"] or None, "payment_intent": f"pi_{sid}",
            "metadata": {"hostwright_payment": session["payment"], "hostwright_invoice": session["invoice"]},
        }},
    }
    body = json.dumps(event)
    stamp = int(time.time())
    signature = hmac.new(WEBHOOK_SECRET.encode(), f"{stamp}.{body}".encode(), hashlib.sha256).hexdigest()
    return event["id"], body, f"t={stamp},v1={signature}"


# --- forms ------------------------------------------------------------------------------


class FormFields(html.parser.HTMLParser):
    """The fields of the form posting to `action`, as a browser would send them."""

    def __init__(self, action):
        super().__init__()
        self.action, self.inside, self.fields, self.select, self.textarea = action, False, {}, None, None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.inside = a.get("action") == self.action
        if not self.inside:
            return
        if tag == "input" and a.get("name"):
            kind = a.get("type", "text")
            if kind in ("checkbox", "radio") and "checked" not in a:
                return
            if kind in ("submit", "button"):
                return
            self.fields[a["name"]] = a.get("value", "on" if kind == "checkbox" else "")
        elif tag == "select":
            self.select = a.get("name")
        elif tag == "option" and self.select and ("selected" in a or self.select not in self.fields):
            self.fields[self.select] = a.get("value", "")
        elif tag == "textarea":
            self.textarea = a.get("name")
            self.fields[self.textarea] = ""

    def handle_data(self, data):
        if self.textarea:
            self.fields[self.textarea] += data

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False
        elif tag == "select":
            self.select = None
        elif tag == "textarea":
            self.textarea = None


def form_fields(page, action):
    parser = FormFields(action)
    parser.feed(page)
    return parser.fields


def csrf_token(page):
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    return found.group(1) if found else ""


# --- what clients saw -------------------------------------------------------------------


class Record:
    """Every request's outcome, and what was acknowledged, shared by all customers."""

    def __init__(self):
        self.lock = threading.Lock()
        self.step = "warm-up"
        self.requests = []  # (step, kind, idempotent, ok, started, ended)
        self.orders = {}  # checkout key -> session id
        self.events = {}  # event id -> payment id
        self.clients = set()
        self.session_lost = Counter()
        self.files_unreadable = Counter()
        self.unanswered = []  # (step, when and how a request got no answer)

    def add(self, kind, idempotent, status, started, error=None):
        """`status` 0: no answer (`error` is the exception: how the connection failed)."""
        with self.lock:
            outcome = f"no answer ({type(error).__name__})" if status == 0 else status
            self.requests.append((self.step, kind, idempotent, 0 < status < 500, started, time.time(), outcome))
            if status == 0:
                # When and how, to find the connection in the balancer's log.
                at = time.strftime("%H:%M:%S", time.gmtime(started)) + f".{int(started % 1 * 1000):03d}"
                self.unanswered.append((self.step, f"{at} UTC {kind}: {error}"[:300]))


class Customer(threading.Thread):
    def __init__(self, n, base, record, until):
        super().__init__(daemon=True)
        self.n, self.base, self.record, self.until = n, base, record, until
        self.http = requests.Session()
        self.token = ""
        self.email = f"customer{n}-{random.randrange(10**9)}@lab.example"
        self.invoices = []

    def call(self, kind, method, path, idempotent, **kwargs):
        started = time.time()
        try:
            response = self.http.request(method, self.base + path, allow_redirects=False, timeout=70, **kwargs)
        except requests.RequestException as err:
            self.record.add(kind, idempotent, 0, started, err)
            return None
        self.record.add(kind, idempotent, response.status_code, started)
        return response

    def post_until(self, kind, path, data, accept, idempotent=False, tries=60):
        """Sends a form until it is acknowledged, as a person pressing the button again."""
        for _ in range(tries):
            response = self.call(kind, "POST", path, idempotent, data=dict(data, csrf_token=self.token))
            if response is not None and accept(response):
                return response
            if response is not None and response.status_code < 500 and response.status_code != 429:
                return response
            time.sleep(1)
        return None

    def get_page(self, kind, path):
        """Reads a page as a browser does, keeping the form token it carries."""
        for _ in range(30):
            response = self.call(kind, "GET", path, True)
            if response is not None and response.status_code < 500:
                self.token = csrf_token(response.text) or self.token
                return response
            time.sleep(1)
        return None

    def register(self):
        if self.get_page("page", "/register") is None:
            return False
        form = {"first_name": "Lab", "last_name": f"Customer {self.n}", "company_name": "",
                "email": self.email, "password": PASSWORD, "password_confirm": PASSWORD}
        done = self.post_until("register", "/register", form, lambda r: r.status_code == 303)
        if done is None or done.status_code != 303:
            return False
        # Signing up sends a confirmation link (the lab has no SMTP: the link waits in the
        # outbox); following it signs the customer in. The same answer comes back when an
        # earlier try was saved before its answer was lost, and the link is that try's.
        try:
            link = hostwright("dev", "sign-up-link", "--email", self.email, capture=True)
        except subprocess.CalledProcessError:
            return False
        path = "/" + link.split("://", 1)[-1].split("/", 1)[-1]
        for _ in range(30):
            confirmed = self.call("confirm", "GET", path, True)
            if confirmed is not None and confirmed.status_code == 303:
                break
            time.sleep(1)
        else:
            return False
        if self.get_page("page", "/account") is None:
            return False
        with self.record.lock:
            self.record.clients.add(self.email)
        return True

    def order_and_pay(self, k):
        domain = f"c{self.n}-{k}-{random.randrange(10**6)}.lab.example"
        if self.get_page("page", "/store/products/1") is None:
            return
        added = self.post_until("cart", "/cart/items",
                                {"product_id": "1", "cycle": "monthly", "quantity": "1", "domain": domain},
                                lambda r: r.status_code == 303)
        if added is None:
            return
        checkout = self.get_page("page", "/checkout")
        if checkout is None:
            return
        key = form_fields(checkout.text, "/checkout").get("key")
        if not key:
            return
        placed = self.post_until("checkout", "/checkout", {"payment_method": "stripe", "key": key},
                                 lambda r: r.status_code == 303, idempotent=True)
        if placed is None or "checkout.stripe.com" not in placed.headers.get("location", ""):
            return
        sid = placed.headers["location"].rsplit("/", 1)[-1]
        with self.record.lock:
            self.record.orders[key] = sid
        with Stripe.lock:
            session = Stripe.sessions.get(sid)
        if session is None:
            return
        self.invoices.append(session["invoice"])
        # The customer paid on Stripe's page; Stripe tells us, and retries until we answer 200.
        event_id, body, signature = stripe_event(sid, session)
        for copy in range(2 if random.random() < 0.2 else 1):
            for _ in range(120):
                answer = self.call("webhook", "POST", "/webhooks/stripe", True, data=body,
                                   headers={"content-type": "application/json", "stripe-signature": signature})
                if answer is not None and answer.status_code == 200:
                    if copy == 0:
                        with self.record.lock:
                            self.record.events[event_id] = int(session["payment"])
                    break
                time.sleep(0.5)

    def browse(self):
        account = self.get_page("page", "/account")
        if account is not None and account.status_code in (302, 303) and "/login" in account.headers.get("location", ""):
            with self.record.lock:
                self.record.session_lost[self.record.step] += 1
        if self.invoices:
            invoice = random.choice(self.invoices)
            self.get_page("page", f"/account/invoices/{invoice}")
            pdf = self.call("pdf", "GET", f"/account/invoices/{invoice}/pdf", True)
            if pdf is None or pdf.status_code != 200 or not pdf.content.startswith(b"%PDF"):
                with self.record.lock:
                    self.record.files_unreadable[self.record.step] += 1

    def run(self):
        if not self.register():
            return
        k = 0
        while time.time() < self.until():
            k += 1
            self.order_and_pay(k)
            self.browse()
            time.sleep(random.uniform(0.1, 0.5))


# --- the database's view ----------------------------------------------------------------


def db(url):
    return psycopg2.connect(url, connect_timeout=3)


def run_once(url, sql, params=()):
    """One statement in its own connection and transaction; its rows, if any."""
    conn = db(url)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall() if cur.description else []
    finally:
        conn.close()


def query(url, sql, params=()):
    """`run_once`, tried again for a minute while the database is unreachable."""
    last = None
    for _ in range(60):
        try:
            return run_once(url, sql, params)
        except psycopg2.OperationalError as err:
            last = err
            time.sleep(1)
    raise RuntimeError(f"the database did not answer ({last}): {sql}")


def settle(url, timeout=120):
    """Waits for the queue to run what the load left (payment events, accepted orders)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        open_jobs = query(url, "SELECT COUNT(*) FROM jobs WHERE status IN ('pending', 'running')")[0][0]
        unprocessed = query(url, "SELECT COUNT(*) FROM payment_events WHERE processed_at IS NULL")[0][0]
        if open_jobs == 0 and unprocessed == 0:
            return True
        time.sleep(1)
    return False


# What must never be there twice: (table, key, rows considered, what it means).
DOUBLES = [
    ("invoice_lines", "service_id, period_start", "service_id IS NOT NULL AND period_start IS NOT NULL",
     "(service, period) pairs invoiced"),
    ("payment_events", "gateway, event_id", "", "gateway events stored"),
    ("payments", "gateway, gateway_ref", "gateway_ref IS NOT NULL", "gateway payments recorded"),
    ("automation_runs", "task, run_date", "status = 'done'", "daily-run tasks done"),
]


def check(url, record):
    """Lost or doubled: the problems found, as text."""
    with record.lock:
        orders, events = dict(record.orders), dict(record.events)
    problems = []
    if orders:
        found = dict(query(url, "SELECT idempotency_key, COUNT(*) FROM orders WHERE idempotency_key = ANY(%s) "
                                "GROUP BY idempotency_key", (list(orders),)))
        lost = [k for k in orders if found.get(k, 0) == 0]
        doubled = [k for k, n in found.items() if n > 1]
        if lost:
            problems.append(f"{len(lost)} acknowledged orders missing")
        if doubled:
            problems.append(f"{len(doubled)} orders placed twice")
    if events:
        stored = dict(query(url, "SELECT event_id, COUNT(*) FROM payment_events WHERE gateway = 'stripe' "
                                 "AND event_id = ANY(%s) GROUP BY event_id", (list(events),)))
        lost = [e for e in events if stored.get(e, 0) == 0]
        if lost:
            problems.append(f"{len(lost)} acknowledged webhooks missing")
        applied = dict(query(url, "SELECT p.id, COUNT(ip.id) FROM payments p LEFT JOIN invoice_payments ip "
                                  "ON ip.payment_id = p.id WHERE p.id = ANY(%s) GROUP BY p.id",
                             (list(events.values()),)))
        not_applied = [p for p in events.values() if applied.get(p, 0) == 0]
        twice = [p for p, n in applied.items() if n > 1]
        if not_applied:
            problems.append(f"{len(not_applied)} acknowledged payments not applied")
        if twice:
            problems.append(f"{len(twice)} payments applied more than once")
    for table, key, only, what in DOUBLES:
        where = f"WHERE {only} " if only else ""
        n = query(url, f"SELECT COUNT(*) FROM (SELECT {key} FROM {table} {where}"
                       f"GROUP BY {key} HAVING COUNT(*) > 1) d")[0][0]
        if n:
            problems.append(f"{n} {what} twice")
    return problems, len(orders), len(events)


# --- setting the shop up ----------------------------------------------------------------


def staff_session(base):
    http = requests.Session()
    page = http.get(base + "/admin/login", timeout=30)
    login = http.post(base + "/admin/login", allow_redirects=False, timeout=30, data={
        "email": STAFF[0], "password": STAFF[1], "csrf_token": csrf_token(page.text)})
    if login.status_code != 303:
        raise RuntimeError(f"staff sign-in failed: {login.status_code} {login.text[:300]}")
    return http


def submit(http, base, page_path, action, changes):
    """Loads a page, fills its form with `changes` and sends it."""
    page = http.get(base + page_path, timeout=30)
    fields = form_fields(page.text, action)
    fields.update(changes)
    fields["csrf_token"] = csrf_token(page.text)
    answer = http.post(base + action, data=fields, allow_redirects=False, timeout=30)
    if answer.status_code not in (302, 303):
        raise RuntimeError(f"{action}: {answer.status_code} {answer.text[:500]}")
    return answer


def set_up_shop(base):
    http = staff_session(base)
    submit(http, base, "/admin/settings/billing", "/admin/settings/billing", {
        "company_name": "Lab Hosting Ltd", "address": "1 Loopback Road\nLocalhost", "country": "DE",
        "email": "billing@lab.example", "default_due_days": "14"})
    post = lambda path, data: http.post(base + path, allow_redirects=False, timeout=30,
                                        data=dict(data, csrf_token=csrf_token(http.get(base + "/admin").text)))
    post("/admin/tax-rules", {"name": "VAT", "country": "DE", "rate": "19", "level": "1"})
    post("/admin/currencies", {"code": "EUR", "rate": "0.92"})
    post("/admin/currencies/EUR/default", {})
    post("/admin/catalog/groups", {"name": "Hosting", "headline": "Fast hosting", "visible": "on"})
    post("/admin/catalog/products", {"group_id": "1", "name": "Web Starter", "product_type": "shared_hosting",
                                     "payment_type": "recurring", "taxable": "on", "module": "none"})
    post("/admin/catalog/products/1/prices", {"price.EUR.monthly": "10.00", "setup.EUR.monthly": "5"})
    submit(http, base, "/admin/settings/gateways/stripe", "/admin/settings/gateways/stripe", {
        "enabled": "on", "display_name": "Card", "currencies": "EUR", "test_mode": "on",
        "secret_key": "sk_test_lab", "webhook_secrets": WEBHOOK_SECRET})
    return http


# --- the steps --------------------------------------------------------------------------


def wait_for(what, predicate, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            value = predicate()
        except Exception:  # noqa: BLE001 - anything failing means "not yet"
            value = None
        if value:
            return value
        time.sleep(0.2)
    raise RuntimeError(f"timed out waiting for {what}")


def first_write_after(record, since):
    """Seconds from `since` until a write started after it was acknowledged."""
    with record.lock:
        done = [ended for (_, kind, _, ok, started, ended, _) in record.requests
                if ok and kind in ("checkout", "webhook", "cart", "register") and started >= since]
    return (min(done) - since) if done else None


def node_of_pid(pid):
    for n in (1, 2, 3):
        try:
            with open(os.path.join(os.environ["HWLAB"], "run", f"app{n}.pid")) as f:
                if int(f.read().strip()) == pid:
                    return n
        except (OSError, ValueError):
            continue
    return None


def step_app_kill(ctx):
    infra("app_kill", "2")
    time.sleep(10)
    infra("app_start", "2")
    return {}


def step_scheduler_kill(ctx):
    url = ctx["pg"]
    # Today's run already went by when the nodes started (nothing was due then): make it due
    # again, now that thousands of services are.
    query(url, "DELETE FROM automation_runs WHERE run_date = CURRENT_DATE RETURNING id")
    started = time.time()
    holder = wait_for("a node to take the scheduler lease", lambda: (query(
        url, "SELECT holder, token FROM leases WHERE name = 'scheduler' AND expires_ms > "
             "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)") or [None])[0], 60)
    pid = int(holder[0].split(":")[1])
    node = node_of_pid(pid)
    if node is None:
        raise RuntimeError(f"the lease holder {holder[0]} is not one of the lab's nodes")
    killed = time.time()
    infra("app_kill", str(node))
    taken = wait_for("another node to take the lease over", lambda: (query(
        url, "SELECT holder FROM leases WHERE name = 'scheduler' AND token > %s", (holder[1],)) or [None])[0], 120)
    takeover = time.time() - killed
    wait_for("the daily run to finish", lambda: query(
        url, "SELECT COUNT(*) FROM leases WHERE name = 'scheduler' AND expires_ms > "
             "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)")[0][0] == 0, 300)
    renewals = query(url, "SELECT COUNT(*) FROM invoice_lines WHERE kind = 'renewal'")[0][0]
    infra("app_start", str(node))
    return {"lease taken after s": round(killed - started, 1),
            "killed node": f"app{node} ({holder[0]}, token {holder[1]})", "taken over by": taken[0],
            "seconds until another node ran it": round(takeover, 1), "renewal lines": renewals}


def step_pg_kill(ctx):
    old = infra("pg_primary_name", capture=True)
    infra("pg_kill_primary")
    killed = time.time()
    probe = None
    while time.time() - killed < 60:
        try:
            run_once(ctx["pg"], "INSERT INTO lab_probe (at) VALUES (now())")
            probe = time.time() - killed
            break
        except psycopg2.Error:
            time.sleep(0.1)
    time.sleep(8)
    app_writes = first_write_after(ctx["record"], killed)
    infra("pg_start", old)
    return {"killed primary": old, "database writes back after s": round(probe, 1) if probe else "never",
            "first client write acknowledged after s": round(app_writes, 1) if app_writes else "none"}


def step_rolling(ctx):
    for n in (1, 2, 3):
        infra("app_stop", str(n))
        infra("app_start", str(n))
        time.sleep(3)
    return {}


def step_garage(ctx):
    infra("garage_kill", "2")
    time.sleep(20)
    infra("garage_start", "2")
    return {}


def summary(record, step):
    with record.lock:
        rows = [r for r in record.requests if r[0] == step]
        lost_sessions = record.session_lost[step]
        unreadable = record.files_unreadable[step]
        unanswered = [line for s, line in record.unanswered if s == step]
    by_kind = defaultdict(lambda: [0, Counter()])
    for _, kind, _, ok, _, _, status in rows:
        by_kind[kind][0] += 1
        if not ok:
            by_kind[kind][1][status] += 1
    failed_idempotent = sum(1 for r in rows if r[2] and not r[3])
    failed_other = sum(1 for r in rows if not r[2] and not r[3])
    def failed(statuses):
        if not statuses:
            return "0 failed"
        detail = ", ".join(f"{n}x {s}" for s, n in sorted(statuses.items(), key=str))
        return f"{sum(statuses.values())} failed: {detail}"

    kinds = "; ".join(f"{k} {n}, {failed(f)}" for k, (n, f) in sorted(by_kind.items()))
    detail = "".join(f"\n    no answer at {line}" for line in unanswered)
    return (f"requests {len(rows)} ({kinds}); failed idempotent {failed_idempotent}, failed other "
            f"{failed_other}; sessions lost {lost_sessions}; unreadable PDFs {unreadable}{detail}"), failed_idempotent


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default=os.environ.get("HWLAB_BASE_URL", "http://127.0.0.1:18080"))
    parser.add_argument("--pg", default=os.environ.get("HWLAB_PG_URL", "postgres://postgres:pgpass@127.0.0.1:15000/hostwright"))
    parser.add_argument("--stripe-port", type=int, default=int(os.environ.get("HWLAB_STRIPE_PORT", "18090")))
    parser.add_argument("--customers", type=int, default=12)
    parser.add_argument("--services", type=int, default=20000, help="services due today for the daily run")
    parser.add_argument("--settle", type=int, default=15, help="seconds of load between steps")
    parser.add_argument("--garage-nodes", type=int, default=int(os.environ.get("HWLAB_GARAGE_NODES", "1")))
    args = parser.parse_args()

    server = http.server.ThreadingHTTPServer(("127.0.0.1", args.stripe_port), StripeHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    wait_for("the balancer to route to the app nodes",
             lambda: requests.get(args.base + "/readyz", timeout=5).status_code == 200, 60)
    # Each part once, so a lab can be run again.
    if not query(args.pg, "SELECT id FROM staff LIMIT 1"):
        infra("app_admin_create", STAFF[0], STAFF[1])
    if not query(args.pg, "SELECT id FROM products WHERE name = 'Web Starter'"):
        set_up_shop(args.base)
    if not query(args.pg, "SELECT id FROM services LIMIT 1"):
        # Services falling due today, for the daily run the scheduler step starts and interrupts.
        today = time.strftime("%Y-%m-%d", time.gmtime())
        hostwright("dev", "seed-services", "--services", str(args.services), "--clients", "200",
                   "--start", today, "--due-fraction", "1")
    staff = staff_session(args.base)
    query(args.pg, "CREATE TABLE IF NOT EXISTS lab_probe (id BIGSERIAL PRIMARY KEY, at TIMESTAMPTZ)")
    record = Record()
    stop_at = [time.time() + 3600]
    customers = [Customer(n, args.base, record, lambda: stop_at[0]) for n in range(args.customers)]
    for c in customers:
        c.start()
    ctx = {"pg": args.pg, "staff": staff, "base": args.base, "record": record}
    steps = [("app node killed (SIGKILL) and restarted", step_app_kill),
             ("scheduler lease holder's node killed", step_scheduler_kill),
             ("PostgreSQL primary killed (Patroni + postmaster, SIGKILL)", step_pg_kill),
             ("rolling restart of every app node (SIGTERM)", step_rolling)]
    if args.garage_nodes >= 3:
        steps.append(("Garage node killed while PDFs are written", step_garage))

    time.sleep(args.settle)
    failures = 0
    report = []
    for name, run in steps:
        with record.lock:
            record.step = name
        print(f"\n=== {name}", flush=True)
        started = time.time()
        try:
            facts = run(ctx)
        except Exception as err:  # noqa: BLE001 - a step that could not run is a failed lab
            facts = {"step failed": str(err)}
            failures += 1
        time.sleep(args.settle)
        with record.lock:
            record.step = f"after: {name}"
        settle(args.pg)
        problems, n_orders, n_events = check(args.pg, record)
        text, failed_idempotent = summary(record, name)
        facts["took s"] = round(time.time() - started, 1)
        for k, v in facts.items():
            print(f"  {k}: {v}")
        print(f"  {text}")
        print(f"  acknowledged so far: {n_orders} orders, {n_events} payments; "
              f"{'lost or doubled: ' + '; '.join(problems) if problems else 'nothing lost or doubled'}")
        report.append({"step": name, "facts": facts, "summary": text, "problems": problems})
        failures += len(problems)

    stop_at[0] = time.time()
    for c in customers:
        c.join(timeout=90)
    settle(args.pg)
    problems, n_orders, n_events = check(args.pg, record)
    failures += len(problems)
    with record.lock:
        total = len(record.requests)
        failed = sum(1 for r in record.requests if not r[3])
        clients = len(record.clients)
    print(f"\n=== total: {total} requests, {failed} failed; {clients} customers, {n_orders} orders and "
          f"{n_events} payments acknowledged; {'; '.join(problems) if problems else 'nothing lost or doubled'}")
    with open(os.path.join(os.environ.get("HWLAB", "/tmp"), "chaos-report.json"), "w") as f:
        json.dump(report, f, indent=2)
    server.shutdown()
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
