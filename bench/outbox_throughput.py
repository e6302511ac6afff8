"""How many emails a second one outbox worker delivers to a local SMTP server.

Not a test: it prints figures. Run with `.venv/bin/python bench/outbox_throughput.py [N]`.
It queues N messages (default 1000) in a throw-away SQLite database, starts aiosmtpd on
loopback in a process of its own (as a real mail server is: not sharing the worker's CPU
lock), runs one worker until the outbox is empty, and prints messages per second.
"""
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from conftest import NOW  # (the tests' frozen "now")

from resilience import create_app, database, outbox
from resilience.cli import build_demo_cohort
from resilience.extensions import db
from resilience.models import Application
from resilience.status import Status

# A mail server that counts what it accepts, and says how many when stopped.
SERVER = """
import signal, sys, threading
from aiosmtpd.controller import Controller
class Count:
    n = 0
    async def handle_DATA(self, server, session, envelope):
        Count.n += 1
        return "250 OK"
controller = Controller(Count(), hostname="127.0.0.1", port=int(sys.argv[1]))
controller.start()
print("ready", flush=True)
stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: stop.set())
stop.wait()
controller.stop()
print(Count.n, flush=True)
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def main(count: int) -> None:
    port = free_port()
    smtp = subprocess.Popen([sys.executable, "-c", SERVER, str(port)], stdout=subprocess.PIPE, text=True)
    assert smtp.stdout.readline().strip() == "ready"
    with tempfile.TemporaryDirectory() as folder:
        app = create_app({
            "SECRET_KEY": "bench", "DATA_KEY": "vYyv6n0yBvUQ4x3UQrj1S2Lk0Xz1mC5Uq8d9q2Jv0mA=",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder}/bench.sqlite3",
            "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": port,
        })
        with app.app_context():
            database.upgrade()  # the schema as an operator gets it
            cohort = build_demo_cohort()
            db.session.add(cohort)
            started = time.perf_counter()
            for n in range(count):
                application = Application(
                    cohort=cohort, first_name=f"P{n}", last_name="X", email=f"p{n}@example.org",
                    email_key=f"p{n}@example.org", phone="555 010 1000", home_area="ME", answers={},
                    consented_at=NOW, health_consent_at=NOW, status=Status.ACCEPTED)
                db.session.add(application)
                db.session.flush()
                outbox.enqueue(Status.ACCEPTED, application.email, f"bench:{n}", application=application)
            db.session.commit()
            queued = time.perf_counter() - started

            database.outbox_worker_commits()  # as `flask outbox send` runs it
            started, cpu_started = time.perf_counter(), time.process_time()
            report = outbox.deliver_due()
            elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    smtp.terminate()
    received = int(smtp.communicate(timeout=30)[0].strip())
    assert report.sent == count == received, (report, received)
    print(f"queued {count} messages in {queued:.2f} s ({count / queued:,.0f}/s, rendering included)")
    print(f"one worker delivered {report.sent} messages over SMTP in {elapsed:.2f} s: "
          f"{report.sent / elapsed:,.0f} messages/s")
    print(f"per message: {1000 * elapsed / count:.2f} ms, of which the worker's own CPU {1000 * cpu / count:.2f} ms "
          f"(the rest is waiting: for the mail server's replies, and the disk)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
