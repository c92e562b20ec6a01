"""Config names of an earlier release, still accepted for one more: each is migrated to today's name with a
`DeprecatedName` warning, which the CLI shows as one `warning:` line."""

from __future__ import annotations

import warnings
from typing import Any

from wizevol.errors import WizevolWarning


class DeprecatedName(WizevolWarning):
    """A config key of an earlier release, still accepted; the CLI shows it as one `warning:` line."""


def migrate_old_names(data: dict[str, Any], rule_keys: frozenset[str]) -> dict[str, Any]:
    """0.1 names -> today's: `filters:` holding rules -> `rules:`; `quality:` -> `filters:`;
    `contaminated:` -> `contamination:`. `rule_keys`: the names of today's `rules:` settings."""
    data = dict(data)
    old_filters = data.get("filters")
    if isinstance(old_filters, dict) and old_filters and set(old_filters) <= rule_keys and "rules" not in data:
        warnings.warn("config: 'filters:' with elimination rules is now 'rules:' (the old name works until the "
                      "next release)", DeprecatedName, stacklevel=2)
        data["rules"] = data.pop("filters")
    if "quality" in data:
        warnings.warn("config: 'quality:' is now 'filters:' (the old name works until the next release)",
                      DeprecatedName, stacklevel=2)
        data["filters"] = data.pop("quality")
    filters = data.get("filters")
    if isinstance(filters, dict) and "contaminated" in filters:
        warnings.warn("config: 'contaminated:' is now 'contamination:' (the old name works until the next release)",
                      DeprecatedName, stacklevel=2)
        filters = dict(filters)
        filters["contamination"] = filters.pop("contaminated")
        data["filters"] = filters
    return data
