"""What every dashboard route reaches: the hub, accounts, narrator, live feed and services.

`create_app` (dashboard/app.py) builds one `Dashboard` and keeps it in `app.state.huis`; the
routes modules get it through `dashboard.security.dashboard_of`, so they never import the app.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

from controller.alerts.service import AlertService
from controller.engine import Engine
from controller.history import History
from controller.hub import Hub
from controller.routine import RoutineKeeper
from dashboard.auth import Auth
from dashboard.live import LiveFeed
from dashboard.narrate import Narrator
from dashboard.story_player import StoryRunner

Service = Callable[[], Awaitable[None]]
SESSION_CHECK = 30.0  # seconds between re-checks of the sessions behind open staff sockets


@dataclass(slots=True, kw_only=True)
class Dashboard:
    """What the routes share: the hub and the services the dashboard shows."""

    hub: Hub
    auth: Auth
    narrator: Narrator
    feed: LiveFeed
    engine: Engine | None = None
    alerts: AlertService | None = None
    history: History | None = None
    stories: StoryRunner | None = None
    routine: RoutineKeeper | None = None  # the resident's learned routine (heat map)
    secure_cookies: bool | None = None
    # Residents by the id alerts carry; the demo home has one, named by pseudonym only.
    residents: list[str] = field(default_factory=list)
    # When each (user id, view) was last written to the audit log (see security.audit_access).
    recent_reads: dict[tuple[int, str], datetime] = field(default_factory=dict)

    def services(self) -> list[Service]:
        """Long-lived loops to run next to the web server (see dashboard.server.serve)."""
        out: list[Service] = [self.watch_sessions]
        if self.stories is not None:
            out.append(self.stories.run)
        return out

    async def check_live_sessions(self) -> int:
        """End the staff feed of every open socket whose session has ended (expired, idle,
        revoked from the command line by another process); how many were ended."""
        ended = 0
        for sub in [s for s in self.feed.subscribers if s.staff and s.token is not None]:
            if await self.auth.session_user(sub.token, touch=False) is None:
                self.feed.end_staff(sub)
                ended += 1
        return ended

    async def watch_sessions(self) -> None:
        """Every SESSION_CHECK seconds of real time: `check_live_sessions`. (Revocations from the
        admin page reach the sockets at once, through Auth.revoked.)"""
        while True:
            await self.auth.wall.sleep(SESSION_CHECK)
            await self.check_live_sessions()

    async def aclose(self) -> None:
        """Close what the dashboard opened. The feed stays subscribed: the app may be served
        again (a restart of the web server alone) and must not have missed events meanwhile."""
        await self.auth.close()


def for_technicians(alert: object) -> bool:
    """Whether an alert is a technician notice (shown on the console, nobody paged)."""
    data = getattr(alert, "data", None) or {}
    return bool(data.get("audience") == "technician")
