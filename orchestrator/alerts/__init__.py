"""Alert ingress: webhook formats normalised into `orchestrator.domain.Alert`, signatures,
idempotent recording and hand-over to the incident workflow.

What happens when an alert arrives: `views.py` checks the request in order (its docstring lists
the checks), then `service.py` records the alerts and hands them to their incidents (its
docstring walks through the steps). Beside them: `formats/` (one parser per webhook format),
`signatures.py` (Standard Webhooks HMAC), `limits.py` (body cap, rate limit), `admission.py`
(overload), `ids.py` (how an alert's stored ids are derived) and `models.py` (tables and
shapes).
"""
