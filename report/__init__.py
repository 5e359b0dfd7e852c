"""Static HTML report over every run file (pandas → Jinja2 + Plotly, offline)."""
