"""The responder and auditor web console: server-rendered pages under `/console`, signed in
with an API token exchanged for a server-side session."""
