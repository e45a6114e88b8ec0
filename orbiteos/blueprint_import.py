"""Import automation blueprints from a file, an http(s) URL, or a GitHub / Gist page.

The text is saved as published (comments kept) under
`<config>/blueprints/automation/<author or host>/<name>.yaml`, with `source_url` added to its
header when it had none, so that `reimport` can fetch it again.
"""

from __future__ import annotations

import difflib
import re
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from orbiteos.automation.blueprint import Blueprint, BlueprintError, load_blueprint
from orbiteos.entity import slugify

FETCH_TIMEOUT_S = 20
MAX_BLUEPRINT_BYTES = 1_000_000
_GITHUB_BLOB = re.compile(r"^https?://github\.com/(?P<owner>[^/]+)/(?P<repo>[^/]+)/blob/(?P<rest>.+)$")
_GIST_PAGE = re.compile(r"^https?://gist\.github\.com/(?P<user>[^/]+)/(?P<gist>[0-9a-fA-F]+)/?$")


class ImportFailed(Exception):
    """The blueprint could not be fetched, is invalid, or would overwrite one without --force."""


@dataclass(frozen=True)
class ImportResult:
    path: Path
    blueprint: Blueprint
    replaced: bool
    diff: str


def raw_url(source: str) -> str:
    """GitHub blob pages and Gist pages point at HTML; rewrite them to the raw file."""
    if match := _GITHUB_BLOB.match(source):
        return f"https://raw.githubusercontent.com/{match['owner']}/{match['repo']}/{match['rest']}"
    if match := _GIST_PAGE.match(source):
        return f"https://gist.githubusercontent.com/{match['user']}/{match['gist']}/raw"
    return source


def is_url(source: str) -> bool:
    return urlparse(source).scheme in ("http", "https")


def fetch_text(source: str) -> str:
    if not is_url(source):
        path = Path(source).expanduser()
        if not path.is_file():
            raise ImportFailed(f"{source}: no such file")
        return path.read_text(encoding="utf-8")
    url = raw_url(source)
    request = urllib.request.Request(url, headers={"User-Agent": "orbiteos-blueprint-import"})
    try:
        with urllib.request.urlopen(request, timeout=FETCH_TIMEOUT_S) as response:
            body = response.read(MAX_BLUEPRINT_BYTES + 1)
    except urllib.error.HTTPError as err:
        raise ImportFailed(f"{url}: HTTP {err.code} {err.reason}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise ImportFailed(f"{url}: could not fetch ({reason})") from None
    if len(body) > MAX_BLUEPRINT_BYTES:
        raise ImportFailed(f"{url}: larger than {MAX_BLUEPRINT_BYTES} bytes, not a blueprint")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        raise ImportFailed(f"{url}: not UTF-8 text") from None


def with_source_url(text: str, source_url: str) -> str:
    """Add `source_url:` to the blueprint header unless it has one."""
    lines = text.splitlines(keepends=True)
    for index, line in enumerate(lines):
        if re.match(r"^blueprint:\s*(#.*)?$", line):
            indent = "  "
            for following in lines[index + 1 :]:
                if following.strip() and not following.lstrip().startswith("#"):
                    indent = following[: len(following) - len(following.lstrip())] or "  "
                    break
            header_end = index + 1
            while header_end < len(lines) and (
                not lines[header_end].strip() or lines[header_end].startswith((" ", "\t", "#"))
            ):
                if re.match(rf"^{re.escape(indent)}source_url:", lines[header_end]):
                    return text
                header_end += 1
            lines.insert(index + 1, f"{indent}source_url: {source_url}\n")
            return "".join(lines)
    return text


def validate_text(text: str, name_hint: str) -> Blueprint:
    with tempfile.TemporaryDirectory() as tmp:
        candidate = Path(tmp) / name_hint
        candidate.write_text(text, encoding="utf-8")
        try:
            return load_blueprint(candidate)
        except BlueprintError as err:
            where = f" (line {err.line})" if err.line else ""
            raise ImportFailed(f"not a valid blueprint: {err.message}{where}") from None


def target_path(config_dir: Path, source: str, blueprint: Blueprint) -> Path:
    if blueprint.author:
        folder = slugify(blueprint.author)
    elif is_url(source):
        parsed = urlparse(raw_url(source))
        folder = slugify(parsed.hostname or "web")
        match = _GITHUB_BLOB.match(source) or _GIST_PAGE.match(source)
        if match:
            folder = slugify(match.groupdict().get("owner") or match.groupdict().get("user") or folder)
    else:
        folder = "local"
    stem = Path(urlparse(source).path if is_url(source) else source).stem
    if not stem or stem == "raw":
        stem = slugify(blueprint.name)
    return config_dir / "blueprints" / "automation" / folder / f"{slugify(stem)}.yaml"


def import_blueprint(source: str, config_dir: Path, force: bool = False, dest: Path | None = None) -> ImportResult:
    text = fetch_text(source)
    blueprint = validate_text(text, "incoming.yaml")
    if blueprint.domain != "automation":
        raise ImportFailed(f"{source}: a {blueprint.domain!r} blueprint; OrbitEOS imports automation blueprints")
    if is_url(source) and not blueprint.source_url:
        text = with_source_url(text, source)
    path = dest or target_path(config_dir, source, blueprint)
    old = path.read_text(encoding="utf-8") if path.exists() else None
    if old is not None and not force:
        raise ImportFailed(f"{path} exists; use --force to replace it")
    path.parent.mkdir(parents=True, exist_ok=True)
    if old is not None and old != text:  # replaced with --force: the old one stays beside it, for rollback
        path.with_name(path.name + ".previous").write_text(old, encoding="utf-8")
    path.write_text(text, encoding="utf-8")
    diff = "".join(
        difflib.unified_diff(
            (old or "").splitlines(keepends=True), text.splitlines(keepends=True), str(path), str(path)
        )
    )
    return ImportResult(path, load_blueprint(path), old is not None, diff)


def reimport(name: str, config_dir: Path, force: bool = False) -> ImportResult:
    """Fetch an installed blueprint again (see `orbiteos.blueprint_update.reimport`)."""
    from orbiteos.blueprint_update import reimport as safe_reimport

    return safe_reimport(name, config_dir, force)
