"""User errors in the CLI: one line on stderr and exit code 2, never a traceback.

Every command of the ``gridsense`` app (sub-apps included) runs inside :class:`UserErrorGroup.invoke`,
so a :class:`core.errors.GridSenseUserError` raised anywhere below a command becomes
``error: <what is wrong> (<what to do>)``. Other exceptions are bugs and keep their traceback.
"""

from __future__ import annotations

import typer
from typer.core import TyperGroup

from core.errors import GridSenseUserError

USER_ERROR_EXIT_CODE = 2


class UserErrorGroup(TyperGroup):
    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except GridSenseUserError as error:
            typer.echo(f"error: {error.one_line()}", err=True)
            raise typer.Exit(USER_ERROR_EXIT_CODE) from None
