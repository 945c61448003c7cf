"""Shared test setup.

TensorFlow reads ``TF_CPP_MIN_LOG_LEVEL`` once, when it is first imported;
setting it here, before any test module imports TensorFlow or Keras, keeps
its C++ start-up chatter out of the test output.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
