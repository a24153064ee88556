"""Errors of the database layer."""

from __future__ import annotations

from sqlalchemy.exc import InterfaceError, OperationalError

from foundation.errors import ShotlineError

DATABASE_UNREACHABLE = (OperationalError, InterfaceError)
"""What a database that dropped or refused a connection, or stayed locked, raises: transient. The
engines retry the step later (``pipeline.flow.RETRY_LATER``); the API answers 503."""


class DatabaseUnusableError(ShotlineError):
    """The database cannot be used at all: its server cannot be reached or refuses the connection,
    the file is not a database, or a newer shotline upgraded it past every revision this one
    knows. Raised where a process first opens the database, before any job is made."""

    status_code = 503
