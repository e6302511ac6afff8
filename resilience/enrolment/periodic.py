"""Everything time-driven, in one call for cron (`flask --app resilience periodic`): safe to run
every few minutes, since each part does only what is due and each email is sent once. One part
failing (a locked database, a broken template) neither stops the others nor hides: it is
logged and named in the result, and the next run tries again. The retention rules' purge
runs last: what it erases is old, and no email is queued for it."""
from dataclasses import dataclass, field

from flask import current_app

from ..extensions import db
from . import drafts, meetings, offers, retention


@dataclass
class DueWork:
    meeting_reminders: int = 0
    offer_reminders: int = 0
    offers_lapsed: int = 0
    drafts_expired: int = 0  # forms saved to finish later, past their time
    purged: retention.Purge = field(default_factory=retention.Purge)  # the retention rules' erasures
    failed: list[str] = field(default_factory=list)  # the parts that could not run

    def __bool__(self) -> bool:
        return any((self.meeting_reminders, self.offer_reminders, self.offers_lapsed, self.drafts_expired,
                    self.purged, self.failed))

    def __str__(self) -> str:
        done = (f"{self.meeting_reminders} meeting reminder(s), {self.offer_reminders} confirm-by reminder(s) "
                f"queued; {self.offers_lapsed} offer(s) lapsed")
        if self.drafts_expired:
            done += f"; {self.drafts_expired} saved form(s) expired"
        if self.purged:
            done += (f"; {self.purged.erased} application(s) erased (retention), "
                     f"{self.purged.sessions} session record(s) forgotten")
        return done + (f"; failed: {', '.join(self.failed)} (see the log)" if self.failed else "")


def run_due_work() -> DueWork:
    work = DueWork()
    # Reminders first: an offer that lapses in a run was reminded in earlier runs.
    for name, part in (("meeting_reminders", meetings.send_reminders), ("offer_reminders", offers.remind_offers),
                       ("offers_lapsed", offers.lapse_offers), ("drafts_expired", drafts.delete_expired_drafts),
                       ("purged", retention.purge)):
        try:
            setattr(work, name, part())
        except Exception:
            db.session.rollback()
            current_app.logger.exception("Periodic %s failed", name.replace("_", " "))
            work.failed.append(name.replace("_", " "))
    return work
