"""Docker labels that mark what Quorum created, so a sweep can find and remove leftovers."""

from __future__ import annotations

MANAGED = "ai.quorum.managed"  # "1" on every container and image we create
OWNER_PID = "ai.quorum.owner-pid"  # pid of the process that started the container
OWNER_HOST = "ai.quorum.owner-host"  # hostname of that process (pids mean nothing elsewhere)
RUN_ID = "ai.quorum.run-id"
CREATED_AT = "ai.quorum.created-at"  # unix seconds
TTL_S = "ai.quorum.ttl-s"  # seconds after CREATED_AT when the container may be swept
# containers: "sandbox", "snapshot-build"; images: "base-image", "environment" (an installed
# environment, no repository), "snapshot" (a repository at a commit, on one of those)
KIND = "ai.quorum.kind"
CONTENT_KEY = "ai.quorum.content-key"  # recipe hash of a content-keyed image
OWNER_STARTED = "ai.quorum.owner-started"  # owner's start time (/proc), guards against pid reuse
BASE_COMMIT = "ai.quorum.base-commit"  # on snapshots: the commit the workspace is checked out at
WORKSPACE = "ai.quorum.workspace"  # on snapshots: where the repository is (sandboxes start there)
