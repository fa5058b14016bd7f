"""Who is calling the API, and whether they may: the bearer token, its scopes, the rate
limit. Every FHIR view is wrapped by `fhir_api`, so a view's own code is about FHIR."""

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from django.contrib.auth.models import User
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.views.decorators.csrf import csrf_exempt
from oauth2_provider.models import AccessToken, Application

from clinic.errors import error_status

from .models import ApiClient
from .outcomes import FhirError, outcome_response
from .scopes import RESOURCE_TYPES, Scope, requestable, scopes_parse

View = Callable[..., HttpResponseBase]


@dataclass(frozen=True)
class ApiCaller:
    """The client behind a request's token."""

    application: Application
    api_client: ApiClient
    scopes: list[Scope]

    @property
    def user(self) -> User:
        """The client's service account: named in history rows and the access log."""
        user: User = self.application.user
        return user

    def may(self, resource_type: str, letters: str) -> bool:
        """Whether one scope covers every letter for the type; `*` needs a wildcard scope."""
        return any(
            scope.resource_type in ("*", resource_type) and set(letters) <= set(scope.letters)
            for scope in self.scopes
        )


def _bearer_token(request: HttpRequest) -> str | None:
    kind, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() or None if kind.lower() == "bearer" else None


def caller_of(request: HttpRequest) -> ApiCaller:
    """The caller, or FhirError 401 without a valid token. One query: the token with its
    application, client and service account."""
    token = _bearer_token(request)
    if token is None:
        raise FhirError(401, "This API needs an OAuth 2 bearer token.", code="login")
    checksum = hashlib.sha256(token.encode()).hexdigest()
    access_token = (
        AccessToken.objects.select_related("application__api_client", "application__user")
        .filter(token_checksum=checksum)
        .first()
    )
    if access_token is None or access_token.is_expired() or access_token.application is None:
        raise FhirError(401, "The token is not valid or has expired.", code="login")
    application = access_token.application
    api_client = getattr(application, "api_client", None)
    if api_client is None or application.user is None:
        raise FhirError(401, "The token's client is not registered for this API.", code="login")
    # A grant the manager narrowed since the token was issued applies at once.
    granted = requestable(scopes_parse(api_client.granted_scopes))
    scopes = [scope for scope in scopes_parse(access_token.scope) if str(scope) in granted]
    return ApiCaller(application, api_client, scopes)


def _rate_limit(caller: ApiCaller) -> None:
    """A fixed one-minute window per client in the shared cache; over it, 429 with the
    seconds to the next window."""
    now = int(time.time())
    window = now // 60
    key = f"fhir-rate:{caller.application.pk}:{window}"
    cache.add(key, 0, timeout=90)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr: this request opens the window
        cache.set(key, 1, timeout=90)
        count = 1
    if count > caller.api_client.requests_per_minute:
        raise FhirError(
            429, "Too many requests from this client; try again shortly.", code="throttled"
        )


def retry_after(now: float | None = None) -> str:
    return str(60 - int(now or time.time()) % 60)


def fhir_api(
    *, letters: dict[str, str], resource_type: str | None = None
) -> Callable[[View], View]:
    """Wrap a FHIR view: a valid token (401), the interaction's scope (403): `letters` maps
    each allowed HTTP method to the scope letters it needs (405 for another method) on
    `resource_type` or the URL's <resource_type> (404 when the API has no such type),
    then the client's rate limit (429). Refusals by services become OperationOutcomes:
    400, or 409 for a conflict."""

    def decorator(view: View) -> View:
        @csrf_exempt  # a bearer token, not a cookie: there is no session to forge requests with
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            try:
                caller = caller_of(request)
                type_ = resource_type or kwargs.get("resource_type", "")
                if type_ != "*" and type_ not in RESOURCE_TYPES:
                    raise FhirError(404, f"This server has no resource type {type_!r}.")
                needed = letters.get(request.method or "")
                if needed is None:
                    raise FhirError(405, f"{request.method} is not supported here.")
                if not caller.may(type_, needed):
                    raise FhirError(
                        403,
                        f"The token's scopes do not allow this: it needs system/{type_}.{needed}.",
                        code="forbidden",
                    )
                _rate_limit(caller)
                request.user = caller.user
                return view(request, *args, caller=caller, **kwargs)
            except FhirError as error:
                headers = {"Retry-After": retry_after()} if error.status == 429 else {}
                if error.status == 401:
                    headers["WWW-Authenticate"] = 'Bearer realm="fhir"'
                return outcome_response(error.status, error.message, code=error.code, **headers)
            except ValidationError as error:
                status = error_status(error)
                return outcome_response(status, " ".join(error.messages))

        # For the access tests: FHIR views are opened by a token's scopes, not a role.
        wrapped.token_required = True  # type: ignore[attr-defined]
        return wrapped

    return decorator
