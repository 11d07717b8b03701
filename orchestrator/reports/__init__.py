"""Post-incident reports: `service.build_report` folds an incident's audit stream into an
`IncidentReport`; `render` writes it as Markdown or a printable HTML page; `views` serves it.
"""
