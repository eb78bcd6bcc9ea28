"""Speed and label-efficiency measurements; results in benchmarks/README.md."""
