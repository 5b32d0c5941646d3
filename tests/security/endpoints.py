"""Walk every URL pattern of the portal as each kind of caller (for tests/security/test_endpoints.py)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import Group, User
from django.contrib.auth.tokens import default_token_generator
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from curation.accounts import api_token_create, invitation_create
from curation.models import AUTHORS_GROUP, NewEvidenceAlert, Role
from curation.services import collection_create, item_add, member_set, saved_search_create, share_link_create
from curation.snapshots import snapshot_create
from evidence_portal.api import api
from guidelines.models import Guideline
from operations.models import Job
from tests.factories import EvidenceRecordFactory

ROLES = ("anonymous", "user", "author", "staff")
LOGIN_PATHS = ("/accounts/login/", "/admin/login/")


def url_patterns() -> list[tuple[str, str]]:
    """Return ``(route, name)`` of every URL pattern, admin patterns folded into ``admin/…``."""
    found: list[tuple[str, str]] = []

    def walk(patterns: list[Any], prefix: str) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern):
                route = prefix + str(pattern.pattern)
                if route.startswith("admin/"):
                    route, name = "admin/…", "admin"
                else:
                    name = pattern.name or ""
                if (route, name) not in found:
                    found.append((route, name))

    walk(get_resolver().url_patterns, "")
    return found


def api_methods() -> dict[str, str]:
    """Return the HTTP method of each API operation, by URL pattern name (the view's name; the
    operation id is the same, or prefixed with the router's module)."""
    schema = api.get_openapi_schema(path_prefix="/api/v1/")
    return {
        operation["operationId"].split("_api_")[-1]: method.upper()
        for path in schema["paths"].values()
        for method, operation in path.items()
    }


@dataclass
class World:
    users: dict[str, User | None]
    values: dict[str, str]


def build_world() -> World:
    """Users in each role and one of everything, owned by the author; return them and the values
    that fill each URL parameter."""
    authors = Group.objects.get_or_create(name=AUTHORS_GROUP)[0]
    user = User.objects.create_user("pat", email="pat@example.org", password="pw-pat")
    author = User.objects.create_user("olivia", email="olivia@example.org", password="pw-olivia")
    author.groups.add(authors)
    staff = User.objects.create_user("sam", email="sam@example.org", password="pw-sam", is_staff=True)
    editor = User.objects.create_user("carlos", password="pw-carlos")
    editor.groups.add(authors)
    record = EvidenceRecordFactory(source_id="12345", evidence_level="rct")
    collection = collection_create(user=author, name="Statins")
    item = item_add(user=author, collection=collection, record=record.pmid or record.uid)
    member = member_set(user=author, collection=collection, username="carlos", role=Role.EDIT)
    snapshot = snapshot_create(user=author, collection=collection, label="v1")
    saved = saved_search_create(user=author, collection=collection, query="statin")
    alert = NewEvidenceAlert.objects.create(saved_search=saved, record=record)
    share_token = share_link_create(user=author, collection=collection)
    _, signup_token = invitation_create(invited_by=staff, email="new@example.org")
    api_token, _ = api_token_create(user=author, name="laptop")
    now = timezone.now()
    guideline = Guideline.objects.create(
        source="upload",
        source_id="g-1",
        title="Statins",
        content_hash="0" * 64,
        first_harvested_at=now,
        last_harvested_at=now,
    )
    values = {
        "pk": str(collection.pk),
        "collection_id": str(collection.pk),
        "item_id": str(item.pk),
        "member_id": str(member.pk),
        "snapshot_id": str(snapshot.pk),
        "search_id": str(saved.pk),
        "alert_id": str(alert.pk),
        "token_id": str(api_token.pk),
        "key": record.pmid or record.uid,
        "pmid": record.pmid or record.uid,
        "fmt": "ris",
        "guideline_id": str(guideline.pk),
        "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
    }
    # Valid bodies, so that a refusal comes from the permission check, not from validation.
    job = Job.objects.create(kind="regrade", started_by_label="security test")
    values["pk:ops/jobs/<int:pk>/"] = values["pk:ops/jobs/<int:pk>.json"] = str(job.pk)
    values["pk:ops/jobs/<int:pk>/cancel"] = str(job.pk)
    values["body:create_collection"] = '{"name": "Another"}'
    values["body:add_item"] = '{"record": "%s"}' % (record.pmid or record.uid)
    values["query:collections/<int:pk>/snapshots/diff"] = f"?a={snapshot.pk}&b={snapshot.pk}"
    values["token:accounts/reset/<uidb64>/<token>/"] = default_token_generator.make_token(user)
    values["token:collections/shared/<str:token>/"] = share_token
    values["token:accounts/signup/<str:token>/"] = signup_token
    return World(users={"anonymous": None, "user": user, "author": author, "staff": staff}, values=values)


_PARAM = re.compile(r"<(?:\w+:)?(\w+)>")


def fill(route: str, values: dict[str, str]) -> str:
    """Return the path of ``route`` with its parameters filled; KeyError names a missing one."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        specific = f"{name}:{route}"
        if specific in values:
            return values[specific]
        if name not in values:
            raise KeyError(f"no value for URL parameter <{name}> of {route}: add one to build_world()")
        return values[name]

    return "/" + _PARAM.sub(value, route) + values.get(f"query:{route}", "")


def outcome(response: Any) -> str:
    """Return "yes" when the caller got through, "no" when refused (login, 401, 403, 404)."""
    status = response.status_code
    if status in (401, 403, 404):
        return "no"
    if status in (301, 302) and response.url.split("?")[0].endswith(LOGIN_PATHS):
        return "no"
    if status == 429:
        return "throttled"
    if status >= 500:
        return f"error {status}"
    return "yes"


def call(client: Client, method: str, path: str, body: str = "{}") -> Any:
    """Send one request; a JSON ``body`` goes with every method but GET."""
    if method == "GET":
        return client.get(path)
    return client.generic(method, path, data=body.encode(), content_type="application/json")


def client_for(user: User | None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client
