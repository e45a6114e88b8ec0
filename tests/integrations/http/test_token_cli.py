"""`orbiteos token create|list|revoke`."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from orbiteos.cli import main
from orbiteos.integrations.http.auth import TokenStore


def test_create_list_revoke(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["token", "create", "--name", "scada", "--role", "operator", "-c", str(tmp_path)]) == 0
    token = capsys.readouterr().out.strip()
    assert token.startswith("oeos_")
    record = TokenStore.for_config_dir(tmp_path).lookup(token)
    assert record is not None and (record.name, record.role) == ("scada", "operator")

    assert main(["token", "list", "-c", str(tmp_path)]) == 0
    listing = capsys.readouterr().out
    assert "scada" in listing and "operator" in listing and token not in listing

    assert main(["token", "revoke", "scada", "-c", str(tmp_path)]) == 0
    assert TokenStore.for_config_dir(tmp_path).lookup(token) is None
    assert main(["token", "revoke", "scada", "-c", str(tmp_path)]) == 1
    assert "no token named 'scada'" in capsys.readouterr().err


def test_token_file_holds_only_hashes_and_is_private(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["token", "create", "--name", "ops", "--role", "admin", "-c", str(tmp_path)])
    token = capsys.readouterr().out.strip()
    path = tmp_path / ".storage" / "auth_tokens.json"
    text = path.read_text()
    assert token not in text
    assert json.loads(text)["tokens"][0]["name"] == "ops"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_duplicate_name_and_bad_role_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["token", "create", "--name", "ops", "--role", "viewer", "-c", str(tmp_path)]) == 0
    assert main(["token", "create", "--name", "ops", "--role", "viewer", "-c", str(tmp_path)]) == 1
    assert "already exists" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["token", "create", "--name", "x", "--role", "root", "-c", str(tmp_path)])


def test_missing_config_dir_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["token", "list", "-c", str(tmp_path / "nowhere")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_damaged_token_file_keeps_the_known_tokens_and_says_where(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = TokenStore.for_config_dir(tmp_path)
    token = store.create("ops", "admin")
    path = tmp_path / ".storage" / "auth_tokens.json"
    path.write_text("{ half a file")
    assert store.lookup(token) is not None
    assert any(str(path) in r.getMessage() and "unreadable" in r.getMessage() for r in caplog.records)
    fresh = TokenStore.for_config_dir(tmp_path)
    assert fresh.lookup(token) is None  # a new reader has nothing to keep: it refuses, it does not crash


def test_storage_option_keeps_tokens_out_of_the_config_directory(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    storage = tmp_path / "var" / "orbiteos"
    site = ["-c", str(tmp_path), "--storage", str(storage)]
    assert main(["token", "create", "--name", "ops", "--role", "admin", *site]) == 0
    token = capsys.readouterr().out.strip()
    assert TokenStore.for_config_dir(tmp_path, storage).lookup(token) is not None
    assert not (tmp_path / ".storage").exists()
    assert main(["token", "list", *site]) == 0
    assert "ops" in capsys.readouterr().out
