"""The departure flow's services: every state change of a case goes through one of these (views never write)."""
