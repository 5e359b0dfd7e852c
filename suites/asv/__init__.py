"""asv benchmarks of tfparity's op registry (``asv.conf.json``: ``benchmark_dir``)."""
