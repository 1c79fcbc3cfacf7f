"""Model-card templates (``string.Template`` syntax), shipped as package data."""
