"""The App's credentials: its JWT, and installation tokens that stay fresh during long runs.

The JWT is RS256 (PyJWT), `iat` backdated 60 s for clock drift and `exp` 9 minutes ahead,
under GitHub's 10-minute ceiling, and is signed afresh for each exchange. githubkit's own
App strategy is not used: it caches JWTs and tokens in a process-wide store keyed by app id,
on its own clock, with a 1-minute margin. A token lives
one hour; `InstallationTokens` hands out the cached one until less than 5 minutes of it are
left, so a request made with it never meets an expired token mid-job."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime

import jwt
from githubkit.exception import RequestError, RequestFailed
from pydantic import BaseModel, ConfigDict, SecretStr

from envs.sources.github_client import API_VERSION, github_client
from quorum.app.github_ops import GitHubError

JWT_BACKDATE_S = 60
JWT_LIFETIME_S = 540  # from now; GitHub refuses an exp more than 10 minutes ahead
REFRESH_MARGIN_S = 300


class AppCredentials(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    app_id: int
    private_key_pem: SecretStr


def app_jwt(creds: AppCredentials, now: float | None = None) -> str:
    """A JWT authenticating as the App: RS256, iat = now - 60 s, exp = now + 540 s."""
    t = int(time.time() if now is None else now)
    claims = {"iat": t - JWT_BACKDATE_S, "exp": t + JWT_LIFETIME_S, "iss": str(creds.app_id)}
    return jwt.encode(claims, creds.private_key_pem.get_secret_value(), algorithm="RS256")


class _Token(BaseModel):
    value: SecretStr
    expires_at: float


class InstallationTokens:
    """A thread-safe cache of installation tokens, one per installation id."""

    def __init__(self, creds: AppCredentials, api_url: str, *,
                 clock: Callable[[], float] = time.time) -> None:
        self._creds = creds
        self._api_url = api_url.rstrip("/")
        self._clock = clock
        self._lock = threading.Lock()
        self._cache: dict[int, _Token] = {}
        self._locks: dict[int, threading.Lock] = {}
        self._gh = github_client(self._api_url, lambda: app_jwt(creds))  # held: see RepoClient
        self._rest = self._gh.rest(API_VERSION)

    def token(self, installation_id: int) -> str:
        with self._lock:
            lock = self._locks.setdefault(installation_id, threading.Lock())
        with lock:  # one exchange per installation at a time: its jobs share the fresh token
            cached = self._cache.get(installation_id)
            if cached is None or cached.expires_at - self._clock() < REFRESH_MARGIN_S:
                cached = self._exchange(installation_id)
                self._cache[installation_id] = cached
            return cached.value.get_secret_value()

    def source(self, installation_id: int) -> Callable[[], str]:
        """A token source for `RepoClient`: the current token of this installation."""
        return lambda: self.token(installation_id)

    def _exchange(self, installation_id: int) -> _Token:
        what = f"an installation token for installation {installation_id}"
        try:
            resp = self._rest.apps.create_installation_access_token(installation_id)
        except RequestFailed as exc:
            status = exc.response.status_code
            raise GitHubError(f"GitHub answered {status} when asked for {what}", status=status,
                              hint="check QUORUM_APP_ID, the private key, and that the App "
                              "is installed") from None
        except RequestError as exc:
            cause = type(exc.exc).__name__ if isinstance(exc.exc, Exception) else "error"
            raise GitHubError(f"cannot reach GitHub at {self._api_url} for {what} ({cause})",
                              hint="check the network and QUORUM_GITHUB_API_URL") from None
        data = resp.raw_response.json()
        expires = datetime.fromisoformat(data["expires_at"].replace("Z", "+00:00")).timestamp()
        return _Token(value=SecretStr(data["token"]), expires_at=expires)
