"""The action runner, split by concept: each kind of step is a small module with a schema and a builder.

`validate_actions(list)` checks a sequence; `compile_sequence(hub, validated)` turns it into a
`Sequence` that runs with `await sequence.run(run, variables, "action")`. Steps are picked by the
key that names them (Home Assistant's order), from `STEP_KINDS`, never by building method names.
"""

from __future__ import annotations

from orbiteos.automation.script.run import Run, StopRun
from orbiteos.automation.script.sequence import Sequence, compile_sequence, step_kind, validate_actions

__all__ = ["Run", "Sequence", "StopRun", "compile_sequence", "step_kind", "validate_actions"]
