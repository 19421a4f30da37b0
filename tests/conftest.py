import os

import pytest


@pytest.fixture(scope="session")
def default_model():
    """The real default model (Qwen2.5-Coder-0.5B-Instruct), loaded once per test session."""
    from atlas_kernel.models.registry import DEFAULT_MODEL, load_model

    model = load_model(DEFAULT_MODEL)
    yield model
    model.close()


@pytest.fixture(scope="session")
def default_model_path() -> str:
    from atlas_kernel.models.registry import DEFAULT_MODEL, resolve

    return resolve(DEFAULT_MODEL)[1]


@pytest.fixture(scope="session")
def smollm2():
    """The tiny SmolLM2-135M, for tests of the bundled tiny options."""
    from atlas_kernel.models.registry import load_model

    model = load_model("smollm2")
    yield model
    model.close()


@pytest.fixture(scope="session")
def smollm2_path() -> str:
    from atlas_kernel.models.bundled import smollm2_path

    return str(smollm2_path())


def pytest_configure(config):
    os.environ.setdefault("ATLAS_CACHE_DIR", os.path.join(os.path.expanduser("~"), ".cache", "atlas_kernel"))
