"""`hubbub export` and `hubbub import`: the workspace as hubbub JSON lines,
and Slack's export ZIP (docs/import-export.md).

Reading is separate from storing: an input is read and checked whole into a
`records.Plan` (`load` for hubbub JSON lines, `slack` for a Slack export),
refused whole (`report.Refused`) if it cannot be used, and only then stored
through the Store protocol (`apply`), idempotently. `export` writes the
JSON lines. This package uses core, store (by URL) and protocol only.
"""
