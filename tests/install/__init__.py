"""The install routes (`make test-install`): make install and setup (uv, pip, offline), the wheel and sdist, Binder."""
