"""Collection pages. Thin: parse a form, call one service, redirect or render.

Every view loads the collection through ``selectors.collection_get``, so a collection the user
may not view is a 404 and a change they may not make is a 403. All changes are POSTs with CSRF.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from curation import exports, forms, selectors, services, snapshots
from curation.models import Collection
from curation.permissions import Access, CollectionNotFound, InvalidInput, NotAllowed, access_level, is_author

View = Callable[..., HttpResponse]


def collection_view(needed: Access = Access.VIEW) -> Callable[[View], View]:
    """Sign-in required; loads ``collection`` (404 when hidden, 403 when too weak) and maps errors."""

    def decorate(view: View) -> View:
        @login_required
        @wraps(view)
        def wrapper(request: HttpRequest, pk: int, **kwargs: Any) -> HttpResponse:
            try:
                collection = selectors.collection_get(user=request.user, collection_id=pk, needed=needed)
                return view(request, collection, **kwargs)
            except CollectionNotFound:
                raise Http404("No such collection") from None
            except NotAllowed as error:
                raise PermissionDenied(str(error)) from None
            except InvalidInput as error:
                messages.error(request, str(error))
                return redirect("curation:detail", pk=pk)

        return wrapper

    return decorate


def _form_errors(request: HttpRequest, form: Any) -> None:
    for field, errors in form.errors.items():
        label = "" if field == "__all__" else f"{field.replace('_', ' ').capitalize()}: "
        messages.error(request, label + " ".join(errors))


def _back(request: HttpRequest, collection: Collection) -> HttpResponseRedirect:
    return redirect("curation:detail", pk=collection.pk)


# --- Collections ---------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def collection_list(request: HttpRequest) -> HttpResponse:
    form = forms.CollectionForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            try:
                collection = services.collection_create(user=request.user, **form.cleaned_data)
            except NotAllowed as error:
                raise PermissionDenied(str(error)) from None
            except InvalidInput as error:
                messages.error(request, str(error))
            else:
                return redirect("curation:detail", pk=collection.pk)
        else:
            _form_errors(request, form)
    collections = selectors.collections_visible_to(request.user)
    return render(
        request,
        "curation/collection_list.html",
        {"collections": collections, "form": form, "can_create": is_author(request.user)},
    )


def _detail_context(request: HttpRequest, collection: Collection, access: Access) -> dict[str, Any]:
    return {
        "collection": collection,
        "items": selectors.collection_items(collection),
        "summary": selectors.collection_summary(collection),
        "access": access.name.lower(),
        "can_edit": access >= Access.EDIT and not collection.is_archived,
        "is_owner": access == Access.OWN,
        "snapshots": collection.snapshots.all(),
        "saved_searches": collection.saved_searches.all(),
        "alerts": selectors.open_alerts(collection),
        "audit": selectors.audit_trail(collection),
        "members": collection.members.select_related("user"),
        "share_url": request.build_absolute_uri(reverse("curation:shared", args=[collection.share_token]))
        if collection.share_token
        else "",
        "item_form": forms.ItemForm,
        "decisions": forms.Decision.choices,
        "certainties": forms.Certainty.choices,
        "formats": exports.FORMATS,
    }


@collection_view()
@require_GET
def collection_detail(request: HttpRequest, collection: Collection) -> HttpResponse:
    access = access_level(request.user, collection)
    return render(request, "curation/collection_detail.html", _detail_context(request, collection, access))


@require_GET
def shared_collection(request: HttpRequest, token: str) -> HttpResponse:
    """The read-only link: no sign-in, no edit controls; a revoked token is a 404 at once."""
    try:
        collection = selectors.collection_by_share_token(token)
    except CollectionNotFound:
        raise Http404("This link does not exist or was revoked") from None
    context = _detail_context(request, collection, Access.VIEW)
    context.update({"read_only_link": True, "audit": [], "members": [], "alerts": [], "saved_searches": []})
    response = render(request, "curation/collection_detail.html", context)
    response["Referrer-Policy"] = "no-referrer"  # keep the token out of outgoing Referer headers
    return response


@collection_view(Access.EDIT)
@require_POST
def collection_edit(request: HttpRequest, collection: Collection) -> HttpResponse:
    form = forms.CollectionForm(request.POST)
    if form.is_valid():
        services.collection_update(user=request.user, collection=collection, **form.cleaned_data)
        messages.success(request, "Saved")
    else:
        _form_errors(request, form)
    return _back(request, collection)


@collection_view(Access.OWN)
@require_POST
def collection_archive(request: HttpRequest, collection: Collection) -> HttpResponse:
    archived = request.POST.get("archived") == "1"
    services.collection_set_archived(user=request.user, collection=collection, archived=archived)
    messages.success(request, "Archived" if archived else "Unarchived")
    return _back(request, collection)


@collection_view(Access.OWN)
@require_http_methods(["GET", "POST"])
def collection_delete(request: HttpRequest, collection: Collection) -> HttpResponse:
    if request.method == "POST" and request.POST.get("confirm") == collection.name:
        name = collection.name
        services.collection_delete(user=request.user, collection=collection)
        messages.success(request, f"Deleted “{name}”")
        return redirect("curation:list")
    if request.method == "POST":
        messages.error(request, "Type the collection's name exactly to confirm")
    return render(request, "curation/collection_delete.html", {"collection": collection})


# --- Items ---------------------------------------------------------------------------------------


@collection_view(Access.EDIT)
@require_POST
def item_add(request: HttpRequest, collection: Collection) -> HttpResponse:
    form = forms.AddItemForm(request.POST)
    if form.is_valid():
        item = services.item_add(user=request.user, collection=collection, **form.cleaned_data)
        messages.success(request, f"Added {item.record.pmid or item.record.uid}")
    else:
        _form_errors(request, form)
    return _back(request, collection)


@login_required
@require_POST
def add_to_collection(request: HttpRequest) -> HttpResponse:
    """The "add to collection" button of search results and the record page."""
    form = forms.AddToCollectionForm(request.POST)
    target = request.POST.get("next") or reverse("curation:list")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = reverse("curation:list")
    if not form.is_valid():
        _form_errors(request, form)
        return redirect(target)
    data = form.cleaned_data
    try:
        collection = selectors.collection_get(user=request.user, collection_id=data["collection"], needed=Access.EDIT)
        item = services.item_add(user=request.user, collection=collection, record=data["record"], note=data["note"])
    except CollectionNotFound:
        raise Http404("No such collection") from None
    except NotAllowed as error:
        raise PermissionDenied(str(error)) from None
    except InvalidInput as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"Added {item.record.pmid or item.record.uid} to “{collection.name}”")
    return redirect(target)


@collection_view(Access.EDIT)
@require_POST
def item_edit(request: HttpRequest, collection: Collection, item_id: int) -> HttpResponse:
    item = selectors.item_get(collection, item_id)
    form = forms.ItemForm(request.POST)
    if form.is_valid():
        services.item_update(user=request.user, item=item, **form.cleaned_data)
        messages.success(request, "Saved")
    else:
        _form_errors(request, form)
    return redirect(reverse("curation:detail", args=[collection.pk]) + f"#item-{item.pk}")


@collection_view(Access.EDIT)
@require_POST
def item_move(request: HttpRequest, collection: Collection, item_id: int) -> HttpResponse:
    item = selectors.item_get(collection, item_id)
    form = forms.MoveForm(request.POST)
    if form.is_valid():
        services.item_move(user=request.user, item=item, direction=form.cleaned_data["direction"])
    return redirect(reverse("curation:detail", args=[collection.pk]) + f"#item-{item.pk}")


@collection_view(Access.EDIT)
@require_POST
def items_reorder(request: HttpRequest, collection: Collection) -> HttpResponse:
    """Drag and drop (JavaScript) posts the new order as comma-separated item ids."""
    try:
        item_ids = [int(part) for part in request.POST.get("order", "").split(",") if part.strip()]
    except ValueError:
        raise InvalidInput("The order must be item ids separated by commas") from None
    services.items_reorder(user=request.user, collection=collection, item_ids=item_ids)
    return _back(request, collection)


@collection_view(Access.EDIT)
@require_POST
def item_remove(request: HttpRequest, collection: Collection, item_id: int) -> HttpResponse:
    services.item_remove(user=request.user, item=selectors.item_get(collection, item_id))
    messages.success(request, "Removed")
    return _back(request, collection)


# --- Sharing -------------------------------------------------------------------------------------


@collection_view(Access.OWN)
@require_POST
def share(request: HttpRequest, collection: Collection) -> HttpResponse:
    form = forms.ShareForm(request.POST)
    if form.is_valid():
        services.member_set(user=request.user, collection=collection, **form.cleaned_data)
        messages.success(request, "Shared")
    else:
        _form_errors(request, form)
    return _back(request, collection)


@collection_view(Access.OWN)
@require_POST
def member_remove(request: HttpRequest, collection: Collection, member_id: int) -> HttpResponse:
    services.member_remove(user=request.user, collection=collection, member_id=member_id)
    return _back(request, collection)


@collection_view(Access.OWN)
@require_POST
def share_link(request: HttpRequest, collection: Collection) -> HttpResponse:
    if request.POST.get("action") == "revoke":
        services.share_link_revoke(user=request.user, collection=collection)
        messages.success(request, "The read-only link no longer works")
    else:
        services.share_link_create(user=request.user, collection=collection)
        messages.success(request, "Created a read-only link")
    return _back(request, collection)


# --- Saved searches and alerts -------------------------------------------------------------------


@collection_view(Access.EDIT)
@require_POST
def saved_search_add(request: HttpRequest, collection: Collection) -> HttpResponse:
    form = forms.SavedSearchForm(request.POST)
    if form.is_valid():
        services.saved_search_create(
            user=request.user,
            collection=collection,
            query=form.cleaned_data["query"],
            filters=form.filters(),
            email_digest=form.cleaned_data["email_digest"],
        )
        messages.success(request, "Saved the search: new matches will be listed here after each harvest")
    else:
        _form_errors(request, form)
    return _back(request, collection)


@collection_view(Access.EDIT)
@require_POST
def saved_search_delete(request: HttpRequest, collection: Collection, search_id: int) -> HttpResponse:
    services.saved_search_delete(user=request.user, collection=collection, saved_search_id=search_id)
    return _back(request, collection)


@collection_view(Access.EDIT)
@require_POST
def alert_dismiss(request: HttpRequest, collection: Collection, alert_id: int) -> HttpResponse:
    services.alert_dismiss(user=request.user, collection=collection, alert_id=alert_id)
    return _back(request, collection)


# --- Snapshots and exports -----------------------------------------------------------------------


@collection_view(Access.EDIT)
@require_POST
def snapshot_create(request: HttpRequest, collection: Collection) -> HttpResponse:
    form = forms.SnapshotForm(request.POST)
    label = form.cleaned_data["label"] if form.is_valid() else ""
    snapshot = snapshots.snapshot_create(user=request.user, collection=collection, label=label)
    messages.success(request, f"Froze snapshot v{snapshot.number}")
    return redirect("curation:snapshot", pk=collection.pk, snapshot_id=snapshot.pk)


@collection_view()
@require_GET
def snapshot_detail(request: HttpRequest, collection: Collection, snapshot_id: int) -> HttpResponse:
    snapshot = selectors.snapshot_get(collection, snapshot_id)
    return render(
        request,
        "curation/snapshot_detail.html",
        {
            "collection": collection,
            "snapshot": snapshot,
            "statuses": snapshots.snapshot_item_statuses(snapshot),
            "summary": selectors.snapshot_summary(snapshot),
            "verified": snapshots.snapshot_verify(snapshot),
            "formats": exports.FORMATS,
            "others": collection.snapshots.exclude(pk=snapshot.pk),
        },
    )


@collection_view()
@require_GET
def snapshot_diff(request: HttpRequest, collection: Collection) -> HttpResponse:
    form = forms.DiffForm(request.GET)
    if not form.is_valid():
        raise Http404("Choose two snapshots")
    older = selectors.snapshot_get(collection, form.cleaned_data["a"])
    newer = selectors.snapshot_get(collection, form.cleaned_data["b"])
    if older.number > newer.number:
        older, newer = newer, older
    diff = snapshots.snapshot_diff(older, newer)
    return render(request, "curation/snapshot_diff.html", {"collection": collection, "diff": diff})


def _download(fmt: str, rows: list[exports.ExportRow], header: dict[str, Any], name: str) -> HttpResponse:
    if fmt not in exports.FORMATS:
        raise Http404("Unknown export format")
    response = HttpResponse(exports.render(fmt, rows, header=header), content_type=exports.MEDIA_TYPES[fmt])
    response["Content-Disposition"] = f'attachment; filename="{exports.filename(name, fmt)}"'
    return response


@collection_view()
@require_GET
def collection_export(request: HttpRequest, collection: Collection, fmt: str) -> HttpResponse:
    rows = exports.collection_rows(collection)
    return _download(fmt, rows, exports.collection_header(collection), collection.name)


@collection_view()
@require_GET
def snapshot_export(request: HttpRequest, collection: Collection, snapshot_id: int, fmt: str) -> HttpResponse:
    snapshot = selectors.snapshot_get(collection, snapshot_id)
    rows = exports.snapshot_rows(snapshot)
    return _download(fmt, rows, exports.snapshot_header(snapshot), f"{snapshot.name}-v{snapshot.number}")


@collection_view()
@require_GET
def evidence_table(request: HttpRequest, collection: Collection, snapshot_id: int | None = None) -> HttpResponse:
    """The printable evidence table (grouped by level) of the collection or of one snapshot."""
    snapshot = selectors.snapshot_get(collection, snapshot_id) if snapshot_id else None
    rows = exports.snapshot_rows(snapshot) if snapshot else exports.collection_rows(collection)
    return render(
        request,
        "curation/evidence_table.html",
        {"collection": collection, "snapshot": snapshot, "groups": exports.evidence_table(rows)},
    )
