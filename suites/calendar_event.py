"""The seed page's structured-output model, shared by the suites that send it."""

import pydantic


class CalendarEvent(pydantic.BaseModel):
    name: str
    date: str
    participants: list[str]
