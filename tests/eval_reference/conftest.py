"""Reference solutions and demo projects of the evaluation suite: data for tests/test_eval_suite.py, never
collected by softco's own test run (the demo projects carry their own tests)."""

collect_ignore_glob = ["*"]
