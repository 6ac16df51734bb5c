"""API key management for the CLI (`gridsense keys ...`, demo keys). The store itself lives in
`core.keys` (the API verifies against it); every change here is written to the audit log."""

from __future__ import annotations

from core.audit import AuditLog, cli_actor
from core.keys import ApiKeyRecord, KeyFile, NewKey, Role
from core.settings import Settings

DEMO_LABEL = "demo"


class KeyManager:
    def __init__(self, settings: Settings | None = None, actor: str | None = None) -> None:
        settings = settings or Settings()  # as the API reads them: both agree on the files
        self.keys = KeyFile(settings.api_keys_path)
        self.audit = AuditLog(settings.audit_log_path)
        self.actor = actor or cli_actor()

    @property
    def path(self):
        return self.keys.path

    def create(self, role: Role | str, label: str = "") -> NewKey:
        created = self.keys.create(role, label)
        self.audit.record(
            "key.create",
            self.actor,
            key_id=created.record.key_id,
            role=created.record.role.value,
            label=label,
        )
        return created

    def list(self, include_revoked: bool = False) -> list[ApiKeyRecord]:
        return self.keys.list(include_revoked=include_revoked)

    def revoke(self, key_id: str) -> ApiKeyRecord:
        record = self.keys.revoke(key_id)
        self.audit.record("key.revoke", self.actor, key_id=key_id, role=record.role.value)
        return record

    def issue_demo_keys(self) -> dict[Role, str]:
        """Fresh keys for the three roles, labelled `demo`; the previous demo keys are revoked. The keys
        exist in clear only in the returned value (printed once by the caller)."""
        for revoked in self.keys.revoke_label(DEMO_LABEL):
            self.audit.record(
                "key.revoke", self.actor, key_id=revoked.key_id, role=revoked.role.value, label=DEMO_LABEL
            )
        return {role: self.create(role, label=DEMO_LABEL).key for role in Role}
