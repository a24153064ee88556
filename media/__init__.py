"""Media primitives every other package may use: which FFmpeg runs and how it is checked
(``ffmpeg``), the one place it runs (``runner``) and its errors, probing (``probe``) and frame
access (``frames``). Imports nothing of the project but ``foundation``."""
