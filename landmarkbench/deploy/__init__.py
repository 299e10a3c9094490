"""Trained models applied to new images: ``predict`` (from a stored run or an exported
file), ``export`` (one zip holding everything a model needs, loadable without the training
code: ``model_file`` + ``exported_model`` import neither ``training`` nor ``methods``)."""
