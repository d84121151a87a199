"""Right and wrong answers for every exercise, read by tests/test_exercises.py (one module per notebook)."""
