"""What Firebreak's processes tell an operator's own tools about themselves."""
