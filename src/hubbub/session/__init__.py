"""The session layer: one chat engine for every transport.

A connection's life (`state`), the route table and every action (`actions`,
`tutorial`), and the dispatch of frames (`engine`) are written once here,
against the small driver interface in `driver`. The self-hosted server
(`hubbub.server`) and the Lambda handlers (`hubbub.aws`) are drivers: they move
bytes and keep connection state, and neither imports the other.
"""
