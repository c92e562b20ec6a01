"""wizevol: Code Evol-Instruct (the WizardCoder data recipe) over any OpenAI-compatible endpoint."""

__version__ = "0.1.0"
