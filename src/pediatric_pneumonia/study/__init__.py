"""The strategy x seed study as a library: its parameters and model names, the statistics that
compare its models, and its jobs (each a Kedro session of this project in a process of its own).
The ``study`` pipeline (``pipelines/study``) runs them."""
