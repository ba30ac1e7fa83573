# Malformed: the file raises KeyboardInterrupt while loading (line 2).
raise KeyboardInterrupt
