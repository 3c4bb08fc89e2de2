"""GitHub's official descriptions as test oracles: is a REST request one GitHub would accept,
and is a webhook payload shaped as GitHub sends it?

The descriptions come from npm (`@octokit/openapi`, `@octokit/openapi-webhooks`), pinned in
tests/package.json and installed by scripts/setup.sh (`npm ci --prefix tests`). Each is parsed
once per process (the REST one is 13 MB). Only what a stand-in can judge is checked: that the
method and path name an operation, and that a JSON body satisfies its requestBody schema."""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jsonschema import Draft4Validator, Draft202012Validator, validators
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4, DRAFT202012

OCTOKIT = Path(__file__).resolve().parents[1] / "node_modules" / "@octokit"
REST_SPEC = OCTOKIT / "openapi" / "generated" / "api.github.com.json"
WEBHOOKS_SPEC = OCTOKIT / "openapi-webhooks" / "generated" / "api.github.com.json"
REST_URI, WEBHOOKS_URI = "urn:github-rest", "urn:github-webhooks"
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def _load(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: run scripts/setup.sh "
                                "(it runs `npm ci --prefix tests`)")
    return json.loads(path.read_text())


def _nullable(keyword: str, check: Any) -> Any:
    """OpenAPI 3.0's `nullable: true` admits null whatever `type`, `enum` or `allOf` say."""
    def wrapped(validator: Any, value: Any, instance: Any, schema: dict[str, Any]) -> Any:
        if instance is None and schema.get("nullable") is True:
            return None
        return check(validator, value, instance, schema)
    return wrapped


_base = Draft4Validator.VALIDATORS
OpenAPI30Validator = validators.extend(
    Draft4Validator, {k: _nullable(k, _base[k]) for k in ("type", "enum", "allOf", "oneOf",
                                                          "anyOf")})


def _pointer(*parts: str) -> str:
    escaped = (p.replace("~", "~0").replace("/", "~1") for p in parts)
    return "#/" + "/".join(quote(p, safe="~") for p in escaped)


def _messages(validator: Any, instance: Any, where: str) -> list[str]:
    out = []
    for err in sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path)):
        at = "/".join(str(p) for p in err.absolute_path) or "(body)"
        out.append(f"{where}: {at}: {err.message[:300]}")
    return out


class RestDescription:
    """Operations of the REST description indexed by method, matched by path template."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc
        self.registry = Registry().with_resource(REST_URI, Resource(doc, DRAFT4))
        self._strict: dict[str, list[tuple[re.Pattern[str], str]]] = {}
        self._loose: dict[str, list[tuple[re.Pattern[str], str]]] = {}
        for template, item in doc["paths"].items():
            literal = re.escape(template)
            strict = re.sub(r"\\\{[^}]+\\\}", "[^/]+", literal)
            loose = re.sub(r"\\\{[^}]+\\\}", ".+", literal)  # {ref} may hold "heads/main"
            for method in METHODS:
                if method in item:
                    self._strict.setdefault(method, []).append((re.compile(strict + "$"),
                                                                template))
                    self._loose.setdefault(method, []).append((re.compile(loose + "$"),
                                                               template))

    def template(self, method: str, path: str) -> str | None:
        """The path template this request matches: fewest parameters first."""
        method = method.lower()
        for table in (self._strict, self._loose):
            found = [t for rx, t in table.get(method, []) if rx.match(path)]
            if found:
                return min(found, key=lambda t: (t.count("{"), -len(t)))
        return None

    def violations(self, method: str, path: str, body: Any = None, *,
                   has_body: bool = False) -> list[str]:
        """What GitHub would refuse about this request ([] when nothing)."""
        path = path.split("?", 1)[0]
        where = f"{method.upper()} {path}"
        template = self.template(method, path)
        if template is None:
            return [f"{where}: no such operation in GitHub's REST API"]
        op = self.doc["paths"][template][method.lower()]
        request_body = op.get("requestBody")
        parts = ("paths", template, method.lower(), "requestBody")
        if request_body and "$ref" in request_body:
            ref = request_body["$ref"].removeprefix("#/").split("/")
            request_body = functools.reduce(lambda d, k: d[k], ref, self.doc)
            parts = tuple(ref)
        if not request_body:
            return []
        if not has_body:
            return [f"{where}: the request needs a body"] if request_body.get("required") else []
        content = request_body.get("content", {})
        media = next((m for m in content if "json" in m), None)
        if media is None or "schema" not in content[media]:
            return []
        ref = REST_URI + _pointer(*parts, "content", media, "schema")
        validator = OpenAPI30Validator({"$ref": ref}, registry=self.registry)
        return _messages(validator, body, f"{where} ({op.get('operationId')})")


@functools.cache
def rest_description() -> RestDescription:
    return RestDescription(_load(REST_SPEC))


def request_violations(method: str, path: str, body: Any = None, *,
                       has_body: bool = False) -> list[str]:
    """What GitHub's REST description says is wrong with this request; [] when nothing."""
    return rest_description().violations(method, path, body, has_body=has_body)


@functools.cache
def _webhooks() -> tuple[dict[str, Any], Registry]:
    doc = _load(WEBHOOKS_SPEC)
    return doc, Registry().with_resource(WEBHOOKS_URI, Resource(doc, DRAFT202012))


def webhook_violations(event: str, payload: Any) -> list[str]:
    """What GitHub's webhook schemas say is wrong with `payload` as an `event` delivery
    (the X-GitHub-Event header: "issues", "issue_comment", ...); [] when nothing."""
    doc, registry = _webhooks()
    base = event.replace("_", "-")
    action = payload.get("action") if isinstance(payload, dict) else None
    name = f"{base}-{action}" if f"{base}-{action}" in doc["webhooks"] else base
    if name not in doc["webhooks"]:
        return [f"{event}/{action}: no such webhook in GitHub's webhook schemas"]
    content = doc["webhooks"][name]["post"]["requestBody"]["content"]
    media = next(m for m in content if "json" in m)
    ref = WEBHOOKS_URI + _pointer("webhooks", name, "post", "requestBody", "content", media,
                                  "schema")
    validator = Draft202012Validator({"$ref": ref}, registry=registry)
    return _messages(validator, payload, f"webhook {name}")
