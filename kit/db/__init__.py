"""The database layer: settings, state, the kit's own server, learners, connections, the analyzer.

No pytest and no pandas here; everything above builds on it.
"""
