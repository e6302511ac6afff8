"""The benchmark behind bench/run: see bench/run --help. Not a test; it prints figures.

Seeds throw-away instance folders (bench/seed.py), serves each with gunicorn and
gunicorn.conf.py (2 sync workers), loads it with wrk, and compares every page with a bare
Flask "hello" under the very same settings. Every process it starts is stopped on the way
out, also after Ctrl-C or a failure.
"""
import argparse
import gzip
import multiprocessing
import os
import platform
import re
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from contextlib import closing
from datetime import UTC, datetime
from http.cookiejar import CookieJar
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))

import seed as seeding

BIN = Path(sys.executable).parent
WORKERS = 2
CHILDREN: list[subprocess.Popen] = []


# --- processes --------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(command: list[str], log: Path, env: dict | None = None) -> subprocess.Popen:
    """A child in its own process group, so stopping it stops its workers too."""
    process = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **(env or {})}, stdout=log.open("ab"),
                               stderr=subprocess.STDOUT, start_new_session=True)
    CHILDREN.append(process)
    return process


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=25)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        except ProcessLookupError:
            pass
    if process in CHILDREN:
        CHILDREN.remove(process)


def stop_all(*_args) -> None:
    while CHILDREN:
        stop(CHILDREN[-1])


def gunicorn(app: str, port: int, log: Path, env: dict | None = None) -> subprocess.Popen:
    """gunicorn with gunicorn.conf.py, 2 sync workers, on a loopback port; waits until it answers."""
    process = start([str(BIN / "gunicorn"), "-c", str(ROOT / "gunicorn.conf.py"), "--pythonpath", str(ROOT / "bench"),
                     app], log, {"WEB_CONCURRENCY": str(WORKERS), "BIND": f"127.0.0.1:{port}", **(env or {})})
    deadline = time.time() + 60
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn stopped at once; see {log}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5).read()
            return process
        except urllib.error.HTTPError:
            return process
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"gunicorn did not answer within a minute; see {log}")


def site_env(folder: Path) -> dict:
    return {"RESILIENCE_INSTANCE_PATH": str(folder), "RESILIENCE_SECRET_KEY": seeding.SECRET_KEY,
            "RESILIENCE_DATA_KEY": seeding.DATA_KEY, "RESILIENCE_RATELIMIT_ENABLED": "false"}


# --- wrk ----------------------------------------------------------------------------------------

UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def wrk(url: str, seconds: int, headers: dict | None = None) -> dict:
    status = fetch(url, headers)[0]  # what one such request answers (a 302 to the login page would be cheap)
    command = ["wrk", "-t2", "-c8", f"-d{seconds}s", "--latency", "--timeout", "10s"]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    out = subprocess.run(command + [url], capture_output=True, text=True, check=True).stdout

    def latency(percent):
        found = re.search(rf"^\s+{percent}%\s+([\d.]+)(us|ms|s)\s*$", out, re.MULTILINE)
        return float(found[1]) * UNITS[found[2]] if found else float("nan")

    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return {"status": status, "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1]), "p50": latency(50), "p99": latency(99),
            "bad": int(bad[1]) if bad else 0, "socket_errors": errors[1] if errors else ""}


def first_loads(url: str, headers: dict) -> float:
    """Warm every worker before wrk measures (2 requests per worker, all at once): returns the
    slowest of these first answers, in ms: a new worker's first load, or a request that waited
    behind one in the same worker (so an upper bound). nan if none was answered."""
    times = []

    def one():
        started = time.perf_counter()
        try:
            fetch(url, headers)
        except OSError:  # a timeout or a refused connection: no figure
            return
        times.append((time.perf_counter() - started) * 1000)

    threads = [threading.Thread(target=one) for _ in range(2 * WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return max(times, default=float("nan"))


# --- HTTP helpers -------------------------------------------------------------------------------

def fetch(url: str, headers: dict | None = None, opener=None) -> tuple[int, dict, bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with (opener or urllib.request.build_opener()).open(request, timeout=30) as response:
            return response.status, dict(response.headers.items()), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers.items()), error.read()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def sign_in(base: str) -> str:
    """Sign in as the seeded clinician; returns the Cookie header that carries the session."""
    jar = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect())
    _, _, page = fetch(base + "/admin/login", opener=opener)
    token = re.search(rb'name="csrf_token"[^>]*value="([^"]+)"', page) or re.search(
        rb'value="([^"]+)"[^>]*name="csrf_token"', page)
    data = urllib.parse.urlencode({"csrf_token": token[1].decode(), "email": seeding.EMAIL,
                                   "password": seeding.PASSWORD}).encode()
    request = urllib.request.Request(base + "/admin/login", data=data)
    try:
        opener.open(request, timeout=30)
    except urllib.error.HTTPError as error:
        if error.code not in (302, 303):
            raise RuntimeError(f"signing in answered {error.code}") from None
    cookie = "; ".join(f"{c.name}={c.value}" for c in jar)
    status, _, _ = fetch(base + "/admin/", {"Cookie": cookie}, opener=opener)
    if status != 200:
        raise RuntimeError(f"signed in, but /admin/ answered {status}")
    return cookie


def decoded(headers: dict, body: bytes) -> bytes:
    encoding = {k.lower(): v for k, v in headers.items()}.get("content-encoding", "")
    if encoding == "br":
        import brotli
        return brotli.decompress(body)
    if encoding == "gzip":
        return gzip.decompress(body)
    return body


def page_weight(base: str) -> dict:
    """GET / and every asset it links (and the CSS links), as a browser that accepts br and gzip."""
    accept = {"Accept-Encoding": "br, gzip"}
    status, headers, body = fetch(base + "/", accept)
    rows = [("/", status, len(body), {k.lower(): v for k, v in headers.items()}.get("content-encoding", "-"))]
    html = decoded(headers, body).decode()
    links = re.findall(r'<(?:link|script|img|source)\b[^>]*?\b(?:href|src)="([^"]+)"', html)
    seen, queue = {"/"}, [urllib.parse.urljoin(base + "/", link) for link in links]
    while queue:
        url = queue.pop(0)
        if not url.startswith(base) or url in seen or "/apply" in url or "/cohorts/" in url and "availab" not in url:
            continue  # other sites, and pages the program page only links to
        path = url[len(base):]
        if not re.search(r"\.(css|js|svg|png|ico|jpg|jpeg|webp|woff2?|webmanifest)(\?|$)", path):
            continue
        seen.add(url)
        status, headers, body = fetch(url, accept)
        lower = {k.lower(): v for k, v in headers.items()}
        rows.append((path, status, len(body), lower.get("content-encoding", "-")))
        if path.split("?")[0].endswith(".css"):
            for link in re.findall(r'url\(["\']?([^"\')]+)["\']?\)', decoded(headers, body).decode()):
                if not link.startswith("data:"):
                    queue.append(urllib.parse.urljoin(url, link))
    return {"rows": rows, "bytes": sum(r[2] for r in rows), "requests": len(rows)}


def newest(folder: Path, slug: str) -> int:
    """The newest application to this cohort: its page is timed (with the cohort's other applicants)."""
    with closing(sqlite3.connect(folder / "resilience.sqlite3")) as database:
        return database.execute("SELECT max(application.id) FROM application JOIN cohort ON cohort.id = "
                                "application.cohort_id WHERE cohort.slug = ?", (slug,)).fetchone()[0]


# --- apply POST, in a process of its own -------------------------------------------------------

def apply_timing(folder: Path, slug: str, count: int) -> dict:
    """The median server time of a valid application POST on SQLite, with admin emails on: timed
    around the site's WSGI app, as a server calls it (the test client's own work of encoding the
    form and reading the answer is left out, and timed on its own beside it)."""
    from conftest import answers

    from resilience import create_app
    app = create_app({**seeding.site_config(folder), "RATELIMIT_ENABLED": False, "WTF_CSRF_ENABLED": False,
                      "ADMIN_EMAILS": "ana@practice.example, ben@practice.example"})
    times, through_client = [], []
    site = app.wsgi_app

    def timed(environ, start_response):
        started = time.perf_counter()
        try:
            return site(environ, start_response)
        finally:
            times.append((time.perf_counter() - started) * 1000)

    app.wsgi_app = timed
    client = app.test_client()
    for n in range(count):
        data = {"cohort": slug, "submission_id": f"bench-{n:08d}-{time.time_ns()}", "first_name": "Alex",
                "last_name": "Morgan", "pronouns": "they/them", "email": f"bench{n}-{time.time_ns()}@example.org",
                "phone": "+1 207 555 0100", "home_area": "Portland, ME", **answers(), "knows_applicants": "",
                "ack_not_acceptance": "y", "ack_commitment": "y", "ack_adult": "y", "ack_not_emergency": "y",
                "consent_health": "y"}
        data = {k: v for k, v in data.items() if v is not None}
        started = time.perf_counter()
        response = client.post("/apply", data=data)
        through_client.append((time.perf_counter() - started) * 1000)
        if response.status_code not in (302, 303):
            raise RuntimeError(f"the apply POST answered {response.status_code}, not a redirect")
    times.sort()
    return {"n": count, "median": statistics.median(times), "p90": times[int(0.9 * (len(times) - 1))],
            "through_client": statistics.median(through_client)}


# --- the run ------------------------------------------------------------------------------------

def machine() -> str:
    model = "unknown CPU"
    try:
        model = re.search(r"^model name\s*:\s*(.*)$", Path("/proc/cpuinfo").read_text(), re.MULTILINE)[1]
    except (OSError, TypeError):
        pass
    return (f"{os.cpu_count()} CPUs ({os.popen('nproc').read().strip()} usable), {model}; Python "
            f"{platform.python_version()}; {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")


def say(text: str) -> None:
    print(text, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench/run", description=__doc__.split("\n\n")[1].replace("\n", " "))
    parser.add_argument("--quick", action="store_true", help="sizes 50 and 5,000 only, 2 s per wrk run, fewer POSTs")
    parser.add_argument("--keep", action="store_true", help="keep the seeded folders and server logs")
    args = parser.parse_args()
    seconds = 2 if args.quick else 5
    datasets = [("50", 50, 12, False), ("5,000", 5000, 12, False)]
    if not args.quick:
        datasets += [("50,000", 50000, 12, False), ("200 upcoming cohorts", 2000, 200, True)]
    apply_on = max((d for d in datasets if not d[3]), key=lambda d: d[1])[0]  # the most applications
    posts, emails = (50, 500) if args.quick else (200, 2000)

    work = Path(tempfile.mkdtemp(prefix="resilience-bench-"))
    began = time.perf_counter()
    say(f"bench/run{' --quick' if args.quick else ''}: {machine()}\nworking in {work}")
    results, notes, first = {}, [], {}
    try:
        hello_port = free_port()
        gunicorn("hello:app", hello_port, work / "hello.log")
        hello_url = f"http://127.0.0.1:{hello_port}/"
        weight = apply = None
        for name, applications, cohorts, upcoming in datasets:
            folder = work / name.replace(",", "").replace(" ", "-")
            seeded = subprocess.run(
                [sys.executable, str(ROOT / "bench" / "seed.py"), str(folder), str(applications), str(cohorts)]
                + (["--upcoming"] if upcoming else []), check=False, cwd=ROOT, capture_output=True, text=True)
            if seeded.returncode:
                raise RuntimeError(f"seeding failed:\n{seeded.stderr[-3000:]}")
            line = seeded.stdout.strip().splitlines()[-1]
            slug = re.search(r"availability of (\S+)\)", line)[1]
            say(f"[{name}] {line}")
            port = free_port()
            server = gunicorn("resilience:create_app()", port, work / f"{folder.name}.log", site_env(folder))
            base = f"http://127.0.0.1:{port}"
            cookie = sign_in(base)
            fragment = f"{base}/cohorts/{slug}/availability"
            _, headers, _ = fetch(fragment, {"HX-Request": "true"})
            etag = {k.lower(): v for k, v in headers.items()}.get("etag")
            rows = {"hello": wrk(hello_url, seconds)}
            rows["program page /"] = wrk(base + "/", seconds)
            rows["availability fragment"] = wrk(fragment, seconds, {"HX-Request": "true"})
            rows["… with If-None-Match"] = (wrk(fragment, seconds, {"HX-Request": "true", "If-None-Match": etag})
                                            if etag else None)
            for row, path in (("admin dashboard /admin/", "/admin/"),
                              ("admin list /admin/applications", "/admin/applications"),
                              ("an application /admin/…/<id>", f"/admin/applications/{newest(folder, slug)}")):
                first[(name, row)] = first_loads(base + path, {"Cookie": cookie})
                rows[row] = wrk(base + path, seconds, {"Cookie": cookie})
            results[name] = rows
            for row, figures in rows.items():
                if figures and figures["status"] not in (200, 304):
                    notes.append(f"[{name}] {row}: answered {figures['status']}, not 200 or 304")
                if figures and (figures["bad"] or figures["socket_errors"]):
                    notes.append(f"[{name}] {row}: {figures['bad']} responses not 2xx/3xx {figures['socket_errors']}")
                say(f"[{name}] {row:32} " + (f"{figures['status']}  {figures['rps']:8.0f} req/s  p50 {figures['p50']:7.2f} ms  "
                                             f"p99 {figures['p99']:7.2f} ms" if figures else "no ETag"))
            if weight is None:
                weight = page_weight(base)
            stop(server)
            if name == apply_on:
                say(f"[{name}] timing {posts} apply POSTs in a process of their own …")
                with multiprocessing.get_context("spawn").Pool(1) as own_process:  # (as a server's worker: only the site)
                    apply = own_process.apply(apply_timing, (folder, slug, posts))
                apply["dataset"] = f"{name} applications"
        say(f"outbox: bench/outbox_throughput.py {emails} …")
        outbox = subprocess.run([sys.executable, str(ROOT / "bench" / "outbox_throughput.py"), str(emails)],
                                check=False, cwd=ROOT, capture_output=True, text=True)
        outbox_lines = outbox.stdout.strip().splitlines() or [f"failed: {outbox.stderr.strip()[-500:]}"]
    finally:
        stop_all()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    names = [d[0] for d in datasets]
    say("\n" + "=" * 100)
    say(f"Resilience benchmark{' (--quick)' if args.quick else ''}: {machine()}")
    say(f"gunicorn -c gunicorn.conf.py, {WORKERS} sync workers; wrk -t2 -c8 -d{seconds}s on the same machine.")
    say("Each cell: requests/s, ×hello's requests/s (hello measured just before each data size), p50/p99 in ms.\n")
    say(f"{'':32}" + "".join(f"{name if 'cohorts' in name else name + ' applications':>34}" for name in names))
    for row in results[names[0]]:
        cells = []
        for name in names:
            figures, hello = results[name][row], results[name]["hello"]["rps"]
            if figures is None:
                cells.append(f"{'no ETag':>34}")
                continue
            ratio = "" if row == "hello" else f" ×{figures['rps'] / hello:.2f}"
            cells.append(f"{figures['rps']:>7.0f}{ratio:>6} {figures['p50']:>6.1f}/{figures['p99']:<7.1f}".rjust(34))
        say(f"{row:32}" + "".join(cells))
    say("\nAdmin pages' first answers in new workers (4 asked at once before wrk, the figures above are after "
        "them): the slowest, in ms, a worker's first load or one waiting behind it:")
    for row in ("admin dashboard /admin/", "admin list /admin/applications", "an application /admin/…/<id>"):
        say(f"{row:32}" + "".join(f"{first[(name, row)]:>34.0f}" for name in names))
    say(f"\nProgram page on the wire (Accept-Encoding: br, gzip): {weight['bytes']:,} bytes in "
        f"{weight['requests']} requests")
    for path, status, size, encoding in weight["rows"]:
        say(f"    {status} {size:>8,} B  {encoding:5} {path}")
    say(f"\nApply POST (in a process of its own, SQLite, admin emails on, {apply['dataset']} data): median server time "
        f"{apply['median']:.1f} ms, p90 {apply['p90']:.1f} ms over {apply['n']} POSTs (median "
        f"{apply['through_client']:.1f} ms with the test client's own work)")
    say("Outbox: " + "\n        ".join(outbox_lines))
    for note in notes:
        say("NOTE " + note)
    say(f"\nThe whole run took {time.perf_counter() - began:.0f} s. The machine may be shared: compare the ratios "
        "within one run, not absolute figures across runs.")


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # runs the finally: above
    signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C, even when started in the background
    try:
        main()
    except KeyboardInterrupt:
        stop_all()
        sys.exit(130)
