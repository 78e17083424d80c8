"""The operator CLI, ``taskyard``: API keys, jobs, the store, Flower and the embedded dev stack."""
