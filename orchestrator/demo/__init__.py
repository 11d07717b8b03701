"""`firebreak demo`: a seeded lab, demo principals, signed alerts through the real webhook API,
live progress, approvals as the demo responders, and a summary that fails loudly."""
