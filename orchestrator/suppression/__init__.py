"""Suppression windows: known noise and maintenance, held without opening incidents.

`models.py` the tables and the API's shapes, `service.py` the rules (creating, ending, reading,
recording held alerts), `cache.py` how each process keeps the windows on the alert path,
`views.py` the `/v1/suppressions` routes. See docs/suppression.md.
"""
