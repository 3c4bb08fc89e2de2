"""The one way Quorum builds a GitHub REST client (githubkit), for `quorum solve URL` and the App.

The token is optional (public repositories) and may be a callable, asked before every request,
so a long-running App job always sends its freshest installation token. githubkit's automatic
retries (it sleeps until a rate limit resets) and its HTTP cache are off: a caller wants the
error at once, and a stateful API (the App writes, then reads back) must not be answered from
a cache.

Calls use REST API version 2022-11-28 (`github_client(...).rest(API_VERSION)`): the one
GitHub Enterprise Server answers too; githubkit's default, 2026-03-10, it may not know."""

from __future__ import annotations

from collections.abc import Callable, Generator

import httpx
from githubkit import GitHub
from githubkit.auth.base import BaseAuthStrategy
from githubkit.auth.unauth import UnauthAuthStrategy

GITHUB_API = "https://api.github.com"
TIMEOUT_S = 30.0
USER_AGENT = "quorum"
API_VERSION = "2022-11-28"

TokenSource = Callable[[], str]


class _BearerFromSource(httpx.Auth):
    def __init__(self, source: TokenSource) -> None:
        self._source = source

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._source()}"
        yield request


class TokenSourceAuthStrategy(BaseAuthStrategy):
    """A bearer token asked of `source` per request (an installation token that refreshes)."""

    def __init__(self, source: TokenSource) -> None:
        self.source = source

    def get_auth_flow(self, github: object) -> httpx.Auth:
        return _BearerFromSource(self.source)


class _PooledTransport(httpx.BaseTransport):
    """One connection pool (and TLS context) for all of a client's requests. githubkit opens
    and closes an httpx.Client per request outside `with github:`, which would build a TLS
    context (tens of ms) and a new connection every time; closing that client must not close
    the shared pool, so close() here is a no-op and the pool lives as long as the client."""

    def __init__(self) -> None:
        self._inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self._inner.handle_request(request)

    def close(self) -> None:
        pass

    def __del__(self) -> None:
        self._inner.close()


def github_client(api_url: str = GITHUB_API, token: str | TokenSource | None = None, *,
                  timeout: float = TIMEOUT_S,
                  transport: httpx.BaseTransport | None = None) -> GitHub:
    """A githubkit client on `api_url` (github.com, GitHub Enterprise's `https://HOST/api/v3`,
    or a stand-in), sending `Authorization: Bearer TOKEN` when a token is given."""
    if token is None or token == "":
        auth: BaseAuthStrategy = UnauthAuthStrategy()
    elif isinstance(token, str):
        fixed = token
        auth = TokenSourceAuthStrategy(lambda: fixed)
    else:
        auth = TokenSourceAuthStrategy(token)
    return GitHub(auth, base_url=api_url.rstrip("/") + "/", user_agent=USER_AGENT,
                  timeout=timeout, auto_retry=False, http_cache=False,
                  transport=transport or _PooledTransport())
