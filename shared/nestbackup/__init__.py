"""nestbackup: backup and restore of every resource of a Compute Nest service instance."""
__version__ = "0.1.0"
