# Malformed: the file exits while loading (line 4).
import sys

sys.exit(0)
