"""Recording job runs: ``core.jobruns`` owns it (the importer in core records through it too);
the jobs import it from here as they always have."""

from __future__ import annotations

from core.jobruns import JobHandle, record_job

__all__ = ["JobHandle", "record_job"]
