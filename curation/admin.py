"""Admin for staff: collections read-mostly, invitations and tokens manageable."""

from __future__ import annotations

from django.contrib import admin

from curation.models import ApiToken, AuditEvent, Collection, CollectionMember, Invitation, Snapshot


class MemberInline(admin.TabularInline):
    model = CollectionMember
    extra = 0


@admin.register(Collection)
class CollectionAdmin(admin.ModelAdmin):
    list_display = ("name", "owner", "updated_at", "archived_at")
    search_fields = ("name", "owner__username")
    exclude = ("share_token",)
    inlines = [MemberInline]


@admin.register(Snapshot)
class SnapshotAdmin(admin.ModelAdmin):
    list_display = ("name", "number", "collection", "created_at", "content_hash")

    def has_add_permission(self, request: object) -> bool:
        return False

    def has_change_permission(self, request: object, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: object, obj: object = None) -> bool:
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ("created_at", "collection", "actor", "action", "summary")

    def has_change_permission(self, request: object, obj: object = None) -> bool:
        return False


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ("email", "as_author", "created_at", "expires_at", "accepted_at")
    readonly_fields = ("token_hash", "accepted_at", "accepted_user")


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("user", "name", "prefix", "created_at", "last_used_at")
    readonly_fields = ("key_hash", "prefix")
