"""Platform adapters: each speaks one platform's real HTTP API."""
