"""Data: caption sources, text hard negatives, the synthetic world and the DataModule."""
