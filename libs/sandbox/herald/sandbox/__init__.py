"""Herald sandbox: a fake social platform that records posts and injects faults.

``create_app()`` builds the FastAPI app; ``python -m herald.sandbox`` serves it.
"""
