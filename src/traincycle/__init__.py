"""traincycle: a reproducible DVC training pipeline, from ingest to an optimised, served model."""

__version__ = "0.1.0"
