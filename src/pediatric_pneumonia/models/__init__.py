"""The project's models as plain Keras: builders from their hyperparameters and their training loops.
The pipelines call them; they never import a pipeline."""
