"""A room on a real JupyterHub (`make test-hub`): real OS users, the local process spawner, the kit's hook."""
