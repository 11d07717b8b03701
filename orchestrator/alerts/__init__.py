"""Alert ingress: webhook formats normalised into `orchestrator.domain.Alert`, signatures,
idempotent recording and hand-over to the incident workflow."""
