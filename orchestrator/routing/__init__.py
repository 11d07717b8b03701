"""Routing: what the sender said, turned into what Firebreak needs.

Ordered, declarative routes (`models.py` is the schema of a routes file, `defaults.yaml` the
built-in vocabulary and `default` route, `service.py` loading and matching) set an alert's
type (hence its playbook), severity, environment, resources and fingerprint from the fields
its format exposes. The first route that matches wins; what it leaves unset comes from
`default`. See docs/alert-formats.md#routing.
"""
