"""The diagnose tools on real suites (`make test-corpus`): each suite of tests/realworld/ plain, guarded and audited."""
