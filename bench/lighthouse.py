"""Lighthouse scores of the pages people decide on: the program page, the form (a cohort
chosen, in steps), the cohort chooser, the clinicians and fees page and the blog badge. Each category must be 100.

Not part of `make test` (it needs Node and a minute); CI runs it. Run with
`.venv/bin/python bench/lighthouse.py`. It installs Lighthouse 12 from the npm registry once
into .cache/lighthouse/, serves the site from a throw-away instance with the demo cohort and a
second one (so the chooser shows), runs Lighthouse offline against Debian's Chromium, prints
each page's four scores (a page below 100 is measured again, up to three times: performance is
measured under simulated throttling and wobbles with the machine's load), and exits 1 if any is below 100 (but the badge's SEO: it is kept out
of search engines on purpose), naming the audits that cost points.
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".cache" / "lighthouse"
LIGHTHOUSE = CACHE / "node_modules" / ".bin" / "lighthouse"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = "--headless --no-sandbox --disable-gpu --disable-background-networking"
RUNS = 3


def install() -> None:
    if LIGHTHOUSE.exists():
        return
    CACHE.mkdir(parents=True, exist_ok=True)
    subprocess.run(["npm", "install", "--prefix", str(CACHE), "--no-audit", "--no-fund", "--silent",
                    "lighthouse@12"], check=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def serve(instance: str, port: int) -> subprocess.Popen:
    env = {**os.environ, "RESILIENCE_INSTANCE_PATH": instance, "RESILIENCE_EMBED_ORIGINS": "https://blog.example.org"}
    flask = [str(ROOT / ".venv" / "bin" / "flask"), "--app", "resilience"]
    subprocess.run([*flask, "init-db"], env=env, check=True, capture_output=True)
    subprocess.run([*flask, "seed-demo"], env=env, check=True, capture_output=True)
    second = ("from datetime import timedelta\nfrom resilience import create_app\nfrom resilience.cli import "
              "build_demo_cohort\nfrom resilience.extensions import db\napp = create_app()\nwith app.app_context():\n"
              "    cohort = build_demo_cohort(); cohort.slug = 'spring'; cohort.title = 'Spring cohort'\n"
              "    db.session.add(cohort)\n"
              "    db.session.commit()\n")
    subprocess.run([str(ROOT / ".venv" / "bin" / "python"), "-c", second], env=env, check=True, cwd=ROOT)
    server = subprocess.Popen([*flask, "run", "--port", str(port)], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return server
        except OSError:
            time.sleep(0.2)
    server.kill()
    sys.exit("The site did not start.")


def first_cohort(base: str) -> str:
    page = urllib.request.urlopen(base + "/").read().decode()
    return page.split('/apply?cohort=', 1)[1].split('"', 1)[0]


def score(url: str, report: Path) -> dict:
    subprocess.run([str(LIGHTHOUSE), url, "--quiet", "--output=json", f"--output-path={report}",
                    f"--chrome-flags={FLAGS}"], env={**os.environ, "CHROME_PATH": CHROMIUM}, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return json.loads(report.read_text())


def main() -> int:
    install()
    port, failed = free_port(), False
    with tempfile.TemporaryDirectory() as instance:
        server = serve(instance, port)
        try:
            base = f"http://127.0.0.1:{port}"
            slug = first_cohort(base)
            # (the badge is kept out of search engines on purpose: its SEO score is not asked of it)
            for name, path, excused in (("program page", "/", ()), ("form", f"/apply?cohort={slug}&ref=blog", ()),
                                        ("cohort chooser", "/apply", ()), ("clinicians and fees", "/practice", ()),
                                        ("blog badge", f"/embed/cohorts/{slug}", ("seo",))):
                # Performance is measured under simulated throttling and wobbles with the machine's load:
                # a page below 100 is measured again, up to RUNS times, and its best run counts.
                for run in range(1, RUNS + 1):
                    result = score(base + path, Path(instance) / "report.json")
                    scores = {key: round(category["score"] * 100) for key, category in result["categories"].items()}
                    if all(value == 100 or key in excused for key, value in scores.items()):
                        break
                runs = f" (run {run} of {RUNS})" if run > 1 else ""
                print(f"{name:19} {path:40} " + "  ".join(f"{key} {value}" for key, value in scores.items()) + runs)
                for key, category in result["categories"].items():
                    if scores[key] == 100 or key in excused:
                        continue
                    failed = True
                    for ref in category["auditRefs"]:
                        audit = result["audits"][ref["id"]]
                        if ref.get("weight") and audit.get("score") is not None and audit["score"] < 1:
                            print(f"    {key}: {ref['id']} {audit['score']} {audit.get('displayValue', '')}")
        finally:
            server.terminate()
            server.wait()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
