"""gems: find the overlooked tracks of soundtracks.

Data flows one way: ingest -> audio / CF / popularity -> index -> rank -> serve, export, evaluate.
Importing ``gems`` is cheap: heavy libraries are imported inside the functions that need them.
"""

__version__ = "0.1.0"
