"""wizevol: Code Evol-Instruct (the WizardCoder data recipe) over any OpenAI-compatible endpoint."""

__version__ = "0.1.0"


def versions(*packages: str) -> dict[str, str]:
    """wizevol's, Python's and these packages' versions, for a manifest or a report."""
    import platform
    from importlib import metadata

    out = {"wizevol": __version__, "python": platform.python_version()}
    for pkg in packages:
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out
