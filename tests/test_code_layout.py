"""The house rules a newcomer relies on, checked: statuses are spelled in one place, the
admin panel does not lean on the public site, views never run transactions, and the
rules hold no page wording and build no links."""
import ast
import re
from pathlib import Path

import pytest

from resilience.status import OutboxStatus, Status

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "resilience"


def files(*patterns: str) -> list[Path]:
    return sorted(path for pattern in patterns for path in ROOT.glob(pattern))


SOURCES = files("resilience/**/*.py", "templates/**/*.html", "templates/**/*.txt", "static/css/*.css",
                "static/js/site.js")


@pytest.mark.parametrize("status", [*Status, *OutboxStatus], ids=str)
def test_each_status_is_spelled_only_in_its_one_definition(status):
    # A quoted literal ("accepted") or a class built on it (status-tag--accepted).
    spelled = re.compile(rf"""["']{status}["']|--{status}\b""")
    found = [f"{path.relative_to(ROOT)}:{n}" for path in SOURCES if path != PACKAGE / "status.py"
             for n, line in enumerate(path.read_text().splitlines(), 1) if spelled.search(line)]
    assert found == []


def imports(path: Path) -> set[str]:
    """The modules a file imports, as absolute names."""
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            module = ".".join(part for part in (base, node.module) if part)
            names |= {module} | {f"{module}.{alias.name}" for alias in node.names}
    return names


def test_the_admin_panel_imports_nothing_from_the_public_site():
    for path in files("resilience/admin/*.py"):
        assert not {name for name in imports(path) if name.startswith("resilience.public")}, path.name


def test_views_never_open_or_commit_a_transaction():
    """A view reads a form, calls a rule, renders; the rules own every write."""
    writes = re.compile(r"db\.session\.(commit|rollback|begin)|begin_write\(")
    for path in files("resilience/admin/*.py", "resilience/public/*.py"):
        assert not writes.search(path.read_text()), path.name


def test_the_rules_build_no_links_and_read_no_requests():
    for path in files("resilience/enrolment/*.py"):
        text = path.read_text()
        assert "url_for" not in text and "external_url" not in text, path.name
        assert not {"flask.request", "flask.url_for", "flask.render_template"} & imports(path), path.name


def test_the_rules_hold_no_page_wording():
    """Sentences for people live in templates, refusals.py and status.py, never in the rules:
    no string in resilience/enrolment/ (docstrings aside) runs to four words."""
    for path in files("resilience/enrolment/*.py"):
        tree = ast.parse(path.read_text())
        docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                      if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef)) and node.body
                      and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
        sentences = [node.value for node in ast.walk(tree) if isinstance(node, ast.Constant)
                     and isinstance(node.value, str) and id(node) not in docstrings and len(node.value.split()) >= 4]
        assert sentences == [], path.name


def test_every_form_field_is_drawn_by_the_one_field_macro():
    """No template draws a label or a visible control by hand; hidden inputs (the CSRF token,
    which button was pressed) are the only ones written out."""
    by_hand = re.compile(r"<label\b|<select\b|<textarea\b|<input(?![^>]*type=\"hidden\")")
    for path in files("templates/**/*.html"):
        if path.name != "forms.html":
            assert not by_hand.search(path.read_text()), path.relative_to(ROOT)
