"""The shape of the program: its three phases and the default plan of ten meetings."""
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

WEEKS = 6
DEFAULT_CAPACITY = 6


@dataclass(frozen=True)
class Phase:
    kind: str
    name: str
    meeting_name: str
    neutral_name: str  # for subjects and calendars: no drug names where others may glance
    count: int
    summary: str


PHASES = (
    Phase(
        "preparation",
        "Preparation",
        "Preparation meeting",
        "Preparation meeting",
        3,
        "Meet the group and the clinicians, agree how we keep each other safe, "
        "and learn the mindfulness and self-compassion practices we will lean on.",
    ),
    Phase(
        "ketamine",
        "Ketamine sessions",
        "Ketamine session",
        "Session day",
        3,
        "Three in-person mornings. A clinician-guided ketamine experience, "
        "held together as a group, followed by quiet time and gentle sharing.",
    ),
    Phase(
        "integration",
        "Integration",
        "Integration meeting",
        "Integration meeting",
        4,
        "Make sense of what came up, through conversation, writing, art and "
        "movement, and carry it into daily life. The last meeting plans follow-up care.",
    ),
)
PHASE_BY_KIND = {phase.kind: phase for phase in PHASES}
MEETING_COUNT = sum(phase.count for phase in PHASES)  # 10


@dataclass(frozen=True)
class PlannedMeeting:
    kind: str
    day: int  # days after the cohort's first meeting
    start: time
    minutes: int
    in_person: bool


# Evenings for preparation and integration, weekend mornings for the ketamine
# sessions, each ketamine session followed within days by an integration meeting.
DEFAULT_PLAN = (
    PlannedMeeting("preparation", 0, time(18, 0), 120, False),
    PlannedMeeting("preparation", 3, time(18, 0), 120, False),
    PlannedMeeting("preparation", 7, time(18, 0), 120, True),
    PlannedMeeting("ketamine", 11, time(9, 30), 240, True),
    PlannedMeeting("integration", 14, time(18, 0), 120, False),
    PlannedMeeting("ketamine", 18, time(9, 30), 240, True),
    PlannedMeeting("integration", 21, time(18, 0), 120, False),
    PlannedMeeting("ketamine", 25, time(9, 30), 240, True),
    PlannedMeeting("integration", 28, time(18, 0), 120, False),
    PlannedMeeting("integration", 35, time(18, 0), 120, True),
)


def timeline() -> list[dict]:
    """The six weeks with the kinds of meeting that fall in each, for the program page."""
    weeks = [{"number": n, "meetings": []} for n in range(1, WEEKS + 1)]
    for planned in DEFAULT_PLAN:
        weeks[planned.day // 7]["meetings"].append(PHASE_BY_KIND[planned.kind])
    return weeks


def default_meetings(starts_on: date, zone: str, location: str) -> list[dict]:
    """The ten meetings of the default plan for a cohort whose first meeting is starts_on.

    Times are the cohort's local times, returned in UTC ready to store.
    """
    tz = ZoneInfo(zone)
    sequence = {kind: 0 for kind in PHASE_BY_KIND}
    meetings = []
    for planned in DEFAULT_PLAN:
        sequence[planned.kind] += 1
        local_start = datetime.combine(starts_on + timedelta(days=planned.day), planned.start, tz)
        starts_at = local_start.astimezone(UTC)
        meetings.append(
            {
                "kind": planned.kind,
                "sequence": sequence[planned.kind],
                "starts_at": starts_at,
                "ends_at": (local_start + timedelta(minutes=planned.minutes)).astimezone(UTC),
                "location": location if planned.in_person else "Online",
            }
        )
    return meetings
