"""The diagnose layer: pytest-asyncio's rules, the loop guard, the audit and the run recorder.

Uses pytest, not pandas; builds on :mod:`kit.db`.
"""
