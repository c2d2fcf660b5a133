"""What every dashboard route reaches: the hub, accounts, narrator, live feed and services.

`create_app` (dashboard/app.py) builds one `Dashboard` and keeps it in `app.state.huis`; the
routes modules get it through `dashboard.security.dashboard_of`, so they never import the app.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

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

    def services(self) -> list[Service]:
        """Long-lived loops to run next to the web server (see dashboard.server.serve)."""
        out: list[Service] = []
        if self.stories is not None:
            out.append(self.stories.run)
        return out

    async def aclose(self) -> None:
        """Close what the dashboard opened. The feed stays subscribed: the app may be served
        again (a restart of the web server alone) and must not have missed events meanwhile."""
        await self.auth.close()


def for_technicians(alert: object) -> bool:
    """Whether an alert is a technician notice (shown on the console, nobody paged)."""
    data = getattr(alert, "data", None) or {}
    return bool(data.get("audience") == "technician")
