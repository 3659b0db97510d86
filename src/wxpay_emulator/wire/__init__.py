"""Per-family request and response shapes, with WeChat's own field names. Imports nothing upward."""
