"""Options of the uhnpy tests: the uhn binary and the MPI launcher (CTest passes
them from the build), and a work folder."""
import os

import pytest


def pytest_addoption(parser):
    parser.addoption("--uhn", required=True, help="the built uhn binary")
    parser.addoption("--mpiexec", default="mpiexec", help="the MPI launcher")
    parser.addoption("--workdir", required=True, help="folder for the test files")


@pytest.fixture(scope="session")
def opts(request):
    c = request.config
    work = os.path.abspath(c.getoption("--workdir"))
    os.makedirs(work, exist_ok=True)
    return {"uhn": os.path.abspath(c.getoption("--uhn")), "mpiexec": c.getoption("--mpiexec"),
            "work": work}
