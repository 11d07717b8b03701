"""OCSF records of ledger events: what a SIEM reads of Firebreak's audit ledger.

`to_ocsf` turns one `RecordedEvent` into one OCSF 1.5.0 record (a JSON-ready dict): incident
lifecycle events become Incident Findings, alerts Detection Findings, everything people and
actions do API Activity; a type the mapping does not know is still an API Activity (activity
Other), never dropped. The mapping table and the dedup key are documented in docs/ocsf.md.

The mapper opens nothing: a sealed field is passed through as the store handed it over
(ciphertext or opened), so whoever reads the event decides what a sink may see. It imports no
I/O and nothing of the audit store, so the export and the forwarder can both call it.
"""

from __future__ import annotations

from orchestrator.ocsf.mapping import OCSF_VERSION, to_ocsf

__all__ = ["OCSF_VERSION", "to_ocsf"]
