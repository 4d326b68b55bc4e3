"""`softco eval` and `softco batch`: many softco runs (tasks x variants x seeds), scored against hidden
acceptance tests. ``spec.py`` is the contract a backend (local threads, Ray) works with."""
