"""Reading collected evidence back, for auditors: which incident an item belongs to, its
verified bytes, and the `EvidenceRead` event that records who read it.

The bytes come from the configured evidence store (`activities/providers/`), which the service
cannot import: the process that builds the API or the CLI hands it an `EvidenceReader`
(`activities.factory.build_evidence_reader`).
"""
