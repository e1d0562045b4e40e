"""``celeriac eval``: benchmark items run as jobs on workers (the real path), then measured.

Each evaluation (``retrieval``, ``translation``, ``answers``, ``relevance``) indexes what
it needs into a collection of its own, checks that a live worker can run its steps
(``Client.check_ready``: an engine, model or extra missing there is reported before
anything is submitted), submits one job per item, waits for them with a progress bar, and
measures what came back with ``agents.scoring.metrics``. Items that failed are counted
with their reasons, and the metrics say which items they are over (``runs``); when every
item failed there is no metric, only the reasons. ``datasets`` reads the benchmarks'
files; ``report`` writes the HTML report.
"""
