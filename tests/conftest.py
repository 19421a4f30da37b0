import os

import pytest


@pytest.fixture(scope="session")
def smollm2():
    """The real embedded default model, loaded once per test session."""
    from atlas_kernel.models.registry import load_model

    model = load_model("smollm2")
    yield model
    model.close()


@pytest.fixture(scope="session")
def smollm2_path() -> str:
    from atlas_kernel.models.registry import smollm2_path

    return str(smollm2_path())


def pytest_configure(config):
    os.environ.setdefault("ATLAS_CACHE_DIR", os.path.join(os.path.expanduser("~"), ".cache", "atlas_kernel"))
