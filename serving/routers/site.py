"""The site the API serves: its name, language, risk groups with their labels and default map metric.

Read from the site description the forecast job writes beside the dashboard tables
(`core.tables.SITE_FILE`); tables written before sites existed get a default built from the served
forecasts' groups, labelled in `Settings.language`. The dashboard builds its group toggle and labels
from this answer.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from fastapi import APIRouter
from pydantic import ValidationError

from core.settings import Settings
from core.tables import SITE_FILE
from serving.auth import KeyFirstRoute, Permission, require
from serving.deps import ResourcesDep, SettingsDep
from serving.errors import NotReadyError
from serving.grid_schemas import LEGACY_GROUPS
from serving.schemas import ERROR_RESPONSES, SiteGroup, SiteResponse

# labels of the two groups every site had before sites could name their own (taxonomy without risk_groups)
DEFAULT_GROUP_LABELS = {
    "dispute": {"zh": "矛盾纠纷", "en": "Disputes"},
    "hazard": {"zh": "安全隐患", "en": "Safety hazards"},
}
DEFAULT_MAP_METRIC = "probability"

router = APIRouter(
    prefix="/v1", tags=["site"], dependencies=[require(Permission.DASHBOARD)], route_class=KeyFirstRoute
)


@router.get(
    "/site",
    summary="The site: its name, language, risk groups and default map metric",
    description=(
        "What the dashboard needs to label a city: the site's name, the language of its labels (`zh` or "
        "`en`), its risk groups (1..n, id and label, in display order; the ids are those `/v1/risk?group=` "
        "takes) and what the map draws by default. Written by `gridsense forecast` beside the dashboard "
        "tables; for tables from before sites existed, built from the forecasts' groups (`source: "
        "default`)."
    ),
    responses={status: ERROR_RESPONSES[status] for status in (401, 403, 503)},
)
def site(settings: SettingsDep, resources: ResourcesDep) -> SiteResponse:
    path = settings.dashboard_tables_dir / SITE_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        store = resources.forecasts.value
        return default_site(settings, store.groups if store is not None else LEGACY_GROUPS)
    try:
        return SiteResponse.model_validate({**json.loads(text), "source": "file"})
    except (ValueError, ValidationError) as exc:
        raise NotReadyError(f"the site description {path} cannot be read: {exc}") from exc


def default_site(settings: Settings, groups: Sequence[str]) -> SiteResponse:
    """The demo's labels for dispute and hazard; any other group is labelled with its id."""
    ordered = [group for group in LEGACY_GROUPS if group in groups] + sorted(
        group for group in groups if group not in LEGACY_GROUPS
    )
    labels = [DEFAULT_GROUP_LABELS.get(group, {}).get(settings.language, group) for group in ordered]
    return SiteResponse(
        site=settings.site,
        language=settings.language,
        groups=[SiteGroup(id=group, label=label) for group, label in zip(ordered, labels, strict=True)],
        map_metric=DEFAULT_MAP_METRIC,
        source="default",
    )
