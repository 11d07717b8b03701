"""Principals: who may call the API, with which role, in which environment tiers."""
