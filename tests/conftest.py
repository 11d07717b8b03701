pytest_plugins = [
    "tests.support.databases",
    "tests.support.temporal",
    "tests.support.providers",
    "tests.support.siem",
    "tests.support.incidents",
    "tests.support.app",
    "tests.support.stack",
]
