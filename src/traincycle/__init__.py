"""traincycle: a reproducible DVC training pipeline (ingest → validate → split → featurize → train → evaluate → optimize)."""

__version__ = "0.1.0"
