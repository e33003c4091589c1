"""medfed: privacy-enhanced joint modeling for medical imaging (T/SCGS 313007-2024).

The public API is small; most users drive medfed through the ``medfed`` command.
"""

from medfed.core.config import StudyConfig, load_study
from medfed.errors import MedfedError

__version__ = "0.1.0"
__all__ = ["MedfedError", "StudyConfig", "__version__", "load_study"]
