"""Image handling shared by every pipeline and any prediction path: decoding, normalisation,
acquisition shifts and training augmentation. Pipelines import these modules, never each other."""
