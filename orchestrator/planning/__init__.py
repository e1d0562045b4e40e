"""Planning: a goal becomes a plan (by rules offline, or by a model), checked against the
agent types' cards, and replanned after a failure."""
