"""celeriac's benchmarks: most start a private Redis and real worker processes.

Run them all with ``python -m benchmarks`` (``make bench``), one by name with
``python -m benchmarks latency``, or a fast smoke run with ``--quick``.

| module           | what it measures                                                  |
|------------------|-------------------------------------------------------------------|
| ``throughput``   | steps/s of one wide job, and jobs/s of many one-step jobs         |
| ``latency``      | submit-to-result time of a 4-step diamond, and per-step overhead  |
| ``concurrency``  | wall time of 1 s sleep steps on ONE worker with 300 threads       |
| ``memory``       | RSS of one worker process, idle and running 300 sleep steps       |
| ``bm25``         | collection build time and queries/s, 1,000 and 100,000 documents  |
"""
