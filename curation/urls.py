"""Collection pages under /collections/ and the account pages the app adds under /accounts/."""

from __future__ import annotations

from django.urls import path

from curation import account_views, views

app_name = "curation"

C = "collections/<int:pk>/"

urlpatterns = [
    path("collections/", views.collection_list, name="list"),
    path("collections/add", views.add_to_collection, name="add-to-collection"),
    path("collections/shared/<str:token>/", views.shared_collection, name="shared"),
    path(C, views.collection_detail, name="detail"),
    path(C + "edit", views.collection_edit, name="edit"),
    path(C + "archive", views.collection_archive, name="archive"),
    path(C + "delete", views.collection_delete, name="delete"),
    path(C + "items/add", views.item_add, name="item-add"),
    path(C + "items/reorder", views.items_reorder, name="items-reorder"),
    path(C + "items/<int:item_id>/edit", views.item_edit, name="item-edit"),
    path(C + "items/<int:item_id>/move", views.item_move, name="item-move"),
    path(C + "items/<int:item_id>/remove", views.item_remove, name="item-remove"),
    path(C + "share", views.share, name="share"),
    path(C + "members/<int:member_id>/remove", views.member_remove, name="member-remove"),
    path(C + "link", views.share_link, name="link"),
    path(C + "searches/add", views.saved_search_add, name="search-add"),
    path(C + "searches/<int:search_id>/delete", views.saved_search_delete, name="search-delete"),
    path(C + "alerts/<int:alert_id>/dismiss", views.alert_dismiss, name="alert-dismiss"),
    path(C + "snapshots/new", views.snapshot_create, name="snapshot-create"),
    path(C + "snapshots/diff", views.snapshot_diff, name="snapshot-diff"),
    path(C + "snapshots/<int:snapshot_id>/", views.snapshot_detail, name="snapshot"),
    path(C + "snapshots/<int:snapshot_id>/export/<str:fmt>", views.snapshot_export, name="snapshot-export"),
    path(C + "snapshots/<int:snapshot_id>/table", views.evidence_table, name="snapshot-table"),
    path(C + "export/<str:fmt>", views.collection_export, name="export"),
    path(C + "table", views.evidence_table, name="table"),
    path("accounts/signup/<str:token>/", account_views.signup, name="signup"),
    path("accounts/tokens/", account_views.api_tokens, name="api-tokens"),
    path("accounts/tokens/<int:token_id>/revoke", account_views.api_token_revoke, name="api-token-revoke"),
]
