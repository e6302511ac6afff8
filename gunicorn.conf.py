"""The production server's settings: `gunicorn -c gunicorn.conf.py` (what `make serve` runs).

Every setting can be changed from the environment:
  WEB_CONCURRENCY        how many worker processes (default 2 × CPUs + 1, at most GUNICORN_MAX_WORKERS=8)
  BIND                   where to listen (default 127.0.0.1:8000; behind a proxy keep it on loopback)
  FORWARDED_ALLOW_IPS    the proxies trusted for X-Forwarded-Proto (default 127.0.0.1,::1);
                         set RESILIENCE_PROXY_COUNT=1 too, so the site sees visitors' addresses
  GUNICORN_TIMEOUT       seconds a request may take before its worker is restarted (default 30)
and any gunicorn option through GUNICORN_CMD_ARGS, e.g. GUNICORN_CMD_ARGS="--log-level debug".
"""
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))  # the CPUs this process may use (containers, taskset)
    except AttributeError:
        return os.cpu_count() or 1


def _workers() -> int:
    if os.environ.get("WEB_CONCURRENCY"):
        return int(os.environ["WEB_CONCURRENCY"])
    # Sync workers each serve one request at a time; past a handful, SQLite's single writer and
    # the database's connections are the limit, not the CPUs.
    return min(2 * _cpus() + 1, int(os.environ.get("GUNICORN_MAX_WORKERS", "8")))


wsgi_app = "resilience:create_app()"
bind = os.environ.get("BIND", "127.0.0.1:8000").split(",")
workers = _workers()
worker_class = "sync"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 20  # on restart or SIGTERM, requests under way get this long to finish
keepalive = 5  # seconds an idle keep-alive connection from the proxy is held open
# Workers are not replaced after some number of requests (gunicorn's max_requests): a new one
# costs about a second of import and set-up, and at 2,000 a busy host replaced one every second.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
# stdout, in the usual (combined) format; the site hides applicants' private links in it
# (security.HideStatusTokens, on the gunicorn.access logger, in every worker).
accesslog = "-"
errorlog = "-"
control_socket_disable = True  # no ~/.gunicorn socket, so several instances never clash


def post_worker_init(worker):
    """Once a worker has loaded the site, its objects (modules, routes, SQLAlchemy's mappers:
    about 140,000) are frozen out of the garbage collector's sight. Each full collection walked
    them all: some 60 ms, every few dozen dashboard loads, the slowest answers of all."""
    import gc
    gc.collect()  # what start-up left behind goes first, rather than being kept for good
    gc.freeze()
