"""The audit log: who did what, to which application, when. Never an applicant's answers."""
from .. import clock, database
from ..extensions import db
from ..models import Admin, Application, AuditEvent, Cohort
from ..status import Status


def record(action: str, *, admin: Admin | None = None, actor: str | None = None,
           application: Application | None = None, cohort: Cohort | None = None,
           from_status: Status | None = None, to_status: Status | None = None, detail: str | None = None) -> None:
    """Add an audit event to the current transaction (the caller commits)."""
    cohort = cohort or (application.cohort if application else None)
    db.session.add(AuditEvent(
        at=clock.now(), actor=actor or ("admin" if admin else "system"), admin_id=admin.id if admin else None,
        action=action, application_id=application.id if application else None,
        cohort_id=cohort.id if cohort else None,
        from_status=from_status, to_status=to_status, detail=detail[:300] if detail else None,
    ))


def record_alone(action: str, **details) -> None:
    """An audit event that is the whole change (an export, say), in its own transaction."""
    database.begin_write()
    record(action, **details)
    db.session.commit()


def signed_in(admin: Admin) -> None:
    """A clinician signed in: note when, and say so in the log."""
    database.begin_write()
    admin.last_login_at = clock.now()
    record("signed in", admin=admin)
    db.session.commit()
