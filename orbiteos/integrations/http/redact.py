"""What a viewer is not shown: webhook ids, which are credentials (whoever knows one can trigger it).

Traces and events carry the trigger's variables, and a webhook trigger's include its `webhook_id`;
for a token below operator every value under a secret key is replaced by `REDACTED`.
"""

from __future__ import annotations

import json
from typing import Any

from orbiteos.integrations.http.auth import Role, TokenRecord, has_role
from orbiteos.integrations.http.errors import dumps

REDACTED = "**REDACTED**"
SECRET_KEYS = frozenset({"webhook_id"})


def sees_secrets(record: TokenRecord) -> bool:
    return has_role(record, Role.OPERATOR)


def redact(value: Any) -> Any:
    """A copy of JSON-like `value` with the values under `SECRET_KEYS` replaced."""
    if isinstance(value, dict):
        return {k: (REDACTED if k in SECRET_KEYS and v is not None else redact(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(item) for item in value]
    return value


def redact_text(text: str) -> str:
    """`text` (JSON) redacted; parsed only when a secret key appears in it at all."""
    if not any(f'"{key}"' in text for key in SECRET_KEYS):
        return text
    return dumps(redact(json.loads(text)))
