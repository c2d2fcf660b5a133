"""huis: the composition root and command line of the Huis van de toekomst controller."""
