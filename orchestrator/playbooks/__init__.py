"""Playbooks: YAML response plans, validated against the action catalogue, templated from alerts."""
