"""Media primitives every other package may use: which FFmpeg runs, and how it is checked."""
