"""Entity correlation and merging: which open incident an alert of another key joins."""
