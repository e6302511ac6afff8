"""gunicorn.conf.py, the production server's settings (`make serve`): how many workers it
starts, and that its access log never shows an applicant's private link."""
import datetime
import logging
import runpy
from pathlib import Path
from types import SimpleNamespace

import pytest

gunicorn_config = pytest.importorskip("gunicorn.config")

CONF = Path(__file__).resolve().parent.parent / "gunicorn.conf.py"
TOKEN = "abc123DEFghi456JKLmno789PQRstu012VWXyz345AB"


def load(monkeypatch, **env) -> gunicorn_config.Config:
    """The settings as gunicorn reads them from the file, with these environment variables."""
    for name in ("WEB_CONCURRENCY", "GUNICORN_MAX_WORKERS", "BIND", "FORWARDED_ALLOW_IPS"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = runpy.run_path(str(CONF))
    config = gunicorn_config.Config()
    for name, value in settings.items():
        if name in config.settings:
            config.set(name, value)
    return config


def test_workers_follow_the_cpu_count(monkeypatch):
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0, 1}, raising=False)
    assert load(monkeypatch).workers == 5  # 2 × 2 cores + 1


def test_workers_are_capped_on_a_big_machine(monkeypatch):
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: set(range(64)), raising=False)
    assert load(monkeypatch).workers == 8


def test_web_concurrency_sets_the_workers(monkeypatch):
    assert load(monkeypatch, WEB_CONCURRENCY="3").workers == 3


def test_sync_workers_with_timeouts_and_loopback_by_default(monkeypatch):
    config = load(monkeypatch)
    assert config.worker_class_str == "sync"
    assert config.bind == ["127.0.0.1:8000"]
    assert config.timeout > 0 and config.graceful_timeout > 0 and config.keepalive > 0
    assert config.accesslog == "-"


def test_bind_and_forwarded_ips_come_from_the_environment(monkeypatch):
    config = load(monkeypatch, BIND="0.0.0.0:9000", FORWARDED_ALLOW_IPS="10.0.0.5")
    assert config.bind == ["0.0.0.0:9000"]
    assert [str(ip) for ip in config.forwarded_allow_ips] == ["10.0.0.5"]


def logged_line(monkeypatch, tmp_path, path: str, referer: str = "-") -> str:
    """What gunicorn's access log says about one GET of this path, with the site loaded (as in
    every worker: the site hides private links in that log)."""
    config = load(monkeypatch)
    config.set("accesslog", str(tmp_path / "access.log"))
    logger = config.logger_class(config)
    environ = {"REQUEST_METHOD": "GET", "RAW_URI": path, "PATH_INFO": path.split("?")[0],
               "QUERY_STRING": "", "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1",
               "HTTP_REFERER": referer, "HTTP_USER_AGENT": "test"}
    response = SimpleNamespace(status="200 OK", sent=1234, headers=[("Content-Type", "text/html")])
    request = SimpleNamespace(headers=[("Referer", referer)])
    logger.access(response, request, environ, datetime.timedelta(milliseconds=12))
    for handler in logger.access_log.handlers:
        handler.flush()
    logger.access_log.handlers.clear()
    logging.getLogger("gunicorn.access").handlers.clear()
    return (tmp_path / "access.log").read_text()


def test_access_log_hides_the_status_token(app, monkeypatch, tmp_path):
    line = logged_line(monkeypatch, tmp_path, f"/status/{TOKEN}")
    assert TOKEN not in line
    assert '"GET /status/[token] HTTP/1.1" 200 1234' in line


def test_access_log_hides_a_saved_forms_key_even_in_the_referer(app, monkeypatch, tmp_path):
    line = logged_line(monkeypatch, tmp_path, f"/apply/resume/{TOKEN}?step=2",
                       referer=f"https://example.org/status/{TOKEN}")
    assert TOKEN not in line
    assert "/apply/resume/[key]" in line and "https://example.org/status/[token]" in line


def test_the_app_is_the_factory(monkeypatch):
    assert load(monkeypatch).wsgi_app == "resilience:create_app()"


def test_each_worker_puts_the_loaded_site_out_of_the_collectors_sight(tmp_path):
    """A full garbage collection walked every object of the loaded site (about 140,000), some
    60 ms every few dozen dashboard loads: the slowest answers. Once a worker has loaded the
    site, gunicorn's post_worker_init freezes them (in a process of its own here)."""
    import subprocess
    import sys
    check = ("import gc, runpy; from resilience import create_app; app = create_app(); "
             f"settings = runpy.run_path({str(CONF)!r}); before = gc.get_freeze_count(); "
             "settings['post_worker_init'](None); print(before, gc.get_freeze_count() > 10000)")
    ran = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, check=True,
                         cwd=CONF.parent, env={"RESILIENCE_INSTANCE_PATH": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert ran.stdout.split() == ["0", "True"]
