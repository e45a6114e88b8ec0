"""The websocket's automation helpers, as Home Assistant's: `validate_config` and `execute_script`.

    {"type": "validate_config", "trigger": [...], "condition": [...], "action": [...]}
      -> {"trigger": {"valid": true, "error": null}, "condition": {"valid": false, "error": "..."}, ...}
    {"type": "execute_script", "sequence": [...], "variables": {...}}      (admin, as in Home Assistant)
      -> {"context": {...}, "response": null}

Both use the automation engine's own validators and action runner, so what passes here loads in a
configuration and runs the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import voluptuous as vol

from orbiteos.automation.condition import validate_conditions
from orbiteos.automation.script import Run, StopRun, compile_sequence, validate_actions
from orbiteos.automation.trigger import validate_triggers
from orbiteos.core import Context
from orbiteos.integrations.http import appkeys
from orbiteos.integrations.http.auth import Role
from orbiteos.integrations.http.errors import describe_invalid

if TYPE_CHECKING:
    from orbiteos.integrations.http.websocket_api import Connection

# Key of the message (Home Assistant's singular ones and the newer plural ones) -> its validator.
VALIDATORS: dict[str, Callable[[Any], Any]] = {
    "trigger": validate_triggers,
    "triggers": validate_triggers,
    "condition": validate_conditions,
    "conditions": validate_conditions,
    "action": validate_actions,
    "actions": validate_actions,
}
EXECUTE_SCRIPT = vol.Schema(
    {vol.Required("sequence"): object, vol.Optional("variables", default=dict): dict}, extra=vol.ALLOW_EXTRA
)


async def cmd_validate_config(conn: Connection, msg: dict[str, Any]) -> None:
    answer: dict[str, dict[str, Any]] = {}
    for key, validate in VALIDATORS.items():
        if key not in msg:
            continue
        try:
            validate(msg[key])
        except vol.Invalid as err:
            answer[key] = {"valid": False, "error": describe_invalid(err)}
        else:
            answer[key] = {"valid": True, "error": None}
    conn.result(msg["id"], answer)


async def cmd_execute_script(conn: Connection, msg: dict[str, Any]) -> None:
    conn.require(Role.ADMIN, "execute_script")
    sequence = compile_sequence(conn.hub, validate_actions(msg["sequence"]))
    context = Context(user_id=conn.token.name)
    conn.app[appkeys.AUDIT].action("script", conn.token.name, conn.remote, f"execute_script: {len(sequence)} action(s)")
    try:
        await sequence.run(Run(conn.hub, f"websocket:{conn.token.name}", None, context), dict(msg["variables"]),
                           "sequence")
    except StopRun as stop:
        if stop.error:
            from orbiteos.integrations.http.websocket_api import ERR_UNKNOWN, CommandError  # runtime: no cycle

            raise CommandError(ERR_UNKNOWN, f"the script stopped with an error: {stop.error}") from None
    conn.result(msg["id"], {"context": context.as_dict(), "response": None})
