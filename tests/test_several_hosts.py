"""The site as several hosts run it: nginx (deploy/nginx.conf, TLS) in front of two app servers
(gunicorn, gunicorn.conf.py), each with its own outbox worker, sharing one PostgreSQL database
and Redis for the rate limits. Everything goes through real HTTP:

- twelve clinicians accept twelve people at once for a six-seat cohort: exactly six get a seat;
- an application sent through one host is seen on the other;
- rate limits are counted across hosts (Redis);
- a seat taken through one host shows on the other's next poll (the page number is shared);
- every email is sent exactly once, though two workers share the outbox.

Needs nginx, redis-server and PostgreSQL (RESILIENCE_TEST_DATABASE_URL); runs when
RESILIENCE_TEST_HOSTS=1 (as .ci/run does), and is skipped otherwise.
"""
import datetime
import http.cookiejar
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import TEST_DATABASE_URL, SMTPServer, answers

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PASSWORD = "a long enough password for the hosts test"

pytestmark = pytest.mark.skipif(os.environ.get("RESILIENCE_TEST_HOSTS") != "1",
                                reason="several hosts: set RESILIENCE_TEST_HOSTS=1 (needs nginx, redis-server, PostgreSQL)")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, log: Path, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port}:\n{log.read_text()[-3000:]}")


def certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, for nginx's TLS."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=2)).sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def nginx_config(folder: Path, https: int, http: int, apps: list[int]) -> Path:
    """deploy/nginx.conf as it is, with this test's ports, certificate and log file, inside a
    minimal nginx.conf of its own."""
    cert, key = certificate(folder)
    site = (ROOT / "deploy" / "nginx.conf").read_text()
    upstreams = re.findall(r"^\s*server 10\.0\.0\.\d+:8000[^\n]*\n", site, re.MULTILINE)
    assert len(upstreams) == 2, "deploy/nginx.conf names two app servers"
    site = site.replace(upstreams[0], "".join(f"    server 127.0.0.1:{port} max_fails=2 fail_timeout=10s;\n"
                                              for port in apps)).replace(upstreams[1], "")
    site = re.sub(r"^\s*listen \[::\].*\n", "", site, flags=re.MULTILINE)
    site = site.replace("listen 80;", f"listen 127.0.0.1:{http};")
    site = site.replace("listen 443 ssl", f"listen 127.0.0.1:{https} ssl")
    site = re.sub(r"ssl_certificate\s+\S+;", f"ssl_certificate {cert};", site)
    site = re.sub(r"ssl_certificate_key\s+\S+;", f"ssl_certificate_key {key};", site)
    site = site.replace("/var/log/nginx/resilience.access.log", str(folder / "access.log"))
    (folder / "site.conf").write_text(site)
    temp = "\n".join(f"  {kind}_temp_path {folder / kind};" for kind in ("client_body", "proxy", "fastcgi",
                                                                        "uwsgi", "scgi"))
    main = folder / "nginx.conf"
    main.write_text(f"""daemon off;
user root;
worker_processes 1;
pid {folder / 'nginx.pid'};
error_log {folder / 'error.log'};
events {{ worker_connections 256; }}
http {{
{temp}
  include {folder / 'site.conf'};
}}
""")
    return main


class SecureCookiesToo(http.cookiejar.DefaultCookiePolicy):
    def return_ok_secure(self, cookie, request):
        return True  # (talking to an app server as its proxy would, after TLS)


class Browser:
    """One person's browser: cookies, and the CSRF token of the last page it read. Given an app
    server's own address, it talks to it as nginx would (X-Forwarded-Proto: https)."""

    def __init__(self, base: str, address: str = "127.0.0.1"):
        self.base = base
        self.address = address  # where the person is (their own connection)
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar(SecureCookiesToo())),
            urllib.request.HTTPSHandler(context=context), NoRedirects())
        self.token = None

    def request(self, path: str, data: dict | None = None, headers: dict | None = None):
        body = urllib.parse.urlencode({**data, "csrf_token": self.token}).encode() if data is not None else None
        # A browser sends the page it is on (over HTTPS the site's CSRF check insists on it).
        origin = self.base.replace("http://", "https://")
        proxy = {"X-Forwarded-Proto": "https", "X-Forwarded-For": self.address} if self.base.startswith("http:") else {}
        request = urllib.request.Request(self.base + path, data=body,
                                         headers={"Referer": origin + "/", **proxy, **(headers or {})})
        try:
            with self.opener.open(request, timeout=30) as response:
                status, text = response.status, response.read().decode()
                reply_headers = dict(response.headers)
        except urllib.error.HTTPError as error:
            status, text, reply_headers = error.code, error.read().decode(errors="replace"), dict(error.headers)
        field = re.search(r'<input[^>]*name="csrf_token"[^>]*>', text)
        if field:
            self.token = re.search(r'value="([^"]+)"', field[0])[1]
        return status, text, reply_headers

    def sign_in(self, email: str) -> None:
        self.request("/admin/login")
        status, text, _ = self.request("/admin/login", {"email": email, "password": PASSWORD})
        assert status == 303, text[-2000:]
        self.request("/admin/")  # a token for this session


class NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


@pytest.fixture
def hosts(tmp_path):
    if not TEST_DATABASE_URL or not TEST_DATABASE_URL.startswith("postgresql"):
        pytest.fail("RESILIENCE_TEST_DATABASE_URL must name a PostgreSQL database this test may wipe")
    for program in ("nginx", "redis-server"):
        if not shutil.which(program) and not Path(f"/usr/sbin/{program}").exists():
            pytest.fail(f"{program} is not installed (apt-get install nginx-light redis-server)")
    processes = []

    def start(name, args, env=None, port=None):
        log = tmp_path / f"{name}.log"
        process = subprocess.Popen(args, stdout=log.open("w"), stderr=subprocess.STDOUT, env=env, cwd=ROOT,
                                   start_new_session=True)
        processes.append(process)
        if port:
            wait_for_port(port, process, log)
        return process

    smtp = SMTPServer()
    smtp.start()
    engine = sa.create_engine(TEST_DATABASE_URL)
    try:
        yield from _run_hosts(tmp_path, start, smtp, engine)
    finally:
        for process in processes:
            try:
                os.killpg(process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        smtp.stop()
        with engine.begin() as connection:
            connection.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        engine.dispose()


def _run_hosts(tmp_path, start, smtp, engine):
    """Start Redis, prepare the database, then two app servers with their outbox workers and nginx."""
    redis_port, https, http_port = free_port(), free_port(), free_port()
    app_ports = [free_port(), free_port()]
    start("redis", [shutil.which("redis-server") or "/usr/bin/redis-server", "--port", str(redis_port),
                    "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], port=redis_port)
    env = {**os.environ, "RESILIENCE_ENV": "production", "RESILIENCE_SECRET_KEY": "several-hosts-secret",
           "RESILIENCE_DATA_KEY": "vYyv6n0yBvUQ4x3UQrj1S2Lk0Xz1mC5Uq8d9q2Jv0mA=",
           "RESILIENCE_SQLALCHEMY_DATABASE_URI": TEST_DATABASE_URL,
           "RESILIENCE_PUBLIC_URL": f"https://127.0.0.1:{https}",
           "RESILIENCE_TRUSTED_HOSTS": '["127.0.0.1"]',
           "RESILIENCE_RATELIMIT_STORAGE_URI": f"redis://127.0.0.1:{redis_port}",
           "RESILIENCE_PROXY_COUNT": "1", "RESILIENCE_MAIL_SERVER": "127.0.0.1",
           "RESILIENCE_MAIL_PORT": str(smtp.port), "RESILIENCE_ADMIN_EMAILS": "ana@practice.example",
           "WEB_CONCURRENCY": "2"}
    env.pop("RESILIENCE_NOW", None)
    flask = [str(BIN / "flask"), "--app", "resilience"]
    host_env = [{**env, "RESILIENCE_INSTANCE_PATH": str(tmp_path / f"host-{n}")} for n in (1, 2)]

    def run(*args, stdin=None):
        result = subprocess.run([*flask, *args], env=host_env[0], cwd=ROOT, input=stdin, capture_output=True,
                                text=True, timeout=120, check=False)
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    with engine.begin() as connection:
        connection.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    run("init-db")
    run("seed-demo")
    for email in ("ana@practice.example", "ben@practice.example"):
        run("create-admin", email, "--password-stdin", stdin=PASSWORD + "\n")
    for n, port in enumerate(app_ports):
        start(f"app-{n + 1}", [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py"],
              {**host_env[n], "BIND": f"127.0.0.1:{port}"}, port)
        start(f"outbox-{n + 1}", [*flask, "outbox", "send", "--loop", "--poll", "0.5"], host_env[n])
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    start("nginx", [nginx, "-c", str(nginx_config(tmp_path, https, http_port, app_ports))], port=https)
    with engine.connect() as connection:
        slug = connection.execute(sa.text("SELECT slug FROM cohort")).scalar_one()
    yield {"site": f"https://127.0.0.1:{https}", "apps": [f"http://127.0.0.1:{p}" for p in app_ports],
           "slug": slug, "engine": engine, "smtp": smtp, "folder": tmp_path}


def application_form(slug: str, email: str) -> dict:
    return {"cohort": slug, "first_name": "Alex", "last_name": "Morgan", "email": email,
            "phone": "+1 207 555 0100", "home_area": "Portland, ME", **answers(), "knows_applicants": "",
            "ack_not_acceptance": "y", "ack_commitment": "y", "ack_adult": "y", "ack_not_emergency": "y",
            "consent_health": "y", "submission_id": f"hosts-{email}"}


def seats_line(text: str) -> str:
    return re.search(r"\d+ of \d+ seats open|all seats taken", text)[0]


def test_two_app_servers_behind_nginx_share_everything(hosts):
    site, (host_a, host_b), slug, engine = hosts["site"], hosts["apps"], hosts["slug"], hosts["engine"]

    # Twelve people apply through nginx (round robin: both hosts take some).
    for n in range(12):
        person = Browser(site)
        status, text, _ = person.request(f"/apply?cohort={slug}")
        assert status == 200, text[-1500:]
        status, text, _ = person.request("/apply", application_form(slug, f"person{n}@example.org"))
        assert status == 303, (status, re.findall(r'role="alert".{0,500}', text, re.DOTALL)[:1])

    # Sent through one host, seen on the other: both list all twelve.
    clinician = Browser(host_a, address="10.0.1.1")
    clinician.sign_in("ana@practice.example")
    ids = re.findall(r'href="/admin/applications/(\d+)"', clinician.request(f"/admin/applications?cohort={slug}")[1])
    assert len(set(ids)) == 12
    other = Browser(host_b, address="10.0.1.2")
    other.sign_in("ben@practice.example")
    assert set(re.findall(r'href="/admin/applications/(\d+)"',
                          other.request(f"/admin/applications?cohort={slug}")[1])) == set(ids)

    # Both hosts show the same seats, and keep them: a poll with the ETag gets a 304.
    polls = [Browser(host) for host in (host_a, host_b)]
    first = [p.request(f"/cohorts/{slug}/availability", headers={"HX-Request": "true"}) for p in polls]
    assert [seats_line(text) for _, text, _ in first] == ["6 of 6 seats open"] * 2
    etags = {headers["ETag"] for _, _, headers in first}
    assert len(etags) == 1
    etag = etags.pop()
    for p in polls:
        assert p.request(f"/cohorts/{slug}/availability", headers={"HX-Request": "true",
                                                                   "If-None-Match": etag})[0] == 304

    # Twelve clinicians' browsers accept twelve people at once, through nginx: exactly six seats.
    browsers = []
    for n in range(12):  # twelve people, each on their own connection, signed in on either host
        browser = Browser((host_a, host_b)[n % 2], address=f"10.0.0.{n + 1}")
        browser.sign_in(("ana", "ben")[n % 2] + "@practice.example")
        browser.base = site  # then everything through nginx (the session is in the shared database)
        browsers.append(browser)
    start = threading.Barrier(12)
    results = {}

    def accept(browser, application_id):
        start.wait()
        results[application_id] = browser.request(f"/admin/applications/{application_id}/status",
                                                  {"status": "accepted", "evaluated": "y"})[0]

    threads = [threading.Thread(target=accept, args=pair) for pair in zip(browsers, sorted(set(ids)))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Six done (303), six refused with the question asked again (422: the cohort is full now).
    assert sorted(results.values()) == [303] * 6 + [422] * 6, results
    with engine.connect() as connection:
        statuses = connection.execute(sa.text("SELECT status, COUNT(*) FROM application GROUP BY status")).all()
    assert dict(statuses) == {"accepted": 6, "pending": 6}

    # The seats taken show on both hosts' next poll.
    for p in polls:
        status, text, _ = p.request(f"/cohorts/{slug}/availability",
                                    headers={"HX-Request": "true", "If-None-Match": etag})
        assert status == 200 and "All 6 seats are taken" in text

    # Rate limits are counted across hosts: one address, ten sends an hour, wherever they land.
    answers_seen = []
    for n in range(11):
        sender = Browser((host_a, host_b)[n % 2])
        sender.request(f"/apply?cohort={slug}")
        answers_seen.append(sender.request("/apply", application_form(slug, "again@example.org"))[0])
    assert answers_seen[:10].count(429) == 0 and answers_seen[10] == 429, answers_seen

    # Every email goes exactly once, though two workers share the outbox.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with engine.connect() as connection:
            waiting = connection.execute(sa.text("SELECT COUNT(*) FROM outbox_message WHERE status != 'sent'")).scalar()
        if not waiting:
            break
        time.sleep(0.5)
    assert waiting == 0
    time.sleep(1)  # (any duplicate would be on its way by now)
    with engine.connect() as connection:
        sent = connection.execute(sa.text("SELECT COUNT(*) FROM outbox_message")).scalar()
    ids_seen = [message["Message-ID"] for _, message in hosts["smtp"].messages]
    assert len(ids_seen) == sent and len(set(ids_seen)) == sent
    assert sent >= 12 + 6  # each application's "received" and each offer, at least

    # A private link reaches no log file: not nginx's, not the app servers'.
    with engine.connect() as connection:
        token = connection.execute(sa.text("SELECT token FROM application LIMIT 1")).scalar_one()
    assert Browser(site).request(f"/status/{token}")[0] == 200
    time.sleep(0.5)
    logs = {path.name: path.read_text() for path in hosts["folder"].glob("*.log")}
    assert "/status/[token]" in logs["access.log"]
    assert [name for name, text in logs.items() if token in text] == []
