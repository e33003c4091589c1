"""Registering a hospital's image folder as a dataset a node trains on (standard 5.3.1,
5.3.3.2a-d, 5.2c-d, 5.6a)::

    options = RegisterOptions(task="pneumoniamnist", key=DeidKey(secret), labels=...)
    registration = register_folder(Path("/data/incoming"), Path("/data/registered"), options)
    # registration.data_file is what ``medfed node --data`` reads
"""

from __future__ import annotations

from medfed.data.register.adapter import class_index, to_image_item
from medfed.data.register.options import TARGET_SIZES, RegisterOptions
from medfed.data.register.outputs import RECORD_FILE
from medfed.data.register.pipeline import (
    CLEANING_FILE,
    DATA_FILE,
    DATACARD_FILE,
    TEST_FILE,
    Registration,
    register_folder,
)

__all__ = [
    "CLEANING_FILE",
    "DATACARD_FILE",
    "DATA_FILE",
    "RECORD_FILE",
    "TARGET_SIZES",
    "TEST_FILE",
    "RegisterOptions",
    "Registration",
    "class_index",
    "register_folder",
    "to_image_item",
]
