"""Delivery only: the dispatcher, each family's transport and acknowledgement rule (protocols.py) and
WeChat's retry schedule. The bodies are rendered by the families (api/<family>/notify*.py)."""
