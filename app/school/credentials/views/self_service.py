"""(routes added by the credentials views)"""
