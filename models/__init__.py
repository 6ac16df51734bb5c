"""GridSense models: text classifiers, the grid x week risk forecaster, baselines, metrics, MLflow wrappers.

Import the submodules you need (``models.text_tfidf``, ``models.risk_lgbm``, ...); this package imports
nothing.
"""
