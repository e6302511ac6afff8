"""Everything time-driven, in one call for cron (`flask --app resilience periodic`): safe to run
every few minutes, since each part does only what is due and each email is sent once."""
from dataclasses import dataclass

from . import meetings, offers


@dataclass(frozen=True)
class DueWork:
    meeting_reminders: int
    offer_reminders: int
    offers_lapsed: int

    def __bool__(self) -> bool:
        return any((self.meeting_reminders, self.offer_reminders, self.offers_lapsed))

    def __str__(self) -> str:
        return (f"{self.meeting_reminders} meeting reminder(s), {self.offer_reminders} confirm-by reminder(s) "
                f"queued; {self.offers_lapsed} offer(s) lapsed")


def run_due_work() -> DueWork:
    # Reminders first: an offer that lapses in this very run was already reminded in earlier runs.
    return DueWork(meeting_reminders=meetings.send_reminders(), offer_reminders=offers.remind_offers(),
                   offers_lapsed=offers.lapse_offers())
