"""The API's use cases: each takes a session and the tenant, changes state, stages events."""
