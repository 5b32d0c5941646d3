"""Account pages the curation app adds to Django's auth views: sign-up by invitation, API tokens."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from curation import accounts, forms
from curation.models import ApiToken
from curation.permissions import InvalidInput, NotAllowed


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest, token: str) -> HttpResponse:
    """Sign up with an invitation link; the link works once and expires."""
    invitation = accounts.invitation_for_token(token)
    if invitation is None:
        raise Http404("This invitation is not valid any more")
    form = forms.SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = accounts.invitation_accept(
                token=token, username=form.cleaned_data["username"], password=form.cleaned_data["password1"]
            )
        except InvalidInput as error:
            form.add_error(None, str(error))
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")  # type: ignore[arg-type]
            messages.success(request, "Welcome to Evidence Portal")
            return redirect("curation:list")
    response = render(request, "registration/signup.html", {"form": form, "email": invitation.email})
    response["Referrer-Policy"] = "no-referrer"
    return response


@login_required
@require_http_methods(["GET", "POST"])
def api_tokens(request: HttpRequest) -> HttpResponse:
    """List, create (shown once) and revoke personal API tokens."""
    form = forms.TokenForm(request.POST or None)
    new_key = ""
    if request.method == "POST" and form.is_valid():
        try:
            _, new_key = accounts.api_token_create(user=request.user, name=form.cleaned_data["name"])
        except NotAllowed as error:
            messages.error(request, str(error))
    tokens = ApiToken.objects.filter(user_id=request.user.pk or 0).order_by("-created_at")
    response = render(request, "registration/api_tokens.html", {"form": form, "tokens": tokens, "new_key": new_key})
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def api_token_revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    try:
        accounts.api_token_revoke(user=request.user, token_id=token_id)
    except InvalidInput as error:
        messages.error(request, str(error))
    else:
        messages.success(request, "Revoked")
    return redirect("curation:api-tokens")
