"""JupyterLab in a real browser: headless Chromium runs the course notebooks through the UI (`make test-browser`)."""
