"""Original ID Merge: clusters changed by identity events only (MI7–MI12, MS10–MS14).

Events stay under the distinct id they were sent with and belong to that id's cluster when read,
so merges are retroactive (at once here; up to 24 hours at Mixpanel). Refusals, checked in the
order of Mixpanel's flowcharts, leave the clusters unchanged and mark the event.
"""

from __future__ import annotations

import re
from typing import Final

from ._checks import CheckedEvent
from ._identity import Attribution, PersonIds
from ._store import Store

__all__ = ["MAX_CLUSTER", "OriginalModel"]

MAX_CLUSTER: Final = 500
"""A merge that would make a cluster of this many ids is refused (``errManyIDs``; §7: "≥ 500")."""
# MS11: a UUID v4, optionally "$device:"-prefixed (accepted since 2023); the local reading
_GUID: Final = re.compile(
    r"(\$device:)?[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",
    re.IGNORECASE,
)

_Refusal = tuple[str, str]


class OriginalModel:
    """MS10–MS14 on the store's ``ids`` table (clusters, identified and aliased ids)."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def attribute(self, event: CheckedEvent, privileged: bool) -> Attribution:
        refusal: _Refusal | None = None
        if event.identity is not None:
            first, second = event.identity
            self._store.see(first)
            self._store.see(second)
            if event.name == "$identify":
                refusal = self._identify(first, second)
            elif event.name == "$create_alias":
                refusal = self._alias(first, second)
            else:
                refusal = self._merge(first, second, privileged)
        if refusal is None:
            return Attribution(event.distinct_id)
        return Attribution(event.distinct_id, *refusal)

    def profile_owner(self, distinct_id: str, ignore_alias: bool) -> str:
        return distinct_id  # the cluster's one profile is read through all its ids

    def person(self, distinct_id: str) -> PersonIds | None:
        cluster = self._store.cluster_of(distinct_id)
        if cluster is None:
            return None
        ids = tuple(self._store.cluster_ids(cluster))
        identified = self._store.identified_ids(cluster)
        return PersonIds(identified[0] if identified else ids[0], ids, ids, ids)

    def person_at(self, key: str) -> PersonIds:
        person = self.person(key)
        assert person is not None, "stored keys are always seen ids"
        return person

    def _identify(self, identified: str, anon: str) -> _Refusal | None:
        """MI9 in the flowchart's order, then the merge."""
        if anon == identified:
            return "errSameIDs", "$anon_id and $identified_id are the same id"
        if not _GUID.fullmatch(anon):
            return (
                "errAnonDistinctIdNonGUIDForm",
                f"$anon_id {anon!r} is not a UUID v4 (optionally prefixed by '$device:')",
            )
        anon_cluster = self._cluster(anon)
        if self._store.identified_ids(anon_cluster):
            return (
                "errAnonDistinctIdAssignedAlready",
                f"$anon_id {anon!r} is already merged with an identified id",
            )
        refusal = self._union(anon_cluster, self._cluster(identified))
        if refusal is None:
            self._store.mark(identified, "identified")
        return refusal

    def _alias(self, alias: str, target: str) -> _Refusal | None:
        if self._store.is_aliased(alias):
            return "errAliasAlreadyExists", f"{alias!r} is already an alias"
        refusal = self._union(self._cluster(alias), self._cluster(target))
        if refusal is None:
            self._store.mark(alias, "aliased")
        return refusal

    def _merge(self, first: str, second: str, privileged: bool) -> _Refusal | None:
        if not privileged:  # MS2, §8 D8
            return (
                "errMergeNotAuthorized",
                "$merge is honoured only on /import with a service account or the project secret",
            )
        return self._union(self._cluster(first), self._cluster(second))

    def _union(self, first: int, second: int) -> _Refusal | None:
        if first == second:
            return None
        size = len(self._store.cluster_ids(first)) + len(self._store.cluster_ids(second))
        if size >= MAX_CLUSTER:
            return "errManyIDs", f"the merged cluster would hold {size} ids (limit {MAX_CLUSTER})"
        self._store.merge_clusters(first, second)
        return None

    def _cluster(self, distinct_id: str) -> int:
        cluster = self._store.cluster_of(distinct_id)
        assert cluster is not None, "identity ids are seen before they are resolved"
        return cluster
