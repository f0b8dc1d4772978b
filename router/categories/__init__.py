"""The category model: TF-IDF (and the embeddings extra's second stage), training, evaluation, the gate a retrain must pass, the model store, the shipped default and its labels."""
