"""The wire contract: every frame, error code and close code hubbub speaks.

`frames` holds the schemas, `errors` the codes, `codec` turns bytes into frames
and back. docs/protocol.md is generated from these modules (`hubbub protocol-doc`)
and a test fails if the committed copy drifts.
"""
