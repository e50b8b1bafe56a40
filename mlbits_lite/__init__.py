"""mlbits_lite: the small, tested helper package behind the ML Bits notebooks."""
__version__ = "0.1.0"
