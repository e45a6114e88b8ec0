"""The YAML in docs/deploy.md is configuration the integrations accept."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from orbiteos.loader import load_integration

DOC = Path(__file__).resolve().parents[1] / "docs" / "deploy.md"


def test_every_yaml_block_of_the_deploy_guide_validates() -> None:
    blocks = re.findall(r"```yaml\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    assert len(blocks) >= 2
    seen = []
    for text in blocks:
        for domain, config in yaml.safe_load(text).items():
            module = load_integration(domain)
            assert module is not None, domain
            validated = module.CONFIG_SCHEMA(config)
            seen.append(domain)
            if domain == "recorder":
                assert validated["db_url"].startswith("postgresql://orbiteos@/orbiteos?host=")
            if domain == "http":
                assert (validated["server_port"], validated["ssl_key"]) == (8443, "/etc/orbiteos/tls/privkey.pem")
    assert sorted(seen) == ["http", "recorder"]
