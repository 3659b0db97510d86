"""Notifications: payloads per family, WeChat's retry schedule, and the dispatcher that delivers."""
