"""A tiny package to upload to arca's PyPI repository and install back."""


def greet(name: str = "arca") -> str:
    return f"hello from {name}"
