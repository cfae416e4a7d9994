"""Runtime support for training and running compiled linkc models."""
