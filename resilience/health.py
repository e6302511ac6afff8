"""/healthz for operators and load balancers: is the database reachable, is mail flowing."""
import sqlalchemy as sa
from flask import Blueprint, current_app
from sqlalchemy.exc import SQLAlchemyError

from . import database, outbox
from .extensions import db

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    try:
        db.session.execute(sa.text("SELECT 1"))
        if current_app.config["CHECK_SCHEMA"] and not database.schema_is_current():
            return {"status": "error", "database": "needs upgrade: flask --app resilience db upgrade"}, 503
        counts = outbox.backlog()
    except SQLAlchemyError:
        db.session.rollback()
        return {"status": "error", "database": "unreachable"}, 503
    return {"status": "ok", "database": "ok",
            "outbox_backlog": counts.waiting, "outbox_failed": counts.failed}
